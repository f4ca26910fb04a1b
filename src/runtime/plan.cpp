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

  Result<uint32_t> Node(uint32_t id);                 // a condition
  Result<uint32_t> Value(uint32_t id, uint32_t reg);  // a value, into register `reg`
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
    plan.nodes.push_back(std::move(n));
    return static_cast<uint32_t>(plan.nodes.size() - 1);
  }
  const IrNode& Child(const IrNode& n, size_t k) const { return p_.nodes[n.children[k]]; }
  uint32_t NewRegister() { return plan.registers++; }
  // A condition on the value of IR node `child`: `kind` with value a.
  Result<uint32_t> OnValue(PlanNode out, uint32_t child) {
    KESTREL_ASSIGN_OR_RETURN(uint32_t a, Value(child, NewRegister()));
    out.a = a;
    return Add(std::move(out));
  }
  // The values of IR nodes `children[from..]` into consecutive registers (out.first_reg, out.args).
  Status Values(PlanNode& out, const IrNode& n, size_t from) {
    out.first_reg = plan.registers;
    plan.registers += static_cast<uint32_t>(n.children.size() - from);
    for (size_t k = from; k < n.children.size(); ++k) {
      KESTREL_ASSIGN_OR_RETURN(uint32_t v, Value(n.children[k], out.first_reg + static_cast<uint32_t>(k - from)));
      out.args.push_back(v);
    }
    return Ok();
  }
  uint32_t Matchers(const IrNode& n);

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
      out.cmp = n.cmp;
      out.insensitive = n.insensitive;
      if (!field_left && !(a.op == IrOp::kConst && b.op == IrOp::kField)) {
        out.kind = PlanNode::Kind::kValCompare;
        KESTREL_ASSIGN_OR_RETURN(out.a, Value(n.children[0], NewRegister()));
        KESTREL_ASSIGN_OR_RETURN(out.b, Value(n.children[1], NewRegister()));
        return Add(std::move(out));
      }
      out.kind = PlanNode::Kind::kCompare;
      out.field = Field((field_left ? a : b).field);
      out.handle = Constant((field_left ? b : a).constant);
      out.cmp = field_left ? n.cmp : eql::Mirror(n.cmp);
      return Add(out);
    }
    case IrOp::kInSet: {
      const eql::LiteralSet& set = p_.sets[n.index];
      PlanSet s;
      s.insensitive = set.insensitive;
      set.strings.Any([&](std::string_view text) {
        s.items.push_back(Constant(Scalar::String(text)));
        return false;
      });
      for (const Scalar& x : set.others) s.items.push_back(Constant(x));
      out.handle = static_cast<uint32_t>(plan.sets.size());
      out.negated = n.negated;
      plan.sets.push_back(std::move(s));
      if (Child(n, 0).op != IrOp::kField) {
        out.kind = PlanNode::Kind::kValInSet;
        return OnValue(std::move(out), n.children[0]);
      }
      out.kind = PlanNode::Kind::kInSet;
      out.field = Field(Child(n, 0).field);
      return Add(out);
    }
    case IrOp::kMatch: {
      out.handle = Matchers(n);
      if (Child(n, 0).op != IrOp::kField) {
        out.kind = PlanNode::Kind::kValMatch;
        return OnValue(std::move(out), n.children[0]);
      }
      out.kind = PlanNode::Kind::kMatch;
      out.field = Field(Child(n, 0).field);
      return Add(out);
    }
    case IrOp::kCall: {
      // cidrMatch(field, constant networks...): the field test, as EvalBool decides it.
      bool constant_nets = n.builtin == eql::Builtin::kCidrMatch && n.count > 0 &&
                           Child(n, 0).op == IrOp::kField && n.children.size() == n.count + 1;
      for (size_t k = 1; constant_nets && k < n.children.size(); ++k) {
        constant_nets = Child(n, k).op == IrOp::kConst && Child(n, k).constant.kind == SKind::kString;
      }
      if (!constant_nets) {
        out.kind = PlanNode::Kind::kTruth;
        return OnValue(std::move(out), id);
      }
      std::vector<std::string> nets;
      for (size_t k = 1; k < n.children.size(); ++k) nets.emplace_back(Child(n, k).constant.s);
      out.kind = PlanNode::Kind::kCidr;
      out.field = Field(Child(n, 0).field);
      out.handle = static_cast<uint32_t>(plan.nets.size());
      plan.nets.push_back(std::move(nets));
      return Add(out);
    }
    case IrOp::kIsNull:
    case IrOp::kIsNotNull:
      if (Child(n, 0).op != IrOp::kField) {
        out.kind = n.op == IrOp::kIsNull ? PlanNode::Kind::kValIsNull : PlanNode::Kind::kValIsNotNull;
        return OnValue(std::move(out), n.children[0]);
      }
      out.kind = n.op == IrOp::kIsNull ? PlanNode::Kind::kIsNull : PlanNode::Kind::kIsNotNull;
      out.field = Field(Child(n, 0).field);
      return Add(out);
    case IrOp::kInList: {
      out.kind = PlanNode::Kind::kValInList;
      out.negated = n.negated;
      out.insensitive = n.insensitive;
      KESTREL_ASSIGN_OR_RETURN(out.a, Value(n.children[0], NewRegister()));
      KESTREL_TRY(Values(out, n, 1));
      return Add(std::move(out));
    }
    case IrOp::kLineage:
      out.kind = PlanNode::Kind::kLineage;
      out.lineage = static_cast<int32_t>(
          std::find(std::begin(kHostLineageKinds), std::end(kHostLineageKinds), n.lineage) - std::begin(kHostLineageKinds));
      out.handle = n.index;
      return Add(out);
    case IrOp::kField:
    case IrOp::kArith:
    case IrOp::kNeg:
    case IrOp::kVariable:
      out.kind = PlanNode::Kind::kTruth;  // a value used as a condition: true only when it is true
      return OnValue(std::move(out), id);
  }
  return Unsupported(n, "this node");
}

uint32_t Planner::Matchers(const IrNode& n) {
  std::vector<PlanPattern> group;
  for (uint32_t m = 0; m < n.count; ++m) {
    const eql::Matcher& matcher = p_.matchers[n.index + m];
    bool regex = matcher.kind() == eql::Matcher::Kind::kRegex;
    group.push_back({regex, matcher.insensitive(), regex ? matcher.literal() : matcher.Glob()});
  }
  plan.matchers.push_back(std::move(group));
  return static_cast<uint32_t>(plan.matchers.size() - 1);
}

Result<uint32_t> Planner::Value(uint32_t id, uint32_t reg) {
  const IrNode& n = p_.nodes[id];
  PlanNode out;
  out.reg = reg;
  switch (n.op) {
    case IrOp::kConst:
      out.kind = PlanNode::Kind::kConstant;
      out.handle = Constant(n.constant);
      return Add(std::move(out));
    case IrOp::kField:
      out.kind = PlanNode::Kind::kField;
      out.field = Field(n.field);
      return Add(std::move(out));
    case IrOp::kVariable:
      out.kind = PlanNode::Kind::kVariable;
      out.handle = n.index;
      return Add(std::move(out));
    case IrOp::kArith: {
      out.kind = PlanNode::Kind::kArith;
      out.cmp = n.cmp;
      KESTREL_ASSIGN_OR_RETURN(out.a, Value(n.children[0], NewRegister()));
      KESTREL_ASSIGN_OR_RETURN(out.b, Value(n.children[1], NewRegister()));
      return Add(std::move(out));
    }
    case IrOp::kNeg: {
      out.kind = PlanNode::Kind::kNeg;
      KESTREL_ASSIGN_OR_RETURN(out.a, Value(n.children[0], NewRegister()));
      return Add(std::move(out));
    }
    case IrOp::kCall: {
      out.builtin = n.builtin;
      if (n.builtin == eql::Builtin::kArrayCount || n.builtin == eql::Builtin::kArraySearch) {
        out.kind = PlanNode::Kind::kArrayLoop;
        out.handle = n.index;
        KESTREL_ASSIGN_OR_RETURN(out.a, Value(n.children[0], NewRegister()));
        KESTREL_ASSIGN_OR_RETURN(out.b, Node(n.children[1]));
        return Add(std::move(out));
      }
      out.kind = PlanNode::Kind::kCall;
      out.insensitive = n.insensitive;
      out.handle = UINT32_MAX;
      if (n.builtin == eql::Builtin::kMatch || n.builtin == eql::Builtin::kWildcard) out.handle = Matchers(n);
      KESTREL_TRY(Values(out, n, 0));
      return Add(std::move(out));
    }
    default: {  // a condition used as a value
      out.kind = PlanNode::Kind::kTri;
      KESTREL_ASSIGN_OR_RETURN(out.a, Node(id));
      return Add(std::move(out));
    }
  }
}

}  // namespace

int32_t HostOpCode(eql::Op op) {
  const auto* code = std::find(std::begin(kHostCompareOps), std::end(kHostCompareOps), op);
  if (code != std::end(kHostCompareOps)) return static_cast<int32_t>(code - std::begin(kHostCompareOps));
  return static_cast<int32_t>(std::find(std::begin(kHostArithOps), std::end(kHostArithOps), op) -
                              std::begin(kHostArithOps));
}

int32_t HostBuiltinCode(eql::Builtin b) {
  return static_cast<int32_t>(std::find(std::begin(kHostBuiltins), std::end(kHostBuiltins), b) -
                              std::begin(kHostBuiltins));
}

Result<PredicatePlan> MakePlan(const eql::Program& program, const SchemaRegistry& registry, std::string_view query) {
  Planner planner(program, registry, query);
  KESTREL_ASSIGN_OR_RETURN(uint32_t root, planner.Node(program.root));
  planner.plan.root = root;
  return std::move(planner.plan);
}

}  // namespace kestrel::runtime
