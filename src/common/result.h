// Result<T>: a value or an Error (tl::expected, since g++ 12 has no std::expected in C++20),
// with the early-return macros used everywhere.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

#include "common/error.h"

namespace kestrel {

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

// The same, located: "location: message".
inline tl::unexpected<Error> MakeErrorAt(std::string location, ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)).At(std::move(location)));
}

inline Status Ok() { return {}; }

}  // namespace kestrel

#define KESTREL_CONCAT_INNER(a, b) a##b
#define KESTREL_CONCAT(a, b) KESTREL_CONCAT_INNER(a, b)

// Evaluates `expr` (a Result); returns its error from the enclosing function if it failed.
#define KESTREL_TRY(expr)                                              \
  do {                                                                 \
    auto&& kestrel_try_result = (expr);                                \
    if (!kestrel_try_result) {                                         \
      return ::tl::unexpected(std::move(kestrel_try_result).error());  \
    }                                                                  \
  } while (0)

#define KESTREL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)   \
  auto tmp = (expr);                                    \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)

// `KESTREL_ASSIGN_OR_RETURN(auto x, Parse(...));` declares x or returns the error.
#define KESTREL_ASSIGN_OR_RETURN(lhs, expr) \
  KESTREL_ASSIGN_OR_RETURN_IMPL(KESTREL_CONCAT(kestrel_result_, __LINE__), lhs, expr)
