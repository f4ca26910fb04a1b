// FanotifyResponder: answers fanotify permission events (FAN_OPEN_EXEC_PERM, FAN_OPEN_PERM) on
// the mounts it was given, within a deadline, always. A dedicated thread reads the events and
// keeps the deadlines; the decisions are made on a second thread by `decide` (the block rules),
// which writes its answer itself. A request not decided by its deadline is answered by the
// first thread with the fallback (allow by default: fail-open), so a slow or stalled rule never
// holds an exec or an open for longer than the deadline. Whichever thread takes a request out of
// the pending table (under the lock) answers it, exactly once. Exempt processes (Kestrel, its parent, PID 1, the allowlist) are
// answered allow at once, without a decision. Stop() answers everything still pending and
// closes the fanotify group, which removes every mark. docs/response.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/histogram.h"
#include "common/result.h"

namespace kestrel::enforce {

enum class Answer : uint8_t { kAllow, kDeny };

struct PermissionRequest {
  uint64_t id = 0;
  bool exec = false;  // FAN_OPEN_EXEC_PERM; else FAN_OPEN_PERM
  int32_t pid = 0;    // the process that asked
  std::string path;   // the file
};

struct ResponderOptions {
  std::vector<std::string> mounts;  // mount points; "/" is refused
  bool exec = true;                 // watch execs
  bool open = false;                // watch opens
  std::chrono::microseconds deadline{100'000};
  Answer fallback = Answer::kAllow;  // the answer when the decision is late
  std::vector<int32_t> exempt;       // pids answered allow at once
  size_t max_pending = 4096;         // past it, new requests get the fallback at once
  // Called on the responder thread, cheap and bounded: false when no rule can deny the request,
  // which is then allowed at once, without waking the decision thread (null: always ask).
  std::function<bool(const PermissionRequest&)> may_deny;
};

struct ResponderStats {
  uint64_t requests = 0;
  uint64_t allowed = 0;
  uint64_t denied = 0;
  uint64_t exempt = 0;
  uint64_t fast = 0;      // allowed at once: no rule could deny them
  uint64_t late = 0;      // answered with the fallback at the deadline
  uint64_t overflow = 0;  // answered with the fallback because too many were pending
  Histogram answer_ns;    // from reading the request to writing the answer (its decision time)
};

class FanotifyResponder {
 public:
  using Decide = std::function<Answer(const PermissionRequest&)>;  // called on the decision thread

  static Result<std::unique_ptr<FanotifyResponder>> Start(const ResponderOptions& options, Decide decide);
  ~FanotifyResponder();
  FanotifyResponder(const FanotifyResponder&) = delete;
  FanotifyResponder& operator=(const FanotifyResponder&) = delete;

  // Answers every pending request with the fallback, removes the marks, joins the threads.
  void Stop();
  ResponderStats stats() const;

 private:
  FanotifyResponder() = default;
  struct Pending {
    int fd = -1;
    std::chrono::steady_clock::time_point received;
    std::chrono::steady_clock::time_point deadline;
  };
  void RespondLoop();
  void DecideLoop();
  // Takes request `id` out of the pending table; false when it was answered already.
  bool Claim(uint64_t id, Pending& out);
  void Write(int fd, Answer answer, std::chrono::steady_clock::time_point received);

  ResponderOptions options_;
  Decide decide_;
  int fan_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop
  std::thread responder_, decider_;
  std::atomic<bool> stop_{false};

  // Responder thread only.
  std::unordered_set<int32_t> exempt_;
  uint64_t next_id_ = 1;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<uint64_t, Pending> pending_;  // requests not answered yet
  std::deque<PermissionRequest> requests_;         // to the decision thread
  ResponderStats stats_;
};

}  // namespace kestrel::enforce
