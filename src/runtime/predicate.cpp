#include "runtime/predicate.h"

#include <fmt/format.h>

#include "runtime/lua_codegen.h"
#include "runtime/lua_runtime.h"
#include "runtime/plan.h"
#include "runtime/wasm_codegen.h"
#include "runtime/wasm_runtime.h"

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
  for (Backend b : kAllBackends) {
    if (name == BackendName(b)) return b;
  }
  return std::nullopt;
}

PredicateContext::PredicateContext() = default;
PredicateContext::~PredicateContext() = default;

Result<LuaRuntime*> PredicateContext::lua() {
  if (!lua_) {
    KESTREL_ASSIGN_OR_RETURN(lua_, LuaRuntime::Create());
  }
  return lua_.get();
}

WasmWorld* PredicateContext::wasm() {
  if (!wasm_) wasm_ = std::make_unique<WasmWorld>();
  return wasm_.get();
}

Predicate::Predicate(Predicate&&) noexcept = default;
Predicate& Predicate::operator=(Predicate&&) noexcept = default;
Predicate::~Predicate() = default;

Result<CompiledPredicate> CompilePredicate(Backend backend, const eql::Program& program,
                                           const SchemaRegistry& registry, std::string_view query) {
  CompiledPredicate out;
  out.backend = backend;
  if (backend == Backend::kNative) return out;
  KESTREL_ASSIGN_OR_RETURN(PredicatePlan plan, MakePlan(program, registry, query));
  if (backend == Backend::kWasm) {
    out.wasm = EmitWasm(plan);
  } else {
    out.lua = EmitLua(plan);
  }
  return out;
}

Result<Predicate> Predicate::Instantiate(const CompiledPredicate& compiled, const eql::Program& program,
                                         const SchemaRegistry& registry, std::string_view name,
                                         PredicateContext& context) {
  Predicate p;
  p.backend_ = compiled.backend;
  p.program_ = &program;
  p.context_ = &context;
  if (name.empty()) name = "predicate";
  switch (compiled.backend) {
    case Backend::kNative: break;
    case Backend::kWasm: {
      KESTREL_ASSIGN_OR_RETURN(p.wasm_, WasmPredicate::Load(compiled.wasm, name, registry, Trust::kGenerated,
                                                           "pred_eval", context.wasm()));
      break;
    }
    case Backend::kLua: {
      KESTREL_ASSIGN_OR_RETURN(LuaRuntime * lua, context.lua());
      KESTREL_ASSIGN_OR_RETURN(p.lua_, LuaPredicate::Load(*lua, compiled.lua, name, registry,
                                                          Trust::kGenerated));
      break;
    }
  }
  return p;
}

Result<Predicate> Predicate::LoadUser(const UserPredicateSource& source, const SchemaRegistry& registry,
                                     PredicateContext& context) {
  Predicate p;
  p.backend_ = source.backend;
  p.context_ = &context;
  if (source.backend == Backend::kWasm) {
    KESTREL_ASSIGN_OR_RETURN(p.wasm_, WasmPredicate::Load(source.code, source.name, registry, Trust::kUser,
                                                           source.function, context.wasm()));
  } else if (source.backend == Backend::kLua) {
    KESTREL_ASSIGN_OR_RETURN(LuaRuntime * lua, context.lua());
    std::string_view text(reinterpret_cast<const char*>(source.code.data()), source.code.size());
    KESTREL_ASSIGN_OR_RETURN(p.lua_, LuaPredicate::Load(*lua, text, source.name, registry, Trust::kUser));
  } else {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: user predicates are Wasm or Lua", source.name));
  }
  return p;
}

Result<Predicate> Predicate::Create(Backend backend, const eql::Program& program, const SchemaRegistry& registry,
                                    std::string_view query, PredicateContext& context) {
  KESTREL_ASSIGN_OR_RETURN(CompiledPredicate compiled, CompilePredicate(backend, program, registry, query));
  return Instantiate(compiled, program, registry, query, context);
}

Verdict Predicate::Eval(const Event& event, uint64_t budget) {
  if (program_ != nullptr && !eql::Evaluator::CategoryMatches(*program_, event)) return Verdict::kFalse;
  switch (backend_) {
    case Backend::kNative: {
      auto t = context_->native().Test(*program_, event);
      return !t ? Verdict::kNull : (*t ? Verdict::kTrue : Verdict::kFalse);
    }
    case Backend::kWasm: return wasm_->Eval(event, budget);
    case Backend::kLua: return lua_->Eval(event, budget);
  }
  return Verdict::kFault;
}

void Predicate::set_lineage(eql::LineageOracle* oracle) {
  if (wasm_) wasm_->host().set_lineage(oracle);
  if (lua_) lua_->host().set_lineage(oracle);
}

std::span<const std::string> Predicate::notes() const {
  if (wasm_) return wasm_->host().notes();
  if (lua_) return lua_->host().notes();
  return {};
}

std::string_view Predicate::last_error() const {
  if (wasm_) return wasm_->last_error();
  if (lua_) return lua_->last_error();
  return {};
}

}  // namespace kestrel::runtime
