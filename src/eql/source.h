// Rule text and positions in it: spans, line/column lookup, and diagnostics rendered the way
// compilers print them ("file:line:col: error: message", the line, a caret).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"

namespace kestrel::eql {

// Byte range [begin, end) in the query text.
struct Span {
  uint32_t begin = 0;
  uint32_t end = 0;
};

inline Span Join(Span a, Span b) { return {a.begin < b.begin ? a.begin : b.begin, a.end > b.end ? a.end : b.end}; }

struct Diagnostic {
  Span span;
  std::string message;  // lower-case, no trailing period
};

using kestrel::AppendUtf8;  // common/utf8.h

// A string literal in EQL syntax, escaped ("a\"b\n", control characters as \u{...}).
std::string QuoteString(std::string_view s);

class Source {
 public:
  Source(std::string name, std::string text);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  std::string_view Slice(Span span) const;

  // 1-based line and column (in bytes) of a byte offset.
  std::pair<uint32_t, uint32_t> LineCol(uint32_t offset) const;

  // When the text is embedded in a larger file (a query in a YAML rule), diagnostics give the
  // position in that file: the text starts at `line`:`column` and its later lines are indented
  // by `indent` columns there (1-based line and column).
  void SetOrigin(uint32_t line, uint32_t column, uint32_t indent) {
    origin_line_ = line;
    origin_column_ = column;
    origin_indent_ = indent;
  }

  // "name:line:col: error: message\n<line>\n<caret>\n"
  std::string Render(const Diagnostic& d) const;
  std::string RenderAll(const std::vector<Diagnostic>& diagnostics) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<uint32_t> line_starts_;
  uint32_t origin_line_ = 1;
  uint32_t origin_column_ = 1;
  uint32_t origin_indent_ = 0;
};

}  // namespace kestrel::eql
