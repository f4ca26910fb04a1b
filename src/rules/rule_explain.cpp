#include "rules/rule_explain.h"

#include <fmt/format.h>

#include "engine/detection_engine.h"
#include "rules/rule_tests.h"
#include "eql/evaluator.h"
#include "event/timestamp.h"

namespace kestrel::rules {
namespace {

std::string_view TriName(eql::Tri t) {
  switch (t) {
    case eql::Tri::kTrue: return "true ";
    case eql::Tri::kFalse: return "false";
    case eql::Tri::kNull: return "null ";
  }
  return "?";
}

// The rule's own text for a node, on one line (the optimizer keeps each node's span).
std::string TextOf(const engine::Rule& rule, const eql::IrNode& n) {
  if (n.span.end <= n.span.begin || n.span.end > rule.query.size()) return "(condition)";
  std::string text = rule.query.substr(n.span.begin, n.span.end - n.span.begin);
  std::string flat;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == ' ' || c == '\r') {
      space = !flat.empty();
      continue;
    }
    if (space) flat += ' ';
    space = false;
    flat += c;
  }
  if (flat.size() > 100) flat = flat.substr(0, 97) + "...";
  return flat;
}

void ExplainNode(const engine::Rule& rule, const eql::Program& p, uint32_t id, const Event& event,
                 eql::Evaluator& evaluator, int depth, std::string& out) {
  const eql::IrNode& n = p.nodes[id];
  eql::Tri value = evaluator.TestNode(p, id, event);
  std::string indent(static_cast<size_t>(depth) * 2 + 4, ' ');
  if (n.op == eql::IrOp::kAnd || n.op == eql::IrOp::kOr || n.op == eql::IrOp::kNot) {
    // Runs of the same operator print as one list.
    out += fmt::format("{}{} {}\n", indent, TriName(value),
                       n.op == eql::IrOp::kAnd ? "all of:" : n.op == eql::IrOp::kOr ? "any of:" : "not:");
    std::vector<uint32_t> operands;
    std::vector<uint32_t> todo(n.children.rbegin(), n.children.rend());
    while (!todo.empty()) {
      uint32_t c = todo.back();
      todo.pop_back();
      if (n.op != eql::IrOp::kNot && p.nodes[c].op == n.op) {
        todo.insert(todo.end(), p.nodes[c].children.rbegin(), p.nodes[c].children.rend());
      } else {
        operands.push_back(c);
      }
    }
    for (uint32_t c : operands) ExplainNode(rule, p, c, event, evaluator, depth + 1, out);
    return;
  }
  out += fmt::format("{}{} {}\n", indent, TriName(value), TextOf(rule, n));
}

}  // namespace

Result<std::string> ExplainRule(engine::Rule& rule, std::span<const Event> events, const SchemaRegistry& registry) {
  const eql::CompiledQuery& q = *rule.compiled;
  std::string out;
  bool sequence = rule.is_sequence();
  out += fmt::format("rule {} ({}): {}\n", rule.id, sequence ? fmt::format("sequence of {} stages", q.terms.size()) : "event rule",
                     rule.name);
  if (q.maxspan_ns) out += fmt::format("  maxspan {} ms\n", *q.maxspan_ns / 1'000'000);
  eql::Evaluator evaluator;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    out += fmt::format("\nevent {} (event_id {}, {}, {}):\n", i + 1, e.event_id(), registry.event_type_name(e.type()),
                       FormatTimestamp(static_cast<int64_t>(e.ts_wall_ns())));
    auto explain_term = [&](std::string label, const eql::CompiledTerm& term) {
      const eql::Program& p = term.filter;
      bool category = eql::Evaluator::CategoryMatches(p, e);
      std::optional<bool> test = category ? evaluator.Test(p, e) : std::optional<bool>(false);
      std::string verdict = !category ? fmt::format("no: the event is not a {} event", p.category)
                            : test == true ? "MATCHES"
                            : test == false ? "no: the condition is false"
                                            : "no: the condition is null (a field it needs is missing)";
      out += fmt::format("  {}{}: {}\n", label, p.category.empty() ? "" : fmt::format(" [{} where ...]", p.category), verdict);
      if (category && !p.nodes.empty()) ExplainNode(rule, p, p.root, e, evaluator, 0, out);
      if (category && test == true && !term.keys.empty()) {
        std::string keys;
        for (const eql::Program& k : term.keys) {
          std::vector<eql::Scalar> values = evaluator.Values(k, e);
          std::string json;
          eql::AppendScalarsJson(json, values);
          keys += fmt::format("{}{}", keys.empty() ? "" : ", ", json);
        }
        out += fmt::format("    join key: {}\n", keys);
      }
    };
    if (!sequence) {
      explain_term("the rule", q.terms[0]);
      continue;
    }
    for (size_t t = 0; t < q.terms.size(); ++t) {
      explain_term(fmt::format("stage {}{}", t + 1, q.terms[t].missing ? " (missing-event stage)" : ""), q.terms[t]);
    }
    if (q.until) explain_term("until", *q.until);
  }
  // The whole rule over the events, in order: joins, maxspan and `until` decide a sequence.
  KESTREL_ASSIGN_OR_RETURN(std::vector<std::string> alerts, RunRuleAlone(rule, events, registry));
  out += fmt::format("\nthe rule over these {} event{} in order: {} alert{}\n", events.size(), events.size() == 1 ? "" : "s",
                     alerts.size(), alerts.size() == 1 ? "" : "s");
  for (const std::string& a : alerts) out += fmt::format("  {}\n", a);
  return out;
}

}  // namespace kestrel::rules
