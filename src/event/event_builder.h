// EventBuilder: assembles one Event in an arena. Fields may be added in any order; Finish()
// sorts them by id. Adding a field twice keeps the last value, except that array parts (from
// JSON arrays, including arrays of objects) of one field are concatenated in order.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/arena.h"
#include "event/event.h"

namespace kestrel {

class EventBuilder {
 public:
  explicit EventBuilder(Arena* arena) : arena_(arena) {}

  // Starts a new event; the previous one (if finished) stays valid in the arena.
  void Start() {
    header_ = EventHeader{};
    num_pending_ = 0;
  }
  void set_arena(Arena* arena) { arena_ = arena; }
  Arena& arena() { return *arena_; }

  EventHeader& header() { return header_; }

  // Value factories that copy the referenced bytes into the arena.
  Value StringValue(std::string_view s) { return Value::String(arena_->CopyString(s)); }
  Value IpValue(const IpAddress& ip);
  // Deep copy of a value whose bytes live elsewhere.
  Value CopyValue(const Value& v);

  // Sets a scalar field (or a whole array value). The value's bytes must outlive the event.
  void Set(FieldId id, Value v) { Add(id, Part::kScalar, v); }
  // Appends one element to the field's array value.
  void Append(FieldId id, Value element) { Add(id, Part::kElement, element); }
  // Marks the field as an array even if no element is appended (an empty JSON array).
  void MarkArray(FieldId id) { Add(id, Part::kArrayMarker, Value()); }

  size_t pending_size() const { return num_pending_; }

  // Builds the event in the arena.
  Event Finish();

  // A deep copy of `event` in this builder's arena, independent of the memory it came from
  // (a reader's buffers, another batch).
  Event Copy(const Event& event);

 private:
  enum class Part : uint8_t { kScalar, kElement, kArrayMarker };
  struct Pending {
    FieldId id;
    Part part{};
    Value value;
  };
  void Add(FieldId id, Part part, Value v) {
    // Member by member into a slot that is already there: small enough to inline, and no
    // Pending built on the stack and copied (its wide loads waited on the narrow stores).
    if (num_pending_ == pending_.size()) Grow();
    Pending& p = pending_[num_pending_++];
    p.id = id;
    p.part = part;
    p.value = v;
  }

  // Finish's plan for one shape: the (id, part) sequence of the pending entries. Events from
  // one producer cycle through a few shapes (process, file, network, ...), so the last few
  // plans are kept and a repeated shape skips the sort.
  struct Group {
    FieldId id;
    uint32_t begin = 0, end = 0;  // its range in Shape::order
    uint32_t elements = 0;        // array elements (parts that are not array markers)
    bool is_array = false;
  };
  struct Shape {
    std::vector<uint64_t> parts;  // id << 8 | part of each pending entry, in the order added
    std::vector<uint32_t> order;  // pending indexes sorted by (id, order added)
    std::vector<Group> groups;    // one per distinct id, by id
  };
  static constexpr size_t kShapes = 8;
  static uint64_t ShapeKey(const Pending& p) { return uint64_t{p.id.value} << 8 | static_cast<uint8_t>(p.part); }
  const Shape& ShapeOfPending();
  void Grow();
  void Plan(Shape& shape);

  Arena* arena_;
  EventHeader header_;
  std::vector<Pending> pending_;  // [0, num_pending_) are this event's; the rest are spare slots
  size_t num_pending_ = 0;
  Shape shapes_[kShapes];
  size_t last_shape_ = 0;  // the most recent hit, tried first
  size_t next_shape_ = 0;  // the slot a new shape replaces (round robin)
  std::vector<uint64_t> sort_keys_;  // Plan: (id, order added)
};

}  // namespace kestrel
