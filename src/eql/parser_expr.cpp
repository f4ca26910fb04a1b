#include "eql/parser_internal.h"

#include <charconv>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

namespace kestrel::eql {

// ---- expressions -------------------------------------------------------------------
ExprPtr Parser::MakeBinary(Op op, ExprPtr a, ExprPtr b) {
  auto e = std::make_unique<Expr>(ExprKind::kBinary, Join(a->span, b->span));
  e->op = op;
  e->children.push_back(std::move(a));
  e->children.push_back(std::move(b));
  return e;
}

ExprPtr Parser::ParseExpr() { return ParseOr(); }

ExprPtr Parser::ParseOr() {
  ExprPtr left = ParseAnd();
  while (left && At(TokenKind::kOr)) {
    Advance();
    ExprPtr right = ParseAnd();
    if (!right) return nullptr;
    left = MakeBinary(Op::kOr, std::move(left), std::move(right));
  }
  return left;
}

ExprPtr Parser::ParseAnd() {
  ExprPtr left = ParseNot();
  while (left && At(TokenKind::kAnd)) {
    Advance();
    ExprPtr right = ParseNot();
    if (!right) return nullptr;
    left = MakeBinary(Op::kAnd, std::move(left), std::move(right));
  }
  return left;
}

ExprPtr Parser::ParseNot() {
  if (!At(TokenKind::kNot)) return ParsePredicate();
  Span begin = Advance().span;
  ExprPtr operand = ParseNot();
  if (!operand) return nullptr;
  auto e = std::make_unique<Expr>(ExprKind::kUnary, Join(begin, operand->span));
  e->op = Op::kNot;
  e->children.push_back(std::move(operand));
  return e;
}

// list := '(' expr (',' expr)* ')'
bool Parser::ParseList(Expr& target) {
  if (!Expect(TokenKind::kLParen, "'('")) return false;
  do {
    ExprPtr item = ParseAdditive();
    if (!item) return false;
    target.children.push_back(std::move(item));
  } while (Accept(TokenKind::kComma));
  if (!Expect(TokenKind::kRParen, "')' or ','")) return false;
  target.span = Join(target.span, PrevSpan());
  return true;
}

ExprPtr Parser::ParsePredicate() {
  ExprPtr left = ParseComparison();
  if (!left) return nullptr;
  bool negated = false;
  if (At(TokenKind::kNot) && (Peek(1).kind == TokenKind::kIn || Peek(1).kind == TokenKind::kInInsensitive)) {
    Advance();
    negated = true;
  }
  TokenKind k = Peek().kind;
  Op op;
  bool insensitive = false;
  switch (k) {
    case TokenKind::kIn: op = Op::kIn; break;
    case TokenKind::kInInsensitive: op = Op::kIn; insensitive = true; break;
    case TokenKind::kColon: op = Op::kSeq; insensitive = true; break;
    case TokenKind::kLike: op = Op::kLike; break;
    case TokenKind::kLikeInsensitive: op = Op::kLike; insensitive = true; break;
    case TokenKind::kRegex: op = Op::kRegex; break;
    case TokenKind::kRegexInsensitive: op = Op::kRegex; insensitive = true; break;
    default: return left;
  }
  Advance();
  auto e = std::make_unique<Expr>(ExprKind::kMatch, left->span);
  e->op = op;
  e->insensitive = insensitive;
  e->negated = negated;
  e->children.push_back(std::move(left));
  if (op == Op::kIn || At(TokenKind::kLParen)) {
    if (!ParseList(*e)) return nullptr;
  } else {
    ExprPtr pattern = ParseAdditive();
    if (!pattern) return nullptr;
    e->span = Join(e->span, pattern->span);
    e->children.push_back(std::move(pattern));
  }
  return e;
}

ExprPtr Parser::ParseComparison() {
  ExprPtr left = ParseAdditive();
  if (!left) return nullptr;
  Op op;
  switch (Peek().kind) {
    case TokenKind::kEq: op = Op::kEq; break;
    case TokenKind::kNe: op = Op::kNe; break;
    case TokenKind::kLt: op = Op::kLt; break;
    case TokenKind::kLe: op = Op::kLe; break;
    case TokenKind::kGt: op = Op::kGt; break;
    case TokenKind::kGe: op = Op::kGe; break;
    case TokenKind::kAssign:
      if (dialect_ != Dialect::kPythonEql) {
        Fail(Peek().span, "'=' is not a comparison; use '==' (or --dialect eql)");
        return nullptr;
      }
      op = Op::kEq;
      break;
    default: return left;
  }
  Advance();
  ExprPtr right = ParseAdditive();
  if (!right) return nullptr;
  ExprPtr e = MakeBinary(op, std::move(left), std::move(right));
  switch (Peek().kind) {
    case TokenKind::kEq: case TokenKind::kNe: case TokenKind::kLt: case TokenKind::kLe:
    case TokenKind::kGt: case TokenKind::kGe:
      Fail(Peek().span, "comparisons cannot be chained; use 'and'");
      return nullptr;
    default: return e;
  }
}

ExprPtr Parser::ParseAdditive() {
  ExprPtr left = ParseMultiplicative();
  while (left && (At(TokenKind::kPlus) || At(TokenKind::kMinus))) {
    Op op = Advance().kind == TokenKind::kPlus ? Op::kAdd : Op::kSub;
    ExprPtr right = ParseMultiplicative();
    if (!right) return nullptr;
    left = MakeBinary(op, std::move(left), std::move(right));
  }
  return left;
}

ExprPtr Parser::ParseMultiplicative() {
  ExprPtr left = ParseUnary();
  while (left && (At(TokenKind::kStar) || At(TokenKind::kSlash) || At(TokenKind::kPercent))) {
    TokenKind k = Advance().kind;
    Op op = k == TokenKind::kStar ? Op::kMul : k == TokenKind::kSlash ? Op::kDiv : Op::kMod;
    ExprPtr right = ParseUnary();
    if (!right) return nullptr;
    left = MakeBinary(op, std::move(left), std::move(right));
  }
  return left;
}

ExprPtr Parser::ParseUnary() {
  if (At(TokenKind::kPlus)) {  // unary plus: the operand itself
    Advance();
    return ParseUnary();
  }
  if (!At(TokenKind::kMinus)) return ParsePrimary();
  Span minus = Advance().span;
  ExprPtr operand = ParseUnary();
  if (!operand) return nullptr;
  // Fold -literal so that INT64_MIN and negative constants stay literals.
  if (operand->kind == ExprKind::kLiteral && operand->literal == LiteralKind::kInteger) {
    operand->int_value = -operand->int_value;  // 9223372036854775808 was kept as INT64_MIN
    operand->span = Join(minus, operand->span);
    return operand;
  }
  if (operand->kind == ExprKind::kLiteral && operand->literal == LiteralKind::kDecimal) {
    operand->decimal_value = -operand->decimal_value;
    operand->span = Join(minus, operand->span);
    return operand;
  }
  auto e = std::make_unique<Expr>(ExprKind::kUnary, Join(minus, operand->span));
  e->op = Op::kNeg;
  e->children.push_back(std::move(operand));
  return e;
}

ExprPtr Parser::Literal(LiteralKind kind, const Token& t) {
  auto e = std::make_unique<Expr>(ExprKind::kLiteral, t.span);
  e->literal = kind;
  return e;
}

ExprPtr Parser::ParsePrimary() {
  const Token& t = Peek();
  switch (t.kind) {
    case TokenKind::kString: {
      Advance();
      ExprPtr e = Literal(LiteralKind::kString, t);
      e->string_value = t.text;
      e->raw_string = t.raw_string;
      return e;
    }
    case TokenKind::kInteger: {
      Advance();
      ExprPtr e = Literal(LiteralKind::kInteger, t);
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
      if (ec == std::errc() && v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) {
        e->int_value = static_cast<int64_t>(v);  // 2^63 wraps to INT64_MIN; only valid negated
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) && PrevWasMinus()) return e;
        if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return e;
      }
      // Too large for an integer: a decimal, as Elasticsearch does.
      e->literal = LiteralKind::kDecimal;
      e->decimal_value = std::strtod(t.text.c_str(), nullptr);
      return e;
    }
    case TokenKind::kDecimal: {
      Advance();
      ExprPtr e = Literal(LiteralKind::kDecimal, t);
      e->decimal_value = std::strtod(t.text.c_str(), nullptr);
      return e;
    }
    case TokenKind::kTrue:
    case TokenKind::kFalse:
      if (Peek(1).kind == TokenKind::kDot) break;
      Advance();
      {
        ExprPtr e = Literal(LiteralKind::kBool, t);
        e->bool_value = t.kind == TokenKind::kTrue;
        return e;
      }
    case TokenKind::kNull:
      if (Peek(1).kind == TokenKind::kDot) break;
      Advance();
      return Literal(LiteralKind::kNull, t);
    case TokenKind::kLParen: {
      Advance();
      ExprPtr inner = ParseExpr();
      if (!inner) return nullptr;
      if (!Expect(TokenKind::kRParen, "')'")) return nullptr;
      return inner;
    }
    case TokenKind::kQuestion: {
      Span q = Advance().span;
      ExprPtr field = ParseField();
      if (!field) return nullptr;
      field->optional = true;
      field->span = Join(q, field->span);
      return field;
    }
    case TokenKind::kDescendant:
    case TokenKind::kChild:
    case TokenKind::kEvent:
      if (Peek(1).kind == TokenKind::kOf) return ParseLineage();
      break;
    default: break;
  }
  if (t.kind == TokenKind::kIdentifier && !t.escaped && Peek(1).kind == TokenKind::kLParen) return ParseCall();
  if (t.kind == TokenKind::kIdentifier && t.text.ends_with('~')) {
    Fail(t.span, fmt::format("'~' must follow a function name, as in {}(...)", t.text));
    return nullptr;
  }
  if (t.kind == TokenKind::kIdentifier || (IsKeywordUsableAsName(t.kind) && Peek(1).kind == TokenKind::kDot)) {
    return ParseField();
  }
  Fail(t.span, fmt::format("expected a value, a field or a function call, found {}", Found()));
  return nullptr;
}

bool Parser::PrevWasMinus() const { return pos_ >= 2 && tokens_[pos_ - 2].kind == TokenKind::kMinus; }

ExprPtr Parser::ParseField() {
  const Token& first = Peek();
  if (first.kind != TokenKind::kIdentifier && !IsKeywordUsableAsName(first.kind)) {
    Fail(first.span, fmt::format("expected a field name, found {}", Found()));
    return nullptr;
  }
  Advance();
  auto e = std::make_unique<Expr>(ExprKind::kField, first.span);
  e->string_value = first.text;
  while (At(TokenKind::kDot) && !Peek(1).spaced_before && !Peek().spaced_before) {
    const Token& next = Peek(1);
    if (next.kind != TokenKind::kIdentifier && next.kind != TokenKind::kInteger && !IsKeywordUsableAsName(next.kind)) {
      break;
    }
    Advance();
    Advance();
    e->string_value += '.';
    e->string_value += next.text;
    e->span = Join(e->span, next.span);
  }
  return e;
}

ExprPtr Parser::ParseCall() {
  const Token& name = Advance();
  auto e = std::make_unique<Expr>(ExprKind::kCall, name.span);
  e->string_value = name.text;
  if (e->string_value.ends_with('~')) {
    e->string_value.pop_back();
    e->insensitive = true;
  }
  Advance();  // '('
  if (!At(TokenKind::kRParen)) {
    do {
      ExprPtr arg = ParseExpr();
      if (!arg) return nullptr;
      e->children.push_back(std::move(arg));
    } while (Accept(TokenKind::kComma));
  }
  if (!Expect(TokenKind::kRParen, "')' or ','")) return nullptr;
  e->span = Join(e->span, PrevSpan());
  return e;
}

ExprPtr Parser::ParseLineage() {
  const Token& kw = Advance();
  auto e = std::make_unique<Expr>(ExprKind::kLineage, kw.span);
  e->lineage = kw.kind == TokenKind::kChild ? LineageKind::kChild
               : kw.kind == TokenKind::kDescendant ? LineageKind::kDescendant
                                                   : LineageKind::kEvent;
  Advance();  // 'of'
  if (!Expect(TokenKind::kLBracket, "'['")) return nullptr;
  e->lineage_query = std::make_unique<EventQuery>();
  if (!ParseEventQuery(*e->lineage_query)) return nullptr;
  if (!Expect(TokenKind::kRBracket, "']'")) return nullptr;
  e->span = Join(e->span, PrevSpan());
  return e;
}

}  // namespace kestrel::eql
