#include "eql/source.h"

#include <algorithm>

#include <fmt/format.h>

namespace kestrel::eql {

Source::Source(std::string name, std::string text) : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

std::string_view Source::Slice(Span span) const {
  uint32_t end = std::min<uint32_t>(span.end, static_cast<uint32_t>(text_.size()));
  uint32_t begin = std::min(span.begin, end);
  return std::string_view(text_).substr(begin, end - begin);
}

std::pair<uint32_t, uint32_t> Source::LineCol(uint32_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  auto line = static_cast<uint32_t>(it - line_starts_.begin());
  return {line, offset - line_starts_[line - 1] + 1};
}

std::string Source::Render(const Diagnostic& d) const {
  auto [line, col] = LineCol(d.span.begin);
  uint32_t start = line_starts_[line - 1];
  uint32_t stop = line < line_starts_.size() ? line_starts_[line] - 1 : static_cast<uint32_t>(text_.size());
  std::string_view text = std::string_view(text_).substr(start, stop - start);
  // Keep tabs so the caret lines up; everything else before the caret becomes a space.
  std::string caret;
  for (uint32_t i = start; i < d.span.begin && i < stop; ++i) caret.push_back(text_[i] == '\t' ? '\t' : ' ');
  uint32_t width = d.span.end > d.span.begin ? std::min(d.span.end, stop) - d.span.begin : 1;
  caret.push_back('^');
  for (uint32_t i = 1; i < width; ++i) caret.push_back('~');
  uint32_t file_line = origin_line_ + line - 1;
  uint32_t file_col = line == 1 ? origin_column_ + col - 1 : origin_indent_ + col;
  return fmt::format("{}:{}:{}: error: {}\n{}\n{}\n", name_, file_line, file_col, d.message, text, caret);
}

std::string Source::RenderAll(const std::vector<Diagnostic>& diagnostics) const {
  std::string out;
  for (const Diagnostic& d : diagnostics) out += Render(d);
  return out;
}

std::string QuoteString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{{{:x}}}", static_cast<int>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace kestrel::eql
