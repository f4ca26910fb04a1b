// API tests of the EQL pieces the golden suite drives only from outside: matchers, scalar
// comparison, number text, the optimizer and prefilters, and the sequence matcher fed directly.
#include <gtest/gtest.h>

#include <cmath>
#include <fmt/format.h>

#include "eql/compiler.h"
#include "eql/evaluator.h"
#include "eql/matcher.h"
#include "eql/optimizer.h"
#include "eql/predicate_grid.h"
#include "event/event_batch.h"
#include "event/event_builder.h"
#include "event/ip_address.h"
#include "event/ndjson.h"
#include "nfa/sequence_runner.h"

namespace kestrel::eql {
namespace {

TEST(MatcherTest, WildcardsAreClassifiedAndMatch) {
  EXPECT_EQ(Matcher::Wildcard("bash", false).kind(), Matcher::Kind::kExact);
  EXPECT_EQ(Matcher::Wildcard("/tmp/*", false).kind(), Matcher::Kind::kPrefix);
  EXPECT_EQ(Matcher::Wildcard("*.sh", false).kind(), Matcher::Kind::kSuffix);
  EXPECT_EQ(Matcher::Wildcard("*curl*", false).kind(), Matcher::Kind::kContains);
  EXPECT_EQ(Matcher::Wildcard("a*b*c", false).kind(), Matcher::Kind::kGlob);
  EXPECT_EQ(Matcher::Wildcard("a?c", false).kind(), Matcher::Kind::kGlob);

  EXPECT_TRUE(Matcher::Wildcard("/TMP/*", true).Matches("/tmp/x"));
  EXPECT_FALSE(Matcher::Wildcard("/TMP/*", false).Matches("/tmp/x"));
  EXPECT_TRUE(Matcher::Wildcard("*", false).Matches(""));
  EXPECT_TRUE(Matcher::Wildcard("a*b*c", false).Matches("aXXbYYbZc"));
  EXPECT_FALSE(Matcher::Wildcard("a*b*c", false).Matches("aXXbYYbZ"));
  EXPECT_TRUE(Matcher::Wildcard("a?c", false).Matches("abc"));
  EXPECT_FALSE(Matcher::Wildcard("a?c", false).Matches("ac"));
  EXPECT_TRUE(Matcher::Wildcard("*a*a*a*a*a*b", false).Matches(std::string(50, 'a') + "b"));
  EXPECT_FALSE(Matcher::Wildcard("*a*a*a*a*a*b", false).Matches(std::string(5000, 'a')));  // no blow-up
  EXPECT_TRUE(Matcher::Wildcard("C:\\Windows\\*", false).Matches("C:\\Windows\\cmd.exe"));  // `\` is literal
}

TEST(MatcherTest, CaseFoldingCoversCommonScripts) {
  EXPECT_EQ(FoldCase("ÄÖÜ Straße ÉCOLE"), "äöü straße école");
  EXPECT_EQ(FoldCase("ΑΘΗΝΑ МОСКВА Łódź"), "αθηνα москва łódź");
  EXPECT_EQ(FoldCase("日本 \xff"), "日本 \xff");  // no case, or not UTF-8: unchanged
  EXPECT_TRUE(Matcher::Wildcard("*MÜNCHEN*", true).Matches("/home/münchen/x"));
  EXPECT_TRUE(Matcher::Wildcard("caf?", false).Matches("café"));  // `?` is one character
  EXPECT_FALSE(Matcher::Wildcard("caf??", false).Matches("café"));
  EXPECT_EQ(CompareScalars(Scalar::String("ÉTÉ"), Scalar::String("été"), true), 0);
}

TEST(MatcherTest, RegexIsAnchoredAndErrorsAreReported) {
  auto m = Matcher::Regex("ba.h", false);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->Matches("bash"));
  EXPECT_FALSE(m->Matches("/bin/bash"));
  auto ci = Matcher::Regex("BA[s]H", true);
  ASSERT_TRUE(ci);
  EXPECT_TRUE(ci->Matches("bash"));
  auto bad = Matcher::Regex("a(b", false);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("invalid regular expression"), std::string::npos);
}

TEST(ScalarTest, ComparisonsAcrossKinds) {
  EXPECT_EQ(CompareScalars(Scalar::Int(2), Scalar::Float(2.0)), 0);
  EXPECT_EQ(CompareScalars(Scalar::String("4"), Scalar::Int(4)), 0);
  EXPECT_FALSE(CompareScalars(Scalar::String("four"), Scalar::Int(4)).has_value());
  EXPECT_FALSE(CompareScalars(Scalar::Null(), Scalar::Null()).has_value());
  EXPECT_EQ(CompareScalars(Scalar::String("ABC"), Scalar::String("abc"), true), 0);
  EXPECT_LT(*CompareScalars(Scalar::String("ABC"), Scalar::String("abc")), 0);  // bytes
  EXPECT_EQ(CompareScalars(Scalar::Timestamp(1'000'000), Scalar::Int(1)), 0);  // epoch ms
  EXPECT_EQ(CompareScalars(Scalar::Timestamp(0), Scalar::String("1970-01-01T00:00:00Z")), 0);
}

TEST(ScalarTest, DoublesPrintAsElasticsearchDoes) {
  EXPECT_EQ(FormatDouble(1.0), "1.0");
  EXPECT_EQ(FormatDouble(0.5), "0.5");
  EXPECT_EQ(FormatDouble(-2.25), "-2.25");
  EXPECT_EQ(FormatDouble(1e7), "1.0E7");
  EXPECT_EQ(FormatDouble(1.5e-4), "1.5E-4");
}

class CompiledTest : public ::testing::Test {
 protected:
  std::unique_ptr<CompiledQuery> CompileOrDie(const std::string& text) {
    Source source("<q>", text);
    auto r = Compile(source, registry_);
    EXPECT_TRUE(r.query) << source.RenderAll(r.diagnostics);
    return std::move(r.query);
  }
  Event Make(uint64_t id, uint64_t ts, const char* type, std::initializer_list<std::pair<const char*, const char*>> kv) {
    EventBuilder b(&batch_.arena());
    b.Start();
    b.header().event_id = id;
    b.header().ts_mono_ns = ts;
    b.header().type = *registry_.InternEventType(type);
    for (const auto& [k, v] : kv) b.Set(*registry_.Find(k), b.StringValue(v));
    return b.Finish();
  }
  SchemaRegistry registry_ = SchemaRegistry::WithEcs();
  EventBatch batch_;
};

TEST_F(CompiledTest, OrOfEqualitiesBecomesOneSetAndYieldsAPrefilter) {
  auto q = CompileOrDie(R"(process where (process.name == "a" or process.name == "b" or process.name in ("c")) and
                           process.args : "-c")");
  const Program& p = q->terms[0].filter;
  ASSERT_EQ(p.sets.size(), 3u);  // the two merges and the literal list; the last one is used
  auto prefilters = ExtractPrefilters(p);
  ASSERT_EQ(prefilters.size(), 2u);
  EXPECT_EQ(registry_.name(prefilters[0].field), "process.name");
  EXPECT_EQ(prefilters[0].values, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(registry_.name(prefilters[1].field), "process.args");
  EXPECT_TRUE(prefilters[1].insensitive);
  Evaluator ev;
  EXPECT_TRUE(ev.Matches(p, Make(1, 1, "process", {{"process.name", "b"}, {"process.args", "-C"}})));
  EXPECT_FALSE(ev.Matches(p, Make(2, 2, "process", {{"process.name", "d"}, {"process.args", "-c"}})));
  EXPECT_FALSE(ev.Matches(p, Make(3, 3, "file", {{"process.name", "a"}, {"process.args", "-c"}})));
}

TEST_F(CompiledTest, CheapConjunctsRunFirst) {
  auto q = CompileOrDie(R"(process where process.command_line regex ".*x.*" and process.name == "a")");
  const Program& p = q->terms[0].filter;
  const IrNode& root = p.nodes[p.root];
  ASSERT_EQ(root.op, IrOp::kAnd);
  EXPECT_EQ(p.nodes[root.children[0]].op, IrOp::kCompare);  // the equality before the regex
  EXPECT_EQ(p.nodes[root.children[1]].op, IrOp::kMatch);
}

// A long list of `:` / `like` patterns keeps its exact literals in a set: the node answers as
// its matchers do one by one, for either case rule and any text.
TEST_F(CompiledTest, LongPatternListsLookUpTheirExactLiteralsInOneSet) {
  const char* texts[] = {"bash", "BASH", "Bash", "dash", "sh", "zsh", "fish", "ksh", "python3", "PYTHON", "xx",
                         "été", "ÉTÉ", "Été", "ÄRGER", "ärger", "", "bas", "bashh", "sh\n", "/bin/sh", "tcsh"};
  for (const char* op : {":", "like", "like~"}) {
    auto q = CompileOrDie(fmt::format(
        R"(process where process.name {} ("bash", "dash", "sh", "zsh", "ÉTÉ", "ärger", "python*", "*x*", "t?sh"))", op));
    const Program& p = q->terms[0].filter;
    const IrNode& n = p.nodes[p.root];
    ASSERT_EQ(n.op, IrOp::kMatch);
    ASSERT_NE(n.exact_set, UINT32_MAX) << op;
    for (const char* text : texts) {
      bool one_by_one = false;
      for (uint32_t m = 0; m < n.count; ++m) one_by_one = one_by_one || p.matchers[n.index + m].Matches(text);
      EXPECT_EQ(MatchesAny(p, n, text), one_by_one) << op << " " << text;
    }
  }
}

TEST_F(CompiledTest, SequenceRunnerAdvancesTheMostRecentPartialMatch) {
  auto q = CompileOrDie(R"(sequence by process.entity_id with maxspan=10s
                             [process where process.name == "a"] [process where process.name == "b"])");
  std::vector<Event> events = {
      Make(1, 1'000'000'000, "process", {{"process.name", "a"}, {"process.entity_id", "x"}}),
      Make(2, 2'000'000'000, "process", {{"process.name", "a"}, {"process.entity_id", "x"}}),
      Make(3, 3'000'000'000, "process", {{"process.name", "b"}, {"process.entity_id", "y"}}),  // other key
      Make(4, 4'000'000'000, "process", {{"process.name", "b"}, {"process.entity_id", "x"}}),
      Make(5, 5'000'000'000, "process", {{"process.name", "b"}, {"process.entity_id", "x"}}),  // nothing pending
      Make(6, 6'000'000'000, "process", {{"process.name", "a"}, {"process.entity_id", "x"}}),
      Make(7, 17'000'000'000, "process", {{"process.name", "b"}, {"process.entity_id", "x"}}),  // > maxspan
  };
  for (bool store_events : {false, true}) {
    nfa::RunnerOptions options;
    options.store_events = store_events;
    nfa::SequenceRunner runner(*q, options);
    std::vector<nfa::SequenceMatch> out;
    for (const Event& e : events) runner.Process(e, out);
    runner.Finish(out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].events[0]->event_id(), 2u);  // the older partial match (1) was dropped
    EXPECT_EQ(out[0].events[1]->event_id(), 4u);
    EXPECT_EQ(out[0].decided_event_id, 4u);
    // 1 was superseded by 2; 6 expired once 7 came more than maxspan later.
    EXPECT_EQ(runner.stats().entries, 0u);
    EXPECT_EQ(runner.stats().evicted[static_cast<size_t>(nfa::EvictReason::kSuperseded)], 1u);
    EXPECT_EQ(runner.stats().evicted[static_cast<size_t>(nfa::EvictReason::kExpired)], 1u);
    EXPECT_EQ(runner.stats().bytes, 0u);
  }
}

// The evaluator's boolean fast path against its generic evaluation on the value stack, over
// the predicate grid (tests/eql/predicate_grid.h).
TEST(FastPathTest, AgreesWithTheGenericEvaluation) {
  testing::PredicateGrid grid;
  SchemaRegistry& registry = grid.registry();
  Evaluator fast, slow;
  slow.set_boolean_fast_path(false);
  size_t programs = 0, checks = 0, outcomes[3] = {};
  for (bool insensitive : {false, true}) {
    CompileOptions options;
    options.case_insensitive = insensitive;
    for (const auto& [text, events] : grid.predicates()) {
      Source source("<q>", "process where " + text);
      auto compiled = Compile(source, registry, options);
      ASSERT_TRUE(compiled.query) << source.RenderAll(compiled.diagnostics);
      const Program& p = compiled.query->terms[0].filter;
      ++programs;
      for (const Event& e : *events) {
        if (text.find(' ') == std::string::npos) {  // a bare field: its values as a join key sees them
          ASSERT_EQ(p.nodes[p.root].op, IrOp::kField);
          const std::vector<Scalar>& fast_values = fast.Values(p, e);
          const std::vector<Scalar>& slow_values = slow.Values(p, e);
          std::string a, b;
          AppendScalarsJson(a, fast_values);
          AppendScalarsJson(b, slow_values);
          ASSERT_EQ(a, b) << text << " on " << grid.Json(e);
          ++checks;
        }
        ASSERT_EQ(fast.Matches(p, e), slow.Matches(p, e)) << text << " on " << grid.Json(e);
        auto expected = slow.Test(p, e);
        ASSERT_EQ(fast.Test(p, e), expected) << text << (insensitive ? " (case-insensitive)" : "") << " on "
                                             << grid.Json(e);
        ++checks;
        ++outcomes[expected ? (*expected ? 1 : 0) : 2];
      }
    }
  }
  EXPECT_EQ(programs, 2 * (grid.num_leaves() + testing::PredicateGrid::kCombinations));
  EXPECT_GT(outcomes[0], checks / 10);  // false
  EXPECT_GT(outcomes[1], checks / 10);  // true
  EXPECT_GT(outcomes[2], checks / 10);  // null
  std::printf("%zu programs, %zu evaluations: %zu false, %zu true, %zu null\n", programs, checks, outcomes[0],
              outcomes[1], outcomes[2]);
}

}  // namespace
}  // namespace kestrel::eql
