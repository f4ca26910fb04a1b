// Internal to obs: the Prometheus text exposition format 0.0.4 — name checks, escaping, number
// formatting, and `Exposition`, the samples of one scrape grouped by family. The registry fills
// one per Render() (registered handles first, then the collectors) and turns it into text.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>

#include "obs/metrics.h"

namespace kestrel::obs::internal {

enum class MetricType : uint8_t { kCounter, kGauge, kSummary };

std::string_view TypeName(MetricType type);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool ValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus).
bool ValidLabelName(std::string_view name);
// Sorts by label name; false if a name is invalid or repeated.
bool NormalizeLabels(Labels& labels);

// HELP text: \ and newline escaped.
void AppendEscapedHelp(std::string& out, std::string_view help);
// Label values: \, " and newline escaped.
void AppendEscapedLabelValue(std::string& out, std::string_view value);
// Go's float syntax as Prometheus parses it: shortest round-trip form, NaN, +Inf, -Inf.
void AppendDouble(std::string& out, double value);

// The samples of one scrape, by family, families sorted by name.
class Exposition {
 public:
  // Adds the sample `name``suffix`{labels[,extra_label="extra_value"]} value to family `name`.
  // `labels` must be normalized. False (and the sample dropped) if the family already has another
  // type or help, or this series was already written in this scrape.
  bool Add(std::string_view name, std::string_view help, MetricType type, std::string_view suffix,
           const Labels& labels, std::string_view extra_label, std::string_view extra_value,
           std::string_view value);

  std::string Render() const;

 private:
  struct Family {
    std::string help;
    MetricType type;
    std::string body;                        // sample lines, in the order added
    std::unordered_set<std::string> series;  // suffix + rendered labels, to reject duplicates
  };
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace kestrel::obs::internal
