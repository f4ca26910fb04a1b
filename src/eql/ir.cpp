#include "eql/ir.h"

#include <fmt/format.h>

#include "event/ip_address.h"
#include "event/timestamp.h"

namespace kestrel::eql {
namespace {

constexpr std::string_view kBuiltinNames[] = {
    "add", "between", "cidrMatch", "concat", "divide", "endsWith", "indexOf", "length", "modulo", "multiply",
    "number", "startsWith", "string", "stringContains", "substring", "subtract", "arrayContains", "match", "wildcard",
    "arrayCount", "arraySearch",
};

std::string PrintScalar(const Scalar& s) {
  switch (s.kind) {
    case SKind::kNull: return "null";
    case SKind::kBool: return s.b ? "true" : "false";
    case SKind::kInt: return fmt::format("{}", s.i);
    case SKind::kFloat: return fmt::format("{}", s.f);
    case SKind::kString: return QuoteString(s.s);
    case SKind::kIp: return FormatIp(s.ip);
    case SKind::kTimestamp: return FormatTimestamp(s.i);
  }
  return "?";
}

std::string PrintNode(const Program& p, uint32_t id, const SchemaRegistry& registry) {
  const IrNode& n = p.nodes[id];
  auto children = [&](size_t from = 0) {
    std::string out;
    for (size_t k = from; k < n.children.size(); ++k) out += " " + PrintNode(p, n.children[k], registry);
    return out;
  };
  switch (n.op) {
    case IrOp::kConst: return PrintScalar(n.constant);
    case IrOp::kField: return fmt::format("${}", registry.name(n.field));
    case IrOp::kAnd: return "(and" + children() + ")";
    case IrOp::kOr: return "(or" + children() + ")";
    case IrOp::kNot: return "(not" + children() + ")";
    case IrOp::kNeg: return "(neg" + children() + ")";
    case IrOp::kCompare: return fmt::format("({}{}{})", OpName(n.cmp), n.insensitive ? "~" : "", children());
    case IrOp::kArith: return fmt::format("({}{})", OpName(n.cmp), children());
    case IrOp::kIsNull: return "(is-null" + children() + ")";
    case IrOp::kIsNotNull: return "(is-not-null" + children() + ")";
    case IrOp::kInSet: {
      const LiteralSet& set = p.sets[n.index];
      return fmt::format("({}in-set{}{} #{})", n.negated ? "not-" : "", set.insensitive ? "~" : "", children(),
                         set.strings.size() + set.others.size());
    }
    case IrOp::kInList: return fmt::format("({}in{}{})", n.negated ? "not-" : "", n.insensitive ? "~" : "", children());
    case IrOp::kMatch: {
      std::string out = "(match" + children();
      for (uint32_t m = 0; m < n.count; ++m) out += " " + p.matchers[n.index + m].Describe();
      return out + ")";
    }
    case IrOp::kVariable: return fmt::format("%{}", n.index);
    case IrOp::kLineage:
      return fmt::format("({}-of lineage#{})",
                         n.lineage == LineageKind::kChild ? "child" : n.lineage == LineageKind::kDescendant ? "descendant" : "event",
                         n.index);
    case IrOp::kCall: {
      std::string out = fmt::format("({}{}{}", kBuiltinNames[static_cast<int>(n.builtin)], n.insensitive ? "~" : "", children());
      for (uint32_t m = 0; m < n.count; ++m) out += " " + p.matchers[n.index + m].Describe();
      return out + ")";
    }
  }
  return "?";
}

}  // namespace

std::string PrintProgram(const Program& p, const SchemaRegistry& registry) {
  std::string body = p.nodes.empty() ? "" : PrintNode(p, p.root, registry);
  if (p.category.empty()) return body;
  return fmt::format("(where {} {})", p.category, body);
}

}  // namespace kestrel::eql
