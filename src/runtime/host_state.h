// HostState: what one predicate instance (one rule on one worker) sees through Host API v1:
// the event under test, and the constants, sets, matchers and networks its pred_init set up.
// Its field tests are the native evaluator's own fast-path decisions (eql::CompareField and
// co.), so a backend that calls them decides every field exactly as the native backend does.
//
// Handles and indices come from predicate code, possibly user-written: a bad one never reads
// out of bounds; it makes the call return null (2) / -1 and records a fault, which the backend
// reports after the call (the evaluation then counts as an error, not a match).
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/arena.h"
#include "eql/evaluator.h"
#include "eql/ir.h"
#include "eql/matcher.h"
#include "event/event.h"
#include "schema/schema_registry.h"

namespace kestrel::runtime {

// Where a predicate's code comes from: our code generators (trusted, run as emitted) or a user
// (sandboxed and metered: docs/host-api.md).
enum class Trust : uint8_t { kGenerated, kUser };

// Host API field_compare's operator codes: code k means kHostCompareOps[k] (docs/host-api.md).
inline constexpr eql::Op kHostCompareOps[] = {eql::Op::kEq, eql::Op::kNe, eql::Op::kLt,
                                              eql::Op::kLe, eql::Op::kGt, eql::Op::kGe};

// val_arith's operator codes and val_call's function codes (docs/host-api.md).
inline constexpr eql::Op kHostArithOps[] = {eql::Op::kAdd, eql::Op::kSub, eql::Op::kMul, eql::Op::kDiv,
                                            eql::Op::kMod};
inline constexpr eql::Builtin kHostBuiltins[] = {
    eql::Builtin::kAdd,       eql::Builtin::kBetween,        eql::Builtin::kCidrMatch,     eql::Builtin::kConcat,
    eql::Builtin::kDivide,    eql::Builtin::kEndsWith,       eql::Builtin::kIndexOf,       eql::Builtin::kLength,
    eql::Builtin::kModulo,    eql::Builtin::kMultiply,       eql::Builtin::kNumber,        eql::Builtin::kStartsWith,
    eql::Builtin::kString,    eql::Builtin::kStringContains, eql::Builtin::kSubstring,     eql::Builtin::kSubtract,
    eql::Builtin::kArrayContains, eql::Builtin::kMatch,      eql::Builtin::kWildcard};
inline constexpr eql::LineageKind kHostLineageKinds[] = {eql::LineageKind::kChild, eql::LineageKind::kDescendant,
                                                         eql::LineageKind::kEvent};

// Element kinds of the Host API (eql::SKind's order).
enum class ElementKind : int32_t { kNull = 0, kBool, kInt, kFloat, kString, kIp, kTimestamp };

class HostState {
 public:
  explicit HostState(const SchemaRegistry& registry) : registry_(registry) {}

  // The event pred_eval runs on (handle 0); clears the per-event caches, values and notes.
  void set_event(const Event* event) {
    event_ = event;
    cached_field_ = -1;
    cached_value_ = nullptr;
    notes_.clear();
    scratch_.Reset();
    values_.BeginValues();
    regs_.clear();
  }
  // Answers the lineage function (null without one).
  void set_lineage(eql::LineageOracle* oracle) { values_.set_lineage(oracle); }

  // The first fault since the last call, if any ("" when none).
  const std::string& fault() const { return fault_; }
  void clear_fault() { fault_.clear(); }
  const std::vector<std::string>& notes() const { return notes_; }

  // Set-up.
  int32_t FieldIdOf(std::string_view name);
  int32_t ConstNew(int32_t kind, int64_t bits, std::string_view text);
  int32_t SetNew(bool insensitive);
  int32_t SetAdd(int32_t set, int32_t konst);
  int32_t MatcherNew();
  int32_t MatcherAdd(int32_t matcher, bool regex, std::string_view pattern, bool insensitive);
  int32_t NetNew();
  int32_t NetAdd(int32_t net, std::string_view cidr);

  // Event access.
  int32_t Has(int32_t ev, int32_t field);
  int32_t ArrayLen(int32_t ev, int32_t field);
  int32_t Kind(int32_t ev, int32_t field, int32_t idx);
  int64_t GetI64(int32_t ev, int32_t field, int32_t idx);
  int64_t GetU64(int32_t ev, int32_t field, int32_t idx);
  double GetF64(int32_t ev, int32_t field, int32_t idx);
  int32_t GetStr(int32_t ev, int32_t field, int32_t idx, char* buf, int32_t cap);
  int32_t GetIp(int32_t ev, int32_t field, int32_t idx, char* buf, int32_t cap);

  // Field tests (eql's CompareField & co.): tri.
  int32_t FieldCompare(int32_t ev, int32_t field, int32_t op, int32_t konst, bool insensitive);
  int32_t FieldInSet(int32_t ev, int32_t field, int32_t set);
  int32_t FieldMatch(int32_t ev, int32_t field, int32_t matcher);
  int32_t FieldCidr(int32_t ev, int32_t field, int32_t net);
  int32_t FieldIsNull(int32_t ev, int32_t field);
  int32_t StrMatch(int32_t matcher, std::string_view text);
  int32_t CidrMatch(int32_t net, std::string_view ip16);

  // Values (eql::Evaluator's value machine): the writers fill register `dst`, the tests answer a tri.
  void ValField(int32_t dst, int32_t ev, int32_t field);
  void ValConst(int32_t dst, int32_t konst);
  void ValTri(int32_t dst, int32_t tri);
  void ValI64(int32_t dst, int64_t value);
  void ValVar(int32_t dst, int32_t slot);
  void ValArith(int32_t dst, int32_t op, int32_t a, int32_t b);
  void ValNeg(int32_t dst, int32_t a);
  void ValCall(int32_t dst, int32_t fn, int32_t args, int32_t argc, bool insensitive, int32_t matcher);
  int32_t ValLen(int32_t reg);
  int32_t ValBind(int32_t slot, int32_t reg, int32_t idx);
  int32_t ValTruth(int32_t reg);
  int32_t ValCompare(int32_t op, int32_t a, int32_t b, bool insensitive);
  int32_t ValIsNull(int32_t reg);
  int32_t ValInSet(int32_t reg, int32_t set);
  int32_t ValInList(int32_t reg, int32_t items, int32_t count, bool insensitive);
  int32_t ValMatch(int32_t reg, int32_t matcher);
  int32_t Lineage(int32_t ev, int32_t kind, int32_t query);

  void AlertEmit(int32_t ev, std::string_view text);

  // For a fault found by a binding (e.g. a Wasm pointer out of bounds).
  void Fault(std::string message) {
    if (fault_.empty()) fault_ = std::move(message);
  }

 private:
  // The field's value in the event under test (cached per field), or null.
  const Value* FieldValue(int32_t ev, int32_t field);
  // Element `idx` of the field, or null (a fault when idx is out of range).
  const Value* Element(int32_t ev, int32_t field, int32_t idx);
  eql::Scalar ElementScalar(int32_t ev, int32_t field, int32_t idx);
  bool BadHandle(int32_t handle, size_t size, std::string_view what);

  struct MatcherGroup {
    std::vector<eql::Matcher> matchers;
    std::optional<eql::LiteralSet> exact;  // ExactSetOf(matchers), once they are all added
    bool exact_ready = false;
  };
  MatcherGroup* Group(int32_t matcher);
  using Range = eql::Evaluator::Range;
  // Register `reg`'s range, or nullopt (a fault) when it is out of range or was never written
  // since the event was set.
  std::optional<Range> Reg(int64_t reg);
  // Stores `r` in register `dst` (a fault when out of range or when the values outgrow their bound).
  void SetReg(int32_t dst, Range r);

  const SchemaRegistry& registry_;
  std::vector<std::optional<FieldId>> fields_;  // by field handle
  const Event* event_ = nullptr;
  int32_t cached_field_ = -1;
  const Value* cached_value_ = nullptr;
  std::vector<const Value*> flat_;  // the cached field's elements, when it nests arrays
  std::vector<eql::Scalar> constants_;
  std::deque<std::string> texts_;  // constants' bytes
  std::vector<eql::LiteralSet> sets_;
  std::vector<MatcherGroup> matchers_;
  std::vector<std::vector<eql::IpNetwork>> nets_;
  std::vector<std::string> notes_;
  std::string fault_;
  Arena scratch_{4096};
  eql::Evaluator values_;     // its value machine holds the registers' values
  std::vector<Range> regs_;   // by register; {0, 0}: not written
  std::vector<Range> list_;   // val_call / val_in_list's registers, reused
};

}  // namespace kestrel::runtime
