// EventBatch: a run of events and the arena that owns their fields. Readers fill a batch;
// clearing it recycles the arena's memory.
#pragma once

#include <vector>

#include "common/arena.h"
#include "event/event.h"

namespace kestrel {

class EventBatch {
 public:
  EventBatch() = default;
  EventBatch(EventBatch&&) noexcept = default;
  EventBatch& operator=(EventBatch&&) noexcept = default;

  Arena& arena() { return arena_; }
  void Add(const Event& event) { events_.push_back(event); }
  void Clear() {
    events_.clear();
    arena_.Reset();
  }

  size_t size() const { return events_.size(); }
  bool empty() const { return events_.empty(); }
  const Event& operator[](size_t i) const { return events_[i]; }
  std::vector<Event>::const_iterator begin() const { return events_.begin(); }
  std::vector<Event>::const_iterator end() const { return events_.end(); }
  std::vector<Event>& events() { return events_; }

 private:
  Arena arena_{size_t{256} * 1024};
  std::vector<Event> events_;
};

}  // namespace kestrel
