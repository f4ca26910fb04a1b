// PatternSet: many wildcard patterns matched against a text in one pass (vectorscan, the
// portable Hyperscan). The rule index uses it for rules whose necessary condition is
// `field : ("glob", ...)`: one scan of the event's value names every pattern that matches,
// instead of one matcher call per rule.
//
// Patterns are ASCII globs (`*` any run, `?` one character) matched against the whole text,
// optionally ignoring ASCII case. Only ASCII text may be scanned: the caller treats other text
// as "may match" (UTF-8 `?` and Unicode case folding are the evaluator's business). A match of
// the set is a necessary condition, never the answer: the rule is still evaluated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct hs_database;
struct hs_scratch;

namespace kestrel::engine {

class PatternSet {
 public:
  // Scratch space for scans, one per thread; grown by Build for each set it serves.
  class Scratch {
   public:
    Scratch();
    ~Scratch();
    Scratch(Scratch&&) noexcept;
    Scratch& operator=(Scratch&&) noexcept;

   private:
    friend class PatternSet;
    hs_scratch* scratch_ = nullptr;
  };

  PatternSet();
  ~PatternSet();
  PatternSet(PatternSet&&) noexcept;
  PatternSet& operator=(PatternSet&&) noexcept;

  // Can `glob` be in a set: ASCII, and not one that matches every text (only `*`s)?
  static bool Indexable(std::string_view glob);

  // Adds a pattern (Indexable) and returns its id: 0, 1, ... in order; an equal pattern added
  // again gets its first id.
  uint32_t Add(std::string_view glob, bool insensitive);
  size_t size() const { return patterns_.size(); }

  // Compiles the patterns and grows `scratch` for them.
  Status Build(Scratch& scratch);

  // Appends to `ids` the id of every pattern that matches all of `text` (ASCII, shorter than
  // 4 GiB), each once, in no particular order.
  void Scan(std::string_view text, Scratch& scratch, std::vector<uint32_t>& ids) const;

 private:
  struct Pattern {
    std::string regex;
    unsigned flags;
  };
  std::vector<Pattern> patterns_;
  struct DatabaseDeleter {
    void operator()(hs_database* db) const;
  };
  std::unique_ptr<hs_database, DatabaseDeleter> database_;
};

}  // namespace kestrel::engine
