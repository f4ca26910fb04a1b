// `kestrel run`: the live source. Loads the BPF programs, normalizes their records into ECS
// events, runs the rules on them as they come and writes the alerts; optionally records every
// event (.klog or NDJSON) so that `kestrel replay` of the recording gives the same alerts.
// SIGINT / SIGTERM (or --duration) stop it: the programs are detached, the ring is drained,
// pending sequences are decided, the outputs flushed, and the summary printed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/rule_setup.h"
#include "engine/detection_engine.h"
#include "event/event_batch.h"
#include "event/event_builder.h"
#include "event/event_writer.h"
#include "event/file_io.h"
#include "sources/ebpf/ebpf_source.h"
#include "sources/ebpf/normalizer.h"
#include "sources/ebpf/process_table.h"

// The record types (bpf/records.h), as interest bits.
#include "sources/ebpf/bpf/records.h"

namespace kestrel::cli {
namespace {

struct RunCommandOptions {
  RuleSetupOptions setup;
  std::string output = "-";
  std::string record;         // --record FILE (.klog or .ndjson)
  uint32_t ring_bytes = 8u << 20;
  double duration_s = 0;      // 0: until SIGINT / SIGTERM
};

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }

constexpr uint64_t Bit(int type) { return uint64_t{1} << type; }
constexpr uint64_t kProcessTypes = Bit(KR_EXEC) | Bit(KR_FORK) | Bit(KR_EXIT) | Bit(KR_SETUID) | Bit(KR_SETGID) |
                                   Bit(KR_CAPSET) | Bit(KR_PTRACE) | Bit(KR_MEMFD);
constexpr uint64_t kFileTypes = Bit(KR_OPEN) | Bit(KR_RENAME) | Bit(KR_UNLINK) | Bit(KR_CHMOD) | Bit(KR_CHOWN);
constexpr uint64_t kNetworkTypes = Bit(KR_CONNECT) | Bit(KR_ACCEPT) | Bit(KR_BIND) | Bit(KR_LISTEN);

// Interest pushdown v1: the record types some rule's stage can match, by its event category;
// exec, fork and exit always (they keep the process table).
uint64_t InterestOf(const engine::RuleSet& rules) {
  uint64_t mask = Bit(KR_EXEC) | Bit(KR_FORK) | Bit(KR_EXIT) | Bit(KR_CHDIR);
  for (const engine::Rule& rule : rules.rules) {
    for (const eql::Program* p : rule.Programs()) {
      if (p->category == "process") mask |= kProcessTypes;
      else if (p->category == "file") mask |= kFileTypes;
      else if (p->category == "network") mask |= kNetworkTypes;
      else mask |= ebpf::AllRecordTypes();  // `any`, or a category no record has: everything
    }
  }
  return mask;
}

std::string ReadBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

constexpr const char* kTypeNames[] = {"", "exec", "fork", "exit", "open", "rename", "unlink", "chmod", "chown",
                                      "connect", "accept", "bind", "listen", "setuid", "setgid", "capset", "ptrace",
                                      "memfd_create", "chdir"};
static_assert(std::size(kTypeNames) == KR_TYPE_COUNT);

int RunLive(const RunCommandOptions& o) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  ebpf::ProcessTable processes(ReadBootId());
  ebpf::Normalizer normalizer(registry, processes, ebpf::Normalizer::BootToWallNow());  // fields first: rules see them
  auto setup = SetUpRules(o.setup, registry);
  if (!setup) {
    fmt::print(stderr, "error: {}\n", setup.error().ToString());
    return kExitFailure;
  }
  engine::DetectionEngine engine(setup->rules, registry, setup->config.Options(setup->sequences));
  auto output = OutputFile::Open(o.output);
  if (!output) {
    fmt::print(stderr, "error: {}\n", output.error().ToString());
    return kExitFailure;
  }
  std::unique_ptr<EventWriter> recorder;
  if (!o.record.empty()) {
    bool ndjson = o.record.size() >= 7 && (o.record.ends_with(".ndjson") || o.record.ends_with(".json"));
    auto writer = OpenEventWriter(o.record, ndjson ? FileFormat::kNdjson : FileFormat::kKlog, WriteOptions{}, &registry);
    if (!writer) {
      fmt::print(stderr, "error: {}\n", writer.error().ToString());
      return kExitFailure;
    }
    recorder = std::move(*writer);
  }

  EventBatch batch;
  EventBuilder builder(&batch.arena());
  std::vector<engine::Alert> alerts;
  uint64_t alert_count = 0;
  Status failed = Ok();
  auto write_alerts = [&] {
    std::sort(alerts.begin(), alerts.end());
    for (engine::Alert& a : alerts) {
      a.json += '\n';
      if (Status w = (*output)->Write(a.json); !w && failed) failed = w;
      ++alert_count;
    }
    alerts.clear();
  };
  auto on_record = [&](std::span<const uint8_t> record) {
    std::optional<Event> event = normalizer.Normalize(record, builder);
    if (!event) return;
    if (recorder) {
      if (Status w = recorder->Write(*event); !w && failed) failed = w;
    }
    engine.Process(*event, alerts);
    if (!alerts.empty()) write_alerts();
  };

  ebpf::EbpfOptions eopts;
  eopts.ring_bytes = o.ring_bytes;
  eopts.interest = InterestOf(setup->rules);
  size_t seeded = processes.SeedFromProc();
  auto source = ebpf::EbpfSource::Open(eopts, on_record);
  if (!source) {
    fmt::print(stderr, "error: {}\n", source.error().ToString());
    return kExitFailure;
  }
  for (const std::string& w : (*source)->warnings()) fmt::print(stderr, "warning: {}\n", w);
  std::string types;
  for (int t = 1; t < KR_TYPE_COUNT; ++t) {
    if ((eopts.interest >> t) & 1) types += fmt::format("{}{}", types.empty() ? "" : " ", kTypeNames[t]);
  }
  fmt::print(stderr, "run: {} rules; {} programs attached; {} processes from /proc; recording {}; watching: {}\n",
             setup->rules.rules.size(), (*source)->attached().size(), seeded, o.record.empty() ? "off" : o.record,
             types);
  std::fflush(stderr);

  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  while (!g_stop.load() && failed && (o.duration_s <= 0 || elapsed() < o.duration_s)) {
    auto n = (*source)->Poll(100);
    if (!n) {
      failed = tl::unexpected(n.error());
      break;
    }
    batch.Clear();  // the engine keeps copies of what its sequences hold
  }
  // Stop: no new records, then everything already in the ring.
  (*source)->Detach();
  for (;;) {
    auto n = (*source)->Poll(0);
    batch.Clear();
    if (!n || *n == 0) break;
  }
  engine.Finish(alerts);
  write_alerts();
  if (recorder) {
    if (Status c = recorder->Close(); !c && failed) failed = c;
  }
  if (Status c = (*output)->Close(); !c && failed) failed = c;

  const ebpf::NormalizerStats& ns = normalizer.stats();
  std::string by_type;
  for (int t = 1; t < KR_CHDIR; ++t) {
    if (ns.by_type[t] != 0) by_type += fmt::format("{}{} {}", by_type.empty() ? "" : ", ", kTypeNames[t], ns.by_type[t]);
  }
  double seconds = elapsed();
  fmt::print(stderr, "run: {} events in {:.1f} s ({}), {} alerts\n", ns.events, seconds,
             by_type.empty() ? "none" : by_type, alert_count);
  fmt::print(stderr, "  lost: {} records (ring buffer full), {} malformed; {} arrived behind an earlier one; {} "
             "working-directory changes\n", (*source)->lost(), ns.malformed, ns.reordered, ns.internal);
  ebpf::ProcessTableStats ps = processes.stats();
  fmt::print(stderr, "  process table: {} processes, {} read from /proc, {} exited reaped, {} evicted\n", ps.size,
             ps.seeded, ps.reaped, ps.evicted);
  if (!failed) {
    fmt::print(stderr, "error: {}\n", failed.error().ToString());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

CommandFn AddRunCommand(CLI::App& app) {
  auto options = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Watch this host live (eBPF): run detection rules and write the alerts");
  cmd->add_option("-r,--rules", options->setup.rules, "A rule file (.eql) or a folder of them")->required();
  cmd->add_option("-o,--output", options->output, "Alert file (NDJSON; '-' for stdout)")->capture_default_str();
  cmd->add_option("--record", options->record, "Also write every event to this file (.klog, or .ndjson)");
  cmd->add_option("-c,--config", options->setup.config, "Engine configuration file (TOML)");
  cmd->add_option("--dialect", options->setup.dialect, "Rule language dialect")
      ->check(CLI::IsMember({"es", "eql"}))
      ->capture_default_str();
  cmd->add_flag("--skip-bad-rules", options->setup.skip_bad_rules, "Run the rules that compile; report the others");
  cmd->add_option("--backend", options->setup.backend, "Predicate backend for rules that do not choose one")
      ->check(CLI::IsMember({"native", "wasm", "lua"}));
  cmd->add_option("--ring-size", options->ring_bytes, "Ring buffer bytes (a power of two)")->capture_default_str();
  cmd->add_option("--duration", options->duration_s, "Stop after this many seconds (default: at SIGINT / SIGTERM)");
  return [options] { return RunLive(*options); };
}

}  // namespace kestrel::cli
