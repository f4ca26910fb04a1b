// `kestrel run`: the live source. Loads the BPF programs, normalizes their records into ECS
// events, runs the rules on them as they come and writes the alerts; optionally records every
// event (.klog or NDJSON) so that `kestrel replay` of the recording gives the same alerts.
// SIGINT / SIGTERM (or --duration) stop it: the programs are detached, the ring is drained,
// pending sequences are decided, the outputs flushed, and the summary printed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/agent_config.h"
#include "cli/rule_setup.h"
#include "cli/run_metrics.h"
#include "engine/detection_engine.h"
#include "eql/optimizer.h"
#include "event/event_batch.h"
#include "event/event_builder.h"
#include "event/event_writer.h"
#include "event/file_io.h"
#include "event/ndjson.h"
#include "enforce/response_engine.h"
#include "obs/logging.h"
#include "obs/tracing.h"
#include "rules/rule_manager.h"
#include "sources/ebpf/ebpf_source.h"
#include "sources/ebpf/normalizer.h"
#include "sources/ebpf/process_table.h"

// The record types (bpf/records.h), as interest bits.
#include "sources/ebpf/bpf/records.h"

namespace kestrel::cli {
namespace {

struct RunCommandOptions {
  RuleSetupOptions setup;  // rules, config, dialect, backend, host_id, skip_bad_rules
  std::string output;      // empty: the configuration's outputs (stdout without one)
  std::string metrics_address;  // empty: the configuration's (127.0.0.1:9464); "off"
  std::string trace;            // --trace FILE: spans of sampled events (JSON lines)
  double trace_rate = -1;       // --trace-sample-rate; < 0: the configuration's
  std::string log_level;
  bool no_watch = false;
  std::string record;         // --record FILE (.klog or .ndjson)
  std::string metrics;        // --metrics FILE (JSON)
  uint32_t ring_bytes = 8u << 20;
  double duration_s = 0;      // 0: until SIGINT / SIGTERM
  std::string syscall_tracepoints = "auto";  // auto | per-syscall | raw
  // Responses (docs/response.md).
  std::vector<std::string> enforce_mounts;
  std::string enforce_cgroup;
  double deadline_ms = 0;  // 0: the configuration's (100 ms by default)
  bool fail_closed = false;
  std::vector<std::string> allow_executables;
  bool no_lsm = false;
};

std::atomic<bool> g_stop{false};
// How often the ring is read when the programs do not wake the reader (they do once it is a
// quarter full): the most a record waits before the rules see it.
constexpr int kPollMs = 20;
extern "C" void OnStopSignal(int) { g_stop.store(true); }
std::atomic<rules::RuleManager*> g_rule_manager{nullptr};
extern "C" void OnReloadSignal(int) {
  if (rules::RuleManager* m = g_rule_manager.load()) m->RequestReload();
}

constexpr uint64_t Bit(int type) { return uint64_t{1} << type; }
constexpr uint64_t kProcessTypes = Bit(KR_EXEC) | Bit(KR_FORK) | Bit(KR_EXIT) | Bit(KR_SETUID) | Bit(KR_SETGID) |
                                   Bit(KR_CAPSET) | Bit(KR_PTRACE) | Bit(KR_MEMFD);
constexpr uint64_t kFileTypes = Bit(KR_OPEN) | Bit(KR_RENAME) | Bit(KR_UNLINK) | Bit(KR_CHMOD) | Bit(KR_CHOWN);
constexpr uint64_t kNetworkTypes = Bit(KR_CONNECT) | Bit(KR_ACCEPT) | Bit(KR_BIND) | Bit(KR_LISTEN);

// Interest pushdown v1 (docs/live.md): the record types some rule's stage can match, by its event
// category and the event.action / event.type it requires (exec, fork, exit and chdir always: they
// keep the process table); when every stage that can match a file record requires `file.path` to
// equal a literal or match a glob with a literal head, those heads; when every stage that can
// match a connect requires `destination.port` values, those ports. BPF drops the rest.
struct Interest {
  uint64_t mask = 0;
  std::vector<ebpf::EbpfOptions::Prefix> file_prefixes;
  std::string no_file_filter;  // why there is none
  std::vector<uint16_t> connect_ports;
  std::string no_port_filter;
};

// The destination ports a stage requires (`destination.port == 22`, `destination.port in (...)`
// in its top-level conjunction), or none when it does not require one (or one is not a port).
std::vector<uint16_t> RequiredPorts(const eql::Program& p, FieldId port) {
  std::vector<uint16_t> ports;
  for (int64_t v : eql::RequiredIntegers(p, port)) {
    if (v < 0 || v > 65535) return {};
    ports.push_back(static_cast<uint16_t>(v));
  }
  return ports;
}

// Fewer, shorter prefixes that pass at least the same paths: one that another starts with is
// dropped, and past the filter's size neighbours are replaced by their common head ("/etc/app1/",
// "/etc/app2/" -> "/etc/app") while it is a directory path.
void MergePrefixes(std::vector<ebpf::EbpfOptions::Prefix>& prefixes) {
  for (auto& p : prefixes) {
    if (!p.insensitive) continue;
    std::transform(p.bytes.begin(), p.bytes.end(), p.bytes.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; });
  }
  auto keep_shortest = [&] {
    std::sort(prefixes.begin(), prefixes.end(), [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
    std::vector<ebpf::EbpfOptions::Prefix> out;
    for (auto& p : prefixes) {
      if (!out.empty() && p.bytes.starts_with(out.back().bytes)) {
        out.back().insensitive = out.back().insensitive || p.insensitive;
        continue;
      }
      out.push_back(std::move(p));
    }
    prefixes = std::move(out);
  };
  keep_shortest();
  while (prefixes.size() > KR_PREFIXES) {
    size_t best = prefixes.size(), best_len = 0;
    for (size_t k = 0; k + 1 < prefixes.size(); ++k) {
      const std::string& a = prefixes[k].bytes;
      const std::string& b = prefixes[k + 1].bytes;
      size_t n = 0;
      while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
      if (n > best_len) {
        best = k;
        best_len = n;
      }
    }
    if (best == prefixes.size() || best_len < 2) return;  // nothing in common: the caller gives up
    prefixes[best].bytes.resize(best_len);
    prefixes[best].insensitive = prefixes[best].insensitive || prefixes[best + 1].insensitive;
    prefixes.erase(prefixes.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    keep_shortest();
  }
}

// The record types a stage of `category` can match: those whose events have an event.action /
// event.type the stage requires (docs/live.md's table), or all of the category's.
uint64_t TypesOf(const eql::Program& p, uint64_t category_types, const SchemaRegistry& registry) {
  static const std::pair<std::string_view, uint64_t> kActions[] = {
      {"exec", Bit(KR_EXEC)}, {"fork", Bit(KR_FORK)}, {"end", Bit(KR_EXIT)}, {"setuid", Bit(KR_SETUID)},
      {"setgid", Bit(KR_SETGID)}, {"capset", Bit(KR_CAPSET)}, {"ptrace", Bit(KR_PTRACE)},
      {"memfd_create", Bit(KR_MEMFD)}, {"creation", Bit(KR_OPEN)}, {"modification", Bit(KR_OPEN)},
      {"open", Bit(KR_OPEN)}, {"rename", Bit(KR_RENAME)}, {"deletion", Bit(KR_UNLINK)},
      {"attributes_modified", Bit(KR_CHMOD) | Bit(KR_CHOWN)}, {"connection_attempted", Bit(KR_CONNECT)},
      {"connection_accepted", Bit(KR_ACCEPT)}, {"bind", Bit(KR_BIND)}, {"listen", Bit(KR_LISTEN)}};
  static const std::pair<std::string_view, uint64_t> kTypes[] = {
      {"start", Bit(KR_EXEC) | Bit(KR_FORK) | kNetworkTypes}, {"end", Bit(KR_EXIT)},
      {"change", Bit(KR_SETUID) | Bit(KR_SETGID) | Bit(KR_CAPSET) | Bit(KR_OPEN) | Bit(KR_RENAME) | Bit(KR_CHMOD) |
                     Bit(KR_CHOWN)},
      {"access", Bit(KR_PTRACE) | Bit(KR_OPEN)}, {"creation", Bit(KR_MEMFD) | Bit(KR_OPEN)},
      {"deletion", Bit(KR_UNLINK)}, {"connection", Bit(KR_CONNECT) | Bit(KR_ACCEPT)}};
  std::optional<FieldId> action = registry.Find("event.action"), type = registry.Find("event.type");
  uint64_t types = category_types;
  for (const eql::Prefilter& pf : eql::ExtractPrefilters(p)) {
    bool is_action = action && pf.field == *action, is_type = type && pf.field == *type;
    if ((!is_action && !is_type) || !pf.globs.empty()) continue;
    uint64_t allowed = 0;
    for (const std::string& v : pf.values) {
      using Table = std::span<const std::pair<std::string_view, uint64_t>>;
      for (const auto& [name, bits] : is_action ? Table(kActions) : Table(kTypes)) {
        if (v == name) allowed |= bits;
      }
    }
    types &= allowed;  // each required field narrows the types
  }
  return types;
}

Interest InterestOf(const engine::RuleSet& rules, const SchemaRegistry& registry) {
  Interest in;
  in.mask = Bit(KR_EXEC) | Bit(KR_FORK) | Bit(KR_EXIT) | Bit(KR_CHDIR);
  std::optional<FieldId> path = registry.Find("file.path");
  std::optional<FieldId> port = registry.Find("destination.port");
  for (const engine::Rule& rule : rules.rules) {
    for (const eql::Program* p : rule.Programs()) {
      // `any` and categories no record has: everything their event.action / event.type allows.
      uint64_t category = p->category == "process" ? kProcessTypes
                          : p->category == "file"  ? kFileTypes
                          : p->category == "network" ? kNetworkTypes
                                                     : ebpf::AllRecordTypes();
      uint64_t types = TypesOf(*p, category, registry);
      in.mask |= types;
      if ((types & Bit(KR_CONNECT)) != 0 && in.no_port_filter.empty()) {  // it may match connects
        std::vector<uint16_t> ports = port ? RequiredPorts(*p, *port) : std::vector<uint16_t>{};
        if (ports.empty()) in.no_port_filter = fmt::format("rule {} may match any connection", rule.id);
        in.connect_ports.insert(in.connect_ports.end(), ports.begin(), ports.end());
      }
      if ((types & kFileTypes) == 0 || !in.no_file_filter.empty()) continue;  // it may match file records
      std::vector<ebpf::EbpfOptions::Prefix> heads;
      for (const eql::Prefilter& pf : eql::ExtractPrefilters(*p)) {
        if (!path || pf.field != *path) continue;
        for (const std::string& v : pf.values) heads.push_back({v, pf.insensitive});
        for (const std::string& g : pf.globs) heads.push_back({g.substr(0, g.find_first_of("*?\\")), pf.insensitive});
        break;
      }
      bool usable = !heads.empty() && std::all_of(heads.begin(), heads.end(), [](const auto& h) {
        return h.bytes.size() > 1 && h.bytes[0] == '/';
      });
      if (!usable) {
        in.no_file_filter = fmt::format("rule {} may match any file path", rule.id);
        continue;
      }
      for (auto& h : heads) {
        if (h.bytes.size() > KR_PREFIX_MAX) h.bytes.resize(KR_PREFIX_MAX);  // a shorter head still passes its paths
        in.file_prefixes.push_back(std::move(h));
      }
    }
  }
  if (in.no_file_filter.empty() && (in.mask & kFileTypes) == 0) in.no_file_filter = "no rule looks at files";
  MergePrefixes(in.file_prefixes);
  if (in.no_file_filter.empty() && in.file_prefixes.size() > KR_PREFIXES) {
    in.no_file_filter = fmt::format("{} path prefixes, more than the {} the filter holds", in.file_prefixes.size(),
                                    KR_PREFIXES);
  }
  if (!in.no_file_filter.empty()) in.file_prefixes.clear();
  std::sort(in.connect_ports.begin(), in.connect_ports.end());
  in.connect_ports.erase(std::unique(in.connect_ports.begin(), in.connect_ports.end()), in.connect_ports.end());
  if (in.no_port_filter.empty() && (in.mask & Bit(KR_CONNECT)) == 0) in.no_port_filter = "no rule looks at connections";
  if (in.no_port_filter.empty() && in.connect_ports.size() > KR_PORTS) {
    in.no_port_filter = fmt::format("{} ports, more than the {} the filter holds", in.connect_ports.size(), KR_PORTS);
  }
  if (!in.no_port_filter.empty()) in.connect_ports.clear();
  return in;
}

constexpr const char* kTypeNames[] = {"already_running", "exec", "fork", "exit", "open", "rename", "unlink", "chmod", "chown",
                                      "connect", "accept", "bind", "listen", "setuid", "setgid", "capset", "ptrace",
                                      "memfd_create", "chdir"};
static_assert(std::size(kTypeNames) == KR_TYPE_COUNT);

// The rule set a run follows: its generation (pack + engine), what previous generations counted,
// and the kernel-side filters and responses that depend on the rules.
struct RuleCounts {
  std::map<std::string, uint64_t> matches;
  std::map<std::string, engine::RuleCost> costs;

  // Adds a generation's counters (per rule id) to `this`.
  void Add(const rules::Generation& g) {
    engine::EngineStats es = g.engine->stats();
    for (size_t i = 0; i < g.pack.rules.rules.size(); ++i) {
      const std::string& id = g.pack.rules.rules[i].id;
      matches[id] += i < es.alerts_by_rule.size() ? es.alerts_by_rule[i] : 0;
      if (i < es.cost_by_rule.size()) {
        engine::RuleCost& c = costs[id];
        c.evaluations += es.cost_by_rule[i].evaluations;
        c.sampled += es.cost_by_rule[i].sampled;
        c.sampled_ns += es.cost_by_rule[i].sampled_ns;
      }
    }
  }
};

int Fail(const Error& e) {
  fmt::print(stderr, "error: {}\n", e.ToString());
  return kExitFailure;
}

int RunLive(const RunCommandOptions& o) {
  // The configuration: --config, else /etc/kestrel/kestrel.yaml when there is one.
  std::string config_path = o.setup.config;
  std::error_code ec;
  if (config_path.empty() && std::filesystem::exists(kDefaultConfigPath, ec)) config_path = kDefaultConfigPath;
  auto agent = LoadAgentConfig(config_path);
  if (!agent) return Fail(agent.error());
  if (!o.log_level.empty()) agent->logging.level = o.log_level;
  if (Status s = obs::InitLogging(agent->logging); !s) return Fail(s.error());
  const std::string rules_path = o.setup.rules.empty() ? agent->rules : o.setup.rules;
  if (rules_path.empty()) {
    fmt::print(stderr, "error: no rules: give --rules, or rules.path in the configuration ({})\n",
               config_path.empty() ? kDefaultConfigPath : config_path);
    return kExitUsage;
  }
  const engine::EngineConfig& config = agent->engine;

  SchemaRegistry registry = SchemaRegistry::WithEcs();
  ebpf::ProcessTable processes(ebpf::ReadBootId());
  ebpf::Normalizer normalizer(registry, processes, ebpf::Normalizer::BootToWallNow());  // fields first: rules see them

  rules::RuleManagerOptions mo;
  mo.path = rules_path;
  mo.pack.compile = CompileOptionsFor(o.setup.dialect);
  mo.pack.host_id = !o.setup.host_id.empty() ? o.setup.host_id : agent->host_id;
  mo.backend = o.setup.backend.empty() ? config.backend : *runtime::ParseBackend(o.setup.backend);
  mo.watch = agent->watch && !o.no_watch;
  mo.skip_bad = o.setup.skip_bad_rules;
  mo.engine_options = [config](const engine::RuleSet& rules) {
    auto sequences = static_cast<size_t>(
        std::count_if(rules.rules.begin(), rules.rules.end(), [](const engine::Rule& r) { return r.is_sequence(); }));
    return config.Options(sequences);
  };
  auto manager = rules::RuleManager::Start(mo, registry);
  if (!manager) {
    fmt::print(stderr, "error: {}\nerror: no rules loaded (check them with `kestrel validate {}`; --skip-bad-rules runs the others)\n",
               manager.error().ToString(), rules_path);
    return kExitFailure;
  }
  std::shared_ptr<rules::Generation> gen = (*manager)->initial();
  for (const engine::Rule& r : gen->pack.rules.rules) {
    if (!r.backend_note.empty()) fmt::print(stderr, "note: rule {} runs on the native backend: {}\n", r.id, r.backend_note);
  }

  // Outputs: --output replaces the configuration's.
  std::vector<OutputConfig> outputs = agent->outputs;
  if (!o.output.empty()) {
    outputs.assign(1, OutputConfig{});
    outputs[0].where = "--output";
    if (o.output != "-") {
      outputs[0].kind = OutputConfig::Kind::kFile;
      outputs[0].file.path = o.output;
      outputs[0].file.max_bytes = 0;  // one file, started afresh, as `replay -o` writes it
      std::ofstream truncate(o.output, std::ios::trunc);
    }
  }
  auto sinks = OpenOutputs(outputs);
  if (!sinks) return Fail(sinks.error());

  std::unique_ptr<RunMetrics> metrics;
  std::string metrics_address = o.metrics_address.empty() ? agent->metrics_address : o.metrics_address;
  if (Status a = CheckMetricsAddress(metrics_address); !a) {
    fmt::print(stderr, "error: --metrics-address: {}\n", a.error().message());
    return kExitUsage;
  }
  if (!metrics_address.empty() && metrics_address != "off") {
    auto started = RunMetrics::Start(metrics_address, &*sinks);
    if (started) {
      metrics = std::move(*started);
    } else {  // the detection goes on without its endpoint, said loudly
      spdlog::error("no /metrics or /healthz: {}", started.error().ToString());
    }
  }
  obs::TracerOptions trace_options = agent->tracing;
  if (!o.trace.empty()) trace_options.path = o.trace;
  if (o.trace_rate >= 0) trace_options.sample_rate = o.trace_rate;
  if (!o.trace.empty() && o.trace_rate < 0 && trace_options.sample_rate == 0) trace_options.sample_rate = 0.01;
  if (!trace_options.path.empty() && trace_options.sample_rate == 0) {
    fmt::print(stderr, "error: --trace-sample-rate 0 traces nothing; give a rate above 0 or leave out --trace\n");
    return kExitUsage;
  }
  std::unique_ptr<obs::Tracer> tracer;
  if (!trace_options.path.empty()) {
    auto opened = obs::Tracer::Open(trace_options);
    if (!opened) return Fail(opened.error());
    tracer = std::move(*opened);
  }

  std::unique_ptr<EventWriter> recorder;
  if (!o.record.empty()) {
    bool ndjson = o.record.size() >= 7 && (o.record.ends_with(".ndjson") || o.record.ends_with(".json"));
    auto writer = OpenEventWriter(o.record, ndjson ? FileFormat::kNdjson : FileFormat::kKlog, WriteOptions{}, &registry);
    if (!writer) return Fail(writer.error());
    recorder = std::move(*writer);
  }

  EventBatch batch;
  EventBuilder builder(&batch.arena());
  std::vector<engine::Alert> alerts;
  uint64_t alert_count = 0, events_out = 0, sink_errors = 0;
  Status failed = Ok();
  auto last_sink_error = std::chrono::steady_clock::time_point{};
  auto write_alerts = [&] {
    std::sort(alerts.begin(), alerts.end());
    for (engine::Alert& a : alerts) {
      a.json += '\n';
      if (Status w = sinks->Write(a.json); !w) {
        // Counted by the sink; logged at most once a second. Detection goes on.
        ++sink_errors;
        auto now = std::chrono::steady_clock::now();
        if (now - last_sink_error > std::chrono::seconds(1)) {
          spdlog::warn("alert output: {}", w.error().ToString());
          last_sink_error = now;
        }
      }
      ++alert_count;
    }
    alerts.clear();
  };

  // Responses follow the rules: started for the first pack, and again for each reloaded one.
  const engine::EngineConfig::Enforce& ec_config = config.enforce;
  enforce::ResponseOptions ropts;
  ropts.mounts = ec_config.mounts;
  ropts.mounts.insert(ropts.mounts.end(), o.enforce_mounts.begin(), o.enforce_mounts.end());
  ropts.cgroup = o.enforce_cgroup.empty() ? ec_config.cgroup : o.enforce_cgroup;
  ropts.deadline = o.deadline_ms > 0 ? std::chrono::microseconds(static_cast<int64_t>(o.deadline_ms * 1000))
                                     : std::chrono::microseconds(ec_config.deadline_ns / 1000);
  ropts.fallback = o.fail_closed || ec_config.fail_closed ? enforce::Answer::kDeny : enforce::Answer::kAllow;
  ropts.allow_executables = ec_config.allow_executables;
  ropts.allow_executables.insert(ropts.allow_executables.end(), o.allow_executables.begin(), o.allow_executables.end());
  ropts.probe_lsm = !o.no_lsm;
  if (o.deadline_ms < 0 || o.deadline_ms > 10'000) {
    fmt::print(stderr, "error: --deadline-ms must be in (0, 10000]\n");
    return kExitFailure;
  }
  std::unique_ptr<enforce::ResponseEngine> responses;
  bool responded = false;                 // a response engine ran at some point
  enforce::ResponseStats response_totals;  // of the response engines stopped by reloads
  std::vector<engine::Alert> response_alerts;
  ebpf::EbpfSource* live = nullptr;
  auto start_responses = [&](const engine::RuleSet& rules) -> Status {
    auto started = enforce::ResponseEngine::Start(rules, registry, ropts);
    if (!started) return tl::unexpected(started.error());
    if ((*started)->active()) {
      responses = std::move(*started);
      responded = true;
      for (const std::string& line : responses->report()) fmt::print(stderr, "  response: {}\n", line);
    }
    return Ok();
  };
  auto stop_responses = [&] {
    if (!responses) return;
    responses->Stop();
    responses->Drain(alerts);
    response_totals.Add(responses->stats());
    responses.reset();
  };

  RuleCounts previous;  // of the generations replaced by reloads
  uint64_t attached_interest = 0;
  uint64_t partials_dropped = 0;
  // A reload: between two events, the new generation replaces the old one.
  auto swap_to = [&](std::shared_ptr<rules::Generation> next) {
    previous.Add(*gen);
    // Unchanged sequence rules keep their partial matches; the changed ones start afresh.
    uint64_t held = gen->engine->stats().state.entries;
    uint64_t kept = next->engine->AdoptState(*gen->engine);
    uint64_t dropped = held - kept;
    partials_dropped += dropped;
    // Lineage rules learn the ancestry of the processes alive now, as at start.
    if (next->engine->has_lineage()) {
      for (const ebpf::ProcessInfo* p : processes.Live()) next->engine->Prime(normalizer.AlreadyRunning(*p, builder));
    }
    stop_responses();
    if (!alerts.empty()) write_alerts();
    gen->engine.reset();  // here: the events its state held may now be shared with the new engine's
    (*manager)->Retire(std::move(gen));
    gen = std::move(next);
    Interest in = InterestOf(gen->pack.rules, registry);
    if (live != nullptr) {
      Status filters = live->SetInterest(in.mask);
      if (filters) filters = live->SetFilters(in.file_prefixes, in.connect_ports);
      if (!filters) spdlog::error("reload: cannot update the kernel-side filters: {}", filters.error().ToString());
      std::string missing;
      for (int t = 1; t < KR_TYPE_COUNT; ++t) {
        if (((in.mask & ~attached_interest) >> t) & 1) missing += fmt::format("{}{}", missing.empty() ? "" : " ", kTypeNames[t]);
      }
      if (!missing.empty()) {
        spdlog::warn("reload: the new rules look at {} events, whose system calls were not watched at start; restart "
                     "kestrel run to watch them", missing);
      }
    }
    if (Status s = start_responses(gen->pack.rules); !s) {
      spdlog::error("reload: responses not started for the new rules (detection goes on): {}", s.error().ToString());
    }
    spdlog::info("rules: now running {} ({} rules, generation {}); partial sequence matches: {} kept (unchanged rules), "
                 "{} dropped (changed or removed rules)",
                 gen->pack.Describe(), gen->pack.rules.rules.size(), gen->number, kept, dropped);
  };

  auto on_event = [&](const Event& event, uint64_t read_ns) {
    if (auto next = (*manager)->TakeUpdate()) swap_to(std::move(next));
    if (recorder) {
      if (Status w = recorder->Write(event); !w && failed) failed = w;
    }
    const bool traced = tracer && tracer->Sampled(event.event_id());
    uint64_t eval_start = traced ? obs::WallClockNs() : 0;
    gen->engine->Process(event, alerts);
    ++events_out;
    if (responses) {
      responses->OnEvent(event, alerts, response_alerts);
      for (engine::Alert& a : response_alerts) alerts.push_back(std::move(a));
      response_alerts.clear();
    }
    if (!traced) {
      if (!alerts.empty()) write_alerts();
      return;
    }
    // source (kernel time to normalized) -> bus (handed to the engine, inline here) -> rule
    // evaluation -> alert -> sink, as spans of one trace.
    uint64_t eval_end = obs::WallClockNs();
    uint64_t kernel_ns = std::min<uint64_t>(event.ts_wall_ns(), read_ns);
    obs::Trace trace = tracer->StartTrace(event.event_id(), kernel_ns);
    trace.root().SetAttribute(obs::kAttrEventId, event.event_id()).SetAttribute("kestrel.event.type",
                                                                                 registry.event_type_name(event.type()));
    trace.AddSpan(obs::kSpanSource, kernel_ns, read_ns).SetAttribute("kestrel.source", "ebpf");
    trace.AddSpan(obs::kSpanBus, read_ns, eval_start).SetAttribute("kestrel.bus", "inline");
    trace.AddSpan(obs::kSpanRuleEval, eval_start, eval_end)
        .SetAttribute("kestrel.rules", static_cast<uint64_t>(gen->pack.rules.rules.size()))
        .SetAttribute("kestrel.alerts", static_cast<uint64_t>(alerts.size()));
    for (const engine::Alert& a : alerts) {
      trace.AddSpan(obs::kSpanAlert, eval_end, eval_end).SetAttribute(obs::kAttrRuleId, gen->pack.rules.rules.size() > a.rule
                                                                                             ? gen->pack.rules.rules[a.rule].id
                                                                                             : std::string("response"));
    }
    if (!alerts.empty()) {
      uint64_t sink_start = obs::WallClockNs();
      size_t n = alerts.size();
      write_alerts();
      trace.AddSpan(obs::kSpanSink, sink_start, obs::WallClockNs())
          .SetAttribute("kestrel.alerts", static_cast<uint64_t>(n))
          .SetAttribute("kestrel.sinks", static_cast<uint64_t>(sinks->size()));
    }
    trace.root().End();
    tracer->Finish(std::move(trace));
  };

  auto on_record = [&](std::span<const uint8_t> record) {
    uint64_t read_ns = tracer ? obs::WallClockNs() : 0;
    if (std::optional<Event> event = normalizer.Normalize(record, builder)) on_event(*event, read_ns);
  };

  ebpf::EbpfOptions eopts;
  eopts.ring_bytes = o.ring_bytes;
  eopts.syscall_tracepoints = o.syscall_tracepoints == "raw"           ? ebpf::SyscallTracepoints::kRaw
                              : o.syscall_tracepoints == "per-syscall" ? ebpf::SyscallTracepoints::kPerSyscall
                                                                       : ebpf::SyscallTracepoints::kAuto;
  Interest interest = InterestOf(gen->pack.rules, registry);
  eopts.interest = interest.mask;
  eopts.file_prefixes = interest.file_prefixes;
  eopts.connect_ports = interest.connect_ports;
  auto source = ebpf::EbpfSource::Open(eopts, on_record);
  if (!source) return Fail(source.error());
  live = source->get();
  attached_interest = interest.mask;
  ropts.kill_execs_in_kernel = [&](const std::vector<std::string>& paths, const std::vector<uint32_t>& exempt) {
    return live->KillExecs(paths, exempt);
  };
  if (Status s = start_responses(gen->pack.rules); !s) return Fail(s.error());
  // After attaching: a process that starts meanwhile is in /proc or in the ring (records are
  // only read by Poll below, so the table is seeded before any of them).
  size_t seeded = processes.SeedFromProc();
  // Each of them becomes an already_running event, first in the stream (and the recording): the
  // lineage rules' process table starts from them, live and in a replay alike.
  for (const ebpf::ProcessInfo* p : processes.Live()) on_event(normalizer.AlreadyRunning(*p, builder), obs::WallClockNs());
  batch.Clear();
  for (const std::string& w : live->warnings()) fmt::print(stderr, "warning: {}\n", w);
  normalizer.set_cwd_from_proc(!live->syscalls_attached());
  std::string types;
  for (int t = 1; t < KR_TYPE_COUNT; ++t) {
    if ((eopts.interest >> t) & 1) types += fmt::format("{}{}", types.empty() ? "" : " ", kTypeNames[t]);
  }
  std::string files = interest.file_prefixes.empty() ? fmt::format("every file ({})", interest.no_file_filter)
                                                     : fmt::format("files under {} prefixes", interest.file_prefixes.size());
  std::string connects = interest.connect_ports.empty()
                             ? fmt::format("every connection ({})", interest.no_port_filter)
                             : fmt::format("connections to {} ports", interest.connect_ports.size());
  std::string programs;
  for (const std::string& a : live->attached()) programs += fmt::format("{}{}", programs.empty() ? "" : ", ", a);
  fmt::print(stderr, "  programs: {}\n", programs);
  fmt::print(stderr, "  rules: {}{}; outputs: {}; metrics: {}; tracing: {}\n", gen->pack.Describe(),
             mo.watch ? ", reloaded on change and SIGHUP" : ", reloaded on SIGHUP",
             [&] {
               std::string names;
               for (const auto& [name, st] : sinks->stats()) names += fmt::format("{}{}", names.empty() ? "" : ", ", name);
               return names;
             }(),
             metrics ? fmt::format("http://{}:{}/metrics", metrics_address.substr(0, metrics_address.rfind(':')), metrics->port())
                     : "off",
             tracer ? fmt::format("{} (sample rate {})", trace_options.path, trace_options.sample_rate) : "off");
  fmt::print(stderr, "run: {} rules; {} programs attached; {} processes from /proc; recording {}; watching: {}; {}; {}\n",
             gen->pack.rules.rules.size(), live->attached().size(), seeded, o.record.empty() ? "off" : o.record, types,
             files, connects);
  std::fflush(stderr);

  auto snapshot = [&] {
    RunSnapshot s;
    const ebpf::NormalizerStats& ns = normalizer.stats();
    for (int t = 0; t < KR_CHDIR; ++t) s.events_by_type[kTypeNames[t]] = ns.by_type[t];
    s.events_out = events_out;
    s.lost = live->lost();
    s.malformed = ns.malformed;
    s.alerts = alert_count;
    RuleCounts counts = previous;
    counts.Add(*gen);
    for (const engine::Rule& r : gen->pack.rules.rules) {  // the rules in use, with the counts of their past
      s.matches[r.id] = counts.matches[r.id];
      s.costs[r.id] = counts.costs[r.id];
    }
    engine::EngineStats es = gen->engine->stats();
    s.state = es.state;
    s.lineage_processes = es.lineage_processes;
    for (size_t b = 0; b < 3; ++b) s.backends[b] = es.backends[b];
    s.process_table = processes.stats().size;
    s.reloads = (*manager)->stats();
    s.pack_name = gen->pack.manifest.name.empty() ? gen->pack.path : gen->pack.manifest.name;
    s.pack_version = gen->pack.manifest.version;
    enforce::ResponseStats rs = response_totals;
    if (responses) rs.Add(responses->stats());
    s.responses = {{"blocked", rs.blocked}, {"would_block", rs.would_block}, {"not_blocked", rs.not_blocked},
                   {"killed", rs.killed},   {"would_kill", rs.would_kill},   {"not_killed", rs.not_killed}};
    s.pending_alerts = alerts.size();
    return s;
  };

  g_rule_manager.store(manager->get());
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = OnReloadSignal;
  sigaction(SIGHUP, &hup, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  auto published = t0;
  while (!g_stop.load() && failed && (o.duration_s <= 0 || elapsed() < o.duration_s)) {
    auto n = live->Poll(kPollMs);
    if (!n) {
      failed = tl::unexpected(n.error());
      break;
    }
    // A reload while no event comes.
    if (auto next = (*manager)->TakeUpdate()) swap_to(std::move(next));
    if (responses) {
      responses->Drain(alerts);
      if (!alerts.empty()) write_alerts();
      timespec boot{};
      clock_gettime(CLOCK_BOOTTIME, &boot);
      responses->Expire(static_cast<uint64_t>(boot.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(boot.tv_nsec));
    }
    batch.Clear();  // the engine keeps copies of what its sequences hold
    if (metrics) {
      metrics->Beat();
      auto now = std::chrono::steady_clock::now();
      if (now - published >= std::chrono::milliseconds(250)) {
        metrics->Publish(snapshot());
        published = now;
      }
    }
  }
  double seconds = elapsed();
  g_rule_manager.store(nullptr);
  signal(SIGHUP, SIG_IGN);
  // Stop: nothing held or denied any more (every fanotify request answered, every mark, map and
  // enforcement program removed), no new records, then everything already in the ring.
  stop_responses();
  live->Detach();
  for (;;) {
    auto n = live->Poll(0);
    batch.Clear();
    if (!n || *n == 0) break;
  }
  gen->engine->Finish(alerts);
  write_alerts();
  if (recorder) {
    if (Status c = recorder->Close(); !c && failed) failed = c;
  }
  if (Status c = sinks->Close(); !c) spdlog::warn("alert output: {}", c.error().ToString());
  if (tracer) tracer->Flush();
  if (metrics) metrics->Publish(snapshot());

  const ebpf::NormalizerStats& ns = normalizer.stats();
  std::string by_type;
  for (int t = 0; t < KR_CHDIR; ++t) {
    if (ns.by_type[t] != 0) by_type += fmt::format("{}{} {}", by_type.empty() ? "" : ", ", kTypeNames[t], ns.by_type[t]);
  }
  fmt::print(stderr, "run: {} events in {:.1f} s ({}), {} alerts\n", ns.events, seconds,
             by_type.empty() ? "none" : by_type, alert_count);
  fmt::print(stderr, "  lost: {} records (ring buffer full), {} malformed; {} arrived behind an earlier one; {} "
             "working-directory changes\n", live->lost(), ns.malformed, ns.reordered, ns.internal);
  ebpf::ProcessTableStats ps = processes.stats();
  fmt::print(stderr, "  process table: {} processes, {} read from /proc, {} exited reaped, {} evicted\n", ps.size,
             ps.seeded, ps.reaped, ps.evicted);
  rules::ReloadStats rl = (*manager)->stats();
  fmt::print(stderr, "  rules: {} (generation {}); reloads: {} swapped in, {} failed, {} unchanged; {} partial sequence "
             "matches dropped by reloads\n", gen->pack.Describe(), gen->number, rl.successes, rl.failures, rl.unchanged,
             partials_dropped);
  for (const auto& [name, st] : sinks->stats()) {
    if (st.dropped > 0 || st.retries > 0) {
      fmt::print(stderr, "  output {}: {} written, {} dropped ({} failed), {} retries\n", name, st.written, st.dropped,
                 st.failures, st.retries);
    }
  }
  if (responded) {
    const enforce::ResponseStats& rs = response_totals;
    fmt::print(stderr,
               "  responses: {} blocked, {} would_block, {} not_blocked; {} killed, {} would_kill, {} not_killed; {} "
               "armed, {} disarmed; fanotify: {} requests ({} allowed at once), {} denied, {} exempt, {} late, answer p50 {} "
               "us p99 {} us; kernel denied {} connects\n",
               rs.blocked, rs.would_block, rs.not_blocked, rs.killed, rs.would_kill, rs.not_killed, rs.armed, rs.disarmed,
               rs.responder.requests, rs.responder.fast, rs.responder.denied, rs.responder.exempt, rs.responder.late,
               rs.responder.answer_ns.Percentile(0.5) / 1000, rs.responder.answer_ns.Percentile(0.99) / 1000,
               rs.kernel_denied_connects);
  }
  engine::EngineStats es = gen->engine->stats();
  if (es.lineage_processes > 0) {
    fmt::print(stderr, "  lineage table: {} processes, {} forgotten for capacity\n", es.lineage_processes,
               es.lineage_evicted);
  }
  if (!o.metrics.empty() && failed) {
    RuleCounts counts = previous;
    counts.Add(*gen);
    std::string json = fmt::format(
        "{{\"kestrel.metrics.version\":1,\"source\":\"ebpf\",\"events\":{},\"seconds\":{:.6f},\"alerts\":{},"
        "\"lost\":{},\"malformed\":{},\"reordered\":{},\"events_by_type\":{{",
        ns.events, seconds, alert_count, live->lost(), ns.malformed, ns.reordered);
    for (int t = 0; t < KR_CHDIR; ++t) json += fmt::format("{}\"{}\":{}", t == 0 ? "" : ",", kTypeNames[t], ns.by_type[t]);
    json += fmt::format("}},\"process_table\":{{\"size\":{},\"seeded\":{},\"reaped\":{},\"evicted\":{}}},"
                        "\"lineage\":{{\"processes\":{},\"evicted\":{}}},\"reloads\":{{\"swapped\":{},\"failed\":{},"
                        "\"unchanged\":{}}},\"alerts_by_rule\":{{",
                        ps.size, ps.seeded, ps.reaped, ps.evicted, es.lineage_processes, es.lineage_evicted,
                        rl.successes, rl.failures, rl.unchanged);
    for (size_t r = 0; r < gen->pack.rules.rules.size(); ++r) {
      const std::string& id = gen->pack.rules.rules[r].id;
      if (r > 0) json += ',';
      AppendJsonString(json, id);
      json += fmt::format(":{}", counts.matches[id]);
    }
    json += "}}\n";
    failed = OutputFile::WriteAll(o.metrics, json);
  }
  if (!failed) return Fail(failed.error());
  return kExitOk;
}
}  // namespace

CommandFn AddRunCommand(CLI::App& app) {
  auto options = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Watch this host live (eBPF): run detection rules and write the alerts");
  cmd->add_option("-r,--rules", options->setup.rules,
                  "A rule file (.eql, .yaml, .toml, .json) or a rule pack folder (default: the configuration's rules.path)");
  cmd->add_option("-o,--output", options->output,
                  "Alert file (NDJSON; '-' for stdout); replaces the configuration's outputs (default: stdout)");
  cmd->add_option("--record", options->record, "Also write every event to this file (.klog, or .ndjson)");
  cmd->add_option("-c,--config", options->setup.config,
                  "Configuration file (YAML, TOML or JSON; docs/configuration.md); default /etc/kestrel/kestrel.yaml when it exists");
  cmd->add_option("--host-id", options->setup.host_id, "The host id rollouts are decided for (default: /etc/machine-id)");
  cmd->add_flag("--no-watch", options->no_watch, "Do not reload the rules when their files change (SIGHUP still does)");
  cmd->add_option("--metrics-address", options->metrics_address,
                  "Serve /metrics and /healthz here (HOST:PORT; 'off'); default: the configuration's, 127.0.0.1:9464");
  cmd->add_option("--trace", options->trace, "Write spans of sampled events to this file (JSON lines)");
  cmd->add_option("--trace-sample-rate", options->trace_rate, "The fraction of events traced (0..1; default 0.01)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--log-level", options->log_level, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd->add_option("--dialect", options->setup.dialect, "Rule language dialect")
      ->check(CLI::IsMember({"es", "eql"}))
      ->capture_default_str();
  cmd->add_flag("--skip-bad-rules", options->setup.skip_bad_rules, "Run the rules that compile; report the others");
  cmd->add_option("--backend", options->setup.backend, "Predicate backend for rules that do not choose one")
      ->check(CLI::IsMember({"native", "wasm", "lua"}));
  cmd->add_option("--metrics", options->metrics,
                 "At the end, write the run's counters (events by type, lost records, alerts by rule, ...) as JSON");
  cmd->add_option("--ring-size", options->ring_bytes, "Ring buffer bytes (a power of two)")->capture_default_str();
  cmd->add_option("--duration", options->duration_s, "Stop after this many seconds (default: at SIGINT / SIGTERM)");
  cmd->add_option("--syscall-tracepoints", options->syscall_tracepoints,
                  "Watch system calls from the per-syscall tracepoints (cheaper; need tracefs), the raw ones (every "
                  "system call pays), or the first where the kernel has them")
      ->check(CLI::IsMember({"auto", "per-syscall", "raw"}))
      ->capture_default_str();
  cmd->add_option("--enforce-mount", options->enforce_mounts,
                  "A mount point where exec / open block rules are enforced with fanotify (repeatable)");
  cmd->add_option("--enforce-cgroup", options->enforce_cgroup,
                  "A cgroup v2 directory whose processes' connects block rules deny");
  cmd->add_option("--deadline-ms", options->deadline_ms,
                  "How long an exec / open may wait for a decision before the fallback answer (default: the "
                  "configuration's enforce.deadline, 100 ms)");
  cmd->add_flag("--fail-closed", options->fail_closed, "Deny (instead of allow) what is not decided by the deadline");
  cmd->add_option("--allow-exe", options->allow_executables, "An executable never blocked or killed (repeatable)");
  cmd->add_flag("--no-lsm", options->no_lsm, "Do not use BPF-LSM even where the kernel allows it");
  return [options] { return RunLive(*options); };
}

}  // namespace kestrel::cli
