// Predicate: one compiled condition (an event query's, or a sequence stage's) run on the backend
// chosen for it: the native IR evaluator, a generated Wasm module or a generated Lua chunk. All
// three give the same answer on every event (tests/runtime). One PredicateContext per worker
// holds what a worker's predicates share: the native evaluator, the LuaJIT state and the wabt
// store and thread; it must outlive them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "eql/evaluator.h"
#include "eql/ir.h"
#include "event/event.h"
#include "schema/schema_registry.h"

namespace kestrel::runtime {

enum class Backend : uint8_t { kNative, kWasm, kLua };
inline constexpr Backend kAllBackends[] = {Backend::kNative, Backend::kWasm, Backend::kLua};

std::string_view BackendName(Backend b);
std::optional<Backend> ParseBackend(std::string_view name);  // "native", "wasm", "lua"

// pred_eval's answer, or why there is none. An over-budget or faulted evaluation counts as no
// match.
enum class Verdict : uint8_t { kFalse = 0, kTrue = 1, kNull = 2, kOverBudget, kFault };

class WasmPredicate;
class WasmWorld;
class LuaPredicate;
class LuaRuntime;

class PredicateContext {
 public:
  PredicateContext();
  ~PredicateContext();
  eql::Evaluator& native() { return native_; }
  Result<LuaRuntime*> lua();  // created on first use
  WasmWorld* wasm();          // created on first use

 private:
  eql::Evaluator native_;
  std::unique_ptr<LuaRuntime> lua_;
  std::unique_ptr<WasmWorld> wasm_;
};

// A condition compiled for a backend once per rule-set load; each worker instantiates it.
struct CompiledPredicate {
  Backend backend = Backend::kNative;
  std::vector<uint8_t> wasm;  // kWasm: the module
  std::string lua;            // kLua: the chunk
};

// `program`'s condition compiled for `backend`. An error of code kUnsupported when the program
// has no Wasm / Lua plan (it names the node); `query` is the rule text quoted in errors.
Result<CompiledPredicate> CompilePredicate(Backend backend, const eql::Program& program,
                                           const SchemaRegistry& registry, std::string_view query);

// A user-written predicate: a Wasm module (its export `function`) or a Lua chunk, following
// Host API v1 (docs/host-api.md).
struct UserPredicateSource {
  Backend backend = Backend::kWasm;  // kWasm or kLua
  std::string name;                  // its file, for errors
  std::string function = "pred_eval";  // Wasm: the export to call
  std::vector<uint8_t> code;         // the module's bytes, or the Lua text
};

class Predicate {
 public:
  // An instance of a user-written predicate (sandboxed; no category check of its own).
  static Result<Predicate> LoadUser(const UserPredicateSource& source, const SchemaRegistry& registry,
                                    PredicateContext& context);
  // An instance of `compiled` (for `program`) in this worker's `context`; `name` prefixes errors.
  static Result<Predicate> Instantiate(const CompiledPredicate& compiled, const eql::Program& program,
                                       const SchemaRegistry& registry, std::string_view name,
                                       PredicateContext& context);
  // CompilePredicate, then Instantiate.
  static Result<Predicate> Create(Backend backend, const eql::Program& program, const SchemaRegistry& registry,
                                  std::string_view query, PredicateContext& context);
  Predicate(Predicate&&) noexcept;
  Predicate& operator=(Predicate&&) noexcept;
  ~Predicate();

  Backend backend() const { return backend_; }
  const eql::Program* program() const { return program_; }

  // The program's category check (none for a user predicate), then its condition. `budget` bounds a Wasm / Lua
  // evaluation (fuel units / VM instructions).
  Verdict Eval(const Event& event, uint64_t budget);
  bool Matches(const Event& event, uint64_t budget) {
    if (backend_ == Backend::kNative) return context_->native().Matches(*program_, event);
    return Eval(event, budget) == Verdict::kTrue;
  }
  // Answers lineage conditions (null without one); the native backend asks the context's
  // evaluator, whose oracle the caller sets.
  void set_lineage(eql::LineageOracle* oracle);
  // Why the last Eval faulted or overran.
  std::string_view last_error() const;
  // The notes the last Eval attached with alert_emit (Wasm / Lua; empty for native).
  std::span<const std::string> notes() const;

 private:
  Predicate() = default;
  Backend backend_ = Backend::kNative;
  const eql::Program* program_ = nullptr;
  PredicateContext* context_ = nullptr;
  std::unique_ptr<WasmPredicate> wasm_;
  std::unique_ptr<LuaPredicate> lua_;
};

}  // namespace kestrel::runtime
