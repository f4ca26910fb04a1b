#include "cli/rule_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace kestrel::cli {

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

Result<RuleSetup> SetUpRules(const RuleSetupOptions& o, const SchemaRegistry& registry) {
  RuleSetup setup;
  if (!o.config.empty()) {
    KESTREL_ASSIGN_OR_RETURN(setup.config, engine::LoadEngineConfig(o.config));
  }
  engine::RuleLoadOptions rule_options;
  rule_options.skip_bad = o.skip_bad_rules;
  rule_options.compile.dialect = o.dialect == "eql" ? eql::Dialect::kPythonEql : eql::Dialect::kElasticsearch;
  rule_options.compile.case_insensitive = rule_options.compile.dialect == eql::Dialect::kPythonEql;
  auto rules = engine::LoadRules(o.rules, registry, rule_options);
  if (!rules) {
    return MakeError(rules.error().code(),
                     fmt::format("{}\nerror: no rules loaded (use --skip-bad-rules to run the others)",
                                 rules.error().ToString()));
  }
  for (const Error& e : rules->skipped) fmt::print(stderr, "warning: skipped rule: {}\n", e.ToString());
  if (rules->rules.empty()) return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: no rules to run", o.rules));
  setup.rules = std::move(*rules);
  setup.sequences = static_cast<size_t>(std::count_if(setup.rules.rules.begin(), setup.rules.rules.end(),
                                                      [](const engine::Rule& r) { return r.is_sequence(); }));
  setup.backend = setup.config.backend;
  if (!o.backend.empty()) setup.backend = *runtime::ParseBackend(o.backend);
  KESTREL_TRY(ChooseBackends(setup.rules, setup.backend, registry, false));
  return setup;
}

}  // namespace kestrel::cli
