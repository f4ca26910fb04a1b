// The EQL syntax tree. Every node keeps the span of text it came from, for diagnostics.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eql/source.h"

namespace kestrel::eql {

enum class Op : uint8_t {
  kAnd, kOr, kNot, kNeg,
  kEq, kNe, kLt, kLe, kGt, kGe,
  kAdd, kSub, kMul, kDiv, kMod,
  kIn,     // value in (list); `insensitive` for in~, `negated` for not in
  kSeq,    // value : pattern(s)  (case-insensitive wildcard match)
  kLike,   // value like pattern(s); `insensitive` for like~
  kRegex,  // value regex pattern(s); `insensitive` for regex~
};

std::string_view OpName(Op op);

enum class ExprKind : uint8_t { kLiteral, kField, kUnary, kBinary, kMatch, kCall, kLineage };

enum class LiteralKind : uint8_t { kNull, kBool, kInteger, kDecimal, kString };

enum class LineageKind : uint8_t { kChild, kDescendant, kEvent };

struct EventQuery;

struct Expr {
  ExprKind kind;
  Span span;

  // kLiteral
  LiteralKind literal = LiteralKind::kNull;
  bool bool_value = false;
  int64_t int_value = 0;
  double decimal_value = 0;
  std::string string_value;  // also: the field name (kField) and function name (kCall)
  bool raw_string = false;

  // kField
  bool optional = false;  // `?field`

  // kUnary, kBinary, kMatch
  Op op = Op::kAnd;
  bool insensitive = false;  // in~, like~, regex~, `:`, func~()
  bool negated = false;      // `not in`

  // children: operands, match patterns or list items (after the first), call arguments
  std::vector<std::unique_ptr<Expr>> children;

  // kLineage
  LineageKind lineage = LineageKind::kChild;
  std::unique_ptr<EventQuery> lineage_query;

  explicit Expr(ExprKind k, Span s) : kind(k), span(s) {}
};
using ExprPtr = std::unique_ptr<Expr>;

struct EventQuery {
  Span span;
  std::string category;  // empty for `any`
  Span category_span;
  ExprPtr condition;
};

struct SequenceTerm {
  Span span;
  EventQuery query;
  std::vector<ExprPtr> by;  // per-term join keys
  bool missing = false;     // ![...]
  int64_t runs = 1;         // with runs=N
};

struct Pipe {
  Span span;
  std::string name;  // lower-case: head, tail, count, unique, unique_count, filter, sort
  std::vector<ExprPtr> args;
};

enum class QueryKind : uint8_t { kEvent, kSequence, kSample };

struct Query {
  QueryKind kind = QueryKind::kEvent;
  Span span;
  EventQuery event;                  // kEvent
  std::vector<ExprPtr> by;           // shared join keys of sequence / sample
  std::optional<int64_t> maxspan_ns;
  Span maxspan_span;
  std::vector<SequenceTerm> terms;   // sequence / sample terms
  std::optional<SequenceTerm> until;
  std::vector<Pipe> pipes;
};

// Renders the tree as an S-expression, one line: (and (== process.name "bash") ...).
std::string PrintExpr(const Expr& e);
std::string PrintQuery(const Query& q);

}  // namespace kestrel::eql
