// kestrel-bench: Kestrel's named benchmark workloads (docs/performance.md). Each workload runs in
// a child process of its own (so its peak RSS is its own), over streams `kestrel gen` makes
// (cached in $KESTREL_BENCH_DIR or /tmp), and prints one JSON object per result on standard
// output, then a table on standard error.
//
//   kestrel-bench                     every workload (500 000 events each)
//   kestrel-bench --events 100000 'seq.*' replay.e2e
//   kestrel-bench --list
#include <fnmatch.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/detection_engine.h"
#include "event/event_builder.h"
#include "event/event_reader.h"
#include "gen/generator.h"
#include "gen/truth.h"
#include "rule_sets.h"
#include "rules/rule_pack.h"

namespace kestrel::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Settings {
  uint64_t events = 500'000;
  std::string dir;     // where generated streams are cached
  std::string build;   // the build directory (kestrel, bench/)
  std::string source;  // the source tree (rules/linux, bench/live_overhead.sh)
};

// One workload's result, as printed.
struct Outcome {
  uint64_t events = 0;
  double seconds = 0;
  std::optional<double> p50_ns, p99_ns;
  std::optional<uint64_t> peak_rss_bytes;  // set by the workload when a child process did the work
  json extra = json::object();
  std::string skipped;  // the reason, when the workload could not run here
  std::string error;
};

struct Workload {
  std::string name;
  std::string description;
  std::function<Outcome(const Settings&)> run;
};

[[noreturn]] void Die(const std::string& message) {
  fmt::print(stderr, "kestrel-bench: {}\n", message);
  std::_Exit(1);
}

template <typename T>
T OrDie(Result<T> result) {
  if (!result) Die(result.error().ToString());
  return std::move(*result);
}

// A generated stream, made once and cached: the path of its `format` ("ndjson" or "klog") file;
// its truth (the attacks' positions) is next to it with ".truth".
std::string Stream(const Settings& s, gen::Profile profile, uint64_t keys, const std::string& format) {
  std::string base = fmt::format("{}/kestrel-gen-{}-s1-n{}-k{}", s.dir, gen::ProfileName(profile), s.events, keys);
  std::string path = base + "." + format;
  // A stream older than this binary may come from another version of the generator.
  struct stat st {}, self {};
  if (::stat(path.c_str(), &st) == 0 && ::stat("/proc/self/exe", &self) == 0 && st.st_mtime >= self.st_mtime) {
    return path;
  }
  gen::Options options;
  options.profile = profile;
  options.events = s.events;
  options.keys = keys;
  options.attack_every = 10'000;
  std::string tmp = fmt::format("{}.{}.tmp.{}", base, getpid(), format);
  Status written = gen::WriteStream(options, tmp, base + ".truth");
  if (!written) Die(written.error().ToString());
  std::filesystem::rename(tmp, path);
  return path;
}

// Per-event latency: one event in eight is timed (the clock reads cost about 40 ns).
class LatencySampler {
 public:
  template <typename F>
  void Run(uint64_t i, F&& f) {
    if ((i & 7) != 0) {
      f();
      return;
    }
    auto start = Clock::now();
    f();
    samples_.push_back(static_cast<uint32_t>(
        std::min<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count(), UINT32_MAX)));
  }
  void Report(Outcome& o) {
    if (samples_.empty()) return;
    auto at = [&](double q) {
      auto nth = samples_.begin() + static_cast<ptrdiff_t>(q * static_cast<double>(samples_.size() - 1));
      std::nth_element(samples_.begin(), nth, samples_.end());
      return static_cast<double>(*nth);
    };
    o.p50_ns = at(0.50);
    o.p99_ns = at(0.99);
  }

 private:
  std::vector<uint32_t> samples_;
};

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Each alert of `alerts` against the stream's truth file (gen::CheckAlerts).
json CheckTruth(const std::string& truth_path, const std::vector<std::string>& alerts) {
  std::vector<gen::Injection> attacks;
  std::ifstream in(truth_path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json t = json::parse(line);
    attacks.push_back({t["scenario"], t["rules"], t["positions"], t["host_id"]});
  }
  std::vector<gen::AlertEvents> seen;
  for (const std::string& text : alerts) {
    json alert = json::parse(text);
    gen::AlertEvents a{alert["rule"]["id"], {}};
    for (const json& e : alert["kestrel"]["alert"]["events"]) {
      if (!e.is_null()) a.positions.push_back(e["event"]["sequence"]);
    }
    seen.push_back(std::move(a));
  }
  gen::TruthVerdict v = gen::CheckAlerts(attacks, seen);
  json j = {{"attacks", v.attacks},     {"expected", v.expected},     {"missing", v.missing},
            {"duplicated", v.duplicated}, {"unexpected", v.unexpected}, {"correct", v.ok()}};
  if (!v.ok()) j["first_problem"] = v.example;
  return j;
}

// --- workloads ---

Outcome Decode(const Settings& s, const std::string& format) {
  std::string path = Stream(s, gen::Profile::kRealistic, 0, format);
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  Outcome o;
  auto start = Clock::now();
  auto reader = OrDie(OpenEventReader(path, {}, &registry));
  EventBatch batch;
  while (OrDie(reader->Next(batch))) o.events += batch.size();
  o.seconds = Since(start);
  double bytes = static_cast<double>(std::filesystem::file_size(path));
  o.extra["bytes"] = bytes;
  o.extra["mb_per_s"] = bytes / 1e6 / o.seconds;
  return o;
}

// Runs `rules` over the events in memory on one engine (one core), timing a sample of events.
Outcome RunInMemory(InMemory& stream, engine::RuleSet& rules, runtime::Backend backend) {
  Status compiled = engine::CompileBackends(rules, backend, stream.registry);
  if (!compiled) Die(compiled.error().ToString());
  engine::DetectionEngine engine(rules, stream.registry, {});
  std::vector<engine::Alert> alerts;
  uint64_t alert_count = 0;
  LatencySampler latency;
  Outcome o;
  auto start = Clock::now();
  for (uint64_t i = 0; i < stream.events.size(); ++i) {
    latency.Run(i, [&] { engine.Process(stream.events[i], alerts); });
    alert_count += alerts.size();
    alerts.clear();
  }
  o.seconds = Since(start);
  o.events = stream.events.size();
  latency.Report(o);
  engine::EngineStats stats = engine.stats();
  o.extra["rules"] = rules.rules.size();
  o.extra["alerts"] = alert_count;
  o.extra["evaluations_per_event"] =
      static_cast<double>(stats.evaluations) / static_cast<double>(std::max<uint64_t>(stats.events, 1));
  o.extra["input"] = "memory";
  return o;
}

Outcome SingleRules(const Settings& s, int count) {
  auto stream = LoadInMemory(Stream(s, gen::Profile::kRealistic, 0, "klog"));
  engine::RuleSet rules = Compile(bench::SingleRules(count), stream->registry);
  return RunInMemory(*stream, rules, runtime::Backend::kNative);
}

Outcome Predicates(const Settings& s, runtime::Backend backend) {
  auto stream = LoadInMemory(Stream(s, gen::Profile::kRealistic, 0, "klog"));
  engine::RuleSet rules = Compile(bench::SingleRules(100), stream->registry);
  Outcome o = RunInMemory(*stream, rules, backend);
  o.extra["backend"] = runtime::BackendName(backend);
  return o;
}

// `count` sequence rules on the adversarial stream's never-completed first stages, whose join
// keys take `keys` values: a download to /tmp/dl/ (by file name), a private key read (by
// process), a memfd (by process). Each rule waits for its own second stage, which never comes,
// so each keeps up to `keys` partial matches until its bounds (TTL, LRU, quota) drop them.
std::vector<std::string> KeyedSequenceRules(int count) {
  std::vector<std::string> rules;
  for (int i = 0; i < count; ++i) {
    switch (i % 3) {
      case 0:
        rules.push_back(fmt::format(
            R"(sequence by host.id with maxspan=1m [file where event.action == "creation" and file.path : "/tmp/dl/*"] by file.name [process where event.action == "exec" and process.name == "never-{}"] by process.name)",
            i));
        break;
      case 1:
        rules.push_back(fmt::format(
            R"(sequence by process.entity_id with maxspan=30s [file where event.action == "open" and file.path : "/home/*/.ssh/id_*"] [network where destination.port == {}])",
            60000 + i));
        break;
      default:
        rules.push_back(fmt::format(
            R"(sequence by process.entity_id with maxspan=1m [process where event.action == "memfd_create"] [process where event.action == "exec" and process.executable == "/proc/self/fd/{}"])",
            100 + i));
        break;
    }
  }
  return rules;
}

// Streams `path` block by block through one engine (decoding included), as `kestrel replay`
// reads it; the engine's state is what grows in memory.
Outcome RunStreaming(const std::string& path, SchemaRegistry& registry, engine::RuleSet& rules,
                     std::vector<std::string>* alert_lines) {
  Status compiled = engine::CompileBackends(rules, runtime::Backend::kNative, registry);
  if (!compiled) Die(compiled.error().ToString());
  engine::DetectionEngine engine(rules, registry, {});
  std::vector<engine::Alert> alerts;
  uint64_t alert_count = 0;
  LatencySampler latency;
  Outcome o;
  auto start = Clock::now();
  auto reader = OrDie(OpenEventReader(path, {}, &registry));
  EventBatch batch;
  while (OrDie(reader->Next(batch))) {
    for (const Event& e : batch) latency.Run(o.events++, [&] { engine.Process(e, alerts); });
    alert_count += alerts.size();
    if (alert_lines != nullptr) {
      for (engine::Alert& a : alerts) alert_lines->push_back(std::move(a.json));
    }
    alerts.clear();
  }
  engine.Finish(alerts);
  alert_count += alerts.size();
  if (alert_lines != nullptr) {
    for (engine::Alert& a : alerts) alert_lines->push_back(std::move(a.json));
  }
  o.seconds = Since(start);
  latency.Report(o);
  engine::EngineStats stats = engine.stats();
  o.extra["rules"] = rules.rules.size();
  o.extra["alerts"] = alert_count;
  o.extra["state_peak_entries"] = stats.state.peak_entries;
  o.extra["state_peak_bytes"] = stats.state.peak_bytes;
  o.extra["state_entries_at_end"] = stats.state.entries;
  o.extra["state_evicted"] = stats.state.evicted_total();
  o.extra["input"] = "klog";
  return o;
}

Outcome Sequences(const Settings& s, int count, uint64_t keys) {
  std::string path = Stream(s, gen::Profile::kAdversarial, keys, "klog");
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  engine::RuleSet rules = Compile(KeyedSequenceRules(count), registry);
  Outcome o = RunStreaming(path, registry, rules, nullptr);
  o.extra["keys"] = keys;
  return o;
}

// The bundled pack over the adversarial stream: state growth, and the attacks still found.
Outcome AdversarialState(const Settings& s) {
  std::string path = Stream(s, gen::Profile::kAdversarial, 1'000'000, "klog");
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  rules::Pack pack = OrDie(rules::LoadPack(s.source + "/rules/linux", registry, {}));
  if (!pack.errors.empty()) Die(pack.errors.front().ToString());
  std::vector<std::string> alerts;
  Outcome o = RunStreaming(path, registry, pack.rules, &alerts);
  std::string truth = path.substr(0, path.size() - 5) + ".truth";
  o.extra["truth"] = CheckTruth(truth, alerts);
  return o;
}

// Runs a command, waits for it, and returns its exit status and peak RSS.
struct Child {
  int status = -1;
  uint64_t peak_rss_bytes = 0;
};
// Its standard output and error go to `out_path`.
Child RunCommand(const std::vector<std::string>& argv, const std::string& out_path) {
  pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    if (std::freopen(out_path.c_str(), "w", stdout) == nullptr || dup2(fileno(stdout), 2) < 0) std::_Exit(127);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::_Exit(127);
  }
  Child child;
  struct rusage usage {};
  if (wait4(pid, &child.status, 0, &usage) != pid) Die("wait4 failed");
  child.peak_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  return child;
}

Outcome ReplayEndToEnd(const Settings& s) {
  std::string path = Stream(s, gen::Profile::kRealistic, 0, "klog");
  std::string alerts_path = fmt::format("{}/kestrel-bench-replay-{}.alerts", s.dir, getpid());
  std::string log_path = fmt::format("{}/kestrel-bench-replay-{}.log", s.dir, getpid());
  Outcome o;
  auto start = Clock::now();
  Child child = RunCommand({s.build + "/kestrel", "replay", "--rules", s.source + "/rules/linux", "-i", path, "-o",
                            alerts_path, "--threads", "2"},
                           log_path);
  o.seconds = Since(start);
  std::ifstream log(log_path);
  std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  std::filesystem::remove(log_path);
  if (!WIFEXITED(child.status) || WEXITSTATUS(child.status) != 0) {
    o.error = fmt::format("kestrel replay failed (status {:#x}): {}", child.status, log_text.substr(0, 300));
    return o;
  }
  o.events = s.events;
  o.peak_rss_bytes = child.peak_rss_bytes;
  std::vector<std::string> alerts;
  std::ifstream in(alerts_path);
  for (std::string line; std::getline(in, line);) alerts.push_back(line);
  std::filesystem::remove(alerts_path);
  o.extra["command"] = "kestrel replay --rules rules/linux --threads 2";
  o.extra["alerts"] = alerts.size();
  o.extra["truth"] = CheckTruth(path.substr(0, path.size() - 5) + ".truth", alerts);
  return o;
}

Outcome LiveOverhead(const Settings& s) {
  Outcome o;
  if (geteuid() != 0) {
    o.skipped = "needs root (it loads BPF programs)";
    return o;
  }
  std::string out = fmt::format("{}/kestrel-bench-live-{}.out", s.dir, getpid());
  // 5 000 execs, 20 000 opens, 1 000 connections; one round.
  Child child = RunCommand({"/usr/bin/bash", s.source + "/bench/live_overhead.sh", s.build, "5000", "20000", "1000", "1"}, out);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(out);
  if (!WIFEXITED(child.status) || WEXITSTATUS(child.status) != 0) {
    o.skipped = "bench/live_overhead.sh failed: " + text.substr(0, 200);
    return o;
  }
  // "  bare 3.920 s; kestrel run (100 rules) 4.220 s: ratio 1.075; bpftrace (counting) 4.180 s: ratio 1.065"
  double bare = 0, kestrel = 0, ratio = 0, bpftrace = 0, bpf_ratio = 0;
  size_t at = text.find("  bare ");
  if (at == std::string::npos ||
      std::sscanf(text.c_str() + at, "  bare %lf s; kestrel run (100 rules) %lf s: ratio %lf; bpftrace (counting) %lf s: ratio %lf",
                  &bare, &kestrel, &ratio, &bpftrace, &bpf_ratio) != 5) {
    o.error = "cannot read bench/live_overhead.sh's output: " + text.substr(0, 300);
    return o;
  }
  // The workload's operations, and its wall time under kestrel run.
  o.events = 26'000;
  o.seconds = kestrel;
  o.extra["bare_seconds"] = bare;
  o.extra["kestrel_seconds"] = kestrel;
  o.extra["ratio"] = ratio;
  o.extra["bpftrace_ratio"] = bpf_ratio;
  size_t lost = text.find("lost records per round: ");
  if (lost != std::string::npos) o.extra["lost"] = std::strtoull(text.c_str() + lost + 24, nullptr, 10);
  return o;
}

std::vector<Workload> Workloads() {
  std::vector<Workload> w;
  w.push_back({"decode.ndjson", "decode the realistic stream's ECS NDJSON into events",
               [](const Settings& s) { return Decode(s, "ndjson"); }});
  w.push_back({"decode.klog", "decode the realistic stream's .klog into events",
               [](const Settings& s) { return Decode(s, "klog"); }});
  for (int n : {10, 100, 1000}) {
    w.push_back({fmt::format("rules.single.{}", n),
                 fmt::format("{} single-event rules over the realistic stream in memory, one engine", n),
                 [n](const Settings& s) { return SingleRules(s, n); }});
  }
  for (int n : {10, 50}) {
    for (uint64_t keys : {uint64_t{1'000}, uint64_t{1'000'000}}) {
      w.push_back({fmt::format("seq.{}.keys{}", n, keys == 1'000 ? "1k" : "1m"),
                   fmt::format("{} sequence rules over the adversarial stream, first stages over {} join keys", n, keys),
                   [n, keys](const Settings& s) { return Sequences(s, n, keys); }});
    }
  }
  w.push_back({"state.adversarial", "the bundled pack (rules/linux) over the adversarial stream: state growth, attacks found",
               AdversarialState});
  for (runtime::Backend b : runtime::kAllBackends) {
    w.push_back({fmt::format("predicates.{}", runtime::BackendName(b)),
                 fmt::format("100 single-event rules' predicates on the {} backend, realistic stream in memory",
                             runtime::BackendName(b)),
                 [b](const Settings& s) { return Predicates(s, b); }});
  }
  w.push_back({"replay.e2e", "kestrel replay --threads 2 with the bundled pack over the realistic .klog; alerts checked",
               ReplayEndToEnd});
  w.push_back({"live.overhead", "bench/live_overhead.sh, one round: the wall time of a workload under kestrel run (root)",
               LiveOverhead});
  return w;
}

// Runs one workload in a child process; the child's peak RSS is the workload's.
json RunIsolated(const Workload& w, const Settings& s) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    close(fds[0]);
    Outcome o = w.run(s);
    json j = {{"workload", w.name}};
    if (!o.skipped.empty()) {
      j["skipped"] = o.skipped;
    } else if (!o.error.empty()) {
      j["error"] = o.error;
    } else {
      j["events"] = o.events;
      j["seconds"] = o.seconds;
      j["events_per_s"] = o.seconds > 0 ? static_cast<double>(o.events) / o.seconds : 0.0;
      if (o.peak_rss_bytes) j["peak_rss_bytes"] = *o.peak_rss_bytes;
      if (o.p50_ns) j["p50_latency_ns"] = *o.p50_ns;
      if (o.p99_ns) j["p99_latency_ns"] = *o.p99_ns;
      for (auto& [key, value] : o.extra.items()) j[key] = value;
    }
    std::string text = j.dump();
    if (write(fds[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::_Exit(3);
    std::_Exit(0);
  }
  close(fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty()) {
    return {{"workload", w.name},
            {"error", WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                          : fmt::format("exited with {}", WEXITSTATUS(status))}};
  }
  json j = json::parse(text);
  if (!j.contains("peak_rss_bytes") && j.contains("events")) {
    j["peak_rss_bytes"] = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  }
  return j;
}

std::string Human(double v) {
  if (v >= 1e6) return fmt::format("{:.2f} M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f} k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

void PrintTable(const std::vector<json>& results) {
  fmt::print(stderr, "\n{:<19} {:>9} {:>8} {:>10} {:>9} {:>9} {:>9}  {}\n", "workload", "events", "seconds", "events/s",
             "peak RSS", "p50", "p99", "notes");
  for (const json& r : results) {
    std::string name = r["workload"];
    if (r.contains("skipped")) {
      fmt::print(stderr, "{:<19} skipped: {}\n", name, r["skipped"].get<std::string>());
      continue;
    }
    if (r.contains("error")) {
      fmt::print(stderr, "{:<19} ERROR: {}\n", name, r["error"].get<std::string>());
      continue;
    }
    std::string notes;
    auto note = [&](const std::string& text) { notes += (notes.empty() ? "" : ", ") + text; };
    if (r.contains("mb_per_s")) note(fmt::format("{:.0f} MB/s", r["mb_per_s"].get<double>()));
    if (r.contains("backend")) note(r["backend"].get<std::string>());
    if (r.contains("evaluations_per_event")) note(fmt::format("{:.2f} evals/event", r["evaluations_per_event"].get<double>()));
    if (r.contains("state_peak_entries")) {
      note(fmt::format("state peak {} entries / {:.0f} MiB, {} evicted", Human(r["state_peak_entries"].get<double>()),
                       r["state_peak_bytes"].get<double>() / 1048576.0, Human(r["state_evicted"].get<double>())));
    }
    if (r.contains("truth")) {
      const json& t = r["truth"];
      note(fmt::format("alerts {} ({} expected, {} missing, {} unexpected)", t["correct"].get<bool>() ? "right" : "WRONG",
                       t["expected"].get<uint64_t>(), t["missing"].get<uint64_t>(), t["unexpected"].get<uint64_t>()));
    }
    if (r.contains("ratio")) note(fmt::format("{:.3f}x bare, bpftrace {:.3f}x", r["ratio"].get<double>(), r["bpftrace_ratio"].get<double>()));
    auto ns = [&](const char* key) {
      return r.contains(key) ? fmt::format("{:.0f} ns", r[key].get<double>()) : std::string("-");
    };
    fmt::print(stderr, "{:<19} {:>9} {:>8.2f} {:>10} {:>5.0f} MiB {:>9} {:>9}  {}\n", name,
               Human(r["events"].get<double>()), r["seconds"].get<double>(), Human(r["events_per_s"].get<double>()),
               r.value("peak_rss_bytes", 0.0) / 1048576.0, ns("p50_latency_ns"), ns("p99_latency_ns"), notes);
  }
}

int Main(int argc, char** argv) {
  Settings s;
  const char* dir = std::getenv("KESTREL_BENCH_DIR");
  s.dir = dir != nullptr ? dir : "/tmp";
  std::filesystem::path self = std::filesystem::canonical("/proc/self/exe");
  s.build = self.parent_path().parent_path().string();  // build/bench/kestrel-bench
  s.source = KESTREL_SOURCE_DIR;
  std::vector<std::string> patterns;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--list") {
      list = true;
    } else if (a == "--events" && i + 1 < argc) {
      s.events = std::strtoull(argv[++i], nullptr, 10);
      if (s.events == 0) Die("--events: a positive number");
    } else if (a == "-h" || a == "--help") {
      fmt::print("usage: kestrel-bench [--list] [--events N] [WORKLOAD-GLOB...]\n"
                 "Runs the named workloads (all by default) over `kestrel gen` streams of N events (500000),\n"
                 "cached in $KESTREL_BENCH_DIR (/tmp); one JSON object per result on stdout, a table on stderr.\n");
      return 0;
    } else if (a.starts_with("-")) {
      Die(fmt::format("unknown option '{}' (see --help)", a));
    } else {
      patterns.push_back(a);
    }
  }
  std::vector<Workload> all = Workloads();
  std::vector<const Workload*> chosen;
  for (const Workload& w : all) {
    bool match = patterns.empty();
    for (const std::string& p : patterns) match = match || fnmatch(p.c_str(), w.name.c_str(), 0) == 0;
    if (match) chosen.push_back(&w);
  }
  if (list) {
    for (const Workload& w : all) fmt::print("{:<19} {}\n", w.name, w.description);
    return 0;
  }
  if (chosen.empty()) Die("no workload matches (see --list)");
  std::vector<json> results;
  bool failed = false;
  for (const Workload* w : chosen) {
    fmt::print(stderr, "running {} ...\n", w->name);
    json r = RunIsolated(*w, s);
    r["machine"] = {{"cpus", sysconf(_SC_NPROCESSORS_ONLN)}};
    fmt::print("{}\n", r.dump());
    std::fflush(stdout);
    failed = failed || r.contains("error") || (r.contains("truth") && !r["truth"]["correct"].get<bool>());
    results.push_back(std::move(r));
  }
  PrintTable(results);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace kestrel::bench

int main(int argc, char** argv) { return kestrel::bench::Main(argc, argv); }
