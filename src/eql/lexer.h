// Lexer: query text -> tokens. Reports every lexical error it meets and keeps going.
#pragma once

#include <vector>

#include "eql/source.h"
#include "eql/token.h"

namespace kestrel::eql {

enum class Dialect : uint8_t {
  kElasticsearch,  // the default: Elasticsearch EQL as in Elastic's detection rules
  kPythonEql,      // python-eql: `=`, single quotes, ?"raw", wildcards in ==, case-insensitive
};

struct LexResult {
  std::vector<Token> tokens;  // always ends with kEnd
  std::vector<Diagnostic> diagnostics;
};

LexResult Lex(const Source& source, Dialect dialect);

}  // namespace kestrel::eql
