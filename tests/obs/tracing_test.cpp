#include "obs/tracing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "obs/obs_test_util.h"

namespace kestrel::obs {
namespace {

using testing::MakeTempDir;
using testing::ReadLines;

std::unique_ptr<Tracer> OpenTracer(const std::string& path, double rate,
                                   std::optional<uint64_t> seed = std::nullopt) {
  TracerOptions options;
  options.path = path;
  options.sample_rate = rate;
  options.seed = seed;
  auto tracer = Tracer::Open(options);
  EXPECT_TRUE(tracer) << tracer.error().ToString();
  return tracer ? std::move(*tracer) : nullptr;
}

TEST(TracingTest, SampledFractionFollowsTheRate) {
  std::string dir = MakeTempDir();
  for (double rate : {0.0, 0.01, 0.1, 0.5, 1.0}) {
    auto tracer = OpenTracer(dir + "/t.jsonl", rate);
    ASSERT_TRUE(tracer);
    constexpr int kIds = 100'000;
    int sampled = 0;
    for (uint64_t id = 0; id < kIds; ++id) sampled += tracer->Sampled(id) ? 1 : 0;
    double expected = rate * kIds;
    // A binomial's standard deviation is sqrt(n p (1-p)) <= 158 here; allow 5 of them.
    EXPECT_LE(std::abs(sampled - expected), 5 * std::sqrt(kIds * rate * (1 - rate)) + 0.5)
        << "rate " << rate << ": " << sampled;
  }
}

TEST(TracingTest, SamplingIsDeterministicAndNested) {
  std::string dir = MakeTempDir();
  auto a = OpenTracer(dir + "/a.jsonl", 0.1);  // random seeds: they only change trace ids
  auto b = OpenTracer(dir + "/b.jsonl", 0.1);
  auto wider = OpenTracer(dir + "/c.jsonl", 0.2);
  for (uint64_t id = 0; id < 100'000; ++id) {
    uint64_t sparse_id = id * 0x9e3779b97f4a7c15ULL;  // ids from all over the range as well
    ASSERT_EQ(a->Sampled(id), b->Sampled(id)) << id;
    ASSERT_EQ(a->Sampled(sparse_id), b->Sampled(sparse_id)) << sparse_id;
    if (a->Sampled(id)) {
      ASSERT_TRUE(wider->Sampled(id)) << id;
    }
  }
}

TEST(TracingTest, OpenRejectsBadOptions) {
  std::string dir = MakeTempDir();
  for (double rate : {-0.1, 1.5, std::nan("")}) {
    auto tracer = Tracer::Open({dir + "/t.jsonl", rate});
    ASSERT_FALSE(tracer) << rate;
    EXPECT_EQ(tracer.error().code(), ErrorCode::kInvalidArgument);
  }
  auto unwritable = Tracer::Open({dir + "/missing/dir/t.jsonl", 0.5});
  ASSERT_FALSE(unwritable);
  EXPECT_EQ(unwritable.error().code(), ErrorCode::kIo);
  EXPECT_NE(unwritable.error().ToString().find(dir + "/missing/dir/t.jsonl"), std::string::npos);
}

TEST(TracingTest, WritesOpenTelemetryShapedJsonLines) {
  std::string path = MakeTempDir() + "/trace.jsonl";
  auto tracer = OpenTracer(path, 1.0, 42);
  ASSERT_TRUE(tracer);
  ASSERT_TRUE(tracer->Sampled(123));
  Trace trace = tracer->StartTrace(123, 1'000);
  trace.AddSpan(kSpanSource, 1'000, 1'100).SetAttribute("source", "ebpf");
  trace.AddSpan(kSpanBus, 1'100, 1'200).SetAttribute("partition", 3);
  Span& eval = trace.StartSpan(kSpanRuleEval, 1'200).SetAttribute(kAttrRuleId, "ssh_brute");
  trace.AddSpan(kSpanAlert, eval, 1'250, 1'260).SetError("sink full");
  eval.SetAttribute("matched", true).SetAttribute("score", 0.5).End(1'300);
  tracer->Finish(std::move(trace));  // the root is still open: it ends now
  tracer->Flush();
  EXPECT_EQ(tracer->spans_written(), 5u);
  EXPECT_EQ(tracer->write_errors(), 0u);

  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 5u);
  const std::regex hex32("[0-9a-f]{32}");
  const std::regex hex16("[0-9a-f]{16}");
  std::map<std::string, nlohmann::json> by_name;
  std::set<std::string> span_ids;
  for (const std::string& line : lines) {
    auto span = nlohmann::json::parse(line);
    for (const char* field : {"traceId", "spanId", "parentSpanId", "name", "kind",
                              "startTimeUnixNano", "endTimeUnixNano", "attributes", "status"}) {
      EXPECT_TRUE(span.contains(field)) << field << " in " << line;
    }
    EXPECT_TRUE(std::regex_match(span["traceId"].get<std::string>(), hex32)) << line;
    EXPECT_TRUE(std::regex_match(span["spanId"].get<std::string>(), hex16)) << line;
    EXPECT_EQ(span["traceId"], nlohmann::json::parse(lines[0])["traceId"]);
    EXPECT_EQ(span["kind"], "INTERNAL");
    EXPECT_TRUE(span["startTimeUnixNano"].is_string());
    span_ids.insert(span["spanId"].get<std::string>());
    by_name[span["name"].get<std::string>()] = span;
  }
  EXPECT_EQ(span_ids.size(), 5u);

  const auto& root = by_name.at("kestrel.event");
  EXPECT_EQ(root["parentSpanId"], "");
  EXPECT_EQ(root["attributes"]["kestrel.event_id"], 123);
  EXPECT_EQ(root["startTimeUnixNano"], "1000");
  EXPECT_GT(std::stoull(root["endTimeUnixNano"].get<std::string>()), 1'000'000'000'000'000'000u);
  EXPECT_EQ(root["status"]["code"], "OK");
  for (const char* child : {"kestrel.source", "kestrel.bus", "kestrel.rule.eval"}) {
    EXPECT_EQ(by_name.at(child)["parentSpanId"], root["spanId"]) << child;
  }
  const auto& eval_line = by_name.at("kestrel.rule.eval");
  EXPECT_EQ(eval_line["startTimeUnixNano"], "1200");
  EXPECT_EQ(eval_line["endTimeUnixNano"], "1300");
  EXPECT_EQ(eval_line["attributes"]["rule.id"], "ssh_brute");
  EXPECT_EQ(eval_line["attributes"]["matched"], true);
  EXPECT_EQ(eval_line["attributes"]["score"], 0.5);
  EXPECT_EQ(by_name.at("kestrel.bus")["attributes"]["partition"], 3);
  const auto& alert = by_name.at("kestrel.alert");
  EXPECT_EQ(alert["parentSpanId"], eval_line["spanId"]);
  EXPECT_EQ(alert["status"]["code"], "ERROR");
  EXPECT_EQ(alert["status"]["message"], "sink full");
}

TEST(TracingTest, TraceIdsFollowTheSeedAndTheEvent) {
  std::string dir = MakeTempDir();
  auto a = OpenTracer(dir + "/a.jsonl", 1.0, 7);
  auto b = OpenTracer(dir + "/b.jsonl", 1.0, 7);
  auto c = OpenTracer(dir + "/c.jsonl", 1.0, 8);
  Trace ta = a->StartTrace(5, 1);
  Trace tb = b->StartTrace(5, 1);
  EXPECT_EQ(ta.trace_id_high(), tb.trace_id_high());
  EXPECT_EQ(ta.trace_id_low(), tb.trace_id_low());
  EXPECT_EQ(ta.root().span_id(), tb.root().span_id());
  EXPECT_NE(a->StartTrace(6, 1).trace_id_high(), ta.trace_id_high());
  EXPECT_NE(c->StartTrace(5, 1).trace_id_high(), ta.trace_id_high());
}

TEST(TracingTest, ConcurrentFinishesAreAllWritten) {
  std::string path = MakeTempDir() + "/trace.jsonl";
  TracerOptions options;
  options.path = path;
  options.sample_rate = 1.0;
  options.buffer_bytes = 4096;  // many writes
  auto tracer = Tracer::Open(options);
  ASSERT_TRUE(tracer);
  constexpr int kThreads = 4;
  constexpr int kTraces = 2'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kTraces; ++i) {
        Trace trace = (*tracer)->StartTrace(t * kTraces + i);
        trace.AddSpan(kSpanSink, 1, 2);
        (*tracer)->Finish(std::move(trace));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  (*tracer)->Flush();
  EXPECT_EQ((*tracer)->spans_written(), uint64_t{2} * kThreads * kTraces);
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), size_t{2} * kThreads * kTraces);
  for (const std::string& line : lines) {
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
  }
}

TEST(TracingTest, WriteErrorsAreCountedNotThrown) {
  auto tracer = OpenTracer("/dev/full", 1.0);  // every write fails with ENOSPC
  ASSERT_TRUE(tracer);
  for (uint64_t id = 0; id < 3; ++id) {
    Trace trace = tracer->StartTrace(id);
    trace.AddSpan(kSpanSource, 1, 2);
    tracer->Finish(std::move(trace));
  }
  tracer->Flush();
  tracer->Flush();  // nothing left to write: no new error
  EXPECT_EQ(tracer->spans_written(), 0u);
  EXPECT_EQ(tracer->spans_dropped(), 6u);
  EXPECT_GE(tracer->write_errors(), 1u);
}

}  // namespace
}  // namespace kestrel::obs
