#include "runtime/predicate.h"

namespace kestrel::runtime {

std::string_view BackendName(Backend b) {
  switch (b) {
    case Backend::kNative: return "native";
    case Backend::kWasm: return "wasm";
    case Backend::kLua: return "lua";
  }
  return "native";
}

std::optional<Backend> ParseBackend(std::string_view name) {
  for (Backend b : {Backend::kNative, Backend::kWasm, Backend::kLua}) {
    if (name == BackendName(b)) return b;
  }
  return std::nullopt;
}

}  // namespace kestrel::runtime
