// .klog record decoders (docs/klog-format.md): FastRecord for every record, DecodeRecord for the
// exact message when FastRecord rejects one. Every length comes from the file, so each is checked
// against the bytes that remain before it is used.
#include "event/klog_record.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace kestrel::klog {
namespace {

Value EightByteValue(ValueKind kind, uint64_t bits) {
  switch (kind) {
    case ValueKind::kI64:
      return Value::I64(static_cast<int64_t>(bits));
    case ValueKind::kTimestamp:
      return Value::Timestamp(static_cast<int64_t>(bits));
    case ValueKind::kF64: {
      double d;
      std::memcpy(&d, &bits, sizeof(d));
      return Value::F64(d);
    }
    default:
      return Value::U64(bits);
  }
}

// ---- The fast record decoder ---------------------------------------------------------------
//
// FastRecord decodes one record with plain code that returns nullptr on any defect: no Result,
// no message, no allocation but the arena's. It makes exactly the checks of the precise decoder
// (DecodeRecord): every length against the bytes left, ids against the remap tables, kinds,
// bools, nesting depth, record size, duplicate fields; where one check covers another's bytes,
// it makes one. When it fails, the reader re-runs the precise decoder on the same
// record for the error, so errors and their offsets are those of the precise decoder. Debug
// builds also re-run it after every success and compare (a differential check that the
// corruption tests drive).

// A field whose value is a string starts with u32 file_field_id, u8 kind and u32 len.
inline constexpr ptrdiff_t kStringFieldHead = kMinFieldSize + 4;

const uint8_t* FastArray(const uint8_t* p, const uint8_t* end, Arena& arena, int depth, Value& out);
const uint8_t* FastNestedArray(const uint8_t* p, const uint8_t* end, Arena& arena, int depth,
                               Value& out);

// Decodes into `out` the payload at `p`, within [p, end), of a value whose kind byte `kind` came
// just before. Returns the end of the value, or nullptr if it is not valid. `depth` is the
// nesting of the value (0 for a field's own value). A field's array is decoded inline, an array
// inside an array out of line.
template <bool kField>
[[gnu::always_inline]] inline const uint8_t* FastValue(uint8_t kind, const uint8_t* p,
                                                       const uint8_t* end, Arena& arena, int depth,
                                                       Value& out) {
  size_t left = static_cast<size_t>(end - p);
  if (kind == static_cast<uint8_t>(ValueKind::kString)) [[likely]] {  // most values are strings
    if (left < 4) return nullptr;
    uint32_t len = LoadLe<uint32_t>(p);
    if (len > left - 4) return nullptr;
    out = Value::String({reinterpret_cast<const char*>(p + 4), len});
    return p + 4 + len;
  }
  switch (static_cast<ValueKind>(kind)) {
    case ValueKind::kString:
      break;  // above
    case ValueKind::kI64:
      if (left < 8) return nullptr;
      out = Value::I64(static_cast<int64_t>(LoadLe<uint64_t>(p)));
      return p + 8;
    case ValueKind::kU64:
      if (left < 8) return nullptr;
      out = Value::U64(LoadLe<uint64_t>(p));
      return p + 8;
    case ValueKind::kF64:
      if (left < 8) return nullptr;
      out = EightByteValue(ValueKind::kF64, LoadLe<uint64_t>(p));
      return p + 8;
    case ValueKind::kTimestamp:
      if (left < 8) return nullptr;
      out = Value::Timestamp(static_cast<int64_t>(LoadLe<uint64_t>(p)));
      return p + 8;
    case ValueKind::kIp:
      if (left < sizeof(IpAddress)) return nullptr;
      out = Value::Ip(reinterpret_cast<const IpAddress*>(p));
      return p + sizeof(IpAddress);
    case ValueKind::kBool:
      if (left < 1 || *p > 1) return nullptr;
      out = Value::Bool(*p == 1);
      return p + 1;
    case ValueKind::kNull:
      out = Value::Null();
      return p;
    case ValueKind::kArray:
      if constexpr (kField) return FastArray(p, end, arena, depth, out);
      return FastNestedArray(p, end, arena, depth, out);
  }
  return nullptr;  // an unknown kind
}

// The payload of an array value at nesting `depth`.
[[gnu::always_inline]] inline const uint8_t* FastArray(const uint8_t* p, const uint8_t* end,
                                                       Arena& arena, int depth, Value& out) {
  if (depth >= kMaxArrayDepth || end - p < 4) return nullptr;
  uint32_t n = LoadLe<uint32_t>(p);
  p += 4;
  if (n > static_cast<size_t>(end - p)) return nullptr;  // every element takes its kind byte
  Value* elements = n == 0 ? nullptr : arena.AllocateArray<Value>(n);
  for (uint32_t k = 0; k < n; ++k) {
    if (p == end) return nullptr;
    uint8_t kind = *p;
    p = FastValue<false>(kind, p + 1, end, arena, depth + 1, elements[k]);
    if (p == nullptr) return nullptr;
  }
  out = Value::Array({elements, n});
  return p;
}

[[gnu::noinline]] const uint8_t* FastNestedArray(const uint8_t* p, const uint8_t* end, Arena& arena,
                                                 int depth, Value& out) {
  return FastArray(p, end, arena, depth, out);
}

}  // namespace

// Decodes into `out` the record at `p` (its u32 record_size first), within [p, end). Returns the
// end of the record, or nullptr if it is not valid. Out of line, so that its loop has the
// registers to itself.
[[gnu::noinline]] const uint8_t* FastRecord(const RemapTables& t, const uint8_t* p,
                                            const uint8_t* end, Arena& arena, Event& out) {
  if (end - p < 4) return nullptr;
  uint32_t record_size = LoadLe<uint32_t>(p);
  const uint8_t* r = p + 4;
  if (record_size > static_cast<size_t>(end - r) || record_size < kRecordHeaderSize) {
    return nullptr;
  }
  const uint8_t* record_end = r + record_size;
  uint16_t type = LoadLe<uint16_t>(r);
  uint16_t field_count = LoadLe<uint16_t>(r + 2);
  if (type >= t.num_types) return nullptr;
  EventHeader header;
  header.type = t.types[type];
  header.ts_mono_ns = LoadLe<uint64_t>(r + 4);
  header.ts_wall_ns = LoadLe<uint64_t>(r + 12);
  header.event_id = LoadLe<uint64_t>(r + 20);
  header.entity_key = LoadLe<uint64_t>(r + 28);
  r += kRecordHeaderSize;
  if (size_t{field_count} * kMinFieldSize > static_cast<size_t>(record_end - r)) {
    return nullptr;
  }
  Field* fields = field_count == 0 ? nullptr : arena.AllocateArray<Field>(field_count);
  const FieldId* remap = t.fields;
  size_t num_fields = t.num_fields;
  int64_t previous = -1;  // the previous field's registry id
  bool sorted = true;
  for (Field* f = fields; f != fields + field_count; ++f) {
    ptrdiff_t left = record_end - r;
    if (left < static_cast<ptrdiff_t>(kMinFieldSize)) return nullptr;
    uint32_t file_id = LoadLe<uint32_t>(r);
    uint8_t kind = r[4];
    if (file_id >= num_fields) return nullptr;
    FieldId id = remap[file_id];
    f->id = id;
    if (kind == static_cast<uint8_t>(ValueKind::kString) && left >= kStringFieldHead) [[likely]] {
      // One check covers the field's id, kind and string length.
      uint32_t len = LoadLe<uint32_t>(r + kMinFieldSize);
      if (len > static_cast<size_t>(left - kStringFieldHead)) return nullptr;
      f->value = Value::String({reinterpret_cast<const char*>(r + kStringFieldHead), len});
      r += kStringFieldHead + len;
    } else {
      r = FastValue<true>(kind, r + kMinFieldSize, record_end, arena, 0, f->value);
      if (r == nullptr) return nullptr;
    }
    sorted &= int64_t{id.value} > previous;
    previous = id.value;
  }
  if (r != record_end) return nullptr;
  if (!sorted) {
    // File ids follow first use, so another registry's ids may come out of order.
    std::sort(fields, fields + field_count,
              [](const Field& a, const Field& b) { return a.id < b.id; });
    for (uint32_t k = 1; k < field_count; ++k) {
      if (fields[k - 1].id == fields[k].id) return nullptr;
    }
  }
  out = Event(header, {fields, field_count});
  return record_end;
}

// ---- The precise record decoder ------------------------------------------------------------
//
// DecodeRecord and DecodeValue read through a Cursor and return the exact error. They are never
// on the fast path: the reader runs them on a record FastRecord rejects, and after every record
// in debug builds.

namespace {

// The value (kind byte first) at `c`, at nesting `depth` (0 for a field's own value).
Result<Value> DecodeValue(Cursor& c, Arena& arena, int depth) {
  uint8_t kind = 0;
  if (!c.Read(kind)) return Corrupt("truncated value");
  switch (static_cast<ValueKind>(kind)) {
    case ValueKind::kNull:
      return Value::Null();
    case ValueKind::kBool: {
      uint8_t b = 0;
      if (!c.Read(b)) return Corrupt("truncated bool value");
      if (b > 1) return Corrupt(fmt::format("bool value {} is not 0 or 1", b));
      return Value::Bool(b == 1);
    }
    case ValueKind::kI64:
    case ValueKind::kU64:
    case ValueKind::kF64:
    case ValueKind::kTimestamp: {
      uint64_t bits = 0;
      if (!c.Read(bits)) return Corrupt("truncated 8-byte value");
      return EightByteValue(static_cast<ValueKind>(kind), bits);
    }
    case ValueKind::kString: {
      uint32_t len = 0;
      const uint8_t* bytes = nullptr;
      if (!c.Read(len)) return Corrupt("truncated string length");
      if (!c.Take(len, bytes)) {
        return Corrupt(fmt::format("string of {} bytes exceeds the {} bytes left in the record",
                                   len, c.remaining()));
      }
      return Value::String({reinterpret_cast<const char*>(bytes), len});
    }
    case ValueKind::kIp: {
      const uint8_t* bytes = nullptr;
      if (!c.Take(sizeof(IpAddress), bytes)) return Corrupt("truncated ip value");
      // IpAddress has alignment 1: the value points into the block.
      return Value::Ip(reinterpret_cast<const IpAddress*>(bytes));
    }
    case ValueKind::kArray: {
      if (depth >= kMaxArrayDepth) {
        return Corrupt(fmt::format("arrays nested deeper than {} levels", kMaxArrayDepth));
      }
      uint32_t n = 0;
      if (!c.Read(n)) return Corrupt("truncated array length");
      if (n > c.remaining()) {  // every element takes at least its kind byte
        return Corrupt(fmt::format("array of {} elements exceeds the {} bytes left in the record",
                                   n, c.remaining()));
      }
      Value* elements = n == 0 ? nullptr : arena.AllocateArray<Value>(n);
      for (uint32_t k = 0; k < n; ++k) {
        KESTREL_ASSIGN_OR_RETURN(elements[k], DecodeValue(c, arena, depth + 1));
      }
      return Value::Array({elements, n});
    }
  }
  return Corrupt(fmt::format("unknown value kind {}", kind));
}

}  // namespace

Result<Event> DecodeRecord(const RemapTables& t, const SchemaRegistry& registry, Cursor& c,
                           Arena& arena) {
  uint32_t record_size = 0;
  const uint8_t* record = nullptr;
  if (!c.Read(record_size)) return Corrupt("truncated record size");
  if (!c.Take(record_size, record)) {
    return Corrupt(fmt::format("record_size {} exceeds the {} bytes left in the block", record_size,
                               c.remaining()));
  }
  if (record_size < kRecordHeaderSize) {
    return Corrupt(fmt::format("record_size {} is smaller than the {}-byte record header",
                               record_size, kRecordHeaderSize));
  }
  Cursor r(std::span<const uint8_t>(record, record_size));
  uint16_t type = 0;
  uint16_t field_count = 0;
  EventHeader header;
  // Cannot fail: the record holds at least the fixed header.
  r.Read(type);
  r.Read(field_count);
  r.Read(header.ts_mono_ns);
  r.Read(header.ts_wall_ns);
  r.Read(header.event_id);
  r.Read(header.entity_key);
  if (type >= t.num_types) return Corrupt(fmt::format("event type id {} not defined", type));
  header.type = t.types[type];
  if (field_count > r.remaining() / kMinFieldSize) {
    return Corrupt(fmt::format("{} fields do not fit in the {} bytes left in the record",
                               field_count, r.remaining()));
  }
  Field* fields = field_count == 0 ? nullptr : arena.AllocateArray<Field>(field_count);
  bool sorted = true;
  for (uint32_t k = 0; k < field_count; ++k) {
    uint32_t file_id = 0;
    if (!r.Read(file_id)) return Corrupt("truncated field");
    if (file_id >= t.num_fields) {
      return Corrupt(fmt::format("field id {} not defined", file_id));
    }
    fields[k].id = t.fields[file_id];
    KESTREL_ASSIGN_OR_RETURN(fields[k].value, DecodeValue(r, arena, 0));
    if (k > 0 && !(fields[k - 1].id < fields[k].id)) sorted = false;
  }
  if (r.remaining() != 0) {
    return Corrupt(fmt::format("record_size {} leaves {} bytes after the last field", record_size,
                               r.remaining()));
  }
  if (!sorted) {
    // File ids follow first use, so another registry's ids may come out of order.
    std::sort(fields, fields + field_count,
              [](const Field& a, const Field& b) { return a.id < b.id; });
    for (uint32_t k = 1; k < field_count; ++k) {
      if (fields[k - 1].id == fields[k].id) {
        return Corrupt(fmt::format("field '{}' appears twice", registry.name(fields[k].id)));
      }
    }
  }
  return Event(header, {fields, field_count});
}

}  // namespace kestrel::klog
