// Alert sinks: where alert lines (NDJSON, one alert per line, docs/alerts.md) go once rendered.
// Four kinds: stdout, a size-rotated file, syslog (RFC 5424 over a unix datagram socket, UDP or
// TCP) and an HTTP webhook (a bounded queue drained by one background thread). SinkSet fans one
// line out to several. Each sink keeps counters that any thread may read (stats()).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kestrel::sinks {

// What happened to the alerts given to a sink. `dropped` counts every alert that will never be
// delivered (a full queue or buffer, a rejected line, or an error); `failures` counts those of
// them lost to an error (a refused write, a rejected or unanswered request).
struct SinkStats {
  uint64_t written = 0;    // delivered: written to the file / socket, or accepted by the server
  uint64_t dropped = 0;    // lost, whatever the reason
  uint64_t retries = 0;    // attempts made again: reconnects (syslog), resent requests (webhook)
  uint64_t failures = 0;   // lost to an error (also counted in dropped)
  uint64_t rotations = 0;  // file rotations
  size_t queue_depth = 0;  // alerts (syslog tcp: frames) waiting to be sent
};

// One destination. Thread-compatible: Write and Close are called from one thread; stats() may
// be called from any thread at any time.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual std::string_view name() const = 0;  // "stdout", "file", "syslog", "webhook"
  // One alert line ending in '\n' (a missing one is added). Never blocks for network I/O; an
  // error says which sink and why, and the alert is counted in stats().
  virtual Status Write(std::string_view line) = 0;
  // Flushes or drains within a bounded time, then stops; Write fails afterwards.
  virtual Status Close() = 0;
  virtual SinkStats stats() const = 0;
};

// Appends to `path`; before a write would take the file past max_bytes it rotates
// path -> path.1 -> ... -> path.<max_files> (the oldest is removed). max_bytes 0: never rotate;
// max_files 0: the full file is removed rather than kept.
struct FileSinkOptions {
  std::string path;
  uint64_t max_bytes = 100 << 20;
  uint32_t max_files = 5;
};

struct SyslogSinkOptions {
  // "unix:/dev/log" (datagram), "udp:HOST:PORT" or "tcp:HOST:PORT" (octet counting, RFC 6587);
  // an IPv6 HOST goes in brackets: "udp:[::1]:514".
  std::string address = "unix:/dev/log";
  std::string app_name = "kestrel";
  std::string hostname;  // empty: gethostname()
  int facility = 10;     // authpriv
  // tcp: how long Open waits for the connection and Close for the buffer to drain.
  std::chrono::milliseconds timeout{2000};
  // tcp: frames kept while the server is slow or away; past it new alerts are dropped.
  size_t max_buffer_bytes = 4 << 20;
};

struct WebhookSinkOptions {
  std::string url;  // http://host[:port]/path (https:// where cpp-httplib was built with OpenSSL)
  size_t queue_capacity = 10000;
  uint32_t max_retries = 5;
  std::chrono::milliseconds backoff_initial{200};  // doubled after each failed attempt ...
  std::chrono::milliseconds backoff_max{10000};    // ... up to this
  std::chrono::milliseconds timeout{5000};  // connect / read / write of one request; Close's drain
  std::vector<std::pair<std::string, std::string>> headers;
  size_t batch_max = 1;  // > 1: the body is a JSON array of up to batch_max alerts
};

Result<std::unique_ptr<AlertSink>> OpenStdoutSink();
Result<std::unique_ptr<AlertSink>> OpenFileSink(const FileSinkOptions& options);
Result<std::unique_ptr<AlertSink>> OpenSyslogSink(const SyslogSinkOptions& options);
Result<std::unique_ptr<AlertSink>> OpenWebhookSink(const WebhookSinkOptions& options);

// A fan-out over several sinks: Write writes to each; the first error is returned but every
// sink is still written (and Close closes every sink).
class SinkSet {
 public:
  void Add(std::unique_ptr<AlertSink> sink);
  Status Write(std::string_view line);
  Status Close();
  std::vector<std::pair<std::string, SinkStats>> stats() const;
  size_t size() const { return sinks_.size(); }

 private:
  std::vector<std::unique_ptr<AlertSink>> sinks_;
};

}  // namespace kestrel::sinks
