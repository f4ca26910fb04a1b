// Predicate backends (docs/performance.md, docs/host-api.md):
// - BM_PredicateBackend/B: the 100 benchmark rules' predicates on backend B (0 native, 1 wasm,
//   2 lua), each evaluated on every event of its category among the workload's first 100 000
//   events (no rule index): predicate evaluations per second.
// - BM_LoadRuleSet/B: 1 000 rules compiled, prepared for backend B and instantiated by one
//   worker's detection engine: rules loaded per second.
#include <benchmark/benchmark.h>

#include "engine/detection_engine.h"
#include "rule_sets.h"
#include "runtime/predicate.h"

namespace kestrel::bench {
namespace {

void BM_PredicateBackend(benchmark::State& state) {
  const InMemory& w = Workload();
  auto backend = static_cast<runtime::Backend>(state.range(0));
  engine::RuleSet rules = Compile(SingleRules(), w.registry);
  runtime::PredicateContext context;
  std::vector<runtime::Predicate> predicates;
  for (const engine::Rule& rule : rules.rules) {
    const eql::Program& p = rule.compiled->terms[0].filter;
    auto pred = runtime::Predicate::Create(backend, p, w.registry, rule.query, context);
    if (!pred) {
      state.SkipWithError(pred.error().ToString().c_str());
      return;
    }
    predicates.push_back(std::move(*pred));
  }
  const size_t n = std::min<size_t>(w.events.size(), 100'000);
  // Each rule's events: those of its category.
  std::vector<std::vector<const Event*>> inputs(predicates.size());
  for (size_t r = 0; r < predicates.size(); ++r) {
    for (size_t i = 0; i < n; ++i) {
      if (eql::Evaluator::CategoryMatches(*predicates[r].program(), w.events[i])) inputs[r].push_back(&w.events[i]);
    }
  }
  int64_t evaluations = 0, matches = 0;
  for (auto _ : state) {
    for (size_t r = 0; r < predicates.size(); ++r) {
      for (const Event* e : inputs[r]) matches += predicates[r].Matches(*e, 1'000'000) ? 1 : 0;
      evaluations += static_cast<int64_t>(inputs[r].size());
    }
  }
  state.SetItemsProcessed(evaluations);
  state.counters["rules"] = static_cast<double>(predicates.size());
  state.counters["matches_per_pass"] =
      static_cast<double>(matches) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.SetLabel(std::string(runtime::BackendName(backend)));
}
BENCHMARK(BM_PredicateBackend)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LoadRuleSet(benchmark::State& state) {
  auto backend = static_cast<runtime::Backend>(state.range(0));
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  std::vector<std::string> texts = SingleRules(1000);
  int64_t loaded = 0;
  for (auto _ : state) {
    engine::RuleSet rules = Compile(texts, registry);
    if (auto ok = engine::CompileBackends(rules, backend, registry); !ok) {
      state.SkipWithError(ok.error().ToString().c_str());
      return;
    }
    engine::DetectionEngine engine(rules, registry, {});
    benchmark::DoNotOptimize(&engine);
    loaded += static_cast<int64_t>(rules.rules.size());
  }
  state.SetItemsProcessed(loaded);
  state.SetLabel(std::string(runtime::BackendName(backend)));
}
BENCHMARK(BM_LoadRuleSet)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace kestrel::bench
