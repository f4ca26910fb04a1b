#include "common/error.h"

namespace kestrel {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kParse: return "parse error";
    case ErrorCode::kCorrupt: return "corrupt input";
    case ErrorCode::kUnsupportedVersion: return "unsupported version";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kLimit: return "limit reached";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Error::ToString() const {
  if (location_.empty()) return message_;
  return location_ + ": " + message_;
}

}  // namespace kestrel
