// EQL → Lua: emits a LuaJIT chunk for a PredicatePlan. The chunk runs as pred_init when loaded:
// it receives the Host API v1 table and the host state (light userdata), registers the plan's
// fields, constants, sets, patterns and networks, and returns { abi = kHostAbiVersion,
// eval = function(ev, ctx) -> 0 | 1 | 2 }. Each leaf is one Host API field test called through
// the FFI (nothing is built per event), joined by Kleene and / or / not. And / or chains are
// emitted flat (one `repeat ... until true` per chain), so a rule with hundreds of alternatives
// stays within Lua's nesting limits.
#pragma once

#include <string>

#include "runtime/plan.h"

namespace kestrel::runtime {

std::string EmitLua(const PredicatePlan& plan);

// `bytes` as a Lua string literal (quoted, every byte that is not printable ASCII escaped).
std::string LuaQuote(std::string_view bytes);

}  // namespace kestrel::runtime
