// The native backend: evaluates IR programs over events, with Elasticsearch EQL's
// three-valued logic (a missing field is null; comparing with null is null; `not null` is null;
// a query matches only on true) and multi-valued fields (a predicate holds if it holds for any
// element). No allocation per event once warmed up: values live on a reused stack and function
// results in a scratch arena reset per call. Test and Matches decide the boolean part of a
// condition (and / or / not over a field compared with a constant, `in` a literal set, `:` /
// like / regex, cidrMatch with constant networks and null tests on a field) straight from the
// event's values, and evaluate any other node on the stack; both give the same result.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "common/arena.h"
#include "eql/ir.h"
#include "event/event.h"

namespace kestrel::eql {

// Answers lineage questions (python-eql's `child of`, `descendant of`, `event of`) from a
// process table: is the event's process related to a process that matched lineage query `index`?
class LineageOracle {
 public:
  virtual ~LineageOracle() = default;
  virtual bool Related(LineageKind kind, uint32_t index, const Event& event) = 0;
};

// A double in Elasticsearch's text form ("1.0", "1.0E7").
std::string FormatDouble(double d);

// `b op a` as `a Mirror(op) b` (CompareScalars(a, b) is -CompareScalars(b, a)).
Op Mirror(Op op);

// Calls `visit` on the elements of a field's value (null when the field is missing) as the
// evaluator expands a field: the value itself, or an array's elements with those of arrays in it
// in place (once: deeper arrays stay whole); stops and returns true when `visit` does.
template <typename Visit>
bool VisitElements(const Value* v, Visit visit) {
  if (v == nullptr) return false;
  if (v->kind() != ValueKind::kArray) return visit(*v);
  for (const Value& e : v->as_array()) {
    if (e.kind() != ValueKind::kArray) {
      if (visit(e)) return true;
      continue;
    }
    for (const Value& inner : e.as_array()) {
      if (visit(inner)) return true;
    }
  }
  return false;
}

// Per-element helpers of the fast path (the field tests below are built on them; the Host API's
// element accessors in runtime/ use them too):
// `e op k` for one field element (CompareScalars(FromValue(e), k, insensitive), faster).
std::optional<int> CompareElement(const Value& e, const Scalar& k, bool insensitive);
// The address an element holds: an ip, or a string that parses as one.
std::optional<IpAddress> ElementIp(const Value& e);
// kInSet for one non-null scalar.
bool LiteralSetContains(const LiteralSet& set, const Scalar& x);
// A scalar as text, as `:` / like / regex see a non-string (numbers rendered plainly); copies
// into `arena` when it renders.
std::string_view ScalarText(const Scalar& s, Arena& arena);

// A three-valued truth: EQL's null is neither true nor false.
enum class Tri : uint8_t { kFalse, kTrue, kNull };

// Field-level tests of the boolean fast path, on a field's value `v` (null when the event does
// not have the field): the native evaluator's EvalBool and the Host API's field_* functions
// (runtime) both decide with these, so every backend gives the same answer.
Tri CompareField(const Value* v, Op op, const Scalar& k, bool insensitive);  // `field op k`
Tri FieldInSet(const Value* v, const LiteralSet& set);                       // `field in (...)`
// `field : (...)` / like / regex; a non-string element is matched as its text.
Tri FieldMatches(const Value* v, std::span<const Matcher> matchers, const LiteralSet* exact, Arena& scratch);
Tri FieldInNetworks(const Value* v, std::span<const IpNetwork> networks);  // cidrMatch(field, ...)
bool FieldIsNull(const Value* v);                                          // `field == null`

class Evaluator {
 public:
  // Lineage predicates evaluate to null without an oracle.
  void set_lineage(LineageOracle* oracle) { lineage_ = oracle; }

  // Does the event match the program (category and condition)? Null counts as no.
  // Where only truth matters, `a and b` stops at an `a` that is not true (false or null) and
  // `a or b` at an `a` that is: a rule's exclusions (`and not (...)`) are skipped as soon as a
  // condition before them is null.
  bool Matches(const Program& program, const Event& event);

  // true / false / null (nullopt) for the program's condition, after the category check.
  std::optional<bool> Test(const Program& program, const Event& event);

  // The truth of one boolean node of the program (its and / or / not and their operands), the
  // category not checked: for explaining a match node by node (`kestrel explain --rule`).
  Tri TestNode(const Program& program, uint32_t node, const Event& event);

  // The values of an expression program (a join key). Null values are included.
  // The scalars stay valid until the next call on this evaluator.
  const std::vector<Scalar>& Values(const Program& program, const Event& event);

  // Evaluates a constant program (no fields): used by the compiler's constant folding.
  const std::vector<Scalar>& Constant(const Program& program, uint32_t node);

  static bool CategoryMatches(const Program& program, const Event& event);

  // Off: Test and Values evaluate every node on the value stack (for differential tests).
  void set_boolean_fast_path(bool on) { fast_path_ = on; }

  // The value machine under Eval, one operation at a time: the Host API's val_* functions
  // (runtime/) run a condition's values through these, so a Wasm or Lua predicate computes every
  // value exactly as this evaluator does. Values live on the evaluator's stack as ranges (a
  // field's elements are many values); each Push* appends its result and returns its range,
  // valid until BeginValues, which clears the stack and the scratch space of computed strings.
  struct Range {
    uint32_t begin;
    uint32_t end;
    uint32_t size() const { return end - begin; }
  };
  // A builtin's call, without its arguments: match / wildcard carry their compiled patterns.
  struct Call {
    Builtin builtin = Builtin::kAdd;
    bool insensitive = false;
    std::span<const Matcher> matchers;
    const LiteralSet* exact = nullptr;
  };
  void BeginValues() {
    stack_.clear();
    scratch_.Reset();
  }
  uint32_t stack_size() const { return static_cast<uint32_t>(stack_.size()); }
  const Scalar& value(uint32_t i) const { return stack_[i]; }
  Range PushValue(const Scalar& s) { return Push(stack_size(), s); }
  Range PushField(const Value* v);  // the field's elements; null when missing or empty
  Range PushArith(Op op, Range a, Range b);
  Range PushNeg(Range a);
  // Any builtin but arrayCount and arraySearch (their loop is the caller's: BindVariable).
  Range PushCall(const Call& call, std::span<const Range> args) { return CallInto(call, args, stack_size()); }
  Tri CompareValues(Op op, Range a, Range b, bool insensitive) const;
  Tri TruthOf(Range r) const;
  bool IsNull(Range r) const;  // every value null
  Tri InSet(Range a, const LiteralSet& set) const;
  Tri InList(Range a, std::span<const Range> items, bool insensitive) const;
  Tri MatchValues(Range a, std::span<const Matcher> matchers, const LiteralSet* exact);
  Tri LineageOf(LineageKind kind, uint32_t index, const Event* event) const;
  // arrayCount / arraySearch's variable `slot`.
  void BindVariable(uint32_t slot, const Scalar& s);
  Scalar Variable(uint32_t slot) const { return slot < variables_.size() ? variables_[slot] : Scalar::Null(); }

 private:
  bool EvalTrue(const Program& p, uint32_t id, const Event* event);  // is the node true?
  Tri EvalBool(const Program& p, uint32_t id, const Event* event);
  Range Eval(const Program& p, uint32_t id, const Event* event);
  Range Push(uint32_t base, const Scalar& s);
  std::optional<bool> Truth(Range r) const;
  Range EvalCall(const Program& p, const IrNode& n, const Event* event, uint32_t base);
  // The call's results, moved down to `base` (where its arguments began, or the top).
  Range CallInto(const Call& call, std::span<const Range> args, uint32_t base);
  std::string_view Text(const Scalar& s);  // a scalar as text (numbers rendered plainly)

  std::vector<Scalar> stack_;
  std::vector<Scalar> variables_;  // arraySearch / arrayCount bindings, by slot
  std::vector<Range> args_;
  std::vector<Scalar> result_;
  std::string folded_;
  Arena scratch_{size_t{16} * 1024};
  LineageOracle* lineage_ = nullptr;
  bool fast_path_ = true;
};

}  // namespace kestrel::eql
