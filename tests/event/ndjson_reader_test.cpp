#include <gtest/gtest.h>

#include "event/ip_address.h"
#include "event/test_files.h"
#include "event/timestamp.h"

namespace kestrel {
namespace {

using testing::ReadAllEvents;
using testing::TempFile;

class NdjsonReaderTest : public ::testing::Test {
 protected:
  Result<testing::ReadResult> Read(const std::string& text, ReadOptions options = {}) {
    file_.Write(text);
    return ReadAllEvents(file_.path(), options, &registry_);
  }
  const Value* Get(const Event& e, const char* name) {
    auto id = registry_.Find(name);
    return id ? e.Find(*id) : nullptr;
  }
  std::string ErrorOf(const std::string& text, ReadOptions options = {}) {
    auto r = Read(text, options);
    return r ? "no error" : r.error().ToString();
  }

  SchemaRegistry registry_ = SchemaRegistry::WithEcs();
  TempFile file_;
};

TEST_F(NdjsonReaderTest, NestedAndDottedKeysAreTheSameField) {
  auto r = Read(R"({"process":{"name":"bash","parent":{"pid":1}}}
{"process.name":"sh","process.parent.pid":2}
{"process":{"parent.pid":3}}
)");
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_EQ(Get(r->events[0], "process.name")->as_string(), "bash");
  EXPECT_EQ(Get(r->events[1], "process.name")->as_string(), "sh");
  EXPECT_EQ(Get(r->events[0], "process.parent.pid")->as_i64(), 1);
  EXPECT_EQ(Get(r->events[1], "process.parent.pid")->as_i64(), 2);
  EXPECT_EQ(Get(r->events[2], "process.parent.pid")->as_i64(), 3);
}

TEST_F(NdjsonReaderTest, HeaderFromTimestampCategoryAndOrdinal) {
  ReadOptions options;
  options.first_event_id = 100;
  auto r = Read(R"({"@timestamp":"2017-08-30T20:47:33.250Z","event":{"category":["network","process"]}}
{"@timestamp":1516116808349,"event":{"category":"file"}}
{"@timestamp":"1516116808350"}
)",
                options);
  ASSERT_TRUE(r) << r.error().ToString();
  const Event& a = r->events[0];
  EXPECT_EQ(registry_.event_type_name(a.type()), "network");  // the first category
  EXPECT_EQ(a.ts_wall_ns(), 1504126053250000000u);
  EXPECT_EQ(a.ts_mono_ns(), a.ts_wall_ns());  // recordings have no separate monotonic clock
  EXPECT_EQ(a.event_id(), 100u);
  EXPECT_EQ(Get(a, "@timestamp")->kind(), ValueKind::kTimestamp);
  EXPECT_EQ(Get(a, "event.category")->as_array().size(), 2u);
  const Event& b = r->events[1];
  EXPECT_EQ(registry_.event_type_name(b.type()), "file");
  EXPECT_EQ(b.ts_wall_ns(), 1516116808349000000u);  // epoch milliseconds
  EXPECT_EQ(b.event_id(), 101u);
  EXPECT_EQ(r->events[2].ts_wall_ns(), 1516116808350000000u);
  EXPECT_EQ(r->events[2].type(), kUnknownEventType);
}

TEST_F(NdjsonReaderTest, KestrelHeaderOverridesDerivedValues) {
  auto r = Read(
      R"({"@timestamp":"2020-01-01T00:00:00Z","event.category":"process","kestrel":{"event_type":"custom","event_id":42,"ts_mono_ns":5,"ts_wall_ns":6,"entity_key":7,"note":"x"}}
{"kestrel.event_id":43,"kestrel.other":1}
)");
  ASSERT_TRUE(r) << r.error().ToString();
  const Event& e = r->events[0];
  EXPECT_EQ(registry_.event_type_name(e.type()), "custom");
  EXPECT_EQ(e.header(), (EventHeader{e.type(), 5, 6, 42, 7}));
  EXPECT_EQ(Get(e, "kestrel.note")->as_string(), "x");  // not a header field: kept as a field
  EXPECT_EQ(Get(e, "kestrel.event_id"), nullptr);
  EXPECT_EQ(r->events[1].event_id(), 43u);
  EXPECT_EQ(Get(r->events[1], "kestrel.other")->as_i64(), 1);
}

TEST_F(NdjsonReaderTest, DeclaredTypesGuideConversion) {
  auto r = Read(R"({"destination":{"ip":"10.1.2.3","port":443},"source":{"ip":"not-an-ip"},"event":{"created":"2020-01-01T00:00:00Z","risk_score":3}})"
                "\n");
  ASSERT_TRUE(r) << r.error().ToString();
  const Event& e = r->events[0];
  ASSERT_EQ(Get(e, "destination.ip")->kind(), ValueKind::kIp);
  EXPECT_EQ(FormatIp(Get(e, "destination.ip")->as_ip()), "10.1.2.3");
  EXPECT_EQ(Get(e, "destination.port")->as_i64(), 443);
  EXPECT_EQ(Get(e, "source.ip")->as_string(), "not-an-ip");  // kept, not dropped
  EXPECT_EQ(Get(e, "event.created")->kind(), ValueKind::kTimestamp);
  EXPECT_EQ(Get(e, "event.risk_score")->kind(), ValueKind::kF64);
}

TEST_F(NdjsonReaderTest, UnknownFieldsAreRegisteredByValueType) {
  auto r = Read(R"({"custom":{"s":"x","i":-5,"u":18446744073709551615,"f":1.5,"b":true,"n":null,"arr":[1,2],"empty":[]}})"
                "\n");
  ASSERT_TRUE(r) << r.error().ToString();
  const Event& e = r->events[0];
  EXPECT_EQ(Get(e, "custom.s")->kind(), ValueKind::kString);
  EXPECT_EQ(Get(e, "custom.i")->as_i64(), -5);
  EXPECT_EQ(Get(e, "custom.u")->as_u64(), UINT64_MAX);
  EXPECT_EQ(Get(e, "custom.f")->as_f64(), 1.5);
  EXPECT_TRUE(Get(e, "custom.b")->as_bool());
  EXPECT_TRUE(Get(e, "custom.n")->is_null());
  EXPECT_EQ(Get(e, "custom.arr")->as_array().size(), 2u);
  EXPECT_EQ(Get(e, "custom.empty")->as_array().size(), 0u);
  EXPECT_TRUE(registry_.info(*registry_.Find("custom.i")).dynamic);
  EXPECT_EQ(registry_.info(*registry_.Find("custom.i")).type, (FieldType{ValueKind::kI64, false}));
  EXPECT_EQ(registry_.info(*registry_.Find("custom.arr")).type, (FieldType{ValueKind::kI64, true}));
}

TEST_F(NdjsonReaderTest, ArraysOfObjectsFlattenPerLeafAsInElasticsearch) {
  auto r = Read(R"({"threat":[{"name":"a","id":1},{"name":"b"}],"nested":[[1,2],[3]]})"
                "\n");
  ASSERT_TRUE(r) << r.error().ToString();
  auto names = Get(r->events[0], "threat.name")->as_array();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[1].as_string(), "b");
  EXPECT_EQ(Get(r->events[0], "threat.id")->as_array().size(), 1u);
  EXPECT_EQ(Get(r->events[0], "nested")->as_array().size(), 3u);
}

TEST_F(NdjsonReaderTest, EntityKeyFromEntityIdOrPid) {
  auto r = Read(R"({"process":{"entity_id":"abc","pid":1}}
{"process":{"entity_id":"abc","pid":2}}
{"process":{"pid":7}}
{"process":{"pid":7}}
{})"
                "\n");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->events[0].entity_key(), r->events[1].entity_key());
  EXPECT_NE(r->events[0].entity_key(), r->events[2].entity_key());
  EXPECT_EQ(r->events[2].entity_key(), r->events[3].entity_key());
  EXPECT_EQ(r->events[4].entity_key(), 0u);
}

TEST_F(NdjsonReaderTest, BlankLinesCrlfAndMissingFinalNewline) {
  auto r = Read("\n{\"a\":1}\r\n   \n\r\n{\"a\":2}");
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(Get(r->events[1], "a")->as_i64(), 2);
  auto empty = Read("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->events.empty());
}

TEST_F(NdjsonReaderTest, ErrorsNameFileAndLine) {
  const std::string p = file_.path();
  EXPECT_EQ(ErrorOf("{\"a\":1}\n{\"a\":\n"), p + ":2: invalid JSON: " + "The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.");
  EXPECT_EQ(ErrorOf("{\"a\":1}\n\n[1,2]\n"), p + ":3: expected a JSON object, found an array");
  EXPECT_EQ(ErrorOf("{\"@timestamp\":\"soon\"}\n"), p + ":1: field '@timestamp': invalid timestamp \"soon\"");
  EXPECT_EQ(ErrorOf("{\"@timestamp\":1e300}\n"), p + ":1: field '@timestamp': epoch milliseconds out of range");
  EXPECT_EQ(ErrorOf("{\"@timestamp\":\"1960-01-01\"}\n"), p + ":1: timestamp before 1970-01-01 is not supported");
  EXPECT_EQ(ErrorOf("{\"kestrel\":{\"event_id\":\"x\"}}\n"), p + ":1: header field 'kestrel.event_id' has the wrong type");
  EXPECT_EQ(ErrorOf("{\"\":1}\n"), p + ":1: empty field name");
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "{\"a\":";
  deep += "1" + std::string(100, '}') + "\n";
  EXPECT_EQ(ErrorOf(deep), p + ":1: objects nested deeper than 64");
}

TEST_F(NdjsonReaderTest, RepeatedRecordsDecodeAsTheFirstDid) {
  // The first record of a shape registers its paths and fields; repeats take the reader's fast
  // path (simdjson On-Demand), which must give the same fields.
  const char* lines[] = {
      R"({"@timestamp":"2017-08-30T20:47:33.25Z","event":{"category":["process"],"type":[]},"a":[{"b":1},{"b":[2,[3]]}]})",
      R"({"process.pid":-5,"process":{"parent.pid":18446744073709551615,"args":["x","y\n\u00e9"]},"x":{"f":1.5e3}})",
      R"({"source":{"ip":"10.0.0.1"},"destination.ip":"not an ip","n":null,"t":true,"f":false,"e":[],"o":{}})",
      R"({"kestrel":{"event_id":7,"event_type":"custom","note":"x"},"kestrel.ts_mono_ns":5,"kestrelx":1,"a\u0062":2})",
      R"({"dup":1,"dup":2,"arr":[1],"arr":[2],"m":null})",
      R"({"m":"now a string","é":{"ключ":"v"}})",
  };
  for (const char* line : lines) {
    std::string text = std::string(line) + "\n" + line + "\n" + line + "\n";
    auto r = Read(text);
    ASSERT_TRUE(r) << line << ": " << r.error().ToString();
    ASSERT_EQ(r->events.size(), 3u);
    for (size_t i = 1; i < 3; ++i) {
      const Event& a = r->events[0];
      const Event& b = r->events[i];
      EXPECT_EQ(a.type(), b.type()) << line;
      EXPECT_EQ(a.ts_wall_ns(), b.ts_wall_ns()) << line;
      EXPECT_EQ(a.entity_key(), b.entity_key()) << line;
      ASSERT_EQ(a.fields().size(), b.fields().size()) << line;
      for (size_t f = 0; f < a.fields().size(); ++f) {
        EXPECT_EQ(a.fields()[f].id, b.fields()[f].id) << line;
        EXPECT_EQ(a.fields()[f].value, b.fields()[f].value) << line << " field " << f;
      }
    }
  }
}

TEST_F(NdjsonReaderTest, ErrorsInKnownShapesAreTheSame) {
  const std::string p = file_.path();
  EXPECT_EQ(ErrorOf("{\"@timestamp\":\"2017-08-30\"}\n{\"@timestamp\":\"soon\"}\n"),
            p + ":2: field '@timestamp': invalid timestamp \"soon\"");
  EXPECT_EQ(ErrorOf("{\"a\":1}\n{\"a\":1} x\n"), p + ":2: invalid JSON: " + "The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.");
  EXPECT_EQ(ErrorOf("{\"a\":true}\n{\"a\":tru}\n"), p + ":2: invalid JSON: Problem while parsing an atom starting with the letter 't'");
  EXPECT_EQ(ErrorOf("{\"kestrel\":{\"event_id\":1}}\n{\"kestrel\":{\"event_id\":-1}}\n"),
            p + ":2: header field 'kestrel.event_id' has the wrong type");
}

TEST_F(NdjsonReaderTest, SkipBadCountsAndContinues) {
  ReadOptions options;
  options.skip_bad = true;
  auto r = Read("{\"a\":1}\nnot json\n{\"a\":2}\n[]\n{\"a\":3}\n", options);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->events.size(), 3u);
  EXPECT_EQ(r->stats.skipped, 2u);
  ASSERT_EQ(r->stats.skipped_errors.size(), 2u);
  EXPECT_EQ(r->stats.skipped_errors[0].location(), file_.path() + ":2");
  EXPECT_EQ(r->stats.skipped_errors[1].location(), file_.path() + ":4");
  // Event ids stay dense over the good records.
  EXPECT_EQ(r->events[2].event_id(), 3u);
}

TEST_F(NdjsonReaderTest, RecordLimitBoundsMemory) {
  ReadOptions options;
  options.max_record_bytes = 1000;
  std::string big = "{\"a\":\"" + std::string(5000, 'x') + "\"}\n";
  EXPECT_EQ(ErrorOf("{\"a\":1}\n" + big, options), file_.path() + ":2: record longer than the limit of 1000 bytes");
  // Without the limit, records larger than the read chunk (1 MiB) are fine.
  std::string huge = "{\"a\":\"" + std::string(3 << 20, 'y') + "\"}\n";
  auto r = Read("{\"a\":1}\n" + huge + "{\"a\":2}\n");
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_EQ(Get(r->events[1], "a")->as_string().size(), 3u << 20);
}

TEST_F(NdjsonReaderTest, ManyRecordsAcrossBatchesAndChunks) {
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 97, 'p') + "\"}\n";
  ReadOptions options;
  options.batch_events = 1000;
  auto r = Read(text, options);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->events.size(), 50000u);
  EXPECT_EQ(r->batches, 50u);
  for (int i = 0; i < 50000; i += 997) EXPECT_EQ(Get(r->events[i], "n")->as_i64(), i);
  EXPECT_EQ(r->stats.bytes, text.size());
  EXPECT_EQ(r->stats.total_bytes, text.size());
}

TEST_F(NdjsonReaderTest, EndgameProfileReadsFlatEventsAndFileTime) {
  ReadOptions options;
  options.profile = InputProfile::kEndgame;
  // A pretty-printed JSON array, as Elasticsearch's test_data.json is.
  auto r = Read(R"([
  {
    "event_type": "process",
    "timestamp": 131485996510000000,
    "unique_pid": 3,
    "process_name": "smss.exe",
    "serial_event_id": 3
  },
  {"event_type": "network", "timestamp": 116444736000000000, "unique_pid": 3}
]
)",
                options);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->events.size(), 2u);
  const Event& e = r->events[0];
  EXPECT_EQ(registry_.event_type_name(e.type()), "process");
  EXPECT_EQ(e.ts_wall_ns(), static_cast<uint64_t>((131485996510000000 - kFileTimeUnixEpoch) * 100));
  EXPECT_EQ(Get(e, "process_name")->as_string(), "smss.exe");
  EXPECT_EQ(Get(e, "timestamp")->as_u64(), 131485996510000000u);  // the original stays a field
  EXPECT_EQ(r->events[1].ts_wall_ns(), 0u);
  EXPECT_EQ(e.entity_key(), r->events[1].entity_key());  // unique_pid
}

TEST_F(NdjsonReaderTest, JsonArrayErrorsNameTheElementLine) {
  const std::string p = file_.path();
  EXPECT_EQ(ErrorOf("[\n{\"a\":1},\n{\"a\":}\n]"), p + ":3: invalid JSON: " + "The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.");
  EXPECT_EQ(ErrorOf("[{\"a\":1} {\"a\":2}]"), p + ":1: expected ',' or ']' after an array element, found '{'");
  EXPECT_EQ(ErrorOf("[{\"a\":1},]"), p + ":1: expected an array element, found ']'");
  EXPECT_EQ(ErrorOf("[{\"a\":1}\n"), p + ":2: unterminated JSON array: missing ']'");
  EXPECT_EQ(ErrorOf("[{\"a\":1}] x"), p + ":1: unexpected data after the JSON array");
  EXPECT_EQ(ErrorOf("[{\"a\":\"}"), p + ":1: unterminated array element");
  EXPECT_EQ(ErrorOf("[1]"), p + ":1: expected a JSON object, found a number");
  auto empty = Read(" [ ] ");
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->events.empty());
  ReadOptions skip;
  skip.skip_bad = true;
  auto r = Read("[{\"a\":1}, {\"a\":}, 5, {\"a\":\"x]\"}]", skip);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->stats.skipped, 2u);
  EXPECT_EQ(Get(r->events[1], "a")->as_string(), "x]");
}

TEST_F(NdjsonReaderTest, MissingFileAndDirectoryAreClearErrors) {
  auto missing = ReadAllEvents("/nonexistent/events.json", {}, &registry_);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().ToString(), "/nonexistent/events.json: cannot open: No such file or directory");
  auto dir = ReadAllEvents(::testing::TempDir(), {}, &registry_);
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().ToString().find("is a directory"), std::string::npos);
}

}  // namespace
}  // namespace kestrel
