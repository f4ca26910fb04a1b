// What `kestrel replay` and `kestrel run` share before their events flow: the engine
// configuration, the rule set (compiled in the chosen dialect), and each rule's backend.
#pragma once

#include <string>

#include "common/result.h"
#include "engine/engine_config.h"
#include "engine/rule.h"

namespace kestrel::cli {

struct RuleSetupOptions {
  std::string rules;    // a rule file or folder
  std::string config;   // the engine configuration (TOML); empty: defaults
  std::string dialect = "es";
  std::string backend;  // empty: the configuration's
  bool skip_bad_rules = false;
};

struct RuleSetup {
  engine::EngineConfig config;
  engine::RuleSet rules;
  runtime::Backend backend = runtime::Backend::kNative;
  size_t sequences = 0;  // sequence rules among them
};

// Loads and compiles; prints skipped rules and native fallbacks as warnings / notes on stderr.
// An error (already worded for the user) when nothing can run.
Result<RuleSetup> SetUpRules(const RuleSetupOptions& options, const SchemaRegistry& registry);

// The backend every rule without its own choice runs on, and the notes on rules that fall back
// to native (unless `quiet`).
Status ChooseBackends(engine::RuleSet& rules, runtime::Backend backend, const SchemaRegistry& registry, bool quiet);

}  // namespace kestrel::cli
