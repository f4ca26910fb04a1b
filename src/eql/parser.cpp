#include "eql/parser.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace kestrel::eql {
namespace {

bool IsKeywordUsableAsName(TokenKind k) {
  switch (k) {
    case TokenKind::kAny: case TokenKind::kSequence: case TokenKind::kSample: case TokenKind::kBy:
    case TokenKind::kWith: case TokenKind::kUntil: case TokenKind::kOf: case TokenKind::kDescendant:
    case TokenKind::kChild: case TokenKind::kEvent: case TokenKind::kJoin: case TokenKind::kWhere:
    case TokenKind::kIn: case TokenKind::kLike: case TokenKind::kRegex: case TokenKind::kAnd:
    case TokenKind::kOr: case TokenKind::kNot: case TokenKind::kTrue: case TokenKind::kFalse:
    case TokenKind::kNull:
      return true;
    default: return false;
  }
}

class Parser {
 public:
  Parser(const Source& source, Dialect dialect) : source_(source), dialect_(dialect) {
    LexResult lexed = Lex(source, dialect);
    tokens_ = std::move(lexed.tokens);
    diagnostics_ = std::move(lexed.diagnostics);
  }

  ParseResult Run() {
    ParseResult result;
    auto query = std::make_unique<Query>();
    if (diagnostics_.empty() && ParseStatement(*query)) result.query = std::move(query);
    if (!diagnostics_.empty()) result.query.reset();
    result.diagnostics = std::move(diagnostics_);
    return result;
  }

 private:
  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  bool At(TokenKind k) const { return Peek().kind == k; }
  const Token& Advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool Accept(TokenKind k) {
    if (!At(k)) return false;
    Advance();
    return true;
  }
  bool Fail(Span span, std::string message) {
    diagnostics_.push_back({span, std::move(message)});
    return false;
  }
  std::string Found() const {
    const Token& t = Peek();
    if (t.kind == TokenKind::kEnd) return "end of query";
    return fmt::format("'{}'", source_.Slice(t.span));
  }
  bool Expect(TokenKind k, std::string_view what) {
    if (Accept(k)) return true;
    return Fail(Peek().span, fmt::format("expected {}, found {}", what, Found()));
  }
  Span PrevSpan() const { return tokens_[pos_ > 0 ? pos_ - 1 : 0].span; }

  // ---- queries -----------------------------------------------------------------------
  bool ParseStatement(Query& q) {
    size_t begin = Peek().span.begin;
    bool ok = false;
    if (At(TokenKind::kSequence)) {
      ok = ParseSequence(q);
    } else if (At(TokenKind::kSample)) {
      ok = ParseSample(q);
    } else if (At(TokenKind::kJoin)) {
      return Fail(Peek().span, "'join' is not supported; use 'sequence'");
    } else {
      q.kind = QueryKind::kEvent;
      ok = ParseEventQuery(q.event);
    }
    if (!ok) return false;
    while (At(TokenKind::kPipe)) {
      Advance();
      Pipe pipe;
      if (!ParsePipe(pipe)) return false;
      q.pipes.push_back(std::move(pipe));
    }
    if (!At(TokenKind::kEnd)) {
      return Fail(Peek().span, fmt::format("expected '|' or end of query, found {}", Found()));
    }
    q.span = {static_cast<uint32_t>(begin), PrevSpan().end};
    return true;
  }

  bool ParseEventQuery(EventQuery& eq) {
    const Token& t = Peek();
    eq.span.begin = t.span.begin;
    eq.category_span = t.span;
    if (t.kind == TokenKind::kAny) {
      Advance();
    } else if (t.kind == TokenKind::kIdentifier || t.kind == TokenKind::kString ||
               (IsKeywordUsableAsName(t.kind) && Peek(1).kind == TokenKind::kWhere)) {
      if (t.kind == TokenKind::kIdentifier && t.text.ends_with('~')) {
        return Fail(t.span, fmt::format("expected an event category, found '{}'", t.text));
      }
      eq.category = t.text;
      Advance();
    } else {
      return Fail(t.span, fmt::format("expected an event category or 'any', found {}", Found()));
    }
    if (!Expect(TokenKind::kWhere, "'where'")) return false;
    eq.condition = ParseExpr();
    if (!eq.condition) return false;
    eq.span.end = PrevSpan().end;
    return true;
  }

  bool ParseJoinKeys(std::vector<ExprPtr>& keys) {
    do {
      ExprPtr key = ParseAdditive();
      if (!key) return false;
      keys.push_back(std::move(key));
    } while (Accept(TokenKind::kComma));
    return true;
  }

  bool ParseSequenceHeader(Query& q, bool allow_maxspan) {
    bool seen_by = false, seen_with = false;
    for (;;) {
      if (At(TokenKind::kBy) && !seen_by) {
        Advance();
        seen_by = true;
        if (!ParseJoinKeys(q.by)) return false;
        continue;
      }
      if (At(TokenKind::kWith) && !seen_with && allow_maxspan) {
        Advance();
        seen_with = true;
        const Token& name = Peek();
        if (name.kind != TokenKind::kIdentifier || name.text != "maxspan") {
          return Fail(name.span, fmt::format("expected 'maxspan', found {}", Found()));
        }
        Advance();
        if (!Expect(TokenKind::kAssign, "'='")) return false;
        if (!ParseDuration(q)) return false;
        continue;
      }
      return true;
    }
  }

  bool ParseDuration(Query& q) {
    const Token& number = Peek();
    if (number.kind != TokenKind::kInteger) {
      return Fail(number.span, fmt::format("expected a time span such as 5s, found {}", Found()));
    }
    Advance();
    int64_t amount = 0;
    auto [p, ec] = std::from_chars(number.text.data(), number.text.data() + number.text.size(), amount);
    if (ec != std::errc()) return Fail(number.span, "time span out of range");
    const Token& unit = Peek();
    if (unit.kind != TokenKind::kIdentifier) {
      return Fail(number.span, fmt::format("time span '{}' needs a unit: ms, s, m, h or d", number.text));
    }
    Advance();
    if (!ParseDurationNs(0, unit.text)) {
      return Fail(unit.span, fmt::format("unknown time unit '{}' (use ms, s, m, h or d)", unit.text));
    }
    auto ns = ParseDurationNs(amount, unit.text);
    if (!ns) return Fail(number.span, "time span out of range");
    q.maxspan_ns = *ns;
    q.maxspan_span = Join(number.span, unit.span);
    return true;
  }

  bool ParseSequence(Query& q) {
    q.kind = QueryKind::kSequence;
    Span keyword = Advance().span;
    if (!ParseSequenceHeader(q, /*allow_maxspan=*/true)) return false;
    bool ok = true;
    while (At(TokenKind::kLBracket) || (At(TokenKind::kBang) && Peek(1).kind == TokenKind::kLBracket)) {
      SequenceTerm term;
      if (ParseTerm(term, /*allow_missing=*/true)) {
        q.terms.push_back(std::move(term));
      } else {
        ok = false;
        if (!SkipPastBracket()) return false;  // recover: report errors in later terms too
      }
    }
    if (!ok) return false;
    if (Accept(TokenKind::kUntil)) {
      SequenceTerm until;
      if (!ParseTerm(until, /*allow_missing=*/false)) return false;
      q.until = std::move(until);
    }
    size_t positive = 0;
    int64_t stages = 0;  // `[q] with runs=3` counts as three stages
    for (const SequenceTerm& t : q.terms) {
      positive += t.missing ? 0 : 1;
      stages += t.runs;
    }
    if (stages < 2) {
      return Fail(Join(keyword, PrevSpan()), "a sequence needs at least two queries in brackets");
    }
    if (positive == 0) return Fail(Join(keyword, PrevSpan()), "a sequence needs at least one query that is not missing");
    if (positive != q.terms.size() && !q.maxspan_ns) {
      return Fail(Join(keyword, PrevSpan()), "a sequence with missing events (![...]) needs 'with maxspan'");
    }
    return true;
  }

  bool ParseSample(Query& q) {
    q.kind = QueryKind::kSample;
    Span keyword = Advance().span;
    if (!ParseSequenceHeader(q, /*allow_maxspan=*/false)) return false;
    while (At(TokenKind::kLBracket) || (At(TokenKind::kBang) && Peek(1).kind == TokenKind::kLBracket)) {
      SequenceTerm term;
      if (!ParseTerm(term, /*allow_missing=*/false)) return false;
      q.terms.push_back(std::move(term));
    }
    if (q.terms.empty()) return Fail(Join(keyword, PrevSpan()), "a sample needs at least one query in brackets");
    return true;
  }

  bool SkipPastBracket() {
    int depth = 0;
    while (!At(TokenKind::kEnd)) {
      TokenKind k = Advance().kind;
      if (k == TokenKind::kLBracket) ++depth;
      if (k == TokenKind::kRBracket && --depth <= 0) {
        // also skip a trailing `by ...` of the bad term
        return true;
      }
    }
    return false;
  }

  bool ParseTerm(SequenceTerm& term, bool allow_missing) {
    term.span.begin = Peek().span.begin;
    if (At(TokenKind::kBang)) {
      if (!allow_missing) return Fail(Peek().span, "missing events (![...]) are only allowed in a sequence");
      Advance();
      term.missing = true;
    }
    if (!Expect(TokenKind::kLBracket, "'['")) return false;
    if (!ParseEventQuery(term.query)) return false;
    if (!Expect(TokenKind::kRBracket, "']'")) return false;
    for (;;) {
      if (At(TokenKind::kBy) && term.by.empty()) {
        Advance();
        if (!ParseJoinKeys(term.by)) return false;
        continue;
      }
      if (At(TokenKind::kWith) && Peek(1).kind == TokenKind::kIdentifier && Peek(1).text == "runs") {
        Advance();
        Advance();
        if (!Expect(TokenKind::kAssign, "'='")) return false;
        const Token& n = Peek();
        int64_t runs = 0;
        if (n.kind != TokenKind::kInteger ||
            std::from_chars(n.text.data(), n.text.data() + n.text.size(), runs).ec != std::errc() || runs < 1 ||
            runs > 100) {
          return Fail(n.span, fmt::format("expected a number of runs from 1 to 100, found {}", Found()));
        }
        Advance();
        term.runs = runs;
        continue;
      }
      break;
    }
    term.span.end = PrevSpan().end;
    return true;
  }

  bool ParsePipe(Pipe& pipe) {
    const Token& name = Peek();
    if (name.kind != TokenKind::kIdentifier) return Fail(name.span, fmt::format("expected a pipe name, found {}", Found()));
    pipe.span = name.span;
    pipe.name = name.text;
    for (char& c : pipe.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    Advance();
    static constexpr std::string_view kPipes[] = {"head", "tail", "count", "unique", "unique_count", "filter", "sort"};
    if (std::find(std::begin(kPipes), std::end(kPipes), pipe.name) == std::end(kPipes)) {
      return Fail(name.span, fmt::format("unknown pipe '{}' (expected head, tail, count, unique, unique_count, "
                                         "filter or sort)",
                                         name.text));
    }
    if (At(TokenKind::kPipe) || At(TokenKind::kEnd)) {
      pipe.span.end = PrevSpan().end;
      return true;
    }
    do {
      ExprPtr arg = ParseExpr();
      if (!arg) return false;
      pipe.args.push_back(std::move(arg));
    } while (Accept(TokenKind::kComma));
    pipe.span.end = PrevSpan().end;
    return true;
  }

  // ---- expressions -------------------------------------------------------------------
  static ExprPtr MakeBinary(Op op, ExprPtr a, ExprPtr b) {
    auto e = std::make_unique<Expr>(ExprKind::kBinary, Join(a->span, b->span));
    e->op = op;
    e->children.push_back(std::move(a));
    e->children.push_back(std::move(b));
    return e;
  }

  ExprPtr ParseExpr() { return ParseOr(); }

  ExprPtr ParseOr() {
    ExprPtr left = ParseAnd();
    while (left && At(TokenKind::kOr)) {
      Advance();
      ExprPtr right = ParseAnd();
      if (!right) return nullptr;
      left = MakeBinary(Op::kOr, std::move(left), std::move(right));
    }
    return left;
  }

  ExprPtr ParseAnd() {
    ExprPtr left = ParseNot();
    while (left && At(TokenKind::kAnd)) {
      Advance();
      ExprPtr right = ParseNot();
      if (!right) return nullptr;
      left = MakeBinary(Op::kAnd, std::move(left), std::move(right));
    }
    return left;
  }

  ExprPtr ParseNot() {
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
  bool ParseList(Expr& target) {
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

  ExprPtr ParsePredicate() {
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

  ExprPtr ParseComparison() {
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

  ExprPtr ParseAdditive() {
    ExprPtr left = ParseMultiplicative();
    while (left && (At(TokenKind::kPlus) || At(TokenKind::kMinus))) {
      Op op = Advance().kind == TokenKind::kPlus ? Op::kAdd : Op::kSub;
      ExprPtr right = ParseMultiplicative();
      if (!right) return nullptr;
      left = MakeBinary(op, std::move(left), std::move(right));
    }
    return left;
  }

  ExprPtr ParseMultiplicative() {
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

  ExprPtr ParseUnary() {
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

  ExprPtr Literal(LiteralKind kind, const Token& t) {
    auto e = std::make_unique<Expr>(ExprKind::kLiteral, t.span);
    e->literal = kind;
    return e;
  }

  ExprPtr ParsePrimary() {
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

  bool PrevWasMinus() const { return pos_ >= 2 && tokens_[pos_ - 2].kind == TokenKind::kMinus; }

  ExprPtr ParseField() {
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

  ExprPtr ParseCall() {
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

  ExprPtr ParseLineage() {
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

  const Source& source_;
  Dialect dialect_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace

std::optional<int64_t> ParseDurationNs(int64_t amount, std::string_view unit) {
  int64_t scale = 0;
  if (unit == "ms") scale = 1'000'000;
  else if (unit == "s") scale = 1'000'000'000;
  else if (unit == "m") scale = 60'000'000'000;
  else if (unit == "h") scale = 3'600'000'000'000;
  else if (unit == "d") scale = 86'400'000'000'000;
  else return std::nullopt;
  if (amount < 0 || amount > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
  return amount * scale;
}

ParseResult Parse(const Source& source, Dialect dialect) { return Parser(source, dialect).Run(); }

}  // namespace kestrel::eql
