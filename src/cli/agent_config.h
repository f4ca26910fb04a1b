// The agent's configuration file (docs/configuration.md): `/etc/kestrel/kestrel.yaml` by default
// for `kestrel run`, `--config FILE` to name another (YAML, TOML or JSON by extension). Besides
// the engine's sections (state, replay, predicates, enforce: engine/engine_config.h) it holds
//   rules:    path, watch (reload on changes), host_id (for rollouts)
//   outputs:  the alert sinks (stdout, file, syslog, webhook)
//   metrics:  address of the Prometheus /metrics and /healthz endpoint ("" = off)
//   tracing:  path and sample_rate of the span file
//   logging:  level, format, file
// Unknown sections and settings are errors at their file:line:col.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "engine/engine_config.h"
#include "obs/logging.h"
#include "obs/tracing.h"
#include "sinks/alert_sink.h"

namespace kestrel::cli {

inline constexpr const char* kDefaultConfigPath = "/etc/kestrel/kestrel.yaml";

struct OutputConfig {
  enum class Kind : uint8_t { kStdout, kFile, kSyslog, kWebhook };
  Kind kind = Kind::kStdout;
  sinks::FileSinkOptions file;
  sinks::SyslogSinkOptions syslog;
  sinks::WebhookSinkOptions webhook;
  std::string where;  // file:line:col of its entry, for errors when it is opened
};

struct AgentConfig {
  std::string path;  // the file read; empty: none (defaults)
  engine::EngineConfig engine;
  std::string rules;  // rules.path
  bool watch = true;
  std::string host_id;
  std::vector<OutputConfig> outputs;  // empty: stdout
  std::string metrics_address = "127.0.0.1:9464";
  obs::TracerOptions tracing;  // path empty: off
  obs::LogOptions logging;
};

// "HOST:PORT" or "off" / empty (no endpoint).
Status CheckMetricsAddress(std::string_view address);

// Reads `path`; an empty path gives the defaults.
Result<AgentConfig> LoadAgentConfig(const std::string& path);

// The configured outputs (stdout when there are none), opened.
Result<sinks::SinkSet> OpenOutputs(const std::vector<OutputConfig>& outputs);

}  // namespace kestrel::cli
