#include "event/json_records.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace kestrel {
namespace {

constexpr size_t kChunk = 1 << 20;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsBlank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!IsSpace(p[i])) return false;
  }
  return true;
}

}  // namespace

JsonRecordSplitter::JsonRecordSplitter(InputFile* input, size_t max_record_bytes, size_t padding)
    : input_(input),
      max_record_(max_record_bytes),
      padding_(padding),
      buf_(new char[kChunk + padding]()),
      cap_(kChunk) {}

tl::unexpected<Error> JsonRecordSplitter::Fail(std::string message, uint64_t line) const {
  return MakeErrorAt(fmt::format("{}:{}", input_->path(), line), ErrorCode::kParse, std::move(message));
}

Status JsonRecordSplitter::Fill() {
  if (pos_ > 0) {
    std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
    base_offset_ += pos_;
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == cap_) {
    if (cap_ >= max_record_ + kChunk) {
      return Fail(fmt::format("record longer than the limit of {} bytes", max_record_), line_);
    }
    size_t new_cap = std::min(cap_ * 2, max_record_ + kChunk);
    std::unique_ptr<char[]> bigger(new char[new_cap + padding_]());
    std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    cap_ = new_cap;
  }
  KESTREL_ASSIGN_OR_RETURN(size_t got, input_->Read(buf_.get() + end_, cap_ - end_));
  if (got == 0) eof_ = true;
  end_ += got;
  return Ok();
}

Result<bool> JsonRecordSplitter::SkipWhitespace() {
  for (;;) {
    while (pos_ < end_ && IsSpace(buf_[pos_])) {
      if (buf_[pos_] == '\n') ++line_;
      ++pos_;
    }
    if (pos_ < end_) return true;
    if (eof_) return false;
    KESTREL_TRY(Fill());
  }
}

Status JsonRecordSplitter::DetectMode() {
  KESTREL_TRY(Fill());
  // A UTF-8 byte order mark is allowed and ignored.
  if (end_ - pos_ >= 3 && std::memcmp(buf_.get() + pos_, "\xEF\xBB\xBF", 3) == 0) pos_ += 3;
  size_t p = pos_;
  for (;;) {
    while (p < end_ && IsSpace(buf_[p])) ++p;
    if (p < end_ || eof_) break;
    KESTREL_TRY(Fill());  // may move bytes: recompute from pos_
    p = pos_;
  }
  mode_ = (p < end_ && buf_[p] == '[') ? Mode::kArray : Mode::kLines;
  if (mode_ == Mode::kArray) {
    KESTREL_ASSIGN_OR_RETURN(bool more, SkipWhitespace());
    (void)more;
    ++pos_;  // the '['
  }
  return Ok();
}

Result<std::optional<JsonRecord>> JsonRecordSplitter::Next() {
  if (mode_ == Mode::kUnknown) KESTREL_TRY(DetectMode());
  return mode_ == Mode::kLines ? NextLine() : NextElement();
}

Result<std::optional<JsonRecord>> JsonRecordSplitter::NextLine() {
  for (;;) {
    const char* begin = buf_.get() + pos_;
    const auto* nl = static_cast<const char*>(std::memchr(begin, '\n', end_ - pos_));
    if (nl == nullptr && !eof_) {
      KESTREL_TRY(Fill());
      continue;
    }
    if (nl == nullptr && pos_ == end_) return std::nullopt;
    size_t len = nl != nullptr ? static_cast<size_t>(nl - begin) : end_ - pos_;
    JsonRecord record{begin, len, line_, base_offset_ + pos_};
    pos_ += nl != nullptr ? len + 1 : len;
    ++line_;
    if (record.size > 0 && record.data[record.size - 1] == '\r') --record.size;
    if (IsBlank(record.data, record.size)) continue;
    if (record.size > max_record_) {
      return Fail(fmt::format("record longer than the limit of {} bytes", max_record_), record.line);
    }
    return record;
  }
}

Result<std::optional<JsonRecord>> JsonRecordSplitter::NextElement() {
  for (;;) {
    KESTREL_ASSIGN_OR_RETURN(bool more, SkipWhitespace());
    if (array_state_ == ArrayState::kDone) {
      if (!more) return std::nullopt;
      return Fail("unexpected data after the JSON array", line_);
    }
    if (!more) return Fail("unterminated JSON array: missing ']'", line_);
    char c = buf_[pos_];
    if (array_state_ == ArrayState::kAfterElement) {
      if (c == ',') {
        ++pos_;
        array_state_ = ArrayState::kNeedElement;
        continue;
      }
      if (c == ']') {
        ++pos_;
        array_state_ = ArrayState::kDone;
        continue;
      }
      return Fail(fmt::format("expected ',' or ']' after an array element, found '{}'", c), line_);
    }
    if (c == ']' && array_state_ == ArrayState::kStart) {
      ++pos_;
      array_state_ = ArrayState::kDone;
      continue;
    }
    if (c == ']' || c == ',') return Fail(fmt::format("expected an array element, found '{}'", c), line_);

    // Scan one element: balanced brackets outside strings, or a bare scalar.
    size_t scan = pos_;
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (;;) {
      if (scan == end_) {
        if (eof_) return Fail("unterminated array element", line_);
        size_t consumed = scan - pos_;
        KESTREL_TRY(Fill());  // moves the element to the front of the buffer
        scan = pos_ + consumed;
        continue;
      }
      char ch = buf_[scan];
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (ch == '\\') {
          escaped = true;
        } else if (ch == '"') {
          in_string = false;
        }
      } else if (ch == '"') {
        in_string = true;
      } else if (ch == '{' || ch == '[') {
        ++depth;
      } else if (ch == '}' || ch == ']') {
        if (depth == 0) break;  // the enclosing array's ']' ends a bare scalar
        --depth;
      } else if (depth == 0 && (ch == ',' || IsSpace(ch))) {
        break;
      }
      ++scan;
      if (depth == 0 && !in_string && (ch == '}' || ch == ']')) break;
      if (scan - pos_ > max_record_) {
        return Fail(fmt::format("record longer than the limit of {} bytes", max_record_), line_);
      }
    }
    JsonRecord record{buf_.get() + pos_, scan - pos_, line_, base_offset_ + pos_};
    line_ += static_cast<uint64_t>(std::count(record.data, record.data + record.size, '\n'));
    pos_ = scan;
    array_state_ = ArrayState::kAfterElement;
    return record;
  }
}

}  // namespace kestrel
