#include "gen/generator.h"

#include "gen/truth.h"

#include <cstdio>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kestrel::gen {
namespace {

std::string Stream(const Options& options, std::vector<Injection>* injections = nullptr) {
  Generator generator(options);
  std::string out;
  while (generator.Next(out)) {
  }
  if (injections != nullptr) *injections = generator.injections();
  return out;
}

std::vector<nlohmann::json> Lines(const std::string& text) {
  std::vector<nlohmann::json> docs;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    docs.push_back(nlohmann::json::parse(text.substr(at, end - at)));
    at = end + 1;
  }
  return docs;
}

TEST(GeneratorTest, TheSameOptionsGiveTheSameBytesAndAnotherSeedOthers) {
  for (Profile profile : {Profile::kRealistic, Profile::kAdversarial}) {
    Options options;
    options.events = 20'000;
    options.profile = profile;
    options.attack_every = 2'000;
    std::string a = Stream(options);
    EXPECT_EQ(a, Stream(options)) << ProfileName(profile);
    options.seed = 2;
    EXPECT_NE(a, Stream(options)) << ProfileName(profile);
  }
}

TEST(GeneratorTest, EveryEventIsOneEcsDocumentNumberedInOrder) {
  for (Profile profile : {Profile::kRealistic, Profile::kAdversarial}) {
    Options options;
    options.events = 5'000;
    options.profile = profile;
    options.hosts = 3;
    std::vector<nlohmann::json> docs = Lines(Stream(options));
    ASSERT_EQ(docs.size(), 5'000U);
    std::set<std::string> hosts, actions;
    std::string last_time;
    for (size_t i = 0; i < docs.size(); ++i) {
      const nlohmann::json& d = docs[i];
      ASSERT_EQ(d["event"]["sequence"], i);
      ASSERT_EQ(d["event"]["id"], "1-" + std::to_string(i));
      std::string time = d["@timestamp"];
      ASSERT_GT(time, last_time) << "at " << i;  // RFC 3339 UTC: text order is time order
      last_time = time;
      ASSERT_TRUE(d["process"]["entity_id"].is_string());
      hosts.insert(d["host"]["id"].get<std::string>());
      actions.insert(d["event"]["action"].get<std::string>());
      std::string category = d["event"]["category"][0];
      if (category == "file") {
        ASSERT_TRUE(d["file"]["path"].is_string() || d["file"]["name"].is_string());
      }
      if (d["event"]["action"] == "connection_attempted") {
        ASSERT_TRUE(d["destination"]["port"].is_number());
      }
    }
    EXPECT_EQ(hosts.size(), 3U);
    for (const char* action : {"fork", "exec", "end", "open", "creation", "connection_attempted"}) {
      EXPECT_TRUE(actions.contains(action)) << ProfileName(profile) << " has no " << action;
    }
  }
}

TEST(GeneratorTest, ChildrenNameTheirParentsAndExecsKeepTheEntity) {
  Options options;
  options.events = 20'000;
  std::vector<nlohmann::json> docs = Lines(Stream(options));
  std::map<std::string, std::string> forked;  // entity id -> parent entity id
  size_t execs_after_fork = 0;
  for (const nlohmann::json& d : docs) {
    const nlohmann::json& p = d["process"];
    if (d["event"]["action"] == "fork") forked[p["entity_id"]] = p["parent"]["entity_id"];
    if (d["event"]["action"] == "exec" && forked.contains(p["entity_id"])) {
      EXPECT_EQ(forked[p["entity_id"]], p["parent"]["entity_id"]);
      ++execs_after_fork;
    }
  }
  EXPECT_GT(execs_after_fork, 1'000U);
}

TEST(GeneratorTest, AttacksSitAtTheirPositionsAndAreNeverCutOff) {
  for (Profile profile : {Profile::kRealistic, Profile::kAdversarial}) {
    Options options;
    options.events = 30'000;
    options.profile = profile;
    options.attack_every = 500;
    std::vector<Injection> injections;
    std::vector<nlohmann::json> docs = Lines(Stream(options, &injections));
    ASSERT_GT(injections.size(), 30U);
    std::set<std::string> scenarios;
    for (const Injection& injection : injections) {
      scenarios.insert(injection.scenario);
      ASSERT_FALSE(injection.rules.empty());
      ASSERT_GE(injection.positions.size(), 3U);
      for (size_t i = 0; i < injection.positions.size(); ++i) {
        uint64_t at = injection.positions[i];
        ASSERT_LT(at, docs.size());
        if (i > 0) {
          ASSERT_GT(at, injection.positions[i - 1]);
        }
        EXPECT_EQ(docs[at]["host"]["id"], injection.host_id);
      }
    }
    EXPECT_EQ(scenarios.size(), Scenarios().size()) << ProfileName(profile);
    // The last attack ends inside the stream even when it starts near its end.
    options.events = 40;
    options.attack_every = 10;
    Stream(options, &injections);
    for (const Injection& injection : injections) EXPECT_LT(injection.positions.back(), 40U);
  }
}

TEST(GeneratorTest, NoAttacksWhenAskedForNone) {
  Options options;
  options.events = 10'000;
  options.attack_every = 0;
  std::vector<Injection> injections;
  Stream(options, &injections);
  EXPECT_TRUE(injections.empty());
}

TEST(GeneratorTest, AdversarialKeysBoundTheFirstStagesJoinKeys) {
  Options options;
  options.events = 20'000;
  options.profile = Profile::kAdversarial;
  options.keys = 10;
  std::set<std::string> downloads;
  for (const nlohmann::json& d : Lines(Stream(options))) {
    if (d["process"]["entity_id"].get<std::string>().starts_with("adv-dl-")) downloads.insert(d["file"]["name"]);
  }
  EXPECT_LE(downloads.size(), 10U);
  EXPECT_GE(downloads.size(), 5U);
}

TEST(GeneratorTest, InjectionsAndProfilesHaveTheirTextForms) {
  Injection injection{"log-wipe", {"linux-log-clearing-utility"}, {4, 9}, "abc"};
  EXPECT_EQ(InjectionJson(injection),
            R"({"scenario":"log-wipe","rules":["linux-log-clearing-utility"],"positions":[4,9],"host_id":"abc"})");
  EXPECT_EQ(*ParseProfile("adversarial"), Profile::kAdversarial);
  auto bad = ParseProfile("chaos");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().ToString().find("unknown profile 'chaos'"), std::string::npos);
}

TEST(GeneratorTest, WriteStreamReportsWhereItCannotWrite) {
  Options options;
  options.events = 10;
  auto written = WriteStream(options, "/nonexistent-dir/x.ndjson", "");
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().ToString().find("/nonexistent-dir/x.ndjson"), std::string::npos);
}

TEST(TruthTest, EachAttacksRulesOnceWithItsOwnEventsAndNothingElse) {
  std::vector<Injection> attacks = {{"a", {"r1", "r2"}, {10, 12}, "h"}, {"b", {"r3"}, {20, 21, 25}, "h"}};
  std::vector<AlertEvents> alerts = {{"r1", {10, 12}}, {"r2", {12}}, {"r3", {20, 25}}};
  TruthVerdict v = CheckAlerts(attacks, alerts);
  EXPECT_TRUE(v.ok()) << v.example;
  EXPECT_EQ(v.expected, 3U);
  EXPECT_EQ(v.matched, 3U);

  alerts.push_back({"r3", {21}});  // twice for b
  alerts.push_back({"r1", {12, 13}});  // an event that is no attack's
  alerts.push_back({"r3", {10}});  // a rule attack a does not fire
  alerts.erase(alerts.begin() + 1);  // r2 for a: missing
  v = CheckAlerts(attacks, alerts);
  EXPECT_EQ(v.missing, 1U);
  EXPECT_EQ(v.duplicated, 1U);
  EXPECT_EQ(v.unexpected, 2U);
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.example, "unexpected r1 on events 12,13");

  alerts.push_back({"r1", {10, 20}, true});   // events of two attacks
  alerts.push_back({"r1", {10, 12}, false});  // inconsistent, says the caller
  v = CheckAlerts(attacks, alerts);
  EXPECT_EQ(v.unexpected, 4U);

  // Excluded rules are not held to the truth either way.
  v = CheckAlerts(attacks, {{"r1", {10, 12}}, {"r2", {12}}, {"r3", {99}}}, {"r3"});
  EXPECT_TRUE(v.ok()) << v.example;
  EXPECT_EQ(v.excluded_expected, 1U);
  EXPECT_EQ(v.excluded_alerts, 1U);
}

}  // namespace
}  // namespace kestrel::gen
