#include <gtest/gtest.h>

#include "event/event_builder.h"
#include "event/ip_address.h"
#include "event/ndjson.h"

namespace kestrel {
namespace {

class NdjsonWriterTest : public ::testing::Test {
 protected:
  FieldId Id(const char* name, FieldType type = {ValueKind::kString, false}) { return *registry_.Intern(name, type); }
  std::string Render(const Event& e) {
    std::string out;
    AppendEventJson(out, e, registry_);
    return out;
  }

  SchemaRegistry registry_ = SchemaRegistry::WithEcs();
  EventBatch batch_;
  EventBuilder builder_{&batch_.arena()};
};

TEST_F(NdjsonWriterTest, NestsDottedNamesAndAppendsTheHeader) {
  builder_.Start();
  builder_.header() = EventHeader{*registry_.FindEventType("process"), 2, 1, 9, 3};
  builder_.Set(Id("process.pid"), Value::I64(42));
  builder_.Set(Id("process.name"), builder_.StringValue("bash"));
  builder_.Set(Id("process.parent.name"), builder_.StringValue("sshd"));
  builder_.Set(Id("@timestamp"), Value::Timestamp(1504126053250000000));
  builder_.Append(Id("process.args"), builder_.StringValue("-c"));
  builder_.Set(Id("destination.ip"), builder_.IpValue(*ParseIp("10.0.0.1")));
  EXPECT_EQ(Render(builder_.Finish()),
            R"({"@timestamp":"2017-08-30T20:47:33.250Z","destination":{"ip":"10.0.0.1"},)"
            R"("process":{"args":["-c"],"name":"bash","parent":{"name":"sshd"},"pid":42},)"
            R"("kestrel":{"event_type":"process","event_id":9,"ts_mono_ns":2,"ts_wall_ns":1,"entity_key":3}})");
}

TEST_F(NdjsonWriterTest, LeafAndObjectOfTheSameNameUseADottedKey) {
  builder_.Start();
  builder_.Set(Id("a", {ValueKind::kI64, false}), Value::I64(1));
  builder_.Set(Id("a-b", {ValueKind::kI64, false}), Value::I64(2));
  builder_.Set(Id("a.b.c", {ValueKind::kI64, false}), Value::I64(3));
  builder_.Set(Id("a.d", {ValueKind::kI64, false}), Value::I64(4));
  std::string json = Render(builder_.Finish());
  EXPECT_EQ(json.substr(0, json.find(",\"kestrel\"")), R"({"a":1,"a-b":2,"a.b.c":3,"a.d":4)");
}

TEST_F(NdjsonWriterTest, ScalarsAreExactJson) {
  builder_.Start();
  builder_.Set(Id("f.whole", {ValueKind::kF64, false}), Value::F64(3.0));
  builder_.Set(Id("f.frac", {ValueKind::kF64, false}), Value::F64(0.1));
  builder_.Set(Id("f.nan", {ValueKind::kF64, false}), Value::F64(std::numeric_limits<double>::quiet_NaN()));
  builder_.Set(Id("i.min", {ValueKind::kI64, false}), Value::I64(INT64_MIN));
  builder_.Set(Id("u.max", {ValueKind::kU64, false}), Value::U64(UINT64_MAX));
  builder_.Set(Id("s.esc"), builder_.StringValue(std::string("q\"b\\n\n\x01\x7f", 8)));
  builder_.Set(Id("s.bad"), builder_.StringValue("ok\xff\xfe!\xc3\xa9"));
  builder_.Set(Id("z.null", {ValueKind::kNull, false}), Value::Null());
  builder_.Set(Id("z.bool", {ValueKind::kBool, false}), Value::Bool(false));
  std::string json = Render(builder_.Finish());
  EXPECT_EQ(json.substr(0, json.find(",\"kestrel\"")),
            R"({"f":{"frac":0.1,"nan":null,"whole":3.0},"i":{"min":-9223372036854775808},)"
            R"("s":{"bad":"ok)" "\xEF\xBF\xBD\xEF\xBF\xBD" R"(!é","esc":"q\"b\\n\n\u0001)"
            "\x7f"
            R"("},"u":{"max":18446744073709551615},"z":{"bool":false,"null":null})");
}

TEST_F(NdjsonWriterTest, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  AppendJsonString(out, "a\xe2\x82zb\xf0\x9f\x98\x80");
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD\xEF\xBF\xBDzb\xf0\x9f\x98\x80\"");
}

}  // namespace
}  // namespace kestrel
