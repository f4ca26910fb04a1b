// SinkSet (the fan-out) and the helpers of sink_util.h.
#include "sinks/alert_sink.h"

#include <fmt/format.h>

#include <cstring>

#include "sinks/sink_util.h"

namespace kestrel::sinks {

SinkStats AtomicSinkStats::Snapshot() const {
  SinkStats s;
  s.written = written.load(std::memory_order_relaxed);
  s.dropped = dropped.load(std::memory_order_relaxed);
  s.retries = retries.load(std::memory_order_relaxed);
  s.failures = failures.load(std::memory_order_relaxed);
  s.rotations = rotations.load(std::memory_order_relaxed);
  s.queue_depth = queue_depth.load(std::memory_order_relaxed);
  return s;
}

Result<std::string_view> AlertPayload(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty alert line");
  if (line.find_first_of("\r\n") != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "alert line has a newline inside");
  }
  return line;
}

std::string ErrnoText(int err) { return fmt::format("{} (errno {})", std::strerror(err), err); }

void SinkSet::Add(std::unique_ptr<AlertSink> sink) {
  if (sink) sinks_.push_back(std::move(sink));
}

Status SinkSet::Write(std::string_view line) {
  Status first = Ok();
  for (auto& sink : sinks_) {
    Status s = sink->Write(line);
    if (!s && first) first = std::move(s);
  }
  return first;
}

Status SinkSet::Close() {
  Status first = Ok();
  for (auto& sink : sinks_) {
    Status s = sink->Close();
    if (!s && first) first = std::move(s);
  }
  return first;
}

std::vector<std::pair<std::string, SinkStats>> SinkSet::stats() const {
  std::vector<std::pair<std::string, SinkStats>> out;
  out.reserve(sinks_.size());
  for (const auto& sink : sinks_) out.emplace_back(std::string(sink->name()), sink->stats());
  return out;
}

}  // namespace kestrel::sinks
