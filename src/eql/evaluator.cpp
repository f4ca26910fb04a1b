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

std::optional<bool> Evaluator::Test(const Program& program, const Event& event) {
  if (!CategoryMatches(program, event)) return false;
  stack_.clear();
  scratch_.Reset();
  Range r = Eval(program, program.root, &event);
  return Truth(r);
}

const std::vector<Scalar>& Evaluator::Values(const Program& program, const Event& event) {
  stack_.clear();
  scratch_.Reset();
  Range r = Eval(program, program.root, &event);
  result_.assign(stack_.begin() + r.begin, stack_.begin() + r.end);
  return result_;
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


}  // namespace

std::optional<bool> Evaluator::CompareRanges(Op op, Range a, Range b, bool insensitive) const {
  if (AllNull(stack_, a.begin, a.end) || AllNull(stack_, b.begin, b.end)) return std::nullopt;
  // `!=` is the negation of `==` over all elements; the others hold if any pair holds.
  Op test = op == Op::kNe ? Op::kEq : op;
  bool any = false, comparable = false;
  for (uint32_t i = a.begin; i < a.end && !any; ++i) {
    for (uint32_t j = b.begin; j < b.end; ++j) {
      auto c = CompareScalars(stack_[i], stack_[j], insensitive);
      if (!c) continue;
      comparable = true;
      if (Holds(test, *c)) {
        any = true;
        break;
      }
    }
  }
  if (op == Op::kNe) return comparable ? std::optional<bool>(!any) : std::nullopt;
  if (any) return true;
  return comparable ? std::optional<bool>(false) : std::nullopt;
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

std::string_view Evaluator::Text(const Scalar& s) {
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
  return scratch_.CopyString(tmp);
}

Evaluator::Range Evaluator::Eval(const Program& p, uint32_t id, const Event* event) {
  const IrNode& n = p.nodes[id];
  auto base = static_cast<uint32_t>(stack_.size());
  switch (n.op) {
    case IrOp::kConst: return Push(base, n.constant);
    case IrOp::kField: {
      const Value* v = event != nullptr ? event->Find(n.field) : nullptr;
      if (v == nullptr || v->is_null()) return Push(base, Scalar::Null());
      if (v->kind() != ValueKind::kArray) return Push(base, FromValue(*v));
      for (const Value& element : v->as_array()) {
        if (element.kind() == ValueKind::kArray) {
          for (const Value& inner : element.as_array()) stack_.push_back(FromValue(inner));
        } else {
          stack_.push_back(FromValue(element));
        }
      }
      if (stack_.size() == base) stack_.push_back(Scalar::Null());  // [] is null
      return {base, static_cast<uint32_t>(stack_.size())};
    }
    case IrOp::kAnd:
    case IrOp::kOr: {
      bool is_and = n.op == IrOp::kAnd;
      auto left = Truth(Eval(p, n.children[0], event));
      stack_.resize(base);
      if (left.has_value() && *left != is_and) return Push(base, Scalar::Bool(*left));  // short circuit
      auto right = Truth(Eval(p, n.children[1], event));
      if (right.has_value() && *right != is_and) return Push(base, Scalar::Bool(*right));
      if (left.has_value() && right.has_value()) return Push(base, Scalar::Bool(is_and));
      return Push(base, Scalar::Null());
    }
    case IrOp::kNot: {
      auto t = Truth(Eval(p, n.children[0], event));
      return Push(base, t ? Scalar::Bool(!*t) : Scalar::Null());
    }
    case IrOp::kCompare: {
      Range a = Eval(p, n.children[0], event);
      Range b = Eval(p, n.children[1], event);
      auto r = CompareRanges(n.cmp, a, b, n.insensitive);
      return Push(base, r ? Scalar::Bool(*r) : Scalar::Null());
    }
    case IrOp::kIsNull:
    case IrOp::kIsNotNull: {
      Range a = Eval(p, n.children[0], event);
      bool null = AllNull(stack_, a.begin, a.end);
      return Push(base, Scalar::Bool(n.op == IrOp::kIsNull ? null : !null));
    }
    case IrOp::kArith: {
      Range a = Eval(p, n.children[0], event);
      Range b = Eval(p, n.children[1], event);
      auto r = Arithmetic(n.cmp, stack_[a.begin], stack_[b.begin]);
      return Push(base, r ? *r : Scalar::Null());
    }
    case IrOp::kNeg: {
      Range a = Eval(p, n.children[0], event);
      const Scalar& x = stack_[a.begin];
      if (x.kind == SKind::kInt && x.i != INT64_MIN) return Push(base, Scalar::Int(-x.i));
      if (x.kind == SKind::kFloat) return Push(base, Scalar::Float(-x.f));
      return Push(base, Scalar::Null());
    }
    case IrOp::kInSet: {
      Range a = Eval(p, n.children[0], event);
      if (AllNull(stack_, a.begin, a.end)) return Push(base, Scalar::Null());
      const LiteralSet& set = p.sets[n.index];
      bool found = false;
      for (uint32_t i = a.begin; i < a.end && !found; ++i) {
        const Scalar& x = stack_[i];
        if (x.kind == SKind::kString) {
          if (set.insensitive) {
            FoldCaseInto(folded_, x.s);
            found = set.strings.find(std::string_view(folded_)) != set.strings.end();
          } else {
            found = set.strings.find(x.s) != set.strings.end();
          }
          if (found) break;
        }
        for (const Scalar& y : set.others) {
          auto c = CompareScalars(x, y, set.insensitive);
          if (c && *c == 0) {
            found = true;
            break;
          }
        }
        if (!found && x.kind != SKind::kString && x.kind != SKind::kNull && !set.strings.empty()) {
          // A number or address against string literals ("4" in a set holding "4").
          for (const std::string& s : set.strings) {
            auto c = CompareScalars(x, Scalar::String(s), set.insensitive);
            if (c && *c == 0) {
              found = true;
              break;
            }
          }
        }
      }
      return Push(base, Scalar::Bool(n.negated ? !found : found));
    }
    case IrOp::kInList: {
      Range a = Eval(p, n.children[0], event);
      if (AllNull(stack_, a.begin, a.end)) return Push(base, Scalar::Null());
      bool found = false;
      for (size_t k = 1; k < n.children.size() && !found; ++k) {
        Range b = Eval(p, n.children[k], event);
        auto r = CompareRanges(Op::kEq, a, b, n.insensitive);
        found = r.has_value() && *r;
      }
      return Push(base, Scalar::Bool(n.negated ? !found : found));
    }
    case IrOp::kMatch: {
      Range a = Eval(p, n.children[0], event);
      if (AllNull(stack_, a.begin, a.end)) return Push(base, Scalar::Null());
      bool found = false;
      for (uint32_t i = a.begin; i < a.end && !found; ++i) {
        if (stack_[i].is_null()) continue;
        std::string_view text = Text(stack_[i]);
        for (uint32_t m = 0; m < n.count && !found; ++m) found = p.matchers[n.index + m].Matches(text);
      }
      return Push(base, Scalar::Bool(found));
    }
    case IrOp::kCall: return EvalCall(p, n, event, base);
    case IrOp::kVariable:
      return Push(base, n.index < variables_.size() ? variables_[n.index] : Scalar::Null());
    case IrOp::kLineage:
      if (lineage_ == nullptr || event == nullptr) return Push(base, Scalar::Null());
      return Push(base, Scalar::Bool(lineage_->Related(n.lineage, n.index, *event)));
  }
  return Push(base, Scalar::Null());
}

}  // namespace kestrel::eql
