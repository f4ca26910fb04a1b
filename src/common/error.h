// Error values: what a user, a file or the kernel can cause is returned, never thrown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kestrel {

enum class ErrorCode : uint8_t {
  kInvalidArgument,     // the caller (often the user on the command line) asked for something wrong
  kParse,               // malformed text input (JSON, timestamps, rule text)
  kCorrupt,             // a binary file fails a check (magic, CRC, bounds)
  kUnsupportedVersion,  // a versioned format this build cannot read
  kIo,                  // the operating system refused (open, read, write, mmap)
  kLimit,               // a configured bound was reached
  kUnsupported,         // valid, but not something this backend or kernel can do
  kInternal,            // a bug; reported rather than crashing
};

std::string_view ErrorCodeName(ErrorCode code);

// An error with an optional location prefix such as "events.json:12" or "trace.klog:4096".
// ToString() renders "location: message", the one-line form every command prints.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& location() const { return location_; }

  // Sets the location unless a more specific one is already set.
  Error&& At(std::string location) && {
    if (location_.empty()) location_ = std::move(location);
    return std::move(*this);
  }

  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::string location_;
};

}  // namespace kestrel
