// Parser: tokens -> Query. Hand-written recursive descent with precedence levels
// (or < and < not < comparison and predicates < + - < * / % < unary minus).
#pragma once

#include <memory>
#include <vector>

#include "eql/ast.h"
#include "eql/lexer.h"

namespace kestrel::eql {

struct ParseResult {
  std::unique_ptr<Query> query;  // null when there are diagnostics
  std::vector<Diagnostic> diagnostics;
};

ParseResult Parse(const Source& source, Dialect dialect = Dialect::kElasticsearch);

// Parses a duration such as "5s", "100ms", "2h" (units ms, s, m, h, d) into nanoseconds.
std::optional<int64_t> ParseDurationNs(int64_t amount, std::string_view unit);

}  // namespace kestrel::eql
