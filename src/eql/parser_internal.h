// Internal to src/eql (not included outside it): the recursive-descent parser behind Parse().
// Queries, sequences, samples and pipes are parsed in parser.cpp; expressions in parser_expr.cpp.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "eql/parser.h"

namespace kestrel::eql {

// Keywords that may also name an event category (before 'where') or a field (`event.type`).
bool IsKeywordUsableAsName(TokenKind k);

class Parser {
 public:
  Parser(const Source& source, Dialect dialect);

  ParseResult Run();

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

  // ---- queries (parser.cpp) -----------------------------------------------------------
  bool ParseStatement(Query& q);
  bool ParseEventQuery(EventQuery& eq);
  bool ParseJoinKeys(std::vector<ExprPtr>& keys);
  bool ParseSequenceHeader(Query& q, bool allow_maxspan);
  bool ParseDuration(Query& q);
  bool ParseSequence(Query& q);
  bool ParseSample(Query& q);
  bool SkipPastBracket();
  bool ParseTerm(SequenceTerm& term, bool allow_missing);
  bool ParsePipe(Pipe& pipe);

  // ---- expressions (parser_expr.cpp) --------------------------------------------------
  static ExprPtr MakeBinary(Op op, ExprPtr a, ExprPtr b);
  ExprPtr ParseExpr();
  ExprPtr ParseOr();
  ExprPtr ParseAnd();
  ExprPtr ParseNot();
  bool ParseList(Expr& target);
  ExprPtr ParsePredicate();
  ExprPtr ParseComparison();
  ExprPtr ParseAdditive();
  ExprPtr ParseMultiplicative();
  ExprPtr ParseUnary();
  ExprPtr Literal(LiteralKind kind, const Token& t);
  ExprPtr ParsePrimary();
  bool PrevWasMinus() const;
  ExprPtr ParseField();
  ExprPtr ParseCall();
  ExprPtr ParseLineage();

  const Source& source_;
  Dialect dialect_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace kestrel::eql
