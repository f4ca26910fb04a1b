#include "runtime/lua_runtime.h"

#include <fmt/format.h>

#include <climits>

#include "runtime/host_api.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

namespace kestrel::runtime {
namespace {

// Host API v1 for user-written predicates: plain Lua functions over the FFI table, strings in
// and out as Lua strings. A test checks that every function of host_api.def is here.
constexpr std::string_view kUserApi = R"(local ffi = require("ffi")
return function(api, state)
  local H = ffi.cast("const kestrel_host_api_v1*", api)
  local host = ffi.cast("kestrel_host*", state)
  local cap = 65536
  local buf = ffi.new("char[?]", cap)
  local k = {}
  k.field_id = function(name) return H.field_id(host, name, #name) end
  k.const_new = function(kind, bits, text) text = text or ""; return H.const_new(host, kind, bits, text, #text) end
  k.set_new = function(insensitive) return H.set_new(host, insensitive) end
  k.set_add = function(set, konst) return H.set_add(host, set, konst) end
  k.matcher_new = function() return H.matcher_new(host, 0) end
  k.matcher_add = function(m, regex, pattern, insensitive) return H.matcher_add(host, m, regex, pattern, #pattern, insensitive) end
  k.net_new = function() return H.net_new(host, 0) end
  k.net_add = function(net, cidr) return H.net_add(host, net, cidr, #cidr) end
  k.event_has = function(ev, f) return H.event_has(host, ev, f) end
  k.event_array_len = function(ev, f) return H.event_array_len(host, ev, f) end
  k.event_kind = function(ev, f, i) return H.event_kind(host, ev, f, i) end
  k.event_get_i64 = function(ev, f, i) return tonumber(H.event_get_i64(host, ev, f, i)) end
  k.event_get_u64 = function(ev, f, i) return tonumber(ffi.cast("uint64_t", H.event_get_u64(host, ev, f, i))) end
  k.event_get_f64 = function(ev, f, i) return H.event_get_f64(host, ev, f, i) end
  k.event_get_str = function(ev, f, i)
    local n = H.event_get_str(host, ev, f, i, buf, cap)
    if n < 0 then return nil end
    return ffi.string(buf, math.min(n, cap))
  end
  k.event_get_ip = function(ev, f, i)
    if H.event_get_ip(host, ev, f, i, buf, 16) == 0 then return nil end
    return ffi.string(buf, 16)
  end
  k.field_compare = function(ev, f, op, konst, insensitive) return H.field_compare(host, ev, f, op, konst, insensitive) end
  k.field_in_set = function(ev, f, set) return H.field_in_set(host, ev, f, set) end
  k.field_match = function(ev, f, m) return H.field_match(host, ev, f, m) end
  k.field_cidr = function(ev, f, net) return H.field_cidr(host, ev, f, net) end
  k.field_is_null = function(ev, f) return H.field_is_null(host, ev, f) end
  k.str_match = function(m, text) return H.str_match(host, m, text, #text) end
  k.cidr_match = function(net, ip) return H.cidr_match(host, net, ip, #ip) end
  k.val_field = function(dst, ev, f) H.val_field(host, dst, ev, f) end
  k.val_const = function(dst, konst) H.val_const(host, dst, konst) end
  k.val_tri = function(dst, tri) H.val_tri(host, dst, tri) end
  k.val_i64 = function(dst, value) H.val_i64(host, dst, value) end
  k.val_var = function(dst, slot) H.val_var(host, dst, slot) end
  k.val_arith = function(dst, op, a, b) H.val_arith(host, dst, op, a, b) end
  k.val_neg = function(dst, a) H.val_neg(host, dst, a) end
  k.val_call = function(dst, fn, args, argc, insensitive, m) H.val_call(host, dst, fn, args, argc, insensitive, m or -1) end
  k.val_len = function(reg) return H.val_len(host, reg) end
  k.val_bind = function(slot, reg, i) return H.val_bind(host, slot, reg, i) end
  k.val_truth = function(reg) return H.val_truth(host, reg) end
  k.val_compare = function(op, a, b, insensitive) return H.val_compare(host, op, a, b, insensitive) end
  k.val_is_null = function(reg) return H.val_is_null(host, reg) end
  k.val_in_set = function(reg, set) return H.val_in_set(host, reg, set) end
  k.val_in_list = function(reg, items, count, insensitive) return H.val_in_list(host, reg, items, count, insensitive) end
  k.val_match = function(reg, m) return H.val_match(host, reg, m) end
  k.lineage = function(ev, kind, query) return H.lineage(host, ev, kind, query) end
  k.alert_emit = function(ev, text) H.alert_emit(host, ev, text, #text) end
  return k
end
)";

// What a user predicate's environment holds besides `kestrel`.
constexpr const char* kSandboxGlobals[] = {"assert", "error", "ipairs", "next", "pairs", "pcall", "select",
                                           "tonumber", "tostring", "type", "unpack", "math", "string",
                                           "table", "bit"};

thread_local bool t_over_budget = false;

void BudgetHook(lua_State* L, lua_Debug*) {
  t_over_budget = true;
  luaL_error(L, "ran out of its instruction budget");
}

std::string PopError(lua_State* L) {
  const char* msg = lua_tostring(L, -1);
  std::string out = msg != nullptr ? msg : "unknown Lua error";
  lua_pop(L, 1);
  return out;
}

}  // namespace

Result<std::unique_ptr<LuaRuntime>> LuaRuntime::Create() {
  std::unique_ptr<LuaRuntime> rt(new LuaRuntime());
  rt->L_ = luaL_newstate();
  if (rt->L_ == nullptr) return MakeError(ErrorCode::kInternal, "cannot create a LuaJIT state");
  lua_State* L = rt->L_;
  luaL_openlibs(L);
  std::string setup = fmt::format("require('ffi').cdef({})", std::string(1, '[') + "[" + std::string(kLuaCdef) + "]]");
  if (luaL_dostring(L, setup.c_str()) != 0) {
    return MakeError(ErrorCode::kInternal, fmt::format("Host API v1 cdef: {}", PopError(L)));
  }
  // The user API builder, kept in the registry under its own name.
  if (luaL_loadbuffer(L, kUserApi.data(), kUserApi.size(), "=kestrel_user_api") != 0 || lua_pcall(L, 0, 1, 0) != 0) {
    return MakeError(ErrorCode::kInternal, fmt::format("Host API v1 user bindings: {}", PopError(L)));
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "kestrel_user_api");
  return rt;
}

LuaRuntime::~LuaRuntime() {
  if (L_ != nullptr) lua_close(L_);
}

Result<std::unique_ptr<LuaPredicate>> LuaPredicate::Load(LuaRuntime& runtime, std::string_view source,
                                                         std::string_view name, const SchemaRegistry& registry,
                                                         Trust trust) {
  std::unique_ptr<LuaPredicate> pred(new LuaPredicate(runtime, registry));
  lua_State* L = runtime.state();
  int top = lua_gettop(L);
  auto fail = [&](ErrorCode code, std::string message) {
    lua_settop(L, top);
    return MakeError(code, fmt::format("{}: {}", name, message));
  };
  std::string chunkname = fmt::format("={}", name);
  // Text only: LuaJIT bytecode can break out of any sandbox.
  if (luaL_loadbufferx(L, source.data(), source.size(), chunkname.c_str(), "t") != 0) {
    return fail(ErrorCode::kParse, PopError(L));
  }
  int nargs = 0;
  if (trust == Trust::kUser) {
    lua_newtable(L);  // the environment
    for (const char* g : kSandboxGlobals) {
      lua_getglobal(L, g);
      lua_setfield(L, -2, g);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "kestrel_user_api");
    lua_pushlightuserdata(L, const_cast<HostApiV1*>(&HostApi()));
    lua_pushlightuserdata(L, &pred->host_);
    if (lua_pcall(L, 2, 1, 0) != 0) return fail(ErrorCode::kInternal, PopError(L));
    lua_setfield(L, -2, "kestrel");
    lua_setfenv(L, -2);
    // No JIT for user code: the count hook then sees every instruction.
    lua_getglobal(L, "jit");
    lua_getfield(L, -1, "off");
    lua_pushvalue(L, -3);
    lua_pushboolean(L, 1);
    if (lua_pcall(L, 2, 0, 0) != 0) return fail(ErrorCode::kInternal, PopError(L));
    lua_pop(L, 1);  // jit
    lua_sethook(L, BudgetHook, LUA_MASKCOUNT, 10'000'000);  // set-up gets a budget of its own
  } else {
    lua_pushlightuserdata(L, const_cast<HostApiV1*>(&HostApi()));
    lua_pushlightuserdata(L, &pred->host_);
    nargs = 2;
  }
  t_over_budget = false;
  int rc = lua_pcall(L, nargs, 1, 0);
  lua_sethook(L, nullptr, 0, 0);
  if (rc != 0) return fail(ErrorCode::kInvalidArgument, "set-up failed: " + PopError(L));
  if (!pred->host_.fault().empty()) return fail(ErrorCode::kInvalidArgument, "set-up failed: " + pred->host_.fault());
  if (!lua_istable(L, -1)) {
    return fail(ErrorCode::kInvalidArgument, "returns no table { abi = 1, eval = function(ev, ctx) ... end }");
  }
  lua_getfield(L, -1, "abi");
  if (!lua_isnumber(L, -1)) {
    return fail(ErrorCode::kUnsupportedVersion,
                fmt::format("returns no `abi`: not a Kestrel predicate (Host API v{})", kHostAbiVersion));
  }
  auto abi = static_cast<int64_t>(lua_tonumber(L, -1));
  lua_pop(L, 1);
  if (abi != kHostAbiVersion) {
    return fail(ErrorCode::kUnsupportedVersion,
                fmt::format("built for Host API v{}; this Kestrel provides v{}", abi, kHostAbiVersion));
  }
  lua_getfield(L, -1, "eval");
  if (!lua_isfunction(L, -1)) return fail(ErrorCode::kInvalidArgument, "`eval` is not a function");
  pred->eval_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  pred->user_ = trust == Trust::kUser;
  lua_settop(L, top);
  return pred;
}

LuaPredicate::~LuaPredicate() {
  if (eval_ref_ >= 0) luaL_unref(runtime_.state(), LUA_REGISTRYINDEX, eval_ref_);
}

Verdict LuaPredicate::Eval(const Event& event, uint64_t budget) {
  lua_State* L = runtime_.state();
  host_.set_event(&event);
  host_.clear_fault();
  lua_rawgeti(L, LUA_REGISTRYINDEX, eval_ref_);
  lua_pushinteger(L, 0);
  lua_pushinteger(L, 0);
  // Generated predicates loop only over a field's elements; user code is counted.
  if (user_) {
    t_over_budget = false;
    lua_sethook(L, BudgetHook, LUA_MASKCOUNT, static_cast<int>(std::clamp<uint64_t>(budget, 1, INT_MAX)));
  }
  int rc = lua_pcall(L, 2, 1, 0);
  if (user_) lua_sethook(L, nullptr, 0, 0);
  if (rc != 0) {
    last_error_ = PopError(L);
    return user_ && t_over_budget ? Verdict::kOverBudget : Verdict::kFault;
  }
  if (!host_.fault().empty()) {
    lua_pop(L, 1);
    last_error_ = host_.fault();
    return Verdict::kFault;
  }
  int isnum = 0;
  lua_Integer r = lua_tointegerx(L, -1, &isnum);
  lua_pop(L, 1);
  if (!isnum || r < 0 || r > 2) {
    last_error_ = "eval returned something other than 0, 1 or 2";
    return Verdict::kFault;
  }
  return static_cast<Verdict>(r);
}

}  // namespace kestrel::runtime
