// EQL front end and native evaluator: rules compiled per second, predicate evaluations per
// second, and single-event hunting over a .klog (read + evaluate), on the generated workload.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "eql/compiler.h"
#include "eql/evaluator.h"
#include "event/event_builder.h"
#include "event/event_reader.h"
#include "workload.h"

namespace kestrel::bench {
namespace {

// Representative Linux detection rules (written for these benchmarks, in the style of Elastic's).
constexpr const char* kRules[] = {
    R"(process where event.type == "start" and process.name in ("bash", "sh", "dash", "zsh") and
       process.parent.name in ("nginx", "apache2", "php-fpm", "httpd") and not process.args : "-c")",
    R"(process where process.name == "curl" and process.args : ("-o", "--output") and process.args : "/tmp/*")",
    R"(network where event.action == "connection_attempted" and process.name in ("bash", "sh", "nc", "ncat") and
       not cidrMatch(destination.ip, "10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1", "fe80::/10"))",
    R"(file where event.type == "creation" and file.path : ("/etc/cron.d/*", "/etc/systemd/system/*", "/var/spool/cron/*"))",
    R"(process where process.executable regex~ "/(tmp|dev/shm|var/tmp)/[^/]+" and process.args_count >= 1)",
    R"(process where startsWith(process.working_directory, "/tmp") and length(process.name) < 4 and
       stringContains(process.command_line, "base64"))",
    R"(sequence by host.id, process.entity_id with maxspan=30s
       [process where event.type == "start" and process.name : ("python*", "perl*", "ruby*")]
       [network where destination.port in (4444, 1337, 9001) or destination.port > 50000])",
    R"(sequence by process.parent.entity_id with maxspan=1m
       [process where process.name in ("curl", "wget")] [process where process.name == "chmod"]
       [process where process.executable : "/tmp/*"] until [process where event.type == "end"])",
    R"(any where process.name == "sudo" and process.args like~ "-u*" and user.id != "0")",
    R"(process where process.parent.executable == "/usr/sbin/sshd" and process.name in~ ("BASH", "SH") and
       ?process.interactive == true)",
};

void BM_CompileRules(benchmark::State& state) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  std::vector<eql::Source> sources;
  for (const char* r : kRules) sources.emplace_back("<rule>", r);
  int64_t compiled = 0;
  for (auto _ : state) {
    for (const eql::Source& s : sources) {
      auto result = eql::Compile(s, registry);
      if (!result.query) {
        state.SkipWithError(s.RenderAll(result.diagnostics).c_str());
        return;
      }
      benchmark::DoNotOptimize(result.query.get());
      ++compiled;
    }
  }
  state.SetItemsProcessed(compiled);
}
BENCHMARK(BM_CompileRules)->Unit(benchmark::kMicrosecond);

uint64_t WorkloadEvents() {
  const char* env = std::getenv("KESTREL_BENCH_EVENTS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 1'000'000;
}

constexpr const char* kHuntQuery = R"(process where process.name == "bash" and process.parent.name == "sshd")";

// Predicate evaluations per second over events already in memory (the first 200 000).
void BM_EvaluatePredicate(benchmark::State& state) {
  auto path = CachedWorkload(WorkloadEvents(), "klog");
  if (!path) {
    state.SkipWithError(path.error().ToString().c_str());
    return;
  }
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch store;
  EventBuilder copier(&store.arena());
  std::vector<Event> events;
  {
    auto reader = OpenEventReader(*path, {}, &registry);
    EventBatch batch;
    while (events.size() < 200'000) {
      auto more = (*reader)->Next(batch);
      if (!more || !*more) break;
      for (const Event& e : batch) events.push_back(copier.Copy(e));
    }
  }
  eql::Source source("<q>", state.range(0) == 0 ? kHuntQuery : kRules[0]);
  auto compiled = eql::Compile(source, registry);
  if (!compiled.query) {
    state.SkipWithError("compile failed");
    return;
  }
  eql::Evaluator evaluator;
  const eql::Program& filter = compiled.query->terms[0].filter;
  int64_t matches = 0, evaluated = 0;
  for (auto _ : state) {
    for (const Event& e : events) matches += evaluator.Matches(filter, e) ? 1 : 0;
    evaluated += static_cast<int64_t>(events.size());
  }
  benchmark::DoNotOptimize(matches);
  state.SetItemsProcessed(evaluated);
}
BENCHMARK(BM_EvaluatePredicate)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Hunting with a single-event query over a .klog in page cache: read + evaluate every event.
void BM_HuntKlog(benchmark::State& state) {
  auto path = CachedWorkload(WorkloadEvents(), "klog");
  if (!path) {
    state.SkipWithError(path.error().ToString().c_str());
    return;
  }
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  {  // register the file's fields before compiling, as `kestrel query` does
    auto reader = OpenEventReader(*path, {}, &registry);
    EventBatch batch;
    (void)(*reader)->Next(batch);
  }
  eql::Source source("<q>", kHuntQuery);
  auto compiled = eql::Compile(source, registry);
  eql::Evaluator evaluator;
  const eql::Program& filter = compiled.query->terms[0].filter;
  int64_t events = 0, matches = 0;
  EventBatch batch;
  for (auto _ : state) {
    auto reader = OpenEventReader(*path, {}, &registry);
    for (;;) {
      auto more = (*reader)->Next(batch);
      if (!more || !*more) break;
      for (const Event& e : batch) matches += evaluator.Matches(filter, e) ? 1 : 0;
      events += static_cast<int64_t>(batch.size());
    }
  }
  benchmark::DoNotOptimize(matches);
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_HuntKlog)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

}  // namespace
}  // namespace kestrel::bench
