// Alerts against the attacks a generated stream holds (bench/check_truth.py is the same rule for
// files): an alert belongs to an attack when all its events are the attack's own and its rule is
// one the attack must make fire; every such pair must fire exactly once, and nothing else.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "gen/generator.h"

namespace kestrel::gen {

// What the check needs of an alert: its rule and its events' `event.sequence`.
struct AlertEvents {
  std::string rule;
  std::vector<uint64_t> positions;
  bool consistent = true;  // false: the caller found its events inconsistent (counts as unexpected)
};

struct TruthVerdict {
  uint64_t attacks = 0;
  uint64_t expected = 0;  // alerts: each attack's rules once
  uint64_t matched = 0;
  uint64_t missing = 0;
  uint64_t duplicated = 0;
  uint64_t unexpected = 0;
  uint64_t excluded_expected = 0;  // expected alerts of `excluded` rules, not checked
  uint64_t excluded_alerts = 0;    // alerts of `excluded` rules that matched no attack
  std::string example;             // the first problem, in words
  bool ok() const { return missing == 0 && duplicated == 0 && unexpected == 0; }
};

// `excluded`: rules whose alerts are not checked (a reload changed them, say).
TruthVerdict CheckAlerts(const std::vector<Injection>& attacks, const std::vector<AlertEvents>& alerts,
                         const std::set<std::string>& excluded = {});

}  // namespace kestrel::gen
