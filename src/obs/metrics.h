// Metrics: counters and gauges any thread updates without a lock, registered by family name and
// label set in a MetricsRegistry; collectors that publish, at scrape time, copies of stats owned
// by one thread; Render() writes everything in the Prometheus text exposition format 0.0.4
// (families sorted by name, one HELP and TYPE line each; deterministic).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace kestrel::obs {

// A label set such as {{"source", "ebpf"}}. Order does not matter (rendered sorted by name).
using Labels = std::vector<std::pair<std::string, std::string>>;

namespace internal {
class Exposition;
}

// A monotonically increasing count. Lock-free; safe from any thread.
class Counter {
 public:
  void Inc() { Add(1); }
  void Add(uint64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Lock-free; safe from any thread.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void Sub(double d) { value_.fetch_sub(d, std::memory_order_relaxed); }
  void Inc() { Add(1.0); }
  void Dec() { Sub(1.0); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  static_assert(std::atomic<double>::is_always_lock_free);
  std::atomic<double> value_{0.0};
};

// What a collector writes its samples to, during one scrape. Names and labels follow the same
// rules as registered metrics; a sample that breaks them (invalid name, a family's type or help
// changed, a series written twice) is dropped and counted in MetricsRegistry::rejected().
class MetricWriter {
 public:
  void Counter(std::string_view name, std::string_view help, Labels labels, uint64_t value);
  void Gauge(std::string_view name, std::string_view help, Labels labels, double value);
  // A summary of `histogram` (values such as latencies in ns): name{quantile="0.5|0.9|0.99|0.999"}
  // and name_count. `scale` multiplies the values (1e-9 turns ns into seconds, the Prometheus
  // base unit). There is no name_sum: kestrel::Histogram does not keep one.
  void Summary(std::string_view name, std::string_view help, Labels labels,
               const Histogram& histogram, double scale = 1.0);

 private:
  friend class MetricsRegistry;
  explicit MetricWriter(internal::Exposition& out) : out_(out) {}
  void Reject();

  internal::Exposition& out_;
  uint64_t rejected_ = 0;
};

class MetricsRegistry;

// Keeps a collector registered; destroying or Reset()-ing it removes the collector (waiting for a
// scrape that is running it). The registry must outlive it. Never reset it from the collector.
class [[nodiscard]] CollectorHandle {
 public:
  CollectorHandle() = default;
  CollectorHandle(CollectorHandle&& other) noexcept;
  CollectorHandle& operator=(CollectorHandle&& other) noexcept;
  CollectorHandle(const CollectorHandle&) = delete;
  CollectorHandle& operator=(const CollectorHandle&) = delete;
  ~CollectorHandle() { Reset(); }

  void Reset();

 private:
  friend class MetricsRegistry;
  CollectorHandle(MetricsRegistry* registry, uint64_t id) : registry_(registry), id_(id) {}

  MetricsRegistry* registry_ = nullptr;
  uint64_t id_ = 0;
};

// Thread-safe. Look a handle up once (GetCounter takes the registry lock) and keep the reference:
// handles live as long as the registry.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The counter of family `name` with `labels`, created on first use; the same name and labels
  // give the same object. A family has one type and one help text. Names come from code, so an
  // invalid name or label, or a family re-registered with another type or help, is a bug: it
  // asserts, and in a release build returns a handle that is never rendered and counts in
  // rejected().
  Counter& GetCounter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, Labels labels = {});

  // Registers `collector`, called by every Render() under the registry lock, after the registered
  // handles, in the order collectors were added. It must be quick, must not call this registry,
  // and should only copy a snapshot its owner keeps under the owner's own lock.
  CollectorHandle AddCollector(std::function<void(MetricWriter&)> collector);

  // The text exposition format 0.0.4.
  std::string Render() const;

  // Registrations and collected samples dropped as bugs (see GetCounter and MetricWriter).
  uint64_t rejected() const;

 private:
  friend class CollectorHandle;
  void RemoveCollector(uint64_t id);

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kestrel::obs
