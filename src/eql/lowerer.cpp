#include "eql/lowerer.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "eql/evaluator.h"
#include "eql/optimizer.h"
#include "event/ip_address.h"

namespace kestrel::eql {
namespace {

struct BuiltinInfo {
  std::string_view name;  // lower case
  Builtin builtin;
  uint8_t min_args;
  uint8_t max_args;  // 255: variadic
  bool has_insensitive;
};

constexpr BuiltinInfo kBuiltins[] = {
    {"add", Builtin::kAdd, 2, 2, false},
    {"between", Builtin::kBetween, 3, 4, true},
    {"cidrmatch", Builtin::kCidrMatch, 2, 255, false},
    {"concat", Builtin::kConcat, 1, 255, false},
    {"divide", Builtin::kDivide, 2, 2, false},
    {"endswith", Builtin::kEndsWith, 2, 2, true},
    {"indexof", Builtin::kIndexOf, 2, 3, true},
    {"length", Builtin::kLength, 1, 1, false},
    {"modulo", Builtin::kModulo, 2, 2, false},
    {"multiply", Builtin::kMultiply, 2, 2, false},
    {"number", Builtin::kNumber, 1, 2, false},
    {"startswith", Builtin::kStartsWith, 2, 2, true},
    {"string", Builtin::kString, 1, 1, false},
    {"stringcontains", Builtin::kStringContains, 2, 2, true},
    {"substring", Builtin::kSubstring, 2, 3, false},
    {"subtract", Builtin::kSubtract, 2, 2, false},
    {"arraycontains", Builtin::kArrayContains, 2, 255, true},
    {"match", Builtin::kMatch, 2, 255, true},
    {"wildcard", Builtin::kWildcard, 2, 255, true},
    {"arraycount", Builtin::kArrayCount, 3, 3, false},
    {"arraysearch", Builtin::kArraySearch, 3, 3, false},
};

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

template <class Names>
std::string DidYouMean(std::string_view name, const Names& names) {
  std::string_view best;
  size_t best_d = std::max<size_t>(2, name.size() / 4) + 1;
  for (std::string_view candidate : names) {
    if (candidate.size() + best_d < name.size() || name.size() + best_d < candidate.size()) continue;
    size_t d = EditDistance(name, candidate);
    if (d < best_d) {
      best_d = d;
      best = candidate;
    }
  }
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

}  // namespace

// A boolean program for an event query (category + condition).
bool Lowerer::LowerEventQuery(const EventQuery& q, Program& program) {
  program = Program{};
  program.category = q.category;
  program.category_type = registry_.FindEventType(q.category);
  program.category_field = registry_.Find("event.category");
  program_ = &program;
  auto root = Lower(*q.condition);
  if (!root) return false;
  program.root = *root;
  Optimize(program, &registry_);
  return true;
}

// A value program for one expression (join keys, pipe arguments).
bool Lowerer::LowerExpression(const Expr& e, Program& program) {
  program = Program{};
  program_ = &program;
  auto root = Lower(e);
  if (!root) return false;
  program.root = *root;
  return true;
}

bool Lowerer::Fail(Span span, std::string message) {
  diagnostics_.push_back({span, std::move(message)});
  return false;
}

uint32_t Lowerer::Add(IrNode node) {
  program_->nodes.push_back(std::move(node));
  return static_cast<uint32_t>(program_->nodes.size() - 1);
}

uint32_t Lowerer::AddConst(const Scalar& value, Span span) {
  IrNode n;
  n.op = IrOp::kConst;
  n.constant = value;
  if (value.kind == SKind::kString) {
    program_->strings.emplace_back(value.s);
    n.constant.s = program_->strings.back();
  }
  n.span = span;
  return Add(std::move(n));
}

bool Lowerer::IsConst(uint32_t id) const { return program_->nodes[id].op == IrOp::kConst; }

// Folds a node whose operands are all constants into one constant.
uint32_t Lowerer::Fold(uint32_t id) {
  const IrNode& n = program_->nodes[id];
  if (n.op == IrOp::kConst || n.op == IrOp::kField || n.children.empty()) return id;
  for (uint32_t c : n.children) {
    if (!IsConst(c)) return id;
  }
  Evaluator evaluator;
  const std::vector<Scalar>& values = evaluator.Constant(*program_, id);
  if (values.size() != 1) return id;
  Span span = n.span;
  return AddConst(values[0], span);
}

std::optional<uint32_t> Lowerer::Lower(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral: {
      switch (e.literal) {
        case LiteralKind::kNull: return AddConst(Scalar::Null(), e.span);
        case LiteralKind::kBool: return AddConst(Scalar::Bool(e.bool_value), e.span);
        case LiteralKind::kInteger: return AddConst(Scalar::Int(e.int_value), e.span);
        case LiteralKind::kDecimal: return AddConst(Scalar::Float(e.decimal_value), e.span);
        case LiteralKind::kString: return AddConst(Scalar::String(e.string_value), e.span);
      }
      return std::nullopt;
    }
    case ExprKind::kField: return LowerField(e);
    case ExprKind::kUnary: {
      auto operand = Lower(*e.children[0]);
      if (!operand) return std::nullopt;
      IrNode n;
      n.op = e.op == Op::kNot ? IrOp::kNot : IrOp::kNeg;
      n.children = {*operand};
      n.span = e.span;
      return Fold(Add(std::move(n)));
    }
    case ExprKind::kBinary: return LowerBinary(e);
    case ExprKind::kMatch: return LowerMatch(e);
    case ExprKind::kCall: return LowerCall(e);
    case ExprKind::kLineage: {
      // The bracketed query compiles to its own program; the node refers to it by index.
      Program* outer = program_;
      CompiledLineage sub{e.lineage, Program{}};
      bool ok = LowerEventQuery(*e.lineage_query, sub.query);
      program_ = outer;
      if (!ok) return std::nullopt;
      IrNode n;
      n.op = IrOp::kLineage;
      n.lineage = e.lineage;
      n.index = static_cast<uint32_t>(lineage_->size());
      n.span = e.span;
      lineage_->push_back(std::move(sub));
      return Add(std::move(n));
    }
  }
  return std::nullopt;
}

std::optional<uint32_t> Lowerer::LowerField(const Expr& e) {
  for (size_t slot = scope_.size(); slot-- > 0;) {  // a variable of arraySearch / arrayCount
    if (e.string_value == scope_[slot]) {
      IrNode n;
      n.op = IrOp::kVariable;
      n.index = static_cast<uint32_t>(slot);
      n.span = e.span;
      return Add(std::move(n));
    }
    if (e.string_value.starts_with(scope_[slot] + ".")) {
      Fail(e.span, fmt::format("'{}' is an array element; its fields cannot be named (arrays of objects are "
                               "flattened into one array per field)",
                               scope_[slot]));
      return std::nullopt;
    }
  }
  auto id = registry_.Find(e.string_value);
  if (!id) {
    if (e.optional) return AddConst(Scalar::Null(), e.span);  // `?field` that nothing has: null
    std::vector<std::string_view> names;
    names.reserve(registry_.size());
    for (uint32_t i = 0; i < registry_.size(); ++i) names.push_back(registry_.name(FieldId{i}));
    Fail(e.span, fmt::format("unknown field '{}'{}", e.string_value, DidYouMean(e.string_value, names)));
    return std::nullopt;
  }
  IrNode n;
  n.op = IrOp::kField;
  n.field = *id;
  n.span = e.span;
  return Add(std::move(n));
}

// `null`, or an optional field that no event has (Elasticsearch folds those to null).
bool Lowerer::IsNullLiteral(const Expr& x) const {
  if (x.kind == ExprKind::kLiteral) return x.literal == LiteralKind::kNull;
  return x.kind == ExprKind::kField && x.optional && !registry_.Find(x.string_value);
}

std::optional<uint32_t> Lowerer::LowerBinary(const Expr& e) {
  const Expr& l = *e.children[0];
  const Expr& r = *e.children[1];
  bool l_null = IsNullLiteral(l);
  bool r_null = IsNullLiteral(r);
  if ((e.op == Op::kEq || e.op == Op::kNe) && l_null && r_null) {
    return AddConst(Scalar::Bool(e.op == Op::kEq), e.span);  // null == null
  }
  if ((e.op == Op::kEq || e.op == Op::kNe) && (l_null || r_null)) {
    // `x == null` / `x != null` test for absence, as in Elasticsearch.
    auto operand = Lower(l_null ? r : l);
    if (!operand) return std::nullopt;
    IrNode n;
    n.op = e.op == Op::kEq ? IrOp::kIsNull : IrOp::kIsNotNull;
    n.children = {*operand};
    n.span = e.span;
    return Fold(Add(std::move(n)));
  }
  auto a = Lower(l);
  auto b = Lower(r);
  if (!a || !b) return std::nullopt;
  if (e.op == Op::kEq || e.op == Op::kNe || e.op == Op::kLt || e.op == Op::kLe || e.op == Op::kGt ||
      e.op == Op::kGe) {
    if (!CheckComparable(*a, *b, e.span) || !CheckComparable(*b, *a, e.span)) return std::nullopt;
  }
  IrNode n;
  n.span = e.span;
  n.children = {*a, *b};
  switch (e.op) {
    case Op::kAnd: n.op = IrOp::kAnd; break;
    case Op::kOr: n.op = IrOp::kOr; break;
    case Op::kEq: case Op::kNe: case Op::kLt: case Op::kLe: case Op::kGt: case Op::kGe:
      n.op = IrOp::kCompare;
      n.cmp = e.op;
      n.insensitive = options_.case_insensitive && (e.op == Op::kEq || e.op == Op::kNe);
      if (options_.dialect == Dialect::kPythonEql && (e.op == Op::kEq || e.op == Op::kNe)) {
        return LowerPythonEquality(e, *a, *b);
      }
      break;
    default:
      n.op = IrOp::kArith;
      n.cmp = e.op;
      break;
  }
  return Fold(Add(std::move(n)));
}

// Rejects comparisons that can never hold: a catalog field of a declared type against a
// literal of another (`process.pid == "bash"`, `process.name > 5`, `destination.ip == "x"`).
// Dynamic fields are typed by data, which may mix kinds, so they are not checked.
bool Lowerer::CheckComparable(uint32_t field_node, uint32_t literal_node, Span span) {
  const IrNode& f = program_->nodes[field_node];
  const IrNode& c = program_->nodes[literal_node];
  if (f.op != IrOp::kField || c.op != IrOp::kConst || c.constant.is_null()) return true;
  const FieldInfo& info = registry_.info(f.field);
  if (info.dynamic) return true;
  const Scalar& v = c.constant;
  bool ok = true;
  std::string_view what;
  switch (info.type.scalar) {
    case ValueKind::kI64:
    case ValueKind::kU64:
    case ValueKind::kF64:
      ok = v.is_number() || (v.kind == SKind::kString && CompareScalars(v, Scalar::Int(0)).has_value());
      what = "a number";
      break;
    case ValueKind::kString: ok = v.kind == SKind::kString; what = "a string"; break;
    case ValueKind::kBool: ok = v.kind == SKind::kBool; what = "a boolean"; break;
    case ValueKind::kIp:
      ok = v.kind == SKind::kString && ParseIp(v.s).has_value();
      what = "an IP address";
      break;
    case ValueKind::kTimestamp:
      ok = v.is_number() || (v.kind == SKind::kString && CompareScalars(v, Scalar::Timestamp(0)).has_value());
      what = "a date";
      break;
    default: return true;
  }
  if (ok) return true;
  return Fail(span, fmt::format("cannot compare field '{}' ({}) with {}: it holds {}", registry_.name(f.field),
                                FieldTypeName(info.type), PrintNodeValue(c.constant), what));
}

std::string Lowerer::PrintNodeValue(const Scalar& v) {
  switch (v.kind) {
    case SKind::kString: return QuoteString(v.s);
    case SKind::kBool: return v.b ? "true" : "false";
    case SKind::kInt: return std::to_string(v.i);
    case SKind::kFloat: return FormatDouble(v.f);
    default: return "a value";
  }
}

// python-eql: `==` is case-insensitive and a string literal with `*` is a wildcard.
std::optional<uint32_t> Lowerer::LowerPythonEquality(const Expr& e, uint32_t a, uint32_t b) {
  const IrNode& rb = program_->nodes[b];
  if (rb.op == IrOp::kConst && rb.constant.kind == SKind::kString &&
      rb.constant.s.find('*') != std::string_view::npos) {
    IrNode n;
    n.op = IrOp::kMatch;
    n.index = static_cast<uint32_t>(program_->matchers.size());
    n.count = 1;
    program_->matchers.push_back(Matcher::Wildcard(rb.constant.s, options_.case_insensitive));
    n.children = {a};
    n.span = e.span;
    uint32_t match = Add(std::move(n));
    if (e.op == Op::kEq) return match;
    IrNode neg;
    neg.op = IrOp::kNot;
    neg.children = {match};
    neg.span = e.span;
    return Add(std::move(neg));
  }
  IrNode n;
  n.op = IrOp::kCompare;
  n.cmp = e.op;
  n.insensitive = options_.case_insensitive;
  n.children = {a, b};
  n.span = e.span;
  return Fold(Add(std::move(n)));
}

std::optional<uint32_t> Lowerer::LowerMatch(const Expr& e) {
  auto value = Lower(*e.children[0]);
  if (!value) return std::nullopt;
  if (e.op == Op::kIn) return LowerIn(e, *value);
  IrNode n;
  n.op = IrOp::kMatch;
  n.span = e.span;
  n.children = {*value};
  n.index = static_cast<uint32_t>(program_->matchers.size());
  std::string_view op_name = e.op == Op::kSeq ? ":" : e.op == Op::kLike ? "like" : "regex";
  for (size_t k = 1; k < e.children.size(); ++k) {
    const Expr& pattern = *e.children[k];
    if (pattern.kind != ExprKind::kLiteral || pattern.literal != LiteralKind::kString) {
      Fail(pattern.span, fmt::format("the pattern of '{}' must be a string literal", op_name));
      return std::nullopt;
    }
    if (e.op == Op::kRegex) {
      auto m = Matcher::Regex(pattern.string_value, e.insensitive);
      if (!m) {
        Fail(pattern.span, m.error().message());
        return std::nullopt;
      }
      program_->matchers.push_back(std::move(*m));
    } else {
      program_->matchers.push_back(Matcher::Wildcard(pattern.string_value, e.insensitive));
    }
  }
  n.count = static_cast<uint32_t>(e.children.size() - 1);
  return Add(std::move(n));
}

std::optional<uint32_t> Lowerer::LowerIn(const Expr& e, uint32_t value) {
  bool insensitive = e.insensitive || options_.case_insensitive;
  std::vector<uint32_t> items;
  bool all_const = true;
  for (size_t k = 1; k < e.children.size(); ++k) {
    auto item = Lower(*e.children[k]);
    if (!item) return std::nullopt;
    items.push_back(*item);
    all_const = all_const && IsConst(*item);
  }
  IrNode n;
  n.span = e.span;
  n.negated = e.negated;
  n.insensitive = insensitive;
  if (all_const) {
    // A literal list becomes a hash set: one lookup per value, whatever the list's length.
    LiteralSet set;
    set.insensitive = insensitive;
    for (uint32_t item : items) {
      const Scalar& c = program_->nodes[item].constant;
      if (c.kind == SKind::kString) {
        set.strings.Insert(insensitive ? FoldCase(c.s) : std::string(c.s));
      } else if (!c.is_null()) {
        set.others.push_back(c);
      }
    }
    n.op = IrOp::kInSet;
    n.index = static_cast<uint32_t>(program_->sets.size());
    program_->sets.push_back(std::move(set));
    n.children = {value};
    return Add(std::move(n));
  }
  n.op = IrOp::kInList;
  n.children.push_back(value);
  n.children.insert(n.children.end(), items.begin(), items.end());
  return Add(std::move(n));
}

std::optional<uint32_t> Lowerer::LowerCall(const Expr& e) {
  std::string lower = FoldCase(e.string_value);
  const BuiltinInfo* info = nullptr;
  for (const BuiltinInfo& b : kBuiltins) {
    if (b.name == lower) info = &b;
  }
  if (info == nullptr) {
    std::vector<std::string_view> names;
    for (const BuiltinInfo& b : kBuiltins) names.push_back(b.name);
    Fail(e.span, fmt::format("unknown function '{}'{}", e.string_value, DidYouMean(lower, names)));
    return std::nullopt;
  }
  size_t argc = e.children.size();
  if (argc < info->min_args || argc > info->max_args) {
    std::string expected = info->max_args == 255 ? fmt::format("at least {}", info->min_args)
                           : info->min_args == info->max_args ? fmt::format("{}", info->min_args)
                                                              : fmt::format("{} to {}", info->min_args, info->max_args);
    bool one = info->max_args == 255 ? info->min_args == 1 : info->max_args == 1;
    Fail(e.span, fmt::format("function '{}' takes {} argument{}, got {}", e.string_value, expected,
                             one ? "" : "s", argc));
    return std::nullopt;
  }
  if (e.insensitive && !info->has_insensitive) {
    Fail(e.span, fmt::format("function '{}' has no case-insensitive form '{}~'", e.string_value, e.string_value));
    return std::nullopt;
  }
  IrNode n;
  n.op = IrOp::kCall;
  n.builtin = info->builtin;
  n.insensitive = e.insensitive;
  n.span = e.span;
  if (info->builtin == Builtin::kArrayCount || info->builtin == Builtin::kArraySearch) {
    // arrayCount(array, x, predicate of x): x is bound to each element in turn.
    const Expr& var = *e.children[1];
    if (var.kind != ExprKind::kField || var.optional || var.string_value.find('.') != std::string::npos) {
      Fail(var.span, fmt::format("the second argument of '{}' must be a variable name", e.string_value));
      return std::nullopt;
    }
    auto array = Lower(*e.children[0]);
    if (!array) return std::nullopt;
    scope_.push_back(var.string_value);
    n.index = static_cast<uint32_t>(scope_.size() - 1);
    auto body = Lower(*e.children[2]);
    scope_.pop_back();
    if (!body) return std::nullopt;
    n.children = {*array, *body};
    return Add(std::move(n));
  }
  bool patterns = info->builtin == Builtin::kMatch || info->builtin == Builtin::kWildcard;
  for (size_t k = 0; k < argc; ++k) {
    if (patterns && k > 0) {
      const Expr& p = *e.children[k];
      if (p.kind != ExprKind::kLiteral || p.literal != LiteralKind::kString) {
        Fail(p.span, fmt::format("the patterns of '{}' must be string literals", e.string_value));
        return std::nullopt;
      }
      if (info->builtin == Builtin::kMatch) {
        auto m = Matcher::Regex(p.string_value, e.insensitive);
        if (!m) {
          Fail(p.span, m.error().message());
          return std::nullopt;
        }
        program_->matchers.push_back(std::move(*m));
      } else {
        // python-eql's wildcard() is case-insensitive
        program_->matchers.push_back(Matcher::Wildcard(p.string_value, true));
      }
      if (k == 1) n.index = static_cast<uint32_t>(program_->matchers.size() - 1);
      ++n.count;
      continue;
    }
    auto arg = Lower(*e.children[k]);
    if (!arg) return std::nullopt;
    n.children.push_back(*arg);
  }
  if (info->builtin == Builtin::kCidrMatch) {
    for (size_t k = 1; k < argc; ++k) {
      const Expr& c = *e.children[k];
      if (c.kind != ExprKind::kLiteral || c.literal != LiteralKind::kString) {
        Fail(c.span, "the ranges of 'cidrMatch' must be string literals");
        return std::nullopt;
      }
      std::string_view text = c.string_value;
      size_t slash = text.find('/');
      auto net = ParseIp(text.substr(0, slash));
      int prefix = -1;
      if (net && slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (ec != std::errc() || p != digits.data() + digits.size() || prefix < 0 || prefix > (net->is_v4() ? 32 : 128)) {
          net.reset();
        }
      }
      if (!net) {
        Fail(c.span, fmt::format("invalid CIDR range \"{}\"", text));
        return std::nullopt;
      }
    }
  }
  return patterns ? Add(std::move(n)) : Fold(Add(std::move(n)));
}

}  // namespace kestrel::eql
