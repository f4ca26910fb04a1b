// EQL → WebAssembly: emits a self-contained module for a PredicatePlan. The module imports
// Host API v1 (module "kestrel") and its memory (kestrel.memory, the worker's one memory, shared
// by its generated modules), keeps the plan's field names, constants, sets, patterns and
// networks in its data segment and registers them from pred_init, and exports:
//   pred_init() -> i32            0, or 1 when the host refused a pattern or network
//   pred_eval(ev, ctx) -> i32     0 false, 1 true, 2 null
//   memory, kestrel_abi (i32 global = kHostAbiVersion), kestrel_cost (i64 global)
// The code has no loops: each leaf is one Host API field test, joined by Kleene and / or / not,
// so an evaluation costs at most kestrel_cost (the plan's nodes) units of the budget; the runtime
// compares the budget with it instead of metering each call.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/plan.h"

namespace kestrel::runtime {

// kShared: imports kestrel.memory (the engine's own generated predicates). kStandalone: defines
// its own memory, so that the module is a valid user-written predicate (`kestrel compile`).
enum class WasmMemory : uint8_t { kShared, kStandalone };

std::vector<uint8_t> EmitWasm(const PredicatePlan& plan, WasmMemory memory = WasmMemory::kShared);

}  // namespace kestrel::runtime
