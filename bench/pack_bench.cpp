// Rule packs and reloads (docs/performance.md): what a reload costs off the event thread (load,
// validate and compile the bundled pack, build its engine) and on it (the swap: sequence state
// handed over, the old engine freed), and the bundled pack's embedded tests.
#include <benchmark/benchmark.h>

#include "engine/synthetic_stream.h"
#include "rules/rule_manager.h"
#include "rules/rule_pack.h"
#include "rules/rule_tests.h"

namespace kestrel {
namespace {

const std::string kPack = KESTREL_SOURCE_DIR "/rules/linux";

rules::Pack LoadBundled(const SchemaRegistry& registry) {
  rules::PackOptions options;
  options.host_id = "bench";
  auto pack = rules::LoadPack(kPack, registry, options);
  if (!pack || !pack->errors.empty()) std::abort();
  if (!engine::CompileBackends(pack->rules, runtime::Backend::kNative, registry)) std::abort();
  return std::move(*pack);
}

// A reload's work off the event thread: the pack read, validated and compiled, its engine built.
void BM_PackLoadAndCompile(benchmark::State& state) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  size_t rules = 0;
  for (auto _ : state) {
    rules::Pack pack = LoadBundled(registry);
    engine::DetectionEngine engine(pack.rules, registry, engine::EngineOptions{});
    rules = pack.rules.rules.size();
    benchmark::DoNotOptimize(engine);
  }
  state.counters["rules"] = static_cast<double>(rules);
}
BENCHMARK(BM_PackLoadAndCompile)->Unit(benchmark::kMillisecond);

// A reload's work on the event thread: the new engine takes the unchanged sequence rules'
// partial matches, and the old engine is freed, after `range(0)` events of a synthetic stream.
void BM_ReloadSwap(benchmark::State& state) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  testing::SyntheticStream warm(registry, 3, 1000);
  EventBatch batch;
  warm.Next(batch, 1);
  rules::Pack a = LoadBundled(registry), b = LoadBundled(registry);
  uint64_t kept = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto old_engine = std::make_unique<engine::DetectionEngine>(a.rules, registry, engine::EngineOptions{});
    auto new_engine = std::make_unique<engine::DetectionEngine>(b.rules, registry, engine::EngineOptions{});
    testing::SyntheticStream stream(registry, 7, 1000, 8, 50);
    std::vector<engine::Alert> alerts;
    for (int64_t done = 0; done < state.range(0); done += 4096) {
      stream.Next(batch, 4096);
      for (const Event& e : batch) old_engine->Process(e, alerts);
      alerts.clear();
    }
    state.ResumeTiming();
    kept = new_engine->AdoptState(*old_engine);
    old_engine.reset();
    benchmark::DoNotOptimize(new_engine);
    state.PauseTiming();
    new_engine.reset();
    state.ResumeTiming();
  }
  state.counters["partials_kept"] = static_cast<double>(kept);
}
BENCHMARK(BM_ReloadSwap)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond)->Iterations(5);

// `kestrel test rules/linux`: every embedded test of the bundled pack through the engine.
void BM_BundledPackTests(benchmark::State& state) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  rules::Pack pack = LoadBundled(registry);
  size_t tests = 0;
  for (auto _ : state) {
    auto outcomes = rules::RunPackTests(pack, registry);
    if (!outcomes) std::abort();
    tests = outcomes->size();
  }
  state.counters["tests"] = static_cast<double>(tests);
}
BENCHMARK(BM_BundledPackTests)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kestrel
