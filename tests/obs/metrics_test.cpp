#include "obs/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "common/histogram.h"

namespace kestrel::obs {
namespace {

TEST(MetricsTest, RendersGoldenText) {
  MetricsRegistry registry;
  registry.GetCounter("kestrel_events_total", "Events read, by source", {{"source", "ebpf"}})
      .Add(3);
  registry
      .GetCounter("kestrel_events_total", "Events read, by source",
                  {{"source", "file \"a\\b\"\nc"}})
      .Inc();
  registry
      .GetGauge("kestrel_bus_depth", "Events queued\\waiting\nper partition",
                {{"partition", "0"}, {"bus", "main"}})
      .Set(2.5);
  CollectorHandle handle = registry.AddCollector([](MetricWriter& w) {
    w.Counter("kestrel_alerts_total", "Alerts raised", {{"rule", "r1"}}, 7);
    w.Gauge("kestrel_up", "1 while running", {}, 1);
  });

  EXPECT_EQ(registry.Render(),
            "# HELP kestrel_alerts_total Alerts raised\n"
            "# TYPE kestrel_alerts_total counter\n"
            "kestrel_alerts_total{rule=\"r1\"} 7\n"
            "# HELP kestrel_bus_depth Events queued\\\\waiting\\nper partition\n"
            "# TYPE kestrel_bus_depth gauge\n"
            "kestrel_bus_depth{bus=\"main\",partition=\"0\"} 2.5\n"
            "# HELP kestrel_events_total Events read, by source\n"
            "# TYPE kestrel_events_total counter\n"
            "kestrel_events_total{source=\"ebpf\"} 3\n"
            "kestrel_events_total{source=\"file \\\"a\\\\b\\\"\\nc\"} 1\n"
            "# HELP kestrel_up 1 while running\n"
            "# TYPE kestrel_up gauge\n"
            "kestrel_up 1\n");
  EXPECT_EQ(registry.rejected(), 0u);
}

TEST(MetricsTest, SameNameAndLabelsGiveTheSameHandle) {
  MetricsRegistry registry;
  Counter& a = registry.GetCounter("x_total", "X", {{"a", "1"}, {"b", "2"}});
  Counter& b = registry.GetCounter("x_total", "X", {{"b", "2"}, {"a", "1"}});
  Counter& c = registry.GetCounter("x_total", "X", {{"a", "1"}, {"b", "3"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  Gauge& g = registry.GetGauge("y", "Y");
  EXPECT_EQ(&g, &registry.GetGauge("y", "Y"));
}

TEST(MetricsTest, GaugeValuesRenderInPrometheusSyntax) {
  MetricsRegistry registry;
  registry.GetGauge("g", "G", {{"k", "a"}}).Set(1e21);
  registry.GetGauge("g", "G", {{"k", "b"}}).Set(-0.125);
  registry.GetGauge("g", "G", {{"k", "c"}}).Set(std::numeric_limits<double>::infinity());
  registry.GetGauge("g", "G", {{"k", "d"}}).Set(std::numeric_limits<double>::quiet_NaN());
  Gauge& e = registry.GetGauge("g", "G", {{"k", "e"}});
  e.Inc();
  e.Add(2.5);
  e.Dec();
  EXPECT_EQ(registry.Render(),
            "# HELP g G\n# TYPE g gauge\n"
            "g{k=\"a\"} 1e+21\ng{k=\"b\"} -0.125\ng{k=\"c\"} +Inf\ng{k=\"d\"} NaN\n"
            "g{k=\"e\"} 2.5\n");
}

TEST(MetricsTest, CountersFromSeveralThreadsAddUp) {
  MetricsRegistry registry;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&registry] {
      // Each thread looks the handles up itself: registration is thread-safe too.
      Counter& counter = registry.GetCounter("hits_total", "Hits");
      Gauge& gauge = registry.GetGauge("level", "Level");
      for (int i = 0; i < kPerThread; ++i) {
        counter.Inc();
        gauge.Add(0.5);
      }
    });
  }
  std::thread scraper([&registry] {
    for (int i = 0; i < 50; ++i) registry.Render();
  });
  for (auto& t : threads) t.join();
  scraper.join();
  EXPECT_EQ(registry.GetCounter("hits_total", "Hits").Value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(registry.GetGauge("level", "Level").Value(), kThreads * kPerThread * 0.5);
  EXPECT_NE(registry.Render().find("hits_total 400000\n"), std::string::npos);
}

// The pattern for stats owned by one thread: the owner keeps a snapshot under its own lock.
TEST(MetricsTest, CollectorPublishesASnapshotUntilRemoved) {
  struct Snapshot {
    std::mutex mu;
    uint64_t rules_evaluated = 0;
    Histogram latency;
  } snapshot;
  {
    std::lock_guard lock(snapshot.mu);
    snapshot.rules_evaluated = 42;
    for (uint64_t v = 1; v <= 1000; ++v) snapshot.latency.Add(v * 1000);
  }
  MetricsRegistry registry;
  CollectorHandle handle = registry.AddCollector([&snapshot](MetricWriter& w) {
    std::lock_guard lock(snapshot.mu);
    w.Counter("kestrel_rules_evaluated_total", "Rule evaluations", {{"worker", "0"}},
              snapshot.rules_evaluated);
    w.Summary("kestrel_eval_latency_seconds", "Evaluation latency", {{"worker", "0"}},
              snapshot.latency, 1e-9);
  });
  std::string text = registry.Render();
  EXPECT_NE(text.find("kestrel_rules_evaluated_total{worker=\"0\"} 42\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE kestrel_eval_latency_seconds summary\n"), std::string::npos);
  // 500 us is exact to within 12.5 % (the histogram's bucket width).
  EXPECT_NE(text.find("kestrel_eval_latency_seconds{worker=\"0\",quantile=\"0.5\"} 0.0005"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kestrel_eval_latency_seconds_count{worker=\"0\"} 1000\n"),
            std::string::npos);

  CollectorHandle moved = std::move(handle);
  EXPECT_NE(registry.Render(), "");
  moved.Reset();
  EXPECT_EQ(registry.Render(), "");
  EXPECT_EQ(registry.rejected(), 0u);
}

TEST(MetricsTest, ConflictingRegistrationIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // spdlog's flusher may be running
  MetricsRegistry registry;
  registry.GetCounter("kestrel_events_total", "Events read").Inc();
  EXPECT_DEBUG_DEATH(registry.GetGauge("kestrel_events_total", "Events read").Set(1),
                     "invalid gauge registration");
  EXPECT_DEBUG_DEATH(registry.GetCounter("kestrel_events_total", "Other help").Inc(),
                     "invalid counter registration");
  EXPECT_DEBUG_DEATH(registry.GetCounter("bad-name", "x").Inc(), "invalid counter registration");
  EXPECT_DEBUG_DEATH(registry.GetCounter("ok_total", "x", {{"__reserved", "1"}}).Inc(),
                     "invalid counter registration");
#ifdef NDEBUG
  // Release: usable handles that are never rendered, counted.
  EXPECT_EQ(registry.rejected(), 4u);
  EXPECT_EQ(registry.Render(),
            "# HELP kestrel_events_total Events read\n# TYPE kestrel_events_total counter\n"
            "kestrel_events_total 1\n");
#endif
}

TEST(MetricsTest, ConflictingCollectedSamplesAreDropped) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // spdlog's flusher may be running
  MetricsRegistry registry;
  registry.GetCounter("kestrel_events_total", "Events read").Inc();
  CollectorHandle handle = registry.AddCollector([](MetricWriter& w) {
    w.Gauge("kestrel_events_total", "Events read", {}, 5);  // another type
    w.Gauge("kestrel_up", "Up", {}, 1);
    w.Gauge("kestrel_up", "Up", {}, 1);  // the same series twice
  });
  EXPECT_DEBUG_DEATH(registry.Render(), "invalid or conflicting sample");
#ifdef NDEBUG
  EXPECT_EQ(registry.rejected(), 2u);
  EXPECT_EQ(
      registry.Render(),
      "# HELP kestrel_events_total Events read\n# TYPE kestrel_events_total counter\n"
      "kestrel_events_total 1\n# HELP kestrel_up Up\n# TYPE kestrel_up gauge\nkestrel_up 1\n");
#endif
}

}  // namespace
}  // namespace kestrel::obs
