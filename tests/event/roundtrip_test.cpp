// Property tests: random events survive NDJSON and .klog, and conversions between them.
#include <gtest/gtest.h>

#include "event/event_writer.h"
#include "event/ndjson.h"
#include "event/random_events.h"
#include "event/test_files.h"

namespace kestrel {
namespace {

using testing::MakeRandomEvents;
using testing::ReadAllEvents;
using testing::TempFile;

Status WriteAll(const std::string& path, FileFormat format, const EventBatch& batch, const SchemaRegistry& registry,
                WriteOptions options = {}) {
  KESTREL_ASSIGN_OR_RETURN(auto writer, OpenEventWriter(path, format, options, &registry));
  for (const Event& e : batch) KESTREL_TRY(writer->Write(e));
  return writer->Close();
}

// Events read into another registry are equal when their header and (name, value) fields are.
void ExpectSameByName(const Event& a, const SchemaRegistry& ra, const Event& b, const SchemaRegistry& rb) {
  EXPECT_EQ(a.event_id(), b.event_id());
  EXPECT_EQ(a.ts_mono_ns(), b.ts_mono_ns());
  EXPECT_EQ(a.ts_wall_ns(), b.ts_wall_ns());
  EXPECT_EQ(a.entity_key(), b.entity_key());
  EXPECT_EQ(ra.event_type_name(a.type()), rb.event_type_name(b.type()));
  ASSERT_EQ(a.fields().size(), b.fields().size()) << "event " << a.event_id();
  for (const Field& f : a.fields()) {
    auto id = rb.Find(ra.name(f.id));
    ASSERT_TRUE(id) << ra.name(f.id);
    const Value* v = b.Find(*id);
    ASSERT_NE(v, nullptr) << ra.name(f.id);
    EXPECT_EQ(*v, f.value) << ra.name(f.id);
  }
}

std::string Json(const Event& e, const SchemaRegistry& registry) {
  std::string out;
  AppendEventJson(out, e, registry);
  return out;
}

class RoundTripTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RoundTripTest, NdjsonPreservesEveryJsonRepresentableEvent) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch batch;
  MakeRandomEvents(GetParam(), 500, registry, batch, {.json_safe = true});
  TempFile file(".ndjson");
  ASSERT_TRUE(WriteAll(file.path(), FileFormat::kNdjson, batch, registry));
  auto back = ReadAllEvents(file.path(), {}, &registry);
  ASSERT_TRUE(back) << back.error().ToString();
  ASSERT_EQ(back->events.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(back->events[i], batch[i]) << "event " << i;
  // A process that never saw these fields reads the same thing.
  SchemaRegistry fresh = SchemaRegistry::WithEcs();
  auto other = ReadAllEvents(file.path(), {}, &fresh);
  ASSERT_TRUE(other) << other.error().ToString();
  for (size_t i = 0; i < batch.size(); ++i) ExpectSameByName(batch[i], registry, other->events[i], fresh);
}

// An event with fields of its own under "kestrel" keeps them and its header through NDJSON (the
// header is then written as dotted keys: one "kestrel" object cannot be written twice).
TEST(NdjsonHeaderTest, FieldsNamedKestrelAndTheHeaderBothSurvive) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch batch;
  EventBuilder b(&batch.arena());
  b.Start();
  b.header() = EventHeader{*registry.FindEventType("process"), 7, 7, 42, 99};
  b.Set(*registry.Intern("kestrel.custom", {ValueKind::kString, false}), b.StringValue("x"));
  b.Set(*registry.Find("process.name"), b.StringValue("bash"));
  batch.Add(b.Finish());
  std::string json = Json(batch[0], registry);
  EXPECT_EQ(json.find("\"kestrel\":"), json.rfind("\"kestrel\":")) << "a repeated key: " << json;
  TempFile file(".ndjson");
  ASSERT_TRUE(WriteAll(file.path(), FileFormat::kNdjson, batch, registry));
  auto back = ReadAllEvents(file.path(), {}, &registry);
  ASSERT_TRUE(back) << back.error().ToString();
  ASSERT_EQ(back->events.size(), 1u);
  EXPECT_EQ(back->events[0], batch[0]) << json;
}

// The `kestrel convert` chain: every step in a fresh process (a fresh registry).
TEST_P(RoundTripTest, KlogToNdjsonToKlogIsLossless) {
  SchemaRegistry origin = SchemaRegistry::WithEcs();
  EventBatch batch;
  MakeRandomEvents(GetParam(), 300, origin, batch, {.json_safe = true});
  TempFile klog1(".klog"), json(".ndjson"), klog2(".klog");
  ASSERT_TRUE(WriteAll(klog1.path(), FileFormat::kKlog, batch, origin, {.compression = Compression::kZstd}));

  SchemaRegistry r1 = SchemaRegistry::WithEcs();
  auto a = ReadAllEvents(klog1.path(), {}, &r1);
  ASSERT_TRUE(a) << a.error().ToString();
  ASSERT_TRUE(WriteAll(json.path(), FileFormat::kNdjson, *a->owner, r1));

  SchemaRegistry r2 = SchemaRegistry::WithEcs();
  auto b = ReadAllEvents(json.path(), {}, &r2);
  ASSERT_TRUE(b) << b.error().ToString();
  ASSERT_TRUE(WriteAll(klog2.path(), FileFormat::kKlog, *b->owner, r2));

  SchemaRegistry r3 = SchemaRegistry::WithEcs();
  auto c = ReadAllEvents(klog2.path(), {}, &r3);
  ASSERT_TRUE(c) << c.error().ToString();
  ASSERT_EQ(c->events.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    SCOPED_TRACE(Json(batch[i], origin));
    ExpectSameByName(batch[i], origin, c->events[i], r3);
  }
}

TEST_P(RoundTripTest, KlogPreservesArbitraryBytesThatJsonCannot) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch batch;
  MakeRandomEvents(GetParam(), 400, registry, batch);  // invalid UTF-8, u64 below 2^63, ...
  TempFile file(".klog");
  ASSERT_TRUE(WriteAll(file.path(), FileFormat::kKlog, batch, registry, {.block_bytes = 4096}));
  auto back = ReadAllEvents(file.path(), {}, &registry);
  ASSERT_TRUE(back) << back.error().ToString();
  ASSERT_EQ(back->events.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(back->events[i], batch[i]) << "event " << i;
}

INSTANTIATE_TEST_SUITE_P(Seeds, RoundTripTest, ::testing::Values(1, 2, 3, 42, 1234567));

}  // namespace
}  // namespace kestrel
