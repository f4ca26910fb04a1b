#include "cli/run_metrics.h"

#include <fmt/format.h>

#include "event/ndjson.h"

namespace kestrel::cli {

Result<std::unique_ptr<RunMetrics>> RunMetrics::Start(const std::string& address, const sinks::SinkSet* sinks) {
  std::unique_ptr<RunMetrics> m(new RunMetrics());
  m->sinks_ = sinks;
  m->Beat();
  m->collector_ = m->registry_.AddCollector([mp = m.get()](obs::MetricWriter& w) { mp->Collect(w); });
  KESTREL_ASSIGN_OR_RETURN(m->server_, obs::MetricsServer::Start(address, m->registry_, [mp = m.get()] { return mp->Health(); }));
  return m;
}

void RunMetrics::Publish(RunSnapshot snapshot) {
  std::lock_guard lock(mu_);
  last_ = std::move(snapshot);
}

obs::HealthStatus RunMetrics::Health() {
  int64_t stalled_ns = Now() - beat_ns_.load();
  std::lock_guard lock(mu_);
  if (stalled_ns > 5'000'000'000) {
    return {false, fmt::format("the event loop has not run for {:.1f} s", static_cast<double>(stalled_ns) / 1e9)};
  }
  std::string detail = fmt::format("{{\"pack\":");
  AppendJsonString(detail, last_.reloads.pack);
  detail += fmt::format(R"(,"generation":{},"events":{},"lost":{},"alerts":{},"reload_failures":{})",
                        last_.reloads.generation, last_.events_out, last_.lost, last_.alerts, last_.reloads.failures);
  if (!last_.reloads.last_error.empty()) {
    detail += ",\"last_reload_error\":";
    AppendJsonString(detail, last_.reloads.last_error);
  }
  detail += '}';
  return {true, detail};
}

void RunMetrics::Collect(obs::MetricWriter& w) {
  std::lock_guard lock(mu_);
  const RunSnapshot& s = last_;
  const obs::Labels source = {{"source", s.source}};
  uint64_t in = 0;
  for (const auto& [type, n] : s.events_by_type) {
    in += n;
    w.Counter("kestrel_events_by_type_total", "Events read from the source, by record type",
              {{"source", s.source}, {"type", type}}, n);
  }
  w.Counter("kestrel_events_in_total", "Events read from the source", source, in);
  w.Counter("kestrel_events_out_total", "Events handed to the rules", source, s.events_out);
  w.Counter("kestrel_events_dropped_total", "Events lost before the rules saw them, by reason",
            {{"source", s.source}, {"reason", "ring_buffer_full"}}, s.lost);
  w.Counter("kestrel_events_dropped_total", "Events lost before the rules saw them, by reason",
            {{"source", s.source}, {"reason", "malformed"}}, s.malformed);
  w.Counter("kestrel_ring_buffer_lost_total", "Records the kernel ring buffer had no room for", source, s.lost);
  w.Counter("kestrel_alerts_total", "Alert lines written (detections and responses)", {}, s.alerts);
  for (const auto& [rule, n] : s.matches) {
    w.Counter("kestrel_rule_matches_total", "Alerts of each rule", {{"rule", rule}}, n);
  }
  for (const auto& [rule, cost] : s.costs) {
    w.Counter("kestrel_rule_evaluations_total", "Evaluations of each rule", {{"rule", rule}}, cost.evaluations);
    w.Gauge("kestrel_rule_evaluation_seconds_total",
            "Time spent evaluating each rule (one evaluation in 64 is timed; the total is estimated from them)",
            {{"rule", rule}}, cost.seconds());
  }
  w.Gauge("kestrel_state_entries", "Partial sequence matches held", {}, static_cast<double>(s.state.entries));
  w.Gauge("kestrel_state_bytes", "Bytes of sequence state held", {}, static_cast<double>(s.state.bytes));
  for (size_t r = 0; r < nfa::kEvictReasons; ++r) {
    w.Counter("kestrel_state_evictions_total", "Partial sequence matches evicted, by reason",
              {{"reason", std::string(nfa::EvictReasonName(static_cast<nfa::EvictReason>(r)))}}, s.state.evicted[r]);
  }
  w.Gauge("kestrel_lineage_processes", "Processes in the lineage table", {}, static_cast<double>(s.lineage_processes));
  w.Gauge("kestrel_process_table_processes", "Processes in the live source's process table", {},
          static_cast<double>(s.process_table));
  w.Gauge("kestrel_queue_depth", "Items waiting in a queue", {{"queue", "alerts"}}, static_cast<double>(s.pending_alerts));
  for (runtime::Backend b : runtime::kAllBackends) {
    const engine::BackendStats& bs = s.backends[static_cast<size_t>(b)];
    obs::Labels backend = {{"backend", std::string(runtime::BackendName(b))}};
    w.Counter("kestrel_predicate_evaluations_total", "Predicate evaluations, by backend", backend, bs.evaluations);
    w.Counter("kestrel_predicate_budget_overruns_total", "Wasm / Lua evaluations that ran out of their budget", backend,
              bs.overruns);
    w.Counter("kestrel_predicate_faults_total", "Wasm / Lua evaluations that faulted", backend, bs.faults);
  }
  const rules::ReloadStats& r = s.reloads;
  w.Counter("kestrel_rule_reloads_total", "Rule pack reloads, by result", {{"result", "success"}}, r.successes);
  w.Counter("kestrel_rule_reloads_total", "Rule pack reloads, by result", {{"result", "failure"}}, r.failures);
  w.Counter("kestrel_rule_reloads_total", "Rule pack reloads, by result", {{"result", "unchanged"}}, r.unchanged);
  w.Gauge("kestrel_rule_pack_info", "The rule pack in use (value 1)",
          {{"pack", s.pack_name}, {"version", s.pack_version}, {"hash", fmt::format("{:016x}", r.pack_hash)},
           {"generation", std::to_string(r.generation)}},
          1);
  w.Gauge("kestrel_rules_loaded", "Rules in the pack in use", {}, static_cast<double>(s.matches.size()));
  for (const auto& [outcome, n] : s.responses) {
    w.Counter("kestrel_responses_total", "Responses to matches, by outcome", {{"outcome", outcome}}, n);
  }
  if (sinks_ != nullptr) {
    auto all = sinks_->stats();
    std::map<std::string, int> seen;
    for (const auto& entry : all) ++seen[entry.first];
    std::map<std::string, int> nth;
    for (const auto& [kind, st] : all) {
      // Two sinks of a kind are told apart by their place among them: file#1, file#2.
      std::string name = seen[kind] == 1 ? kind : fmt::format("{}#{}", kind, ++nth[kind]);
      w.Counter("kestrel_sink_alerts_total", "Alerts given to each sink, by outcome", {{"sink", name}, {"outcome", "written"}},
                st.written);
      w.Counter("kestrel_sink_alerts_total", "Alerts given to each sink, by outcome", {{"sink", name}, {"outcome", "dropped"}},
                st.dropped);
      w.Counter("kestrel_sink_failures_total", "Alerts each sink lost to an error", {{"sink", name}}, st.failures);
      w.Counter("kestrel_sink_retries_total", "Attempts each sink made again", {{"sink", name}}, st.retries);
      w.Gauge("kestrel_queue_depth", "Items waiting in a queue", {{"queue", "sink:" + name}},
              static_cast<double>(st.queue_depth));
    }
  }
}

}  // namespace kestrel::cli
