#include "bus/bus_options.h"

#include <string>

#include "bus/spsc_ring.h"

namespace kestrel::bus {

Status ValidateBusOptions(const BusOptions& options) {
  if (options.partitions == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "the event bus needs at least one partition");
  }
  if (options.queue_capacity == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the event bus queue capacity must be at least 1");
  }
  if (options.queue_capacity > kMaxRingCapacity) {
    return MakeError(ErrorCode::kLimit,
                     "the event bus queue capacity " + std::to_string(options.queue_capacity) +
                         " is above the limit of " + std::to_string(kMaxRingCapacity));
  }
  if (options.block_timeout.count() < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the event bus block timeout must not be negative");
  }
  return Ok();
}

PartitionMetrics& PartitionMetrics::operator+=(const PartitionMetrics& other) {
  received_items += other.received_items;
  received_events += other.received_events;
  processed_events += other.processed_events;
  dropped_events += other.dropped_events;
  dropped_items += other.dropped_items;
  backpressure_waits += other.backpressure_waits;
  queue_depth += other.queue_depth;
  return *this;
}

PartitionMetrics BusMetrics::Total() const {
  PartitionMetrics total;
  for (const PartitionMetrics& p : partitions) total += p;
  return total;
}

}  // namespace kestrel::bus
