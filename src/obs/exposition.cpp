#include "obs/exposition.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>

namespace kestrel::obs::internal {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kSummary:
      return "summary";
  }
  return "untyped";
}

bool ValidMetricName(std::string_view name) {
  if (name.empty() || !(IsAlpha(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlpha(c) || IsDigit(c) || c == ':'; });
}

bool ValidLabelName(std::string_view name) {
  if (name.empty() || !IsAlpha(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlpha(c) || IsDigit(c); });
}

bool NormalizeLabels(Labels& labels) {
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!ValidLabelName(labels[i].first)) return false;
    if (i > 0 && labels[i].first == labels[i - 1].first) return false;
  }
  return true;
}

void AppendEscapedHelp(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendDouble(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", value);
}

bool Exposition::Add(std::string_view name, std::string_view help, MetricType type,
                     std::string_view suffix, const Labels& labels, std::string_view extra_label,
                     std::string_view extra_value, std::string_view value) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{std::string(help), type, {}, {}}).first;
  }
  Family& family = it->second;
  if (family.type != type || family.help != help) return false;

  std::string line;
  line.reserve(name.size() + suffix.size() + 64);
  line.append(name).append(suffix);
  if (!labels.empty() || !extra_label.empty()) {
    line += '{';
    bool first = true;
    auto append_label = [&](std::string_view label, std::string_view label_value) {
      if (!first) line += ',';
      first = false;
      line.append(label).append("=\"");
      AppendEscapedLabelValue(line, label_value);
      line += '"';
    };
    for (const auto& [label, label_value] : labels) append_label(label, label_value);
    if (!extra_label.empty()) append_label(extra_label, extra_value);
    line += '}';
  }
  if (!family.series.insert(line).second) return false;
  line += ' ';
  line.append(value);
  line += '\n';
  family.body += line;
  return true;
}

std::string Exposition::Render() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    out.append("# HELP ").append(name).append(" ");
    AppendEscapedHelp(out, family.help);
    out.append("\n# TYPE ").append(name).append(" ").append(TypeName(family.type)).append("\n");
    out += family.body;
  }
  return out;
}

}  // namespace kestrel::obs::internal
