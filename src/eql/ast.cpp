#include "eql/ast.h"

#include <fmt/format.h>

namespace kestrel::eql {
namespace {

std::string PrintEventQuery(const EventQuery& q) {
  return fmt::format("({} {})", q.category.empty() ? "any" : QuoteString(q.category), PrintExpr(*q.condition));
}

std::string PrintKeys(std::string_view label, const std::vector<ExprPtr>& keys) {
  if (keys.empty()) return "";
  std::string out = fmt::format(" ({}", label);
  for (const ExprPtr& k : keys) out += " " + PrintExpr(*k);
  return out + ")";
}

std::string PrintTerm(const SequenceTerm& t) {
  std::string out = t.missing ? "(missing " : "(term ";
  out += PrintEventQuery(t.query);
  out += PrintKeys("by", t.by);
  if (t.runs != 1) out += fmt::format(" (runs {})", t.runs);
  return out + ")";
}

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kAnd: return "and";
    case Op::kOr: return "or";
    case Op::kNot: return "not";
    case Op::kNeg: return "neg";
    case Op::kEq: return "==";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kMod: return "%";
    case Op::kIn: return "in";
    case Op::kSeq: return ":";
    case Op::kLike: return "like";
    case Op::kRegex: return "regex";
  }
  return "?";
}

std::string PrintExpr(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      switch (e.literal) {
        case LiteralKind::kNull: return "null";
        case LiteralKind::kBool: return e.bool_value ? "true" : "false";
        case LiteralKind::kInteger: return fmt::format("{}", e.int_value);
        case LiteralKind::kDecimal: return fmt::format("{}", e.decimal_value);
        case LiteralKind::kString: return QuoteString(e.string_value);
      }
      break;
    case ExprKind::kField: return (e.optional ? "?" : "") + e.string_value;
    case ExprKind::kCall: {
      std::string out = fmt::format("({}{}", e.string_value, e.insensitive ? "~" : "");
      for (const ExprPtr& c : e.children) out += " " + PrintExpr(*c);
      return out + ")";
    }
    case ExprKind::kLineage: {
      std::string_view kind = e.lineage == LineageKind::kChild ? "child-of"
                              : e.lineage == LineageKind::kDescendant ? "descendant-of"
                                                                      : "event-of";
      return fmt::format("({} {})", kind, PrintEventQuery(*e.lineage_query));
    }
    case ExprKind::kUnary:
    case ExprKind::kBinary:
    case ExprKind::kMatch: {
      std::string out = fmt::format("({}{}{}", e.negated ? "not-" : "", OpName(e.op),
                                    e.insensitive && e.op != Op::kSeq ? "~" : "");
      for (const ExprPtr& c : e.children) out += " " + PrintExpr(*c);
      return out + ")";
    }
  }
  return "?";
}

std::string PrintQuery(const Query& q) {
  std::string out;
  switch (q.kind) {
    case QueryKind::kEvent: out = PrintEventQuery(q.event); break;
    case QueryKind::kSequence:
    case QueryKind::kSample: {
      out = q.kind == QueryKind::kSequence ? "(sequence" : "(sample";
      out += PrintKeys("by", q.by);
      if (q.maxspan_ns) out += fmt::format(" (maxspan {}ms)", *q.maxspan_ns / 1'000'000);
      for (const SequenceTerm& t : q.terms) out += " " + PrintTerm(t);
      if (q.until) out += " (until " + PrintTerm(*q.until) + ")";
      out += ")";
      break;
    }
  }
  for (const Pipe& p : q.pipes) {
    out += " | (" + p.name;
    for (const ExprPtr& a : p.args) out += " " + PrintExpr(*a);
    out += ")";
  }
  return out;
}

}  // namespace kestrel::eql
