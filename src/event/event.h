// Event: one normalized event. A view over memory owned by an EventBatch (or another arena
// owner); copying an Event copies the view, not the fields.
//
// An event holds its fields in one of two forms, the same to every reader of an Event:
// - built (EventBuilder, the NDJSON reader): an array of Fields sorted by id;
// - a .klog record: the record's value indices, its block's value table and a FieldShape that
//   says which field sits in which slot. Nothing is decoded per event: Find costs two loads.
//
// Ordering contract: events are totally ordered by (ts_mono_ns, event_id); see docs/events.md.
#pragma once

#include <cstdint>
#include <cstring>
#include <iterator>
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

// The field layout shared by the records of one .klog block that have the same fields.
// A record stores one value index per slot (2 or 4 bytes, little-endian).
struct FieldShape {
  uint32_t num_fields = 0;
  uint32_t lookup_size = 0;         // the size of `lookup`
  uint32_t index_bytes = 4;         // 2 or 4
  const FieldId* ids = nullptr;     // the fields' registry ids, ascending
  const uint16_t* slots = nullptr;  // slots[k]: the record slot of ids[k]
  // lookup[registry id]: 1 + its slot, or 0 when absent. Null when the table would be large
  // for the shape (sparse ids): then Find searches `ids`.
  const uint16_t* lookup = nullptr;

  // The slot of `id`, or -1 when the shape does not have it.
  int32_t SlotOf(FieldId id) const {
    if (lookup != nullptr) return id.value < lookup_size ? int32_t{lookup[id.value]} - 1 : -1;
    return SearchSlot(id);
  }
  int32_t SearchSlot(FieldId id) const;
};

class Event;

// The fields of an event in ascending id order, each id once. Yields Fields by value.
class FieldList {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Field;
    iterator(const FieldList* list, uint32_t k) : list_(list), k_(k) {}
    Field operator*() const { return (*list_)[k_]; }
    iterator& operator++() {
      ++k_;
      return *this;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.k_ == b.k_; }

   private:
    const FieldList* list_;
    uint32_t k_;
  };

  size_t size() const { return num_fields_; }
  bool empty() const { return num_fields_ == 0; }
  inline Field operator[](size_t k) const;
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, num_fields_}; }

 private:
  friend class Event;
  FieldList(const Event& event);
  const void* data_;
  const FieldShape* shape_;
  const Value* values_;
  uint32_t num_fields_;
};

class Event {
 public:
  Event() = default;
  // A built event: `fields` sorted by id, each id at most once.
  Event(const EventHeader& header, std::span<const Field> fields)
      : header_(header), data_(fields.data()), num_fields_(static_cast<uint32_t>(fields.size())) {}
  // A .klog record: `indices` holds shape->num_fields value indices into `values`, each checked
  // by the reader to be in range.
  Event(const EventHeader& header, const FieldShape* shape, const uint8_t* indices, const Value* values)
      : header_(header), data_(indices), shape_(shape), values_(values), num_fields_(shape->num_fields) {}

  const EventHeader& header() const { return header_; }
  EventTypeId type() const { return header_.type; }
  uint64_t ts_mono_ns() const { return header_.ts_mono_ns; }
  uint64_t ts_wall_ns() const { return header_.ts_wall_ns; }
  uint64_t event_id() const { return header_.event_id; }
  uint64_t entity_key() const { return header_.entity_key; }

  FieldList fields() const { return {*this}; }

  // The field's value, or nullptr when the event does not have it.
  const Value* Find(FieldId id) const {
    if (shape_ != nullptr) {
      int32_t slot = shape_->SlotOf(id);
      return slot < 0 ? nullptr : &values_[RecordIndex(shape_, data_, static_cast<uint32_t>(slot))];
    }
    const auto* fields = static_cast<const Field*>(data_);
    const Field* lo = fields;
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
    return (lo != fields + num_fields_ && lo->id == id) ? &lo->value : nullptr;
  }

  // Deep equality of header and fields (whatever their form).
  friend bool operator==(const Event& a, const Event& b);

  // The value index in slot `slot` of a record's index array.
  static uint32_t RecordIndex(const FieldShape* shape, const void* indices, uint32_t slot) {
    const auto* p = static_cast<const uint8_t*>(indices);
    if (shape->index_bytes == 2) {
      uint16_t v;
      std::memcpy(&v, p + 2 * size_t{slot}, 2);
      return v;
    }
    uint32_t v;
    std::memcpy(&v, p + 4 * size_t{slot}, 4);
    return v;
  }

 private:
  friend class FieldList;
  EventHeader header_;
  const void* data_ = nullptr;          // Field[] (built) or the record's value indices
  const FieldShape* shape_ = nullptr;   // null for a built event
  const Value* values_ = nullptr;       // the block's value table (record form)
  uint32_t num_fields_ = 0;
};

inline FieldList::FieldList(const Event& event)
    : data_(event.data_), shape_(event.shape_), values_(event.values_), num_fields_(event.num_fields_) {}

inline Field FieldList::operator[](size_t k) const {
  if (shape_ == nullptr) return static_cast<const Field*>(data_)[k];
  return Field{shape_->ids[k], values_[Event::RecordIndex(shape_, data_, shape_->slots[k])]};
}

// The ordering contract: (ts_mono_ns, event_id).
inline bool OrderedBefore(const Event& a, const Event& b) {
  if (a.ts_mono_ns() != b.ts_mono_ns()) return a.ts_mono_ns() < b.ts_mono_ns();
  return a.event_id() < b.event_id();
}

}  // namespace kestrel
