// Responses without a kernel: rule actions as rule files spell them, response alerts, and the
// start-up plan that says, per rule, what can be enforced and how (docs/response.md). The
// mechanisms themselves need root and run in tests/e2e/enforce_test.sh.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/detection_engine.h"
#include "engine/rule.h"
#include "event/event_batch.h"
#include "event/event_builder.h"
#include "enforce/response_engine.h"

namespace kestrel::enforce {
namespace {

engine::Rule Compile(const std::string& name, const std::string& text, const SchemaRegistry& registry) {
  auto rule = engine::CompileRule(name + ".eql", text, registry, {});
  EXPECT_TRUE(rule) << (rule ? "" : rule.error().ToString());
  return std::move(*rule);
}

TEST(RuleActionsTest, ReadFromTheRuleHeader) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  engine::Rule plain = Compile("plain", "process where true", registry);
  EXPECT_FALSE(plain.actions.any());
  engine::Rule r = Compile("r", "// actions: alert, block,kill\n// mode: enforce\nprocess where true", registry);
  EXPECT_TRUE(r.actions.block);
  EXPECT_TRUE(r.actions.kill);
  EXPECT_TRUE(r.actions.enforce());
  engine::Rule m = Compile("m", "// actions: block\nprocess where true", registry);
  EXPECT_FALSE(m.actions.enforce());  // monitor unless said otherwise

  auto bad = engine::CompileRule("bad.eql", "// actions: block, quarantine\nprocess where true", registry, {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().ToString().find("bad.eql:1:13"), std::string::npos) << bad.error().ToString();
  EXPECT_NE(bad.error().ToString().find("unknown action 'quarantine'"), std::string::npos);
  auto mode = engine::CompileRule("mode.eql", "// mode: enforcing\nprocess where true", registry, {});
  ASSERT_FALSE(mode);
  EXPECT_NE(mode.error().ToString().find("unknown mode 'enforcing' (monitor or enforce)"), std::string::npos);
}

TEST(ResponseAlertTest, SaysWhatWasDoneAndIsItsOwnKind) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  engine::Rule rule = Compile("r", "// actions: block\nprocess where true", registry);
  EventBatch batch;
  EventBuilder b(&batch.arena());
  b.Start();
  b.Set(*registry.Find("process.name"), b.StringValue("evil"));
  Event e = b.Finish();
  engine::AlertResponse response{"blocked", "blocked", "fanotify", "on /mnt"};
  std::string line = engine::RenderAlert(rule, {&e}, {}, registry, {}, &response);
  EXPECT_NE(line.find(R"("event":{"kind":"alert","action":"blocked","outcome":"blocked"})"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("kind":"response")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("response":{"mechanism":"fanotify","detail":"on /mnt"})"), std::string::npos) << line;
  std::string detection = engine::RenderAlert(rule, {&e}, {}, registry);
  EXPECT_NE(detection.find(R"("event":{"kind":"alert"})"), std::string::npos) << detection;
  EXPECT_NE(detection.find(R"("kind":"event")"), std::string::npos) << detection;
}

TEST(ResponsePlanTest, SaysPerRuleWhatCanBeEnforcedAndWhy) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  engine::RuleSet rules;
  rules.rules.push_back(Compile("port", "// actions: block\n// mode: enforce\n"
                                        "network where event.action == \"connection_attempted\" and destination.port in (4444, 5555)",
                                registry));
  rules.rules.push_back(Compile("port_and_name", "// actions: block\n// mode: enforce\n"
                                                 "network where destination.port == 4444 and process.name == \"nc\"",
                                registry));
  rules.rules.push_back(Compile("address_and_port", "// actions: block\n// mode: enforce\n"
                                                    "network where destination.ip == \"10.0.0.1\" and destination.port == 22",
                                registry));
  // The port map would deny 4444 to every address, this rule not to 10.0.0.1: not pushed down.
  rules.rules.push_back(Compile("port_not_address", "// actions: block\n// mode: enforce\n"
                                                    "network where destination.port == 4444 and destination.ip != \"10.0.0.1\"",
                                registry));
  rules.rules.push_back(Compile("exec", "// actions: block\n// mode: enforce\nprocess where process.name == \"x\"", registry));
  rules.rules.push_back(Compile("watch", "// actions: block, kill\nprocess where process.name == \"y\"", registry));
  rules.rules.push_back(Compile("dns", "// actions: block\n// mode: enforce\nany where dns.question.name == \"x\"", registry));
  rules.rules.push_back(Compile("armed", "// actions: block\n// mode: enforce\nsequence by process.entity_id "
                                         "[process where process.name == \"a\"] [network where destination.port == 1]",
                                registry));
  rules.rules.push_back(Compile("quiet", "process where true", registry));
  ResponseOptions options;
  options.probe_lsm = false;  // no kernel: neither a cgroup nor a mount is given
  auto engine = ResponseEngine::Start(rules, registry, options);
  ASSERT_TRUE(engine) << engine.error().ToString();
  ASSERT_TRUE((*engine)->active());
  const std::vector<std::string>& report = (*engine)->report();
  auto line = [&](std::string_view rule) {
    auto it = std::find_if(report.begin(), report.end(), [&](const std::string& l) {
      return l.starts_with(fmt::format("rule {}:", rule));
    });
    return it == report.end() ? std::string("<none>") : *it;
  };
  EXPECT_EQ(line("port"), "rule port: block: NOT enforced: no cgroup to enforce on (--enforce-cgroup)");
  EXPECT_NE(line("port_and_name").find("only connect rules whose whole condition is destination.ip and / or"),
            std::string::npos) << line("port_and_name");
  EXPECT_EQ(line("address_and_port"), "rule address_and_port: block: NOT enforced: no cgroup to enforce on (--enforce-cgroup)");
  EXPECT_NE(line("port_not_address").find("only connect rules"), std::string::npos) << line("port_not_address");
  EXPECT_EQ(line("exec"), "rule exec: block: NOT enforced: no mount to enforce on (--enforce-mount)");
  EXPECT_EQ(line("watch"), "rule watch: block exec: monitor (would_block); kill: monitor (would_kill)");
  EXPECT_NE(line("dns").find("cannot block any events"), std::string::npos) << line("dns");
  EXPECT_EQ(line("armed"), "rule armed: block: NOT enforced: no cgroup to enforce on (--enforce-cgroup)");
  EXPECT_EQ(line("quiet"), "<none>");
  EXPECT_NE(std::find(report.begin(), report.end(), "BPF-LSM: unavailable (not probed (--no-lsm)); using the fallbacks"),
            report.end());

  engine::RuleSet none;
  none.rules.push_back(Compile("quiet", "process where true", registry));
  auto idle = ResponseEngine::Start(none, registry, options);
  ASSERT_TRUE(idle);
  EXPECT_FALSE((*idle)->active());  // no rule acts: nothing is probed, started or reported
}

}  // namespace
}  // namespace kestrel::enforce
