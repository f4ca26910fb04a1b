// kestrel-soak (`make soak`, docs/performance.md "Soak"): the adversarial stream of `kestrel gen`
// replayed in a loop through one DetectionEngine for N minutes, while a copy of the rule pack is
// edited every few seconds so that the RuleManager reloads it (some edits broken on purpose, which
// it must refuse). The RSS is sampled each second; it must stay within 10 % after the warm-up.
// Every generated event must reach an engine, and every completed loop must alert exactly as the
// generator's truth says: each attack's rules once, nothing else. Prints one verdict line on
// stdout and progress on stderr; exits 0 (PASS), 1 (FAIL) or 2 (usage).
//
// Loop k is the same stream as loop 0 (the generator is deterministic) moved forward in event
// time by k strides: the stream's span plus the longest window a sequence rule of the pack keeps
// a partial match (maxspan, or the state TTL), plus 1 s. So nothing one loop leaves in the state
// can meet the next loop's events, and each loop's truth is exactly the single stream's.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_config.h"
#include "event/ndjson.h"
#include "gen/generator.h"
#include "gen/truth.h"
#include "rules/rule_manager.h"

namespace kestrel::soak {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint64_t kChunkEvents = 4096;  // generated, decoded and fed at a time
constexpr int64_t kStartNs = 1'732'601'600'000'000'000;  // gen::Options' default start
constexpr uint64_t kQueryEvery = 4;   // reload r with r % 4 == 2 changes a query
constexpr uint64_t kBrokenEvery = 8;  // reload r with r % 8 == 7 is broken on purpose

struct Options {
  double seconds = 600;
  uint64_t events_per_loop = 500'000;
  double reload_every = 3;
  std::string pack = KESTREL_SOURCE_DIR "/rules/linux";
  uint64_t seed = 1;
  uint64_t attack_every = 2000;
  // Event time between two loops; default: the pack's longest sequence window + 1 s.
  std::optional<double> loop_gap;
};

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
double MiB(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

uint64_t ResidentBytes() {
  unsigned long long size = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%llu %llu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Samples the resident set size once a second on its own thread.
class RssSampler {
 public:
  struct Sample {
    double seconds;
    uint64_t bytes;
  };
  explicit RssSampler(Clock::time_point start) : start_(start), thread_([this] { Run(); }) {}
  ~RssSampler() { Stop(); }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Sample> samples() const {
    std::lock_guard lock(mu_);
    return samples_;
  }
  uint64_t last() const { return last_.load(); }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (auto next = start_; !stop_; next += 1s) {
      if (wake_.wait_until(lock, next, [&] { return stop_; })) break;
      uint64_t bytes = ResidentBytes();
      last_.store(bytes);
      samples_.push_back({Since(start_), bytes});
    }
  }
  Clock::time_point start_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<Sample> samples_;
  std::atomic<uint64_t> last_{0};
  std::thread thread_;  // last: starts once the rest is built
};

// `text` with `line` added at the end of the block scalar `key: >` or `key: |` opens (with the
// indentation of its first line); unchanged when there is no such block.
std::string AppendToBlock(const std::string& text, std::string_view key, std::string_view line) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (!l.starts_with(key) || !l.substr(key.size()).starts_with(":")) continue;
    std::string_view rest = l.substr(key.size() + 1);
    while (rest.starts_with(' ')) rest.remove_prefix(1);
    if (rest.empty() || (rest[0] != '>' && rest[0] != '|')) return text;
    size_t last = i, indent = 2;
    for (size_t j = i + 1; j < lines.size() && (lines[j].empty() || lines[j][0] == ' '); ++j) {
      if (lines[j].find_first_not_of(' ') == std::string::npos) continue;
      if (last == i) indent = lines[j].find_first_not_of(' ');
      last = j;
    }
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(last + 1), std::string(indent, ' ') + std::string(line));
    std::string out;
    for (const std::string& k : lines) out += k + '\n';
    return out;
  }
  return text;
}

// The pack copied into a temporary folder, and the edits the reloads make to it. Files are
// written as editors and deploy tools do: a temporary file renamed into place.
class PackCopy {
 public:
  static Result<std::unique_ptr<PackCopy>> Create(const std::string& source) {
    std::string pattern = (fs::temp_directory_path() / "kestrel-soak-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return MakeErrorAt(pattern, ErrorCode::kIo, "cannot create a folder");
    std::unique_ptr<PackCopy> copy(new PackCopy(pattern));
    std::error_code ec;
    fs::copy(source, copy->dir_, fs::copy_options::recursive, ec);
    if (ec) return MakeErrorAt(source, ErrorCode::kIo, fmt::format("cannot copy the pack: {}", ec.message()));
    return copy;
  }
  ~PackCopy() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }

  // The rule files a reload may edit: those with a `description:` and a `query:` block. A query
  // is only changed in rules no attack scenario makes fire (`attack_rules`).
  Status SetRules(const engine::RuleSet& rules, const std::set<std::string>& attack_rules) {
    for (const engine::Rule& r : rules.rules) {
      std::ifstream in(r.path);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (AppendToBlock(text, "description", "x") == text || AppendToBlock(text, "query", "x") == text) continue;
      original_[r.path] = text;
      files_.push_back({r.path, r.id, r.is_sequence()});
      if (attack_rules.count(r.id) == 0) (r.is_sequence() ? sequence_targets_ : event_targets_).push_back(files_.size() - 1);
    }
    original_[(fs::path(dir_) / "zz-kestrel-soak-broken.yaml").string()] = std::nullopt;
    if (files_.empty()) return MakeErrorAt(dir_, ErrorCode::kInvalidArgument, "no rule file with a description: and a query: block");
    return Ok();
  }
  size_t query_targets() const { return sequence_targets_.size() + event_targets_.size(); }

  // Reload `r` (1, 2, ...): every reload adds "(kestrel-soak reload r)" to one rule's description
  // (the pack's hash changes, no rule's fingerprint does); every kQueryEvery-th moves the query
  // change to the next rule no attack depends on (a comment in a sequence, which drops its partial
  // matches; `and process.name != "kestrel-soak-r"` in an event rule, which only narrows it) and
  // restores the previous one; every kBrokenEvery-th also breaks the pack (a YAML syntax error in
  // a new file, or an unknown field in a query). True when this reload is broken on purpose.
  Result<bool> Apply(uint64_t r) {
    std::map<std::string, std::optional<std::string>> want;
    auto edit = [&](const std::string& path) -> std::string& {
      if (!want.count(path)) want[path] = original_.at(path);
      return *want[path];
    };
    const RuleFile& d = files_[r % files_.size()];
    edit(d.path) = AppendToBlock(edit(d.path), "description", fmt::format("(kestrel-soak reload {})", r));
    if (r % kQueryEvery == 2 && query_targets() > 0) {  // sequences and event rules in turn
      const uint64_t q = query_serial_++;
      const bool sequence = (q % 2 == 0 && !sequence_targets_.empty()) || event_targets_.empty();
      const std::vector<size_t>& pool = sequence ? sequence_targets_ : event_targets_;
      query_target_ = pool[(q / 2) % pool.size()];
      query_edit_ = r;
    }
    if (query_target_) {
      const RuleFile& q = files_[*query_target_];
      edit(q.path) = AppendToBlock(edit(q.path), "query",
                                   q.sequence ? fmt::format("/* kestrel-soak {} */", query_edit_)
                                              : fmt::format("and process.name != \"kestrel-soak-{}\"", query_edit_));
    }
    const bool broken = r % kBrokenEvery == kBrokenEvery - 1;
    if (broken && (r / kBrokenEvery) % 2 == 0) {
      want[(fs::path(dir_) / "zz-kestrel-soak-broken.yaml").string()] = "id: kestrel-soak-broken\nquery: [unclosed\n";
    } else if (broken) {
      edit(d.path) = AppendToBlock(edit(d.path), "query", "and proces.name == \"kestrel-soak\"");
    }
    std::set<std::string> paths;
    for (const auto& [path, text] : want) paths.insert(path);
    for (const auto& [path, text] : current_) paths.insert(path);
    for (const std::string& path : paths) {
      const std::optional<std::string>& target = want.count(path) ? want[path] : original_.at(path);
      const std::optional<std::string>& now = current_.count(path) ? current_[path] : original_.at(path);
      if (target == now) continue;
      KESTREL_TRY(Write(path, target));
      if (target == original_.at(path)) {
        current_.erase(path);
      } else {
        current_[path] = target;
      }
    }
    return broken;
  }

 private:
  struct RuleFile {
    std::string path;
    std::string id;
    bool sequence;
  };
  explicit PackCopy(std::string dir) : dir_(std::move(dir)) {}
  static Status Write(const std::string& path, const std::optional<std::string>& text) {
    std::error_code ec;
    if (!text) {
      fs::remove(path, ec);
      return ec ? MakeErrorAt(path, ErrorCode::kIo, ec.message()) : Ok();
    }
    fs::path tmp = fs::path(path).parent_path() / ".kestrel-soak.tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << *text;
      if (!out.flush()) return MakeErrorAt(tmp.string(), ErrorCode::kIo, "cannot write");
    }
    fs::rename(tmp, path, ec);
    return ec ? MakeErrorAt(path, ErrorCode::kIo, ec.message()) : Ok();
  }

  std::string dir_;
  std::vector<RuleFile> files_;
  std::vector<size_t> sequence_targets_, event_targets_;  // indices into files_
  std::map<std::string, std::optional<std::string>> original_;  // nullopt: the file is absent
  std::map<std::string, std::optional<std::string>> current_;   // the files that differ from it
  std::optional<size_t> query_target_;
  uint64_t query_edit_ = 0, query_serial_ = 0;
};

// What the reloads did, filled by the reloader thread.
struct ReloadLog {
  std::mutex mu;
  uint64_t done = 0;             // reloads attempted (written and answered by the manager)
  uint64_t broken = 0;           // of which broken on purpose, and refused
  std::vector<std::string> problems;  // a good pack refused, a broken one taken, no answer
};

// Every `every`, once started, edits the pack (PackCopy::Apply) and waits for the manager's answer.
void ReloadLoop(PackCopy& copy, rules::RuleManager& manager, std::chrono::milliseconds every, ReloadLog& log,
                std::atomic<bool>& stop) {
  auto next = Clock::now() + every;
  for (uint64_t r = 1; !stop.load(); ++r) {
    while (!stop.load() && Clock::now() < next) std::this_thread::sleep_for(std::min<Clock::duration>(next - Clock::now(), 100ms));
    if (stop.load()) return;
    rules::ReloadStats before = manager.stats();
    uint64_t attempts = before.successes + before.failures + before.unchanged;
    auto broken = copy.Apply(r);
    auto problem = [&](std::string text) {
      std::lock_guard lock(log.mu);
      if (log.problems.size() < 8) log.problems.push_back(std::move(text));
    };
    if (!broken) return problem(fmt::format("reload {}: {}", r, broken.error().ToString()));
    auto give_up = Clock::now() + 120s;
    bool answered = false;
    while (!stop.load() && !(answered = manager.WaitForAttempts(attempts + 1, 200ms)) && Clock::now() < give_up) {
    }
    if (!answered) {
      if (!stop.load()) problem(fmt::format("reload {}: the manager did not answer within 120 s", r));
      return;
    }
    rules::ReloadStats after = manager.stats();
    std::lock_guard lock(log.mu);
    ++log.done;
    if (*broken && after.failures == before.failures + 1) ++log.broken;
    if (*broken && after.failures != before.failures + 1) log.problems.push_back(fmt::format("reload {}: a broken pack was not refused", r));
    if (!*broken && after.successes != before.successes + 1) {
      log.problems.push_back(fmt::format("reload {}: a good pack was not swapped in: {}", r,
                                         after.last_error.empty() ? "unchanged" : after.last_error));
    }
    next += every;
  }
}

// Per loop: its alerts (their events' places checked against kestrel.event_id: every event in
// one loop, at the position its id says), and the rules whose query a reload changed while it ran.
struct LoopAlerts {
  std::vector<gen::AlertEvents> alerts;
  std::set<std::string> changed;
};

// The attacks of one loop (the same in every loop) and what they must make fire.
struct Truth {
  std::vector<gen::Injection> attacks;
  size_t expected = 0;  // alerts: each attack's rules once

  void Set(const std::vector<gen::Injection>& injections) {
    attacks = injections;
    for (const gen::Injection& a : attacks) expected += a.rules.size();
  }
  bool Same(const std::vector<gen::Injection>& injections) const {
    if (injections.size() != attacks.size()) return false;
    for (size_t a = 0; a < attacks.size(); ++a) {
      if (injections[a].positions != attacks[a].positions || injections[a].rules != attacks[a].rules) return false;
    }
    return true;
  }
};

// check_truth.py's rule for one loop, leaving out the rules a reload changed during it.
gen::TruthVerdict CheckLoop(const Truth& truth, const LoopAlerts& loop) {
  return gen::CheckAlerts(truth.attacks, loop.alerts, loop.changed);
}

// Reads an alert line: its rule and its events' positions, and which loop they are in.
std::optional<std::pair<uint64_t, gen::AlertEvents>> ParseAlert(simdjson::dom::parser& parser, const std::string& json,
                                                         uint64_t events_per_loop) {
  simdjson::dom::element doc;
  std::string_view rule;
  simdjson::dom::array events;
  if (parser.parse(json).get(doc) || doc["rule"]["id"].get(rule) || doc["kestrel"]["alert"]["events"].get(events)) {
    return std::nullopt;
  }
  gen::AlertEvents a{std::string(rule), {}, true};
  std::optional<uint64_t> loop;
  for (simdjson::dom::element e : events) {
    uint64_t id = 0, sequence = 0;
    if (e.is_null()) continue;
    if (e["kestrel"]["event_id"].get(id) || e["event"]["sequence"].get(sequence) || id == 0) return std::nullopt;
    const uint64_t l = (id - 1) / events_per_loop, position = (id - 1) % events_per_loop;
    if ((loop && *loop != l) || position != sequence) a.consistent = false;
    loop = l;
    a.positions.push_back(sequence);
  }
  if (!loop) return std::nullopt;
  return std::pair{*loop, std::move(a)};
}

// The longest time a sequence rule of `rules` keeps a partial match: its maxspan, else the TTL.
uint64_t LongestWindow(const engine::RuleSet& rules, uint64_t ttl_ns) {
  uint64_t longest = 0;
  for (const engine::Rule& r : rules.rules) {
    if (!r.is_sequence()) continue;
    longest = std::max(longest, r.compiled->maxspan_ns ? static_cast<uint64_t>(*r.compiled->maxspan_ns) : ttl_ns);
  }
  return longest;
}

int Run(const Options& o) {
  spdlog::set_level(spdlog::level::off);  // the manager's reload log; what matters is in its stats
  const Clock::time_point start = Clock::now();
  const auto fail_now = [](const Error& e) {
    fmt::print(stderr, "error: {}\n", e.ToString());
    fmt::print("soak: FAIL (error: {})\n", e.message());
    return 1;
  };
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto copy = PackCopy::Create(o.pack);
  if (!copy) return fail_now(copy.error());
  const engine::EngineConfig config;  // kestrel run's defaults: the state bounds a soak must meet
  rules::RuleManagerOptions mo;
  mo.path = (*copy)->dir();
  mo.pack.host_id = "kestrel-soak";
  mo.quiet = 100ms;
  mo.engine_options = [config](const engine::RuleSet& rules) {
    return config.Options(static_cast<size_t>(
        std::count_if(rules.rules.begin(), rules.rules.end(), [](const engine::Rule& r) { return r.is_sequence(); })));
  };
  auto manager = rules::RuleManager::Start(mo, registry);
  if (!manager) return fail_now(manager.error());
  std::shared_ptr<rules::Generation> current = (*manager)->initial();

  std::set<std::string> attack_rules;
  for (const gen::Scenario& s : gen::Scenarios()) attack_rules.insert(s.rules.begin(), s.rules.end());
  for (const std::string& id : attack_rules) {
    if (std::ranges::none_of(current->pack.rules.rules, [&](const engine::Rule& r) { return r.id == id; })) {
      return fail_now(MakeErrorAt(o.pack, ErrorCode::kInvalidArgument,
                                  fmt::format("the pack lacks rule {}, which the generator's attacks make fire", id))
                          .value());
    }
  }
  if (Status s = (*copy)->SetRules(current->pack.rules, attack_rules); !s) return fail_now(s.error());
  const uint64_t gap = o.loop_gap ? static_cast<uint64_t>(*o.loop_gap * 1e9)
                                  : LongestWindow(current->pack.rules, config.ttl_ns) + 1'000'000'000;
  const uint64_t n = o.events_per_loop;

  RssSampler rss(start);
  ReloadLog reload_log;
  std::atomic<bool> stop_reloads{false};
  std::thread reloader;
  struct JoinOnExit {  // every return stops the reloader first
    std::atomic<bool>& stop;
    std::thread& thread;
    ~JoinOnExit() {
      stop.store(true);
      if (thread.joinable()) thread.join();
    }
  } join_reloader{stop_reloads, reloader};
  const auto reload_every = std::chrono::milliseconds(static_cast<int64_t>(o.reload_every * 1000));

  // The event thread: the counters of "no event lost".
  uint64_t generated = 0, decoded = 0, fed = 0, counted = 0;  // counted: by engines replaced so far
  uint64_t swaps = 0, partials_kept = 0, partials_dropped = 0, alerts_total = 0, unparsed = 0;
  std::map<uint64_t, LoopAlerts> pending;  // loops not yet checked
  std::vector<gen::TruthVerdict> verdicts;       // of the checked loops, in order
  uint64_t late = 0;                       // alerts of an already checked loop
  Truth truth;
  uint64_t loop = 0, stride = 0;
  uint64_t first_ts = 0, last_ts = 0;
  simdjson::dom::parser parser;
  std::vector<engine::Alert> out;
  EventBatch batch;
  std::string text;
  auto last_progress = start;
  const auto deadline = start + std::chrono::milliseconds(static_cast<int64_t>(o.seconds * 1000));

  auto take_alerts = [&] {
    for (const engine::Alert& a : out) {
      ++alerts_total;
      auto parsed = ParseAlert(parser, a.json, n);
      if (!parsed) {
        ++unparsed;
        continue;
      }
      if (parsed->first < verdicts.size()) {
        ++late;
        continue;
      }
      pending[parsed->first].alerts.push_back(std::move(parsed->second));
    }
    out.clear();
  };
  // Between two events: the new generation replaces the old one, as `kestrel run` does it.
  auto swap_to = [&](std::shared_ptr<rules::Generation> next) {
    counted += current->engine->stats().events;
    uint64_t held = current->engine->stats().state.entries;
    uint64_t kept = next->engine->AdoptState(*current->engine);
    partials_kept += kept;
    partials_dropped += held - kept;
    std::map<std::string, uint64_t> was;
    for (const engine::Rule& r : current->pack.rules.rules) was[r.id] = r.fingerprint;
    // A changed rule's partial matches were dropped: its alerts in this loop (and in the previous
    // one, whose trailing missing-event stages are decided now) are not held to the truth.
    auto changed = [&](const std::string& id) {
      pending[loop].changed.insert(id);
      if (loop > verdicts.size()) pending[loop - 1].changed.insert(id);
    };
    for (const engine::Rule& r : next->pack.rules.rules) {
      if (!was.count(r.id) || was[r.id] != r.fingerprint) changed(r.id);
      was.erase(r.id);
    }
    for (const auto& [id, fingerprint] : was) changed(id);  // removed
    current->engine.reset();  // here: the events its state held may now be shared with the new engine's
    (*manager)->Retire(std::move(current));
    current = std::move(next);
    ++swaps;
  };
  auto progress = [&] {
    engine::EngineStats es = current->engine->stats();
    std::lock_guard lock(reload_log.mu);
    fmt::print(stderr, "soak: {:.0f} s, loop {}, {:.2f} M events ({:.0f} k/s), {} reloads ({} rejected), RSS {:.0f} MiB, "
               "state {} partial matches / {:.0f} MiB\n",
               Since(start), loop, static_cast<double>(fed) / 1e6, static_cast<double>(fed) / Since(start) / 1e3,
               reload_log.done, reload_log.broken, MiB(rss.last()), es.state.entries, MiB(es.state.bytes));
  };

  bool time_up = false;
  for (; !time_up; ++loop) {
    gen::Options go;
    go.seed = o.seed;
    go.events = n;
    go.profile = gen::Profile::kAdversarial;
    go.attack_every = o.attack_every;
    go.start_ns = kStartNs + static_cast<int64_t>(loop * stride);
    gen::Generator generator(go);
    bool more = true;
    while (more && !time_up) {
      text.clear();
      const uint64_t first = generator.produced();
      while (generator.produced() - first < kChunkEvents && (more = generator.Next(text))) {
      }
      if (generator.produced() == first) break;
      generated += generator.produced() - first;
      ReadOptions ro;
      ro.first_event_id = loop * n + first + 1;
      ro.batch_events = kChunkEvents;
      auto input = InputFile::FromBytes("kestrel-soak", text);
      if (!input) return fail_now(input.error());
      auto reader = OpenNdjsonReader(std::move(*input), ro, &registry);
      if (!reader) return fail_now(reader.error());
      for (;;) {
        auto got = (*reader)->Next(batch);
        if (!got) return fail_now(got.error());
        if (!*got) break;
        for (const Event& e : batch) {
          if (auto next = (*manager)->TakeUpdate()) swap_to(std::move(next));
          current->engine->Process(e, out);
          ++fed;
          if (loop == 0) {
            if (fed == 1) first_ts = e.ts_mono_ns();
            last_ts = e.ts_mono_ns();
          }
          if (!out.empty()) take_alerts();
        }
      }
      decoded += (*reader)->stats().records;
      time_up = Clock::now() >= deadline;
      if (Since(last_progress) >= 30) {
        last_progress = Clock::now();
        progress();
      }
    }
    if (generator.produced() < n) break;  // the time ran out within this loop
    if (loop == 0) {
      // Loop 0 registered every field the stream has: from now on decoding only reads the
      // registry, so the manager thread may compile packs against it while events flow.
      truth.Set(generator.injections());
      stride = (last_ts - first_ts) + gap;
      fmt::print(stderr, "soak: {} events a loop ({} attacks, {} alerts expected), {:.1f} s of event time, loops {:.0f} s apart "
                 "in event time; reloads every {:.1f} s from now on\n",
                 n, truth.attacks.size(), truth.expected, static_cast<double>(last_ts - first_ts) / 1e9,
                 static_cast<double>(stride) / 1e9, o.reload_every);
      reloader = std::thread([&] { ReloadLoop(**copy, **manager, reload_every, reload_log, stop_reloads); });
    } else if (!truth.Same(generator.injections())) {
      return fail_now(MakeError(ErrorCode::kInternal, fmt::format("loop {} has other attacks than loop 0", loop)).value());
    }
    // Loop k-1's alerts are all in once loop k ran: its partial matches expired at loop k's first event.
    if (loop >= 1) {
      verdicts.push_back(CheckLoop(truth, pending[loop - 1]));
      pending.erase(loop - 1);
    }
  }
  stop_reloads.store(true);
  if (reloader.joinable()) reloader.join();
  current->engine->Finish(out);
  take_alerts();
  // The last complete loop: its trailing alerts came with Finish when no later loop started.
  const uint64_t complete = generated / n;
  if (complete > verdicts.size() && !truth.attacks.empty()) {
    verdicts.push_back(CheckLoop(truth, pending[verdicts.size()]));
  }
  counted += current->engine->stats().events;
  const double elapsed = Since(start);
  rss.Stop();
  (*manager)->Retire(std::move(current));
  rules::ReloadStats rs = (*manager)->stats();

  // The verdict.
  std::vector<std::string> why;
  const uint64_t lost = generated - std::min(generated, counted);
  if (decoded != generated || fed != generated || counted != generated) {
    why.push_back(fmt::format("events: {} generated, {} decoded, {} fed, {} counted by the engines", generated, decoded,
                              fed, counted));
  }
  const double warmup = std::min(0.2 * o.seconds, 120.0);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const RssSampler::Sample& s : rss.samples()) {
    if (s.seconds < warmup) continue;
    lo = std::min(lo, s.bytes);
    hi = std::max(hi, s.bytes);
  }
  const double growth = hi > 0 ? static_cast<double>(hi) / static_cast<double>(lo) - 1 : 0;
  if (hi == 0) why.push_back("no RSS sample after the warm-up");
  if (hi > 0 && growth > 0.10) why.push_back(fmt::format("RSS grew {:.1f} % after the warm-up (limit 10 %)", growth * 100));
  uint64_t good = 0, excluded_expected = 0, excluded_alerts = 0;
  for (size_t k = 0; k < verdicts.size(); ++k) {
    good += verdicts[k].ok();
    excluded_expected += verdicts[k].excluded_expected;
    excluded_alerts += verdicts[k].excluded_alerts;
    if (!verdicts[k].ok() && why.size() < 6) {
      why.push_back(fmt::format("loop {}: {} missing, {} duplicated, {} unexpected (first: {})", k, verdicts[k].missing,
                                verdicts[k].duplicated, verdicts[k].unexpected, verdicts[k].example));
    }
  }
  if (verdicts.empty()) why.push_back("no loop completed (lower --events-per-loop or raise --seconds)");
  if (late > 0 || unparsed > 0) why.push_back(fmt::format("{} alerts after their loop was checked, {} unreadable", late, unparsed));
  {
    std::lock_guard lock(reload_log.mu);
    for (const std::string& p : reload_log.problems) why.push_back(p);
  }
  const uint64_t reloads = rs.successes + rs.failures + rs.unchanged;
  fmt::print(stderr,
             "soak: {:.0f} s; events {} generated = {} decoded = {} fed = {} counted by the engines; {} alerts; reloads: {} "
             "swapped in ({} taken by the event thread), {} refused, {} unchanged; partial matches {} kept, {} dropped "
             "across swaps; loops checked {}, alerts excluded for rules changed in their loop: {} expected, {} others; "
             "RSS samples {} (warm-up {:.0f} s)\n",
             elapsed, generated, decoded, fed, counted, alerts_total, rs.successes, swaps, rs.failures, rs.unchanged,
             partials_kept, partials_dropped, verdicts.size(), excluded_expected, excluded_alerts, rss.samples().size(),
             warmup);
  for (const std::string& w : why) fmt::print(stderr, "soak: FAIL: {}\n", w);
  fmt::print("soak: {} {:.0f} s, {} loops, {:.1f} M events ({} lost), {} reloads ({} rejected: broken on purpose), "
             "RSS {:.0f}-{:.0f} MiB after warm-up ({:+.1f} %), alerts as expected in {}/{} loops{}\n",
             why.empty() ? "PASS" : "FAIL", elapsed, complete, static_cast<double>(generated) / 1e6, lost, reloads,
             reload_log.broken, MiB(hi > 0 ? lo : 0), MiB(hi), growth * 100, good, verdicts.size(),
             why.empty() ? "" : fmt::format(" — {}", why.front()));
  return why.empty() ? 0 : 1;
}

}  // namespace
}  // namespace kestrel::soak

int main(int argc, char** argv) {
  kestrel::soak::Options o;
  CLI::App app{"kestrel-soak: a long replay of an adversarial stream with hot reloads; RSS must stay flat and no "
               "event may be lost"};
  app.add_option("--seconds", o.seconds, "how long to run")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--events-per-loop", o.events_per_loop, "events of the generated stream replayed each loop")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1000}, uint64_t{1} << 40));
  app.add_option("--reload-every", o.reload_every, "seconds between two pack edits")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--pack", o.pack, "the rule pack (copied; the copy is edited)")->capture_default_str()->check(CLI::ExistingDirectory);
  app.add_option("--seed", o.seed, "the generator's seed")->capture_default_str();
  app.add_option("--loop-gap", o.loop_gap,
                 "event time between two loops in seconds (default: the pack's longest sequence window + 1 s, so "
                 "that nothing one loop leaves in the state meets the next loop's events)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--attack-every", o.attack_every, "one attack per this many events on average")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return kestrel::soak::Run(o);
}
