// .klog files with defects: hand-made files with one defect each (and the exact error and offset
// each gives), truncation, flipped bytes, skipping bad blocks, and random mutations.
#include "event/klog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "event/klog_test_util.h"
#include "event/random_events.h"
#include "event/test_files.h"

namespace kestrel {
namespace {

using namespace testing;  // the .klog test helpers (klog_test_util.h)

// ---- Hand-made files with one defect each ------------------------------------------------------

Bytes StandardSchema() {
  Bytes s = TypeEntry(0, "process");
  s.Append(FieldEntry(0, ValueKind::kString, false, "a"));
  return s.Append(FieldEntry(1, ValueKind::kI64, false, "b"));
}
constexpr size_t kEventsOffset = 16 + 28 + (7 + 7) + (9 + 1) + (9 + 1);  // header, schema block
constexpr size_t kPayloadOffset = kEventsOffset + 28;

// One record of type process with b = 9.
EventsPayload GoodPayload() {
  EventsPayload p;
  p.Entry(ValueKind::kI64, 9).Shape({1}).Record(0, 0, {0});
  return p;
}

struct PartCase {
  EventsPayload payload;
  size_t part_offset;  // in the payload
  std::string message;
};

std::vector<PartCase> BadParts() {
  std::vector<PartCase> cases;
  auto add = [&](EventsPayload p, size_t at, std::string message) {
    cases.push_back({std::move(p), at, std::move(message)});
  };
  EventsPayload p;

  p = {};
  p.Entry(ValueKind::kI64, 9).Shape({17}).Record(0, 0, {0});
  add(p, p.ShapeOffset(0), "shape 0: field id 17 not defined");
  p = {};
  p.String("x").Shape({0, 0}).Record(0, 0, {0, 0});
  add(p, p.ShapeOffset(0), "shape 0: field 'a' appears twice");
  p = {};
  p.Entry(ValueKind::kI64, 9).Shape({1}).Shape({1, 0}).Record(0, 0, {0});
  p.shapes[1].b[0] = 1000 & 0xff;  // 1000 fields claimed; 8 bytes of ids and a record follow
  p.shapes[1].b[1] = 1000 >> 8;
  add(p, p.ShapeOffset(1), "shape 1: 1000 fields exceed the 48 bytes left in the block");

  p = GoodPayload();
  p.records[0].type = 3;
  add(p, p.RecordOffset(0), "record 0: event type id 3 not defined");
  p = GoodPayload();
  p.records[0].shape = 5;
  add(p, p.RecordOffset(0), "record 0: shape 5 not defined");
  p = GoodPayload();
  p.records[0].indices = {7};
  add(p, p.RecordOffset(0), "record 0: value index 7 not defined");
  p = {};
  p.Entry(ValueKind::kI64, 9).Shape({1, 0}).Record(0, 0, {0});
  add(p, p.RecordOffset(0), "record 0: 2 value indices exceed the 4 bytes left in the block");

  p = GoodPayload();
  p.values[0].b[12] = 9;
  add(p, p.ValueOffset(0), "value 0: unknown value kind 9");
  p = {};
  p.Entry(ValueKind::kBool, 2).Shape({1}).Record(0, 0, {0});
  add(p, p.ValueOffset(0), "value 0: bool value 2 is not 0 or 1");
  p = {};
  p.Entry(ValueKind::kI64, 9, 0, /*reserved=*/1).Shape({1}).Record(0, 0, {0});
  add(p, p.ValueOffset(0), "value 0: reserved bytes are not 0");
  p = {};
  p.Entry(ValueKind::kI64, 9, 4).Shape({1}).Record(0, 0, {0});
  add(p, p.ValueOffset(0), "value 0: i64 value has size 4, expected 0");
  p = {};
  p.String("abc").Entry(ValueKind::kString, 1, 100).Shape({0}).Record(0, 0, {1});
  add(p, p.ValueOffset(1), "value 1: string of 100 bytes at heap offset 1 exceeds the heap of 3 bytes");
  p = {};
  p.String("abc").Entry(ValueKind::kIp, 0).Shape({0}).Record(0, 0, {1});
  add(p, p.ValueOffset(1), "value 1: ip at heap offset 0 exceeds the heap of 3 bytes");
  p = {};
  p.Entry(ValueKind::kNull, 0).Entry(ValueKind::kArray, 0, 2).Shape({0}).Record(0, 0, {1});
  add(p, p.ValueOffset(1), "value 1: array elements [0, 2) do not all come before it");
  p = {};
  p.Entry(ValueKind::kNull, 0);
  for (uint64_t i = 0; i < 9; ++i) p.Entry(ValueKind::kArray, i, 1);
  p.Shape({0}).Record(0, 0, {9});
  add(p, p.ValueOffset(9), "value 9: arrays nested deeper than 8 levels");

  // Defects of the whole block are reported at the block's offset.
  constexpr size_t kBlock = SIZE_MAX;
  p = GoodPayload();
  p.trailer.U8(0);
  add(p, kBlock, "events block has 1 bytes after its 1 records");
  p = GoodPayload();
  p.index_bytes = 3;
  add(p, kBlock, "index_bytes is 3, expected 2 or 4");
  p = GoodPayload();
  p.records.clear();
  add(p, kBlock, "1 records exceed the 0 bytes left in the block");
  return cases;
}

TEST(KlogCorruptionTest, ReportsDefectsOfValuesShapesAndRecordsWithOffsets) {
  for (bool zstd : {false, true}) {
    for (const PartCase& c : BadParts()) {
      SCOPED_TRACE(c.message + (zstd ? " (zstd)" : ""));
      Bytes file = FileHeader();
      AppendBlock(file, 1, 3, StandardSchema());
      ASSERT_EQ(file.size(), kEventsOffset);
      if (zstd) {
        AppendZstdBlock(file, 2, 1, c.payload.Build());
      } else {
        AppendBlock(file, 2, 1, c.payload.Build());
      }
      testing::TempFile temp(".klog");
      const std::string& path = temp.path();
      WriteBytes(path, file.b);
      SchemaRegistry registry;
      ReadOutcome read = ReadAll(path, registry);
      ASSERT_TRUE(read.error);
      size_t offset = zstd || c.part_offset == SIZE_MAX ? kEventsOffset : kPayloadOffset + c.part_offset;
      EXPECT_EQ(read.error->ToString(), path + ":" + std::to_string(offset) + ": " + c.message);
      EXPECT_EQ(read.error->code(), ErrorCode::kCorrupt);

      ReadOutcome skipped = ReadAll(path, registry, /*skip_bad=*/true);
      ASSERT_FALSE(skipped.error) << skipped.error->ToString();
      EXPECT_EQ(skipped.events.size(), 0u);
      EXPECT_EQ(skipped.stats.skipped, 1u);
    }
  }
}

TEST(KlogCorruptionTest, ReportsTheFailingRecordOfABlock) {
  EventsPayload events = GoodPayload();
  events.Record(0, 0, {0}).Record(0, 0, {4});
  Bytes file = FileHeader();
  AppendBlock(file, 1, 3, StandardSchema());
  AppendBlock(file, 2, 3, events.Build());
  AppendBlock(file, 2, 1, GoodPayload().Build());
  testing::TempFile temp(".klog");
  const std::string& path = temp.path();
  WriteBytes(path, file.b);
  SchemaRegistry registry;
  ReadOutcome read = ReadAll(path, registry);
  ASSERT_TRUE(read.error);
  EXPECT_EQ(read.error->ToString(), path + ":" + std::to_string(kPayloadOffset + events.RecordOffset(2)) +
                                        ": record 2: value index 4 not defined");
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

TEST(KlogCorruptionTest, ReportsBlockDefectsAtTheBlockOffset) {
  auto none = [](Bytes&, Bytes&, uint32_t&) {};
  std::vector<BlockCase> cases = {
      {"block count 5 does not fit in 78 payload bytes",
       [](Bytes&, Bytes&, uint32_t& n) { n = 5; }},
      {"block payload crc mismatch", none,
       [](std::vector<uint8_t>& f) { f[kPayloadOffset + 5] ^= 1; }},
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
      {"uncompressed block has raw_size 79 but stored_size 78", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 12, 79, 4); }},
      {"block raw_size 67108865 exceeds the 64 MiB limit", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 12, (64u << 20) + 1, 4); }},
      {"zstd payload is not a zstd frame", none,
       [](std::vector<uint8_t>& f) { Forge(f, kEventsOffset + 5, 1); }},
      {"truncated block: header says 78 payload bytes, 77 remain", none,
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
    Bytes events = GoodPayload().Build();
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

TEST(KlogCorruptionTest, ChecksZstdFramesAgainstRawSize) {
  Bytes record = GoodPayload().Build();
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
                                        ": zstd frame holds 78 bytes but raw_size says 79");
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

TEST(KlogCorruptionTest, TruncationAtAndAroundBlockBoundaries) {
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

TEST(KlogCorruptionTest, FlippedBytesAreCaughtAndBadEventsBlocksSkipped) {
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

TEST(KlogCorruptionTest, ErrorsAreSticky) {
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

TEST(KlogCorruptionTest, SurvivesRandomMutations) {
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
