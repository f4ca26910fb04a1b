// MetricsServer: the HTTP endpoint Prometheus scrapes (GET /metrics, text format 0.0.4) and a
// health check (GET /healthz, 200 or 503 with a JSON body), served by cpp-httplib on a thread of
// its own. Everything else is 404.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "obs/metrics.h"

namespace kestrel::obs {

struct HealthStatus {
  bool ok = true;
  // ok: a JSON object whose fields follow "status" in the body ({"status":"ok",...}), or empty
  // (text that is not a JSON object is reported as "detail"). Not ok: the reason, plain text,
  // served as {"status":"degraded","reason":"..."} with 503.
  std::string detail_json_or_reason;
};

class MetricsServer {
 public:
  // Binds `address` ("127.0.0.1:9464", "[::1]:9464"; port 0 picks a free port, see port()) and
  // starts serving. `registry` must outlive the server; `health` (may be empty: always ok) runs
  // on the server thread for each /healthz. Fails, naming the address, when the address is
  // malformed or cannot be bound (in use, not local).
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                      MetricsRegistry& registry,
                                                      std::function<HealthStatus()> health = {});
  ~MetricsServer();  // Stop()s
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  const std::string& host() const;
  uint16_t port() const;  // the bound port (the chosen one when asked for port 0)

  // Stops accepting, finishes the requests in flight and joins the thread. Idempotent.
  void Stop();

  struct Impl;  // defined in http_server.cpp; only Start() can make one
  explicit MetricsServer(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kestrel::obs
