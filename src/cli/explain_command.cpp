// `kestrel explain 'EQL'`: how Kestrel understands a query: its syntax tree (and, as the
// compiler grows, the checked and optimized forms).
#include <fmt/format.h>

#include "cli/commands.h"
#include "eql/parser.h"

namespace kestrel::cli {
namespace {

struct ExplainOptions {
  std::string query;
  std::string dialect = "es";
};

int RunExplain(const ExplainOptions& o) {
  eql::Source source("<query>", o.query);
  auto parsed = eql::Parse(source, o.dialect == "eql" ? eql::Dialect::kPythonEql : eql::Dialect::kElasticsearch);
  if (!parsed.query) {
    fmt::print(stderr, "{}", source.RenderAll(parsed.diagnostics));
    return kExitFailure;
  }
  fmt::print("ast: {}\n", eql::PrintQuery(*parsed.query));
  return kExitOk;
}

}  // namespace

CommandFn AddExplainCommand(CLI::App& app) {
  auto options = std::make_shared<ExplainOptions>();
  CLI::App* cmd = app.add_subcommand("explain", "Show how a query is parsed and compiled");
  cmd->add_option("query", options->query, "The EQL query")->required();
  cmd->add_option("--dialect", options->dialect, "es (Elasticsearch EQL) or eql (python-eql)")
      ->check(CLI::IsMember({"es", "eql"}))
      ->capture_default_str();
  return [options] { return RunExplain(*options); };
}

}  // namespace kestrel::cli
