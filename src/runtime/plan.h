// PredicatePlan: what a generated predicate (Wasm or Lua) does, taken from an optimized IR
// program: the fields, constants, literal sets, matchers and networks its pred_init sets up, and
// a tree of Kleene and / or / not over element tests, each a loop over a field's elements that
// calls one Host API primitive. This is the native evaluator's boolean fast path (Evaluator::
// EvalBool), which the tests prove equal to its full evaluation; a program with any other node
// (arithmetic, functions other than cidrMatch, field-to-field comparisons, lineage, ...) has no
// plan, and MakePlan says which node, so the rule runs on the native backend or is refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "eql/ir.h"
#include "runtime/host_state.h"

namespace kestrel::runtime {

struct PlanConstant {
  ElementKind kind = ElementKind::kNull;
  int64_t bits = 0;   // bool, int, float (IEEE bits), timestamp
  std::string text;   // string bytes, or an ip's 16 bytes
};

struct PlanSet {
  bool insensitive = false;
  std::vector<uint32_t> items;  // constant indices
};

struct PlanPattern {
  bool regex = false;
  bool insensitive = false;
  std::string pattern;  // a glob (`*`, `?`) or an RE2 expression
};

struct PlanNode {
  enum class Kind : uint8_t {
    kAnd, kOr, kNot,  // children a (and b)
    kConst,           // tri
    kCompare,         // field cmp constants[handle] (insensitive), per element
    kInSet,           // field in sets[handle] (negated: not in)
    kMatch,           // field matches any of matchers[handle]
    kCidr,            // field in any of nets[handle]
    kIsNull, kIsNotNull,
  };
  Kind kind = Kind::kConst;
  uint32_t a = 0, b = 0;
  uint32_t field = 0;   // index into PredicatePlan::fields
  uint32_t handle = 0;
  eql::Op cmp = eql::Op::kEq;  // as `field cmp constant`
  bool insensitive = false;
  bool negated = false;
  uint8_t tri = 2;  // kConst: 0 false, 1 true, 2 null
};

struct PredicatePlan {
  std::vector<std::string> fields;  // field names
  std::vector<PlanConstant> constants;
  std::vector<PlanSet> sets;
  std::vector<std::vector<PlanPattern>> matchers;
  std::vector<std::vector<std::string>> nets;
  std::vector<PlanNode> nodes;
  uint32_t root = 0;

  bool IsLeaf(const PlanNode& n) const {
    return n.kind != PlanNode::Kind::kAnd && n.kind != PlanNode::Kind::kOr && n.kind != PlanNode::Kind::kNot;
  }
};

// Host API field_compare's operator code of `op`, a comparison (its place in kHostCompareOps).
int32_t HostOpCode(eql::Op op);

// The plan of `program`'s condition. `query` (the rule's text, may be empty) is quoted in the
// error that names the node no plan can express.
Result<PredicatePlan> MakePlan(const eql::Program& program, const SchemaRegistry& registry,
                               std::string_view query = {});

}  // namespace kestrel::runtime
