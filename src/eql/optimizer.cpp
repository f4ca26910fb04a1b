#include "eql/optimizer.h"

#include <algorithm>
#include <optional>

namespace kestrel::eql {
namespace {

// A node that tests one field against literal strings: `f == "x"` or `f in ("x", ...)`.
struct FieldLiterals {
  FieldId field;
  bool insensitive;
  std::vector<std::string> values;
};

std::optional<FieldLiterals> AsFieldLiterals(const Program& p, uint32_t id) {
  const IrNode& n = p.nodes[id];
  if (n.op == IrOp::kCompare && n.cmp == Op::kEq && n.children.size() == 2) {
    const IrNode& a = p.nodes[n.children[0]];
    const IrNode& b = p.nodes[n.children[1]];
    const IrNode* field = a.op == IrOp::kField ? &a : (b.op == IrOp::kField ? &b : nullptr);
    const IrNode* literal = a.op == IrOp::kConst ? &a : (b.op == IrOp::kConst ? &b : nullptr);
    if (field == nullptr || literal == nullptr || literal->constant.kind != SKind::kString) return std::nullopt;
    std::string v(literal->constant.s);
    if (n.insensitive) v = FoldCase(v);
    return FieldLiterals{field->field, n.insensitive, {std::move(v)}};
  }
  if (n.op == IrOp::kInSet && !n.negated && p.nodes[n.children[0]].op == IrOp::kField) {
    const LiteralSet& set = p.sets[n.index];
    if (!set.others.empty()) return std::nullopt;
    FieldLiterals out{p.nodes[n.children[0]].field, set.insensitive, {}};
    set.strings.Any([&](std::string_view v) {
      out.values.emplace_back(v);
      return false;
    });
    std::sort(out.values.begin(), out.values.end());
    return out;
  }
  return std::nullopt;
}

// Rewrites `or` trees of literal tests on one field into a single set lookup, bottom up.
uint32_t MergeOr(Program& p, uint32_t id) {
  IrNode& n = p.nodes[id];
  if (n.op != IrOp::kOr && n.op != IrOp::kAnd && n.op != IrOp::kNot) return id;
  for (size_t k = 0; k < p.nodes[id].children.size(); ++k) {
    uint32_t child = MergeOr(p, p.nodes[id].children[k]);
    p.nodes[id].children[k] = child;
  }
  if (p.nodes[id].op != IrOp::kOr) return id;
  auto a = AsFieldLiterals(p, p.nodes[id].children[0]);
  auto b = AsFieldLiterals(p, p.nodes[id].children[1]);
  if (!a || !b || !(a->field == b->field) || a->insensitive != b->insensitive) return id;
  LiteralSet set;
  set.insensitive = a->insensitive;
  for (auto& v : a->values) set.strings.Insert(v);
  for (auto& v : b->values) set.strings.Insert(v);
  IrNode field;
  field.op = IrOp::kField;
  field.field = a->field;
  field.span = p.nodes[id].span;
  p.nodes.push_back(field);
  IrNode merged;
  merged.op = IrOp::kInSet;
  merged.insensitive = a->insensitive;
  merged.index = static_cast<uint32_t>(p.sets.size());
  merged.children = {static_cast<uint32_t>(p.nodes.size() - 1)};
  merged.span = p.nodes[id].span;
  p.sets.push_back(std::move(set));
  p.nodes.push_back(std::move(merged));
  return static_cast<uint32_t>(p.nodes.size() - 1);
}

// The operands of a chain of `op` (kAnd or kOr), in order.
void Collect(const Program& p, uint32_t id, IrOp op, std::vector<uint32_t>& out) {
  const IrNode& n = p.nodes[id];
  if (n.op != op) {
    out.push_back(id);
    return;
  }
  Collect(p, n.children[0], op, out);
  Collect(p, n.children[1], op, out);
}

void CollectAnd(const Program& p, uint32_t id, std::vector<uint32_t>& out) { Collect(p, id, IrOp::kAnd, out); }

// Does the node test a low-cardinality field against something (`event.type == "start"`)?
bool TestsLowCardinalityField(const Program& p, uint32_t id, const SchemaRegistry* registry) {
  const IrNode& n = p.nodes[id];
  if (registry == nullptr || (n.op != IrOp::kCompare && n.op != IrOp::kInSet && n.op != IrOp::kMatch)) return false;
  return std::any_of(n.children.begin(), n.children.end(), [&](uint32_t c) {
    const IrNode& child = p.nodes[c];
    return child.op == IrOp::kField && child.field.value < registry->size() && registry->info(child.field).low_cardinality;
  });
}

uint32_t Reorder(Program& p, uint32_t id, const SchemaRegistry* registry) {
  IrNode& n = p.nodes[id];
  if (n.op == IrOp::kOr || n.op == IrOp::kNot) {
    for (size_t k = 0; k < p.nodes[id].children.size(); ++k) {
      uint32_t child = Reorder(p, p.nodes[id].children[k], registry);
      p.nodes[id].children[k] = child;
    }
    return id;
  }
  if (n.op != IrOp::kAnd) return id;
  std::vector<uint32_t> terms;
  CollectAnd(p, id, terms);
  for (uint32_t& t : terms) t = Reorder(p, t, registry);
  auto rank = [&](uint32_t t) { return std::make_pair(TestsLowCardinalityField(p, t, registry), NodeCost(p, t)); };
  std::stable_sort(terms.begin(), terms.end(), [&](uint32_t a, uint32_t b) { return rank(a) < rank(b); });
  // Rebuild as a left-deep chain, reusing the original `and` nodes' span.
  Span span = p.nodes[id].span;
  uint32_t acc = terms[0];
  for (size_t k = 1; k < terms.size(); ++k) {
    IrNode a;
    a.op = IrOp::kAnd;
    a.children = {acc, terms[k]};
    a.span = span;
    p.nodes.push_back(std::move(a));
    acc = static_cast<uint32_t>(p.nodes.size() - 1);
  }
  return acc;
}

}  // namespace

uint32_t NodeCost(const Program& p, uint32_t id) {
  const IrNode& n = p.nodes[id];
  uint32_t own = 1;
  switch (n.op) {
    case IrOp::kConst: own = 0; break;
    case IrOp::kField: own = 1; break;
    case IrOp::kInSet: own = 2; break;
    case IrOp::kMatch: {
      own = 2;
      for (uint32_t m = 0; m < n.count; ++m) {
        Matcher::Kind k = p.matchers[n.index + m].kind();
        own += k == Matcher::Kind::kRegex ? 20 : (k == Matcher::Kind::kGlob || k == Matcher::Kind::kContains ? 4 : 1);
      }
      break;
    }
    case IrOp::kCall: own = 6; break;
    case IrOp::kLineage: own = 30; break;
    default: own = 1; break;
  }
  for (uint32_t c : n.children) own += NodeCost(p, c);
  return own;
}

namespace {

// cidrMatch(x, "10.0.0.0/8", ...) with constant networks: parsed once, into program.networks
// (an argument that is not a network never matches, as when it is parsed per call).
void PrepareNetworks(Program& p) {
  for (IrNode& n : p.nodes) {
    if (n.op != IrOp::kCall || n.builtin != Builtin::kCidrMatch || n.children.size() < 2) continue;
    bool constant = std::all_of(n.children.begin() + 1, n.children.end(),
                                [&](uint32_t c) { return p.nodes[c].op == IrOp::kConst; });
    if (!constant) continue;
    auto first = static_cast<uint32_t>(p.networks.size());
    for (size_t k = 1; k < n.children.size(); ++k) {
      const Scalar& c = p.nodes[n.children[k]].constant;
      if (c.kind != SKind::kString) continue;
      if (auto net = ParseNetwork(c.s)) p.networks.push_back(*net);
    }
    n.index = first;
    n.count = static_cast<uint32_t>(p.networks.size()) - first;
  }
}

// `f : ("bash", "sh", "zsh", "python*", ...)`: the exact literals of a long list go into a set.
void PrepareExactSets(Program& p) {
  for (IrNode& n : p.nodes) {
    if (n.op != IrOp::kMatch) continue;
    auto set = ExactSetOf(std::span<const Matcher>(p.matchers).subspan(n.index, n.count));
    if (!set) continue;
    n.exact_set = static_cast<uint32_t>(p.sets.size());
    p.sets.push_back(std::move(*set));
  }
}

}  // namespace

void Optimize(Program& program, const SchemaRegistry* registry) {
  if (program.nodes.empty()) return;
  PrepareNetworks(program);
  PrepareExactSets(program);
  program.root = MergeOr(program, program.root);
  program.root = Reorder(program, program.root, registry);
}

namespace {

// The prefilter of one test: `f == "x"`, `f in (...)`, or `f : "x*"` (literals without
// wildcards, globs with). Regular expressions give none.
std::optional<Prefilter> TestPrefilter(const Program& program, uint32_t t) {
  if (auto lit = AsFieldLiterals(program, t)) return Prefilter{lit->field, lit->insensitive, std::move(lit->values), {}};
  const IrNode& n = program.nodes[t];
  if (n.op != IrOp::kMatch || n.count == 0 || program.nodes[n.children[0]].op != IrOp::kField) return std::nullopt;
  Prefilter pf{program.nodes[n.children[0]].field, program.matchers[n.index].insensitive(), {}, {}};
  bool all_exact = true;
  for (uint32_t m = 0; m < n.count; ++m) {
    const Matcher& matcher = program.matchers[n.index + m];
    if (matcher.kind() == Matcher::Kind::kRegex || matcher.insensitive() != pf.insensitive) return std::nullopt;
    if (matcher.kind() != Matcher::Kind::kExact) all_exact = false;
    pf.values.push_back(matcher.literal());
    pf.globs.push_back(matcher.Glob());
  }
  (all_exact ? pf.globs : pf.values).clear();
  return pf;
}

}  // namespace

PrefilterRank RankOf(const Prefilter& p, const SchemaRegistry& registry) {
  return {registry.info(p.field).low_cardinality, p.values.empty(), p.values.empty() ? p.globs.size() : p.values.size()};
}

std::vector<Prefilter> ExtractPrefilters(const Program& program) {
  std::vector<Prefilter> out;
  if (program.nodes.empty()) return out;
  std::vector<uint32_t> terms;
  CollectAnd(program, program.root, terms);
  for (uint32_t t : terms) {
    if (auto pf = TestPrefilter(program, t)) out.push_back(std::move(*pf));
  }
  return out;
}

std::vector<std::vector<Prefilter>> ExtractAlternatives(const Program& program, const SchemaRegistry& registry) {
  std::vector<std::vector<Prefilter>> out;
  if (program.nodes.empty()) return out;
  std::vector<uint32_t> terms;
  CollectAnd(program, program.root, terms);
  for (uint32_t t : terms) {
    if (program.nodes[t].op != IrOp::kOr) continue;
    std::vector<uint32_t> branches;
    Collect(program, t, IrOp::kOr, branches);
    std::vector<Prefilter> alternatives;
    for (uint32_t branch : branches) {
      // The branch's best prefilter on a string field; a branch without one ends the search.
      std::vector<uint32_t> conjuncts;
      CollectAnd(program, branch, conjuncts);
      std::optional<Prefilter> best;
      for (uint32_t c : conjuncts) {
        auto pf = TestPrefilter(program, c);
        if (!pf || registry.info(pf->field).type.scalar != ValueKind::kString) continue;
        if (!best || RankOf(*pf, registry) < RankOf(*best, registry)) best = std::move(pf);
      }
      if (!best) break;
      alternatives.push_back(std::move(*best));
    }
    if (alternatives.size() == branches.size()) out.push_back(std::move(alternatives));
  }
  return out;
}

std::vector<int64_t> RequiredIntegers(const Program& p, FieldId field) {
  std::vector<uint32_t> pending = {p.root};
  auto is_field = [&](uint32_t c) { return p.nodes[c].op == IrOp::kField && p.nodes[c].field == field; };
  while (!pending.empty()) {
    const IrNode& n = p.nodes[pending.back()];
    pending.pop_back();
    if (n.op == IrOp::kAnd) {
      pending.insert(pending.end(), n.children.begin(), n.children.end());
      continue;
    }
    std::vector<int64_t> values;
    if (n.op == IrOp::kCompare && n.cmp == Op::kEq && n.children.size() == 2) {
      uint32_t f = is_field(n.children[0]) ? n.children[0] : n.children[1];
      uint32_t c = f == n.children[0] ? n.children[1] : n.children[0];
      if (!is_field(f) || p.nodes[c].op != IrOp::kConst || p.nodes[c].constant.kind != SKind::kInt) continue;
      values.push_back(p.nodes[c].constant.i);
    } else if (n.op == IrOp::kInSet && !n.negated && is_field(n.children[0])) {
      const LiteralSet& set = p.sets[n.index];
      if (set.strings.size() != 0) continue;
      for (const Scalar& x : set.others) {
        if (x.kind != SKind::kInt) {
          values.clear();
          break;
        }
        values.push_back(x.i);
      }
    }
    if (!values.empty()) return values;
  }
  return {};
}

}  // namespace kestrel::eql
