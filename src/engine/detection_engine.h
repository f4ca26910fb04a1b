// DetectionEngine: one worker's share of the rules, run over the event stream.
//
// With W workers, every worker sees every event, in order. Worker w evaluates the single-event
// rules on the events of its partition (bus::PartitionOf(entity_key, W) == w) and owns the sequence rules whose
// number among the sequence rules is w modulo W, which it runs on all events. So each event
// meets each rule exactly once, one entity's events stay in order, and a sequence sees every
// event whatever its join key (docs/engine.md explains the choice).
//
// Alerts carry a sort key — the deciding event's (ts_mono_ns, event_id), the rule number and the
// rule's alert count — that orders them the same way for any number of workers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/rule.h"
#include "common/histogram.h"
#include "engine/rule_index.h"
#include "nfa/process_lineage.h"
#include "nfa/sequence_runner.h"

namespace kestrel::engine {

struct EngineOptions {
  nfa::StateLimits limits;  // per sequence rule
  // Wasm / Lua predicates: the budget of one evaluation (fuel units / Lua VM instructions), and
  // the rule is disabled once `max_overruns` evaluations overran it or faulted within
  // `overrun_window_ns` of event time.
  uint64_t predicate_budget = 1'000'000;
  uint32_t max_overruns = 5;
  uint64_t overrun_window_ns = 60'000'000'000;
  // Rules with lineage predicates (descendant of / child of / event of): the processes the
  // worker's lineage table remembers, least recently seen forgotten first.
  size_t lineage_processes = 65536;
};

struct Alert {
  uint64_t ts = 0;        // the deciding event's ts_mono_ns (UINT64_MAX: end of stream)
  uint64_t event_id = 0;  // and its event_id
  uint32_t rule = 0;
  uint64_t ordinal = 0;   // the rule's alerts before this one
  std::string json;       // one line, without the newline

  friend bool operator<(const Alert& a, const Alert& b) {
    if (a.ts != b.ts) return a.ts < b.ts;
    if (a.event_id != b.event_id) return a.event_id < b.event_id;
    if (a.rule != b.rule) return a.rule < b.rule;
    return a.ordinal < b.ordinal;
  }
};

// Per predicate backend: evaluations sampled for latency (one in kLatencySample).
struct BackendStats {
  uint64_t evaluations = 0;
  uint64_t overruns = 0;  // over budget
  uint64_t faults = 0;
  Histogram latency_ns;   // sampled
};

// What a rule costs: its evaluations (a single-event rule's conditions; a sequence rule's runs
// over an event), and the time of one in kCostSample of them, measured.
struct RuleCost {
  uint64_t evaluations = 0;
  uint64_t sampled = 0;
  uint64_t sampled_ns = 0;
  // The estimated time of all its evaluations.
  double seconds() const {
    return sampled == 0 ? 0.0 : static_cast<double>(sampled_ns) * 1e-9 * static_cast<double>(evaluations) / static_cast<double>(sampled);
  }
};

struct EngineStats {
  uint64_t events = 0;             // events this worker looked at
  uint64_t single_events = 0;      // events of its partition (single-event rules)
  uint64_t evaluations = 0;        // single-event rule evaluations made
  uint64_t naive_evaluations = 0;  // what evaluating every single-event rule would have made
  nfa::StateStats state;           // summed over its sequence rules (peaks are sums of peaks)
  std::vector<uint64_t> alerts_by_rule;  // indexed by rule number
  std::vector<RuleCost> cost_by_rule;    // indexed by rule number
  BackendStats backends[3];              // by runtime::Backend
  std::vector<uint32_t> disabled_rules;  // rule numbers, in the order they were disabled
  uint64_t backend_errors = 0;           // predicates a worker could not instantiate (run natively)
  uint64_t lineage_processes = 0;        // in the lineage table (the largest worker's)
  uint64_t lineage_evicted = 0;          // forgotten for capacity (the largest worker's)

  void Add(const EngineStats& other);
};

class DetectionEngine {
 public:
  DetectionEngine(const RuleSet& rules, const SchemaRegistry& registry, const EngineOptions& options,
                  size_t worker = 0, size_t workers = 1);

  void Process(const Event& event, std::vector<Alert>& out);
  // End of stream: sequences waiting on trailing missing-event stages are decided.
  void Finish(std::vector<Alert>& out);

  EngineStats stats() const;

  // A rule reload: the sequence rules of `old` whose fingerprint is unchanged hand their partial
  // matches to this engine's (same rule, same query). Both engines must be on this thread, and
  // `old` is to be destroyed on it too (the events their state holds are shared). Returns the
  // partial matches taken over.
  uint64_t AdoptState(DetectionEngine& old);
  // Lineage rules: the process table learns from `event` (an already_running event) without any
  // rule seeing it, so that a reloaded engine knows the ancestry of the processes alive now.
  void Prime(const Event& event) {
    if (lineage_) lineage_->Observe(event);
  }
  bool has_lineage() const { return lineage_ != nullptr; }

 private:
  struct SequenceRule {
    uint32_t rule;
    std::unique_ptr<nfa::SequenceRunner> runner;
    bool indexed;  // its terms are in stage_index_ (at most 64 of them)
  };

  // A rule's predicates on its (Wasm or Lua) backend, in this worker, and its overrun record.
  struct RulePredicates {
    std::vector<runtime::Predicate> programs;  // as Rule::Programs(); empty when they run natively
    std::optional<runtime::Predicate> user;    // the rule's user-written predicate
    uint32_t overruns = 0;                     // within the current window
    uint64_t window_start = 0;
    bool disabled = false;
    DetectionEngine* engine = nullptr;  // for the sequence runner's term callback
    uint32_t rule = 0;
  };
  static constexpr uint64_t kLatencySample = 64;
  static constexpr uint64_t kCostSample = 64;
  // Runs evaluate() and counts it as an evaluation of `rule`, timing one in kCostSample.
  template <class Evaluate>
  auto Costed(uint32_t rule, Evaluate evaluate);
  uint64_t cost_tick_ = 0;

  // This worker's instances of rule i's Wasm / Lua and user-written predicates (null: none).
  std::unique_ptr<RulePredicates> MakePredicates(uint32_t i);
  // evaluate(), counted in `bs`, its latency sampled one call in kLatencySample.
  template <class Evaluate>
  auto Sampled(BackendStats& bs, Evaluate evaluate);

  // Program `k` of `rule` on its backend (kUserPredicate: its user-written predicate) for the
  // current event: true when it matched; an overrun or fault counts toward disabling the rule.
  static constexpr size_t kUserPredicate = SIZE_MAX;
  bool RunPredicate(RulePredicates& rp, size_t k, const Event& event);
  static bool SequenceTerm(void* context, uint32_t term_index, const Event& event);
  void EmitSequence(uint32_t rule, nfa::SequenceMatch& match, std::vector<Alert>& out);

  const RuleSet& rules_;
  const SchemaRegistry& registry_;
  size_t worker_;
  size_t workers_;
  RuleIndex index_;
  // The terms of this worker's sequence rules, numbered 64 * (its place in sequences_) + term:
  // an event is only evaluated against the terms it may match.
  RuleIndex stage_index_;
  std::vector<uint64_t> masks_;
  std::vector<uint64_t> next_deadlines_;  // of each sequence runner, to skip idle ones
  SharedEventCopy event_copy_;  // one copy of the current event for all sequence rules
  nfa::SharedJoinKeys join_keys_;  // its join keys, once per distinct `by` list
  std::vector<const eql::Program*> filters_;  // by rule number (single-event rules)
  std::vector<SequenceRule> sequences_;
  eql::Evaluator evaluator_;
  EngineOptions options_;
  runtime::PredicateContext predicate_context_;
  std::vector<std::unique_ptr<RulePredicates>> rule_predicates_;  // by rule; null when native
  // The process table of the rules with lineage predicates (null: no such rule here), and each
  // rule's oracle in it (by rule number; null for the others).
  std::unique_ptr<nfa::ProcessLineage> lineage_;
  std::vector<eql::LineageOracle*> oracles_;
  std::vector<Alert>* out_ = nullptr;  // where the current event's alerts go
  uint64_t now_ = 0;                   // the current event's ts_mono_ns
  uint64_t latency_tick_ = 0;
  std::vector<uint32_t> candidates_;
  std::vector<nfa::SequenceMatch> matches_;
  EngineStats stats_;
  size_t single_rules_ = 0;
};

// The alert line that says `rule` was disabled because its predicate on `backend` overran or
// faulted too often (`reason`), at the time of `event`.
std::string RenderRuleDisabled(const Rule& rule, const Event& event, runtime::Backend backend,
                               std::string_view reason);

// What a response did about a match: event.action and event.outcome of the alert (blocked,
// would_block, killed, would_kill, ...), and kestrel.alert.response (the mechanism, and why
// nothing was done when nothing was).
struct AlertResponse {
  std::string action;     // event.action
  std::string outcome;    // event.outcome
  std::string mechanism;  // e.g. fanotify, cgroup_connect4, kill(2)
  std::string detail;     // optional
};

// The alert line for `events` (a sequence's missing stages are null) matched by `rule`, with the
// notes its user-written predicate attached (kestrel.alert.notes, when there are any) and what a
// response did (when `response` is set).
std::string RenderAlert(const Rule& rule, const std::vector<const Event*>& events,
                        const std::vector<eql::Scalar>& join_key, const SchemaRegistry& registry,
                        std::span<const std::string> notes = {}, const AlertResponse* response = nullptr);

}  // namespace kestrel::engine
