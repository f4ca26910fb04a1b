// IR optimizations run after lowering (constant folding happens during lowering):
// - `f == "a" or f == "b" or f in ("c")` on one field becomes one hash-set lookup;
// - the operands of a chain of `and` are reordered: tests on low-cardinality fields last (they
//   rarely fail), then cheapest first (Kleene `and` commutes, so only the cost changes: cheap
//   tests short-circuit expensive ones);
// and the extraction of prefilters: literal values a matching event must have in a field,
// which a dispatcher can index (the event type is the other prefilter).
#pragma once

#include <string>
#include <vector>

#include "eql/ir.h"

namespace kestrel::eql {

// With a registry, tests on low-cardinality fields (FieldInfo::low_cardinality: event.type,
// host.os.type, ...) go after the others of an `and`: they rarely fail.
void Optimize(Program& program, const SchemaRegistry* registry = nullptr);

// A necessary condition of the program, taken from its top-level conjunction: field `field`
// equals one of `values`, or (when `values` is empty) matches one of the wildcard patterns
// `globs` (`*` any run, `?` one character). Both are folded when `insensitive`.
struct Prefilter {
  FieldId field;
  bool insensitive = false;
  std::vector<std::string> values;
  std::vector<std::string> globs;
};

std::vector<Prefilter> ExtractPrefilters(const Program& program);

// The integers a program requires `field` to equal (`field == 22`, `field in (22, 2222)` in its
// top-level conjunction: the first such condition); empty when it requires none.
std::vector<int64_t> RequiredIntegers(const Program& program, FieldId field);

// Necessary conditions that are a choice: for each `or` in the top-level conjunction whose every
// branch has a prefilter on a string field (`process.name == "nc" or process.args : "*-e*"`),
// one prefilter per branch (the branch's best, by RankOf); a matching event meets one of them.
std::vector<std::vector<Prefilter>> ExtractAlternatives(const Program& program, const SchemaRegistry& registry);

// How selective a prefilter is, best first: one on a field with many values before one on a
// low-cardinality field (FieldInfo::low_cardinality), literals before globs, fewer values first.
struct PrefilterRank {
  bool low_cardinality;
  bool globs;
  size_t values;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misfires on a defaulted operator<=>
  friend auto operator<=>(const PrefilterRank&, const PrefilterRank&) = default;
};
PrefilterRank RankOf(const Prefilter& prefilter, const SchemaRegistry& registry);

// Estimated evaluation cost of a node and its operands (arbitrary units).
uint32_t NodeCost(const Program& program, uint32_t node);

}  // namespace kestrel::eql
