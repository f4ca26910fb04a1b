// Rule packs: the three structured formats and `.eql` files, every error with its place in the
// file, metadata, rollouts, embedded tests and the rule explanation.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "rules/rule_explain.h"
#include "rules/rule_pack.h"
#include "rules/rule_tests.h"

namespace kestrel::rules {
namespace {

namespace fs = std::filesystem;

class PackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("kestrel_pack_{}_{}", ::getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name) << text;
  }
  Pack Load(const std::string& host = "host-a") {
    PackOptions options;
    options.host_id = host;
    auto pack = LoadPack(dir_.string(), registry_, options);
    EXPECT_TRUE(pack) << pack.error().ToString();
    return pack ? std::move(*pack) : Pack{};
  }
  std::string Errors(const Pack& p) {
    std::string all;
    for (const Error& e : p.errors) all += e.ToString() + "\n";
    return all;
  }

  fs::path dir_;
  SchemaRegistry registry_ = SchemaRegistry::WithEcs();
};

constexpr const char* kYamlRule = R"(id: rev-shell
name: Reverse shell
description: a shell connects out
severity: high
risk_score: 73
tags: [T1059.004, execution]
query: |
  sequence by process.entity_id with maxspan=30s
    [process where event.type == "start" and process.name in ("bash", "sh")]
    [network where event.type == "start" and destination.port != 53]
tests:
  - name: bash connecting out
    expect: match
    alerts: 1
    events:
      - event: {category: [process], type: [start]}
        process: {pid: 42, entity_id: "e-42", name: bash}
      - event: {category: [network], type: [start]}
        process: {pid: 42, entity_id: "e-42", name: bash}
        destination: {ip: 203.0.113.7, port: 4444}
  - name: dns is not a reverse shell
    expect: no_match
    events:
      - event: {category: [process], type: [start]}
        process: {pid: 42, entity_id: "e-42", name: bash}
      - event: {category: [network], type: [start]}
        process: {pid: 42, entity_id: "e-42", name: bash}
        destination: {ip: 8.8.8.8, port: 53}
)";

TEST_F(PackTest, ReadsYamlTomlJsonAndEqlRulesRecursivelyInPathOrder) {
  Write("pack.yaml", "name: demo\nversion: 1.2.0\n");
  Write("b/rev.yaml", kYamlRule);
  Write("a/shadow.toml", R"(id = "shadow-read"
name = "Shadow read"
severity = "critical"
tags = ["T1003.008"]
query = """
file where file.path == "/etc/shadow"
"""
)");
  Write("c.json", R"({"id": "j", "name": "J", "tags": ["T1105"], "enabled": false,
  "query": "process where process.name == \"curl\""})");
  Write("d_plain.eql", "// severity: low\n// tags: T1070, defense\nprocess where process.name == \"rm\"\n");
  Write("notes.txt", "not a rule");
  Write(".hidden/x.yaml", "garbage: [");
  Pack p = Load();
  EXPECT_TRUE(p.errors.empty()) << Errors(p);
  EXPECT_EQ(p.files, 4u);
  EXPECT_EQ(p.manifest.name, "demo");
  EXPECT_EQ(p.manifest.version, "1.2.0");
  ASSERT_EQ(p.rules.rules.size(), 3u);
  EXPECT_EQ(p.rules.rules[0].id, "shadow-read");
  EXPECT_EQ(p.rules.rules[0].severity, engine::Severity::kCritical);
  EXPECT_EQ(p.rules.rules[1].id, "rev-shell");
  EXPECT_TRUE(p.rules.rules[1].is_sequence());
  EXPECT_EQ(p.rules.rules[1].risk_score, 73u);
  EXPECT_EQ(p.rules.rules[1].techniques(), std::vector<std::string>{"T1059.004"});
  EXPECT_EQ(p.rules.rules[1].ruleset, "demo 1.2.0");
  EXPECT_EQ(p.rules.rules[2].id, "d_plain");
  EXPECT_EQ(p.rules.rules[2].severity, engine::Severity::kLow);
  ASSERT_EQ(p.disabled.size(), 1u);
  EXPECT_EQ(p.disabled[0].id, "j");
  ASSERT_EQ(p.tests["rev-shell"].size(), 2u);
  EXPECT_EQ(p.tests["rev-shell"][0].events.size(), 2u);

  // The hash follows the content.
  uint64_t before = p.hash;
  EXPECT_EQ(Load().hash, before);
  Write("d_plain.eql", "// severity: low\nprocess where process.name == \"rm\"\n");
  EXPECT_NE(Load().hash, before);
}

TEST_F(PackTest, ReportsEveryErrorAtItsPlaceInTheFile) {
  Write("a.yaml", "id: a\nname: A\nseverity: huge\nquery: process where true\n");
  Write("b.yaml", "id: b\nquery: |\n  process where\n    process.nme == \"x\"\n");
  Write("c.toml", "id = \"c\"\nquery = \"\"\"\nprocess where\n  foo.bar == 1\"\"\"\n");
  Write("d.json", "{\"id\": \"d\",\n \"query\": \"process where true\",\n \"colour\": 1}");
  Write("e.yaml", "id: e\nquery: [1, 2\n");
  Write("f.yaml", "id: f\nquery: process where true\ntests:\n  - name: t\n    expect: maybe\n    events: [{}]\n");
  Write("g1.yaml", "id: g\nquery: process where true\n");
  Write("g2.yaml", "id: g\nquery: process where true\n");  // g's id again
  Write("h.yaml", "id: h\nmode: monitor\nrollout: 10%\nquery: process where true\n");
  Write("i.eql", "// actions: quarantine\nprocess where true\n");
  Pack p = Load();
  std::string all = Errors(p);
  EXPECT_EQ(p.errors.size(), 9u) << all;
  for (std::string want : {"a.yaml:3:11: unknown severity 'huge'", "b.yaml:4:5: error: unknown field 'process.nme'",
                           "c.toml:4:3: error: unknown field 'foo.bar'", "d.json:3:12: unknown rule field 'colour'",
                           "e.yaml:3:1:", "f.yaml:5:13: a test's `expect` must be match or no_match",
                           "g2.yaml: duplicate rule id 'g'", "h.yaml: `rollout` only applies to rules in `mode: enforce`",
                           "i.eql:1:13: unknown action 'quarantine'"}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << " not in:\n" << all;
  }
  ASSERT_EQ(p.rules.rules.size(), 1u);  // only g1 loads
  EXPECT_EQ(p.rules.rules[0].path, (dir_ / "g1.yaml").string());
}

TEST_F(PackTest, RolloutEnforcesOnTheHostsUnderItsPercentage) {
  Write("canary.yaml", "id: canary\nactions: [alert, block]\nmode: enforce\nrollout: 30%\nquery: process where true\n");
  Write("full.yaml", "id: full\nactions: [kill]\nmode: enforce\nquery: process where true\n");
  size_t enforcing = 0;
  for (int h = 0; h < 400; ++h) {
    std::string host = fmt::format("host-{}", h);
    Pack p = Load(host);
    ASSERT_EQ(p.rules.rules.size(), 2u);
    bool canary = p.rules.rules[0].actions.enforce();
    EXPECT_EQ(canary, engine::RolloutBucket(host) < 30);
    EXPECT_TRUE(p.rules.rules[1].actions.enforce());
    EXPECT_EQ(p.rules.rules[0].declared_mode, engine::RuleMode::kEnforce);
    enforcing += canary;
  }
  EXPECT_GT(enforcing, 80u);  // about 120 of 400
  EXPECT_LT(enforcing, 160u);
}

TEST_F(PackTest, EmbeddedTestsPassAndFailAsTheRuleBehaves) {
  Write("rev.yaml", kYamlRule);
  // A wrong expectation: the test says no match, but the rule matches.
  Write("wrong.yaml", R"(id: wrong
query: process where process.name == "bash"
tests:
  - name: says no match
    expect: no_match
    events:
      - {event: {category: process}, process: {name: bash}}
  - name: counts two
    expect: match
    alerts: 2
    events:
      - {event: {category: process}, process: {name: bash}}
      - {event: {category: process}, process: {name: bash}}
)");
  Pack p = Load();
  ASSERT_TRUE(p.errors.empty()) << Errors(p);
  auto outcomes = RunPackTests(p, registry_);
  ASSERT_TRUE(outcomes) << outcomes.error().ToString();
  ASSERT_EQ(outcomes->size(), 4u);
  EXPECT_TRUE((*outcomes)[0].passed) << (*outcomes)[0].reason;
  EXPECT_TRUE((*outcomes)[1].passed) << (*outcomes)[1].reason;
  EXPECT_FALSE((*outcomes)[2].passed);
  EXPECT_EQ((*outcomes)[2].reason, "expected no match, got 1 alert");
  EXPECT_TRUE((*outcomes)[3].passed) << (*outcomes)[3].reason;
  // The rules are back in the pack after their tests.
  ASSERT_EQ(p.rules.rules.size(), 2u);
  EXPECT_TRUE(p.rules.rules[0].compiled);
}

TEST_F(PackTest, ExplainsEachPredicateOfEachStage) {
  Write("rev.yaml", kYamlRule);
  Pack p = Load();
  ASSERT_EQ(p.rules.rules.size(), 1u);
  EventBatch store;
  auto events = DecodeTestEvents(p.tests["rev-shell"][1], registry_, store);  // the DNS one
  ASSERT_TRUE(events) << events.error().ToString();
  auto text = ExplainRule(p.rules.rules[0], *events, registry_);
  ASSERT_TRUE(text) << text.error().ToString();
  for (std::string want : {"stage 1 [process where ...]: MATCHES", "true  event.type == \"start\"",
                           "join key: [\"e-42\"]", "stage 2 [network where ...]: no: the condition is false",
                           "false destination.port != 53", "stage 1 [process where ...]: no: the event is not a process event",
                           "the rule over these 2 events in order: 0 alerts"}) {
    EXPECT_NE(text->find(want), std::string::npos) << want << " not in:\n" << *text;
  }
}

}  // namespace
}  // namespace kestrel::rules
