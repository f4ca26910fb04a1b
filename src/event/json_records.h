// Splits JSON input into records without parsing them: one per line (NDJSON), or one per
// element of a top-level JSON array. Reads in chunks, so memory stays bounded by the largest
// record, and keeps line numbers and byte offsets for error messages.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "common/result.h"
#include "event/file_io.h"

namespace kestrel {

struct JsonRecord {
  const char* data;
  size_t size;
  uint64_t line;    // 1-based line where the record starts
  uint64_t offset;  // byte offset in the input where the record starts
};

class JsonRecordSplitter {
 public:
  // `padding` readable bytes are guaranteed after every record (simdjson needs them).
  JsonRecordSplitter(InputFile* input, size_t max_record_bytes, size_t padding);

  // The next record, or nullopt at the end. The bytes stay valid until the next call.
  Result<std::optional<JsonRecord>> Next();

  uint64_t bytes_consumed() const { return base_offset_ + pos_; }
  bool array_mode() const { return mode_ == Mode::kArray; }

 private:
  enum class Mode : uint8_t { kUnknown, kLines, kArray };
  enum class ArrayState : uint8_t { kStart, kNeedElement, kAfterElement, kDone };

  Status Fill();  // moves unread bytes to the front and reads more; grows up to the limit
  Status DetectMode();
  Result<std::optional<JsonRecord>> NextLine();
  Result<std::optional<JsonRecord>> NextElement();
  Result<bool> SkipWhitespace();  // false at end of input
  tl::unexpected<Error> Fail(std::string message, uint64_t line) const;

  InputFile* input_;
  size_t max_record_;
  size_t padding_;
  std::unique_ptr<char[]> buf_;
  size_t cap_;
  size_t pos_ = 0;
  size_t end_ = 0;
  uint64_t base_offset_ = 0;  // input offset of buf_[0]
  uint64_t line_ = 1;
  bool eof_ = false;
  Mode mode_ = Mode::kUnknown;
  ArrayState array_state_ = ArrayState::kStart;
};

}  // namespace kestrel
