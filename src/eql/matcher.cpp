#include "eql/matcher.h"

#include <re2/re2.h>

#include <cctype>

#include <fmt/format.h>

#include "eql/source.h"

namespace kestrel::eql {
namespace {

inline char Fold(char c, bool insensitive) {
  return insensitive ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
}

bool EqualFolded(std::string_view s, std::string_view folded, bool insensitive) {
  if (s.size() != folded.size()) return false;
  if (!insensitive) return s == folded;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Fold(s[i], true) != folded[i]) return false;
  }
  return true;
}

size_t FindFolded(std::string_view s, std::string_view folded, bool insensitive) {
  if (!insensitive) return s.find(folded);
  if (folded.empty()) return 0;
  for (size_t i = 0; i + folded.size() <= s.size(); ++i) {
    if (EqualFolded(s.substr(i, folded.size()), folded, true)) return i;
  }
  return std::string_view::npos;
}

}  // namespace

std::string FoldCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Fold(c, true);
  return out;
}

Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;
Matcher::~Matcher() = default;

Matcher Matcher::Wildcard(std::string_view pattern, bool insensitive) {
  Matcher m;
  m.insensitive_ = insensitive;
  // Classify: literal text with at most a leading and a trailing `*` gets a fast matcher.
  // Backslashes are literal, as in Elasticsearch (Windows paths): there is no escape character.
  bool has_question = false;
  size_t stars = 0;
  for (char c : pattern) {
    if (c == '?') has_question = true;
    if (c == '*') ++stars;
  }
  std::string folded;
  for (char c : pattern) folded.push_back(Fold(c, insensitive));
  if (!has_question) {
    bool lead = !pattern.empty() && pattern.front() == '*';
    bool trail = pattern.size() > 1 && pattern.back() == '*';
    size_t inner = stars - (lead ? 1 : 0) - (trail ? 1 : 0);
    if (inner == 0) {
      std::string body = folded.substr(lead ? 1 : 0);
      if (trail) body.pop_back();
      m.literal_ = body;
      m.kind_ = lead && trail ? Kind::kContains : lead ? Kind::kSuffix : trail ? Kind::kPrefix : Kind::kExact;
      if (pattern == "*") m.kind_ = Kind::kContains;  // matches everything
      return m;
    }
  }
  m.kind_ = Kind::kGlob;
  m.literal_ = std::move(folded);
  return m;
}

Result<Matcher> Matcher::Regex(std::string_view pattern, bool insensitive) {
  Matcher m;
  m.kind_ = Kind::kRegex;
  m.insensitive_ = insensitive;
  m.literal_ = std::string(pattern);
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(!insensitive);
  options.set_dot_nl(true);
  m.regex_ = std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!m.regex_->ok()) {
    return MakeError(ErrorCode::kParse, fmt::format("invalid regular expression: {}", m.regex_->error()));
  }
  return m;
}

bool Matcher::Matches(std::string_view s) const {
  switch (kind_) {
    case Kind::kExact: return EqualFolded(s, literal_, insensitive_);
    case Kind::kPrefix:
      return s.size() >= literal_.size() && EqualFolded(s.substr(0, literal_.size()), literal_, insensitive_);
    case Kind::kSuffix:
      return s.size() >= literal_.size() &&
             EqualFolded(s.substr(s.size() - literal_.size()), literal_, insensitive_);
    case Kind::kContains: return FindFolded(s, literal_, insensitive_) != std::string_view::npos;
    case Kind::kGlob: return GlobMatch(s);
    case Kind::kRegex: return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *regex_);
  }
  return false;
}

// Iterative glob matching with single-star backtracking: linear in practice, no recursion.
bool Matcher::GlobMatch(std::string_view s) const {
  std::string_view p = literal_;
  size_t si = 0, pi = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      char pc = p[pi];
      if (pc == '*') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (pc == Fold(s[si], insensitive_)) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::string Matcher::Describe() const {
  static constexpr std::string_view kNames[] = {"exact", "prefix", "suffix", "contains", "glob", "regex"};
  return fmt::format("{}{}({})", kNames[static_cast<int>(kind_)], insensitive_ ? "~" : "", QuoteString(literal_));
}

}  // namespace kestrel::eql
