// EventBus throughput: items (and the events they carry) per second through one partition, a
// producer thread and a consumer thread, as the dispatcher and one worker will run. Batches
// come from a fixed pool and return to it through a second ring, so the figure is the bus's
// cost, not the allocator's.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "bus/event_bus.h"
#include "bus/spsc_ring.h"

namespace kestrel::bench {
namespace {

constexpr uint64_t kItemsPerIteration = 100'000;

// Spin a little, then give the core away: the VM has two cores shared by both threads.
void Backoff(uint32_t& failures) {
  if (++failures < 64) {
    bus::CpuRelax();
  } else {
    std::this_thread::yield();
  }
}

// The bare ring: 8-byte items, busy-polling on both sides.
void BM_SpscRingU64(benchmark::State& state) {
  bus::SpscRing<uint64_t> ring(static_cast<size_t>(state.range(0)));
  uint64_t checksum = 0;
  for (auto _ : state) {
    std::thread producer([&] {
      for (uint64_t i = 0; i < kItemsPerIteration; ++i) {
        uint32_t failures = 0;
        while (!ring.TryPush(i)) Backoff(failures);
      }
    });
    for (uint64_t i = 0; i < kItemsPerIteration; ++i) {
      uint64_t out = 0;
      uint32_t failures = 0;
      while (!ring.TryPop(out)) Backoff(failures);
      checksum += out;
    }
    producer.join();
  }
  benchmark::DoNotOptimize(checksum);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kItemsPerIteration));
}
BENCHMARK(BM_SpscRingU64)->Arg(64)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

struct Batch {
  std::vector<uint64_t> events;
};

// The bus with batch items (std::unique_ptr<Batch>, `events_per_batch` events each) and the
// kBlock policy: range(0) = queue capacity, range(1) = events per batch. The consumer touches
// every event so the batches really cross between the cores.
void BM_EventBusBatches(benchmark::State& state) {
  const size_t capacity = static_cast<size_t>(state.range(0));
  const size_t events_per_batch = static_cast<size_t>(state.range(1));
  const size_t pool_size = capacity * 2 + 2;
  uint64_t checksum = 0;
  uint64_t waits = 0;
  for (auto _ : state) {
    state.PauseTiming();
    bus::BusOptions options;
    options.queue_capacity = capacity;
    bus::EventBus<std::unique_ptr<Batch>> event_bus(options);
    bus::SpscRing<std::unique_ptr<Batch>> free_batches(pool_size);  // consumer -> producer
    for (size_t i = 0; i < pool_size; ++i) {
      auto batch = std::make_unique<Batch>();
      batch->events.assign(events_per_batch, i);
      free_batches.TryPush(std::move(batch));
    }
    state.ResumeTiming();

    std::thread consumer([&] {
      std::unique_ptr<Batch> batch;
      while (event_bus.Pop(0, batch)) {
        for (uint64_t e : batch->events) checksum += e;
        event_bus.MarkProcessed(0, batch->events.size());
        free_batches.TryPush(std::move(batch));  // cannot fail: the pool fits
      }
    });
    for (uint64_t i = 0; i < kItemsPerIteration; ++i) {
      std::unique_ptr<Batch> batch;
      uint32_t failures = 0;
      while (!free_batches.TryPop(batch)) Backoff(failures);
      batch->events[0] = i;
      event_bus.Publish(0, std::move(batch), events_per_batch);
    }
    event_bus.Close();
    consumer.join();
    waits += event_bus.metrics().Total().backpressure_waits;
  }
  benchmark::DoNotOptimize(checksum);
  const auto items = static_cast<double>(state.iterations() * kItemsPerIteration);
  state.SetItemsProcessed(static_cast<int64_t>(items));
  state.counters["events/s"] = benchmark::Counter(items * static_cast<double>(events_per_batch),
                                                  benchmark::Counter::kIsRate);
  state.counters["waits/item"] = static_cast<double>(waits) / items;
}
BENCHMARK(BM_EventBusBatches)
    ->Args({64, 1})
    ->Args({64, 64})
    ->Args({1024, 64})
    ->Args({64, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kestrel::bench
