// String matchers compiled once per pattern: exact, prefix, suffix, contains, general glob
// (`*` any run, `?` one character; `\` is an ordinary character), and RE2 regular expressions (anchored).
// Case-insensitive matchers fold ASCII case; the pattern is folded at compile time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace kestrel::eql {

class Matcher {
 public:
  enum class Kind : uint8_t { kExact, kPrefix, kSuffix, kContains, kGlob, kRegex };

  static Matcher Wildcard(std::string_view pattern, bool insensitive);
  static Result<Matcher> Regex(std::string_view pattern, bool insensitive);

  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;
  ~Matcher();

  bool Matches(std::string_view s) const;
  Kind kind() const { return kind_; }
  const std::string& literal() const { return literal_; }  // the folded literal part / glob
  std::string Glob() const;  // a wildcard matcher as one glob (`*`, `?`), folded when insensitive
  bool insensitive() const { return insensitive_; }
  std::string Describe() const;

 private:
  Matcher() = default;
  bool MatchesAs(std::string_view s, bool fold) const;  // fold: ASCII case folding of `s`
  bool GlobMatch(std::string_view s, bool fold) const;

  Kind kind_ = Kind::kExact;
  bool insensitive_ = false;
  std::string literal_;
  std::unique_ptr<re2::RE2> regex_;
};

// Simple Unicode case folding of UTF-8 text (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic,
// Armenian: the lower-case of each upper-case letter); other bytes are kept as they are.
// ASCII lower case, inline (std::tolower is an out-of-line, locale-aware call).
inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

std::string FoldCase(std::string_view s);
void FoldCaseInto(std::string& out, std::string_view s);  // replaces `out`; reuses its capacity

inline bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace kestrel::eql
