#include "rules/rule_tests.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/detection_engine.h"
#include "event/event_builder.h"
#include "event/ndjson.h"

namespace kestrel::rules {
namespace {

TestOutcome RunOne(engine::Rule& rule, const RuleTest& test, SchemaRegistry& registry) {
  TestOutcome out{rule.id, test.name, test.location, false, {}, {}};
  EventBatch store;
  auto events = DecodeTestEvents(test, registry, store);
  auto alerts = events ? RunRuleAlone(rule, *events, registry) : tl::unexpected(events.error());
  if (!alerts) {
    out.reason = alerts.error().ToString();
    return out;
  }
  out.alerts = std::move(*alerts);
  size_t n = out.alerts.size();
  if (test.alerts && n != *test.alerts) {
    out.reason = fmt::format("expected {} alert{}, got {}", *test.alerts, *test.alerts == 1 ? "" : "s", n);
  } else if (test.expect_match && n == 0) {
    out.reason = "expected a match, got no alert";
  } else if (!test.expect_match && n > 0) {
    out.reason = fmt::format("expected no match, got {} alert{}", n, n == 1 ? "" : "s");
  } else {
    out.passed = true;
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> RunRuleAlone(engine::Rule& rule, std::span<const Event> events,
                                              const SchemaRegistry& registry) {
  engine::RuleSet single;
  single.rules.push_back(std::move(rule));
  struct PutBack {
    engine::Rule& rule;
    engine::RuleSet& set;
    ~PutBack() { rule = std::move(set.rules.front()); }
  } put_back{rule, single};
  KESTREL_TRY(engine::CompileBackends(single, runtime::Backend::kNative, registry));
  engine::DetectionEngine engine(single, registry, engine::EngineOptions{});
  std::vector<engine::Alert> alerts;
  for (const Event& e : events) engine.Process(e, alerts);
  engine.Finish(alerts);
  std::sort(alerts.begin(), alerts.end());
  std::vector<std::string> lines;
  lines.reserve(alerts.size());
  for (engine::Alert& a : alerts) lines.push_back(std::move(a.json));
  return lines;
}

Result<std::vector<Event>> DecodeTestEvents(const RuleTest& test, SchemaRegistry& registry, EventBatch& arena_owner) {
  std::string ndjson;
  for (const std::string& e : test.events) {
    ndjson += e;
    ndjson += '\n';
  }
  KESTREL_ASSIGN_OR_RETURN(auto input, InputFile::FromBytes(fmt::format("{} (test '{}')", test.location, test.name), ndjson));
  KESTREL_ASSIGN_OR_RETURN(auto reader, OpenNdjsonReader(std::move(input), ReadOptions{}, &registry));
  EventBuilder copier(&arena_owner.arena());
  std::vector<Event> events;
  EventBatch batch;
  for (;;) {
    KESTREL_ASSIGN_OR_RETURN(bool more, reader->Next(batch));
    for (const Event& e : batch) events.push_back(copier.Copy(e));
    if (!more) break;
  }
  std::stable_sort(events.begin(), events.end(), OrderedBefore);
  return events;
}

Result<std::vector<TestOutcome>> RunPackTests(Pack& pack, SchemaRegistry& registry, const std::string& filter) {
  std::vector<TestOutcome> outcomes;
  for (std::vector<engine::Rule>* rules : {&pack.rules.rules, &pack.disabled}) {
    for (engine::Rule& rule : *rules) {
      auto tests = pack.tests.find(rule.id);
      if (tests == pack.tests.end() || rule.id.find(filter) == std::string::npos) continue;
      for (const RuleTest& test : tests->second) outcomes.push_back(RunOne(rule, test, registry));
    }
  }
  return outcomes;
}

}  // namespace kestrel::rules
