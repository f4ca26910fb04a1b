// `kestrel explain 'EQL'`: how Kestrel understands a query: its syntax tree, the optimized IR
// of each event query (checked against the ECS schema), and the prefilters a dispatcher indexes.
#include <fmt/format.h>

#include "cli/commands.h"
#include "eql/compiler.h"
#include "eql/optimizer.h"
#include "eql/parser.h"

namespace kestrel::cli {
namespace {

struct ExplainOptions {
  std::string query;
  std::string dialect = "es";
};

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
  eql::Source source("<query>", o.query);
  eql::CompileOptions options;
  options.dialect = o.dialect == "eql" ? eql::Dialect::kPythonEql : eql::Dialect::kElasticsearch;
  options.case_insensitive = options.dialect == eql::Dialect::kPythonEql;
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
  CLI::App* cmd = app.add_subcommand("explain", "Show how a query is parsed, checked and optimized");
  cmd->add_option("query", options->query, "The EQL query (checked against the ECS schema)")->required();
  cmd->add_option("--dialect", options->dialect, "es (Elasticsearch EQL) or eql (python-eql)")
      ->check(CLI::IsMember({"es", "eql"}))
      ->capture_default_str();
  return [options] { return RunExplain(*options); };
}

}  // namespace kestrel::cli
