// .klog round trips, the documented layout, small cases and file header errors. Damaged files
// are in klog_corruption_test.cpp.
#include "event/klog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "event/event_builder.h"
#include "event/klog_test_util.h"
#include "event/random_events.h"
#include "event/test_files.h"

namespace kestrel {
namespace {

using namespace testing;  // the .klog test helpers (klog_test_util.h)

std::string Describe(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return v.as_bool() ? "true" : "false";
    case ValueKind::kI64:
      return "i64:" + std::to_string(v.as_i64());
    case ValueKind::kU64:
      return "u64:" + std::to_string(v.as_u64());
    case ValueKind::kF64:
      return "f64:" + std::to_string(Value::F64(v.as_f64()).as_u64());
    case ValueKind::kTimestamp:
      return "ts:" + std::to_string(v.as_timestamp_ns());
    case ValueKind::kString: {
      std::string s = "str:";
      for (unsigned char c : v.as_string())
        s += std::isprint(c) ? std::string(1, c) : "\\" + std::to_string(c);
      return s;
    }
    case ValueKind::kIp: {
      std::string s = "ip:";
      for (uint8_t b : v.as_ip().bytes) s += std::to_string(b) + ".";
      return s;
    }
    case ValueKind::kArray: {
      std::string s = "[";
      for (const Value& e : v.as_array()) s += Describe(e) + ",";
      return s + "]";
    }
  }
  return "?";
}

// An event by field *names*, for comparing across registries.
std::string Describe(const Event& e, const SchemaRegistry& registry) {
  std::vector<std::string> fields;
  for (const Field& f : e.fields())
    fields.push_back(std::string(registry.name(f.id)) + "=" + Describe(f.value));
  std::sort(fields.begin(), fields.end());
  std::string s = std::string(registry.event_type_name(e.type())) + " " +
                  std::to_string(e.ts_mono_ns()) + " " + std::to_string(e.ts_wall_ns()) + " " +
                  std::to_string(e.event_id()) + " " + std::to_string(e.entity_key());
  for (const std::string& f : fields) s += " " + f;
  return s;
}

// ---- Round trips ---------------------------------------------------------------------------

// The number of value indices of an uncompressed events block if they are 2 bytes wide, else 0.
size_t IndexCountIfNarrow(const std::vector<uint8_t>& file, const BlockInfo& block) {
  size_t p = block.offset + 28;
  uint32_t values = GetU32(file, p);
  uint32_t shapes = GetU32(file, p + 4);
  uint32_t heap = GetU32(file, p + 8);
  if (file[p + 12] != 2) return 0;
  size_t at = p + 16 + size_t{values} * 16;
  for (uint32_t s = 0; s < shapes; ++s) at += 2 + 4 * size_t{uint16_t(file[at] | file[at + 1] << 8)};
  size_t records_bytes = block.end - (at + heap);
  return (records_bytes - 36 * size_t{block.count}) / 2;
}

TEST(KlogTest, RoundTripsRandomEventsAcrossRegistries) {
  for (uint64_t seed : {1, 2, 3, 42}) {
    SchemaRegistry registry = SchemaRegistry::WithEcs();
    EventBatch batch;
    testing::MakeRandomEvents(seed, 200, registry, batch);
    for (Compression compression : {Compression::kNone, Compression::kZstd}) {
      for (size_t block_bytes : {size_t{1}, size_t{700}, size_t{1} << 20}) {
        SCOPED_TRACE("seed " + std::to_string(seed) + " zstd " +
                     std::to_string(compression == Compression::kZstd) + " block_bytes " +
                     std::to_string(block_bytes));
        testing::TempFile temp(".klog");
        const std::string& path = temp.path();
        ASSERT_TRUE(WriteEvents(path, batch, registry, Options(compression, block_bytes)));
        std::vector<uint8_t> file = ReadBytes(path);

        // Layout: a schema block first; events blocks flushed once they reach block_bytes.
        auto blocks = ListBlocks(file);
        ASSERT_FALSE(blocks.empty());
        EXPECT_EQ(blocks.front().kind, 1);
        EXPECT_EQ(blocks.back().end, file.size());
        size_t events_blocks = 0;
        bool any_zstd = false;
        for (size_t i = 0; i < blocks.size(); ++i) {
          any_zstd |= blocks[i].compression == 1;
          if (blocks[i].kind != 2) continue;
          ++events_blocks;
          // The writer counts 4-byte value indices, so a block written with 2-byte ones reached
          // block_bytes with 2 more bytes per index.
          if (blocks[i].end != file.size() && blocks[i].compression == 0) {
            EXPECT_GE(blocks[i].raw_size + 2 * IndexCountIfNarrow(file, blocks[i]), block_bytes);
          }
        }
        EXPECT_EQ(blocks.back().kind, 2);
        EXPECT_EQ(events_blocks == 1, block_bytes == (size_t{1} << 20));
        if (block_bytes == 1) {
          EXPECT_EQ(events_blocks, 200u);
        }
        EXPECT_EQ(any_zstd, compression == Compression::kZstd);

        // Into the same registry: identical events, and no new fields.
        size_t fields_before = registry.size();
        ReadOutcome same = ReadAll(path, registry);
        ASSERT_FALSE(same.error) << same.error->ToString();
        EXPECT_EQ(registry.size(), fields_before);
        ASSERT_EQ(same.events.size(), batch.size());
        for (size_t i = 0; i < batch.size(); ++i)
          ASSERT_TRUE(same.events[i] == batch[i]) << "event " << i;
        EXPECT_EQ(same.stats.records, 200u);
        EXPECT_EQ(same.stats.skipped, 0u);
        EXPECT_EQ(same.stats.bytes, file.size());
        EXPECT_EQ(same.stats.total_bytes, file.size());

        // Into fresh registries: the same events by name.
        for (bool ecs : {true, false}) {
          SchemaRegistry fresh = ecs ? SchemaRegistry::WithEcs() : SchemaRegistry();
          ReadOutcome other = ReadAll(path, fresh);
          ASSERT_FALSE(other.error) << other.error->ToString();
          ASSERT_EQ(other.events.size(), batch.size());
          for (size_t i = 0; i < batch.size(); ++i) {
            ASSERT_EQ(Describe(other.events[i], fresh), Describe(batch[i], registry))
                << "event " << i;
            auto fields = other.events[i].fields();
            for (size_t k = 1; k < fields.size(); ++k) ASSERT_LT(fields[k - 1].id, fields[k].id);
          }
        }
      }
    }
  }
}

TEST(KlogTest, WritesTheDocumentedLayout) {
  SchemaRegistry registry;
  EventTypeId process = *registry.InternEventType("process");
  FieldId count = *registry.Intern("b.count", {ValueKind::kI64, false});
  FieldId tags = *registry.Intern("a.tags", {ValueKind::kString, true});
  EventBatch batch;
  EventBuilder builder(&batch.arena());
  builder.Start();
  builder.header() = EventHeader{process, 10, 20, 30, 40};
  builder.Set(count, Value::I64(-5));
  builder.MarkArray(tags);
  builder.Append(tags, builder.StringValue("x"));
  builder.Append(tags, Value::Bool(true));
  batch.Add(builder.Finish());
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  ASSERT_TRUE(WriteEvents(path, batch, registry, {}));

  Bytes expected = FileHeader();
  Bytes schema = TypeEntry(0, "process");
  schema.Append(FieldEntry(0, ValueKind::kI64, false, "b.count"));
  schema.Append(FieldEntry(1, ValueKind::kString, true, "a.tags"));
  AppendBlock(expected, 1, 3, schema);
  // Values: -5; the array's elements "x" and true, then the array; 2-byte indices.
  Bytes events;
  events.U32(4).U32(1).U32(1).U8(2).U8(0).U16(0);
  events.U64(static_cast<uint64_t>(-5)).U32(0).U8(2).U8(0).U16(0);
  events.U64(0).U32(1).U8(5).U8(0).U16(0);
  events.U64(1).U32(0).U8(1).U8(0).U16(0);
  events.U64(1).U32(2).U8(8).U8(0).U16(0);
  events.U16(2).U32(0).U32(1);  // the shape: file fields 0 and 1
  events.Raw("x");              // the heap
  events.U16(0).U16(0).U64(10).U64(20).U64(30).U64(40).U16(0).U16(3);
  AppendBlock(expected, 2, 1, events);
  EXPECT_EQ(ReadBytes(path), expected.b);
}

TEST(KlogTest, EmptyFileIsJustTheHeader) {
  SchemaRegistry registry;
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  EventBatch none;
  ASSERT_TRUE(WriteEvents(path, none, registry, Options(Compression::kZstd, 1)));
  EXPECT_EQ(ReadBytes(path), FileHeader().b);
  ReadOutcome read = ReadAll(path, registry);
  ASSERT_FALSE(read.error) << read.error->ToString();
  EXPECT_EQ(read.events.size(), 0u);
  EXPECT_EQ(read.stats.records, 0u);
  EXPECT_EQ(read.stats.bytes, 16u);
}

TEST(KlogTest, ArraysNestUpToEightLevels) {
  SchemaRegistry registry;
  FieldId id = *registry.Intern("deep", {ValueKind::kI64, true});
  EventBatch batch;
  auto nested = [&](int levels) {
    Value v = Value::I64(7);
    for (int i = 0; i < levels; ++i) {
      Value* element = batch.arena().AllocateArray<Value>(1);
      *element = v;
      v = Value::Array({element, 1});
    }
    Field* field = batch.arena().AllocateArray<Field>(1);
    *field = Field{id, v};
    return Event(EventHeader{}, {field, 1});
  };
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  auto output = OutputFile::Open(path);
  ASSERT_TRUE(output);
  auto writer = OpenKlogWriter(std::move(*output), {}, &registry);
  ASSERT_TRUE(writer);
  Status too_deep = (*writer)->Write(nested(9));
  ASSERT_FALSE(too_deep);
  EXPECT_NE(too_deep.error().message().find("arrays nested deeper than 8 levels"),
            std::string::npos);
  ASSERT_TRUE((*writer)->Write(nested(8)));  // the failed event left nothing behind
  ASSERT_TRUE((*writer)->Close());
  EXPECT_EQ((*writer)->events_written(), 1u);
  ReadOutcome read = ReadAll(path, registry);
  ASSERT_FALSE(read.error) << read.error->ToString();
  ASSERT_EQ(read.events.size(), 1u);
  EXPECT_TRUE(read.events[0] == nested(8));
}

TEST(KlogTest, RejectsIdsTheRegistryDoesNotName) {
  SchemaRegistry registry;
  FieldId known = *registry.Intern("known", {ValueKind::kBool, false});
  Field fields[] = {{known, Value::Bool(true)}, {FieldId{99}, Value::Null()}};
  testing::TempFile temp(".klog");
  auto output = OutputFile::Open(temp.path());
  ASSERT_TRUE(output);
  auto writer = OpenKlogWriter(std::move(*output), {}, &registry);
  ASSERT_TRUE(writer);
  Status bad_type = (*writer)->Write(Event(EventHeader{.type = 7}, {fields, 1}));
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error().ToString(), temp.path() + ": event type id 7 is not in the registry");
  Status bad_field = (*writer)->Write(Event(EventHeader{}, {fields, 2}));
  ASSERT_FALSE(bad_field);
  EXPECT_EQ(bad_field.error().message(), "field id 99 is not in the registry");
  ASSERT_TRUE((*writer)->Write(Event(EventHeader{.event_id = 5}, {fields, 1})));
  ASSERT_TRUE((*writer)->Close());
  ReadOutcome read = ReadAll(temp.path(), registry);
  ASSERT_FALSE(read.error) << read.error->ToString();
  ASSERT_EQ(read.events.size(), 1u);
  EXPECT_TRUE(read.events[0] == Event(EventHeader{.event_id = 5}, {fields, 1}));
}

TEST(KlogTest, StoresIncompressibleBlocksUncompressed) {
  SchemaRegistry registry;
  FieldId id = *registry.Intern("blob", {ValueKind::kString, false});
  std::mt19937_64 rng(5);
  std::string noise(4000, ' ');
  for (char& c : noise) c = static_cast<char>(rng());
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  EventBatch batch;
  EventBuilder builder(&batch.arena());
  for (const std::string& s : {noise, std::string(4000, 'a')}) {
    builder.Start();
    builder.Set(id, builder.StringValue(s));
    batch.Add(builder.Finish());
  }
  ASSERT_TRUE(WriteEvents(path, batch, registry, Options(Compression::kZstd, 1)));
  auto blocks = ListBlocks(ReadBytes(path));
  ASSERT_EQ(blocks.size(), 3u);  // schema, noise, repetitive
  EXPECT_EQ(blocks[1].compression, 0);
  EXPECT_EQ(blocks[1].end - blocks[1].offset - 28, blocks[1].raw_size);
  EXPECT_EQ(blocks[2].compression, 1);
  EXPECT_LT(blocks[2].end - blocks[2].offset - 28, blocks[2].raw_size);
  ReadOutcome read = ReadAll(path, registry);
  ASSERT_EQ(read.events.size(), 2u);
  EXPECT_TRUE(read.events[0] == batch[0] && read.events[1] == batch[1]);
}

TEST(KlogTest, StringsAreNotCopied) {
  SchemaRegistry registry;
  FieldId id = *registry.Intern("big", {ValueKind::kString, false});
  for (Compression compression : {Compression::kNone, Compression::kZstd}) {
    EventBatch batch;
    EventBuilder builder(&batch.arena());
    builder.Start();
    builder.Set(id, builder.StringValue(std::string(200'000, 'q')));
    batch.Add(builder.Finish());
    testing::TempFile temp(".klog");
    const std::string& path = temp.path();
    ASSERT_TRUE(WriteEvents(path, batch, registry, Options(compression, 1)));
    auto input = InputFile::Open(path);
    ASSERT_TRUE(input);
    auto reader = OpenKlogReader(std::move(*input), {}, &registry);
    ASSERT_TRUE(reader);
    EventBatch out;
    ASSERT_TRUE((*reader)->Next(out).value());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].fields()[0].value.as_string().size(), 200'000u);
    EXPECT_LT(out.arena().bytes_used(), 1000u);  // the string lives in the mapping or zstd buffer
    EXPECT_FALSE((*reader)->Next(out).value());
  }
}

// ---- Header errors ---------------------------------------------------------------------------

std::string OpenError(const std::vector<uint8_t>& bytes, const std::string& path,
                      ErrorCode* code = nullptr) {
  WriteBytes(path, bytes);
  SchemaRegistry registry;
  ReadOutcome read = ReadAll(path, registry, /*skip_bad=*/true);
  if (!read.error) return "no error";
  if (code != nullptr) *code = read.error->code();
  return read.error->ToString();
}

TEST(KlogTest, RejectsBadFileHeaders) {
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  std::vector<uint8_t> good = FileHeader().b;
  EXPECT_EQ(OpenError({}, path), path + ":0: truncated file header: 0 of 16 bytes");
  EXPECT_EQ(OpenError({good.begin(), good.begin() + 10}, path),
            path + ":0: truncated file header: 10 of 16 bytes");
  EXPECT_EQ(OpenError({'{', '"', 'a', '"', '}', '\n'}, path),
            path + ":0: not a .klog file (bad magic)");
  std::vector<uint8_t> magic = good;
  magic[3] = 'X';
  EXPECT_EQ(OpenError(magic, path), path + ":0: not a .klog file (bad magic)");

  ErrorCode code = ErrorCode::kInternal;
  for (uint8_t version : {1, 3}) {
    std::vector<uint8_t> other = good;
    other[8] = version;
    FixCrcs(other);
    EXPECT_EQ(OpenError(other, path, &code),
              path + ":8: unsupported .klog format version " + std::to_string(version) +
                  " (this build reads version 2)");
    EXPECT_EQ(code, ErrorCode::kUnsupportedVersion);
  }

  std::vector<uint8_t> crc = good;
  crc[13] ^= 0x40;
  EXPECT_EQ(OpenError(crc, path, &code), path + ":0: file header crc mismatch");
  EXPECT_EQ(code, ErrorCode::kCorrupt);
  std::vector<uint8_t> reserved = good;
  reserved[10] = 1;
  FixCrcs(reserved);
  EXPECT_EQ(OpenError(reserved, path), path + ":0: file header reserved field is 1, expected 0");
}

// ---- Small cases ---------------------------------------------------------------------------

TEST(KlogTest, SortsFieldsWhoseFileIdsAreOutOfOrder) {
  Bytes schema = TypeEntry(0, "process");
  schema.Append(FieldEntry(0, ValueKind::kString, false, "z.last"))
      .Append(FieldEntry(1, ValueKind::kI64, false, "a.first"));
  Bytes file = FileHeader();
  AppendBlock(file, 1, 3, schema);
  AppendBlock(file, 2, 0, EventsPayload{}.Build());  // an empty events block yields nothing
  EventsPayload events;
  events.Entry(ValueKind::kI64, 9).String("hi").Shape({1, 0}).Record(0, 0, {0, 1});
  AppendBlock(file, 2, 1, events.Build());
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  WriteBytes(path, file.b);
  SchemaRegistry registry;
  FieldId first = *registry.Intern("z.last", {ValueKind::kString, false});
  ReadOutcome read = ReadAll(path, registry);
  ASSERT_FALSE(read.error) << read.error->ToString();
  ASSERT_EQ(read.events.size(), 1u);
  const Event& e = read.events[0];
  EXPECT_EQ(registry.event_type_name(e.type()), "process");
  EXPECT_EQ(e.header(), (EventHeader{e.type(), 1, 2, 3, 4}));
  ASSERT_EQ(e.fields().size(), 2u);
  EXPECT_EQ(e.fields()[0].id, first);
  EXPECT_EQ(e.fields()[0].value.as_string(), "hi");
  EXPECT_EQ(e.fields()[1].value, Value::I64(9));
}

}  // namespace
}  // namespace kestrel
