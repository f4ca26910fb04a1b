#include "engine/detection_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "bus/bus_options.h"
#include "common/hash.h"
#include "event/ndjson.h"
#include "event/timestamp.h"

namespace kestrel::engine {

inline constexpr int kAlertVersion = 1;

void EngineStats::Add(const EngineStats& o) {
  events = std::max(events, o.events);  // every worker sees every event
  single_events += o.single_events;
  evaluations += o.evaluations;
  naive_evaluations += o.naive_evaluations;
  state.Add(o.state);
  if (alerts_by_rule.size() < o.alerts_by_rule.size()) alerts_by_rule.resize(o.alerts_by_rule.size());
  for (size_t i = 0; i < o.alerts_by_rule.size(); ++i) alerts_by_rule[i] += o.alerts_by_rule[i];
  if (cost_by_rule.size() < o.cost_by_rule.size()) cost_by_rule.resize(o.cost_by_rule.size());
  for (size_t i = 0; i < o.cost_by_rule.size(); ++i) {
    cost_by_rule[i].evaluations += o.cost_by_rule[i].evaluations;
    cost_by_rule[i].sampled += o.cost_by_rule[i].sampled;
    cost_by_rule[i].sampled_ns += o.cost_by_rule[i].sampled_ns;
  }
  for (size_t b = 0; b < std::size(backends); ++b) {
    backends[b].evaluations += o.backends[b].evaluations;
    backends[b].overruns += o.backends[b].overruns;
    backends[b].faults += o.backends[b].faults;
    backends[b].latency_ns.Merge(o.backends[b].latency_ns);
  }
  for (uint32_t r : o.disabled_rules) {
    if (std::find(disabled_rules.begin(), disabled_rules.end(), r) == disabled_rules.end()) disabled_rules.push_back(r);
  }
  backend_errors += o.backend_errors;
  lineage_processes = std::max(lineage_processes, o.lineage_processes);  // every worker sees every event
  lineage_evicted = std::max(lineage_evicted, o.lineage_evicted);
}

DetectionEngine::DetectionEngine(const RuleSet& rules, const SchemaRegistry& registry, const EngineOptions& options,
                                 size_t worker, size_t workers)
    : rules_(rules), registry_(registry), worker_(worker), workers_(workers == 0 ? 1 : workers), options_(options) {
  rule_predicates_.resize(rules.rules.size());
  oracles_.assign(rules.rules.size(), nullptr);
  size_t sequence_rules = 0;
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& rule = rules.rules[i];
    const bool mine = !rule.is_sequence() || sequence_rules++ % workers_ == worker_;
    if (!mine || rule.compiled->lineage.empty()) continue;
    if (!lineage_) lineage_ = std::make_unique<nfa::ProcessLineage>(registry, options.lineage_processes);
    oracles_[i] = lineage_->Watch(*rule.compiled);
  }
  std::vector<RuleIndex::Entry> single;
  filters_.assign(rules.rules.size(), nullptr);
  size_t sequence_number = 0;
  nfa::RunnerOptions runner_options;
  runner_options.limits = options.limits;
  runner_options.store_events = true;
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& rule = rules.rules[i];
    if (rule.is_sequence()) {
      if (sequence_number++ % workers_ == worker_) {
        rule_predicates_[i] = MakePredicates(static_cast<uint32_t>(i));
        auto runner = std::make_unique<nfa::SequenceRunner>(*rule.compiled, runner_options);
        runner->set_shared_copy(&event_copy_);
        runner->set_shared_keys(&join_keys_);
        if (oracles_[i] != nullptr) runner->set_lineage(oracles_[i]);
        if (rule_predicates_[i] && !rule_predicates_[i]->programs.empty()) {
          runner->set_term_predicate(&DetectionEngine::SequenceTerm, rule_predicates_[i].get());
        }
        bool indexed = runner->TermCount() <= 64;
        sequences_.push_back({static_cast<uint32_t>(i), std::move(runner), indexed});
      }
      continue;
    }
    rule_predicates_[i] = MakePredicates(static_cast<uint32_t>(i));
    filters_[i] = &rule.compiled->terms[0].filter;
    single.push_back({static_cast<uint32_t>(i), filters_[i]});
  }
  single_rules_ = single.size();
  index_ = RuleIndex(single, registry);
  std::vector<RuleIndex::Entry> terms;
  for (size_t s = 0; s < sequences_.size(); ++s) {
    if (!sequences_[s].indexed) continue;
    const eql::CompiledQuery& q = *rules.rules[sequences_[s].rule].compiled;
    for (size_t t = 0; t < q.terms.size(); ++t) {
      terms.push_back({static_cast<uint32_t>(64 * s + t), &q.terms[t].filter});
    }
    if (q.until) terms.push_back({static_cast<uint32_t>(64 * s + q.terms.size()), &q.until->filter});
  }
  stage_index_ = RuleIndex(terms, registry);
  masks_.assign(sequences_.size(), 0);
  next_deadlines_.assign(sequences_.size(), 0);
  stats_.alerts_by_rule.assign(rules.rules.size(), 0);
  stats_.cost_by_rule.assign(rules.rules.size(), RuleCost{});
}

std::unique_ptr<DetectionEngine::RulePredicates> DetectionEngine::MakePredicates(uint32_t i) {
  const Rule& rule = rules_.rules[i];
  if (rule.predicates.empty() && !rule.user_predicate) return nullptr;  // native, nothing else
  // CompileBackends loaded each predicate once already; should an instance still fail here, the
  // rule's query runs natively and the failure is counted.
  auto rp = std::make_unique<RulePredicates>();
  rp->engine = this;
  rp->rule = i;
  std::vector<const eql::Program*> programs = rule.Programs();
  for (size_t k = 0; k < programs.size() && k < rule.predicates.size(); ++k) {
    auto p = runtime::Predicate::Instantiate(rule.predicates[k], *programs[k], registry_, rule.id, predicate_context_);
    if (!p) break;
    rp->programs.push_back(std::move(*p));
  }
  if (rp->programs.size() != rule.predicates.size()) {
    ++stats_.backend_errors;
    rp->programs.clear();
  }
  for (runtime::Predicate& p : rp->programs) p.set_lineage(oracles_[i]);
  if (rule.user_predicate) {
    auto user = runtime::Predicate::LoadUser(*rule.user_predicate, registry_, predicate_context_);
    if (!user) {
      ++stats_.backend_errors;  // it loaded when the rules did: this cannot fail but for memory
      rp->disabled = true;
    } else {
      rp->user = std::move(*user);
    }
  }
  return rp;
}

template <class Evaluate>
auto DetectionEngine::Sampled(BackendStats& bs, Evaluate evaluate) {
  ++bs.evaluations;
  if (++latency_tick_ % kLatencySample != 0) return evaluate();
  auto t0 = std::chrono::steady_clock::now();
  auto result = evaluate();
  bs.latency_ns.Add(static_cast<uint64_t>((std::chrono::steady_clock::now() - t0).count()));
  return result;
}

bool DetectionEngine::SequenceTerm(void* context, uint32_t term_index, const Event& event) {
  auto* rp = static_cast<RulePredicates*>(context);
  return rp->engine->RunPredicate(*rp, term_index, event);
}

bool DetectionEngine::RunPredicate(RulePredicates& rp, size_t k, const Event& event) {
  if (rp.disabled) return false;
  runtime::Predicate& p = k == kUserPredicate ? *rp.user : rp.programs[k];
  BackendStats& bs = stats_.backends[static_cast<size_t>(p.backend())];
  runtime::Verdict v = Sampled(bs, [&] { return p.Eval(event, options_.predicate_budget); });
  if (v == runtime::Verdict::kTrue) return true;
  if (v != runtime::Verdict::kOverBudget && v != runtime::Verdict::kFault) return false;
  ++(v == runtime::Verdict::kOverBudget ? bs.overruns : bs.faults);
  if (rp.overruns == 0 || now_ - rp.window_start > options_.overrun_window_ns) {
    rp.window_start = now_;
    rp.overruns = 0;
  }
  if (++rp.overruns < options_.max_overruns) return false;
  rp.disabled = true;
  stats_.disabled_rules.push_back(rp.rule);
  const Rule& rule = rules_.rules[rp.rule];
  std::string reason = fmt::format("{} {} predicate evaluations{} failed within {} s of event time; the last: {}",
                                   rp.overruns, runtime::BackendName(p.backend()),
                                   k == kUserPredicate ? " of its user-written predicate" : "",
                                   options_.overrun_window_ns / 1'000'000'000, p.last_error());
  Alert alert;
  alert.ts = event.ts_mono_ns();
  alert.event_id = event.event_id();
  alert.rule = rp.rule;
  alert.ordinal = stats_.alerts_by_rule[rp.rule]++;
  alert.json = RenderRuleDisabled(rule, event, p.backend(), reason);
  out_->push_back(std::move(alert));
  return false;
}

template <class Evaluate>
auto DetectionEngine::Costed(uint32_t rule, Evaluate evaluate) {
  RuleCost& cost = stats_.cost_by_rule[rule];
  ++cost.evaluations;
  if (++cost_tick_ % kCostSample != 0) return evaluate();
  auto t0 = std::chrono::steady_clock::now();
  auto result = evaluate();
  cost.sampled_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  ++cost.sampled;
  return result;
}

void DetectionEngine::Process(const Event& event, std::vector<Alert>& out) {
  ++stats_.events;
  out_ = &out;
  now_ = event.ts_mono_ns();
  if (lineage_) lineage_->Observe(event);
  if (single_rules_ > 0 && (workers_ == 1 || bus::PartitionOf(event.entity_key(), workers_) == worker_)) {
    ++stats_.single_events;
    stats_.naive_evaluations += single_rules_;
    candidates_.clear();
    index_.Candidates(event, candidates_);
    for (uint32_t rule : candidates_) {
      ++stats_.evaluations;
      RulePredicates* rp = rule_predicates_[rule].get();
      bool matched = Costed(rule, [&] {
        bool m;
        if (rp != nullptr && rp->disabled) {
          m = false;
        } else if (rp != nullptr && !rp->programs.empty()) {
          m = RunPredicate(*rp, 0, event);
        } else {
          evaluator_.set_lineage(oracles_[rule]);
          m = Sampled(stats_.backends[static_cast<size_t>(runtime::Backend::kNative)],
                      [&] { return evaluator_.Matches(*filters_[rule], event); });
        }
        if (m && rp != nullptr && rp->user) m = RunPredicate(*rp, kUserPredicate, event);
        return m;
      });
      if (!matched) continue;
      Alert alert;
      alert.ts = event.ts_mono_ns();
      alert.event_id = event.event_id();
      alert.rule = rule;
      alert.ordinal = stats_.alerts_by_rule[rule]++;
      std::span<const std::string> notes;
      if (rp != nullptr && rp->user) notes = rp->user->notes();
      alert.json = RenderAlert(rules_.rules[rule], {&event}, {}, registry_, notes);
      out.push_back(std::move(alert));
    }
  }
  if (sequences_.empty()) return;
  std::fill(masks_.begin(), masks_.end(), 0);
  candidates_.clear();
  stage_index_.Candidates(event, candidates_);
  for (uint32_t c : candidates_) masks_[c / 64] |= uint64_t{1} << (c % 64);
  const uint64_t ts = event.ts_mono_ns();
  for (size_t i = 0; i < sequences_.size(); ++i) {
    SequenceRule& s = sequences_[i];
    if (s.indexed && masks_[i] == 0 && ts <= next_deadlines_[i]) continue;  // nothing to match or expire
    if (const RulePredicates* rp = rule_predicates_[s.rule].get(); rp != nullptr && rp->disabled) continue;
    matches_.clear();
    Costed(s.rule, [&] {
      s.runner->Process(event, matches_, s.indexed ? masks_[i] : nfa::SequenceRunner::kAllTerms);
      return true;
    });
    next_deadlines_[i] = s.runner->next_deadline();
    for (nfa::SequenceMatch& m : matches_) EmitSequence(s.rule, m, out);
  }
  event_copy_.Release();
  join_keys_.Release();
}

void DetectionEngine::Finish(std::vector<Alert>& out) {
  out_ = &out;
  for (SequenceRule& s : sequences_) {
    if (const RulePredicates* rp = rule_predicates_[s.rule].get(); rp != nullptr && rp->disabled) continue;
    matches_.clear();
    s.runner->Finish(matches_);
    for (nfa::SequenceMatch& m : matches_) EmitSequence(s.rule, m, out);
  }
}

void DetectionEngine::EmitSequence(uint32_t rule, nfa::SequenceMatch& match, std::vector<Alert>& out) {
  std::vector<const Event*> events;
  for (const EventRef& e : match.events) events.push_back(e.get());
  Alert alert;
  alert.ts = match.decided_ts;
  alert.event_id = match.decided_event_id;
  alert.rule = rule;
  alert.ordinal = stats_.alerts_by_rule[rule]++;
  alert.json = RenderAlert(rules_.rules[rule], events, match.key.values, registry_);
  out.push_back(std::move(alert));
}

uint64_t DetectionEngine::AdoptState(DetectionEngine& old) {
  uint64_t adopted = 0;
  for (size_t i = 0; i < sequences_.size(); ++i) {
    const Rule& rule = rules_.rules[sequences_[i].rule];
    for (SequenceRule& o : old.sequences_) {
      const Rule& was = old.rules_.rules[o.rule];
      if (was.fingerprint != rule.fingerprint || was.id != rule.id) continue;
      uint64_t before = sequences_[i].runner->stats().entries;
      sequences_[i].runner->AdoptState(*o.runner);
      adopted += sequences_[i].runner->stats().entries - before;
      next_deadlines_[i] = 0;  // let the runner see the next event (its deadlines came along)
      break;
    }
  }
  return adopted;
}

EngineStats DetectionEngine::stats() const {
  EngineStats s = stats_;
  if (lineage_) {
    s.lineage_processes = lineage_->processes();
    s.lineage_evicted = lineage_->evicted();
  }
  for (const SequenceRule& seq : sequences_) {
    s.state.Add(seq.runner->stats());
    // Stages on the native backend: the other backends count theirs in SequenceTerm.
    s.backends[static_cast<size_t>(runtime::Backend::kNative)].evaluations += seq.runner->native_evaluations();
  }
  return s;
}

namespace {

// `{"@timestamp":...,"event":{"kind":"alert"},"rule":{...}`: what every alert line starts with.
std::string AlertHead(const Rule& rule, const Event& at, const AlertResponse* response = nullptr) {
  std::string out = "{\"@timestamp\":";
  AppendJsonString(out, FormatTimestamp(static_cast<int64_t>(at.ts_wall_ns())));
  out += R"(,"event":{"kind":"alert")";
  if (response != nullptr) {
    out += ",\"action\":";
    AppendJsonString(out, response->action);
    out += ",\"outcome\":";
    AppendJsonString(out, response->outcome);
  }
  out += R"(},"rule":{"id":)";
  AppendJsonString(out, rule.id);
  out += ",\"name\":";
  AppendJsonString(out, rule.name);
  out += ",\"severity\":";
  AppendJsonString(out, SeverityName(rule.severity));
  out += ",\"tags\":[";
  for (size_t i = 0; i < rule.tags.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, rule.tags[i]);
  }
  out += ']';
  if (!rule.description.empty()) {
    out += ",\"description\":";
    AppendJsonString(out, rule.description);
  }
  if (rule.risk_score) out += fmt::format(",\"risk_score\":{}", *rule.risk_score);
  if (!rule.ruleset.empty()) {
    out += ",\"ruleset\":";
    AppendJsonString(out, rule.ruleset);
  }
  out += '}';
  std::vector<std::string> techniques = rule.techniques();
  if (!techniques.empty()) {  // ECS threat.technique.id; the framework is ATT&CK
    out += R"(,"threat":{"framework":"MITRE ATT&CK","technique":{"id":[)";
    for (size_t i = 0; i < techniques.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(out, techniques[i]);
    }
    out += "]}}";
  }
  return out;
}

}  // namespace

std::string RenderRuleDisabled(const Rule& rule, const Event& event, runtime::Backend backend,
                               std::string_view reason) {
  std::string out = AlertHead(rule, event);
  uint64_t id = Hash64(rule.id + "/disabled");
  out += fmt::format(",\"kestrel\":{{\"alert\":{{\"version\":{},\"id\":\"{:016x}\",\"kind\":\"rule_disabled\","
                     "\"type\":\"kestrel.rule_disabled\",\"backend\":\"{}\",\"reason\":",
                     kAlertVersion, id, runtime::BackendName(backend));
  AppendJsonString(out, reason);
  out += ",\"event_id\":";
  out += std::to_string(event.event_id());
  out += "}}}";
  return out;
}

std::string RenderAlert(const Rule& rule, const std::vector<const Event*>& events,
                        const std::vector<eql::Scalar>& join_key, const SchemaRegistry& registry,
                        std::span<const std::string> notes, const AlertResponse* response) {
  const Event* last = nullptr;
  for (const Event* e : events) {
    if (e != nullptr) last = e;
  }
  uint64_t id = Hash64(rule.id);
  for (const Event* e : events) id = Hash64(&(e != nullptr ? e->header().event_id : id), 8, id);
  std::string out = AlertHead(rule, *last, response);
  // host.* of the last event, as the event has it.
  std::vector<Field> host;
  for (const Field& f : last->fields()) {
    if (registry.name(f.id).starts_with("host.")) host.push_back(f);
  }
  if (!host.empty()) {
    std::string object;
    AppendFieldsJson(object, host, registry);
    out += ',';
    out.append(object, 1, object.size() - 2);  // {"host":{...}} without its braces
  }
  out += fmt::format(R"(,"kestrel":{{"alert":{{"version":{},"id":"{:016x}","kind":"{}","join_keys":)",
                     kAlertVersion, id, response != nullptr ? "response" : rule.is_sequence() ? "sequence" : "event");
  eql::AppendScalarsJson(out, join_key);
  if (!notes.empty()) {
    out += ",\"notes\":[";
    for (size_t i = 0; i < notes.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(out, notes[i]);
    }
    out += ']';
  }
  if (response != nullptr) {
    out += R"(,"response":{"mechanism":)";
    AppendJsonString(out, response->mechanism);
    if (!response->detail.empty()) {
      out += ",\"detail\":";
      AppendJsonString(out, response->detail);
    }
    out += '}';
  }
  out += ",\"events\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) out += ',';
    if (events[i] == nullptr) {
      out += "null";
    } else {
      AppendEventJson(out, *events[i], registry);
    }
  }
  out += "]}}}";
  return out;
}

}  // namespace kestrel::engine
