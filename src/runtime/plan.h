// PredicatePlan: what a generated predicate (Wasm or Lua) does, taken from an optimized IR
// program: the fields, constants, literal sets, matchers and networks its pred_init sets up, and
// a tree of Kleene and / or / not over conditions. Where the native evaluator's boolean fast path
// (Evaluator::EvalBool) decides a node from a field's elements, the plan calls the same Host API
// field test; any other node (functions, arithmetic, field-to-field comparisons, lineage, array
// functions) runs on the Host API's values: value nodes fill registers through the evaluator's
// own value operations and conditions test them. Only arrayCount / arraySearch loop (once per
// element of their array); all other code is straight-line.
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
    // Conditions: a tri.
    kAnd, kOr, kNot,  // children a (and b)
    kConst,           // tri
    kCompare,         // field cmp constants[handle] (insensitive), per element
    kInSet,           // field in sets[handle] (negated: not in)
    kMatch,           // field matches any of matchers[handle]
    kCidr,            // field in any of nets[handle]
    kIsNull, kIsNotNull,
    kTruth,           // value a's truth (a condition's value, a field used as one, ...)
    kValCompare,      // value a cmp value b (insensitive)
    kValIsNull, kValIsNotNull,  // value a
    kValInSet,        // value a in sets[handle] (negated)
    kValInList,       // value a == one of the values args (in registers from first_reg) (negated)
    kValMatch,        // value a matches matchers[handle]
    kLineage,         // lineage kind (host code `lineage`) of lineage query `handle`
    // Values: fill register `reg`.
    kField,           // field's elements
    kConstant,        // constants[handle]
    kTri,             // condition a as a value (true, false or null)
    kVariable,        // what the enclosing array loop bound to variable `handle`
    kArith,           // value a cmp value b, cmp an arithmetic operator
    kNeg,             // -value a
    kCall,            // builtin on args (in registers from first_reg), matchers[handle] for match / wildcard
    kArrayLoop,       // arrayCount / arraySearch (builtin): condition b per element of value a bound to variable `handle`
  };
  Kind kind = Kind::kConst;
  uint32_t a = 0, b = 0;
  uint32_t field = 0;   // index into PredicatePlan::fields
  uint32_t handle = 0;
  eql::Op cmp = eql::Op::kEq;  // as `field cmp constant`, or arithmetic
  bool insensitive = false;
  bool negated = false;
  uint8_t tri = 2;  // kConst: 0 false, 1 true, 2 null
  int32_t lineage = 0;                 // kLineage: its Host API kind code
  eql::Builtin builtin = eql::Builtin::kAdd;  // kCall, kArrayLoop
  uint32_t reg = 0;                    // values: the register they fill
  uint32_t first_reg = 0;              // kCall, kValInList: args[k] fills first_reg + k
  std::vector<uint32_t> args;          // kCall, kValInList: value nodes
};

// Is `n` a value (fills a register) rather than a condition?
inline bool IsValue(const PlanNode& n) { return n.kind >= PlanNode::Kind::kField; }

struct PredicatePlan {
  std::vector<std::string> fields;  // field names
  std::vector<PlanConstant> constants;
  std::vector<PlanSet> sets;
  std::vector<std::vector<PlanPattern>> matchers;
  std::vector<std::vector<std::string>> nets;
  std::vector<PlanNode> nodes;
  uint32_t root = 0;
  uint32_t registers = 0;  // value registers used (0 .. registers - 1)

  bool IsLeaf(const PlanNode& n) const {
    return n.kind != PlanNode::Kind::kAnd && n.kind != PlanNode::Kind::kOr && n.kind != PlanNode::Kind::kNot;
  }
};

// Host API operator code of `op`: a comparison (its place in kHostCompareOps) or arithmetic
// (kHostArithOps); of builtin `b` (kHostBuiltins).
int32_t HostOpCode(eql::Op op);
int32_t HostBuiltinCode(eql::Builtin b);

// The plan of `program`'s condition. `query` (the rule's text, may be empty) is quoted in the
// error that names the node no plan can express.
Result<PredicatePlan> MakePlan(const eql::Program& program, const SchemaRegistry& registry,
                               std::string_view query = {});

}  // namespace kestrel::runtime
