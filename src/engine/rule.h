// Rules: a named, compiled EQL query and what to do when it matches. The simplest rule file is
// a plain `.eql` file holding one query; its id and name are the file name without `.eql`.
// Leading `// key: value` comment lines set options:
//   // backend: native | wasm | lua      the predicate backend this rule runs on
//   // predicate: wasm FILE [EXPORT]     a user-written predicate the event must also satisfy
//   // predicate: lua FILE               (event rules; FILE relative to the rule file)
//   // actions: alert[, block][, kill]   what to do on a match besides alerting (docs/response.md)
//   // mode: monitor | enforce           monitor (the default) only logs what would be done
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "eql/compiler.h"
#include "runtime/predicate.h"
#include "schema/schema_registry.h"

namespace kestrel::engine {

enum class Severity : uint8_t { kLow, kMedium, kHigh, kCritical };
std::string_view SeverityName(Severity s);

// What a rule does on a match besides alerting. In monitor mode nothing is done, and the alert
// says what would have been (event.outcome: would_block / would_kill).
enum class RuleMode : uint8_t { kMonitor, kEnforce };
struct RuleActions {
  bool block = false;  // deny the operation of the (last) matching event inline
  bool kill = false;   // terminate the process of the (last) matching event
  RuleMode mode = RuleMode::kMonitor;
  bool any() const { return block || kill; }
  bool enforce() const { return mode == RuleMode::kEnforce; }
};

struct Rule {
  std::string id;
  std::string name;
  Severity severity = Severity::kMedium;
  std::vector<std::string> tags;
  std::string path;   // the file it came from
  std::string query;  // EQL text
  std::unique_ptr<eql::CompiledQuery> compiled;
  std::optional<runtime::Backend> backend;  // the rule's own choice of predicate backend
  std::optional<runtime::UserPredicateSource> user_predicate;  // `// predicate:`
  RuleActions actions;                                          // `// actions:`, `// mode:`
  eql::CompileOptions compile_options;                          // what it was compiled with

  // Set by CompileBackends: the backend the rule runs on, why it runs natively when another
  // was asked for globally, and its predicates (its filter, or its terms then `until`) compiled
  // for that backend (empty when native).
  runtime::Backend effective_backend = runtime::Backend::kNative;
  std::string backend_note;
  std::vector<runtime::CompiledPredicate> predicates;

  // The programs a backend runs: an event query's filter, or a sequence's terms then `until`.
  std::vector<const eql::Program*> Programs() const;

  bool is_sequence() const { return compiled->kind == eql::QueryKind::kSequence; }
};

struct RuleLoadOptions {
  eql::CompileOptions compile;
  // Load the rules that compile and report the others in `skipped`, instead of failing.
  bool skip_bad = false;
};

struct RuleSet {
  std::vector<Rule> rules;  // in a stable order: by path
  std::vector<Error> skipped;
};

// Loads `path`: one rule file, or every `.eql` file in a folder (not recursive), sorted by
// name. Rules are compiled against `registry`, which must already know the data's fields. A rule
// that does not compile fails the load with `file:line:col` diagnostics, unless skip_bad.
Result<RuleSet> LoadRules(const std::string& path, const SchemaRegistry& registry, const RuleLoadOptions& options);

// Compiles every rule's predicates for its backend: its own choice, else `fallback`. A rule that
// chose a backend which cannot run it fails (naming the rule file and the node); a rule that did
// not choose runs natively then, with the reason in backend_note.
Status CompileBackends(RuleSet& rules, runtime::Backend fallback, const SchemaRegistry& registry);

// Compiles one rule from its text (`path` names it in diagnostics and gives its id).
Result<Rule> CompileRule(const std::string& path, std::string text, const SchemaRegistry& registry,
                         const eql::CompileOptions& options);

}  // namespace kestrel::engine
