// Rules: a named, compiled EQL query and what to do when it matches. The simplest rule file is
// a plain `.eql` file holding one query; its id and name are the file name without `.eql`.
// Leading `// key: value` comment lines set options:
//   // backend: native | wasm | lua      the predicate backend this rule runs on
//   // predicate: wasm FILE [EXPORT]     a user-written predicate the event must also satisfy
//   // predicate: lua FILE               (event rules; FILE relative to the rule file)
//   // actions: alert[, block][, kill]   what to do on a match besides alerting (docs/response.md)
//   // mode: monitor | enforce           monitor (the default) only logs what would be done
//   // rollout: N%                       enforce on N% of hosts (by host id), monitor elsewhere
//   // name: / description: / severity: low|medium|high|critical / risk_score: 0..100
//   // tags: a, b, T1059.004 (ATT&CK technique ids among them) / enabled: true|false / id:
// Rule packs (src/rules) also read the same fields from YAML, TOML and JSON rule files.
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

std::optional<Severity> ParseSeverity(std::string_view name);
// "T1059" or "T1059.004": an ATT&CK technique id.
bool IsTechniqueId(std::string_view tag);

struct Rule {
  std::string id;
  std::string name;
  std::string description;
  Severity severity = Severity::kMedium;
  std::optional<uint32_t> risk_score;  // 0..100
  std::vector<std::string> tags;       // ATT&CK technique ids among them go to threat.technique.id
  std::string ruleset;                 // the pack's name and version (rule.ruleset), when it has a manifest
  bool enabled = true;
  // `rollout: N%` of an enforce rule: the share of hosts that enforce it (the others monitor).
  // actions.mode is the effective mode on this host once ApplyRollout has run; declared_mode is
  // what the rule file says.
  uint32_t rollout_percent = 100;
  RuleMode declared_mode = RuleMode::kMonitor;
  uint64_t fingerprint = 0;  // hash of everything that decides what the rule does
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
  std::vector<std::string> techniques() const;  // the ATT&CK ids among the tags
};

// The 0..99 bucket of a host id: a rule with `rollout: N%` enforces on hosts whose bucket is
// below N, so raising N only adds hosts.
uint32_t RolloutBucket(std::string_view host_id);
// Sets each rule's effective mode (actions.mode) from its declared mode and rollout.
void ApplyRollout(std::vector<Rule>& rules, std::string_view host_id);

// The metadata keys a rule file may set, and how: shared by the `.eql` header and the
// structured (YAML / TOML / JSON) rule files. `where` locates the value in errors.
Status SetRuleField(Rule& rule, std::string_view key, std::string_view value, const std::string& where);
// The rule's settings that need the rule file's folder (`predicate:` files).
Status SetRulePredicate(Rule& rule, const std::string& rule_path, std::string_view value, const std::string& where);

// Compiles `rule.query` (already holding its metadata, as set by SetRuleField) into `rule`;
// the query text is named `path` in diagnostics, which start at `origin` (1-based line and
// column of the query's first character in its file, and the indentation of its later lines).
struct QueryOrigin {
  uint32_t line = 1;
  uint32_t column = 1;
  uint32_t indent = 0;
};
Status CompileRuleQuery(Rule& rule, const SchemaRegistry& registry, const eql::CompileOptions& options,
                        const QueryOrigin& origin = {});

// The rules the engine runs, in a stable order (a pack's: by path). Loaded by rules::LoadPack.
struct RuleSet {
  std::vector<Rule> rules;
};

// Compiles every rule's predicates for its backend: its own choice, else `fallback`. A rule that
// chose a backend which cannot run it fails (naming the rule file and the node); a rule that did
// not choose runs natively then, with the reason in backend_note.
Status CompileBackends(RuleSet& rules, runtime::Backend fallback, const SchemaRegistry& registry);

// Compiles one rule from its text (`path` names it in diagnostics and gives its id).
Result<Rule> CompileRule(const std::string& path, std::string text, const SchemaRegistry& registry,
                         const eql::CompileOptions& options);

}  // namespace kestrel::engine
