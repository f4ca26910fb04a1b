#include "engine/engine_config.h"

#include <fmt/format.h>

#include <charconv>
#include <toml++/toml.h>

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

Result<EngineConfig> LoadEngineConfig(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return MakeErrorAt(fmt::format("{}:{}:{}", path, where.line, where.column), ErrorCode::kParse,
                       std::string(e.description()));
  }
  EngineConfig config;
  auto fail = [&](const toml::node& node, std::string message) {
    const auto& where = node.source().begin;
    return MakeErrorAt(fmt::format("{}:{}:{}", path, where.line, where.column), ErrorCode::kInvalidArgument,
                       std::move(message));
  };
  // Integers, or strings with a unit where the setting has one.
  auto read = [&](const toml::table& section, std::string_view section_name, std::string_view key, uint64_t& out,
                  Result<uint64_t> (*parse)(std::string_view)) -> Status {
    const toml::node* node = section.get(key);
    if (node == nullptr) return Ok();
    if (auto i = node->value<int64_t>(); i && node->is_integer()) {
      if (*i < 0) return fail(*node, fmt::format("{}.{} must not be negative", section_name, key));
      out = static_cast<uint64_t>(*i);
      return Ok();
    }
    if (auto s = node->value<std::string>(); s && parse != nullptr) {
      auto parsed = parse(*s);
      if (!parsed) return fail(*node, fmt::format("{}.{}: {}", section_name, key, parsed.error().message()));
      out = *parsed;
      return Ok();
    }
    return fail(*node, fmt::format("{}.{} must be {}", section_name, key, parse ? "an integer or a string with a unit" : "an integer"));
  };
  for (auto&& [name, node] : table) {
    if (name != "state" && name != "replay" && name != "predicates" && name != "enforce") {
      return fail(node, fmt::format("unknown section [{}]", name.str()));
    }
    if (!node.is_table()) return fail(node, fmt::format("'{}' must be a table", name.str()));
  }
  if (const toml::table* state = table["state"].as_table()) {
    for (auto&& [key, node] : *state) {
      std::string_view k = key.str();
      if (k != "max_partials" && k != "max_partials_per_entity" && k != "max_bytes" && k != "ttl") {
        return fail(node, fmt::format("unknown setting state.{}", k));
      }
    }
    KESTREL_TRY(read(*state, "state", "max_partials", config.max_partials, nullptr));
    KESTREL_TRY(read(*state, "state", "max_partials_per_entity", config.max_partials_per_entity, nullptr));
    KESTREL_TRY(read(*state, "state", "max_bytes", config.max_bytes, &ParseBytes));
    KESTREL_TRY(read(*state, "state", "ttl", config.ttl_ns, &ParseDuration));
  }
  if (const toml::table* replay = table["replay"].as_table()) {
    for (auto&& [key, node] : *replay) {
      std::string_view k = key.str();
      if (k != "chunk_events" && k != "queue_chunks") return fail(node, fmt::format("unknown setting replay.{}", k));
    }
    KESTREL_TRY(read(*replay, "replay", "chunk_events", config.chunk_events, nullptr));
    KESTREL_TRY(read(*replay, "replay", "queue_chunks", config.queue_chunks, nullptr));
    if (config.chunk_events == 0 || config.queue_chunks == 0 || config.queue_chunks > 4096) {
      return fail(*replay, "replay.chunk_events must be at least 1 and replay.queue_chunks between 1 and 4096");
    }
  }
  if (const toml::table* preds = table["predicates"].as_table()) {
    for (auto&& [key, node] : *preds) {
      std::string_view k = key.str();
      if (k != "backend" && k != "budget" && k != "max_overruns" && k != "overrun_window") {
        return fail(node, fmt::format("unknown setting predicates.{}", k));
      }
    }
    if (const toml::node* node = preds->get("backend")) {
      auto name = node->value<std::string>();
      auto backend = name ? runtime::ParseBackend(*name) : std::nullopt;
      if (!backend) return fail(*node, "predicates.backend must be \"native\", \"wasm\" or \"lua\"");
      config.backend = *backend;
    }
    KESTREL_TRY(read(*preds, "predicates", "budget", config.predicate_budget, nullptr));
    KESTREL_TRY(read(*preds, "predicates", "max_overruns", config.max_overruns, nullptr));
    KESTREL_TRY(read(*preds, "predicates", "overrun_window", config.overrun_window_ns, &ParseDuration));
    if (config.predicate_budget == 0 || config.max_overruns == 0 || config.max_overruns > UINT32_MAX) {
      return fail(*preds, "predicates.budget and predicates.max_overruns must be at least 1");
    }
  }
  if (const toml::table* enforce = table["enforce"].as_table()) {
    auto strings = [&](const toml::node& node, std::string_view key, std::vector<std::string>& out) -> Status {
      const toml::array* list = node.as_array();
      if (list == nullptr) return fail(node, fmt::format("enforce.{} must be an array of strings", key));
      for (const toml::node& item : *list) {
        auto s = item.value<std::string>();
        if (!s || s->empty()) return fail(item, fmt::format("enforce.{} must be an array of non-empty strings", key));
        out.push_back(*s);
      }
      return Ok();
    };
    for (auto&& [key, node] : *enforce) {
      std::string_view k = key.str();
      if (k == "mounts") {
        KESTREL_TRY(strings(node, k, config.enforce.mounts));
      } else if (k == "allow_executables") {
        KESTREL_TRY(strings(node, k, config.enforce.allow_executables));
      } else if (k == "cgroup") {
        auto s = node.value<std::string>();
        if (!s) return fail(node, "enforce.cgroup must be a string (a cgroup v2 directory)");
        config.enforce.cgroup = *s;
      } else if (k == "fallback") {
        auto s = node.value<std::string>();
        if (!s || (*s != "allow" && *s != "deny")) return fail(node, "enforce.fallback must be \"allow\" or \"deny\"");
        config.enforce.fail_closed = *s == "deny";
      } else if (k == "deadline") {
        KESTREL_TRY(read(*enforce, "enforce", "deadline", config.enforce.deadline_ns, &ParseDuration));
        if (config.enforce.deadline_ns == 0 || config.enforce.deadline_ns > 10'000'000'000) {
          return fail(node, "enforce.deadline must be more than 0 and at most 10s");
        }
      } else {
        return fail(node, fmt::format("unknown setting enforce.{}", k));
      }
    }
  }
  return config;
}

}  // namespace kestrel::engine
