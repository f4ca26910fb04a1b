// An adversarial stream for the sequence state: 10 M events over 5 M distinct keys against 20
// sequence rules that almost never complete, so every event would leave a partial match behind.
// State must stay within its configured bounds (entries and bytes, per rule), every eviction
// must be counted, and nothing may crash. Two threads share the rules, as replay would.
#include <gtest/gtest.h>

#include <thread>

#include "engine/detection_engine.h"
#include "engine/synthetic_stream.h"

namespace kestrel::engine {
namespace {

#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
constexpr uint64_t kEvents = 400'000;  // sanitizer and debug builds are ~10x slower
#else
constexpr uint64_t kEvents = 10'000'000;
#endif
constexpr uint64_t kKeys = kEvents / 2;

TEST(AdversarialTest, StateStaysBoundedUnderFiveMillionKeys) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  { testing::SyntheticStream warm(registry, 1, 1); }  // registers the event types
  RuleSet rules;
  for (int i = 0; i < 20; ++i) {
    const char* key = i % 3 == 0 ? "process.entity_id" : i % 3 == 1 ? "process.parent.entity_id" : "user.name";
    auto rule = CompileRule(
        fmt::format("seq{:02}.eql", i),
        fmt::format(R"(sequence by {} [process where process.name == "bash"] [file where file.path == "/nowhere/{}"])", key, i),
        registry, {});
    ASSERT_TRUE(rule) << rule.error().ToString();
    rules.rules.push_back(std::move(*rule));
  }
  EngineOptions options;
  // Per rule; far below what the stream would leave behind unbounded (~180k entries, 100 MB).
  options.limits.max_entries = 20'000;
  options.limits.max_entries_per_entity = 1'000;
  options.limits.max_bytes = 4u << 20;
  options.limits.ttl_ns = 3600ull * 1'000'000'000;
  constexpr size_t kWorkers = 2;
  std::vector<EngineStats> stats(kWorkers);
  std::vector<std::thread> threads;
  for (size_t w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      SchemaRegistry local = registry;  // the stream interns nothing new; a copy keeps threads apart
      testing::SyntheticStream stream(local, 99, kKeys);  // the same stream in every worker
      DetectionEngine engine(rules, registry, options, w, kWorkers);
      EventBatch batch;
      std::vector<Alert> alerts;
      for (uint64_t done = 0; done < kEvents; done += 4096) {
        stream.Next(batch, std::min<uint64_t>(4096, kEvents - done));
        for (const Event& e : batch) engine.Process(e, alerts);
        EngineStats s = engine.stats();
        // Per rule: entries <= quota and bytes <= budget; summed over this worker's 10 rules.
        if (s.state.entries > 10 * options.limits.max_entries || s.state.bytes > 10 * options.limits.max_bytes) {
          ADD_FAILURE() << "state over its bounds: " << s.state.entries << " entries, " << s.state.bytes << " bytes";
          return;
        }
      }
      engine.Finish(alerts);
      stats[w] = engine.stats();
    });
  }
  for (std::thread& t : threads) t.join();
  EngineStats total;
  for (const EngineStats& s : stats) total.Add(s);
  EXPECT_EQ(total.events, kEvents);
  EXPECT_LE(total.state.peak_bytes, 20 * options.limits.max_bytes);
  EXPECT_GT(total.state.evicted_total(), 0u);
  EXPECT_GT(total.state.evicted[static_cast<size_t>(nfa::EvictReason::kLru)] +
                total.state.evicted[static_cast<size_t>(nfa::EvictReason::kQuota)],
            0u);
  std::printf("adversarial: %llu events, peak %llu entries / %llu bytes, evicted %llu (lru %llu, quota %llu, superseded %llu)\n",
              static_cast<unsigned long long>(total.events), static_cast<unsigned long long>(total.state.peak_entries),
              static_cast<unsigned long long>(total.state.peak_bytes),
              static_cast<unsigned long long>(total.state.evicted_total()),
              static_cast<unsigned long long>(total.state.evicted[static_cast<size_t>(nfa::EvictReason::kLru)]),
              static_cast<unsigned long long>(total.state.evicted[static_cast<size_t>(nfa::EvictReason::kQuota)]),
              static_cast<unsigned long long>(total.state.evicted[static_cast<size_t>(nfa::EvictReason::kSuperseded)]));
}

}  // namespace
}  // namespace kestrel::engine
