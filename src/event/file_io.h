// Files for the codecs: input that can be peeked (format detection), read in chunks, or mapped
// at an offset; output with buffered writes. "-" names standard input or output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace kestrel {

class InputFile {
 public:
  static Result<std::unique_ptr<InputFile>> Open(const std::string& path);
  // `bytes` as a file named `name` (an anonymous memory file): events given inline, such as a
  // rule's embedded tests.
  static Result<std::unique_ptr<InputFile>> FromBytes(std::string name, std::string_view bytes);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  bool is_regular() const { return is_regular_; }
  uint64_t size() const { return size_; }  // 0 unless a regular file

  // The first bytes of the input (up to n), without consuming them.
  Result<std::span<const uint8_t>> Peek(size_t n);
  // Reads up to n bytes; 0 at the end of input.
  Result<size_t> Read(void* buf, size_t n);
  // Reads exactly n bytes at `offset` of a regular file (fewer only at its end); does not move
  // the position Read uses.
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n);
  // The whole remaining input, read into memory (peeked bytes first). The bytes live as long
  // as this InputFile.
  Result<std::span<const uint8_t>> ReadAll();

 private:
  InputFile(std::string path, int fd, bool owns_fd) : path_(std::move(path)), fd_(fd), owns_fd_(owns_fd) {}

  std::string path_;
  int fd_;
  bool owns_fd_;
  bool is_regular_ = false;
  uint64_t size_ = 0;
  std::vector<uint8_t> peeked_;  // bytes peeked but not yet consumed by Read
  size_t peeked_pos_ = 0;
  std::vector<uint8_t> slurped_;
};

class OutputFile {
 public:
  static Result<std::unique_ptr<OutputFile>> Open(const std::string& path);
  // Open, Write and Close: `bytes` as the whole of `path` ('-': stdout).
  static Status WriteAll(const std::string& path, std::string_view bytes);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  Status Write(const void* data, size_t n);
  Status Write(std::string_view s) { return Write(s.data(), s.size()); }
  Status Flush();
  // Flushes and closes; errors from the final write or close are reported here.
  Status Close();
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  OutputFile(std::string path, int fd, bool owns_fd) : path_(std::move(path)), fd_(fd), owns_fd_(owns_fd) {}

  std::string path_;
  int fd_;
  bool owns_fd_;
  std::vector<uint8_t> buffer_;
  uint64_t bytes_written_ = 0;
};

}  // namespace kestrel
