#include "eql/compiler.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "eql/lowerer.h"
#include "eql/parser.h"

namespace kestrel::eql {
namespace {

bool LowerTerm(Lowerer& lowerer, const SequenceTerm& term, const std::vector<ExprPtr>& shared_by, CompiledTerm& out) {
  bool ok = lowerer.LowerEventQuery(term.query, out.filter);
  out.missing = term.missing;
  out.runs = term.runs;
  for (const auto* keys : {&shared_by, &term.by}) {
    for (const ExprPtr& key : *keys) {
      Program p;
      if (!lowerer.LowerExpression(*key, p)) {
        ok = false;
        continue;
      }
      out.keys.push_back(std::move(p));
      out.key_optional.push_back(key->kind == ExprKind::kField && key->optional);
    }
  }
  return ok;
}

}  // namespace

CompileResult CompileQuery(const Query& q, const SchemaRegistry& registry, const CompileOptions& options) {
  CompileResult result;
  auto compiled = std::make_unique<CompiledQuery>();
  Lowerer lowerer(registry, options, result.diagnostics, &compiled->lineage);
  compiled->kind = q.kind;
  compiled->maxspan_ns = q.maxspan_ns;
  compiled->shared_keys = q.by.size();
  if (q.kind == QueryKind::kEvent) {
    CompiledTerm term;
    lowerer.LowerEventQuery(q.event, term.filter);
    compiled->terms.push_back(std::move(term));
  } else {
    size_t key_count = std::numeric_limits<size_t>::max();
    for (const SequenceTerm& t : q.terms) {
      CompiledTerm term;
      LowerTerm(lowerer, t, q.by, term);
      size_t n = q.by.size() + t.by.size();
      if (key_count != std::numeric_limits<size_t>::max() && n != key_count) {
        result.diagnostics.push_back(
            {t.span, fmt::format("every query of a {} needs the same number of join keys: this one has {}, the first {}",
                                 q.kind == QueryKind::kSequence ? "sequence" : "sample", n, key_count)});
      }
      key_count = std::min(key_count, n);
      compiled->terms.push_back(std::move(term));
    }
    if (q.until) {
      CompiledTerm until;
      LowerTerm(lowerer, *q.until, q.by, until);
      size_t n = q.by.size() + q.until->by.size();
      if (key_count != std::numeric_limits<size_t>::max() && n != key_count) {
        result.diagnostics.push_back(
            {q.until->span, fmt::format("every query of a sequence needs the same number of join keys: this one "
                                        "has {}, the first {}",
                                        n, key_count)});
      }
      compiled->until = std::move(until);
    }
  }
  for (const Pipe& pipe : q.pipes) {
    CompiledPipe out;
    out.name = pipe.name;
    if (pipe.name == "head" || pipe.name == "tail") {
      const Expr* arg = pipe.args.size() == 1 ? pipe.args[0].get() : nullptr;
      if (pipe.args.empty()) {
        out.number = 10;  // python-eql's default
      } else if (arg == nullptr || arg->kind != ExprKind::kLiteral || arg->literal != LiteralKind::kInteger ||
                 arg->int_value < 0) {
        result.diagnostics.push_back({pipe.span, fmt::format("'{}' takes one non-negative integer", pipe.name)});
      } else {
        out.number = arg->int_value;
      }
    } else if (pipe.name == "filter") {
      if (pipe.args.size() != 1) {
        result.diagnostics.push_back({pipe.span, "'filter' takes one condition"});
      } else if (q.kind != QueryKind::kEvent) {
        result.diagnostics.push_back({pipe.span, "'filter' applies to event queries"});
      } else {
        EventQuery any;
        Program p;
        if (lowerer.LowerExpression(*pipe.args[0], p)) out.args.push_back(std::move(p));
      }
    } else {
      if (q.kind != QueryKind::kEvent) {
        result.diagnostics.push_back({pipe.span, fmt::format("'{}' applies to event queries", pipe.name)});
      }
      if (pipe.args.empty() && pipe.name != "count") {
        result.diagnostics.push_back({pipe.span, fmt::format("'{}' needs at least one field", pipe.name)});
      }
      for (const ExprPtr& arg : pipe.args) {
        Program p;
        if (lowerer.LowerExpression(*arg, p)) out.args.push_back(std::move(p));
        out.arg_names.push_back(PrintExpr(*arg));
      }
    }
    compiled->pipes.push_back(std::move(out));
  }
  // Shared keys are lowered with every term: report each problem once.
  std::vector<Diagnostic> unique;
  for (Diagnostic& d : result.diagnostics) {
    bool seen = std::any_of(unique.begin(), unique.end(), [&](const Diagnostic& u) {
      return u.span.begin == d.span.begin && u.span.end == d.span.end && u.message == d.message;
    });
    if (!seen) unique.push_back(std::move(d));
  }
  result.diagnostics = std::move(unique);
  if (result.diagnostics.empty()) result.query = std::move(compiled);
  return result;
}

CompileResult Compile(const Source& source, const SchemaRegistry& registry, const CompileOptions& options) {
  ParseResult parsed = Parse(source, options.dialect);
  if (!parsed.query) {
    CompileResult r;
    r.diagnostics = std::move(parsed.diagnostics);
    return r;
  }
  return CompileQuery(*parsed.query, registry, options);
}

}  // namespace kestrel::eql
