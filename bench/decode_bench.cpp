// Decoder throughput: ECS NDJSON (MB/s) and .klog (events/s), on a generated workload
// (1 M events by default; KESTREL_BENCH_EVENTS overrides). Files are cached under /tmp
// (or $KESTREL_BENCH_DIR) and read from the page cache after the first run.
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <cstdlib>

#include "event/event_reader.h"
#include "workload.h"

namespace kestrel::bench {
namespace {

uint64_t WorkloadEvents() {
  const char* env = std::getenv("KESTREL_BENCH_EVENTS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 1'000'000;
}

void ReadWhole(benchmark::State& state, const std::string& format) {
  auto path = CachedWorkload(WorkloadEvents(), format);
  if (!path) {
    state.SkipWithError(path.error().ToString().c_str());
    return;
  }
  struct stat st {};
  ::stat(path->c_str(), &st);
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch batch;
  uint64_t events = 0;
  uint64_t fields = 0;
  for (auto _ : state) {
    auto reader = OpenEventReader(*path, {}, &registry);
    if (!reader) {
      state.SkipWithError(reader.error().ToString().c_str());
      return;
    }
    for (;;) {
      auto more = (*reader)->Next(batch);
      if (!more || !*more) break;
      events += batch.size();
      for (const Event& e : batch) fields += e.fields().size();
    }
  }
  benchmark::DoNotOptimize(fields);
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(st.st_size) * state.iterations());
  state.counters["file_MB"] = static_cast<double>(st.st_size) / 1e6;
}

void BM_NdjsonDecode(benchmark::State& state) { ReadWhole(state, "ndjson"); }
void BM_KlogRead(benchmark::State& state) { ReadWhole(state, "klog"); }
void BM_KlogReadZstd(benchmark::State& state) { ReadWhole(state, "klog.zst"); }

BENCHMARK(BM_NdjsonDecode)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_KlogRead)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_KlogReadZstd)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

}  // namespace
}  // namespace kestrel::bench

