#include "eql/ir.h"

#include <charconv>

#include <fmt/format.h>

#include "event/ip_address.h"
#include "event/timestamp.h"

namespace kestrel::eql {

bool LiteralSetHas(const LiteralSet& set, std::string_view text) {
  if (!set.insensitive) return set.strings.Contains(text);
  // As an exact case-insensitive Matcher compares: ASCII text folded byte by byte, other text
  // with FoldCase (the literals were folded with FoldCase).
  thread_local std::string folded;
  FoldCaseInto(folded, text);
  return set.strings.Contains(folded);
}

std::optional<LiteralSet> ExactSetOf(std::span<const Matcher> matchers) {
  constexpr uint32_t kMinExact = 4;
  if (matchers.size() < kMinExact) return std::nullopt;
  LiteralSet set;
  set.insensitive = matchers[0].insensitive();
  uint32_t exact = 0;
  for (const Matcher& matcher : matchers) {
    if (matcher.insensitive() != set.insensitive) return std::nullopt;
    if (matcher.kind() != Matcher::Kind::kExact) continue;
    set.strings.Insert(matcher.literal());
    ++exact;
  }
  if (exact < kMinExact) return std::nullopt;
  return set;
}

std::optional<IpNetwork> ParseNetwork(std::string_view cidr) {
  size_t slash = cidr.find('/');
  auto address = ParseIp(cidr.substr(0, slash));
  if (!address) return std::nullopt;
  IpNetwork net{*address, 0, address->is_v4()};
  int bits = net.v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    int v = 0;
    auto [p, ec] = std::from_chars(cidr.data() + slash + 1, cidr.data() + cidr.size(), v);
    if (ec != std::errc() || p != cidr.data() + cidr.size() || v < 0 || v > bits) return std::nullopt;
    bits = v;
  }
  net.bits = net.v4 ? bits + 96 : bits;
  return net;
}

bool NetworkContains(const IpNetwork& net, const IpAddress& ip) {
  if (net.v4 != ip.is_v4()) return false;
  int total = net.bits;
  for (int i = 0; i < 16 && total > 0; ++i, total -= 8) {
    uint8_t mask = total >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - total));
    if ((ip.bytes[i] & mask) != (net.address.bytes[i] & mask)) return false;
  }
  return true;
}

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
