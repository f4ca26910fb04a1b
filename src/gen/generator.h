// A deterministic ECS event stream generator (`kestrel gen`, docs/performance.md): Linux hosts
// with realistic process trees, file and network activity, and attacks mixed in at known
// positions, so a benchmark or a test can check the alerts as well as the speed.
//
// The same options give the same bytes on every machine: the generator draws from its own
// mt19937_64 and does its own arithmetic on the draws (no std distributions, whose algorithms
// differ between standard libraries).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kestrel::gen {

enum class Profile : uint8_t {
  // Hosts at work: shell sessions, cron jobs, a web server and an application, builds.
  kRealistic,
  // Built to grow the engine's state: sequences' first stages that never complete over many
  // join keys, deep fork chains, huge command lines, non-ASCII names and near misses of rules,
  // at a high event rate, on top of some realistic activity.
  kAdversarial,
};
Result<Profile> ParseProfile(std::string_view name);
std::string_view ProfileName(Profile profile);

struct Options {
  uint64_t seed = 1;
  uint64_t events = 100'000;
  Profile profile = Profile::kRealistic;
  uint32_t hosts = 4;
  // One attack starts per this many events on average (0: none).
  uint64_t attack_every = 10'000;
  // Adversarial: the number of distinct join keys the never-completed first stages use.
  uint64_t keys = 1'000'000;
  // The first event's time, ns since the Unix epoch (default 2024-11-26T06:13:20Z).
  int64_t start_ns = 1'732'601'600'000'000'000;
};

// One attack in the stream: which events are its own and which rules of the bundled pack
// (rules/linux) it must make fire, each once.
struct Injection {
  std::string scenario;
  std::vector<std::string> rules;
  std::vector<uint64_t> positions;  // the events' `event.sequence`, in stream order
  std::string host_id;
};

// The names of the attack scenarios, and the rules each makes fire.
struct Scenario {
  std::string_view name;
  std::vector<std::string_view> rules;
  std::string_view description;
};
const std::vector<Scenario>& Scenarios();

class Generator {
 public:
  explicit Generator(const Options& options);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Appends the next event, one JSON object and a newline, to `out`; false when all
  // `options.events` events were produced. Every event has `event.sequence` = its position
  // (0-based) and `event.id` = "<seed>-<position>".
  bool Next(std::string& out);
  uint64_t produced() const;
  // The attacks produced so far, in order of their first event. An attack is always complete:
  // the generator does not start one it cannot finish within `options.events`.
  const std::vector<Injection>& injections() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One injection as a JSON object (no newline):
// {"scenario":"...","rules":[...],"positions":[...],"host_id":"..."}.
std::string InjectionJson(const Injection& injection);

// Writes the stream to `output` (".klog" or ".klog.zst": Kestrel's binary format; anything else
// NDJSON; "-": NDJSON on standard output), and the injections, one JSON object per line, to
// `truth` unless it is empty.
Status WriteStream(const Options& options, const std::string& output, const std::string& truth);

}  // namespace kestrel::gen
