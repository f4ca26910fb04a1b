// StoredEvent: a reference-counted copy of one event in a single allocation, for state that
// outlives the batch an event came in (the pending partial matches of sequence rules). Copies
// share nothing with the source; the count is not atomic (one owner thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "event/event.h"

namespace kestrel {

class StoredEvent {
 public:
  // A copy of `event` with a count of 1.
  static StoredEvent* Create(const Event& event);

  void Ref() { ++refs_; }
  // Frees the copy when the last reference goes.
  void Unref();

  const Event& event() const { return event_; }
  // Bytes held, for memory accounting.
  size_t bytes() const { return bytes_; }

 private:
  StoredEvent() = default;
  Event event_;
  size_t bytes_ = 0;
  uint32_t refs_ = 1;
};

// The copy of the event being processed, made on first request and shared by everything that
// keeps it (every sequence rule of a worker), then released once the event is done.
class SharedEventCopy {
 public:
  SharedEventCopy() = default;
  SharedEventCopy(const SharedEventCopy&) = delete;
  SharedEventCopy& operator=(const SharedEventCopy&) = delete;
  ~SharedEventCopy() { Release(); }

  // The copy of `event` (made now if this is the first request since the last Release).
  StoredEvent* For(const Event& event) {
    if (stored_ == nullptr) stored_ = StoredEvent::Create(event);
    return stored_;
  }
  // Drops this holder's reference: the copy lives on in whatever took a reference.
  void Release() {
    if (stored_ != nullptr) stored_->Unref();
    stored_ = nullptr;
  }

 private:
  StoredEvent* stored_ = nullptr;
};

// An event a partial match holds: either borrowed (the caller keeps it alive, as in hunting,
// where every event stays in memory) or a counted reference to a StoredEvent.
class EventRef {
 public:
  EventRef() = default;
  static EventRef Borrowed(const Event* event) { return {event, nullptr}; }
  static EventRef Stored(StoredEvent* stored) {
    stored->Ref();
    return {&stored->event(), stored};
  }
  EventRef(const EventRef& other) : event_(other.event_), stored_(other.stored_) {
    if (stored_ != nullptr) stored_->Ref();
  }
  EventRef(EventRef&& other) noexcept : event_(other.event_), stored_(other.stored_) {
    other.event_ = nullptr;
    other.stored_ = nullptr;
  }
  EventRef& operator=(EventRef other) noexcept {
    std::swap(event_, other.event_);
    std::swap(stored_, other.stored_);
    return *this;
  }
  ~EventRef() {
    if (stored_ != nullptr) stored_->Unref();
  }

  const Event* get() const { return event_; }
  const Event& operator*() const { return *event_; }
  const Event* operator->() const { return event_; }
  // The bytes this reference keeps alive, when it is the only one.
  size_t stored_bytes() const { return stored_ != nullptr ? stored_->bytes() : 0; }

 private:
  EventRef(const Event* event, StoredEvent* stored) : event_(event), stored_(stored) {}
  const Event* event_ = nullptr;
  StoredEvent* stored_ = nullptr;
};

}  // namespace kestrel
