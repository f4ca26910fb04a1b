// What `kestrel run` publishes on /metrics and /healthz (docs/configuration.md lists every
// metric). The event thread fills a RunSnapshot from the counters it owns and publishes it a few
// times a second; a scrape renders the last one, plus the sinks' own thread-safe counters.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "engine/detection_engine.h"
#include "obs/http_server.h"
#include "obs/metrics.h"
#include "rules/rule_manager.h"
#include "sinks/alert_sink.h"

namespace kestrel::cli {

struct RunSnapshot {
  std::string source = "ebpf";
  std::map<std::string, uint64_t> events_by_type;  // events in, by record type
  uint64_t events_out = 0;   // handed to the rules
  uint64_t lost = 0;         // ring buffer full
  uint64_t malformed = 0;
  uint64_t alerts = 0;
  // Per rule id, summed over every generation of the pack.
  std::map<std::string, uint64_t> matches;
  std::map<std::string, engine::RuleCost> costs;
  nfa::StateStats state;
  uint64_t lineage_processes = 0;
  uint64_t process_table = 0;
  engine::BackendStats backends[3];
  rules::ReloadStats reloads;
  std::string pack_name, pack_version;
  std::map<std::string, uint64_t> responses;  // by outcome
  size_t pending_alerts = 0;                  // alerts waiting to be written (queue depth)
};

class RunMetrics {
 public:
  // Serves `address` ("HOST:PORT"; port 0 picks one); the sinks' counters are read at scrape time.
  static Result<std::unique_ptr<RunMetrics>> Start(const std::string& address, const sinks::SinkSet* sinks);
  uint16_t port() const { return server_->port(); }
  // From the event thread.
  void Publish(RunSnapshot snapshot);
  // The event loop is alive (for /healthz: degraded when it has not beaten for 5 s).
  void Beat() { beat_ns_.store(Now()); }

 private:
  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  void Collect(obs::MetricWriter& w);
  obs::HealthStatus Health();

  obs::MetricsRegistry registry_;
  std::unique_ptr<obs::MetricsServer> server_;
  obs::CollectorHandle collector_;
  const sinks::SinkSet* sinks_ = nullptr;
  std::mutex mu_;
  RunSnapshot last_;
  std::atomic<int64_t> beat_ns_{0};
};

}  // namespace kestrel::cli
