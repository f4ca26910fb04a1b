// The engine configuration file (TOML; docs/engine.md):
//
//   [state]                          # sequence state bounds
//   max_partials = 1000000           # all sequence rules together (split evenly between them)
//   max_partials_per_entity = 10000  # per rule and entity
//   max_bytes = "1GiB"               # all sequence rules together (split evenly)
//   ttl = "24h"                      # deadline of a sequence without maxspan ("0" = none)
//   [replay]
//   chunk_events = 4096
//   queue_chunks = 8
//   [predicates]
//   backend = "native"               # native | wasm | lua, for rules that do not choose
//   budget = 1000000                 # Wasm fuel / Lua VM instructions per evaluation
//   max_overruns = 5                 # a rule is disabled after this many overruns or faults
//   overrun_window = "60s"           # ... within this much event time
//   [enforce]                        # responses (docs/response.md); kestrel run's flags add to it
//   mounts = ["/srv/uploads"]        # mount points where exec / open block rules are enforced
//   cgroup = "/sys/fs/cgroup/unified/app"  # the cgroup v2 whose connects block rules deny
//   deadline = "100ms"               # how long an exec / open may wait for a decision
//   fallback = "allow"               # allow | deny: the answer when the decision is late
//   allow_executables = ["/usr/sbin/sshd"]  # never blocked or killed
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/document.h"
#include "engine/detection_engine.h"
#include "nfa/state_store.h"
#include "runtime/predicate.h"

namespace kestrel::engine {

struct EngineConfig {
  uint64_t max_partials = 1'000'000;
  uint64_t max_partials_per_entity = 10'000;
  uint64_t max_bytes = uint64_t{1} << 30;
  uint64_t ttl_ns = 24ull * 3600 * 1'000'000'000;
  uint64_t chunk_events = 4096;
  uint64_t queue_chunks = 8;
  runtime::Backend backend = runtime::Backend::kNative;
  uint64_t predicate_budget = 1'000'000;
  uint64_t max_overruns = 5;
  uint64_t overrun_window_ns = 60'000'000'000;
  struct Enforce {
    std::vector<std::string> mounts;
    std::string cgroup;
    uint64_t deadline_ns = 100'000'000;
    bool fail_closed = false;
    std::vector<std::string> allow_executables;
  } enforce;

  // The limits of each of `sequence_rules` rules.
  nfa::StateLimits LimitsPerRule(size_t sequence_rules) const;
  // A worker's engine options for a rule set with `sequence_rules` sequences.
  EngineOptions Options(size_t sequence_rules) const;
};

// Reads a configuration file (TOML, or YAML / JSON by extension) holding only engine sections;
// errors name `path:line:col`.
Result<EngineConfig> LoadEngineConfig(const std::string& path);

// The sections above, read from a larger configuration (the agent's, docs/configuration.md).
bool IsEngineSection(std::string_view name);
Status ReadEngineSection(const std::string& path, std::string_view section, const config::DocNode& node,
                         EngineConfig& config);

// "512", "64KiB", "1MiB", "2GiB" -> bytes; "500ms", "10s", "5m", "1h", "2d", "0" -> ns.
Result<uint64_t> ParseBytes(std::string_view text);
Result<uint64_t> ParseDuration(std::string_view text);

}  // namespace kestrel::engine
