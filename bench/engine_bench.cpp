// Detection engine throughput (docs/performance.md):
// - BM_EngineSingleRules: 100 single-event rules over the generated workload's .klog, held in
//   memory, on one core; reports how many rule evaluations the rule index leaves per event.
// - BM_EngineSingleRulesKlog: the same rules over the .klog file (page cache) as replay reads
//   it, block by block, decoding included.
// - BM_EngineCorpus/0 and /1: Elastic's Linux detection rules (KESTREL_CORPUS), single-event
//   and sequence rules, over the workload's .klog.
// - BM_EngineSequences/B: 50 sequence rules over a synthetic stream with many distinct keys
//   (KESTREL_BENCH_SEQ_EVENTS events, default 2 M; KESTREL_BENCH_SEQ_KEYS keys, default 1 M)
//   in which B% of the events are routine activity no rule looks for: /0 is the worst case
//   (every event is suspicious, most complete a sequence), /95 a realistic mix; reports alerts
//   per event, pending partial matches and the state bytes per partial match, with and without
//   the events they hold.
// - BM_ReplayThreads/N: the 100 single-event and 50 sequence rules through replay with N
//   worker threads, for scaling.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/detection_engine.h"
#include "engine/synthetic_stream.h"
#include "event/event_builder.h"
#include "event/event_reader.h"
#include "replay/replay.h"
#include "rule_sets.h"
#include "workload.h"

namespace kestrel::bench {
namespace {

double EvalsPerEvent(const engine::EngineStats& s) {
  return static_cast<double>(s.evaluations) / static_cast<double>(std::max<uint64_t>(s.events, 1));
}

void BM_EngineSingleRules(benchmark::State& state) {
  const InMemory& w = Workload();
  engine::RuleSet rules = Compile(SingleRules(), w.registry);
  engine::DetectionEngine engine(rules, w.registry, {});
  std::vector<engine::Alert> alerts;
  for (auto _ : state) {
    for (const Event& e : w.events) engine.Process(e, alerts);
    alerts.clear();
  }
  engine::EngineStats s = engine.stats();
  state.SetItemsProcessed(static_cast<int64_t>(w.events.size()) * state.iterations());
  state.counters["evals_per_event"] = EvalsPerEvent(s);
  state.counters["index_saved_pct"] =
      100.0 * static_cast<double>(s.naive_evaluations - s.evaluations) / static_cast<double>(s.naive_evaluations);
}

struct KlogRun {
  uint64_t events = 0;
  uint64_t alerts = 0;
  engine::EngineStats stats;
};

// Runs `rules` over the .klog file at `path` as replay reads it (in the page cache after the
// first pass), once per benchmark iteration: each block is decoded into events that are views
// of their records and evaluated while the block is in the cache. Decoding is part of the figure.
KlogRun RunOverKlog(benchmark::State& state, const std::string& path, SchemaRegistry& registry,
                    const engine::RuleSet& rules) {
  engine::DetectionEngine engine(rules, registry, {});
  std::vector<engine::Alert> alerts;
  EventBatch batch;
  KlogRun run;
  for (auto _ : state) {
    auto reader = OpenEventReader(path, {}, &registry);
    if (!reader) std::abort();
    for (;;) {
      auto more = (*reader)->Next(batch);
      if (!more || !*more) break;
      for (const Event& e : batch) engine.Process(e, alerts);
      run.events += batch.size();
      run.alerts += alerts.size();
      alerts.clear();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(run.events));
  run.stats = engine.stats();
  return run;
}

// The 100 single-event rules over the .klog, decoding included.
void BM_EngineSingleRulesKlog(benchmark::State& state) {
  auto path = CachedWorkload(EnvOr("KESTREL_BENCH_EVENTS", 1'000'000), "klog");
  if (!path) std::abort();
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  engine::RuleSet rules = Compile(SingleRules(), registry);
  KlogRun run = RunOverKlog(state, *path, registry, rules);
  state.counters["evals_per_event"] = EvalsPerEvent(run.stats);
}

// Elastic's public Linux detection rules (the EQL corpus, not part of this repository: point
// KESTREL_CORPUS at its JSON lines file, e.g. ../shared/corpus/elastic-linux-eql-rules.jsonl)
// over the workload's .klog as replay reads it: /0 the single-event rules, /1 the sequences.
void BM_EngineCorpus(benchmark::State& state) {
  const char* corpus = std::getenv("KESTREL_CORPUS");
  if (corpus == nullptr) {
    state.SkipWithError("set KESTREL_CORPUS to the EQL corpus (elastic-linux-eql-rules.jsonl)");
    return;
  }
  auto path = CachedWorkload(EnvOr("KESTREL_BENCH_EVENTS", 1'000'000), "klog");
  if (!path) std::abort();
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  engine::RuleSet rules;
  simdjson::dom::parser parser;
  simdjson::dom::document_stream lines;
  if (parser.load_many(corpus).get(lines) != simdjson::SUCCESS) {
    state.SkipWithError("cannot read KESTREL_CORPUS");
    return;
  }
  const bool sequences = state.range(0) == 1;
  for (simdjson::dom::element line : lines) {
    std::string_view query;
    if (line["query"].get(query) != simdjson::SUCCESS) continue;
    auto rule = engine::CompileRule(fmt::format("corpus{:03}.eql", rules.rules.size()), std::string(query), registry, {});
    if (rule && rule->is_sequence() == sequences) rules.rules.push_back(std::move(*rule));  // samples are refused
  }
  KlogRun run = RunOverKlog(state, *path, registry, rules);
  state.counters["rules"] = static_cast<double>(rules.rules.size());
  state.counters["alerts_per_event"] = static_cast<double>(run.alerts) / static_cast<double>(std::max<uint64_t>(run.events, 1));
  if (!sequences) state.counters["evals_per_event"] = EvalsPerEvent(run.stats);
}

void BM_EngineSequences(benchmark::State& state) {
  const uint64_t events = EnvOr("KESTREL_BENCH_SEQ_EVENTS", 2'000'000);
  const uint64_t keys = EnvOr("KESTREL_BENCH_SEQ_KEYS", 1'000'000);
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  { testing::SyntheticStream warm(registry, 1, 1); }
  engine::RuleSet rules = Compile(SequenceRules(), registry);
  engine::EngineOptions options;
  options.limits.max_entries = 1'000'000;
  options.limits.ttl_ns = 3600ull * 1'000'000'000;
  engine::EngineStats s;
  uint64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    testing::SyntheticStream stream(registry, 5, keys, 8, static_cast<uint64_t>(state.range(0)));
    engine::DetectionEngine engine(rules, registry, options);
    EventBatch batch;
    std::vector<engine::Alert> alerts;
    state.ResumeTiming();
    for (uint64_t done = 0; done < events; done += batch.size()) {
      state.PauseTiming();
      stream.Next(batch, std::min<uint64_t>(4096, events - done));
      state.ResumeTiming();
      for (const Event& e : batch) engine.Process(e, alerts);
      alerts.clear();
    }
    total += events;
    s = engine.stats();
  }
  state.SetItemsProcessed(static_cast<int64_t>(total));
  uint64_t alerts = 0;
  for (uint64_t n : s.alerts_by_rule) alerts += n;
  state.counters["alerts_per_event"] = static_cast<double>(alerts) / static_cast<double>(std::max<uint64_t>(s.events, 1));
  state.counters["pending"] = static_cast<double>(s.state.entries);
  state.counters["bytes_per_partial"] = static_cast<double>(s.state.bytes) / static_cast<double>(std::max<uint64_t>(s.state.entries, 1));
  state.counters["state_bytes_per_partial"] =
      static_cast<double>(s.state.bytes - s.state.event_bytes) / static_cast<double>(std::max<uint64_t>(s.state.entries, 1));
}

void BM_ReplayThreads(benchmark::State& state) {
  const InMemory& w = Workload();
  std::vector<std::string> texts = SingleRules();
  for (std::string& s : SequenceRules()) {
    // The workload has no chmod or /etc/shadow opens to speak of; keep the rules as they are.
    texts.push_back(std::move(s));
  }
  engine::RuleSet rules = Compile(texts, w.registry);
  replay::ReplayOptions options;
  options.threads = static_cast<size_t>(state.range(0));
  options.engine.limits.max_entries = 200'000;
  options.engine.limits.ttl_ns = 3600ull * 1'000'000'000;
  for (auto _ : state) {
    auto summary = replay::Run(rules, w.registry, w.events, options, [](std::string_view) { return Ok(); });
    if (!summary) state.SkipWithError(summary.error().ToString().c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(w.events.size()) * state.iterations());
}

BENCHMARK(BM_EngineSingleRules)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_EngineSingleRulesKlog)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_EngineCorpus)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_EngineSequences)->Arg(0)->Arg(95)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_ReplayThreads)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

}  // namespace
}  // namespace kestrel::bench
