// Semantic analysis and lowering: AST -> IR, checked against a SchemaRegistry.
// Reports unknown fields (with a did-you-mean), unknown functions, wrong arity, patterns that
// are not strings, invalid regular expressions and bad pipe arguments, all with spans.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "eql/ast.h"
#include "eql/ir.h"
#include "eql/lexer.h"

namespace kestrel::eql {

struct CompileOptions {
  Dialect dialect = Dialect::kElasticsearch;
  // Case-insensitive `==`, `!=` and `in` (python-eql's default; --case-insensitive).
  bool case_insensitive = false;
};

struct CompiledTerm {
  Program filter;
  std::vector<Program> keys;  // join keys (shared keys first, then the term's own)
  std::vector<bool> key_optional;  // `?field` keys: null is a valid key value
  bool missing = false;
  int64_t runs = 1;
};

struct CompiledPipe {
  std::string name;
  int64_t number = 0;           // head / tail
  std::vector<Program> args;    // filter condition, or the fields of count / unique / sort
  std::vector<std::string> arg_names;
};

struct CompiledLineage {
  LineageKind kind;
  Program query;  // the bracketed event query
};

struct CompiledQuery {
  std::vector<CompiledLineage> lineage;  // referenced by kLineage nodes
  QueryKind kind = QueryKind::kEvent;
  std::vector<CompiledTerm> terms;  // one term for an event query
  std::optional<CompiledTerm> until;
  std::optional<int64_t> maxspan_ns;
  size_t shared_keys = 0;
  std::vector<CompiledPipe> pipes;
};

struct CompileResult {
  std::unique_ptr<CompiledQuery> query;  // null when there are diagnostics
  std::vector<Diagnostic> diagnostics;
};

// Parses and compiles `source`. The registry must already hold the fields the data uses.
CompileResult Compile(const Source& source, const SchemaRegistry& registry, const CompileOptions& options = {});
CompileResult CompileQuery(const Query& query, const SchemaRegistry& registry, const CompileOptions& options = {});

}  // namespace kestrel::eql
