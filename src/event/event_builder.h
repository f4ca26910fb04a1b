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
    pending_.clear();
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

  size_t pending_size() const { return pending_.size(); }

  // Builds the event in the arena.
  Event Finish();

  // A deep copy of `event` in this builder's arena, independent of the memory it came from
  // (a reader's buffers, another batch).
  Event Copy(const Event& event);

 private:
  enum class Part : uint8_t { kScalar, kElement, kArrayMarker };
  struct Pending {
    FieldId id;
    Part part;
    uint32_t seq;  // order added
    Value value;
  };
  void Add(FieldId id, Part part, Value v) {
    pending_.push_back({id, part, static_cast<uint32_t>(pending_.size()), v});
  }

  Arena* arena_;
  EventHeader header_;
  std::vector<Pending> pending_;
  std::vector<uint64_t> keys_;      // Finish: (id, seq) sorted
  std::vector<uint32_t> last_ids_;  // Finish: the ids of the event keys_ was sorted for
};

}  // namespace kestrel
