// Tokens of EQL (Elasticsearch dialect, plus the python-eql forms accepted by --dialect eql).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "eql/source.h"

namespace kestrel::eql {

enum class TokenKind : uint8_t {
  kEnd,
  kIdentifier,  // also backtick-escaped names; `text` holds the unescaped name
  kString,      // `text` holds the decoded value
  kInteger,
  kDecimal,
  // punctuation and operators
  kLParen, kRParen, kLBracket, kRBracket, kComma, kDot, kPipe,
  kEq,        // ==
  kNe,        // !=
  kLt, kLe, kGt, kGe,
  kAssign,    // =  (maxspan=, runs=, and equality in the eql dialect)
  kColon,     // :  (case-insensitive match)
  kPlus, kMinus, kStar, kSlash, kPercent,
  kBang,      // !  (missing event `![...]`)
  kQuestion,  // ?  (optional field `?name`)
  // keywords (matched case-insensitively)
  kAnd, kOr, kNot, kIn, kInInsensitive, kLike, kLikeInsensitive, kRegex, kRegexInsensitive,
  kWhere, kAny, kSequence, kSample, kBy, kWith, kUntil, kOf, kTrue, kFalse, kNull,
  kDescendant, kChild, kEvent, kJoin,
};

std::string_view TokenKindName(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::kEnd;
  Span span;
  std::string text;       // identifier name or decoded string
  bool raw_string = false;  // """...""" or ?"..."
  bool escaped = false;     // `identifier`
  bool spaced_before = true;  // whitespace or a comment precedes the token (for `5s`, `like~`)
};

}  // namespace kestrel::eql
