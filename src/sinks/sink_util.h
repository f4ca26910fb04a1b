// What the sinks share and keep to themselves: counters readable from any thread, the check
// every alert line passes before it is sent, and errno rendering.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sinks/alert_sink.h"

namespace kestrel::sinks {

// SinkStats as atomics: the writing thread (and a sender thread) update, anyone reads.
struct AtomicSinkStats {
  std::atomic<uint64_t> written{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> rotations{0};
  std::atomic<size_t> queue_depth{0};

  // An alert lost to an error: counted in failures and in dropped.
  void Failed(uint64_t n = 1) {
    failures.fetch_add(n, std::memory_order_relaxed);
    dropped.fetch_add(n, std::memory_order_relaxed);
  }
  SinkStats Snapshot() const;
};

// The alert without its trailing '\n' (and '\r'), or an error for an empty line or one with a
// newline inside (which would split the alert in two for every line-based reader).
Result<std::string_view> AlertPayload(std::string_view line);

// "Permission denied (errno 13)".
std::string ErrnoText(int err);

}  // namespace kestrel::sinks
