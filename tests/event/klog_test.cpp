#include "event/klog.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "event/event_builder.h"
#include "event/random_events.h"
#include "event/test_files.h"

namespace kestrel {
namespace {

// ---- Files -------------------------------------------------------------------------------

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  ::unlink(path.c_str());  // a new inode: truncating a file in place is slow on ext4
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// ---- The format, encoded from docs/klog-format.md independently of the implementation ------

struct Bytes {
  std::vector<uint8_t> b;
  Bytes& U8(uint8_t v) { return Put(v, 1); }
  Bytes& U16(uint16_t v) { return Put(v, 2); }
  Bytes& U32(uint32_t v) { return Put(v, 4); }
  Bytes& U64(uint64_t v) { return Put(v, 8); }
  Bytes& Raw(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Append(const Bytes& other) {
    b.insert(b.end(), other.b.begin(), other.b.end());
    return *this;
  }
  Bytes& Put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  size_t size() const { return b.size(); }
};

uint32_t GetU32(const std::vector<uint8_t>& b, size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (uint32_t{b[at + 3]} << 24);
}
void SetU32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

Bytes FileHeader(uint16_t version = 1) {
  Bytes h;
  h.Raw("KESTRLOG").U16(version).U16(0);
  return h.U32(Crc32c(h.b.data(), 12));
}

// Appends a block; `stored` is the payload as stored (compressed or not).
void AppendBlock(Bytes& file, uint8_t kind, uint8_t compression, uint32_t count,
                 const Bytes& stored, uint32_t raw_size) {
  Bytes h;
  h.Raw("KBLK").U8(kind).U8(compression).U16(0).U32(count).U32(raw_size).U32(stored.size());
  h.U32(Crc32c(stored.b.data(), stored.size()));
  h.U32(Crc32c(h.b.data(), 24));
  file.Append(h).Append(stored);
}
void AppendBlock(Bytes& file, uint8_t kind, uint32_t count, const Bytes& payload) {
  AppendBlock(file, kind, 0, count, payload, payload.size());
}
void AppendZstdBlock(Bytes& file, uint8_t kind, uint32_t count, const Bytes& payload) {
  std::vector<uint8_t> out(ZSTD_compressBound(payload.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), payload.b.data(), payload.size(), 3);
  ASSERT_FALSE(ZSTD_isError(n));
  out.resize(n);
  AppendBlock(file, kind, 1, count, Bytes{out}, payload.size());
}

Bytes FieldEntry(uint32_t id, ValueKind kind, bool is_array, std::string_view name) {
  Bytes e;
  e.U8(1).U32(id).U8(static_cast<uint8_t>(kind)).U8(is_array).U16(name.size()).Raw(name);
  return e;
}
Bytes TypeEntry(uint32_t id, std::string_view name) {
  Bytes e;
  e.U8(2).U32(id).U16(name.size()).Raw(name);
  return e;
}
// A record with timestamps 1 and 2, event_id 3, entity_key 4.
Bytes Record(uint16_t type, uint16_t field_count, const Bytes& fields, int size_delta = 0) {
  Bytes r;
  r.U32(static_cast<uint32_t>(36 + static_cast<int>(fields.size()) + size_delta));
  r.U16(type).U16(field_count).U64(1).U64(2).U64(3).U64(4);
  return r.Append(fields);
}

// Stores `v` (1 or 4 bytes) at `at`, then forges the CRCs so that only the value is wrong.
void Forge(std::vector<uint8_t>& f, size_t at, uint32_t v, int width = 1);

// Recomputes the file header CRC and the CRCs of every block that can be walked by its sizes.
void FixCrcs(std::vector<uint8_t>& f) {
  if (f.size() >= 16) SetU32(f, 12, Crc32c(f.data(), 12));
  for (size_t pos = 16; pos + 28 <= f.size();) {
    uint32_t stored = GetU32(f, pos + 16);
    bool fits = stored <= f.size() - pos - 28;
    if (fits) SetU32(f, pos + 20, Crc32c(f.data() + pos + 28, stored));
    SetU32(f, pos + 24, Crc32c(f.data() + pos, 24));
    if (!fits) break;
    pos += 28 + stored;
  }
}

void Forge(std::vector<uint8_t>& f, size_t at, uint32_t v, int width) {
  if (width == 4) {
    SetU32(f, at, v);
  } else {
    f[at] = static_cast<uint8_t>(v);
  }
  FixCrcs(f);
}

struct BlockInfo {
  size_t offset, end;
  uint8_t kind, compression;
  uint32_t count, raw_size;
  size_t first_event;  // index of the block's first event among all events
};

// Walks a well-formed file.
std::vector<BlockInfo> ListBlocks(const std::vector<uint8_t>& f) {
  std::vector<BlockInfo> blocks;
  size_t events = 0;
  for (size_t pos = 16; pos < f.size();) {
    BlockInfo b{pos,
                pos + 28 + GetU32(f, pos + 16),
                f[pos + 4],
                f[pos + 5],
                GetU32(f, pos + 8),
                GetU32(f, pos + 12),
                events};
    if (b.kind == 2) events += b.count;
    blocks.push_back(b);
    pos = b.end;
  }
  return blocks;
}

// ---- Writing and reading -----------------------------------------------------------------

Status WriteEvents(const std::string& path, const EventBatch& batch, const SchemaRegistry& registry,
                   const WriteOptions& options) {
  KESTREL_ASSIGN_OR_RETURN(auto output, OutputFile::Open(path));
  KESTREL_ASSIGN_OR_RETURN(auto writer, OpenKlogWriter(std::move(output), options, &registry));
  for (const Event& e : batch) KESTREL_TRY(writer->Write(e));
  KESTREL_TRY(writer->Close());
  if (writer->events_written() != batch.size()) return MakeError(ErrorCode::kInternal, "count");
  return Ok();
}

struct ReadOutcome {
  EventBatch events;  // deep copies, valid after the reader is gone
  ReadStats stats;
  std::optional<Error> error;
};

ReadOutcome ReadAll(const std::string& path, SchemaRegistry& registry, bool skip_bad = false) {
  ReadOutcome out;
  auto input = InputFile::Open(path);
  if (!input) {
    out.error = input.error();
    return out;
  }
  ReadOptions options;
  options.skip_bad = skip_bad;
  auto reader = OpenKlogReader(std::move(*input), options, &registry);
  if (!reader) {
    out.error = reader.error();
    return out;
  }
  EventBuilder copier(&out.events.arena());
  static EventBatch batch;  // reused: its arena's blocks are recycled across reads
  for (;;) {
    Result<bool> more = (*reader)->Next(batch);
    if (!more) {
      out.error = more.error();
      break;
    }
    if (!*more) break;
    for (const Event& e : batch) out.events.Add(copier.Copy(e));
  }
  out.stats = (*reader)->stats();
  return out;
}

// The offset of an error located "path:OFFSET: ...", or -1 if it does not have that form.
int64_t ErrorOffset(const Error& error, const std::string& path) {
  std::string s = error.ToString();
  if (s.rfind(path + ":", 0) != 0) return -1;
  size_t i = path.size() + 1;
  size_t digits = 0;
  while (i + digits < s.size() && std::isdigit(static_cast<unsigned char>(s[i + digits]))) ++digits;
  if (digits == 0 || s.compare(i + digits, 2, ": ") != 0) return -1;
  return std::stoll(s.substr(i, digits));
}

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

WriteOptions Options(Compression compression, size_t block_bytes) {
  WriteOptions options;
  options.compression = compression;
  options.block_bytes = block_bytes;
  return options;
}

// ---- Round trips ---------------------------------------------------------------------------

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
          if (blocks[i].end != file.size()) {
            EXPECT_GE(blocks[i].raw_size, block_bytes);
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
  Bytes fields;
  fields.U32(0).U8(2).U64(static_cast<uint64_t>(-5));
  fields.U32(1).U8(8).U32(2).U8(5).U32(1).Raw("x").U8(1).U8(1);
  Bytes record;
  record.U32(36 + fields.size()).U16(0).U16(2).U64(10).U64(20).U64(30).U64(40).Append(fields);
  AppendBlock(expected, 2, 1, record);
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

  std::vector<uint8_t> v2 = good;
  v2[8] = 2;
  FixCrcs(v2);
  ErrorCode code = ErrorCode::kInternal;
  EXPECT_EQ(OpenError(v2, path, &code),
            path + ":8: unsupported .klog format version 2 (this build reads version 1)");
  EXPECT_EQ(code, ErrorCode::kUnsupportedVersion);

  std::vector<uint8_t> crc = good;
  crc[13] ^= 0x40;
  EXPECT_EQ(OpenError(crc, path, &code), path + ":0: file header crc mismatch");
  EXPECT_EQ(code, ErrorCode::kCorrupt);
  std::vector<uint8_t> reserved = good;
  reserved[10] = 1;
  FixCrcs(reserved);
  EXPECT_EQ(OpenError(reserved, path), path + ":0: file header reserved field is 1, expected 0");
}

// ---- Hand-made files with one defect each ------------------------------------------------------

Bytes StandardSchema() {
  Bytes s = TypeEntry(0, "process");
  s.Append(FieldEntry(0, ValueKind::kString, false, "a"));
  return s.Append(FieldEntry(1, ValueKind::kI64, false, "b"));
}
constexpr size_t kEventsOffset = 16 + 28 + (7 + 7) + (9 + 1) + (9 + 1);  // header, schema block
constexpr size_t kRecordOffset = kEventsOffset + 28;

struct RecordCase {
  Bytes record;
  std::string message;
};

std::vector<RecordCase> BadRecords() {
  auto fields = [] { return Bytes{}; };
  std::vector<RecordCase> cases;
  cases.push_back(
      {Record(0, 1, fields().U32(17).U8(2).U64(5)), "record 0: field id 17 not defined"});
  cases.push_back({Record(3, 0, fields()), "record 0: event type id 3 not defined"});
  cases.push_back({Record(0, 1, fields().U32(1).U8(9)), "record 0: unknown value kind 9"});
  cases.push_back(
      {Record(0, 1, fields().U32(1).U8(1).U8(2)), "record 0: bool value 2 is not 0 or 1"});
  cases.push_back({Record(0, 1, fields().U32(0).U8(5).U32(100).Raw("abc")),
                   "record 0: string of 100 bytes exceeds the 3 bytes left in the record"});
  cases.push_back({Record(0, 1, fields().U32(1).U8(2).U32(0)), "record 0: truncated 8-byte value"});
  cases.push_back(
      {Record(0, 2, fields().U32(0).U8(0).U32(0).U8(0)), "record 0: field 'a' appears twice"});
  cases.push_back({Record(0, 1, fields().U32(1).U8(2).U64(1).U8(0)),
                   "record 0: record_size 50 leaves 1 bytes after the last field"});
  cases.push_back({Record(0, 1000, fields()),
                   "record 0: 1000 fields do not fit in the 0 bytes left in the record"});
  cases.push_back({Record(0, 1, fields().U32(0).U8(8).U32(1000)),
                   "record 0: array of 1000 elements exceeds the 0 bytes left in the record"});
  Bytes deep = fields().U32(0);
  for (int i = 0; i < 9; ++i) deep.U8(8).U32(1);
  cases.push_back({Record(0, 1, deep.U8(0)), "record 0: arrays nested deeper than 8 levels"});
  cases.push_back({Record(0, 0, fields(), 10),
                   "record 0: record_size 46 exceeds the 36 bytes left in the block"});
  cases.push_back({Record(0, 0, fields().U32(0), -30),
                   "record 0: record_size 10 is smaller than the 36-byte record header"});
  return cases;
}

TEST(KlogTest, ReportsRecordDefectsWithOffsets) {
  for (bool zstd : {false, true}) {
    for (const RecordCase& c : BadRecords()) {
      SCOPED_TRACE(c.message + (zstd ? " (zstd)" : ""));
      Bytes file = FileHeader();
      AppendBlock(file, 1, 3, StandardSchema());
      ASSERT_EQ(file.size(), kEventsOffset);
      if (zstd) {
        AppendZstdBlock(file, 2, 1, c.record);
      } else {
        AppendBlock(file, 2, 1, c.record);
      }
      testing::TempFile temp(".klog");
      const std::string& path = temp.path();
      WriteBytes(path, file.b);
      SchemaRegistry registry;
      ReadOutcome read = ReadAll(path, registry);
      ASSERT_TRUE(read.error);
      EXPECT_EQ(
          read.error->ToString(),
          path + ":" + std::to_string(zstd ? kEventsOffset : kRecordOffset) + ": " + c.message);
      EXPECT_EQ(read.error->code(), ErrorCode::kCorrupt);

      ReadOutcome skipped = ReadAll(path, registry, /*skip_bad=*/true);
      ASSERT_FALSE(skipped.error) << skipped.error->ToString();
      EXPECT_EQ(skipped.events.size(), 0u);
      EXPECT_EQ(skipped.stats.skipped, 1u);
    }
  }
}

TEST(KlogTest, ReportsTheFailingRecordOfABlock) {
  Bytes good = Record(0, 1, Bytes{}.U32(1).U8(2).U64(9));
  Bytes bad = Record(0, 1, Bytes{}.U32(4).U8(0));
  Bytes events = good;
  events.Append(good).Append(bad);
  Bytes file = FileHeader();
  AppendBlock(file, 1, 3, StandardSchema());
  AppendBlock(file, 2, 3, events);
  AppendBlock(file, 2, 1, good);
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  WriteBytes(path, file.b);
  SchemaRegistry registry;
  ReadOutcome read = ReadAll(path, registry);
  ASSERT_TRUE(read.error);
  EXPECT_EQ(read.error->ToString(), path + ":" + std::to_string(kRecordOffset + 2 * good.size()) +
                                        ": record 2: field id 4 not defined");
  // Skipping drops the whole block (3 records) and keeps the next one.
  ReadOutcome skipped = ReadAll(path, registry, /*skip_bad=*/true);
  ASSERT_FALSE(skipped.error) << skipped.error->ToString();
  ASSERT_EQ(skipped.events.size(), 1u);
  EXPECT_EQ(skipped.stats.skipped, 3u);
  EXPECT_EQ(skipped.stats.records, 1u);
  EXPECT_EQ(skipped.events[0].fields()[0].value, Value::I64(9));
}

struct BlockCase {
  std::string message;
  void (*patch)(Bytes& schema, Bytes& events, uint32_t& count);  // before the file is assembled
  void (*patch_file)(std::vector<uint8_t>& f) = nullptr;         // after it is assembled
  bool schema_block = false;  // the defect is in the schema block (at offset 16)
  uint32_t schema_count = 3;
  bool fatal = false;  // stops reading even with skip_bad
};

TEST(KlogTest, ReportsBlockDefectsAtTheBlockOffset) {
  auto none = [](Bytes&, Bytes&, uint32_t&) {};
  std::vector<BlockCase> cases = {
      {"events block has 1 bytes after its 1 records",
       [](Bytes&, Bytes& e, uint32_t&) { e.U8(0); }},
      {"block count 5 does not fit in 53 payload bytes",
       [](Bytes&, Bytes&, uint32_t& n) { n = 5; }},
      {"block payload crc mismatch", none,
       [](std::vector<uint8_t>& f) { f[kRecordOffset + 5] ^= 1; }},
      {"bad block magic (expected KBLK)", none,
       [](std::vector<uint8_t>& f) { f[kEventsOffset + 1] = 'X'; }},
      {"block header crc mismatch", none,
       [](std::vector<uint8_t>& f) { f[kEventsOffset + 9] ^= 1; }},
      {"unknown block kind 7", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 4, 7); }, false, 3, /*fatal=*/true},
      {"unknown block compression 2", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 5, 2); }},
      {"block header reserved field is 1, expected 0", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 6, 1); }},
      {"uncompressed block has raw_size 54 but stored_size 53", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 12, 54, 4); }},
      {"block raw_size 67108865 exceeds the 64 MiB limit", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 12, (64u << 20) + 1, 4); }},
      {"zstd payload is not a zstd frame", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 5, 1); }},
      {"truncated block: header says 53 payload bytes, 52 remain", none,
       [](std::vector<uint8_t>& f) { f.pop_back(); }},
      {"truncated block header: 27 of 28 bytes", none,
       [](std::vector<uint8_t>& f) { f.resize(kEventsOffset + 27); }},
      {"schema entry 2: duplicate field name 'a'",
       [](Bytes& s, Bytes&, uint32_t&) { s.b.back() = 'a'; }, nullptr, true},
      {"schema entry 1: field file id 5 is not the next id 0",
       [](Bytes& s, Bytes&, uint32_t&) {
         s = TypeEntry(0, "process").Append(FieldEntry(5, ValueKind::kString, false, "a"));
       },
       nullptr, true, 2},
      {"schema entry 1: unknown value kind 9",
       [](Bytes& s, Bytes&, uint32_t&) {
         s = TypeEntry(0, "process").Append(FieldEntry(0, ValueKind{9}, false, "a"));
       },
       nullptr, true, 2},
      {"schema entry 0: unknown entry kind 3", [](Bytes& s, Bytes&, uint32_t&) { s.b[0] = 3; },
       nullptr, true},
      {"schema entry 0: empty event type",
       [](Bytes& s, Bytes&, uint32_t&) { s = TypeEntry(0, ""); }, nullptr, true, 1},
      {"schema block has 10 bytes after its 2 entries", none, nullptr, true, 2},
  };
  for (const BlockCase& c : cases) {
    SCOPED_TRACE(c.message);
    Bytes schema = StandardSchema();
    Bytes events = Record(0, 1, Bytes{}.U32(1).U8(2).U64(9));
    uint32_t count = 1;
    c.patch(schema, events, count);
    Bytes file = FileHeader();
    AppendBlock(file, 1, c.schema_count, schema);
    AppendBlock(file, 2, count, events);
    if (c.patch_file != nullptr) c.patch_file(file.b);
    testing::TempFile temp(".klog");
    const std::string& path = temp.path();
    WriteBytes(path, file.b);
    for (bool skip_bad : {false, true}) {
      SchemaRegistry registry;
      ReadOutcome read = ReadAll(path, registry, skip_bad);
      if (skip_bad && !c.schema_block && !c.fatal) {
        ASSERT_FALSE(read.error) << read.error->ToString();
        EXPECT_EQ(read.events.size(), 0u);
        EXPECT_EQ(read.stats.skipped, std::max<uint32_t>(count, 1));
        continue;
      }
      ASSERT_TRUE(read.error);
      size_t offset = c.schema_block ? 16 : kEventsOffset;
      EXPECT_EQ(read.error->ToString(), path + ":" + std::to_string(offset) + ": " + c.message);
    }
  }
}

TEST(KlogTest, ChecksZstdFramesAgainstRawSize) {
  Bytes record = Record(0, 1, Bytes{}.U32(1).U8(2).U64(9));
  Bytes file = FileHeader();
  AppendBlock(file, 1, 3, StandardSchema());
  AppendZstdBlock(file, 2, 1, record);
  SetU32(file.b, kEventsOffset + 12, record.size() + 1);  // raw_size lies; the CRCs are forged
  FixCrcs(file.b);
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  WriteBytes(path, file.b);
  SchemaRegistry registry;
  ReadOutcome read = ReadAll(path, registry);
  ASSERT_TRUE(read.error);
  EXPECT_EQ(read.error->ToString(), path + ":" + std::to_string(kEventsOffset) +
                                        ": zstd frame holds 53 bytes but raw_size says 54");
}

TEST(KlogTest, SortsFieldsWhoseFileIdsAreOutOfOrder) {
  Bytes schema = TypeEntry(0, "process");
  schema.Append(FieldEntry(0, ValueKind::kString, false, "z.last"))
      .Append(FieldEntry(1, ValueKind::kI64, false, "a.first"));
  Bytes file = FileHeader();
  AppendBlock(file, 1, 3, schema);
  AppendBlock(file, 2, 0, Bytes{});  // an empty events block is allowed and yields nothing
  AppendBlock(file, 2, 1, Record(0, 2, Bytes{}.U32(1).U8(2).U64(9).U32(0).U8(5).U32(2).Raw("hi")));
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

// ---- Corruption ------------------------------------------------------------------------------

struct Corpus {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch batch;
  std::vector<uint8_t> file;
  std::vector<BlockInfo> blocks;
};

std::unique_ptr<Corpus> MakeCorpus(Compression compression, size_t n, size_t block_bytes,
                                   uint64_t seed) {
  auto c = std::make_unique<Corpus>();
  testing::MakeRandomEvents(seed, n, c->registry, c->batch);
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  EXPECT_TRUE(WriteEvents(path, c->batch, c->registry, Options(compression, block_bytes)));
  c->file = ReadBytes(path);
  c->blocks = ListBlocks(c->file);
  return c;
}

// Expects `read` to hold exactly the corpus events outside [lost_begin, lost_end), in order.
void ExpectEventsExcept(const ReadOutcome& read, const Corpus& c, size_t lost_begin,
                        size_t lost_end) {
  size_t k = 0;
  for (size_t i = 0; i < c.batch.size(); ++i) {
    if (i >= lost_begin && i < lost_end) continue;
    ASSERT_LT(k, read.events.size()) << "event " << i << " is missing";
    ASSERT_TRUE(read.events[k] == c.batch[i]) << "event " << i;
    ++k;
  }
  EXPECT_EQ(k, read.events.size());
}

const BlockInfo* BlockAt(const Corpus& c, size_t at) {  // the block whose bytes include `at`
  for (const BlockInfo& b : c.blocks) {
    if (b.offset <= at && at < b.end) return &b;
  }
  return nullptr;
}

TEST(KlogTest, TruncationAtAndAroundBlockBoundaries) {
  for (Compression compression : {Compression::kNone, Compression::kZstd}) {
    auto c = MakeCorpus(compression, 150, 600, 9);
    ASSERT_GT(c->blocks.size(), 8u);
    std::set<size_t> cuts = {0, 1, 8, 15};
    for (const BlockInfo& b : c->blocks) {
      for (size_t at :
           {b.offset - 1, b.offset, b.offset + 1, b.offset + 27, b.offset + 28, b.end - 1, b.end}) {
        cuts.insert(at);
      }
    }
    testing::TempFile temp(".klog");
    const std::string& path = temp.path();
    for (size_t cut : cuts) {
      SCOPED_TRACE("cut at " + std::to_string(cut));
      WriteBytes(path, {c->file.begin(), c->file.begin() + static_cast<ptrdiff_t>(cut)});
      // The block the cut falls inside (none when it falls between blocks) and the events before
      // it.
      const BlockInfo* cut_block = cut < 16 ? nullptr : BlockAt(*c, cut);
      if (cut_block != nullptr && cut_block->offset == cut) cut_block = nullptr;
      size_t complete = 0;
      for (const BlockInfo& b : c->blocks) {
        if (b.kind == 2 && b.end <= cut) complete += b.count;
      }
      for (bool skip_bad : {false, true}) {
        SCOPED_TRACE(skip_bad ? "skip_bad" : "strict");
        ReadOutcome read = ReadAll(path, c->registry, skip_bad);
        if (cut < 16) {
          ASSERT_TRUE(read.error);
          EXPECT_EQ(read.error->ToString(),
                    path + ":0: truncated file header: " + std::to_string(cut) + " of 16 bytes");
          continue;
        }
        if (cut_block == nullptr) {  // a clean cut is a valid, shorter file
          ASSERT_FALSE(read.error) << read.error->ToString();
          EXPECT_EQ(read.stats.skipped, 0u);
          ExpectEventsExcept(read, *c, complete, c->batch.size());
          continue;
        }
        bool header_cut = cut - cut_block->offset < 28;
        if (!skip_bad || (!header_cut && cut_block->kind == 1)) {
          ASSERT_TRUE(read.error);
          EXPECT_EQ(ErrorOffset(*read.error, path), static_cast<int64_t>(cut_block->offset))
              << read.error->ToString();
          EXPECT_NE(read.error->message().find("truncated block"), std::string::npos)
              << read.error->ToString();
          ExpectEventsExcept(read, *c, complete, c->batch.size());
          continue;
        }
        ASSERT_FALSE(read.error) << read.error->ToString();
        ExpectEventsExcept(read, *c, complete, c->batch.size());
        EXPECT_EQ(read.stats.skipped, header_cut ? 1u : cut_block->count);
        EXPECT_EQ(read.stats.bytes, cut);
      }
    }
  }
}

TEST(KlogTest, FlippedBytesAreCaughtAndBadEventsBlocksSkipped) {
  for (Compression compression : {Compression::kNone, Compression::kZstd}) {
    auto c = MakeCorpus(compression, 120, 600, 11);
    ASSERT_GT(c->blocks.size(), 8u);
    std::vector<size_t> offsets;
    for (size_t at = 0; at < 16; ++at) offsets.push_back(at);
    for (const BlockInfo& b : c->blocks) {
      for (size_t d : {0, 3, 4, 5, 6, 8, 12, 16, 20, 24, 27}) offsets.push_back(b.offset + d);
      for (size_t at : {b.offset + 28, (b.offset + 28 + b.end) / 2, b.end - 1})
        offsets.push_back(at);
    }
    testing::TempFile temp(".klog");
    const std::string& path = temp.path();
    for (size_t at : offsets) {
      SCOPED_TRACE("flip at " + std::to_string(at));
      std::vector<uint8_t> file = c->file;
      file[at] ^= 0x5A;
      WriteBytes(path, file);
      const BlockInfo* block = BlockAt(*c, at);
      for (bool skip_bad : {false, true}) {
        SCOPED_TRACE(skip_bad ? "skip_bad" : "strict");
        ReadOutcome read = ReadAll(path, c->registry, skip_bad);
        if (at < 16) {
          ASSERT_TRUE(read.error);
          EXPECT_EQ(ErrorOffset(*read.error, path), at == 8 || at == 9 ? 8 : 0)
              << read.error->ToString();
          continue;
        }
        ASSERT_NE(block, nullptr);
        bool in_header = at - block->offset < 28;
        std::string expected = !in_header               ? "block payload crc mismatch"
                               : at - block->offset < 4 ? "bad block magic (expected KBLK)"
                                                        : "block header crc mismatch";
        if (!skip_bad || (block->kind == 1 && !in_header)) {
          ASSERT_TRUE(read.error);
          EXPECT_EQ(read.error->ToString(),
                    path + ":" + std::to_string(block->offset) + ": " + expected);
          ExpectEventsExcept(read, *c, block->first_event, c->batch.size());
          continue;
        }
        if (block->kind == 1) {
          // A lost schema header hides the definitions later blocks need: those blocks are
          // skipped, and the next schema block's ids no longer line up.
          if (read.error) {
            EXPECT_GE(ErrorOffset(*read.error, path), static_cast<int64_t>(block->end));
          }
          EXPECT_GT(read.stats.skipped, 0u);
          continue;
        }
        ASSERT_FALSE(read.error) << read.error->ToString();
        ExpectEventsExcept(read, *c, block->first_event, block->first_event + block->count);
        EXPECT_EQ(read.stats.skipped, in_header ? 1u : block->count);
        ASSERT_FALSE(read.stats.skipped_errors.empty());
        EXPECT_EQ(read.stats.skipped_errors[0].ToString(),
                  path + ":" + std::to_string(block->offset) + ": " + expected);
        EXPECT_EQ(read.stats.bytes, file.size());
      }
    }
  }
}

TEST(KlogTest, ErrorsAreSticky) {
  auto c = MakeCorpus(Compression::kNone, 40, 300, 5);
  std::vector<uint8_t> file = c->file;
  file[c->blocks[3].offset + 30] ^= 1;
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  WriteBytes(path, file);
  auto input = InputFile::Open(path);
  ASSERT_TRUE(input);
  auto reader = OpenKlogReader(std::move(*input), {}, &c->registry);
  ASSERT_TRUE(reader);
  EventBatch batch;
  std::optional<Error> first;
  while (!first) {
    Result<bool> more = (*reader)->Next(batch);
    ASSERT_TRUE(!more || *more) << "the damaged block was not reported";
    if (!more) first = more.error();
  }
  Result<bool> again = (*reader)->Next(batch);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().ToString(), first->ToString());
  EXPECT_TRUE(batch.empty());
}

TEST(KlogTest, SurvivesRandomMutations) {
  auto plain = MakeCorpus(Compression::kNone, 12, 200, 3);
  auto packed = MakeCorpus(Compression::kZstd, 12, 200, 4);
  std::mt19937_64 rng(2024);
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  size_t failures = 0;
  size_t successes = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<uint8_t> f = (iter % 2 == 0 ? plain : packed)->file;
    for (int m = static_cast<int>(rng() % 4); m >= 0 && !f.empty(); --m) {
      size_t at = rng() % f.size();
      switch (rng() % 6) {
        case 0:
          f[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          f[at] = static_cast<uint8_t>(rng());
          break;
        case 2: {
          const uint32_t interesting[] = {0,
                                          1,
                                          7,
                                          36,
                                          40,
                                          0xFFFF,
                                          0x7FFFFFFF,
                                          0x80000000,
                                          0xFFFFFFFF,
                                          64u << 20,
                                          static_cast<uint32_t>(f.size())};
          if (at + 4 <= f.size()) SetU32(f, at, interesting[rng() % std::size(interesting)]);
          break;
        }
        case 3:
          f.resize(at);
          break;
        case 4: {
          std::vector<uint8_t> junk(1 + rng() % 8);
          for (uint8_t& b : junk) b = static_cast<uint8_t>(rng());
          f.insert(f.begin() + static_cast<ptrdiff_t>(at), junk.begin(), junk.end());
          break;
        }
        default: {  // copy a chunk of the file over another place
          size_t from = rng() % f.size();
          size_t n = std::min({size_t{1} + rng() % 32, f.size() - from, f.size() - at});
          std::memmove(f.data() + at, f.data() + from, n);
        }
      }
    }
    // Mostly with forged CRCs, so that the damage reaches the decoders.
    if (rng() % 4 != 0) FixCrcs(f);
    WriteBytes(path, f);
    for (bool skip_bad : {false, true}) {
      SchemaRegistry registry;
      ReadOutcome read = ReadAll(path, registry, skip_bad);
      if (read.error) {
        ++failures;
        int64_t offset = ErrorOffset(*read.error, path);
        ASSERT_GE(offset, 0) << "iteration " << iter << ": " << read.error->ToString();
        ASSERT_LE(static_cast<size_t>(offset), f.size()) << "iteration " << iter;
      } else {
        ++successes;
        ASSERT_EQ(read.stats.bytes, f.size()) << "iteration " << iter;
      }
      ASSERT_EQ(read.stats.records, read.events.size()) << "iteration " << iter;
    }
  }
  EXPECT_GT(failures, 100u);
  EXPECT_GT(successes, 100u);
}

}  // namespace
}  // namespace kestrel
