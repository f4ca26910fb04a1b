#include "obs/logging.h"

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

namespace kestrel::obs {
namespace {

constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels = {{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"error", spdlog::level::err},
    {"critical", spdlog::level::critical},
    {"off", spdlog::level::off},
}};

std::string_view LevelName(spdlog::level::level_enum level) {
  for (const auto& [name, value] : kLevels) {
    if (value == level) return name;
  }
  return "info";
}

// One JSON object per line: {"ts":"2024-05-01T12:00:00.123456Z","level":"info","logger":"kestrel",
// "msg":"..."}; the message is escaped (invalid UTF-8 replaced), so every line parses.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using std::chrono::duration_cast;
    using std::chrono::microseconds;
    auto since_epoch = duration_cast<microseconds>(msg.time.time_since_epoch()).count();
    auto secs = static_cast<time_t>(since_epoch / 1'000'000);
    tm utc{};
    gmtime_r(&secs, &utc);
    nlohmann::ordered_json line;
    line["ts"] = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", utc.tm_year + 1900,
                             utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                             since_epoch % 1'000'000);
    line["level"] = LevelName(msg.level);
    line["logger"] = std::string_view(msg.logger_name.data(), msg.logger_name.size());
    line["msg"] = std::string_view(msg.payload.data(), msg.payload.size());
    std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

Result<spdlog::sink_ptr> MakeSink(const LogOptions& options, bool json) {
  if (options.file.empty()) {
    if (json) return std::make_shared<spdlog::sinks::stderr_sink_mt>();
    return std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  }
  try {
    return std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, /*truncate=*/false);
  } catch (const std::exception& e) {
    // spdlog says "Failed opening file PATH for writing: REASON"; the path is the location.
    std::string_view what = e.what();
    size_t colon = what.rfind(": ");
    std::string_view reason = colon == std::string_view::npos ? what : what.substr(colon + 2);
    return MakeErrorAt(options.file, ErrorCode::kIo,
                       fmt::format("cannot open the log file: {}", reason));
  }
}

}  // namespace

Status InitLogging(const LogOptions& options) {
  const auto* level = std::find_if(kLevels.begin(), kLevels.end(),
                                   [&](const auto& entry) { return entry.first == options.level; });
  if (level == kLevels.end()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("unknown log level '{}' (expected trace, debug, info, warn, "
                                 "error, critical or off)",
                                 options.level));
  }
  if (options.format != "text" && options.format != "json") {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("unknown log format '{}' (expected text or json)", options.format));
  }
  bool json = options.format == "json";
  KESTREL_ASSIGN_OR_RETURN(spdlog::sink_ptr sink, MakeSink(options, json));
  if (json) {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    sink->set_formatter(
        std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v"));
  }
  auto logger = std::make_shared<spdlog::logger>("kestrel", std::move(sink));
  logger->set_level(level->second);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  // Lines below warn reach a file within a second (spdlog's flusher thread).
  spdlog::flush_every(std::chrono::seconds(1));
  return Ok();
}

}  // namespace kestrel::obs
