#include "eql/matcher.h"

#include <re2/re2.h>

#include <cctype>

#include <fmt/format.h>

#include "eql/source.h"

namespace kestrel::eql {
namespace {

inline char Fold(char c, bool insensitive) { return insensitive ? AsciiLower(c) : c; }

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
  // Candidates start with the first character in either case.
  const char lower = folded[0];
  const char upper = (lower >= 'a' && lower <= 'z') ? static_cast<char>(lower - ('a' - 'A')) : lower;
  for (size_t i = 0; i + folded.size() <= s.size(); ++i) {
    if (s[i] != lower && s[i] != upper) continue;
    if (EqualFolded(s.substr(i + 1, folded.size() - 1), folded.substr(1), true)) return i;
  }
  return std::string_view::npos;
}

}  // namespace

namespace {

uint32_t SimpleLower(uint32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 0x20 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) return 'i';  // capital I with dot above
    if (c == 0x178) return 0xFF;
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper) return (c & 1) ? c + 1 : c;
    return (c & 1) ? c : c + 1;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 0x25;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 0x3F;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) return (c & 1) ? c : c + 1;
  if (c >= 0x531 && c <= 0x556) return c + 0x30;
  return c;
}

}  // namespace

void FoldCaseInto(std::string& out, std::string_view s) {
  // ASCII, the usual case: one pass to check, one to fold, both without branches per byte (the
  // compiler vectorizes them).
  unsigned char any = 0;
  for (char c : s) any |= static_cast<unsigned char>(c);
  if (any < 0x80) {
    out.resize(s.size());
    char* o = out.data();
    for (size_t i = 0; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      o[i] = static_cast<char>(c + (static_cast<unsigned char>(c - 'A') < 26 ? 32 : 0));
    }
    return;
  }
  out.clear();
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(Fold(s[i], true));
      ++i;
      continue;
    }
    // Only 2-byte sequences hold letters with simple folds here; others are copied.
    if ((b >> 5) == 0x6 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      uint32_t cp = ((b & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      AppendUtf8(out, SimpleLower(cp));
      i += 2;
      continue;
    }
    out.push_back(s[i]);
    ++i;
  }
}

std::string FoldCase(std::string_view s) {
  std::string out;
  FoldCaseInto(out, s);
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
  std::string folded = insensitive ? FoldCase(pattern) : std::string(pattern);
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
  if (insensitive_ && kind_ == Kind::kContains) {
    // Fold the text once and search it with string_view::find (memchr + memcmp) rather than
    // trying both cases at every byte: 5-10 times faster on command lines.
    thread_local std::string folded;
    FoldCaseInto(folded, s);
    return std::string_view(folded).find(literal_) != std::string_view::npos;
  }
  if (insensitive_ && kind_ != Kind::kRegex && !IsAscii(s)) {
    // Non-ASCII text: fold it the way the pattern was folded, then compare exactly.
    thread_local std::string folded;
    FoldCaseInto(folded, s);
    return MatchesAs(folded, false);
  }
  return MatchesAs(s, insensitive_);
}

bool Matcher::MatchesAs(std::string_view s, bool fold) const {
  switch (kind_) {
    case Kind::kExact: return EqualFolded(s, literal_, fold);
    case Kind::kPrefix:
      return s.size() >= literal_.size() && EqualFolded(s.substr(0, literal_.size()), literal_, fold);
    case Kind::kSuffix:
      return s.size() >= literal_.size() && EqualFolded(s.substr(s.size() - literal_.size()), literal_, fold);
    case Kind::kContains: return FindFolded(s, literal_, fold) != std::string_view::npos;
    case Kind::kGlob: return GlobMatch(s, fold);
    case Kind::kRegex: return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *regex_);
  }
  return false;
}

// Iterative glob matching with single-star backtracking: linear in practice, no recursion.
bool Matcher::GlobMatch(std::string_view s, bool fold) const {
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
      if (pc == '?') {  // one character: a whole UTF-8 sequence
        ++pi;
        ++si;
        while (si < s.size() && (static_cast<unsigned char>(s[si]) & 0xC0) == 0x80) ++si;
        continue;
      }
      if (pc == Fold(s[si], fold)) {
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

std::string Matcher::Glob() const {
  switch (kind_) {
    case Kind::kPrefix: return literal_ + "*";
    case Kind::kSuffix: return "*" + literal_;
    case Kind::kContains: return "*" + literal_ + "*";
    default: return literal_;  // exact text, a glob, or (not a wildcard) a regex
  }
}

std::string Matcher::Describe() const {
  static constexpr std::string_view kNames[] = {"exact", "prefix", "suffix", "contains", "glob", "regex"};
  return fmt::format("{}{}({})", kNames[static_cast<int>(kind_)], insensitive_ ? "~" : "", QuoteString(literal_));
}

}  // namespace kestrel::eql
