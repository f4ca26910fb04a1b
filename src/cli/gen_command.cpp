// `kestrel gen`: a deterministic ECS event stream with attacks at known positions
// (src/gen/generator.h, docs/performance.md).
#include <fmt/format.h>

#include "cli/commands.h"
#include "gen/generator.h"

namespace kestrel::cli {
namespace {

struct GenOptions {
  gen::Options gen;
  std::string profile = "realistic";
  std::string output = "-";
  std::string truth;
  bool list_scenarios = false;
};

int RunGen(GenOptions& o) {
  if (o.list_scenarios) {
    for (const gen::Scenario& s : gen::Scenarios()) {
      fmt::print("{:<22} {}\n{:<22} fires: {}\n", s.name, s.description, "", fmt::join(s.rules, ", "));
    }
    return kExitOk;
  }
  auto profile = gen::ParseProfile(o.profile);
  if (!profile) {
    fmt::print(stderr, "error: {}\n", profile.error().ToString());
    return kExitUsage;
  }
  o.gen.profile = *profile;
  if (auto written = gen::WriteStream(o.gen, o.output, o.truth); !written) {
    fmt::print(stderr, "error: {}\n", written.error().ToString());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

CommandFn AddGenCommand(CLI::App& app) {
  auto options = std::make_shared<GenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "gen", "Generate a deterministic ECS event stream with attacks at known positions (benchmarks, tests)");
  cmd->add_option("--seed", options->gen.seed, "Random seed: the same seed and options give the same bytes")
      ->capture_default_str();
  cmd->add_option("-n,--events", options->gen.events, "Number of events")->capture_default_str();
  cmd->add_option("--profile", options->profile,
                  "realistic (hosts at work) or adversarial (state growth, huge and non-ASCII fields, near misses)")
      ->check(CLI::IsMember({"realistic", "adversarial"}))
      ->capture_default_str();
  cmd->add_option("--hosts", options->gen.hosts, "Number of hosts")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--attack-every", options->gen.attack_every,
                  "One attack per this many events on average (0: none)")
      ->capture_default_str();
  cmd->add_option("--keys", options->gen.keys,
                  "adversarial: distinct join keys of the never-completed sequence stages")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("-o,--output", options->output, "Output file (.klog or .klog.zst: binary; else NDJSON; '-': stdout)")
      ->capture_default_str();
  cmd->add_option("--truth", options->truth,
                  "Write the attacks (scenario, the rules they fire, their events' positions) here, one JSON per line");
  cmd->add_flag("--list-scenarios", options->list_scenarios, "List the attack scenarios and the rules they fire");
  return [options] { return RunGen(*options); };
}

}  // namespace kestrel::cli
