#include "engine/detection_engine.h"

#include <fmt/format.h>

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
}

DetectionEngine::DetectionEngine(const RuleSet& rules, const SchemaRegistry& registry, const EngineOptions& options,
                                 size_t worker, size_t workers)
    : rules_(rules), registry_(registry), worker_(worker), workers_(workers == 0 ? 1 : workers) {
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
        auto runner = std::make_unique<nfa::SequenceRunner>(*rule.compiled, runner_options);
        runner->set_shared_copy(&event_copy_);
        runner->set_shared_keys(&join_keys_);
        bool indexed = runner->TermCount() <= 64;
        sequences_.push_back({static_cast<uint32_t>(i), std::move(runner), indexed});
      }
      continue;
    }
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
}

void DetectionEngine::Process(const Event& event, std::vector<Alert>& out) {
  ++stats_.events;
  if (single_rules_ > 0 && (workers_ == 1 || bus::PartitionOf(event.entity_key(), workers_) == worker_)) {
    ++stats_.single_events;
    stats_.naive_evaluations += single_rules_;
    candidates_.clear();
    index_.Candidates(event, candidates_);
    for (uint32_t rule : candidates_) {
      ++stats_.evaluations;
      if (!evaluator_.Matches(*filters_[rule], event)) continue;
      Alert alert;
      alert.ts = event.ts_mono_ns();
      alert.event_id = event.event_id();
      alert.rule = rule;
      alert.ordinal = stats_.alerts_by_rule[rule]++;
      alert.json = RenderAlert(rules_.rules[rule], {&event}, {}, registry_);
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
    matches_.clear();
    s.runner->Process(event, matches_, s.indexed ? masks_[i] : nfa::SequenceRunner::kAllTerms);
    next_deadlines_[i] = s.runner->next_deadline();
    for (nfa::SequenceMatch& m : matches_) EmitSequence(s.rule, m, out);
  }
  event_copy_.Release();
  join_keys_.Release();
}

void DetectionEngine::Finish(std::vector<Alert>& out) {
  for (SequenceRule& s : sequences_) {
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

EngineStats DetectionEngine::stats() const {
  EngineStats s = stats_;
  for (const SequenceRule& seq : sequences_) s.state.Add(seq.runner->stats());
  return s;
}

std::string RenderAlert(const Rule& rule, const std::vector<const Event*>& events,
                        const std::vector<eql::Scalar>& join_key, const SchemaRegistry& registry) {
  const Event* last = nullptr;
  for (const Event* e : events) {
    if (e != nullptr) last = e;
  }
  uint64_t id = Hash64(rule.id);
  for (const Event* e : events) id = Hash64(&(e != nullptr ? e->header().event_id : id), 8, id);
  std::string out = "{\"@timestamp\":";
  AppendJsonString(out, FormatTimestamp(static_cast<int64_t>(last->ts_wall_ns())));
  out += ",\"event\":{\"kind\":\"alert\"},\"rule\":{\"id\":";
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
  out += "]}";
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
  out += fmt::format(",\"kestrel\":{{\"alert\":{{\"version\":{},\"id\":\"{:016x}\",\"kind\":\"{}\",\"join_keys\":",
                     kAlertVersion, id, rule.is_sequence() ? "sequence" : "event");
  eql::AppendScalarsJson(out, join_key);
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
