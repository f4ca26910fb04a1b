// The Lua backend's runtime: one LuaJIT state per worker (LuaRuntime), holding the predicates
// of that worker's rules (LuaPredicate). A generated chunk (lua_codegen) reads events through
// the FFI; a user-written predicate runs in a sandbox: loaded as text only (never bytecode),
// without ffi, io, os, debug, require or load, with JIT compilation off so that the instruction
// budget's count hook sees every instruction, and with Host API v1 as plain functions in a
// `kestrel` table. Both return { abi = 1, eval = function(ev, ctx) ... end }.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "event/event.h"
#include "runtime/host_state.h"
#include "runtime/predicate.h"

struct lua_State;

namespace kestrel::runtime {

class LuaRuntime {
 public:
  static Result<std::unique_ptr<LuaRuntime>> Create();
  ~LuaRuntime();
  LuaRuntime(const LuaRuntime&) = delete;
  LuaRuntime& operator=(const LuaRuntime&) = delete;

  lua_State* state() { return L_; }

 private:
  LuaRuntime() = default;
  lua_State* L_ = nullptr;
};

class LuaPredicate {
 public:
  // Loads `source` into `runtime` and runs its set-up. `name` prefixes every error.
  static Result<std::unique_ptr<LuaPredicate>> Load(LuaRuntime& runtime, std::string_view source,
                                                    std::string_view name, const SchemaRegistry& registry,
                                                    Trust trust);
  ~LuaPredicate();

  // Runs the predicate on `event` with a budget of `budget` Lua VM instructions (counted where
  // the code is interpreted: always for user predicates).
  Verdict Eval(const Event& event, uint64_t budget);
  const std::string& last_error() const { return last_error_; }
  HostState& host() { return host_; }
  const HostState& host() const { return host_; }

 private:
  LuaPredicate(LuaRuntime& runtime, const SchemaRegistry& registry) : runtime_(runtime), host_(registry) {}
  LuaRuntime& runtime_;
  HostState host_;
  int eval_ref_ = -1;  // the eval function in the registry
  bool user_ = false;
  std::string last_error_;
};

}  // namespace kestrel::runtime
