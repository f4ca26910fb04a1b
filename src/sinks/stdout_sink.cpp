// The stdout sink: each alert line written to stdout and flushed, so a pipe reader sees every
// alert as soon as it is rendered.
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>

#include "sinks/alert_sink.h"
#include "sinks/sink_util.h"

namespace kestrel::sinks {
namespace {

class StdoutSink final : public AlertSink {
 public:
  std::string_view name() const override { return "stdout"; }

  Status Write(std::string_view line) override {
    if (closed_) return MakeErrorAt("stdout", ErrorCode::kInvalidArgument, "write after close");
    auto payload = AlertPayload(line);
    if (!payload) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      return tl::unexpected(std::move(payload).error().At("stdout"));
    }
    errno = 0;
    bool ok = std::fwrite(payload->data(), 1, payload->size(), stdout) == payload->size() &&
              std::fputc('\n', stdout) != EOF && std::fflush(stdout) == 0;
    if (!ok) {
      int err = errno;
      std::clearerr(stdout);
      stats_.Failed();
      return MakeErrorAt("stdout", ErrorCode::kIo, "cannot write: " + ErrnoText(err));
    }
    stats_.written.fetch_add(1, std::memory_order_relaxed);
    return Ok();
  }

  Status Close() override {
    if (closed_) return Ok();
    closed_ = true;
    if (std::fflush(stdout) != 0) {
      return MakeErrorAt("stdout", ErrorCode::kIo, "cannot flush: " + ErrnoText(errno));
    }
    return Ok();
  }

  SinkStats stats() const override { return stats_.Snapshot(); }

 private:
  bool closed_ = false;
  AtomicSinkStats stats_;
};

}  // namespace

Result<std::unique_ptr<AlertSink>> OpenStdoutSink() { return std::make_unique<StdoutSink>(); }

}  // namespace kestrel::sinks
