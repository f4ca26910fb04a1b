// The EventBus's configuration, its metrics and the key -> partition mapping. Not templated, so
// that code which only reads bus metrics (obs, the run summary) need not see the bus itself.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/result.h"

namespace kestrel::bus {

// __extension__ keeps -Wpedantic quiet about the (GCC and Clang) 128-bit integer.
__extension__ using Uint128 = unsigned __int128;

// What Publish does when the partition's queue is full.
enum class Backpressure : uint8_t {
  kBlock,       // wait for room up to BusOptions::block_timeout (0 = forever), then drop the item
  kDropNewest,  // drop the item being published at once
};

struct BusOptions {
  size_t partitions = 1;       // >= 1; one consumer thread each
  size_t queue_capacity = 64;  // items per partition, rounded up to a power of two
  Backpressure policy = Backpressure::kBlock;
  std::chrono::milliseconds block_timeout{0};  // kBlock only; 0 waits as long as it takes
  // How many times a full (producer) or empty (consumer) queue is re-checked with a CPU pause
  // before the thread goes to sleep. Short waits then cost no system call; long waits burn no
  // CPU. 0 sleeps at once (the tests use it to drive the sleep/wake path hard).
  uint32_t spin_iterations = 256;
};

// Checks what a configuration file or a command line can get wrong: zero partitions, a zero or
// huge queue, a negative timeout. The EventBus constructor requires options that pass.
Status ValidateBusOptions(const BusOptions& options);

// Counters of one partition. Items are what Publish carries (typically a batch); events are what
// the caller says each item holds. Once the bus is idle (producer done, consumer caught up):
//   received_events == processed_events + dropped_events
//   received_items  == dropped_items + items popped, and queue_depth == 0.
struct PartitionMetrics {
  uint64_t received_items = 0;      // items offered to Publish, delivered or dropped
  uint64_t received_events = 0;     // events in those items
  uint64_t processed_events = 0;    // events the consumer reported with MarkProcessed
  uint64_t dropped_events = 0;      // events in dropped items
  uint64_t dropped_items = 0;       // items Publish dropped (queue full, timeout, or after Close)
  uint64_t backpressure_waits = 0;  // Publish calls that found the queue full and waited (kBlock)
  size_t queue_depth = 0;           // items queued at the time of the snapshot (approximate)

  PartitionMetrics& operator+=(const PartitionMetrics& other);
};

struct BusMetrics {
  std::vector<PartitionMetrics> partitions;

  PartitionMetrics Total() const;
};

// The partition that owns `entity_key`: the same key always goes to the same partition, so one
// entity's events stay in order on one consumer. The key is mixed first (the murmur3/splitmix
// finalizer) because entity keys are not always hashes: a raw pid or inode has patterns that a
// plain modulo would turn into an uneven load. The mixed key is then mapped to [0, partitions)
// with a multiply-shift instead of a division (Lemire's "fast range").
inline size_t PartitionOf(uint64_t entity_key, size_t partitions) {
  uint64_t x = entity_key;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<size_t>((static_cast<Uint128>(x) * partitions) >> 64);
}

}  // namespace kestrel::bus
