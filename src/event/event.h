// Event: one normalized event. A view over memory owned by an EventBatch (or another arena
// owner); copying an Event copies the view, not the fields.
//
// Ordering contract: events are totally ordered by (ts_mono_ns, event_id); see docs/events.md.
#pragma once

#include <cstdint>
#include <span>

#include "event/value.h"
#include "schema/schema_registry.h"

namespace kestrel {

struct Field {
  FieldId id;
  Value value;
};

struct EventHeader {
  EventTypeId type = kUnknownEventType;
  uint64_t ts_mono_ns = 0;  // monotonic clock of the source; for recordings, equal to ts_wall_ns
  uint64_t ts_wall_ns = 0;  // ns since the Unix epoch (from @timestamp)
  uint64_t event_id = 0;    // unique within a stream; breaks ties in ts_mono_ns
  uint64_t entity_key = 0;  // hash of the process identity, for partitioning and joins

  friend bool operator==(const EventHeader&, const EventHeader&) = default;
};

class Event {
 public:
  Event() = default;
  Event(const EventHeader& header, std::span<const Field> fields)
      : header_(header), fields_(fields.data()), num_fields_(static_cast<uint32_t>(fields.size())) {}

  const EventHeader& header() const { return header_; }
  EventTypeId type() const { return header_.type; }
  uint64_t ts_mono_ns() const { return header_.ts_mono_ns; }
  uint64_t ts_wall_ns() const { return header_.ts_wall_ns; }
  uint64_t event_id() const { return header_.event_id; }
  uint64_t entity_key() const { return header_.entity_key; }

  // Fields sorted by id, each id at most once.
  std::span<const Field> fields() const { return {fields_, num_fields_}; }

  // The field's value, or nullptr when the event does not have it.
  const Value* Find(FieldId id) const {
    const Field* lo = fields_;
    uint32_t n = num_fields_;
    while (n > 0) {  // branch-light binary search
      uint32_t half = n / 2;
      if (lo[half].id < id) {
        lo += half + 1;
        n -= half + 1;
      } else {
        n = half;
      }
    }
    return (lo != fields_ + num_fields_ && lo->id == id) ? &lo->value : nullptr;
  }

  // Deep equality of header and fields.
  friend bool operator==(const Event& a, const Event& b);

 private:
  EventHeader header_;
  const Field* fields_ = nullptr;
  uint32_t num_fields_ = 0;
};

// The ordering contract: (ts_mono_ns, event_id).
inline bool OrderedBefore(const Event& a, const Event& b) {
  if (a.ts_mono_ns() != b.ts_mono_ns()) return a.ts_mono_ns() < b.ts_mono_ns();
  return a.event_id() < b.event_id();
}

}  // namespace kestrel
