// `kestrel explain 'EQL'`: how Kestrel understands a query: its syntax tree, the optimized IR
// of each event query (checked against the ECS schema), and the prefilters a dispatcher indexes.
// `kestrel explain --rules PACK --rule ID --event FILE` (or `--test NAME`): why a rule did or
// did not fire on those events: every predicate of every stage, true, false or null.
#include <fmt/format.h>

#include <algorithm>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "event/event_builder.h"
#include "rules/rule_explain.h"
#include "rules/rule_pack.h"
#include "rules/rule_tests.h"
#include "cli/rule_setup.h"
#include "eql/compiler.h"
#include "eql/optimizer.h"
#include "eql/parser.h"

namespace kestrel::cli {
namespace {

struct ExplainOptions {
  std::string query;
  std::string dialect = "es";
  std::string rules = "rules/linux";  // with --rule
  std::string rule;
  InputOptions events;  // --event FILE (repeatable)
  std::string test;     // or one of the rule's embedded tests, by name
};

int RunExplainRule(const ExplainOptions& o) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch store;
  EventBuilder copier(&store.arena());
  std::vector<Event> events;
  if (!o.events.inputs.empty()) {  // events first: rules compile against the fields they have
    auto read = ReadInputs(o.events, registry, [&](const EventBatch& batch) -> Result<Flow> {
      for (const Event& e : batch) events.push_back(copier.Copy(e));
      return Flow::kContinue;
    });
    if (!read) {
      fmt::print(stderr, "error: {}\n", read.error().ToString());
      return kExitFailure;
    }
    std::stable_sort(events.begin(), events.end(), OrderedBefore);
  }
  rules::PackOptions pack_options;
  pack_options.compile = CompileOptionsFor(o.dialect);
  auto pack = rules::LoadPack(o.rules, registry, pack_options);
  if (!pack) {
    fmt::print(stderr, "error: {}\n", pack.error().ToString());
    return kExitFailure;
  }
  engine::Rule* rule = nullptr;
  for (std::vector<engine::Rule>* list : {&pack->rules.rules, &pack->disabled}) {
    for (engine::Rule& r : *list) {
      if (r.id == o.rule) rule = &r;
    }
  }
  if (rule == nullptr) {
    for (const Error& e : pack->errors) fmt::print(stderr, "{}\n", e.ToString());
    fmt::print(stderr, "error: {}: no rule with id '{}'\n", o.rules, o.rule);
    return kExitFailure;
  }
  if (!o.test.empty()) {
    const rules::RuleTest* test = nullptr;
    if (auto it = pack->tests.find(rule->id); it != pack->tests.end()) {
      for (const rules::RuleTest& t : it->second) {
        if (t.name == o.test) test = &t;
      }
    }
    if (test == nullptr) {
      fmt::print(stderr, "error: rule {} has no test named '{}'\n", rule->id, o.test);
      return kExitFailure;
    }
    auto decoded = rules::DecodeTestEvents(*test, registry, store);
    if (!decoded) {
      fmt::print(stderr, "error: {}\n", decoded.error().ToString());
      return kExitFailure;
    }
    events = std::move(*decoded);
  }
  if (events.empty()) {
    fmt::print(stderr, "error: no events to explain the rule on (--event FILE or --test NAME)\n");
    return kExitUsage;
  }
  auto text = rules::ExplainRule(*rule, events, registry);
  if (!text) {
    fmt::print(stderr, "error: {}\n", text.error().ToString());
    return kExitFailure;
  }
  fmt::print("{}", *text);
  return kExitOk;
}

void PrintTerm(std::string_view label, const eql::CompiledTerm& term, const SchemaRegistry& registry) {
  fmt::print("{}: {}\n", label, eql::PrintProgram(term.filter, registry));
  auto describe = [&](const eql::Prefilter& pf) {
    bool globs = pf.values.empty();
    std::string values;
    for (const std::string& v : globs ? pf.globs : pf.values) {
      values += fmt::format("{}{}", values.empty() ? "" : ", ", eql::QuoteString(v));
    }
    const char* op = globs ? (pf.insensitive ? "like~" : "like") : (pf.insensitive ? "in~" : "in");
    return fmt::format("{} {} ({})", registry.name(pf.field), op, values);
  };
  for (const eql::Prefilter& pf : eql::ExtractPrefilters(term.filter)) fmt::print("  prefilter: {}\n", describe(pf));
  for (const std::vector<eql::Prefilter>& alternatives : eql::ExtractAlternatives(term.filter, registry)) {
    std::string any;
    for (const eql::Prefilter& pf : alternatives) any += fmt::format("{}{}", any.empty() ? "" : " or ", describe(pf));
    fmt::print("  prefilter: {}\n", any);
  }
  for (size_t k = 0; k < term.keys.size(); ++k) {
    fmt::print("  key {}: {}\n", k, eql::PrintProgram(term.keys[k], registry));
  }
}

int RunExplain(const ExplainOptions& o) {
  if (!o.rule.empty()) return RunExplainRule(o);
  if (o.query.empty()) {
    fmt::print(stderr, "error: give a query, or --rule ID with --event FILE or --test NAME\n");
    return kExitUsage;
  }
  eql::Source source("<query>", o.query);
  eql::CompileOptions options = CompileOptionsFor(o.dialect);
  auto parsed = eql::Parse(source, options.dialect);
  if (!parsed.query) {
    fmt::print(stderr, "{}", source.RenderAll(parsed.diagnostics));
    return kExitFailure;
  }
  fmt::print("ast: {}\n", eql::PrintQuery(*parsed.query));
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto compiled = eql::CompileQuery(*parsed.query, registry, options);
  if (!compiled.query) {
    fmt::print(stderr, "{}", source.RenderAll(compiled.diagnostics));
    return kExitFailure;
  }
  const eql::CompiledQuery& q = *compiled.query;
  for (size_t i = 0; i < q.terms.size(); ++i) {
    std::string label = q.terms.size() == 1 ? "ir" : fmt::format("ir[{}]{}", i, q.terms[i].missing ? " missing" : "");
    PrintTerm(label, q.terms[i], registry);
  }
  if (q.until) PrintTerm("ir until", *q.until, registry);
  for (size_t i = 0; i < q.lineage.size(); ++i) {
    fmt::print("lineage#{}: {}\n", i, eql::PrintProgram(q.lineage[i].query, registry));
  }
  return kExitOk;
}

}  // namespace

CommandFn AddExplainCommand(CLI::App& app) {
  auto options = std::make_shared<ExplainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "explain", "Show how a query is parsed, checked and optimized; or why a rule did or did not fire on events");
  cmd->add_option("query", options->query, "The EQL query (checked against the ECS schema)");
  cmd->add_option("--rule", options->rule, "Explain this rule (by id) on --event FILE or --test NAME");
  cmd->add_option("--rules", options->rules, "The rule file or pack folder that holds --rule")->capture_default_str();
  cmd->add_option("--event", options->events.inputs, "Events (.ndjson or .klog) to explain the rule on, in order");
  cmd->add_option("--profile", options->events.profile, "How --event files map to fields: ecs or flat")
      ->check(CLI::IsMember({"ecs", "flat"}))
      ->capture_default_str();
  cmd->add_option("--test", options->test, "Explain the rule on the events of its embedded test of this name");
  cmd->add_option("--dialect", options->dialect, "es (Elasticsearch EQL) or eql (python-eql)")
      ->check(CLI::IsMember({"es", "eql"}))
      ->capture_default_str();
  return [options] { return RunExplain(*options); };
}

}  // namespace kestrel::cli
