// Logging set-up: configures spdlog's default logger ("kestrel") once at start-up — level, text or
// JSON lines (one object per line: ts, level, logger, msg), stderr or a file. Code then logs with
// spdlog::info(...) etc. Call it before other threads log.
#pragma once

#include <string>

#include "common/result.h"

namespace kestrel::obs {

struct LogOptions {
  std::string level = "info";   // trace|debug|info|warn|error|critical|off
  std::string format = "text";  // text|json
  std::string file;             // appended to; empty: stderr
};

// Fails, naming the value, on an unknown level or format, or a file that cannot be opened. On
// failure the previous logger stays in place.
Status InitLogging(const LogOptions& options);

}  // namespace kestrel::obs
