// .klog events block decoding (docs/klog-format.md). Every count, size, offset and index comes
// from the file, so each is checked before it is used: a forged block (one whose CRC verifies)
// cannot make a reader read outside the payload or an event point outside its block.
#include "event/klog_block.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>

namespace kestrel::klog {
namespace {

std::string_view KindName(uint8_t kind) {
  switch (static_cast<ValueKind>(kind)) {
    case ValueKind::kNull: return "null";
    case ValueKind::kBool: return "bool";
    case ValueKind::kI64: return "i64";
    case ValueKind::kU64: return "u64";
    case ValueKind::kF64: return "f64";
    case ValueKind::kString: return "string";
    case ValueKind::kIp: return "ip";
    case ValueKind::kTimestamp: return "timestamp";
    case ValueKind::kArray: return "array";
  }
  return "unknown";
}

class BlockDecoder {
 public:
  BlockDecoder(const RemapTables& tables, const SchemaRegistry& registry,
               std::span<const uint8_t> payload, uint32_t count, EventBatch& batch,
               BlockScratch& scratch)
      : t_(tables),
        registry_(registry),
        base_(payload.data()),
        size_(payload.size()),
        count_(count),
        batch_(batch),
        arena_(batch.arena()),
        scratch_(scratch) {}

  tl::expected<void, BlockDefect> Decode();

 private:
  tl::unexpected<BlockDefect> Defect(size_t offset, std::string message) const {
    return tl::unexpected(BlockDefect{offset, Error(ErrorCode::kCorrupt, std::move(message))});
  }
  size_t Left(size_t pos) const { return size_ - pos; }

  tl::expected<void, BlockDefect> DecodeShapes(size_t& pos);
  // Builds the value table; false when some entry is wrong (DecodeValuesPrecise says which).
  bool DecodeValues(size_t values_pos, const uint8_t* heap, uint32_t heap_size);
  tl::expected<void, BlockDefect> DecodeValuesPrecise(size_t values_pos, const uint8_t* heap,
                                                      uint32_t heap_size);
  template <class Index>
  tl::expected<void, BlockDefect> DecodeRecords(size_t pos);

  const RemapTables& t_;
  const SchemaRegistry& registry_;
  const uint8_t* base_;
  size_t size_;
  uint32_t count_;
  EventBatch& batch_;
  Arena& arena_;
  BlockScratch& scratch_;

  uint32_t value_count_ = 0;
  uint32_t shape_count_ = 0;
  uint32_t index_bytes_ = 0;
  Value* values_ = nullptr;
  FieldShape* shapes_ = nullptr;
};

tl::expected<void, BlockDefect> BlockDecoder::Decode() {
  if (size_ < kEventsPayloadHeaderSize) {
    return Defect(BlockDefect::kWholeBlock, fmt::format("truncated events block header: {} of {} bytes", size_,
                                 kEventsPayloadHeaderSize));
  }
  value_count_ = LoadLe<uint32_t>(base_);
  shape_count_ = LoadLe<uint32_t>(base_ + 4);
  auto heap_size = LoadLe<uint32_t>(base_ + 8);
  index_bytes_ = base_[12];
  if (index_bytes_ != 2 && index_bytes_ != 4) {
    return Defect(BlockDefect::kWholeBlock, fmt::format("index_bytes is {}, expected 2 or 4", index_bytes_));
  }
  if (base_[13] != 0 || base_[14] != 0 || base_[15] != 0) {
    return Defect(BlockDefect::kWholeBlock, "events block header reserved bytes are not 0");
  }
  if (index_bytes_ == 2 && value_count_ > (1u << 16)) {
    return Defect(BlockDefect::kWholeBlock, fmt::format("{} values do not fit 2-byte indices", value_count_));
  }
  size_t pos = kEventsPayloadHeaderSize;
  if (value_count_ > Left(pos) / kValueEntrySize) {
    return Defect(BlockDefect::kWholeBlock, fmt::format("{} value entries exceed the {} bytes left in the block",
                                 value_count_, Left(pos)));
  }
  size_t values_pos = pos;
  pos += size_t{value_count_} * kValueEntrySize;
  KESTREL_TRY(DecodeShapes(pos));
  if (heap_size > Left(pos)) {
    return Defect(BlockDefect::kWholeBlock, fmt::format("heap of {} bytes exceeds the {} bytes left in the block",
                                   heap_size, Left(pos)));
  }
  const uint8_t* heap = base_ + pos;
  pos += heap_size;
  values_ = arena_.AllocateArray<Value>(value_count_);
  if (!DecodeValues(values_pos, heap, heap_size)) [[unlikely]] {
    KESTREL_TRY(DecodeValuesPrecise(values_pos, heap, heap_size));
    assert(false && "the fast value decoder rejected a table the precise one accepts");
  }
#ifndef NDEBUG
  {
    // Both decoders must agree: rebuild the table with the precise one and compare.
    Value* fast = values_;
    values_ = arena_.AllocateArray<Value>(value_count_);
    auto precise = DecodeValuesPrecise(values_pos, heap, heap_size);
    assert(precise && "the fast value decoder accepted a table the precise one rejects");
    for (uint32_t i = 0; precise && i < value_count_; ++i) {
      assert(std::memcmp(&fast[i], &values_[i], sizeof(Value)) == 0 || fast[i] == values_[i]);
    }
    values_ = fast;
  }
#endif
  return index_bytes_ == 2 ? DecodeRecords<uint16_t>(pos) : DecodeRecords<uint32_t>(pos);
}

tl::expected<void, BlockDefect> BlockDecoder::DecodeShapes(size_t& pos) {
  // Every shape takes at least its u16 field_count.
  if (shape_count_ > Left(pos) / 2) {
    return Defect(BlockDefect::kWholeBlock, fmt::format("{} shapes exceed the {} bytes left in the block", shape_count_,
                                 Left(pos)));
  }
  shapes_ = arena_.AllocateArray<FieldShape>(shape_count_);
  // A lookup table costs 2 bytes per registry id up to the shape's largest; past this budget
  // (only sparse, forged or very varied blocks get there) shapes are searched instead.
  size_t lookup_budget = (1u << 20) + 4 * size_;
  for (uint32_t s = 0; s < shape_count_; ++s) {
    size_t at = pos;
    if (Left(pos) < 2) return Defect(at, fmt::format("shape {}: truncated", s));
    auto n = LoadLe<uint16_t>(base_ + pos);
    pos += 2;
    if (size_t{n} * 4 > Left(pos)) {
      return Defect(at, fmt::format("shape {}: {} fields exceed the {} bytes left in the block", s,
                                    n, Left(pos)));
    }
    auto& sorted = scratch_.sorted;
    sorted.clear();
    for (uint16_t k = 0; k < n; ++k, pos += 4) {
      auto file_id = LoadLe<uint32_t>(base_ + pos);
      if (file_id >= t_.num_fields) {
        return Defect(at, fmt::format("shape {}: field id {} not defined", s, file_id));
      }
      sorted.emplace_back(t_.fields[file_id], k);
    }
    std::sort(sorted.begin(), sorted.end());
    FieldShape& shape = shapes_[s];
    shape = FieldShape{};
    shape.num_fields = n;
    shape.index_bytes = index_bytes_;
    auto* ids = arena_.AllocateArray<FieldId>(n);
    auto* slots = arena_.AllocateArray<uint16_t>(n);
    for (uint16_t k = 0; k < n; ++k) {
      if (k > 0 && sorted[k].first == sorted[k - 1].first) {
        return Defect(at, fmt::format("shape {}: field '{}' appears twice", s,
                                      registry_.name(sorted[k].first)));
      }
      ids[k] = sorted[k].first;
      slots[k] = sorted[k].second;
    }
    shape.ids = ids;
    shape.slots = slots;
    size_t lookup_size = n == 0 ? 0 : size_t{ids[n - 1].value} + 1;
    if (lookup_size * 2 <= lookup_budget) {
      lookup_budget -= lookup_size * 2;
      auto* lookup = arena_.AllocateArray<uint16_t>(std::max<size_t>(lookup_size, 1));
      std::memset(lookup, 0, lookup_size * 2);
      for (uint16_t k = 0; k < n; ++k) lookup[ids[k].value] = static_cast<uint16_t>(slots[k] + 1);
      shape.lookup = lookup;
      shape.lookup_size = static_cast<uint32_t>(lookup_size);
    }
  }
  return {};
}

// The fast value decoder: the checks of DecodeValuesPrecise, without branches on the kind (the
// kinds of a table are mixed, so a switch would mispredict on most entries). Each kind has a
// rule: the largest `bits`, what `bits` is an offset into (nothing, the heap, or the table before
// the entry) and how far the value extends past it.
struct KindRule {
  uint64_t max_bits = UINT64_MAX;
  uint8_t limit = 0;       // 0: none, 1: the heap, 2: the entries before this one
  uint8_t extent = 0;      // bytes past `bits` besides `size` (an IP address's 16)
  uint8_t has_size = 0;    // `size` counts bytes or elements; otherwise it must be 0
  uint8_t shift = 0;       // an offset scales by 1 << shift (arrays: entries of 16 bytes)
  uint8_t invalid = 0;     // not a kind
};

constexpr std::array<KindRule, 16> MakeKindRules() {
  std::array<KindRule, 16> rules{};
  for (size_t k = kMaxValueKind + 1; k < rules.size(); ++k) rules[k].invalid = 1;
  rules[static_cast<size_t>(ValueKind::kNull)].max_bits = 0;
  rules[static_cast<size_t>(ValueKind::kBool)].max_bits = 1;
  rules[static_cast<size_t>(ValueKind::kString)] = {UINT64_MAX, 1, 0, 1, 0, 0};
  rules[static_cast<size_t>(ValueKind::kIp)] = {UINT64_MAX, 1, sizeof(IpAddress), 0, 0, 0};
  rules[static_cast<size_t>(ValueKind::kArray)] = {UINT64_MAX, 2, 0, 1, 4, 0};
  return rules;
}
constexpr std::array<KindRule, 16> kKindRules = MakeKindRules();
static_assert(sizeof(Value) == 16);

bool BlockDecoder::DecodeValues(size_t values_pos, const uint8_t* heap, uint32_t heap_size) {
  auto& depths = scratch_.depths;
  depths.resize(value_count_);
  const uint8_t* p = base_ + values_pos;
  // Per rule.limit: the bound of bits + extent, and the address an offset is relative to.
  uint64_t limits[3] = {UINT64_MAX, heap_size, 0};
  const uint64_t bases[3] = {0, reinterpret_cast<uintptr_t>(heap), reinterpret_cast<uintptr_t>(values_)};
  uint64_t bad = 0;
  for (uint32_t i = 0; i < value_count_; ++i, p += kValueEntrySize) {
    auto bits = LoadLe<uint64_t>(p);
    auto size = LoadLe<uint32_t>(p + 8);
    auto tail = LoadLe<uint32_t>(p + 12);  // kind and three reserved bytes
    const KindRule& rule = kKindRules[tail & 15];
    limits[2] = i;
    uint64_t limit = limits[rule.limit];
    uint64_t need = (rule.has_size ? uint64_t{size} : 0) + rule.extent;
    bad |= (tail > 15) | rule.invalid | (bits > rule.max_bits) | (bits > limit) |
           (need > limit - bits) | (!rule.has_size & (size != 0));
    depths[i] = 0;
    values_[i] = Value::FromParts(static_cast<ValueKind>(tail & 15),
                                  bases[rule.limit] + (bits << rule.shift), size);
    if (rule.shift != 0) [[unlikely]] {  // an array: its elements are checked above
      if (bits <= i && size <= i - bits) {
        uint8_t depth = 0;
        for (uint64_t e = bits; e < bits + size; ++e) depth = std::max(depth, depths[e]);
        bad |= depth + 1 > kMaxArrayDepth;
        depths[i] = static_cast<uint8_t>(depth + 1);
      }
    }
  }
  return bad == 0;
}

tl::expected<void, BlockDefect> BlockDecoder::DecodeValuesPrecise(size_t values_pos,
                                                                  const uint8_t* heap,
                                                                  uint32_t heap_size) {
  auto& depths = scratch_.depths;
  depths.resize(value_count_);
  const uint8_t* p = base_ + values_pos;
  for (uint32_t i = 0; i < value_count_; ++i, p += kValueEntrySize) {
    auto bits = LoadLe<uint64_t>(p);
    auto size = LoadLe<uint32_t>(p + 8);
    uint8_t kind = p[12];
    depths[i] = 0;
    auto at = static_cast<size_t>(p - base_);
    if (p[13] != 0 || p[14] != 0 || p[15] != 0) [[unlikely]] {
      return Defect(at, fmt::format("value {}: reserved bytes are not 0", i));
    }
    if (kind == static_cast<uint8_t>(ValueKind::kString)) [[likely]] {
      if (bits > heap_size || size > heap_size - bits) [[unlikely]] {
        return Defect(at, fmt::format("value {}: string of {} bytes at heap offset {} exceeds the "
                                      "heap of {} bytes",
                                      i, size, bits, heap_size));
      }
      values_[i] = Value::String({reinterpret_cast<const char*>(heap + bits), size});
      continue;
    }
    if (kind != static_cast<uint8_t>(ValueKind::kArray) && size != 0) [[unlikely]] {
      if (kind <= kMaxValueKind) {
        return Defect(at, fmt::format("value {}: {} value has size {}, expected 0", i,
                                      KindName(kind), size));
      }
    }
    switch (static_cast<ValueKind>(kind)) {
      case ValueKind::kNull:
        if (bits != 0) return Defect(at, fmt::format("value {}: null value has bits {}", i, bits));
        values_[i] = Value::Null();
        continue;
      case ValueKind::kBool:
        if (bits > 1) return Defect(at, fmt::format("value {}: bool value {} is not 0 or 1", i, bits));
        values_[i] = Value::Bool(bits == 1);
        continue;
      case ValueKind::kI64:
        values_[i] = Value::I64(static_cast<int64_t>(bits));
        continue;
      case ValueKind::kU64:
        values_[i] = Value::U64(bits);
        continue;
      case ValueKind::kF64: {
        double d;
        std::memcpy(&d, &bits, sizeof(d));
        values_[i] = Value::F64(d);
        continue;
      }
      case ValueKind::kTimestamp:
        values_[i] = Value::Timestamp(static_cast<int64_t>(bits));
        continue;
      case ValueKind::kIp:
        if (bits > heap_size || heap_size - bits < sizeof(IpAddress)) {
          return Defect(at, fmt::format("value {}: ip at heap offset {} exceeds the heap of {} bytes",
                                        i, bits, heap_size));
        }
        // IpAddress has alignment 1: the value points into the heap.
        values_[i] = Value::Ip(reinterpret_cast<const IpAddress*>(heap + bits));
        continue;
      case ValueKind::kArray: {
        // Elements come before their array, so arrays cannot form cycles.
        if (bits > i || size > i - bits) {
          return Defect(at, fmt::format("value {}: array elements [{}, {}) do not all come before it",
                                        i, bits, bits + size));
        }
        uint8_t depth = 0;
        for (auto e = static_cast<uint32_t>(bits); e < bits + size; ++e) {
          depth = std::max(depth, depths[e]);
        }
        if (depth + 1 > kMaxArrayDepth) {
          return Defect(at, fmt::format("value {}: arrays nested deeper than {} levels", i,
                                        kMaxArrayDepth));
        }
        depths[i] = static_cast<uint8_t>(depth + 1);
        values_[i] = Value::Array({values_ + bits, size});
        continue;
      }
      case ValueKind::kString:
        break;  // above
    }
    return Defect(at, fmt::format("value {}: unknown value kind {}", i, kind));
  }
  return {};
}

template <class Index>
tl::expected<void, BlockDefect> BlockDecoder::DecodeRecords(size_t pos) {
  // Every record takes at least its header.
  if (count_ > Left(pos) / kRecordHeaderSize) {
    return Defect(BlockDefect::kWholeBlock, fmt::format("{} records exceed the {} bytes left in the block", count_,
                                 Left(pos)));
  }
  std::vector<Event>& events = batch_.events();
  events.reserve(events.size() + count_);
  const uint8_t* p = base_ + pos;
  const uint8_t* end = base_ + size_;
  const EventTypeId* types = t_.types;
  const size_t num_types = t_.num_types;
  for (uint32_t r = 0; r < count_; ++r) {
    const uint8_t* record = p;
    if (end - p < static_cast<ptrdiff_t>(kRecordHeaderSize)) [[unlikely]] {
      return Defect(static_cast<size_t>(record - base_), fmt::format("record {}: truncated", r));
    }
    auto type = LoadLe<uint16_t>(p);
    auto shape_id = LoadLe<uint16_t>(p + 2);
    if (type >= num_types || shape_id >= shape_count_) [[unlikely]] {
      return Defect(static_cast<size_t>(record - base_),
                    type >= num_types
                        ? fmt::format("record {}: event type id {} not defined", r, type)
                        : fmt::format("record {}: shape {} not defined", r, shape_id));
    }
    EventHeader header;
    header.type = types[type];
    header.ts_mono_ns = LoadLe<uint64_t>(p + 4);
    header.ts_wall_ns = LoadLe<uint64_t>(p + 12);
    header.event_id = LoadLe<uint64_t>(p + 20);
    header.entity_key = LoadLe<uint64_t>(p + 28);
    p += kRecordHeaderSize;
    const FieldShape& shape = shapes_[shape_id];
    size_t n = shape.num_fields;
    if (static_cast<size_t>(end - p) < n * sizeof(Index)) [[unlikely]] {
      return Defect(static_cast<size_t>(record - base_),
                    fmt::format("record {}: {} value indices exceed the {} bytes left in the block",
                                r, n, end - p));
    }
    uint32_t max_index = 0;
    for (size_t k = 0; k < n; ++k) {
      Index index;
      std::memcpy(&index, p + k * sizeof(Index), sizeof(Index));
      max_index = std::max<uint32_t>(max_index, index);
    }
    if (n > 0 && max_index >= value_count_) [[unlikely]] {
      return Defect(static_cast<size_t>(record - base_),
                    fmt::format("record {}: value index {} not defined", r, max_index));
    }
    events.emplace_back(header, &shape, p, values_);
    p += n * sizeof(Index);
  }
  if (p != end) {
    return Defect(BlockDefect::kWholeBlock, fmt::format("events block has {} bytes after its {} records", end - p, count_));
  }
  return {};
}

}  // namespace

tl::expected<void, BlockDefect> DecodeEventsBlock(const RemapTables& tables,
                                                  const SchemaRegistry& registry,
                                                  std::span<const uint8_t> payload, uint32_t count,
                                                  EventBatch& batch, BlockScratch& scratch) {
  static_assert(std::endian::native == std::endian::little,
                "record value indices are read in place as little-endian");
  return BlockDecoder(tables, registry, payload, count, batch, scratch).Decode();
}

}  // namespace kestrel::klog
