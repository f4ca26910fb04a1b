// What `kestrel replay` and `kestrel run` share before their events flow: the engine
// configuration, the rule pack (compiled in the chosen dialect), and each rule's backend.
#pragma once

#include <string>

#include "common/result.h"
#include "engine/engine_config.h"
#include "engine/rule.h"
#include "rules/rule_pack.h"

namespace kestrel::cli {

struct RuleSetupOptions {
  std::string rules;    // a rule file or pack folder
  std::string config;   // the engine configuration (TOML); empty: defaults
  std::string dialect = "es";
  std::string backend;  // empty: the configuration's
  std::string host_id;  // for rollouts; empty: this host's
  bool skip_bad_rules = false;
};

struct RuleSetup {
  engine::EngineConfig config;
  engine::RuleSet rules;
  std::string pack;  // the pack's name, version and hash (rules::Pack::Describe)
  uint64_t pack_hash = 0;
  runtime::Backend backend = runtime::Backend::kNative;
  size_t sequences = 0;  // sequence rules among them
};

// The compile options of a dialect named on the command line ("es" or "eql").
eql::CompileOptions CompileOptionsFor(std::string_view dialect);

// Loads the pack at options.rules into `setup` (keeping setup.config): fails with every bad rule
// file unless skip_bad_rules, which reports them as warnings on stderr.
Status LoadRulesInto(RuleSetup& setup, const RuleSetupOptions& options, const SchemaRegistry& registry, bool quiet);

// Loads and compiles; prints skipped rules and native fallbacks as warnings / notes on stderr.
// An error (already worded for the user) when nothing can run.
Result<RuleSetup> SetUpRules(const RuleSetupOptions& options, const SchemaRegistry& registry);

// The backend every rule without its own choice runs on, and the notes on rules that fall back
// to native (unless `quiet`).
Status ChooseBackends(engine::RuleSet& rules, runtime::Backend backend, const SchemaRegistry& registry, bool quiet);

}  // namespace kestrel::cli
