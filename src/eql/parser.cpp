#include "eql/parser.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "eql/parser_internal.h"

namespace kestrel::eql {

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

Parser::Parser(const Source& source, Dialect dialect) : source_(source), dialect_(dialect) {
  LexResult lexed = Lex(source, dialect);
  tokens_ = std::move(lexed.tokens);
  diagnostics_ = std::move(lexed.diagnostics);
}

ParseResult Parser::Run() {
  ParseResult result;
  auto query = std::make_unique<Query>();
  if (diagnostics_.empty() && ParseStatement(*query)) result.query = std::move(query);
  if (!diagnostics_.empty()) result.query.reset();
  result.diagnostics = std::move(diagnostics_);
  return result;
}

// ---- queries -----------------------------------------------------------------------
bool Parser::ParseStatement(Query& q) {
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

bool Parser::ParseEventQuery(EventQuery& eq) {
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

bool Parser::ParseJoinKeys(std::vector<ExprPtr>& keys) {
  do {
    ExprPtr key = ParseAdditive();
    if (!key) return false;
    keys.push_back(std::move(key));
  } while (Accept(TokenKind::kComma));
  return true;
}

bool Parser::ParseSequenceHeader(Query& q, bool allow_maxspan) {
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

bool Parser::ParseDuration(Query& q) {
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

bool Parser::ParseSequence(Query& q) {
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

bool Parser::ParseSample(Query& q) {
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

bool Parser::SkipPastBracket() {
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

bool Parser::ParseTerm(SequenceTerm& term, bool allow_missing) {
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

bool Parser::ParsePipe(Pipe& pipe) {
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

std::optional<int64_t> ParseDurationNs(int64_t amount, std::string_view unit) {
  int64_t scale = 0;
  if (unit == "ms") {
    scale = 1'000'000;
  } else if (unit == "s") {
    scale = 1'000'000'000;
  } else if (unit == "m") {
    scale = 60'000'000'000;
  } else if (unit == "h") {
    scale = 3'600'000'000'000;
  } else if (unit == "d") {
    scale = 86'400'000'000'000;
  } else {
    return std::nullopt;
  }
  if (amount < 0 || amount > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
  return amount * scale;
}

ParseResult Parse(const Source& source, Dialect dialect) { return Parser(source, dialect).Run(); }

}  // namespace kestrel::eql
