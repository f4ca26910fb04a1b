// Host API v1 (host_api.def) as C: the function table a predicate calls through, its LuaJIT
// `cdef` text, and the ABI version a predicate module must declare. Both are expansions of the
// same .def lines, so the table, the Lua declarations and the Wasm imports cannot drift apart.
#pragma once

#include <cstdint>
#include <string_view>

namespace kestrel::runtime {

// A module (Wasm export `kestrel_abi`, Lua chunk field `abi`) declares the version it was built
// for; any other is refused.
inline constexpr int32_t kHostAbiVersion = 1;

class HostState;

// The C types of the .def's parameter kinds.
#define KESTREL_CTYPE_I32 int32_t
#define KESTREL_CTYPE_I64 int64_t
#define KESTREL_CTYPE_F64 double
#define KESTREL_CTYPE_STR const char*
#define KESTREL_CTYPE_BUF char*
#define KESTREL_CTYPE_VOID void
// The same as text, for the cdef.
#define KESTREL_CTEXT_I32 "int32_t"
#define KESTREL_CTEXT_I64 "int64_t"
#define KESTREL_CTEXT_F64 "double"
#define KESTREL_CTEXT_STR "const char*"
#define KESTREL_CTEXT_BUF "char*"
#define KESTREL_CTEXT_VOID "void"

// Every function takes the host state first.
struct HostApiV1 {
#define P(type, name) , KESTREL_CTYPE_##type name
#define KESTREL_HOST_FN(result, name, params) KESTREL_CTYPE_##result (*name)(HostState * host params);
#include "runtime/host_api.def"
#undef KESTREL_HOST_FN
#undef P
};

// The table, filled with the host's implementations (host_state.cpp).
const HostApiV1& HostApi();

// `ffi.cdef` text declaring `kestrel_host_api_v1`, the struct above.
inline constexpr std::string_view kLuaCdef =
    "typedef struct kestrel_host kestrel_host;\n"
    "typedef struct {\n"
#define P(type, name) ", " KESTREL_CTEXT_##type " " #name
#define KESTREL_HOST_FN(result, name, params) "  " KESTREL_CTEXT_##result " (*" #name ")(kestrel_host* host" params ");\n"
#include "runtime/host_api.def"
#undef KESTREL_HOST_FN
#undef P
    "} kestrel_host_api_v1;\n";

// The functions' names, in .def order (the Wasm import order).
inline constexpr std::string_view kHostFunctionNames[] = {
#define KESTREL_HOST_FN(result, name, params) #name,
#include "runtime/host_api.def"
#undef KESTREL_HOST_FN
};

}  // namespace kestrel::runtime
