// `kestrel replay`: runs a rule set over recorded events, sorted by (ts_mono_ns, event_id), and
// writes the alerts; `--verify` runs again with another thread count and on every other predicate
// backend, and compares.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "cli/rule_setup.h"
#include "engine/engine_config.h"
#include "engine/rule.h"
#include "event/event_builder.h"
#include "event/file_io.h"
#include "event/ndjson.h"
#include "replay/replay.h"

namespace kestrel::cli {
namespace {

struct ReplayCommandOptions {
  InputOptions input;
  RuleSetupOptions setup;
  std::string output = "-";
  size_t threads = 1;
  std::string metrics;  // --metrics FILE
  bool verify = false;
};

std::string Bytes(uint64_t n) {
  if (n >= (1ull << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(n) / (1ull << 30));
  if (n >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1ull << 20));
  if (n >= (1ull << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(n) / (1ull << 10));
  return fmt::format("{} B", n);
}

void PrintSummary(const replay::ReplaySummary& s, const engine::RuleSet& rules, size_t threads) {
  double rate = s.seconds > 0 ? static_cast<double>(s.events) / s.seconds : 0;
  fmt::print(stderr, "replay: {} events, {} alerts in {:.3f} s ({:.0f} events/s, {} thread{})\n", s.events, s.alerts,
             s.seconds, rate, threads, threads == 1 ? "" : "s");
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    uint64_t n = i < s.engine.alerts_by_rule.size() ? s.engine.alerts_by_rule[i] : 0;
    if (n > 0) fmt::print(stderr, "  {}: {} alert{}\n", rules.rules[i].id, n, n == 1 ? "" : "s");
  }
  const engine::EngineStats& e = s.engine;
  if (e.naive_evaluations > 0) {
    fmt::print(stderr, "  single-event rules: {} evaluations instead of {} (the rule index saved {:.1f}%)\n",
               e.evaluations, e.naive_evaluations,
               100.0 * static_cast<double>(e.naive_evaluations - e.evaluations) / static_cast<double>(e.naive_evaluations));
  }
  const nfa::StateStats& st = e.state;
  fmt::print(stderr, "  sequence state: {} pending at the end, peak {} entries / {}; evicted:", st.entries,
             st.peak_entries, Bytes(st.peak_bytes));
  for (size_t r = 0; r < nfa::kEvictReasons; ++r) {
    fmt::print(stderr, " {} {}", nfa::EvictReasonName(static_cast<nfa::EvictReason>(r)), st.evicted[r]);
  }
  fmt::print(stderr, "\n  bus: {} events dropped, {} backpressure waits\n", s.bus.dropped_events,
             s.bus.backpressure_waits);
  if (e.lineage_processes > 0) {
    fmt::print(stderr, "  lineage table: {} processes, {} forgotten for capacity\n", e.lineage_processes,
               e.lineage_evicted);
  }
  for (runtime::Backend b : runtime::kAllBackends) {
    const engine::BackendStats& bs = e.backends[static_cast<size_t>(b)];
    auto n = static_cast<size_t>(std::count_if(rules.rules.begin(), rules.rules.end(),
                                               [&](const engine::Rule& r) { return r.effective_backend == b; }));
    if (n == 0 && bs.evaluations == 0) continue;
    fmt::print(stderr, "  backend {}: {} rule{}, {} evaluations", runtime::BackendName(b), n, n == 1 ? "" : "s",
               bs.evaluations);
    if (bs.latency_ns.count() > 0) {
      fmt::print(stderr, ", latency p50 {} ns p99 {} ns p99.9 {} ns ({} sampled)", bs.latency_ns.Percentile(0.5),
                 bs.latency_ns.Percentile(0.99), bs.latency_ns.Percentile(0.999), bs.latency_ns.count());
    }
    if (b != runtime::Backend::kNative) fmt::print(stderr, ", {} over budget, {} faults", bs.overruns, bs.faults);
    fmt::print(stderr, "\n");
  }
  for (uint32_t r : e.disabled_rules) {
    fmt::print(stderr, "  rule {} was disabled (budget overruns or faults; see its kestrel.rule_disabled alert)\n",
               rules.rules[r].id);
  }
  if (e.backend_errors > 0) {
    fmt::print(stderr, "  {} rule instances could not load their predicates and ran natively\n", e.backend_errors);
  }
}

// The run's counters as one JSON object (--metrics): what the summary prints, for machines.
std::string MetricsJson(const replay::ReplaySummary& s, const engine::RuleSet& rules, size_t threads) {
  const engine::EngineStats& e = s.engine;
  std::string out = fmt::format(
      "{{\"kestrel.metrics.version\":1,\"events\":{},\"alerts\":{},\"seconds\":{:.6f},\"threads\":{},"
      "\"evaluations\":{},\"naive_evaluations\":{},\"alerts_by_rule\":{{",
      s.events, s.alerts, s.seconds, threads, e.evaluations, e.naive_evaluations);
  bool first = true;
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    uint64_t n = i < e.alerts_by_rule.size() ? e.alerts_by_rule[i] : 0;
    if (n == 0) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, rules.rules[i].id);
    out += fmt::format(":{}", n);
  }
  const nfa::StateStats& st = e.state;
  out += fmt::format(R"(}},"sequence_state":{{"entries":{},"peak_entries":{},"peak_bytes":{},"evicted":{{)",
                     st.entries, st.peak_entries, st.peak_bytes);
  for (size_t r = 0; r < nfa::kEvictReasons; ++r) {
    out += fmt::format("{}\"{}\":{}", r > 0 ? "," : "", nfa::EvictReasonName(static_cast<nfa::EvictReason>(r)),
                       st.evicted[r]);
  }
  out += fmt::format("}}}},\"bus\":{{\"dropped_events\":{},\"backpressure_waits\":{}}},"
                     "\"lineage\":{{\"processes\":{},\"evicted\":{}}},\"backends\":{{",
                     s.bus.dropped_events, s.bus.backpressure_waits, e.lineage_processes, e.lineage_evicted);
  for (runtime::Backend b : runtime::kAllBackends) {
    const engine::BackendStats& bs = e.backends[static_cast<size_t>(b)];
    auto n = static_cast<size_t>(std::count_if(rules.rules.begin(), rules.rules.end(),
                                               [&](const engine::Rule& r) { return r.effective_backend == b; }));
    out += fmt::format("{}\"{}\":{{\"rules\":{},\"evaluations\":{},\"over_budget\":{},\"faults\":{},"
                       "\"latency_ns\":{{\"sampled\":{},\"p50\":{},\"p99\":{},\"p999\":{}}}}}",
                       b == runtime::Backend::kNative ? "" : ",", runtime::BackendName(b), n, bs.evaluations,
                       bs.overruns, bs.faults, bs.latency_ns.count(), bs.latency_ns.Percentile(0.5),
                       bs.latency_ns.Percentile(0.99), bs.latency_ns.Percentile(0.999));
  }
  out += "},\"disabled_rules\":[";
  for (size_t i = 0; i < e.disabled_rules.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, rules.rules[e.disabled_rules[i]].id);
  }
  out += fmt::format("],\"backend_errors\":{}}}\n", e.backend_errors);
  return out;
}

int RunReplay(const ReplayCommandOptions& o) {
  // Every event first: replay sorts them, and rules compile against the fields they have.
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch store;
  EventBuilder copier(&store.arena());
  std::vector<Event> events;
  auto read = ReadInputs(o.input, registry, [&](const EventBatch& batch) -> Result<Flow> {
    for (const Event& e : batch) events.push_back(copier.Copy(e));
    return Flow::kContinue;
  }, "reading");
  if (!read) {
    fmt::print(stderr, "error: {}\n", read.error().ToString());
    return kExitFailure;
  }
  if (!std::is_sorted(events.begin(), events.end(), OrderedBefore)) {
    std::stable_sort(events.begin(), events.end(), OrderedBefore);
  }
  auto setup = SetUpRules(o.setup, registry);
  if (!setup) {
    fmt::print(stderr, "error: {}\n", setup.error().ToString());
    return kExitFailure;
  }
  const engine::RuleSet* rules = &setup->rules;
  runtime::Backend backend = setup->backend;
  const engine::EngineConfig& config = setup->config;
  replay::ReplayOptions options;
  options.threads = o.threads;
  options.engine = config.Options(setup->sequences);
  options.chunk_events = config.chunk_events;
  options.queue_chunks = config.queue_chunks;

  auto output = OutputFile::Open(o.output);
  if (!output) {
    fmt::print(stderr, "error: {}\n", output.error().ToString());
    return kExitFailure;
  }
  std::vector<std::string> lines;  // with --verify: the alerts, to show where a run differs
  auto sink = [&](std::string_view line) {
    if (o.verify) lines.emplace_back(line);
    return (*output)->Write(line);
  };
  auto summary = replay::Run(*rules, registry, events, options, sink);
  if (summary) {
    if (auto closed = (*output)->Close(); !closed) summary = tl::unexpected(closed.error());
  }
  if (!summary) {
    fmt::print(stderr, "error: {}\n", summary.error().ToString());
    return kExitFailure;
  }
  PrintSummary(*summary, *rules, options.threads);
  if (!o.metrics.empty()) {
    if (Status written = OutputFile::WriteAll(o.metrics, MetricsJson(*summary, *rules, options.threads)); !written) {
      fmt::print(stderr, "error: {}\n", written.error().ToString());
      return kExitFailure;
    }
  }
  if (!o.verify) return kExitOk;

  // The same rules again: with another thread count, then on each other backend.
  struct Run {
    std::string what;
    runtime::Backend backend;
    size_t threads;
  };
  std::vector<Run> runs = {{fmt::format("{} thread{}", o.threads == 1 ? 2 : 1, o.threads == 1 ? "s" : ""), backend,
                            o.threads == 1 ? size_t{2} : size_t{1}}};
  for (runtime::Backend b : runtime::kAllBackends) {
    if (b != backend) runs.push_back({fmt::format("backend {}", runtime::BackendName(b)), b, o.threads});
  }
  for (const Run& run : runs) {
    if (auto chosen = ChooseBackends(setup->rules, run.backend, registry, true); !chosen) {
      fmt::print(stderr, "error: {}\n", chosen.error().ToString());
      return kExitFailure;
    }
    replay::ReplayOptions other = options;
    other.threads = run.threads;
    std::vector<std::string> again_lines;
    auto again = replay::Run(*rules, registry, events, other, [&](std::string_view line) {
      again_lines.emplace_back(line);
      return Ok();
    });
    if (!again) {
      fmt::print(stderr, "error: {}\n", again.error().ToString());
      return kExitFailure;
    }
    if (again->alert_hash != summary->alert_hash || again->alerts != summary->alerts) {
      fmt::print(stderr, "verify: FAILED: {} gave {} alerts (hash {:016x}), {} gave {} (hash {:016x})\n",
                 "the first run", summary->alerts, summary->alert_hash, run.what, again->alerts, again->alert_hash);
      size_t k = 0;
      while (k < lines.size() && k < again_lines.size() && lines[k] == again_lines[k]) ++k;
      fmt::print(stderr, "verify: alert {} differs:\n  first run: {}  {}: {}", k + 1,
                 k < lines.size() ? lines[k] : "(none)\n", run.what, k < again_lines.size() ? again_lines[k] : "(none)\n");
      return kExitFailure;
    }
    fmt::print(stderr, "verify: {} wrote identical alerts ({} alerts, hash {:016x})\n", run.what, again->alerts,
               again->alert_hash);
  }
  return kExitOk;
}

}  // namespace

CommandFn AddReplayCommand(CLI::App& app) {
  auto options = std::make_shared<ReplayCommandOptions>();
  CLI::App* cmd = app.add_subcommand("replay", "Run detection rules over recorded events and write the alerts");
  cmd->add_option("-r,--rules", options->setup.rules, "A rule file (.eql, .yaml, .toml, .json) or a rule pack folder")->required();
  cmd->add_option("-i,--input", options->input.inputs, "Event file (NDJSON or .klog; '-' for stdin); repeat for more")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", options->output, "Alert file (NDJSON; '-' for stdout)")->capture_default_str();
  cmd->add_option("-t,--threads", options->threads, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("-c,--config", options->setup.config, "Configuration file (YAML, TOML or JSON; its engine sections)");
  cmd->add_option("--host-id", options->setup.host_id, "The host id rollouts are decided for (default: /etc/machine-id)");
  cmd->add_option("--profile", options->input.profile, "JSON input profile")
      ->check(CLI::IsMember({"ecs", "endgame"}))
      ->capture_default_str();
  cmd->add_option("--dialect", options->setup.dialect, "Rule language dialect")
      ->check(CLI::IsMember({"es", "eql"}))
      ->capture_default_str();
  cmd->add_flag("--skip-bad", options->input.skip_bad, "Skip records that fail to decode, and report how many");
  cmd->add_flag("--skip-bad-rules", options->setup.skip_bad_rules, "Run the rules that compile; report the others");
  cmd->add_option("--backend", options->setup.backend,
                 "Predicate backend for rules that do not choose one (default: the config's, else native)")
      ->check(CLI::IsMember({"native", "wasm", "lua"}));
  cmd->add_option("--metrics", options->metrics,
                 "Write the run's counters (per rule, per backend with latency percentiles, state, bus) as JSON");
  cmd->add_flag("--verify", options->verify,
                "Run again with another thread count and on every other backend; fail unless the alerts are "
                "byte-identical");
  return [options] { return RunReplay(*options); };
}

}  // namespace kestrel::cli
