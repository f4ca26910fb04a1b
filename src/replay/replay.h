// Replay: runs rules over recorded events with W worker threads and writes the alerts in an
// order that does not depend on W (docs/engine.md).
//
// The dispatcher (the calling thread) cuts the sorted events into chunks and delivers every
// chunk to every worker through the EventBus; each worker runs its DetectionEngine share (its
// partition's single-event rules, its sequence rules) and returns the chunk's alerts. The
// dispatcher merges the workers' alerts of a chunk, sorts them by their key and writes them
// before it moves on, so output streams while staying byte-identical for any W.
#pragma once

#include <functional>
#include <span>
#include <string_view>

#include "bus/bus_options.h"
#include "common/result.h"
#include "engine/detection_engine.h"

namespace kestrel::replay {

struct ReplayOptions {
  size_t threads = 1;
  size_t chunk_events = 4096;
  size_t queue_chunks = 8;  // chunks in flight per worker
  engine::EngineOptions engine;
};

struct ReplaySummary {
  uint64_t events = 0;
  uint64_t alerts = 0;
  uint64_t alert_hash = 0;  // xxHash64 of the alert lines, in order
  engine::EngineStats engine;
  bus::PartitionMetrics bus;  // summed over the workers' queues
  double seconds = 0;
};

// Called with each alert line (ending in '\n'), in order.
using AlertSink = std::function<Status(std::string_view line)>;

// Runs `rules` over `events`, which must be in (ts_mono_ns, event_id) order. The registry must
// not change while it runs (the workers read it).
Result<ReplaySummary> Run(const engine::RuleSet& rules, const SchemaRegistry& registry,
                          std::span<const Event> events, const ReplayOptions& options, const AlertSink& sink);

}  // namespace kestrel::replay
