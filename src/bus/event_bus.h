// EventBus<T>: N partitions, each a bounded SpscRing<T> between one producer thread (the
// dispatcher, which picks the partition with PartitionOf) and one consumer thread (a worker).
// A full queue is handled by the configured Backpressure policy; every item that is not
// delivered is counted (docs/bus.md). Waiting spins briefly, then sleeps on a condition
// variable, so an idle or blocked side burns no CPU.
#pragma once

#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "bus/bus_options.h"
#include "bus/spsc_ring.h"

namespace kestrel::bus {

// Threading contract, per partition: Publish from one thread at a time (the producer), Pop /
// TryPop / MarkProcessed from one thread at a time (the consumer). One producer thread may
// serve every partition. metrics() and Close() may be called from any thread.
template <class T>
class EventBus {
 public:
  // `options` must pass ValidateBusOptions (checked by an assertion: invalid options here are a
  // bug in the caller, which should have validated its configuration).
  explicit EventBus(BusOptions options) : options_(options) {
    assert(ValidateBusOptions(options_) && "EventBus options must pass ValidateBusOptions");
    partitions_.reserve(options_.partitions);
    for (size_t i = 0; i < options_.partitions; ++i) {
      partitions_.push_back(std::make_unique<Partition>(options_.queue_capacity));
    }
  }

  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Items still queued are destroyed. No thread may be inside the bus any more.
  ~EventBus() = default;

  size_t partitions() const { return partitions_.size(); }
  const BusOptions& options() const { return options_; }

  // Producer: delivers `item`, which carries `events` events, to `partition`. When the queue is
  // full, kDropNewest drops the item at once; kBlock waits for the consumer to make room, up to
  // block_timeout (0 = no limit), and drops the item if none came. Returns false when the item
  // was dropped; the drop is counted in dropped_items / dropped_events. After Close(), every
  // item is dropped (and counted): publishing after Close is a caller bug, not a silent loss.
  bool Publish(size_t partition, T item, uint64_t events) {
    Partition& p = at(partition);
    Bump(p.received_items, 1);
    Bump(p.received_events, events);
    if (closed_.load(std::memory_order_acquire)) return Drop(p, events);
    if (!p.ring.TryPush(std::move(item))) {  // leaves `item` intact on failure
      if (options_.policy == Backpressure::kDropNewest || !WaitAndPush(p, item)) {
        return Drop(p, events);
      }
    }
    WakeConsumer(p);
    return true;
  }

  // Consumer: moves the oldest item of `partition` into `out`, waiting while the queue is empty.
  // Returns false once Close() was called and the queue is drained: every item published
  // before Close is still delivered.
  bool Pop(size_t partition, T& out) {
    Partition& p = at(partition);
    for (uint32_t spin = 0;; ++spin) {
      if (p.ring.TryPop(out)) return Popped(p);
      if (closed_.load(std::memory_order_acquire)) return DrainAfterClose(p, out);
      if (spin >= options_.spin_iterations) break;
      CpuRelax();
    }
    bool got = false;
    {
      std::unique_lock lock(p.mutex);
      AnnounceSleep(p.consumer_sleeping);
      p.not_empty.wait(lock, [&] {
        return (got = p.ring.TryPop(out)) || closed_.load(std::memory_order_acquire);
      });
      p.consumer_sleeping.store(false, std::memory_order_relaxed);
    }
    if (got) return Popped(p);
    return DrainAfterClose(p, out);
  }

  // Consumer: Pop without waiting; false when the queue is empty right now.
  bool TryPop(size_t partition, T& out) {
    Partition& p = at(partition);
    if (!p.ring.TryPop(out)) return false;
    return Popped(p);
  }

  // Consumer: reports that `events` events of a popped item were handled.
  void MarkProcessed(size_t partition, uint64_t events) {
    Bump(at(partition).processed_events, events);
  }

  // No more items: consumers drain their queues, then Pop returns false. Called by the producer
  // when its input ends; if another thread calls it (shutdown), a producer blocked in Publish
  // gives up and drops its item (counted). Idempotent.
  void Close() {
    closed_.store(true, std::memory_order_release);
    for (const std::unique_ptr<Partition>& p : partitions_) {
      // Taking the mutex orders the store before any sleeper's last check of closed_, so the
      // notify cannot fall between a sleeper's check and its wait.
      { std::lock_guard guard(p->mutex); }
      p->not_empty.notify_all();
      p->not_full.notify_all();
    }
  }

  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // A snapshot that may be taken while the bus runs: each counter is exact, but they are read
  // one after the other, so only an idle bus satisfies the identities in PartitionMetrics.
  BusMetrics metrics() const {
    BusMetrics out;
    out.partitions.reserve(partitions_.size());
    for (const std::unique_ptr<Partition>& p : partitions_) {
      PartitionMetrics& m = out.partitions.emplace_back();
      m.received_items = p->received_items.load(std::memory_order_relaxed);
      m.received_events = p->received_events.load(std::memory_order_relaxed);
      m.processed_events = p->processed_events.load(std::memory_order_relaxed);
      m.dropped_events = p->dropped_events.load(std::memory_order_relaxed);
      m.dropped_items = p->dropped_items.load(std::memory_order_relaxed);
      m.backpressure_waits = p->backpressure_waits.load(std::memory_order_relaxed);
      m.queue_depth = p->ring.size();
    }
    return out;
  }

 private:
  using Counter = std::atomic<uint64_t>;

  struct Partition {
    explicit Partition(size_t capacity) : ring(capacity) {}

    SpscRing<T> ring;
    // Counters on separate lines by writer, so that counting does not bounce a line between the
    // producer and the consumer.
    alignas(kCacheLineSize) Counter received_items{0};  // producer-written
    Counter received_events{0};
    Counter dropped_items{0};
    Counter dropped_events{0};
    Counter backpressure_waits{0};
    alignas(kCacheLineSize) Counter processed_events{0};  // consumer-written
    // The sleep path. The flags are written only when a side goes to sleep, so the other side's
    // check of them after each push or pop reads a line that is normally not changing.
    alignas(kCacheLineSize) std::mutex mutex;
    std::condition_variable not_empty;  // the consumer sleeps here
    std::condition_variable not_full;   // the producer sleeps here (kBlock)
    std::atomic<bool> consumer_sleeping{false};
    std::atomic<bool> producer_sleeping{false};
  };

  Partition& at(size_t partition) {
    assert(partition < partitions_.size() && "EventBus partition out of range");
    return *partitions_[partition];
  }

  // Each counter has one writing thread, so a load and a store do; a locked add is not needed.
  static void Bump(Counter& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  bool Drop(Partition& p, uint64_t events) {
    Bump(p.dropped_items, 1);
    Bump(p.dropped_events, events);
    return false;
  }

  // The kBlock slow path: the queue was full. Spins, then sleeps until the consumer makes room,
  // the deadline passes, or the bus is closed. Pushes `item` and returns true if room came.
  bool WaitAndPush(Partition& p, T& item) {
    Bump(p.backpressure_waits, 1);
    for (uint32_t spin = 0; spin < options_.spin_iterations; ++spin) {
      CpuRelax();
      // NOLINTNEXTLINE(bugprone-use-after-move): TryPush moves from item only when it returns true
      if (p.ring.TryPush(std::move(item))) return true;
    }
    bool pushed = false;
    auto room_or_closed = [&] {
      return (pushed = p.ring.TryPush(std::move(item))) || closed_.load(std::memory_order_acquire);
    };
    {
      std::unique_lock lock(p.mutex);
      AnnounceSleep(p.producer_sleeping);
      if (options_.block_timeout.count() == 0) {
        p.not_full.wait(lock, room_or_closed);
      } else {
        p.not_full.wait_until(lock, std::chrono::steady_clock::now() + options_.block_timeout,
                              room_or_closed);
      }
      p.producer_sleeping.store(false, std::memory_order_relaxed);
    }
    if (pushed) WakeConsumer(p);  // outside the lock: WakeConsumer may take it
    return pushed;
  }

  // The no-lost-wake-up handshake (a Dekker pattern). The sleeper stores its flag, then (after a
  // full fence) checks the queue; the other side changes the queue, then (after a full fence)
  // checks the flag. The fences forbid both from reading the old value, so either the sleeper
  // sees the change and does not sleep, or the waker sees the flag and notifies. The waker
  // takes the mutex before notifying, and the sleeper holds it from setting the flag until it
  // is inside wait(), so the notify cannot arrive before the wait.
  static void AnnounceSleep(std::atomic<bool>& flag) {
    flag.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

  static void WakeIfSleeping(Partition& p, const std::atomic<bool>& flag,
                             std::condition_variable& cv) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!flag.load(std::memory_order_relaxed)) return;
    { std::lock_guard guard(p.mutex); }
    cv.notify_one();
  }

  static void WakeConsumer(Partition& p) { WakeIfSleeping(p, p.consumer_sleeping, p.not_empty); }

  bool Popped(Partition& p) {
    WakeIfSleeping(p, p.producer_sleeping, p.not_full);
    return true;
  }

  // closed_ was seen set. Close() happens after the producer's last push, so a pop now sees
  // every item published before it; one more try catches one the first look raced with.
  bool DrainAfterClose(Partition& p, T& out) {
    if (p.ring.TryPop(out)) return Popped(p);
    return false;
  }

  const BusOptions options_;
  std::vector<std::unique_ptr<Partition>> partitions_;
  std::atomic<bool> closed_{false};
};

}  // namespace kestrel::bus
