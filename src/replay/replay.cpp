#include "replay/replay.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "bus/event_bus.h"
#include "common/hash.h"

namespace kestrel::replay {
namespace {

struct Chunk {
  size_t begin = 0, end = 0;
  bool finish = false;  // the end of the stream: decide what is still waiting
};

struct ChunkAlerts {
  std::vector<engine::Alert> alerts;
};

}  // namespace

Result<ReplaySummary> Run(const engine::RuleSet& rules, const SchemaRegistry& registry,
                          std::span<const Event> events, const ReplayOptions& options, const AlertSink& sink) {
  const auto start = std::chrono::steady_clock::now();
  const size_t workers = std::max<size_t>(options.threads, 1);
  const size_t inflight = std::max<size_t>(options.queue_chunks, 1);
  const size_t chunk_events = std::max<size_t>(options.chunk_events, 1);
  // Replay never drops: the dispatcher waits for room (and never has to: it keeps at most
  // `inflight` chunks unmerged, and each queue holds that many).
  bus::BusOptions in_options;
  in_options.partitions = workers;
  in_options.queue_capacity = inflight;
  in_options.policy = bus::Backpressure::kBlock;
  KESTREL_TRY(bus::ValidateBusOptions(in_options));
  bus::EventBus<Chunk> in(in_options);
  bus::BusOptions out_options = in_options;
  out_options.queue_capacity = inflight + 1;
  bus::EventBus<ChunkAlerts> out(out_options);

  std::vector<engine::EngineStats> stats(workers);
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      engine::DetectionEngine engine(rules, registry, options.engine, w, workers);
      Chunk chunk;
      while (in.Pop(w, chunk)) {
        ChunkAlerts result;
        for (size_t i = chunk.begin; i < chunk.end; ++i) engine.Process(events[i], result.alerts);
        if (chunk.finish) engine.Finish(result.alerts);
        out.Publish(w, std::move(result), chunk.end - chunk.begin);
        in.MarkProcessed(w, chunk.end - chunk.begin);
      }
      stats[w] = engine.stats();
    });
  }

  ReplaySummary summary;
  Status status = Ok();
  std::vector<engine::Alert> merged;
  uint64_t hash = 0;
  auto merge_one = [&]() {
    merged.clear();
    for (size_t w = 0; w < workers; ++w) {
      ChunkAlerts result;
      out.Pop(w, result);  // every worker returns one result per chunk, in chunk order
      out.MarkProcessed(w, 0);
      std::move(result.alerts.begin(), result.alerts.end(), std::back_inserter(merged));
    }
    std::sort(merged.begin(), merged.end());
    for (engine::Alert& a : merged) {
      a.json.push_back('\n');
      hash = Hash64(a.json, hash);
      ++summary.alerts;
      if (status) status = sink(a.json);
    }
  };
  size_t published = 0, merged_chunks = 0;
  for (size_t begin = 0;; begin += chunk_events) {
    Chunk chunk;
    chunk.begin = std::min(begin, events.size());
    chunk.end = std::min(begin + chunk_events, events.size());
    chunk.finish = chunk.end == events.size();
    if (published - merged_chunks == inflight) {
      merge_one();
      ++merged_chunks;
    }
    for (size_t w = 0; w < workers; ++w) in.Publish(w, chunk, chunk.end - chunk.begin);
    ++published;
    if (chunk.finish) break;
  }
  in.Close();
  while (merged_chunks < published) {
    merge_one();
    ++merged_chunks;
  }
  for (std::thread& t : threads) t.join();
  KESTREL_TRY(status);

  summary.events = events.size();
  summary.alert_hash = hash;
  for (const engine::EngineStats& s : stats) summary.engine.Add(s);
  summary.bus = in.metrics().Total();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace kestrel::replay
