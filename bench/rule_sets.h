// The rule sets and the in-memory workload the engine and runtime benchmarks share.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/rule.h"
#include "event/event_batch.h"

namespace kestrel::bench {

uint64_t EnvOr(const char* name, uint64_t fallback);

// `count` single-event rules (100 in the benchmarks) in the shapes detection rules take: literal
// names and paths (which the rule index uses), wildcards, functions and ranges (which it cannot).
std::vector<std::string> SingleRules(int count = 100);
// 50 sequence rules keyed by the process, its parent, the user or the host.
std::vector<std::string> SequenceRules();
// Compiles rule texts as files r000.eql, r001.eql, ...; aborts on an error.
engine::RuleSet Compile(const std::vector<std::string>& texts, const SchemaRegistry& registry);

// The workload's .klog (KESTREL_BENCH_EVENTS events), copied into memory once.
struct InMemory {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch store;
  std::vector<Event> events;
};
const InMemory& Workload();
// The events of `path` (any format the readers take), copied into memory; aborts on an error.
std::unique_ptr<InMemory> LoadInMemory(const std::string& path);

}  // namespace kestrel::bench
