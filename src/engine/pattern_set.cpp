#include "engine/pattern_set.h"

#include <hs.h>

#include <fmt/format.h>

namespace kestrel::engine {
namespace {

// A glob as an anchored regular expression: `*` is `.*`, `?` is `.`, every other byte is
// escaped as `\xHH` unless it is a letter or digit.
std::string GlobToRegex(std::string_view glob) {
  std::string out = "^";
  for (char c : glob) {
    if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += '.';
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
  out += "\\z";
  return out;
}

int OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/, unsigned int /*flags*/,
            void* context) {
  static_cast<std::vector<uint32_t>*>(context)->push_back(id);
  return 0;  // continue scanning
}

}  // namespace

PatternSet::Scratch::Scratch() = default;
PatternSet::Scratch::~Scratch() {
  if (scratch_ != nullptr) hs_free_scratch(scratch_);
}
PatternSet::Scratch::Scratch(Scratch&& o) noexcept : scratch_(std::exchange(o.scratch_, nullptr)) {}
PatternSet::Scratch& PatternSet::Scratch::operator=(Scratch&& o) noexcept {
  if (this != &o) {
    if (scratch_ != nullptr) hs_free_scratch(scratch_);
    scratch_ = std::exchange(o.scratch_, nullptr);
  }
  return *this;
}

void PatternSet::DatabaseDeleter::operator()(hs_database* db) const { hs_free_database(db); }

PatternSet::PatternSet() = default;
PatternSet::~PatternSet() = default;
PatternSet::PatternSet(PatternSet&&) noexcept = default;
PatternSet& PatternSet::operator=(PatternSet&&) noexcept = default;

bool PatternSet::Indexable(std::string_view glob) {
  bool matches_all = true;
  for (char c : glob) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
    if (c != '*') matches_all = false;
  }
  return !matches_all;
}

uint32_t PatternSet::Add(std::string_view glob, bool insensitive) {
  Pattern p{GlobToRegex(glob), HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH | (insensitive ? HS_FLAG_CASELESS : 0u)};
  for (size_t i = 0; i < patterns_.size(); ++i) {
    if (patterns_[i].regex == p.regex && patterns_[i].flags == p.flags) return static_cast<uint32_t>(i);
  }
  patterns_.push_back(std::move(p));
  return static_cast<uint32_t>(patterns_.size() - 1);
}

Status PatternSet::Build(Scratch& scratch) {
  std::vector<const char*> expressions;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < patterns_.size(); ++i) {
    expressions.push_back(patterns_[i].regex.c_str());
    flags.push_back(patterns_[i].flags);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), static_cast<unsigned>(expressions.size()),
                       HS_MODE_BLOCK, nullptr, &db, &error) != HS_SUCCESS) {
    std::string message = fmt::format("cannot compile {} wildcard patterns: {}{}", patterns_.size(),
                                      error != nullptr ? error->message : "unknown error",
                                      error != nullptr && error->expression >= 0
                                          ? fmt::format(" (pattern {})", patterns_[error->expression].regex)
                                          : "");
    hs_free_compile_error(error);
    return MakeError(ErrorCode::kInternal, std::move(message));
  }
  database_.reset(db);
  if (hs_alloc_scratch(db, &scratch.scratch_) != HS_SUCCESS) {
    return MakeError(ErrorCode::kInternal, "cannot allocate scratch space for wildcard patterns");
  }
  return Ok();
}

void PatternSet::Scan(std::string_view text, Scratch& scratch, std::vector<uint32_t>& ids) const {
  hs_scan(database_.get(), text.data(), static_cast<unsigned>(text.size()), 0, scratch.scratch_, OnMatch, &ids);
}

}  // namespace kestrel::engine
