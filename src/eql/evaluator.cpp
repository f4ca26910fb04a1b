#include "eql/evaluator.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "event/ip_address.h"
#include "event/timestamp.h"

namespace kestrel::eql {

bool Evaluator::CategoryMatches(const Program& program, const Event& event) {
  if (program.category.empty()) return true;
  if (program.category_type && event.type() == *program.category_type) return true;
  if (!program.category_field) return false;
  const Value* v = event.Find(*program.category_field);
  if (v == nullptr) return false;
  if (v->kind() == ValueKind::kString) return v->as_string() == program.category;
  if (v->kind() != ValueKind::kArray) return false;
  for (const Value& e : v->as_array()) {
    if (e.kind() == ValueKind::kString && e.as_string() == program.category) return true;
  }
  return false;
}

namespace {

std::optional<bool> ToOptional(Tri t) {
  if (t == Tri::kNull) return std::nullopt;
  return t == Tri::kTrue;
}

Tri ToTri(std::optional<bool> b) {
  if (!b) return Tri::kNull;
  return *b ? Tri::kTrue : Tri::kFalse;
}

}  // namespace

bool Evaluator::Matches(const Program& program, const Event& event) {
  if (!fast_path_) {
    auto r = Test(program, event);
    return r.has_value() && *r;
  }
  if (!CategoryMatches(program, event)) return false;
  stack_.clear();
  scratch_.Reset();
  return EvalTrue(program, program.root, &event);
}

std::optional<bool> Evaluator::Test(const Program& program, const Event& event) {
  if (!CategoryMatches(program, event)) return false;
  stack_.clear();
  scratch_.Reset();
  if (fast_path_) return ToOptional(EvalBool(program, program.root, &event));
  return Truth(Eval(program, program.root, &event));
}

Tri Evaluator::TestNode(const Program& program, uint32_t node, const Event& event) {
  stack_.clear();
  scratch_.Reset();
  return EvalBool(program, node, &event);
}

const std::vector<Scalar>& Evaluator::Constant(const Program& program, uint32_t node) {
  stack_.clear();
  Range r = Eval(program, node, nullptr);
  result_.assign(stack_.begin() + r.begin, stack_.begin() + r.end);
  return result_;
}

Evaluator::Range Evaluator::Push(uint32_t base, const Scalar& s) {
  stack_.resize(base);
  stack_.push_back(s);
  return {base, base + 1};
}

std::optional<bool> Evaluator::Truth(Range r) const {
  bool any_false = false;
  for (uint32_t i = r.begin; i < r.end; ++i) {
    const Scalar& s = stack_[i];
    if (s.kind != SKind::kBool) continue;
    if (s.b) return true;
    any_false = true;
  }
  if (any_false) return false;
  return std::nullopt;
}

namespace {

bool AllNull(const std::vector<Scalar>& stack, uint32_t begin, uint32_t end) {
  for (uint32_t i = begin; i < end; ++i) {
    if (!stack[i].is_null()) return false;
  }
  return true;
}

bool Holds(Op op, int c) {
  switch (op) {
    case Op::kEq: return c == 0;
    case Op::kNe: return c != 0;
    case Op::kLt: return c < 0;
    case Op::kLe: return c <= 0;
    case Op::kGt: return c > 0;
    case Op::kGe: return c >= 0;
    default: return false;
  }
}

// The verdict of a comparison of multi-valued operands, fed one pair at a time: `!=` is the
// negation of `==` over all comparable pairs; the others hold if any pair holds. Null when no
// pair is comparable (as when either side is null).
class Verdict {
 public:
  explicit Verdict(Op op) : op_(op) {}
  // Adds one pair's comparison; true once the verdict cannot change.
  bool Add(std::optional<int> c) {
    if (!c) return false;
    comparable_ = true;
    holds_ = Holds(op_ == Op::kNe ? Op::kEq : op_, *c);
    return holds_;
  }
  Tri result() const {
    if (!comparable_) return Tri::kNull;
    return (op_ == Op::kNe) != holds_ ? Tri::kTrue : Tri::kFalse;
  }

 private:
  Op op_;
  bool comparable_ = false;
  bool holds_ = false;
};

// Does `test` (kTrue / kFalse, or kNull for a null element) hold for some element of a field?
// Null when every element is null (or there is none), like AllNull in Eval.
template <typename Test>
Tri AnyElement(const Value* v, Test test) {
  Tri out = Tri::kNull;
  VisitElements(v, [&](const Value& e) {
    Tri t = test(e);
    if (t != Tri::kNull) out = t;
    return t == Tri::kTrue;
  });
  return out;
}

Tri Not(Tri t) {
  if (t == Tri::kNull) return t;
  return t == Tri::kTrue ? Tri::kFalse : Tri::kTrue;
}

// Kleene `and` / `or`; `right` is evaluated only when `left` does not decide.
template <typename Right>
Tri AndOr(bool is_and, Tri left, Right right) {
  Tri decisive = is_and ? Tri::kFalse : Tri::kTrue;
  if (left == decisive) return left;
  Tri r = right();
  if (r == decisive) return r;
  return left == Tri::kNull || r == Tri::kNull ? Tri::kNull : Not(decisive);
}

Scalar ToScalar(Tri t) { return t == Tri::kNull ? Scalar::Null() : Scalar::Bool(t == Tri::kTrue); }

}  // namespace

Op Mirror(Op op) {
  switch (op) {
    case Op::kLt: return Op::kGt;
    case Op::kLe: return Op::kGe;
    case Op::kGt: return Op::kLt;
    case Op::kGe: return Op::kLe;
    default: return op;
  }
}

std::optional<int> CompareElement(const Value& e, const Scalar& k, bool insensitive) {
  if (e.kind() == ValueKind::kString && k.kind == SKind::kString) {
    return CompareStrings(e.as_string(), k.s, insensitive);
  }
  if (k.kind == SKind::kInt && (e.kind() == ValueKind::kI64 ||
                                (e.kind() == ValueKind::kU64 && e.as_u64() <= static_cast<uint64_t>(INT64_MAX)))) {
    int64_t x = e.as_i64();  // the same bits as as_u64() in range
    return x < k.i ? -1 : (x > k.i ? 1 : 0);
  }
  return CompareScalars(FromValue(e), k, insensitive);
}

Tri CompareField(const Value* v, Op op, const Scalar& k, bool insensitive) {
  Verdict verdict(op);
  VisitElements(v, [&](const Value& e) { return verdict.Add(CompareElement(e, k, insensitive)); });
  return verdict.result();
}

Tri FieldInSet(const Value* v, const LiteralSet& set) {
  return AnyElement(v, [&](const Value& e) {
    Scalar x = FromValue(e);
    return x.is_null() ? Tri::kNull : ToTri(LiteralSetContains(set, x));
  });
}

Tri FieldMatches(const Value* v, std::span<const Matcher> matchers, const LiteralSet* exact, Arena& scratch) {
  return AnyElement(v, [&](const Value& e) {
    if (e.kind() == ValueKind::kString) return ToTri(MatchesAny(matchers, exact, e.as_string()));
    Scalar x = FromValue(e);
    return x.is_null() ? Tri::kNull : ToTri(MatchesAny(matchers, exact, ScalarText(x, scratch)));
  });
}

Tri FieldInNetworks(const Value* v, std::span<const IpNetwork> networks) {
  return AnyElement(v, [&](const Value& e) {
    std::optional<IpAddress> ip = ElementIp(e);
    if (!ip) return Tri::kNull;  // not an address: like a null element
    for (const IpNetwork& net : networks) {
      if (NetworkContains(net, *ip)) return Tri::kTrue;
    }
    return Tri::kFalse;
  });
}

bool FieldIsNull(const Value* v) {
  auto non_null = [](const Value& e) { return FromValue(e).is_null() ? Tri::kNull : Tri::kFalse; };
  return AnyElement(v, non_null) == Tri::kNull;
}

std::optional<IpAddress> ElementIp(const Value& e) {
  if (e.kind() == ValueKind::kIp) return e.as_ip();
  if (e.kind() == ValueKind::kString) return ParseIp(e.as_string());
  return std::nullopt;
}

bool LiteralSetContains(const LiteralSet& set, const Scalar& x) {
  if (x.kind == SKind::kString && LiteralSetHas(set, x.s)) return true;
  for (const Scalar& y : set.others) {
    auto c = CompareScalars(x, y, set.insensitive);
    if (c && *c == 0) return true;
  }
  if (x.kind != SKind::kString && x.kind != SKind::kNull) {
    // A number or address against string literals ("4" in a set holding "4").
    return set.strings.Any([&](std::string_view s) {
      auto c = CompareScalars(x, Scalar::String(s), set.insensitive);
      return c && *c == 0;
    });
  }
  return false;
}

std::string_view ScalarText(const Scalar& s, Arena& arena) {
  std::string tmp;
  switch (s.kind) {
    case SKind::kString: return s.s;
    case SKind::kInt: tmp = std::to_string(s.i); break;
    case SKind::kFloat: tmp = FormatDouble(s.f); break;
    case SKind::kBool: return s.b ? "true" : "false";
    case SKind::kIp: tmp = FormatIp(s.ip); break;
    case SKind::kTimestamp: tmp = FormatTimestamp(s.i); break;
    case SKind::kNull: return {};
  }
  return arena.CopyString(tmp);
}

Tri Evaluator::CompareValues(Op op, Range a, Range b, bool insensitive) const {
  if (IsNull(a) || IsNull(b)) return Tri::kNull;
  Verdict verdict(op);
  bool decided = false;
  for (uint32_t i = a.begin; i < a.end && !decided; ++i) {
    for (uint32_t j = b.begin; j < b.end && !decided; ++j) {
      decided = verdict.Add(CompareScalars(stack_[i], stack_[j], insensitive));
    }
  }
  return verdict.result();
}

Tri Evaluator::TruthOf(Range r) const { return ToTri(Truth(r)); }

bool Evaluator::IsNull(Range r) const { return AllNull(stack_, r.begin, r.end); }

Tri Evaluator::InSet(Range a, const LiteralSet& set) const {
  if (IsNull(a)) return Tri::kNull;
  bool found = false;
  for (uint32_t i = a.begin; i < a.end && !found; ++i) found = LiteralSetContains(set, stack_[i]);
  return ToTri(found);
}

Tri Evaluator::InList(Range a, std::span<const Range> items, bool insensitive) const {
  if (IsNull(a)) return Tri::kNull;
  bool found = false;
  for (size_t k = 0; k < items.size() && !found; ++k) found = CompareValues(Op::kEq, a, items[k], insensitive) == Tri::kTrue;
  return ToTri(found);
}

Tri Evaluator::MatchValues(Range a, std::span<const Matcher> matchers, const LiteralSet* exact) {
  if (IsNull(a)) return Tri::kNull;
  bool found = false;
  for (uint32_t i = a.begin; i < a.end && !found; ++i) {
    if (!stack_[i].is_null()) found = MatchesAny(matchers, exact, Text(stack_[i]));
  }
  return ToTri(found);
}

Tri Evaluator::LineageOf(LineageKind kind, uint32_t index, const Event* event) const {
  if (lineage_ == nullptr || event == nullptr) return Tri::kNull;
  return ToTri(lineage_->Related(kind, index, *event));
}

void Evaluator::BindVariable(uint32_t slot, const Scalar& s) {
  if (variables_.size() <= slot) variables_.resize(slot + 1);
  variables_[slot] = s;
}

Evaluator::Range Evaluator::PushField(const Value* v) {
  uint32_t base = stack_size();
  VisitElements(v, [&](const Value& e) {
    stack_.push_back(FromValue(e));
    return false;
  });
  if (stack_.size() == base) stack_.push_back(Scalar::Null());  // missing, or []
  return {base, stack_size()};
}

Evaluator::Range Evaluator::PushArith(Op op, Range a, Range b) {
  auto r = Arithmetic(op, stack_[a.begin], stack_[b.begin]);
  return PushValue(r ? *r : Scalar::Null());
}

Evaluator::Range Evaluator::PushNeg(Range a) {
  const Scalar x = stack_[a.begin];
  if (x.kind == SKind::kInt && x.i != INT64_MIN) return PushValue(Scalar::Int(-x.i));
  if (x.kind == SKind::kFloat) return PushValue(Scalar::Float(-x.f));
  return PushValue(Scalar::Null());
}

bool Evaluator::EvalTrue(const Program& p, uint32_t id, const Event* event) {
  const IrNode& n = p.nodes[id];
  // Kleene: `and` is true when both sides are, `or` when either is.
  if (n.op == IrOp::kAnd) return EvalTrue(p, n.children[0], event) && EvalTrue(p, n.children[1], event);
  if (n.op == IrOp::kOr) return EvalTrue(p, n.children[0], event) || EvalTrue(p, n.children[1], event);
  return EvalBool(p, id, event) == Tri::kTrue;
}

Tri Evaluator::EvalBool(const Program& p, uint32_t id, const Event* event) {
  const IrNode& n = p.nodes[id];
  auto field = [&](const IrNode& f) { return event != nullptr ? event->Find(f.field) : nullptr; };
  switch (n.op) {
    case IrOp::kAnd:
    case IrOp::kOr:
      return AndOr(n.op == IrOp::kAnd, EvalBool(p, n.children[0], event),
                   [&] { return EvalBool(p, n.children[1], event); });
    case IrOp::kNot: return Not(EvalBool(p, n.children[0], event));
    case IrOp::kCompare: {
      const IrNode& a = p.nodes[n.children[0]];
      const IrNode& b = p.nodes[n.children[1]];
      bool field_left = a.op == IrOp::kField && b.op == IrOp::kConst;
      if (!field_left && !(a.op == IrOp::kConst && b.op == IrOp::kField)) break;
      return CompareField(field(field_left ? a : b), field_left ? n.cmp : Mirror(n.cmp),
                          field_left ? b.constant : a.constant, n.insensitive);
    }
    case IrOp::kInSet: {
      if (p.nodes[n.children[0]].op != IrOp::kField) break;
      Tri t = FieldInSet(field(p.nodes[n.children[0]]), p.sets[n.index]);
      return n.negated ? Not(t) : t;
    }
    case IrOp::kMatch:
      if (p.nodes[n.children[0]].op != IrOp::kField) break;
      return FieldMatches(field(p.nodes[n.children[0]]), std::span<const Matcher>(p.matchers).subspan(n.index, n.count),
                          n.exact_set != UINT32_MAX ? &p.sets[n.exact_set] : nullptr, scratch_);
    case IrOp::kCall:
      // cidrMatch(field, networks...) with constant networks, parsed once by the optimizer.
      if (n.builtin != Builtin::kCidrMatch || n.count == 0 || p.nodes[n.children[0]].op != IrOp::kField) break;
      return FieldInNetworks(field(p.nodes[n.children[0]]),
                             std::span<const IpNetwork>(p.networks).subspan(n.index, n.count));
    case IrOp::kIsNull:
    case IrOp::kIsNotNull: {
      if (p.nodes[n.children[0]].op != IrOp::kField) break;
      bool null = FieldIsNull(field(p.nodes[n.children[0]]));
      return (n.op == IrOp::kIsNull) == null ? Tri::kTrue : Tri::kFalse;
    }
    default: break;
  }
  auto base = stack_.size();
  Tri t = ToTri(Truth(Eval(p, id, event)));
  stack_.resize(base);
  return t;
}

// A double as Elasticsearch (Java's Double.toString) prints it: "1.0", "0.5", "1.0E7", "NaN".
std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  double a = std::fabs(d);
  char buf[40];
  if (a == 0 || (a >= 1e-3 && a < 1e7)) {
    auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), d);
    std::string out(buf, p);
    if (out.find('.') == std::string::npos) out += ".0";
    return out;
  }
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, p);  // e.g. 1.2345e+07
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  int exponent = std::stoi(sci.substr(e + 1));
  return mantissa + "E" + std::to_string(exponent);
}

std::string_view Evaluator::Text(const Scalar& s) { return ScalarText(s, scratch_); }

Evaluator::Range Evaluator::Eval(const Program& p, uint32_t id, const Event* event) {
  const IrNode& n = p.nodes[id];
  auto base = static_cast<uint32_t>(stack_.size());
  // Each operation's result moves down to `base`, over its operands.
  auto result = [&](Range r) {
    if (r.begin == base) return r;
    std::copy(stack_.begin() + r.begin, stack_.begin() + r.end, stack_.begin() + base);
    stack_.resize(base + r.size());
    return Range{base, base + r.size()};
  };
  auto tri = [&](Tri t) { return Push(base, ToScalar(t)); };
  switch (n.op) {
    case IrOp::kConst: return Push(base, n.constant);
    case IrOp::kField: return PushField(event != nullptr ? event->Find(n.field) : nullptr);
    case IrOp::kAnd:
    case IrOp::kOr: {
      Tri left = TruthOf(Eval(p, n.children[0], event));
      stack_.resize(base);
      auto right = [&] { return TruthOf(Eval(p, n.children[1], event)); };
      return tri(AndOr(n.op == IrOp::kAnd, left, right));
    }
    case IrOp::kNot: return tri(Not(TruthOf(Eval(p, n.children[0], event))));
    case IrOp::kCompare: {
      Range a = Eval(p, n.children[0], event);
      Range b = Eval(p, n.children[1], event);
      return tri(CompareValues(n.cmp, a, b, n.insensitive));
    }
    case IrOp::kIsNull:
    case IrOp::kIsNotNull: {
      bool null = IsNull(Eval(p, n.children[0], event));
      return Push(base, Scalar::Bool(n.op == IrOp::kIsNull ? null : !null));
    }
    case IrOp::kArith: {
      Range a = Eval(p, n.children[0], event);
      Range b = Eval(p, n.children[1], event);
      return result(PushArith(n.cmp, a, b));
    }
    case IrOp::kNeg: return result(PushNeg(Eval(p, n.children[0], event)));
    case IrOp::kInSet: {
      Tri t = InSet(Eval(p, n.children[0], event), p.sets[n.index]);
      return tri(n.negated ? Not(t) : t);
    }
    case IrOp::kInList: {
      Range a = Eval(p, n.children[0], event);
      auto arg_base = static_cast<uint32_t>(args_.size());
      for (size_t k = 1; k < n.children.size(); ++k) args_.push_back(Eval(p, n.children[k], event));
      Tri t = InList(a, std::span<const Range>(args_).subspan(arg_base), n.insensitive);
      args_.resize(arg_base);
      return tri(n.negated ? Not(t) : t);
    }
    case IrOp::kMatch:
      return tri(MatchValues(Eval(p, n.children[0], event),
                             std::span<const Matcher>(p.matchers).subspan(n.index, n.count),
                             n.exact_set != UINT32_MAX ? &p.sets[n.exact_set] : nullptr));
    case IrOp::kCall: return EvalCall(p, n, event, base);
    case IrOp::kVariable: return Push(base, Variable(n.index));
    case IrOp::kLineage: return tri(LineageOf(n.lineage, n.index, event));
  }
  return Push(base, Scalar::Null());
}

const std::vector<Scalar>& Evaluator::Values(const Program& program, const Event& event) {
  const IrNode& root = program.nodes[program.root];
  if (fast_path_ && root.op == IrOp::kField) {  // a plain field (most join keys): no stack
    result_.clear();
    VisitElements(event.Find(root.field), [&](const Value& e) {
      result_.push_back(FromValue(e));
      return false;
    });
    if (result_.empty()) result_.push_back(Scalar::Null());  // missing, or []
    return result_;
  }
  stack_.clear();
  scratch_.Reset();
  Range r = Eval(program, program.root, &event);
  result_.assign(stack_.begin() + r.begin, stack_.begin() + r.end);
  return result_;
}

}  // namespace kestrel::eql
