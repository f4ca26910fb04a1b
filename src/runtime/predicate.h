// What a predicate backend answers for one event, and the backends Kestrel has.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kestrel::runtime {

enum class Backend : uint8_t { kNative, kWasm, kLua };

std::string_view BackendName(Backend b);
std::optional<Backend> ParseBackend(std::string_view name);  // "native", "wasm", "lua"

// pred_eval's answer, or why there is none. An over-budget or faulted evaluation counts as no
// match.
enum class Verdict : uint8_t { kFalse = 0, kTrue = 1, kNull = 2, kOverBudget, kFault };

}  // namespace kestrel::runtime
