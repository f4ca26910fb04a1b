// The typed IR of a compiled event query: a flat array of nodes (children by index), constants,
// precompiled matchers and literal sets. Backends (the native evaluator here; Wasm and Lua
// later) all consume this form.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/string_map.h"
#include "eql/ast.h"
#include "eql/matcher.h"
#include "eql/scalar.h"
#include "schema/schema_registry.h"

namespace kestrel::eql {

enum class IrOp : uint8_t {
  kConst,      // constant
  kField,      // field value(s) of the event
  kAnd, kOr, kNot,
  kCompare,    // cmp: ==, !=, <, <=, >, >=
  kIsNull,     // x == null
  kIsNotNull,  // x != null
  kArith,      // arith: + - * / %
  kNeg,
  kInSet,      // value in a set of literal strings / numbers
  kInList,     // value in a list of expressions
  kMatch,      // value matches any of the node's matchers
  kCall,       // builtin function
  kLineage,    // child of / descendant of / event of [query]: asks the LineageOracle
  kVariable,   // the element bound by arraySearch / arrayCount (slot in `index`)
};

enum class Builtin : uint8_t {
  kAdd, kBetween, kCidrMatch, kConcat, kDivide, kEndsWith, kIndexOf, kLength, kModulo, kMultiply,
  kNumber, kStartsWith, kString, kStringContains, kSubstring, kSubtract, kArrayContains, kMatch, kWildcard,
  kArrayCount, kArraySearch,
};

struct LiteralSet {
  bool insensitive = false;
  StringSet strings;  // folded when insensitive
  std::vector<Scalar> others;               // numbers, booleans, ips: compared one by one
};

// An IP network (a cidrMatch argument), parsed once.
struct IpNetwork {
  IpAddress address{};
  int bits = 0;     // leading bits of the 16-byte form that must match (IPv4: 96 + prefix)
  bool v4 = false;  // matches IPv4 addresses only (IPv6 networks: IPv6 addresses only)
};
std::optional<IpNetwork> ParseNetwork(std::string_view cidr);  // "10.0.0.0/8", "::1", ...
bool NetworkContains(const IpNetwork& network, const IpAddress& ip);

struct IrNode {
  IrOp op = IrOp::kConst;
  Op cmp = Op::kEq;  // kCompare and kArith
  bool insensitive = false;
  bool negated = false;  // kInSet / kInList: `not in`
  Builtin builtin = Builtin::kAdd;
  FieldId field;
  Scalar constant;
  LineageKind lineage = LineageKind::kChild;
  uint32_t index = 0;  // kInSet: sets[index]; kMatch: first matcher; kLineage: the query's lineage[index];
                       // kCall cidrMatch with constant networks: first of networks
  uint32_t count = 0;  // kMatch: number of matchers; cidrMatch: number of networks
  // kMatch with many exact matchers: sets[exact_set] holds their literals (one lookup instead of
  // one comparison each); UINT32_MAX: none.
  uint32_t exact_set = UINT32_MAX;
  std::vector<uint32_t> children;
  Span span;
};

struct Program {
  Program() = default;
  Program(Program&&) noexcept = default;  // vectors of programs move, never copy, on growth
  Program& operator=(Program&&) noexcept = default;

  std::vector<IrNode> nodes;
  uint32_t root = 0;
  std::vector<Matcher> matchers;
  std::vector<LiteralSet> sets;
  std::deque<std::string> strings;  // storage for constant strings (stable addresses)
  std::vector<IpNetwork> networks;  // cidrMatch's constant networks, parsed by the optimizer

  // The event category the query needs (empty: any).
  std::string category;
  std::optional<EventTypeId> category_type;  // its id, when the registry knows it
  std::optional<FieldId> category_field;     // event.category, to match non-first categories
};

// Does `text` equal one of the set's strings (folded like the `:` operator when the set is
// case-insensitive)?
bool LiteralSetHas(const LiteralSet& set, std::string_view text);

// Does `text` match one of `matchers`? `exact` (may be null) holds the literals of the exact
// ones (ExactSetOf), looked up once instead of compared one by one.
inline bool MatchesAny(std::span<const Matcher> matchers, const LiteralSet* exact, std::string_view text) {
  if (exact != nullptr && LiteralSetHas(*exact, text)) return true;
  for (const Matcher& matcher : matchers) {
    if (exact != nullptr && matcher.kind() == Matcher::Kind::kExact) continue;  // looked up above
    if (matcher.Matches(text)) return true;
  }
  return false;
}

// The set of a long matcher list's exact literals, when it pays and all the matchers fold case
// the same way; nullopt otherwise.
std::optional<LiteralSet> ExactSetOf(std::span<const Matcher> matchers);

// Does `text` match one of the node's matchers (kMatch, and the match / wildcard calls)?
inline bool MatchesAny(const Program& p, const IrNode& n, std::string_view text) {
  return MatchesAny(std::span<const Matcher>(p.matchers).subspan(n.index, n.count),
                    n.exact_set != UINT32_MAX ? &p.sets[n.exact_set] : nullptr, text);
}

// Prints the IR as an S-expression.
std::string PrintProgram(const Program& p, const SchemaRegistry& registry);

}  // namespace kestrel::eql
