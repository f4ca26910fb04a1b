#include "engine/engine_config.h"

#include <fmt/format.h>

#include <charconv>

namespace kestrel::engine {
namespace {

Result<uint64_t> ParseScaled(std::string_view text, std::string_view what,
                             std::initializer_list<std::pair<std::string_view, uint64_t>> units) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("'{}' is not a {}", text, what));
  }
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  for (const auto& [name, scale] : units) {
    if (unit == name) {
      if (scale != 0 && n > UINT64_MAX / scale) {
        return MakeError(ErrorCode::kInvalidArgument, fmt::format("'{}' is too large", text));
      }
      return n * scale;
    }
  }
  return MakeError(ErrorCode::kInvalidArgument, fmt::format("'{}' has an unknown unit '{}'", text, unit));
}

}  // namespace

Result<uint64_t> ParseBytes(std::string_view text) {
  return ParseScaled(text, "size", {{"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}});
}

Result<uint64_t> ParseDuration(std::string_view text) {
  if (text == "0") return 0;
  constexpr uint64_t kMs = 1'000'000;
  return ParseScaled(text, "duration",
                     {{"ms", kMs}, {"s", 1000 * kMs}, {"m", 60'000 * kMs}, {"h", 3'600'000 * kMs}, {"d", 86'400'000 * kMs}});
}

nfa::StateLimits EngineConfig::LimitsPerRule(size_t sequence_rules) const {
  uint64_t n = std::max<size_t>(sequence_rules, 1);
  nfa::StateLimits limits;
  limits.max_entries = max_partials == 0 ? 0 : std::max<uint64_t>(max_partials / n, 1);
  limits.max_entries_per_entity = max_partials_per_entity;
  limits.max_bytes = max_bytes == 0 ? 0 : std::max<uint64_t>(max_bytes / n, 1);
  limits.ttl_ns = ttl_ns;
  return limits;
}

EngineOptions EngineConfig::Options(size_t sequence_rules) const {
  EngineOptions options;
  options.predicate_budget = predicate_budget;
  options.max_overruns = static_cast<uint32_t>(max_overruns);
  options.overrun_window_ns = overrun_window_ns;
  options.limits = LimitsPerRule(sequence_rules);
  return options;
}

namespace {

using config::DocNode;

// Integers, or strings with a unit where the setting has one.
Status ReadNumber(const std::string& path, const DocNode& node, std::string_view name, uint64_t& out,
                  Result<uint64_t> (*parse)(std::string_view)) {
  if (node.kind == DocNode::Kind::kInt && parse == &ParseDuration && node.integer != 0) {
    return config::ErrorAt(path, node, fmt::format(R"({} needs a unit ("500ms", "10s", "24h"))", name));
  }
  if (node.kind == DocNode::Kind::kInt) {
    if (node.integer < 0) return config::ErrorAt(path, node, fmt::format("{} must not be negative", name));
    out = static_cast<uint64_t>(node.integer);
    return Ok();
  }
  if (node.kind == DocNode::Kind::kString && parse != nullptr) {
    auto parsed = parse(node.text);
    if (!parsed) return config::ErrorAt(path, node, fmt::format("{}: {}", name, parsed.error().message()));
    out = *parsed;
    return Ok();
  }
  return config::ErrorAt(path, node, fmt::format("{} must be {}", name, parse ? "an integer or a string with a unit" : "an integer"));
}

Status ReadStrings(const std::string& path, const DocNode& node, std::string_view name, std::vector<std::string>& out) {
  if (node.kind != DocNode::Kind::kArray) return config::ErrorAt(path, node, fmt::format("{} must be a list of strings", name));
  for (const DocNode& item : node.items) {
    if (item.kind != DocNode::Kind::kString || item.text.empty()) {
      return config::ErrorAt(path, item, fmt::format("{} must be a list of non-empty strings", name));
    }
    out.push_back(item.text);
  }
  return Ok();
}

}  // namespace

bool IsEngineSection(std::string_view name) {
  return name == "state" || name == "replay" || name == "predicates" || name == "enforce";
}

Status ReadEngineSection(const std::string& path, std::string_view section, const DocNode& node, EngineConfig& config) {
  if (node.kind != DocNode::Kind::kObject) return config::ErrorAt(path, node, fmt::format("'{}' must be a table", section));
  auto name = [&](std::string_view key) { return fmt::format("{}.{}", section, key); };
  for (const auto& [key, v] : node.fields) {
    Status status = Ok();
    if (section == "state") {
      if (key == "max_partials") {
        status = ReadNumber(path, v, name(key), config.max_partials, nullptr);
      } else if (key == "max_partials_per_entity") {
        status = ReadNumber(path, v, name(key), config.max_partials_per_entity, nullptr);
      } else if (key == "max_bytes") {
        status = ReadNumber(path, v, name(key), config.max_bytes, &ParseBytes);
      } else if (key == "ttl") {
        status = ReadNumber(path, v, name(key), config.ttl_ns, &ParseDuration);
      } else {
        return config::ErrorAt(path, v, fmt::format("unknown setting {}", name(key)));
      }
    } else if (section == "replay") {
      if (key == "chunk_events") {
        status = ReadNumber(path, v, name(key), config.chunk_events, nullptr);
      } else if (key == "queue_chunks") {
        status = ReadNumber(path, v, name(key), config.queue_chunks, nullptr);
      } else {
        return config::ErrorAt(path, v, fmt::format("unknown setting {}", name(key)));
      }
    } else if (section == "predicates") {
      if (key == "backend") {
        auto backend = v.kind == DocNode::Kind::kString ? runtime::ParseBackend(v.text) : std::nullopt;
        if (!backend) return config::ErrorAt(path, v, R"(predicates.backend must be "native", "wasm" or "lua")");
        config.backend = *backend;
      } else if (key == "budget") {
        status = ReadNumber(path, v, name(key), config.predicate_budget, nullptr);
      } else if (key == "max_overruns") {
        status = ReadNumber(path, v, name(key), config.max_overruns, nullptr);
      } else if (key == "overrun_window") {
        status = ReadNumber(path, v, name(key), config.overrun_window_ns, &ParseDuration);
      } else {
        return config::ErrorAt(path, v, fmt::format("unknown setting {}", name(key)));
      }
    } else if (section == "enforce") {
      if (key == "mounts") {
        status = ReadStrings(path, v, name(key), config.enforce.mounts);
      } else if (key == "allow_executables") {
        status = ReadStrings(path, v, name(key), config.enforce.allow_executables);
      } else if (key == "cgroup") {
        if (v.kind != DocNode::Kind::kString) return config::ErrorAt(path, v, "enforce.cgroup must be a string (a cgroup v2 directory)");
        config.enforce.cgroup = v.text;
      } else if (key == "fallback") {
        if (v.kind != DocNode::Kind::kString || (v.text != "allow" && v.text != "deny")) {
          return config::ErrorAt(path, v, R"(enforce.fallback must be "allow" or "deny")");
        }
        config.enforce.fail_closed = v.text == "deny";
      } else if (key == "deadline") {
        status = ReadNumber(path, v, name(key), config.enforce.deadline_ns, &ParseDuration);
        if (status && (config.enforce.deadline_ns == 0 || config.enforce.deadline_ns > 10'000'000'000)) {
          return config::ErrorAt(path, v, "enforce.deadline must be more than 0 and at most 10s");
        }
      } else {
        return config::ErrorAt(path, v, fmt::format("unknown setting {}", name(key)));
      }
    }
    KESTREL_TRY(status);
  }
  if (section == "replay" && (config.chunk_events == 0 || config.queue_chunks == 0 || config.queue_chunks > 4096)) {
    return config::ErrorAt(path, node, "replay.chunk_events must be at least 1 and replay.queue_chunks between 1 and 4096");
  }
  if (section == "predicates" && (config.predicate_budget == 0 || config.max_overruns == 0 || config.max_overruns > UINT32_MAX)) {
    return config::ErrorAt(path, node, "predicates.budget and predicates.max_overruns must be at least 1");
  }
  return Ok();
}

Result<EngineConfig> LoadEngineConfig(const std::string& path) {
  KESTREL_ASSIGN_OR_RETURN(DocNode root, config::ParseFile(path));
  if (root.kind != DocNode::Kind::kObject) return config::ErrorAt(path, root, "the configuration must be a table of sections");
  EngineConfig config;
  for (const auto& [name, node] : root.fields) {
    if (!IsEngineSection(name)) return config::ErrorAt(path, node, fmt::format("unknown section [{}]", name));
    KESTREL_TRY(ReadEngineSection(path, name, node, config));
  }
  return config;
}

}  // namespace kestrel::engine
