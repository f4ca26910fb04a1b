#include "runtime/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "eql/evaluator.h"

namespace kestrel::runtime {
namespace {

using eql::IrNode;
using eql::IrOp;
using eql::Scalar;
using eql::SKind;

class Planner {
 public:
  Planner(const eql::Program& p, const SchemaRegistry& r, std::string_view q) : p_(p), registry_(r), query_(q) {}

  Result<uint32_t> Node(uint32_t id);
  PredicatePlan plan;

 private:
  tl::unexpected<Error> Unsupported(const IrNode& n, std::string_view what) const {
    std::string where;
    if (n.span.end > n.span.begin && n.span.end <= query_.size()) {
      where = fmt::format(" (`{}`, offset {})", query_.substr(n.span.begin, n.span.end - n.span.begin), n.span.begin);
    }
    return MakeError(ErrorCode::kUnsupported,
                     fmt::format("Host API v1 predicates cannot express {}{}; only the native backend runs it",
                                 what, where));
  }
  uint32_t Field(FieldId id);
  uint32_t Constant(const Scalar& s);
  uint32_t Add(PlanNode n) {
    plan.nodes.push_back(n);
    return static_cast<uint32_t>(plan.nodes.size() - 1);
  }
  const IrNode& Child(const IrNode& n, size_t k) const { return p_.nodes[n.children[k]]; }

  const eql::Program& p_;
  const SchemaRegistry& registry_;
  std::string_view query_;
};

uint32_t Planner::Field(FieldId id) {
  std::string name(registry_.name(id));
  for (uint32_t i = 0; i < plan.fields.size(); ++i) {
    if (plan.fields[i] == name) return i;
  }
  plan.fields.push_back(std::move(name));
  return static_cast<uint32_t>(plan.fields.size() - 1);
}

uint32_t Planner::Constant(const Scalar& s) {
  PlanConstant c;
  c.kind = static_cast<ElementKind>(s.kind);
  switch (s.kind) {
    case SKind::kNull: break;
    case SKind::kBool: c.bits = s.b ? 1 : 0; break;
    case SKind::kInt:
    case SKind::kTimestamp: c.bits = s.i; break;
    case SKind::kFloat: std::memcpy(&c.bits, &s.f, sizeof s.f); break;
    case SKind::kString: c.text = std::string(s.s); break;
    case SKind::kIp: c.text.assign(reinterpret_cast<const char*>(&s.ip), sizeof s.ip); break;
  }
  plan.constants.push_back(std::move(c));
  return static_cast<uint32_t>(plan.constants.size() - 1);
}

Result<uint32_t> Planner::Node(uint32_t id) {
  const IrNode& n = p_.nodes[id];
  PlanNode out;
  switch (n.op) {
    case IrOp::kAnd:
    case IrOp::kOr:
    case IrOp::kNot: {
      out.kind = n.op == IrOp::kAnd ? PlanNode::Kind::kAnd
                 : n.op == IrOp::kOr ? PlanNode::Kind::kOr
                                     : PlanNode::Kind::kNot;
      KESTREL_ASSIGN_OR_RETURN(uint32_t a, Node(n.children[0]));
      out.a = a;
      if (n.op != IrOp::kNot) {
        KESTREL_ASSIGN_OR_RETURN(uint32_t b, Node(n.children[1]));
        out.b = b;
      }
      return Add(out);
    }
    case IrOp::kConst:
      // A constant condition is true or false when boolean, null otherwise (Evaluator::Truth).
      out.kind = PlanNode::Kind::kConst;
      out.tri = n.constant.kind == SKind::kBool ? (n.constant.b ? 1 : 0) : 2;
      return Add(out);
    case IrOp::kCompare: {
      const IrNode& a = Child(n, 0);
      const IrNode& b = Child(n, 1);
      bool field_left = a.op == IrOp::kField && b.op == IrOp::kConst;
      if (!field_left && !(a.op == IrOp::kConst && b.op == IrOp::kField)) {
        return Unsupported(n, "a comparison that is not between a field and a constant");
      }
      out.kind = PlanNode::Kind::kCompare;
      out.field = Field((field_left ? a : b).field);
      out.handle = Constant((field_left ? b : a).constant);
      out.cmp = field_left ? n.cmp : eql::Mirror(n.cmp);
      out.insensitive = n.insensitive;
      return Add(out);
    }
    case IrOp::kInSet: {
      if (Child(n, 0).op != IrOp::kField) return Unsupported(n, "`in` on a computed value");
      const eql::LiteralSet& set = p_.sets[n.index];
      PlanSet s;
      s.insensitive = set.insensitive;
      set.strings.Any([&](std::string_view text) {
        s.items.push_back(Constant(Scalar::String(text)));
        return false;
      });
      for (const Scalar& x : set.others) s.items.push_back(Constant(x));
      out.kind = PlanNode::Kind::kInSet;
      out.field = Field(Child(n, 0).field);
      out.handle = static_cast<uint32_t>(plan.sets.size());
      out.negated = n.negated;
      plan.sets.push_back(std::move(s));
      return Add(out);
    }
    case IrOp::kMatch: {
      if (Child(n, 0).op != IrOp::kField) return Unsupported(n, "a pattern match on a computed value");
      std::vector<PlanPattern> group;
      for (uint32_t m = 0; m < n.count; ++m) {
        const eql::Matcher& matcher = p_.matchers[n.index + m];
        bool regex = matcher.kind() == eql::Matcher::Kind::kRegex;
        group.push_back({regex, matcher.insensitive(), regex ? matcher.literal() : matcher.Glob()});
      }
      out.kind = PlanNode::Kind::kMatch;
      out.field = Field(Child(n, 0).field);
      out.handle = static_cast<uint32_t>(plan.matchers.size());
      plan.matchers.push_back(std::move(group));
      return Add(out);
    }
    case IrOp::kCall: {
      if (n.builtin != eql::Builtin::kCidrMatch) return Unsupported(n, "this function call");
      if (n.count == 0 || Child(n, 0).op != IrOp::kField || n.children.size() != n.count + 1) {
        return Unsupported(n, "cidrMatch on a computed value or computed networks");
      }
      std::vector<std::string> nets;
      for (size_t k = 1; k < n.children.size(); ++k) {
        const IrNode& c = Child(n, k);
        if (c.op != IrOp::kConst || c.constant.kind != SKind::kString) {
          return Unsupported(n, "cidrMatch with computed networks");
        }
        nets.emplace_back(c.constant.s);
      }
      out.kind = PlanNode::Kind::kCidr;
      out.field = Field(Child(n, 0).field);
      out.handle = static_cast<uint32_t>(plan.nets.size());
      plan.nets.push_back(std::move(nets));
      return Add(out);
    }
    case IrOp::kIsNull:
    case IrOp::kIsNotNull:
      if (Child(n, 0).op != IrOp::kField) return Unsupported(n, "a null test on a computed value");
      out.kind = n.op == IrOp::kIsNull ? PlanNode::Kind::kIsNull : PlanNode::Kind::kIsNotNull;
      out.field = Field(Child(n, 0).field);
      return Add(out);
    case IrOp::kField: return Unsupported(n, "a field used as a condition");
    case IrOp::kArith:
    case IrOp::kNeg: return Unsupported(n, "arithmetic");
    case IrOp::kInList: return Unsupported(n, "`in` a list of computed values");
    case IrOp::kLineage: return Unsupported(n, "a lineage condition");
    case IrOp::kVariable: return Unsupported(n, "an array function's variable");
  }
  return Unsupported(n, "this node");
}

}  // namespace

int32_t HostOpCode(eql::Op op) {
  const auto* code = std::find(std::begin(kHostCompareOps), std::end(kHostCompareOps), op);
  return static_cast<int32_t>(code - std::begin(kHostCompareOps));  // plans hold comparison operators only
}

Result<PredicatePlan> MakePlan(const eql::Program& program, const SchemaRegistry& registry, std::string_view query) {
  Planner planner(program, registry, query);
  KESTREL_ASSIGN_OR_RETURN(uint32_t root, planner.Node(program.root));
  planner.plan.root = root;
  return std::move(planner.plan);
}

}  // namespace kestrel::runtime
