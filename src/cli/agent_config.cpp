#include "cli/agent_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace kestrel::cli {
namespace {

using config::DocNode;

struct Reader {
  const std::string& path;

  tl::unexpected<Error> Bad(const DocNode& n, std::string message) const { return config::ErrorAt(path, n, std::move(message)); }
  Status Table(const DocNode& n, std::string_view name) const {
    if (n.kind != DocNode::Kind::kObject) return Bad(n, fmt::format("{} must be a table", name));
    return Ok();
  }
  Result<std::string> String(const DocNode& n, std::string_view name) const {
    if (n.kind != DocNode::Kind::kString) return Bad(n, fmt::format("{} must be a string", name));
    return n.text;
  }
  Result<bool> Bool(const DocNode& n, std::string_view name) const {
    if (n.kind != DocNode::Kind::kBool) return Bad(n, fmt::format("{} must be true or false", name));
    return n.boolean;
  }
  // An integer, or a string with a unit (`parse`).
  Result<uint64_t> Number(const DocNode& n, std::string_view name, Result<uint64_t> (*parse)(std::string_view)) const {
    if (n.kind == DocNode::Kind::kInt && n.integer >= 0) return static_cast<uint64_t>(n.integer);
    if (n.kind == DocNode::Kind::kString && parse != nullptr) {
      auto v = parse(n.text);
      if (!v) return Bad(n, fmt::format("{}: {}", name, v.error().message()));
      return *v;
    }
    return Bad(n, fmt::format("{} must be {}", name, parse ? "a number or a string with a unit" : "a whole number"));
  }
  Result<std::chrono::milliseconds> Millis(const DocNode& n, std::string_view name) const {
    KESTREL_ASSIGN_OR_RETURN(uint64_t ns, Number(n, name, &engine::ParseDuration));
    if (n.kind == DocNode::Kind::kInt) return Bad(n, fmt::format(R"({} needs a unit ("500ms", "5s"))", name));
    return std::chrono::milliseconds(ns / 1'000'000);
  }

  Status Rules(const DocNode& n, AgentConfig& c) const {
    KESTREL_TRY(Table(n, "rules"));
    for (const auto& [key, v] : n.fields) {
      if (key == "path") {
        KESTREL_ASSIGN_OR_RETURN(c.rules, String(v, "rules.path"));
      } else if (key == "watch") {
        KESTREL_ASSIGN_OR_RETURN(c.watch, Bool(v, "rules.watch"));
      } else if (key == "host_id") {
        KESTREL_ASSIGN_OR_RETURN(c.host_id, String(v, "rules.host_id"));
      } else {
        return Bad(v, fmt::format("unknown setting rules.{} (path, watch, host_id)", key));
      }
    }
    return Ok();
  }

  Status Output(const DocNode& n, AgentConfig& c) const {
    KESTREL_TRY(Table(n, "an output"));
    OutputConfig out;
    out.where = config::Where(path, n);
    const DocNode* type = n.Find("type");
    if (type == nullptr) return Bad(n, "an output needs a `type` (stdout, file, syslog or webhook)");
    KESTREL_ASSIGN_OR_RETURN(std::string kind, String(*type, "outputs.type"));
    auto unknown = [&](const DocNode& v, std::string_view key, std::string_view known) {
      return Bad(v, fmt::format("unknown setting '{}' for a {} output ({})", key, kind, known));
    };
    if (kind == "stdout") {
      out.kind = OutputConfig::Kind::kStdout;
      for (const auto& [key, v] : n.fields) {
        if (key != "type") return unknown(v, key, "no settings");
      }
    } else if (kind == "file") {
      out.kind = OutputConfig::Kind::kFile;
      for (const auto& [key, v] : n.fields) {
        if (key == "type") continue;
        if (key == "path") {
          KESTREL_ASSIGN_OR_RETURN(out.file.path, String(v, "outputs.path"));
        } else if (key == "max_bytes") {
          KESTREL_ASSIGN_OR_RETURN(out.file.max_bytes, Number(v, "outputs.max_bytes", &engine::ParseBytes));
        } else if (key == "max_files") {
          KESTREL_ASSIGN_OR_RETURN(uint64_t files, Number(v, "outputs.max_files", nullptr));
          if (files > 1000) return Bad(v, "outputs.max_files must be at most 1000");
          out.file.max_files = static_cast<uint32_t>(files);
        } else {
          return unknown(v, key, "path, max_bytes, max_files");
        }
      }
      if (out.file.path.empty()) return Bad(n, "a file output needs a `path`");
    } else if (kind == "syslog") {
      out.kind = OutputConfig::Kind::kSyslog;
      for (const auto& [key, v] : n.fields) {
        if (key == "type") continue;
        if (key == "address") {
          KESTREL_ASSIGN_OR_RETURN(out.syslog.address, String(v, "outputs.address"));
        } else if (key == "app_name") {
          KESTREL_ASSIGN_OR_RETURN(out.syslog.app_name, String(v, "outputs.app_name"));
        } else if (key == "hostname") {
          KESTREL_ASSIGN_OR_RETURN(out.syslog.hostname, String(v, "outputs.hostname"));
        } else if (key == "facility") {
          KESTREL_ASSIGN_OR_RETURN(uint64_t f, Number(v, "outputs.facility", nullptr));
          if (f > 23) return Bad(v, "outputs.facility must be 0..23 (10: authpriv, 16..23: local0..local7)");
          out.syslog.facility = static_cast<int>(f);
        } else if (key == "timeout") {
          KESTREL_ASSIGN_OR_RETURN(out.syslog.timeout, Millis(v, "outputs.timeout"));
        } else {
          return unknown(v, key, "address, app_name, hostname, facility, timeout");
        }
      }
    } else if (kind == "webhook") {
      out.kind = OutputConfig::Kind::kWebhook;
      for (const auto& [key, v] : n.fields) {
        if (key == "type") continue;
        if (key == "url") {
          KESTREL_ASSIGN_OR_RETURN(out.webhook.url, String(v, "outputs.url"));
        } else if (key == "queue") {
          KESTREL_ASSIGN_OR_RETURN(out.webhook.queue_capacity, Number(v, "outputs.queue", nullptr));
        } else if (key == "retries") {
          KESTREL_ASSIGN_OR_RETURN(uint64_t r, Number(v, "outputs.retries", nullptr));
          if (r > 100) return Bad(v, "outputs.retries must be at most 100");
          out.webhook.max_retries = static_cast<uint32_t>(r);
        } else if (key == "backoff") {
          KESTREL_ASSIGN_OR_RETURN(out.webhook.backoff_initial, Millis(v, "outputs.backoff"));
        } else if (key == "backoff_max") {
          KESTREL_ASSIGN_OR_RETURN(out.webhook.backoff_max, Millis(v, "outputs.backoff_max"));
        } else if (key == "timeout") {
          KESTREL_ASSIGN_OR_RETURN(out.webhook.timeout, Millis(v, "outputs.timeout"));
        } else if (key == "batch") {
          KESTREL_ASSIGN_OR_RETURN(out.webhook.batch_max, Number(v, "outputs.batch", nullptr));
        } else if (key == "headers") {
          KESTREL_TRY(Table(v, "outputs.headers"));
          for (const auto& [h, hv] : v.fields) {
            KESTREL_ASSIGN_OR_RETURN(std::string value, String(hv, "a header value"));
            out.webhook.headers.emplace_back(h, value);
          }
        } else {
          return unknown(v, key, "url, queue, retries, backoff, backoff_max, timeout, batch, headers");
        }
      }
      if (out.webhook.url.empty()) return Bad(n, "a webhook output needs a `url`");
    } else {
      return Bad(*type, fmt::format("unknown output type '{}' (stdout, file, syslog or webhook)", kind));
    }
    c.outputs.push_back(std::move(out));
    return Ok();
  }

  Status Section(std::string_view name, const DocNode& n, AgentConfig& c) const {
    if (engine::IsEngineSection(name)) return engine::ReadEngineSection(path, name, n, c.engine);
    if (name == "rules") return Rules(n, c);
    if (name == "outputs") {
      if (n.kind != DocNode::Kind::kArray) return Bad(n, "outputs must be a list of outputs");
      for (const DocNode& o : n.items) KESTREL_TRY(Output(o, c));
      return Ok();
    }
    if (name != "metrics" && name != "tracing" && name != "logging") {
      return Bad(n, fmt::format("unknown section '{}' (rules, outputs, metrics, tracing, logging, state, replay, "
                                "predicates, enforce)", name));
    }
    KESTREL_TRY(Table(n, name));
    for (const auto& [key, v] : n.fields) {
      if (name == "metrics" && key == "address") {
        KESTREL_ASSIGN_OR_RETURN(c.metrics_address, String(v, "metrics.address"));
        if (Status a = CheckMetricsAddress(c.metrics_address); !a) return Bad(v, a.error().message());
      } else if (name == "tracing" && key == "path") {
        KESTREL_ASSIGN_OR_RETURN(c.tracing.path, String(v, "tracing.path"));
      } else if (name == "tracing" && key == "sample_rate") {
        if (v.kind != DocNode::Kind::kFloat && v.kind != DocNode::Kind::kInt) return Bad(v, "tracing.sample_rate must be a number");
        double rate = v.kind == DocNode::Kind::kInt ? static_cast<double>(v.integer) : v.number;
        if (rate < 0 || rate > 1) return Bad(v, "tracing.sample_rate must be between 0 and 1");
        c.tracing.sample_rate = rate;
      } else if (name == "logging" && key == "level") {
        KESTREL_ASSIGN_OR_RETURN(c.logging.level, String(v, "logging.level"));
        constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
        if (std::find(std::begin(kLevels), std::end(kLevels), c.logging.level) == std::end(kLevels)) {
          return Bad(v, fmt::format("unknown logging.level '{}' (trace, debug, info, warn, error, critical or off)",
                                    c.logging.level));
        }
      } else if (name == "logging" && key == "format") {
        KESTREL_ASSIGN_OR_RETURN(c.logging.format, String(v, "logging.format"));
        if (c.logging.format != "text" && c.logging.format != "json") {
          return Bad(v, fmt::format("unknown logging.format '{}' (text or json)", c.logging.format));
        }
      } else if (name == "logging" && key == "file") {
        KESTREL_ASSIGN_OR_RETURN(c.logging.file, String(v, "logging.file"));
      } else {
        return Bad(v, fmt::format("unknown setting {}.{}", name, key));
      }
    }
    return Ok();
  }
};

}  // namespace

Status CheckMetricsAddress(std::string_view address) {
  if (address.empty() || address == "off") return Ok();
  size_t colon = address.rfind(':');
  std::string_view port = colon == std::string_view::npos ? std::string_view() : address.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (colon == std::string_view::npos || colon == 0 || port.empty() || ec != std::errc() ||
      end != port.data() + port.size() || value > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("metrics address '{}' must be HOST:PORT (127.0.0.1:9464; port 0 picks one) or off", address));
  }
  return Ok();
}

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  AgentConfig c;
  if (path.empty()) return c;
  c.path = path;
  KESTREL_ASSIGN_OR_RETURN(DocNode root, config::ParseFile(path));
  if (root.kind == DocNode::Kind::kNull) return c;  // an empty file
  Reader reader{path};
  KESTREL_TRY(reader.Table(root, "the configuration"));
  for (const auto& [name, node] : root.fields) KESTREL_TRY(reader.Section(name, node, c));
  if (!c.tracing.path.empty() && c.tracing.sample_rate == 0) {
    return reader.Bad(*root.Find("tracing"), "tracing.path is set but tracing.sample_rate is 0 (nothing would be traced)");
  }
  return c;
}

Result<sinks::SinkSet> OpenOutputs(const std::vector<OutputConfig>& outputs) {
  sinks::SinkSet set;
  if (outputs.empty()) {
    KESTREL_ASSIGN_OR_RETURN(auto sink, sinks::OpenStdoutSink());
    set.Add(std::move(sink));
    return set;
  }
  for (const OutputConfig& o : outputs) {
    Result<std::unique_ptr<sinks::AlertSink>> sink = [&]() -> Result<std::unique_ptr<sinks::AlertSink>> {
      switch (o.kind) {
        case OutputConfig::Kind::kStdout: return sinks::OpenStdoutSink();
        case OutputConfig::Kind::kFile: return sinks::OpenFileSink(o.file);
        case OutputConfig::Kind::kSyslog: return sinks::OpenSyslogSink(o.syslog);
        case OutputConfig::Kind::kWebhook: return sinks::OpenWebhookSink(o.webhook);
      }
      return MakeError(ErrorCode::kInternal, "unknown output");
    }();
    if (!sink) return MakeErrorAt(o.where, sink.error().code(), sink.error().ToString());
    set.Add(std::move(*sink));
  }
  return set;
}

}  // namespace kestrel::cli
