// SpscRing<T>: a fixed-capacity, lock-free queue for exactly one producer thread and one consumer
// thread. It is the storage under each EventBus partition and knows nothing about waiting:
// TryPush and TryPop never block, the bus decides when to spin and when to sleep.
#pragma once

#include <atomic>
#include <bit>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace kestrel::bus {

// 64 bytes on x86-64 and most arm64 parts. A constant rather than
// std::hardware_destructive_interference_size, whose value g++ warns may change between
// compiler versions (an ABI hazard in a header).
inline constexpr size_t kCacheLineSize = 64;

// The largest capacity a ring accepts (after rounding): 2^30 slots.
inline constexpr size_t kMaxRingCapacity = size_t{1} << 30;

// One iteration of a spin-wait: tells the CPU we are spinning so that it does not starve the
// sibling hyper-thread and does not mispredict the loop exit.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

template <class T>
class SpscRing {
  static_assert(std::is_nothrow_move_constructible_v<T>, "items move in and out of the ring");
  static_assert(std::is_nothrow_destructible_v<T>);

 public:
  // Capacity is `min_capacity` rounded up to a power of two (at least 1), so that a slot index is
  // a mask, not a division. All slots are allocated here, none per item.
  explicit SpscRing(size_t min_capacity)
      : mask_(std::bit_ceil(min_capacity == 0 ? size_t{1} : min_capacity) - 1),
        slots_(std::make_unique<Slot[]>(mask_ + 1)) {
    assert(min_capacity <= kMaxRingCapacity && "SpscRing capacity above kMaxRingCapacity");
  }

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // Destroys the items still queued. No thread may be using the ring any more.
  ~SpscRing() {
    size_t head = head_.load(std::memory_order_relaxed);
    const size_t tail = tail_.load(std::memory_order_relaxed);
    for (; head != tail; ++head) slot(head)->~T();
  }

  // Producer only. Moves `item` in and returns true, or returns false when the ring is full and
  // leaves `item` untouched (so a caller can retry with the same item).
  bool TryPush(T&& item) { return TryEmplace(std::move(item)); }
  bool TryPush(const T& item) requires std::copy_constructible<T> { return TryEmplace(item); }

  template <class... Args>
  bool TryEmplace(Args&&... args) {
    const size_t tail = tail_.load(std::memory_order_relaxed);  // only we write it
    if (tail - head_cache_ > mask_) {
      // Looks full from our last view of head_; refresh it. The acquire pairs with the
      // consumer's release store of head_, so the slot it vacated is really free.
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    ::new (static_cast<void*>(slot(tail))) T(std::forward<Args>(args)...);
    tail_.store(tail + 1, std::memory_order_release);  // publishes the constructed item
    return true;
  }

  // Consumer only. Moves the oldest item into `out` and returns true, or returns false when the
  // ring is empty.
  bool TryPop(T& out) {
    const size_t head = head_.load(std::memory_order_relaxed);  // only we write it
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);  // pairs with TryEmplace's release
      if (head == tail_cache_) return false;
    }
    T* item = slot(head);
    out = std::move(*item);
    item->~T();
    head_.store(head + 1, std::memory_order_release);  // hands the slot back to the producer
    return true;
  }

  // Consumer side: true when nothing is queued. Exact for the consumer (nothing can disappear
  // behind its back); another thread sees a moment's view.
  bool empty() const {
    return head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_acquire);
  }

  // Producer side: true when a push would fail. Exact for the producer.
  bool full() const {
    return tail_.load(std::memory_order_relaxed) - head_.load(std::memory_order_acquire) > mask_;
  }

  // Items queued, approximate when called while both sides run: the two indices are read one
  // after the other. Reading head_ first keeps the difference from going negative; the clamp
  // covers a tail_ that ran ahead of the stale head_.
  size_t size() const {
    const size_t head = head_.load(std::memory_order_acquire);
    const size_t tail = tail_.load(std::memory_order_acquire);
    const size_t n = tail - head;
    return n > capacity() ? capacity() : n;
  }

  size_t capacity() const { return mask_ + 1; }

 private:
  // Raw storage: T need not be default-constructible, and an empty slot holds no object.
  struct Slot {
    alignas(T) std::byte bytes[sizeof(T)];
  };

  T* slot(size_t index) { return std::launder(reinterpret_cast<T*>(slots_[index & mask_].bytes)); }

  // Read-only after construction, shared by both threads.
  const size_t mask_;
  const std::unique_ptr<Slot[]> slots_;

  // The indices only grow (a 64-bit counter does not wrap in practice); the slot is index & mask_.
  // Each side's index and its cached copy of the other side's index share one cache line that
  // only that side writes, so the steady state moves no line between the cores except to
  // refresh a cache when the queue looks full or empty.
  alignas(kCacheLineSize) std::atomic<size_t> tail_{0};  // written by the producer
  size_t head_cache_ = 0;                                // producer's last view of head_
  alignas(kCacheLineSize) std::atomic<size_t> head_{0};  // written by the consumer
  size_t tail_cache_ = 0;                                // consumer's last view of tail_
  // No trailing padding needed: alignas makes sizeof(SpscRing) a multiple of the line size, so
  // whatever follows the ring starts on a fresh line.
};

}  // namespace kestrel::bus
