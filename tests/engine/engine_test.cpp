// The detection engine: the rule index, the configuration file, deterministic replay with
// several worker threads, and rule loading.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <fstream>
#include <set>

#include "engine/detection_engine.h"
#include "engine/engine_config.h"
#include "engine/pattern_set.h"
#include "engine/rule.h"
#include "engine/rule_index.h"
#include "engine/synthetic_stream.h"
#include "event/test_files.h"
#include "query/hunt.h"
#include "replay/replay.h"

namespace kestrel::engine {
namespace {

Rule MustCompile(const std::string& name, const std::string& text, const SchemaRegistry& registry) {
  auto rule = CompileRule(name + ".eql", text, registry, {});
  EXPECT_TRUE(rule) << (rule ? "" : rule.error().ToString());
  return std::move(*rule);
}

RuleSet MakeRules(const std::vector<std::string>& texts, const SchemaRegistry& registry) {
  RuleSet set;
  for (size_t i = 0; i < texts.size(); ++i) set.rules.push_back(MustCompile(fmt::format("r{:02}", i), texts[i], registry));
  return set;
}

const std::vector<std::string> kSingleRules = {
    R"(process where process.name == "bash")",
    R"(process where process.name : "CURL" and event.action == "exec")",
    R"(process where process.name in ("nc", "wget", "python3") and user.name == "root")",
    R"(file where file.path == "/etc/shadow")",
    R"(file where file.path : "/etc/cron.d/*")",
    R"(any where user.name == "www-data" and host.id == "host-3")",
    R"(network where destination.port == 4444)",
    R"(process where length(process.name) > 5)",
    R"(process where process.name like~ "SH")",
    R"(file where event.action == "creation" and file.path == "/tmp/x")",
    R"(process where process.name == "nc" or (user.name == "root" and process.name : "py*"))",
    R"(any where host.id == "host-1" or process.name like~ "CU*")",
};
const std::vector<std::string> kSequenceRules = {
    R"(sequence by process.entity_id with maxspan=100ms [process where process.name == "bash"] [file where true])",
    R"(sequence by user.name with maxspan=50ms [process where event.action == "exec"] [network where destination.port == 4444])",
    R"(sequence by host.id [file where file.path == "/etc/shadow"] [network where true] until [process where process.name == "sshd"])",
    R"(sequence by process.parent.entity_id with maxspan=5m [process where process.name == "curl"] [process where process.name == "chmod"] [process where true])",
    R"(sequence by process.entity_id with maxspan=200ms [process where event.action == "exec"] ![process where event.action == "end"])",
    R"(sequence by process.entity_id with maxspan=500ms [process where true] with runs=3)",
    R"(sequence with maxspan=10ms [network where destination.port == 4444] by host.id [file where true] by host.id)",
};

// A rule reload mid-stream: the new engine takes the partial matches of the unchanged sequence
// rules, so together the two engines alert exactly as one engine over the whole stream.
TEST(DetectionEngineTest, AReloadedEngineCarriesOnTheSequencesOfUnchangedRules) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  testing::SyntheticStream probe(registry, 5, 50);  // interns the stream's fields before compiling
  EventBatch warm;
  probe.Next(warm, 1);
  RuleSet whole = MakeRules(kSequenceRules, registry);
  RuleSet before = MakeRules(kSequenceRules, registry);
  RuleSet after = MakeRules(kSequenceRules, registry);
  EngineOptions options;
  DetectionEngine reference(whole, registry, options);
  auto old_engine = std::make_unique<DetectionEngine>(before, registry, options);
  DetectionEngine new_engine(after, registry, options);
  std::vector<Alert> expected, got;
  testing::SyntheticStream stream(registry, 11, 50);
  EventBatch batch;
  uint64_t adopted = 0;
  for (int round = 0; round < 40; ++round) {
    stream.Next(batch, 500);
    for (const Event& e : batch) {
      reference.Process(e, expected);
      (round < 20 ? *old_engine : new_engine).Process(e, got);
    }
    if (round == 19) {
      adopted = new_engine.AdoptState(*old_engine);
      old_engine.reset();
    }
  }
  reference.Finish(expected);
  new_engine.Finish(got);
  EXPECT_GT(adopted, 0u);
  auto lines = [](const std::vector<Alert>& alerts) {
    std::vector<std::string> out;
    for (const Alert& a : alerts) out.push_back(a.json);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_GT(expected.size(), 0u);
  EXPECT_EQ(lines(got), lines(expected));

  // A changed rule does not take the old state: it only alerts on sequences begun after.
  std::vector<std::string> changed_texts = kSequenceRules;
  changed_texts[5] += " ";  // a different query text: a different fingerprint (a rule always holding state)
  RuleSet changed = MakeRules(changed_texts, registry);
  RuleSet old_again = MakeRules(kSequenceRules, registry);
  DetectionEngine first(old_again, registry, options), second(changed, registry, options);
  std::vector<Alert> scratch;
  testing::SyntheticStream again(registry, 11, 50);
  for (int round = 0; round < 20; ++round) {
    again.Next(batch, 500);
    for (const Event& e : batch) first.Process(e, scratch);
  }
  uint64_t held = first.stats().state.entries;
  uint64_t taken = second.AdoptState(first);
  EXPECT_GT(taken, 0u);
  EXPECT_GT(first.stats().state.entries, 0u);  // what stayed behind: the changed rule's
  EXPECT_EQ(taken + first.stats().state.entries, held);
}

TEST(RuleIndexTest, OffersOnlyRulesThatCanMatch) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  testing::SyntheticStream stream(registry, 1, 1000);
  RuleSet rules = MakeRules(kSingleRules, registry);
  std::vector<RuleIndex::Entry> entries;
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    entries.push_back({static_cast<uint32_t>(i), &rules.rules[i].compiled->terms[0].filter});
  }
  RuleIndex index(entries, registry);
  EXPECT_EQ(index.size(), kSingleRules.size());
  EXPECT_GE(index.indexed(), 8u);  // the rules with a literal or glob on a string field, or a choice of them

  // Sound: every rule the evaluator matches is a candidate. Useful: far fewer are.
  EventBatch batch;
  eql::Evaluator evaluator;
  std::vector<uint32_t> candidates;
  uint64_t offered = 0, matched = 0, total = 0;
  for (int round = 0; round < 5; ++round) {
    stream.Next(batch, 4000);
    for (const Event& e : batch) {
      candidates.clear();
      index.Candidates(e, candidates);
      ASSERT_TRUE(std::is_sorted(candidates.begin(), candidates.end()));
      ASSERT_EQ(std::adjacent_find(candidates.begin(), candidates.end()), candidates.end());
      for (uint32_t r = 0; r < entries.size(); ++r) {
        if (!evaluator.Matches(*entries[r].program, e)) continue;
        ++matched;
        ASSERT_TRUE(std::binary_search(candidates.begin(), candidates.end(), r))
            << "rule " << kSingleRules[r] << " matches event " << e.event_id() << " but was not offered";
      }
      offered += candidates.size();
      total += entries.size();
    }
  }
  EXPECT_GT(matched, 0u);
  EXPECT_LT(offered, total / 2) << "the index should spare most evaluations";
}

TEST(RuleIndexTest, FoldsCaseLikeTheMatcherAndLooksAtEveryCategory) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventTypeId process = *registry.InternEventType("process");
  EventTypeId network = *registry.InternEventType("network");
  RuleSet rules = MakeRules({R"(process where process.name : "ÄRGER")", R"(network where process.name == "x")"}, registry);
  std::vector<RuleIndex::Entry> entries = {{0, &rules.rules[0].compiled->terms[0].filter},
                                           {1, &rules.rules[1].compiled->terms[0].filter}};
  RuleIndex index(entries, registry);
  EventBatch batch;
  EventBuilder b(&batch.arena());
  b.Start();
  b.header().type = process;
  b.Set(*registry.Find("process.name"), b.StringValue("ärger"));
  Event lower = b.Finish();
  b.Start();
  b.header().type = process;  // also a network event, by its event.category
  b.Append(*registry.Find("event.category"), b.StringValue("process"));
  b.Append(*registry.Find("event.category"), b.StringValue("network"));
  b.Set(*registry.Find("process.name"), b.StringValue("x"));
  Event both = b.Finish();
  std::vector<uint32_t> out;
  index.Candidates(lower, out);
  EXPECT_EQ(out, std::vector<uint32_t>{0});
  out.clear();
  index.Candidates(both, out);
  EXPECT_EQ(out, std::vector<uint32_t>{1});
  eql::Evaluator evaluator;
  EXPECT_TRUE(evaluator.Matches(*entries[0].program, lower));
  EXPECT_TRUE(evaluator.Matches(*entries[1].program, both));
  (void)network;
}

TEST(PatternSetTest, MatchesWholeTextsLikeGlobs) {
  PatternSet set;
  PatternSet::Scratch scratch;
  EXPECT_EQ(set.Add("/usr/bin/*", false), 0u);
  EXPECT_EQ(set.Add("*.so.?", true), 1u);
  EXPECT_EQ(set.Add("a+b(c)[d]\\e$^|{1}", false), 2u);  // regex syntax is literal text
  EXPECT_EQ(set.Add("/usr/bin/*", false), 0u);          // the same pattern keeps its id
  EXPECT_EQ(set.Add("/usr/bin/*", true), 3u);           // ... but not with other case rules
  EXPECT_EQ(set.Add("x", false), 4u);
  ASSERT_TRUE(set.Build(scratch));
  auto scan = [&](std::string_view text) {
    std::vector<uint32_t> ids;
    set.Scan(text, scratch, ids);
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_EQ(scan("/usr/bin/curl"), (std::vector<uint32_t>{0, 3}));
  EXPECT_EQ(scan("/USR/bin/curl"), (std::vector<uint32_t>{3}));
  EXPECT_EQ(scan("/lib/LIBC.SO.6"), (std::vector<uint32_t>{1}));
  EXPECT_EQ(scan("/lib/libc.so.61"), (std::vector<uint32_t>{}));  // `?` is one character
  EXPECT_EQ(scan("libcxso.6"), (std::vector<uint32_t>{}));        // `.` is a dot
  EXPECT_EQ(scan("a+b(c)[d]\\e$^|{1}"), (std::vector<uint32_t>{2}));
  EXPECT_EQ(scan("x\n"), (std::vector<uint32_t>{}));  // anchored at the very end
  EXPECT_EQ(scan("x"), (std::vector<uint32_t>{4}));
  EXPECT_EQ(scan(""), (std::vector<uint32_t>{}));
  EXPECT_TRUE(PatternSet::Indexable("*a*"));
  EXPECT_FALSE(PatternSet::Indexable("**"));     // matches everything: no use as a prefilter
  EXPECT_FALSE(PatternSet::Indexable("*é*"));    // non-ASCII: left to the evaluator
}

// Wildcard rules indexed by their globs: for ASCII values the index offers exactly the rules
// that match, and it never misses one for any value (non-ASCII, arrays, numbers, null).
TEST(RuleIndexTest, WildcardPrefiltersAreExactOnAsciiAndSoundOnAnything) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventTypeId process = *registry.InternEventType("process");
  FieldId name = *registry.Find("process.name");
  std::mt19937_64 rng(7);
  constexpr std::string_view kGlobChars[] = {"a", "b", "A", ".", "*", "?", "\\", "é", "É"};
  constexpr std::string_view kTextChars[] = {"a", "b", "A", "B", ".", "\\", "é", "É", "\n"};
  auto random_text = [&](const auto& alphabet, size_t max_len) {
    std::string out;
    for (size_t n = rng() % (max_len + 1); n > 0; --n) out += alphabet[rng() % std::size(alphabet)];
    return out;
  };
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    std::string a = random_text(kGlobChars, 5), b = random_text(kGlobChars, 4);
    std::string quoted_a = eql::QuoteString(a), quoted_b = eql::QuoteString(b);
    switch (i % 4) {
      case 0: texts.push_back(fmt::format("process where process.name : {}", quoted_a)); break;
      case 1: texts.push_back(fmt::format("process where process.name like {}", quoted_a)); break;
      case 2: texts.push_back(fmt::format("process where process.name : ({}, {})", quoted_a, quoted_b)); break;
      default: texts.push_back(fmt::format("process where process.name like~ ({}, {}) and process.pid > 1", quoted_a, quoted_b)); break;
    }
  }
  RuleSet rules = MakeRules(texts, registry);
  std::vector<RuleIndex::Entry> entries;
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    entries.push_back({static_cast<uint32_t>(i), &rules.rules[i].compiled->terms[0].filter});
  }
  RuleIndex index(entries, registry);
  EXPECT_GT(index.indexed(), texts.size() / 2);

  eql::Evaluator evaluator;
  EventBatch batch;
  EventBuilder b(&batch.arena());
  // The rules the index cannot prefilter (non-ASCII globs, `*`) are offered for every event,
  // even one without process.name.
  b.Start();
  b.header().type = process;
  std::vector<uint32_t> always;
  index.Candidates(b.Finish(), always);
  EXPECT_EQ(always.size(), texts.size() - index.indexed());
  std::vector<uint32_t> candidates;
  uint64_t ascii_events = 0, matches = 0;
  for (int i = 0; i < 3000; ++i) {
    b.Start();
    b.header().type = process;
    b.Set(*registry.Find("process.pid"), Value::I64(2));
    std::string text = random_text(kTextChars, 6);
    bool ascii = eql::IsAscii(text);
    switch (i % 10) {
      case 0: b.Set(name, Value::I64(static_cast<int64_t>(rng() % 100))); ascii = false; break;
      case 1: break;  // no process.name
      case 2:
        b.Append(name, b.StringValue(text));
        b.Append(name, b.StringValue(random_text(kTextChars, 3)));
        ascii = false;
        break;
      default: b.Set(name, b.StringValue(text)); break;
    }
    Event e = b.Finish();
    candidates.clear();
    index.Candidates(e, candidates);
    std::vector<uint32_t> matching;
    for (uint32_t r = 0; r < entries.size(); ++r) {
      if (evaluator.Matches(*entries[r].program, e)) matching.push_back(r);
    }
    matches += matching.size();
    for (uint32_t r : matching) {
      ASSERT_TRUE(std::binary_search(candidates.begin(), candidates.end(), r))
          << texts[r] << " matches " << eql::QuoteString(text) << " but was not offered";
    }
    if (ascii && i % 10 != 1) {
      ++ascii_events;
      // The `process.pid > 1` holds, so for ASCII text the prefilter is the whole answer.
      std::vector<uint32_t> expected;
      std::set_union(matching.begin(), matching.end(), always.begin(), always.end(), std::back_inserter(expected));
      ASSERT_EQ(candidates, expected) << "value " << eql::QuoteString(text);
    }
  }
  EXPECT_GT(ascii_events, 500u);
  EXPECT_GT(matches, 100u);
}

// A rule is filed under its most selective prefilter: `host.os.type == "linux"` holds for every
// event of a Linux host, `process.name == "cat"` for few.
TEST(RuleIndexTest, PrefersFieldsWithManyValues) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  RuleSet rules = MakeRules({R"(process where host.os.type == "linux" and event.type == "start" and process.name == "cat")",
                             R"(process where host.os.type == "linux" and process.executable : "/tmp/*")",
                             R"(process where host.os.type == "linux" and event.type == "start")"},
                            registry);
  std::vector<RuleIndex::Entry> entries;
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    entries.push_back({static_cast<uint32_t>(i), &rules.rules[i].compiled->terms[0].filter});
  }
  RuleIndex index(entries, registry);
  EXPECT_EQ(index.indexed(), 3u);
  EventBatch batch;
  EventBuilder b(&batch.arena());
  auto event = [&](const char* name, const char* executable) {
    b.Start();
    b.header().type = *registry.InternEventType("process");
    b.Set(*registry.Find("host.os.type"), b.StringValue("linux"));
    b.Append(*registry.Find("event.type"), b.StringValue("start"));
    b.Set(*registry.Find("process.name"), b.StringValue(name));
    b.Set(*registry.Find("process.executable"), b.StringValue(executable));
    return b.Finish();
  };
  std::vector<uint32_t> out;
  index.Candidates(event("bash", "/usr/bin/bash"), out);
  EXPECT_EQ(out, std::vector<uint32_t>{2});  // only the rule with nothing better to go by
  out.clear();
  index.Candidates(event("cat", "/tmp/cat"), out);
  EXPECT_EQ(out, (std::vector<uint32_t>{0, 1, 2}));
}

// Rules keyed by the same fields share one extraction of the current event's join keys.
TEST(SharedJoinKeysTest, TermsKeyedByTheSameFieldsShareOneExtractionPerEvent) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  RuleSet rules = MakeRules({R"(sequence by user.name [process where true] [file where true])",
                             R"(sequence [process where true] by user.name [network where true] by user.name)",
                             R"(sequence by ?user.name [process where true] [file where true])",
                             R"(sequence by host.id [process where true] [file where true])"},
                            registry);
  auto term = [&](size_t rule, size_t t) -> const eql::CompiledTerm& { return rules.rules[rule].compiled->terms[t]; };
  nfa::SharedJoinKeys keys;
  uint32_t user = keys.ClassOf(term(0, 0));
  EXPECT_EQ(keys.ClassOf(term(0, 1)), user);
  EXPECT_EQ(keys.ClassOf(term(1, 1)), user);
  EXPECT_NE(keys.ClassOf(term(2, 0)), user);  // an optional key is another key
  EXPECT_NE(keys.ClassOf(term(3, 0)), user);

  EventBatch batch;
  EventBuilder b(&batch.arena());
  auto event = [&](const char* name) {
    b.Start();
    b.header().type = *registry.InternEventType("process");
    b.Set(*registry.Find("user.name"), b.StringValue(name));
    return b.Finish();
  };
  Event alice = event("alice"), bob = event("bob");
  std::span<nfa::JoinKey> first = keys.Extract(user, term(0, 0), alice);
  ASSERT_EQ(first.size(), 1u);
  std::span<nfa::JoinKey> again = keys.Extract(user, term(1, 1), alice);
  EXPECT_EQ(again.data(), first.data());  // not extracted twice
  keys.Release();
  std::span<nfa::JoinKey> next = keys.Extract(user, term(0, 1), bob);
  ASSERT_EQ(next.size(), 1u);
  ASSERT_EQ(next[0].values.size(), 1u);
  EXPECT_EQ(next[0].values[0].s, "bob");
}

// The alert stream is byte-identical for 1, 2 and 8 worker threads, on a stream where sequences
// are keyed by fields other than the partition key (user.name, host.id).
TEST(ReplayTest, AlertsAreIdenticalForAnyThreadCount) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  testing::SyntheticStream stream(registry, 7, 5000);
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
  std::vector<EventBatch> batches(10);  // sanitizer and debug builds are ~10x slower
#else
  std::vector<EventBatch> batches(50);
#endif
  std::vector<Event> events;
  for (EventBatch& batch : batches) {
    stream.Next(batch, 4000);
    events.insert(events.end(), batch.begin(), batch.end());
  }
  std::vector<std::string> texts = kSingleRules;
  texts.insert(texts.end(), kSequenceRules.begin(), kSequenceRules.end());
  RuleSet rules = MakeRules(texts, registry);
  replay::ReplayOptions options;
  options.chunk_events = 1000;
  options.engine.limits.max_entries = 20000;
  options.engine.limits.max_entries_per_entity = 50;
  std::string first;
  uint64_t first_hash = 0;
  for (size_t threads : {1, 2, 8}) {
    SCOPED_TRACE(threads);
    options.threads = threads;
    std::string out;
    auto summary = replay::Run(rules, registry, events, options, [&](std::string_view line) {
      out.append(line);
      return Ok();
    });
    ASSERT_TRUE(summary) << summary.error().ToString();
    EXPECT_EQ(summary->events, events.size());
    EXPECT_EQ(summary->bus.dropped_events, 0u);
    EXPECT_GT(summary->alerts, 200u);
    for (size_t r = 0; r < texts.size(); ++r) {
      EXPECT_GT(summary->engine.alerts_by_rule[r], 0u) << texts[r];
    }
    if (threads == 1) {
      first = out;
      first_hash = summary->alert_hash;
      EXPECT_GT(summary->engine.state.evicted_total(), 0u);
    } else {
      EXPECT_EQ(summary->alert_hash, first_hash);
      EXPECT_TRUE(out == first) << "alert streams differ";
    }
  }
}

// Every backend writes the same alerts and counts the same predicate evaluations (single-event
// rules and sequence stages alike), so their summaries compare.
TEST(ReplayTest, BackendsAgreeOnAlertsAndEvaluationCounts) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  testing::SyntheticStream stream(registry, 11, 2000);
  EventBatch batch;
  stream.Next(batch, 3000);
  std::vector<Event> events(batch.begin(), batch.end());
  std::vector<std::string> texts = kSingleRules;
  texts.insert(texts.end(), kSequenceRules.begin(), kSequenceRules.end());
  replay::ReplayOptions options;
  options.chunk_events = 1000;
  std::optional<uint64_t> hash, evaluations;
  for (runtime::Backend backend : runtime::kAllBackends) {
    SCOPED_TRACE(runtime::BackendName(backend));
    RuleSet rules = MakeRules(texts, registry);
    ASSERT_TRUE(CompileBackends(rules, backend, registry));
    for (const Rule& rule : rules.rules) EXPECT_EQ(rule.effective_backend, backend) << rule.query;
    auto summary = replay::Run(rules, registry, events, options, [](std::string_view) { return Ok(); });
    ASSERT_TRUE(summary) << summary.error().ToString();
    uint64_t n = summary->engine.backends[static_cast<size_t>(backend)].evaluations;
    EXPECT_GT(summary->alerts, 0u);
    if (!hash) {
      hash = summary->alert_hash;
      evaluations = n;
    } else {
      EXPECT_EQ(summary->alert_hash, *hash);
      EXPECT_EQ(n, *evaluations);
    }
  }
}

// Lineage predicates in detection rules: each worker keeps its own process table from the whole
// stream, so the alerts are those of the hunt over the same events, for any thread count and on
// every backend; a bounded table forgets processes and still agrees with itself.
TEST(ReplayTest, LineageRulesAlertLikeTheHuntOnAnyThreadCountAndBackend) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  testing::SyntheticStream stream(registry, 5, 64);  // ent-k's parent is ent-(k/4): a process tree
  EventBatch batch;
  stream.Next(batch, 4000);
  std::vector<Event> events(batch.begin(), batch.end());
  const std::vector<std::string> texts = {
      R"(process where process.name == "nc" and descendant of [process where process.name == "bash"])",
      R"(file where child of [process where event.action == "exec" and process.name == "curl"])",
      R"(network where event of [file where file.path == "/etc/shadow"])",
      R"(process where not descendant of [process where process.name in ("sshd", "ls")])",
      R"(sequence by host.id with maxspan=1s
           [process where descendant of [process where process.name == "sshd"]]
           [network where destination.port == 4444 and child of [process where process.name == "cat"]])",
  };
  RuleSet reference = MakeRules(texts, registry);
  std::vector<uint64_t> expected;
  for (const Rule& rule : reference.rules) {
    auto hunt = query::Hunt(*rule.compiled, events, registry, nullptr);
    ASSERT_TRUE(hunt) << hunt.error().ToString();
    expected.push_back(hunt->matches.size());
    EXPECT_GT(hunt->matches.size(), 0u) << rule.query;
  }
  std::optional<uint64_t> hash;
  for (runtime::Backend backend : runtime::kAllBackends) {
    for (size_t threads : {1, 3}) {
      SCOPED_TRACE(fmt::format("{} with {} threads", runtime::BackendName(backend), threads));
      RuleSet rules = MakeRules(texts, registry);
      ASSERT_TRUE(CompileBackends(rules, backend, registry));
      replay::ReplayOptions options;
      options.threads = threads;
      options.chunk_events = 500;
      auto summary = replay::Run(rules, registry, events, options, [](std::string_view) { return Ok(); });
      ASSERT_TRUE(summary) << summary.error().ToString();
      EXPECT_EQ(summary->engine.alerts_by_rule, expected);
      EXPECT_EQ(summary->engine.lineage_processes, 64u);
      if (!hash) hash = summary->alert_hash;
      EXPECT_EQ(summary->alert_hash, *hash);
    }
  }
  // A table of 8 processes forgets ancestors: fewer descendants are found, the same way on any
  // thread count.
  std::optional<uint64_t> bounded;
  for (size_t threads : {1, 2}) {
    RuleSet rules = MakeRules(texts, registry);
    replay::ReplayOptions options;
    options.threads = threads;
    options.engine.lineage_processes = 8;
    auto summary = replay::Run(rules, registry, events, options, [](std::string_view) { return Ok(); });
    ASSERT_TRUE(summary) << summary.error().ToString();
    EXPECT_EQ(summary->engine.lineage_processes, 8u);
    EXPECT_GT(summary->engine.lineage_evicted, 0u);
    EXPECT_LT(summary->engine.alerts_by_rule[0], expected[0]);
    if (!bounded) bounded = summary->alert_hash;
    EXPECT_EQ(summary->alert_hash, *bounded);
  }
}

TEST(EngineConfigTest, ParsesUnitsAndRejectsMistakesWithTheirPlace) {
  EXPECT_EQ(*ParseBytes("64KiB"), 64u << 10);
  EXPECT_EQ(*ParseBytes("3"), 3u);
  EXPECT_FALSE(ParseBytes("3 MiB"));
  EXPECT_FALSE(ParseBytes("99999999999999999999GiB"));
  EXPECT_EQ(*ParseDuration("1500ms"), 1'500'000'000u);
  EXPECT_EQ(*ParseDuration("2h"), 7'200'000'000'000u);
  EXPECT_EQ(*ParseDuration("0"), 0u);
  EXPECT_FALSE(ParseDuration("5"));

  testing::TempFile file(".toml");
  std::ofstream(file.path()) << "[state]\nmax_partials = 1000\nmax_bytes = \"1MiB\"\nttl = \"10m\"\n"
                                "[replay]\nchunk_events = 128\n";
  auto config = LoadEngineConfig(file.path());
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->max_partials, 1000u);
  nfa::StateLimits limits = config->LimitsPerRule(4);
  EXPECT_EQ(limits.max_entries, 250u);
  EXPECT_EQ(limits.max_bytes, (1u << 20) / 4);
  EXPECT_EQ(limits.ttl_ns, 600'000'000'000u);
  EXPECT_EQ(config->chunk_events, 128u);

  std::ofstream(file.path()) << "[state]\nmax_partials = 1\n[stat]\n";
  auto unknown = LoadEngineConfig(file.path());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().ToString(), file.path() + ":3:1: unknown section [stat]");
  std::ofstream(file.path()) << "[state]\nmax_partials = [1\n";
  auto broken = LoadEngineConfig(file.path());
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().ToString().rfind(file.path() + ":2:", 0), 0u) << broken.error().ToString();
}

TEST(EngineConfigTest, ReadsTheEnforceSection) {
  testing::TempFile file(".toml");
  std::ofstream(file.path()) << "[enforce]\nmounts = [\"/srv/a\", \"/srv/b\"]\ncgroup = \"/sys/fs/cgroup/x\"\n"
                                "deadline = \"50ms\"\nfallback = \"deny\"\nallow_executables = [\"/usr/sbin/sshd\"]\n";
  auto config = LoadEngineConfig(file.path());
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->enforce.mounts, (std::vector<std::string>{"/srv/a", "/srv/b"}));
  EXPECT_EQ(config->enforce.cgroup, "/sys/fs/cgroup/x");
  EXPECT_EQ(config->enforce.deadline_ns, 50'000'000u);
  EXPECT_TRUE(config->enforce.fail_closed);
  EXPECT_EQ(config->enforce.allow_executables, (std::vector<std::string>{"/usr/sbin/sshd"}));
  EXPECT_EQ(LoadEngineConfig(file.path()).value().enforce.mounts.size(), 2u);

  std::ofstream(file.path()) << "[enforce]\nfallback = \"maybe\"\n";
  auto bad = LoadEngineConfig(file.path());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().ToString(), file.path() + ":2:12: enforce.fallback must be \"allow\" or \"deny\"");
  std::ofstream(file.path()) << "[enforce]\nmounts = \"/srv\"\n";
  auto scalar = LoadEngineConfig(file.path());
  ASSERT_FALSE(scalar);
  EXPECT_NE(scalar.error().ToString().find("enforce.mounts must be a list of strings"), std::string::npos);
  std::ofstream(file.path()) << "[enforce]\ndeadline = \"20s\"\n";
  EXPECT_FALSE(LoadEngineConfig(file.path()));
  std::ofstream(file.path()) << "[enforce]\nmount = []\n";
  auto typo = LoadEngineConfig(file.path());
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().ToString().find("unknown setting enforce.mount"), std::string::npos);
}

}  // namespace
}  // namespace kestrel::engine
