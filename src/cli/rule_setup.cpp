#include "cli/rule_setup.h"

#include "cli/agent_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace kestrel::cli {

eql::CompileOptions CompileOptionsFor(std::string_view dialect) {
  eql::CompileOptions options;
  options.dialect = dialect == "eql" ? eql::Dialect::kPythonEql : eql::Dialect::kElasticsearch;
  options.case_insensitive = options.dialect == eql::Dialect::kPythonEql;
  return options;
}

Status ChooseBackends(engine::RuleSet& rules, runtime::Backend backend, const SchemaRegistry& registry, bool quiet) {
  KESTREL_TRY(engine::CompileBackends(rules, backend, registry));
  if (quiet) return Ok();
  for (const engine::Rule& r : rules.rules) {
    if (!r.backend_note.empty()) {
      fmt::print(stderr, "note: rule {} runs on the native backend: {}\n", r.id, r.backend_note);
    }
  }
  return Ok();
}

Status LoadRulesInto(RuleSetup& setup, const RuleSetupOptions& o, const SchemaRegistry& registry, bool quiet) {
  rules::PackOptions pack_options;
  pack_options.compile = CompileOptionsFor(o.dialect);
  pack_options.host_id = o.host_id;
  KESTREL_ASSIGN_OR_RETURN(rules::Pack pack, rules::LoadPack(o.rules, registry, pack_options));
  if (!pack.errors.empty() && !o.skip_bad_rules) {
    std::string all;
    for (const Error& e : pack.errors) all += e.ToString() + "\n";
    return MakeError(pack.errors.front().code(),
                     fmt::format("{}error: {} rule file{} failed; no rules loaded (use --skip-bad-rules to run the others)",
                                 all, pack.errors.size(), pack.errors.size() == 1 ? "" : "s"));
  }
  if (!quiet) {
    for (const Error& e : pack.errors) fmt::print(stderr, "warning: skipped rule: {}\n", e.ToString());
  }
  if (pack.rules.rules.empty()) return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: no rules to run", o.rules));
  KESTREL_TRY(ChooseBackends(pack.rules, setup.backend, registry, quiet));
  setup.rules = std::move(pack.rules);
  setup.pack = pack.Describe();
  setup.pack_hash = pack.hash;
  setup.sequences = static_cast<size_t>(std::count_if(setup.rules.rules.begin(), setup.rules.rules.end(),
                                                      [](const engine::Rule& r) { return r.is_sequence(); }));
  return Ok();
}

Result<RuleSetup> SetUpRules(const RuleSetupOptions& o, const SchemaRegistry& registry) {
  RuleSetup setup;
  if (!o.config.empty()) {  // the engine's sections; an agent configuration's others are for `kestrel run`
    KESTREL_ASSIGN_OR_RETURN(AgentConfig agent, LoadAgentConfig(o.config));
    setup.config = agent.engine;
  }
  setup.backend = setup.config.backend;
  if (!o.backend.empty()) setup.backend = *runtime::ParseBackend(o.backend);
  KESTREL_TRY(LoadRulesInto(setup, o, registry, false));
  return setup;
}

}  // namespace kestrel::cli
