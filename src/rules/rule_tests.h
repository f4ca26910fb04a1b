// Runs the tests embedded in a pack's rules (`kestrel test`): each rule alone, on each test's
// events, through the real detection engine, with the outcome the test expects.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "event/event_batch.h"
#include "rules/rule_pack.h"

namespace kestrel::rules {

struct TestOutcome {
  std::string rule_id;
  std::string test;      // its name
  std::string location;  // file:line:col of the test
  bool passed = false;
  std::string reason;               // why it failed
  std::vector<std::string> alerts;  // the alert lines the rule wrote
};

// Runs `rule` alone over `events` (in stream order) through a detection engine, on its own
// backend, and returns its alert lines in order. The rule is lent to the engine and put back.
Result<std::vector<std::string>> RunRuleAlone(engine::Rule& rule, std::span<const Event> events,
                                              const SchemaRegistry& registry);

// The events of one test, decoded as `kestrel replay` decodes ECS NDJSON and sorted the way
// replay sorts them. `arena_owner` keeps their memory.
Result<std::vector<Event>> DecodeTestEvents(const RuleTest& test, SchemaRegistry& registry, EventBatch& arena_owner);

// Every test of every rule (enabled or not) whose id contains `filter` (all when empty), in the
// pack's rule order. The pack's rules are lent to the engine one at a time and put back.
Result<std::vector<TestOutcome>> RunPackTests(Pack& pack, SchemaRegistry& registry, const std::string& filter = "");

}  // namespace kestrel::rules
