#include "obs/metrics.h"

#include <fmt/format.h>

#include <array>
#include <cassert>
#include <iterator>
#include <map>
#include <mutex>

#include "obs/exposition.h"

namespace kestrel::obs {

using internal::MetricType;

namespace {

struct Family {
  std::string help;
  MetricType type;
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
};

std::string FormatCount(uint64_t value) { return fmt::format("{}", value); }

std::string FormatDouble(double value) {
  std::string out;
  internal::AppendDouble(out, value);
  return out;
}

constexpr std::array<std::pair<double, std::string_view>, 4> kSummaryQuantiles = {
    {{0.5, "0.5"}, {0.9, "0.9"}, {0.99, "0.99"}, {0.999, "0.999"}}};

}  // namespace

struct MetricsRegistry::State {
  mutable std::mutex mu;
  std::map<std::string, Family, std::less<>> families;
  std::vector<std::pair<uint64_t, std::function<void(MetricWriter&)>>> collectors;
  uint64_t next_collector_id = 1;
  // Handles given out for rejected registrations: usable, never rendered.
  std::vector<std::unique_ptr<Counter>> orphan_counters;
  std::vector<std::unique_ptr<Gauge>> orphan_gauges;
  mutable std::atomic<uint64_t> rejected{0};

  // The handle of `name`/`labels` in `Family::*children`, or nullptr if the registration is bad.
  template <class T>
  T* Find(std::string_view name, std::string_view help, MetricType type, Labels& labels,
          std::map<Labels, std::unique_ptr<T>> Family::*children) {
    if (!internal::ValidMetricName(name) || !internal::NormalizeLabels(labels)) return nullptr;
    auto it = families.find(name);
    if (it == families.end()) {
      it = families.emplace(std::string(name), Family{std::string(help), type, {}, {}}).first;
    }
    Family& family = it->second;
    if (family.type != type || family.help != help) return nullptr;
    auto& slot = (family.*children)[std::move(labels)];
    if (!slot) slot = std::make_unique<T>();
    return slot.get();
  }
};

MetricsRegistry::MetricsRegistry() : state_(std::make_unique<State>()) {}
MetricsRegistry::~MetricsRegistry() = default;

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(state_->mu);
  if (Counter* c = state_->Find(name, help, MetricType::kCounter, labels, &Family::counters)) {
    return *c;
  }
  assert(false && "invalid counter registration: bad name or label, or family type/help changed");
  state_->rejected.fetch_add(1, std::memory_order_relaxed);
  return *state_->orphan_counters.emplace_back(std::make_unique<Counter>());
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(state_->mu);
  if (Gauge* g = state_->Find(name, help, MetricType::kGauge, labels, &Family::gauges)) return *g;
  assert(false && "invalid gauge registration: bad name or label, or family type/help changed");
  state_->rejected.fetch_add(1, std::memory_order_relaxed);
  return *state_->orphan_gauges.emplace_back(std::make_unique<Gauge>());
}

CollectorHandle MetricsRegistry::AddCollector(std::function<void(MetricWriter&)> collector) {
  std::lock_guard lock(state_->mu);
  uint64_t id = state_->next_collector_id++;
  state_->collectors.emplace_back(id, std::move(collector));
  return {this, id};
}

void MetricsRegistry::RemoveCollector(uint64_t id) {
  std::lock_guard lock(state_->mu);
  std::erase_if(state_->collectors, [id](const auto& entry) { return entry.first == id; });
}

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(state_->mu);
  internal::Exposition out;
  for (const auto& [name, family] : state_->families) {
    for (const auto& [labels, counter] : family.counters) {
      out.Add(name, family.help, family.type, "", labels, "", "", FormatCount(counter->Value()));
    }
    for (const auto& [labels, gauge] : family.gauges) {
      out.Add(name, family.help, family.type, "", labels, "", "", FormatDouble(gauge->Value()));
    }
  }
  uint64_t rejected = 0;
  for (const auto& [id, collector] : state_->collectors) {
    MetricWriter writer(out);
    try {
      collector(writer);
    } catch (...) {  // a scrape must not take the server thread down
      writer.Reject();
    }
    rejected += writer.rejected_;
  }
  if (rejected != 0) state_->rejected.fetch_add(rejected, std::memory_order_relaxed);
  return out.Render();
}

uint64_t MetricsRegistry::rejected() const {
  return state_->rejected.load(std::memory_order_relaxed);
}

void MetricWriter::Reject() {
  assert(false && "a collector wrote an invalid or conflicting sample");
  ++rejected_;
}

void MetricWriter::Counter(std::string_view name, std::string_view help, Labels labels,
                           uint64_t value) {
  if (!internal::ValidMetricName(name) || !internal::NormalizeLabels(labels) ||
      !out_.Add(name, help, MetricType::kCounter, "", labels, "", "", FormatCount(value))) {
    Reject();
  }
}

void MetricWriter::Gauge(std::string_view name, std::string_view help, Labels labels,
                         double value) {
  if (!internal::ValidMetricName(name) || !internal::NormalizeLabels(labels) ||
      !out_.Add(name, help, MetricType::kGauge, "", labels, "", "", FormatDouble(value))) {
    Reject();
  }
}

void MetricWriter::Summary(std::string_view name, std::string_view help, Labels labels,
                           const Histogram& histogram, double scale) {
  bool ok = internal::ValidMetricName(name) && internal::NormalizeLabels(labels);
  for (const auto& [q, q_text] : kSummaryQuantiles) {
    if (!ok) break;
    double value = static_cast<double>(histogram.Percentile(q)) * scale;
    ok = out_.Add(name, help, MetricType::kSummary, "", labels, "quantile", q_text,
                  FormatDouble(value));
  }
  if (ok) {
    ok = out_.Add(name, help, MetricType::kSummary, "_count", labels, "", "",
                  FormatCount(histogram.count()));
  }
  if (!ok) Reject();
}

CollectorHandle::CollectorHandle(CollectorHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(std::exchange(other.id_, 0)) {}

CollectorHandle& CollectorHandle::operator=(CollectorHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void CollectorHandle::Reset() {
  if (registry_ == nullptr) return;
  registry_->RemoveCollector(id_);
  registry_ = nullptr;
  id_ = 0;
}

}  // namespace kestrel::obs
