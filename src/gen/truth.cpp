#include "gen/truth.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace kestrel::gen {

TruthVerdict CheckAlerts(const std::vector<Injection>& attacks, const std::vector<AlertEvents>& alerts,
                         const std::set<std::string>& excluded) {
  TruthVerdict v;
  v.attacks = attacks.size();
  std::map<uint64_t, size_t> owner;  // position -> attack
  for (size_t a = 0; a < attacks.size(); ++a) {
    for (uint64_t p : attacks[a].positions) owner[p] = a;
  }
  std::map<std::pair<size_t, std::string>, uint32_t> fired;
  for (const AlertEvents& alert : alerts) {
    std::set<int64_t> owners;
    for (uint64_t p : alert.positions) {
      auto it = owner.find(p);
      owners.insert(it == owner.end() ? -1 : static_cast<int64_t>(it->second));
    }
    const bool owned = alert.consistent && owners.size() == 1 && *owners.begin() >= 0;
    const auto attack = static_cast<size_t>(owned ? *owners.begin() : 0);
    if (owned && std::ranges::count(attacks[attack].rules, alert.rule) > 0) {
      ++fired[{attack, alert.rule}];
    } else if (excluded.contains(alert.rule)) {
      ++v.excluded_alerts;
    } else {
      ++v.unexpected;
      if (v.example.empty()) {
        v.example = fmt::format("unexpected {} on events {}", alert.rule, fmt::join(alert.positions, ","));
      }
    }
  }
  for (size_t a = 0; a < attacks.size(); ++a) {
    for (const std::string& rule : attacks[a].rules) {
      auto it = fired.find({a, rule});
      const uint32_t n = it == fired.end() ? 0 : it->second;
      if (excluded.contains(rule)) {
        ++v.excluded_expected;
        continue;
      }
      ++v.expected;
      if (n == 1) {
        ++v.matched;
        continue;
      }
      ++(n == 0 ? v.missing : v.duplicated);
      if (v.example.empty()) {
        v.example = fmt::format("{} {} for {} at events {}", n == 0 ? "missing" : "duplicated", rule,
                                attacks[a].scenario, fmt::join(attacks[a].positions, ","));
      }
    }
  }
  return v;
}

}  // namespace kestrel::gen
