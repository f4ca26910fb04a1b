// Tracing: the life of a sampled event as spans written one JSON object per line, shaped like
// OpenTelemetry's OTLP/JSON spans (traceId, spanId, parentSpanId, name, kind, startTimeUnixNano,
// endTimeUnixNano as strings, attributes, status). Sampling is a hash of the event id under the
// rate, so the same events are traced on every run; the unsampled path is one compare.
//
//   if (tracer->Sampled(id)) {                       // cheap; everything below only if sampled
//     Trace trace = tracer->StartTrace(id, t0);      // root span "kestrel.event"
//     trace.AddSpan(kSpanSource, t0, t1);            // a finished child of the root
//     Span& eval = trace.StartSpan(kSpanRuleEval, t1).SetAttribute(kAttrRuleId, rule.id);
//     ... eval.End(t2);
//     tracer->Finish(std::move(trace));              // ends open spans now, buffers the lines
//   }
#pragma once

#include <concepts>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace kestrel::obs {

// Span names along an event's path.
inline constexpr std::string_view kSpanEvent = "kestrel.event";  // the root, one per event
inline constexpr std::string_view kSpanSource = "kestrel.source";
inline constexpr std::string_view kSpanBus = "kestrel.bus";
inline constexpr std::string_view kSpanRuleEval = "kestrel.rule.eval";  // one per rule evaluated
inline constexpr std::string_view kSpanAlert = "kestrel.alert";
inline constexpr std::string_view kSpanSink = "kestrel.sink";
// Attribute keys.
inline constexpr std::string_view kAttrEventId = "kestrel.event_id";  // set on every root
inline constexpr std::string_view kAttrRuleId = "rule.id";

// ns since the Unix epoch (CLOCK_REALTIME), the clock span times use.
uint64_t WallClockNs();

enum class SpanKind : uint8_t { kInternal, kServer, kClient, kProducer, kConsumer };
enum class SpanStatus : uint8_t { kOk, kError };

using AttributeValue = std::variant<bool, int64_t, uint64_t, double, std::string>;

class Span {
 public:
  uint64_t span_id() const { return span_id_; }
  uint64_t parent_span_id() const { return parent_span_id_; }  // 0 for the root
  const std::string& name() const { return name_; }
  uint64_t start_ns() const { return start_ns_; }
  uint64_t end_ns() const { return end_ns_; }  // 0 while open
  SpanKind kind() const { return kind_; }
  SpanStatus status() const { return status_; }
  const std::string& status_message() const { return status_message_; }
  const std::vector<std::pair<std::string, AttributeValue>>& attributes() const {
    return attributes_;
  }

  // Sets (or replaces) attribute `key`.
  Span& SetAttribute(std::string_view key, std::string_view value);
  Span& SetAttribute(std::string_view key, const char* value) {
    return SetAttribute(key, std::string_view(value));
  }
  Span& SetAttribute(std::string_view key, bool value) { return Put(key, value); }
  Span& SetAttribute(std::string_view key, double value) { return Put(key, value); }
  template <std::integral T>
  requires(!std::same_as<T, bool>) Span& SetAttribute(std::string_view key, T value) {
    if constexpr (std::is_signed_v<T>) return Put(key, static_cast<int64_t>(value));
    return Put(key, static_cast<uint64_t>(value));
  }

  Span& SetKind(SpanKind kind) {
    kind_ = kind;
    return *this;
  }
  Span& SetError(std::string_view message);
  Span& End(uint64_t end_ns) {
    end_ns_ = end_ns;
    return *this;
  }
  Span& End() { return End(WallClockNs()); }

 private:
  friend class Trace;
  friend class Tracer;
  Span(uint64_t span_id, uint64_t parent_span_id, std::string_view name, uint64_t start_ns)
      : span_id_(span_id), parent_span_id_(parent_span_id), name_(name), start_ns_(start_ns) {}
  Span& Put(std::string_view key, AttributeValue value);

  uint64_t span_id_;
  uint64_t parent_span_id_;
  std::string name_;
  uint64_t start_ns_;
  uint64_t end_ns_ = 0;
  SpanKind kind_ = SpanKind::kInternal;
  SpanStatus status_ = SpanStatus::kOk;
  std::string status_message_;
  std::vector<std::pair<std::string, AttributeValue>> attributes_;
};

// The spans of one sampled event. Not thread-safe: one thread at a time adds to it (hand it along
// with the event). Span references stay valid while the Trace lives, also across moves.
class Trace {
 public:
  Trace(Trace&&) = default;
  Trace& operator=(Trace&&) = default;
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  uint64_t event_id() const { return event_id_; }
  uint64_t trace_id_high() const { return trace_hi_; }
  uint64_t trace_id_low() const { return trace_lo_; }
  Span& root() { return spans_.front(); }
  const std::deque<Span>& spans() const { return spans_; }

  // An open child of `parent` (of the root without one), started at `start_ns`.
  Span& StartSpan(std::string_view name, const Span& parent, uint64_t start_ns);
  Span& StartSpan(std::string_view name, uint64_t start_ns) {
    return StartSpan(name, root(), start_ns);
  }
  // A finished child, for stages timed by the caller.
  Span& AddSpan(std::string_view name, const Span& parent, uint64_t start_ns, uint64_t end_ns) {
    return StartSpan(name, parent, start_ns).End(end_ns);
  }
  Span& AddSpan(std::string_view name, uint64_t start_ns, uint64_t end_ns) {
    return AddSpan(name, root(), start_ns, end_ns);
  }

 private:
  friend class Tracer;
  Trace(uint64_t event_id, uint64_t trace_hi, uint64_t trace_lo, uint64_t start_ns);
  uint64_t NextSpanId();

  uint64_t event_id_;
  uint64_t trace_hi_;
  uint64_t trace_lo_;
  std::deque<Span> spans_;
};

struct TracerOptions {
  std::string path;          // JSON lines are appended here
  double sample_rate = 0.0;  // 0..1, the fraction of event ids traced
  // Seeds the trace ids (with the event id). Empty: random per Tracer, so two runs over the same
  // events give different trace ids (the sampled events are the same either way).
  std::optional<uint64_t> seed;
  size_t buffer_bytes = size_t{64} * 1024;  // written when the buffer passes this, or after 1 s
};

// Thread-safe. Writing never throws: failed writes are counted and their spans dropped.
class Tracer {
  struct OpenKey {
    explicit OpenKey() = default;
  };

 public:
  static Result<std::unique_ptr<Tracer>> Open(const TracerOptions& options);
  Tracer(OpenKey, const TracerOptions& options, int fd, uint64_t seed);  // for Open()
  ~Tracer();                                                             // flushes
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Whether `event_id` is traced: the same on every run and in every Tracer with this rate; the
  // ids sampled at a rate are also sampled at any higher rate.
  bool Sampled(uint64_t event_id) const { return (SampleHash(event_id) >> 11) < threshold_; }
  static uint64_t SampleHash(uint64_t event_id) {  // splitmix64's finalizer: a bijection
    uint64_t z = event_id + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // A trace of `event_id` whose root span "kestrel.event" starts at `start_ns`.
  Trace StartTrace(uint64_t event_id, uint64_t start_ns) const;
  Trace StartTrace(uint64_t event_id) const { return StartTrace(event_id, WallClockNs()); }

  // Ends the trace's open spans now and queues its lines; writes if the buffer is full or the
  // last write is over a second old.
  void Finish(Trace&& trace);
  // Writes what is buffered (call it when idle, and before exit).
  void Flush();

  uint64_t spans_written() const;  // spans whose line reached the file
  uint64_t spans_dropped() const;  // spans lost to failed writes
  uint64_t write_errors() const;   // failed writes

 private:
  void FlushLocked();

  uint64_t threshold_;  // sampled iff the top 53 bits of the hash are below it
  uint64_t seed_;
  size_t buffer_bytes_;
  int fd_;

  mutable std::mutex mu_;
  std::string buffer_;
  uint64_t buffered_spans_ = 0;
  uint64_t last_write_ns_ = 0;  // CLOCK_MONOTONIC
  uint64_t spans_written_ = 0;
  uint64_t spans_dropped_ = 0;
  uint64_t write_errors_ = 0;
};

}  // namespace kestrel::obs
