#include "eql/lexer.h"

#include <array>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

namespace kestrel::eql {
namespace {

struct Keyword {
  std::string_view text;
  TokenKind kind;
};

constexpr Keyword kKeywords[] = {
    {"and", TokenKind::kAnd},           {"or", TokenKind::kOr},         {"not", TokenKind::kNot},
    {"in", TokenKind::kIn},             {"like", TokenKind::kLike},     {"regex", TokenKind::kRegex},
    {"where", TokenKind::kWhere},       {"any", TokenKind::kAny},       {"sequence", TokenKind::kSequence},
    {"sample", TokenKind::kSample},     {"by", TokenKind::kBy},         {"with", TokenKind::kWith},
    {"until", TokenKind::kUntil},       {"of", TokenKind::kOf},         {"true", TokenKind::kTrue},
    {"false", TokenKind::kFalse},       {"null", TokenKind::kNull},     {"descendant", TokenKind::kDescendant},
    {"child", TokenKind::kChild},       {"event", TokenKind::kEvent},   {"join", TokenKind::kJoin},
};

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '@'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '@'; }

bool EqualsLower(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
  }
  return true;
}

class Lexer {
 public:
  Lexer(const Source& source, Dialect dialect) : text_(source.text()), dialect_(dialect) {}

  LexResult Run() {
    LexResult result;
    for (;;) {
      bool spaced = SkipSpaceAndComments();
      Token t = Next();
      t.spaced_before = spaced;
      result.tokens.push_back(std::move(t));
      if (result.tokens.back().kind == TokenKind::kEnd) break;
    }
    result.diagnostics = std::move(diagnostics_);
    return result;
  }

 private:
  char Peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  bool AtEnd() const { return pos_ >= text_.size(); }

  void Error(uint32_t begin, uint32_t end, std::string message) {
    diagnostics_.push_back({{begin, end}, std::move(message)});
  }

  bool SkipSpaceAndComments() {
    size_t start = pos_;
    for (;;) {
      while (!AtEnd() && std::isspace(static_cast<unsigned char>(Peek()))) ++pos_;
      if (Peek() == '/' && Peek(1) == '/') {
        while (!AtEnd() && Peek() != '\n') ++pos_;
        continue;
      }
      if (Peek() == '/' && Peek(1) == '*') {  // block comments nest, as in Elasticsearch
        size_t begin = pos_;
        pos_ += 2;
        int depth = 1;
        while (!AtEnd() && depth > 0) {
          if (Peek() == '/' && Peek(1) == '*') {
            ++depth;
            pos_ += 2;
          } else if (Peek() == '*' && Peek(1) == '/') {
            --depth;
            pos_ += 2;
          } else {
            ++pos_;
          }
        }
        if (depth > 0) Error(static_cast<uint32_t>(begin), static_cast<uint32_t>(begin + 2), "unterminated comment");
        continue;
      }
      return pos_ != start || start == 0;
    }
  }

  Token Make(TokenKind kind, size_t begin) {
    Token t;
    t.kind = kind;
    t.span = {static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_)};
    return t;
  }

  Token Next() {
    size_t begin = pos_;
    if (AtEnd()) return Make(TokenKind::kEnd, begin);
    char c = Peek();
    if (IsIdentStart(c)) return Identifier();
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && std::isdigit(static_cast<unsigned char>(Peek(1))))) {
      return Number();
    }
    if (c == '"') return String();
    if (c == '\'' && dialect_ == Dialect::kPythonEql) return String();
    if (c == '?' && Peek(1) == '"' && dialect_ == Dialect::kPythonEql) {
      ++pos_;
      Token t = RawQuoted('"', begin);
      return t;
    }
    if (c == '`') return Escaped();
    ++pos_;
    switch (c) {
      case '(': return Make(TokenKind::kLParen, begin);
      case ')': return Make(TokenKind::kRParen, begin);
      case '[': return Make(TokenKind::kLBracket, begin);
      case ']': return Make(TokenKind::kRBracket, begin);
      case ',': return Make(TokenKind::kComma, begin);
      case '.': return Make(TokenKind::kDot, begin);
      case '|': return Make(TokenKind::kPipe, begin);
      case ':': return Make(TokenKind::kColon, begin);
      case '+': return Make(TokenKind::kPlus, begin);
      case '-': return Make(TokenKind::kMinus, begin);
      case '*': return Make(TokenKind::kStar, begin);
      case '/': return Make(TokenKind::kSlash, begin);
      case '%': return Make(TokenKind::kPercent, begin);
      case '?': return Make(TokenKind::kQuestion, begin);
      case '=':
        if (Peek() == '=') {
          ++pos_;
          return Make(TokenKind::kEq, begin);
        }
        return Make(TokenKind::kAssign, begin);
      case '!':
        if (Peek() == '=') {
          ++pos_;
          return Make(TokenKind::kNe, begin);
        }
        return Make(TokenKind::kBang, begin);
      case '<':
        if (Peek() == '=') {
          ++pos_;
          return Make(TokenKind::kLe, begin);
        }
        if (Peek() == '>') {  // python-eql's `<>` is not EQL; say so plainly
          ++pos_;
          Error(static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_), "'<>' is not an operator; use '!='");
          return Make(TokenKind::kNe, begin);
        }
        return Make(TokenKind::kLt, begin);
      case '>':
        if (Peek() == '=') {
          ++pos_;
          return Make(TokenKind::kGe, begin);
        }
        return Make(TokenKind::kGt, begin);
      default: break;
    }
    // Skip the whole UTF-8 sequence so the message names the character.
    while (!AtEnd() && (static_cast<unsigned char>(Peek()) & 0xC0) == 0x80) ++pos_;
    Error(static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_),
          fmt::format("unexpected character '{}'", text_.substr(begin, pos_ - begin)));
    SkipSpaceAndComments();
    return Next();
  }

  Token Identifier() {
    size_t begin = pos_;
    while (!AtEnd() && IsIdentChar(Peek())) ++pos_;
    std::string_view word = text_.substr(begin, pos_ - begin);
    for (const Keyword& k : kKeywords) {
      if (!EqualsLower(word, k.text)) continue;
      TokenKind kind = k.kind;
      // `in~`, `like~`, `regex~`: the tilde right after the keyword.
      if (Peek() == '~' && (kind == TokenKind::kIn || kind == TokenKind::kLike || kind == TokenKind::kRegex)) {
        ++pos_;
        kind = kind == TokenKind::kIn     ? TokenKind::kInInsensitive
               : kind == TokenKind::kLike ? TokenKind::kLikeInsensitive
                                          : TokenKind::kRegexInsensitive;
      }
      Token t = Make(kind, begin);
      t.text = std::string(word);
      return t;
    }
    Token t = Make(TokenKind::kIdentifier, begin);
    t.text = std::string(word);
    // A function name may carry `~` (startsWith~); the parser checks it is followed by '('.
    if (Peek() == '~') {
      ++pos_;
      t.span.end = static_cast<uint32_t>(pos_);
      t.text.push_back('~');
    }
    return t;
  }

  Token Number() {
    size_t begin = pos_;
    bool decimal = false;
    while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    if (Peek() == '.' && std::isdigit(static_cast<unsigned char>(Peek(1)))) {
      decimal = true;
      ++pos_;
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    }
    if ((Peek() == 'e' || Peek() == 'E') &&
        (std::isdigit(static_cast<unsigned char>(Peek(1))) ||
         ((Peek(1) == '+' || Peek(1) == '-') && std::isdigit(static_cast<unsigned char>(Peek(2)))))) {
      decimal = true;
      pos_ += 2;
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    }
    Token t = Make(decimal ? TokenKind::kDecimal : TokenKind::kInteger, begin);
    t.text = std::string(text_.substr(begin, pos_ - begin));
    return t;
  }

  Token Escaped() {
    size_t begin = pos_++;
    std::string name;
    for (;;) {
      if (AtEnd()) {
        Error(static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_), "unterminated escaped identifier");
        break;
      }
      char c = text_[pos_++];
      if (c == '`') {
        if (Peek() == '`') {  // `` is a literal backtick
          name.push_back('`');
          ++pos_;
          continue;
        }
        break;
      }
      name.push_back(c);
    }
    Token t = Make(TokenKind::kIdentifier, begin);
    t.text = std::move(name);
    t.escaped = true;
    if (t.text.empty()) Error(t.span.begin, t.span.end, "empty escaped identifier");
    return t;
  }

  Token RawQuoted(char quote, size_t begin) {
    ++pos_;  // the opening quote
    size_t close = text_.find(quote, pos_);
    if (close == std::string_view::npos) {
      Error(static_cast<uint32_t>(begin), static_cast<uint32_t>(text_.size()), "unterminated string");
      close = text_.size();
    }
    Token t;
    t.kind = TokenKind::kString;
    t.text = std::string(text_.substr(pos_, close - pos_));
    t.raw_string = true;
    pos_ = std::min(close + 1, text_.size());
    t.span = {static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_)};
    return t;
  }

  Token String() {
    size_t begin = pos_;
    char quote = Peek();
    if (quote == '"' && text_.substr(pos_, 3) == R"(""")") {
      size_t close = text_.find(R"(""")", pos_ + 3);
      if (close == std::string_view::npos) {
        pos_ = text_.size();
        Error(static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_), "unterminated raw string");
        Token t = Make(TokenKind::kString, begin);
        t.raw_string = true;
        return t;
      }
      // Like Elasticsearch: up to two extra quotes before the closing ones belong to the value.
      while (close + 3 < text_.size() && text_[close + 3] == '"') ++close;
      Token t;
      t.kind = TokenKind::kString;
      t.text = std::string(text_.substr(begin + 3, close - begin - 3));
      t.raw_string = true;
      pos_ = close + 3;
      t.span = {static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_)};
      return t;
    }
    ++pos_;
    std::string value;
    for (;;) {
      if (AtEnd() || Peek() == '\n') {
        Error(static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_), "unterminated string");
        break;
      }
      char c = text_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      size_t escape_at = pos_ - 1;
      char e = AtEnd() ? '\0' : text_[pos_++];
      switch (e) {
        case 'n': value.push_back('\n'); break;
        case 't': value.push_back('\t'); break;
        case 'r': value.push_back('\r'); break;
        case 'b': value.push_back('\b'); break;
        case 'f': value.push_back('\f'); break;
        case '0': value.push_back('\0'); break;
        case '"': value.push_back('"'); break;
        case '\'': value.push_back('\''); break;
        case '\\': value.push_back('\\'); break;
        case 'u': UnicodeEscape(value, escape_at); break;
        default:
          Error(static_cast<uint32_t>(escape_at), static_cast<uint32_t>(pos_),
                fmt::format("invalid escape sequence '\\{}'", e == '\0' ? std::string() : std::string(1, e)));
      }
    }
    Token t = Make(TokenKind::kString, begin);
    t.text = std::move(value);
    return t;
  }

  void UnicodeEscape(std::string& value, size_t escape_at) {
    // \u{X...} with 1 to 8 hex digits (Elasticsearch), or \uXXXX.
    bool braced = Peek() == '{';
    if (braced) ++pos_;
    size_t digits_begin = pos_;
    uint64_t cp = 0;
    size_t max_digits = braced ? 8 : 4;
    while (pos_ - digits_begin < max_digits && std::isxdigit(static_cast<unsigned char>(Peek()))) {
      char h = text_[pos_++];
      cp = cp * 16 + static_cast<uint64_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
    }
    size_t digits = pos_ - digits_begin;
    bool ok = braced ? (digits > 0 && Peek() == '}') : digits == 4;
    if (braced && Peek() == '}') ++pos_;
    if (!ok || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      Error(static_cast<uint32_t>(escape_at), static_cast<uint32_t>(pos_), "invalid unicode escape sequence");
      return;
    }
    AppendUtf8(value, static_cast<uint32_t>(cp));
  }

  std::string_view text_;
  Dialect dialect_;
  size_t pos_ = 0;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEnd: return "end of query";
    case TokenKind::kIdentifier: return "identifier";
    case TokenKind::kString: return "string";
    case TokenKind::kInteger: return "integer";
    case TokenKind::kDecimal: return "number";
    case TokenKind::kLParen: return "'('";
    case TokenKind::kRParen: return "')'";
    case TokenKind::kLBracket: return "'['";
    case TokenKind::kRBracket: return "']'";
    case TokenKind::kComma: return "','";
    case TokenKind::kDot: return "'.'";
    case TokenKind::kPipe: return "'|'";
    case TokenKind::kEq: return "'=='";
    case TokenKind::kNe: return "'!='";
    case TokenKind::kLt: return "'<'";
    case TokenKind::kLe: return "'<='";
    case TokenKind::kGt: return "'>'";
    case TokenKind::kGe: return "'>='";
    case TokenKind::kAssign: return "'='";
    case TokenKind::kColon: return "':'";
    case TokenKind::kPlus: return "'+'";
    case TokenKind::kMinus: return "'-'";
    case TokenKind::kStar: return "'*'";
    case TokenKind::kSlash: return "'/'";
    case TokenKind::kPercent: return "'%'";
    case TokenKind::kBang: return "'!'";
    case TokenKind::kQuestion: return "'?'";
    case TokenKind::kAnd: return "'and'";
    case TokenKind::kOr: return "'or'";
    case TokenKind::kNot: return "'not'";
    case TokenKind::kIn: return "'in'";
    case TokenKind::kInInsensitive: return "'in~'";
    case TokenKind::kLike: return "'like'";
    case TokenKind::kLikeInsensitive: return "'like~'";
    case TokenKind::kRegex: return "'regex'";
    case TokenKind::kRegexInsensitive: return "'regex~'";
    case TokenKind::kWhere: return "'where'";
    case TokenKind::kAny: return "'any'";
    case TokenKind::kSequence: return "'sequence'";
    case TokenKind::kSample: return "'sample'";
    case TokenKind::kBy: return "'by'";
    case TokenKind::kWith: return "'with'";
    case TokenKind::kUntil: return "'until'";
    case TokenKind::kOf: return "'of'";
    case TokenKind::kTrue: return "'true'";
    case TokenKind::kFalse: return "'false'";
    case TokenKind::kNull: return "'null'";
    case TokenKind::kDescendant: return "'descendant'";
    case TokenKind::kChild: return "'child'";
    case TokenKind::kEvent: return "'event'";
    case TokenKind::kJoin: return "'join'";
  }
  return "token";
}

LexResult Lex(const Source& source, Dialect dialect) { return Lexer(source, dialect).Run(); }

}  // namespace kestrel::eql
