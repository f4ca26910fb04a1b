#include "obs/tracing.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

namespace kestrel::obs {
namespace {

using Json = nlohmann::ordered_json;

constexpr uint64_t kFlushIntervalNs = 1'000'000'000;

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t Mix(uint64_t x) { return Tracer::SampleHash(x); }

uint64_t RandomSeed() {
  try {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  } catch (...) {  // no entropy source: the clocks and the pid still differ between runs
    return Mix(WallClockNs() ^ (static_cast<uint64_t>(getpid()) << 40) ^ MonotonicNs());
  }
}

std::string_view KindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kInternal:
      return "INTERNAL";
    case SpanKind::kServer:
      return "SERVER";
    case SpanKind::kClient:
      return "CLIENT";
    case SpanKind::kProducer:
      return "PRODUCER";
    case SpanKind::kConsumer:
      return "CONSUMER";
  }
  return "INTERNAL";
}

std::string Hex64(uint64_t v) { return fmt::format("{:016x}", v); }

void AppendSpanLine(std::string& out, const Trace& trace, const Span& span) {
  Json line;
  line["traceId"] = fmt::format("{:016x}{:016x}", trace.trace_id_high(), trace.trace_id_low());
  line["spanId"] = Hex64(span.span_id());
  line["parentSpanId"] = span.parent_span_id() == 0 ? "" : Hex64(span.parent_span_id());
  line["name"] = span.name();
  line["kind"] = KindName(span.kind());
  line["startTimeUnixNano"] = std::to_string(span.start_ns());
  line["endTimeUnixNano"] = std::to_string(span.end_ns());
  Json attributes = Json::object();
  for (const auto& attribute : span.attributes()) {  // (clang 14 cannot capture a structured binding)
    const auto& key = attribute.first;
    std::visit([&](const auto& v) { attributes[key] = v; }, attribute.second);
  }
  line["attributes"] = std::move(attributes);
  Json status;
  status["code"] = span.status() == SpanStatus::kOk ? "OK" : "ERROR";
  if (span.status() == SpanStatus::kError) status["message"] = span.status_message();
  line["status"] = std::move(status);
  out += line.dump(-1, ' ', false, Json::error_handler_t::replace);
  out += '\n';
}

}  // namespace

uint64_t WallClockNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

Span& Span::Put(std::string_view key, AttributeValue value) {
  for (auto& [k, v] : attributes_) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  attributes_.emplace_back(std::string(key), std::move(value));
  return *this;
}

Span& Span::SetAttribute(std::string_view key, std::string_view value) {
  return Put(key, std::string(value));
}

Span& Span::SetError(std::string_view message) {
  status_ = SpanStatus::kError;
  status_message_ = std::string(message);
  return *this;
}

Trace::Trace(uint64_t event_id, uint64_t trace_hi, uint64_t trace_lo, uint64_t start_ns)
    : event_id_(event_id), trace_hi_(trace_hi), trace_lo_(trace_lo) {
  spans_.push_back(Span(NextSpanId(), 0, kSpanEvent, start_ns));
  spans_.front().SetAttribute(kAttrEventId, event_id);
}

uint64_t Trace::NextSpanId() {
  // Distinct inputs through a bijection: distinct ids within the trace; never 0 (invalid in OTel).
  uint64_t id = Mix(trace_lo_ + 0xd1b54a32d192ed03ULL * (spans_.size() + 1));
  return id != 0 ? id : 1;
}

Span& Trace::StartSpan(std::string_view name, const Span& parent, uint64_t start_ns) {
  spans_.push_back(Span(NextSpanId(), parent.span_id(), name, start_ns));
  return spans_.back();
}

Result<std::unique_ptr<Tracer>> Tracer::Open(const TracerOptions& options) {
  if (!(options.sample_rate >= 0.0 && options.sample_rate <= 1.0)) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("trace sample rate {} is not between 0 and 1", options.sample_rate));
  }
  if (options.path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "trace output needs a file path");
  }
  int fd = ::open(options.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return MakeErrorAt(options.path, ErrorCode::kIo,
                       fmt::format("cannot open the trace file: {}", std::strerror(errno)));
  }
  uint64_t seed = options.seed ? *options.seed : RandomSeed();
  return std::make_unique<Tracer>(OpenKey{}, options, fd, seed);
}

Tracer::Tracer(OpenKey, const TracerOptions& options, int fd, uint64_t seed)
    : threshold_(static_cast<uint64_t>(std::ldexp(options.sample_rate, 53))),
      seed_(seed),
      buffer_bytes_(options.buffer_bytes),
      fd_(fd),
      last_write_ns_(MonotonicNs()) {}

Tracer::~Tracer() {
  Flush();
  ::close(fd_);
}

Trace Tracer::StartTrace(uint64_t event_id, uint64_t start_ns) const {
  uint64_t hi = Mix(seed_ ^ Mix(event_id));
  uint64_t lo = Mix(hi ^ event_id ^ 0x6a09e667f3bcc909ULL);
  if ((hi | lo) == 0) lo = 1;  // the all-zero trace id is invalid in OTel
  return {event_id, hi, lo, start_ns};
}

void Tracer::Finish(Trace&& trace) {
  uint64_t now = WallClockNs();
  std::string lines;
  for (Span& span : trace.spans_) {
    if (span.end_ns() == 0) span.End(now);
  }
  try {
    for (const Span& span : trace.spans_) AppendSpanLine(lines, trace, span);
  } catch (...) {  // allocation failure: drop this trace rather than throw into the pipeline
    std::lock_guard lock(mu_);
    spans_dropped_ += trace.spans_.size();
    return;
  }
  std::lock_guard lock(mu_);
  buffer_ += lines;
  buffered_spans_ += trace.spans_.size();
  if (buffer_.size() >= buffer_bytes_ || MonotonicNs() - last_write_ns_ >= kFlushIntervalNs) {
    FlushLocked();
  }
}

void Tracer::Flush() {
  std::lock_guard lock(mu_);
  FlushLocked();
}

void Tracer::FlushLocked() {
  last_write_ns_ = MonotonicNs();
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // Failed (or wrote nothing): drop the buffer; a partial line may be left in the file.
    ++write_errors_;
    spans_dropped_ += buffered_spans_;
    buffer_.clear();
    buffered_spans_ = 0;
    return;
  }
  spans_written_ += buffered_spans_;
  buffer_.clear();
  buffered_spans_ = 0;
}

uint64_t Tracer::spans_written() const {
  std::lock_guard lock(mu_);
  return spans_written_;
}

uint64_t Tracer::spans_dropped() const {
  std::lock_guard lock(mu_);
  return spans_dropped_;
}

uint64_t Tracer::write_errors() const {
  std::lock_guard lock(mu_);
  return write_errors_;
}

}  // namespace kestrel::obs
