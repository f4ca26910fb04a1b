// .klog record decoding, internal to the event module: the fast decoder the reader runs on every
// record, and the precise one that says what is wrong with a record the fast one rejects
// (docs/klog-format.md). The reader (klog_reader.cpp) owns the file, its blocks and its schema.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "common/arena.h"
#include "common/result.h"
#include "event/event.h"
#include "event/klog_format.h"
#include "schema/schema_registry.h"

namespace kestrel::klog {

// Bounds-checked little-endian reads over [begin, end).
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  template <class T>
  bool Read(T& out) {
    if (remaining() < sizeof(T)) return false;
    out = LoadLe<T>(p_);
    p_ += sizeof(T);
    return true;
  }

  bool Take(size_t n, const uint8_t*& out) {
    if (remaining() < n) return false;
    out = p_;
    p_ += n;
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

inline tl::unexpected<Error> Corrupt(std::string message) {
  return MakeError(ErrorCode::kCorrupt, std::move(message));
}

// File id -> registry id tables.
struct RemapTables {
  const FieldId* fields;
  size_t num_fields;
  const EventTypeId* types;
  size_t num_types;
};

// The fast decoder. Decodes into `out` the record at `p` (its u32 record_size first), within
// [p, end). Returns the end of the record, or nullptr if it is not valid; it does not say why.
const uint8_t* FastRecord(const RemapTables& t, const uint8_t* p, const uint8_t* end, Arena& arena,
                          Event& out);

// The precise decoder: slower than FastRecord, and says what is wrong with a record. Decodes the
// record at `c` and advances `c` past it. `registry` names a field that appears twice.
Result<Event> DecodeRecord(const RemapTables& t, const SchemaRegistry& registry, Cursor& c,
                           Arena& arena);

}  // namespace kestrel::klog
