#include "runtime/wasm_runtime.h"

#include <fmt/format.h>

#include <optional>
#include <tuple>
#include <type_traits>

#include "runtime/host_api.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/binary-writer.h"
#include "wabt/error-formatter.h"
#include "wabt/interp/binary-reader-interp.h"
#include "wabt/interp/interp.h"
#include "wabt/ir.h"
#include "wabt/stream.h"
#include "wabt/validator.h"

namespace kestrel::runtime {
namespace {

namespace wi = wabt::interp;

constexpr std::string_view kFuelExport = "kestrel_fuel";
constexpr std::string_view kCostExport = "kestrel_cost";
constexpr std::string_view kAbiExport = "kestrel_abi";

std::string WabtErrors(const wabt::Errors& errors) {
  std::string text = wabt::FormatErrorsToString(errors, wabt::Location::Type::Binary);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.empty() ? "invalid module" : text;
}

Result<wabt::Module> ReadIr(std::span<const uint8_t> bytes, std::string_view name) {
  wabt::Errors errors;
  wabt::Module module;
  wabt::ReadBinaryOptions options;
  options.read_debug_names = false;
  std::string filename(name);
  if (wabt::Failed(wabt::ReadBinaryIr(filename.c_str(), bytes.data(), bytes.size(), options, &errors, &module))) {
    return MakeError(ErrorCode::kParse, fmt::format("{}: not a valid Wasm module: {}", name, WabtErrors(errors)));
  }
  return module;
}

// Fuel spending at the front of `exprs`: fuel -= 1; trap when below 0.
void PrependFuel(wabt::ExprList& exprs, wabt::Index fuel) {
  using namespace wabt;
  ExprList code;
  code.push_back(std::make_unique<GlobalGetExpr>(Var(fuel, Location())));
  code.push_back(std::make_unique<ConstExpr>(Const::I64(1)));
  code.push_back(std::make_unique<BinaryExpr>(Opcode::I64Sub));
  code.push_back(std::make_unique<GlobalSetExpr>(Var(fuel, Location())));
  code.push_back(std::make_unique<GlobalGetExpr>(Var(fuel, Location())));
  code.push_back(std::make_unique<ConstExpr>(Const::I64(0)));
  code.push_back(std::make_unique<CompareExpr>(Opcode::I64LtS));
  auto trap = std::make_unique<IfExpr>();
  trap->true_.exprs.push_back(std::make_unique<UnreachableExpr>());
  code.push_back(std::move(trap));
  exprs.splice(exprs.begin(), code);
}

// Adds fuel spending at the head of every loop in `exprs`, recursively.
void MeterLoops(wabt::ExprList& exprs, wabt::Index fuel) {
  using namespace wabt;
  for (Expr& e : exprs) {
    switch (e.type()) {
      case ExprType::Loop: {
        auto& loop = *cast<LoopExpr>(&e);
        MeterLoops(loop.block.exprs, fuel);
        PrependFuel(loop.block.exprs, fuel);
        break;
      }
      case ExprType::Block: MeterLoops(cast<BlockExpr>(&e)->block.exprs, fuel); break;
      case ExprType::If:
        MeterLoops(cast<IfExpr>(&e)->true_.exprs, fuel);
        MeterLoops(cast<IfExpr>(&e)->false_, fuel);
        break;
      case ExprType::Try: {
        auto& t = *cast<TryExpr>(&e);
        MeterLoops(t.block.exprs, fuel);
        for (Catch& c : t.catches) MeterLoops(c.exprs, fuel);
        break;
      }
      default: break;
    }
  }
}

// Host API v1 bindings: each import's parameters converted from Wasm values to the C types
// of its HostApiV1 entry; a pointer is checked against the instance's memory with the length
// that follows it.
struct Binding {
  HostState* host = nullptr;
  wi::Memory* memory = nullptr;  // set once instantiated
};

template <class T>
T FromWasm(const wi::Values& params, size_t k, Binding& b, bool& bad) {
  if constexpr (std::is_same_v<T, int32_t>) {
    return static_cast<int32_t>(params[k].Get<wi::u32>());
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return static_cast<int64_t>(params[k].Get<wi::u64>());
  } else if constexpr (std::is_same_v<T, double>) {
    return params[k].Get<wi::f64>();
  } else {  // a pointer: an offset, then its length
    uint64_t offset = params[k].Get<wi::u32>();
    auto length = static_cast<int32_t>(params[k + 1].Get<wi::u32>());
    uint64_t size = b.memory != nullptr ? b.memory->ByteSize() : 0;
    if (length < 0 || offset + static_cast<uint64_t>(length) > size) {
      bad = true;
      return nullptr;
    }
    if (b.memory == nullptr) return nullptr;  // no memory: only an empty range, at 0, gets here
    return reinterpret_cast<T>(b.memory->UnsafeData() + offset);
  }
}

template <class R>
wi::Value ToWasm(R r) {
  if constexpr (std::is_same_v<R, int32_t>) {
    return wi::Value::Make(static_cast<wi::u32>(r));
  } else if constexpr (std::is_same_v<R, int64_t>) {
    return wi::Value::Make(static_cast<wi::u64>(r));
  } else {
    return wi::Value::Make(r);
  }
}

template <class R, class... A, size_t... I>
wi::HostFunc::Callback BindImpl(R (*fn)(HostState*, A...), Binding* b, std::string name, std::index_sequence<I...>) {
  return [fn, b, name = std::move(name)](wi::Thread& thread, const wi::Values& params, wi::Values& results, wi::Trap::Ptr* trap) {
    bool bad = false;
    std::tuple<A...> args{FromWasm<A>(params, I, *b, bad)...};
    if (bad) {
      *trap = wi::Trap::New(thread.store(), fmt::format("{}: a pointer outside the module's memory", name));
      return wabt::Result::Error;
    }
    if constexpr (std::is_void_v<R>) {
      fn(b->host, std::get<I>(args)...);
    } else {
      results[0] = ToWasm(fn(b->host, std::get<I>(args)...));
    }
    return wabt::Result::Ok;
  };
}

template <class T>
wabt::Type WasmType() {
  if constexpr (std::is_same_v<T, int64_t>) {
    return wabt::Type::I64;
  } else if constexpr (std::is_same_v<T, double>) {
    return wabt::Type::F64;
  } else {
    return wabt::Type::I32;  // int32_t, and pointers (offsets)
  }
}

// A Host API function bound for Wasm: its callback and the Wasm type the .def gives it.
struct HostImport {
  wi::HostFunc::Callback callback;
  wi::FuncType type{{}, {}};
};

template <class R, class... A>
HostImport Bind(R (*fn)(HostState*, A...), Binding* b, std::string name) {
  HostImport out;
  out.callback = BindImpl(fn, b, std::move(name), std::index_sequence_for<A...>{});
  wi::ValueTypes results;
  if constexpr (!std::is_void_v<R>) results.push_back(WasmType<R>());
  out.type = wi::FuncType(wi::ValueTypes{WasmType<A>()...}, results);
  return out;
}

// Import `name` bound to Host API v1, or nullopt when Host API v1 has no such function.
std::optional<HostImport> HostCallback(std::string_view name, Binding* b) {
  const HostApiV1& api = HostApi();
#define KESTREL_HOST_FN(result, fn, params) \
  if (name == #fn) return Bind(api.fn, b, #fn);
#include "runtime/host_api.def"
#undef KESTREL_HOST_FN
  return std::nullopt;
}

std::string TypeText(const wi::FuncType& t) {
  auto list = [](const wi::ValueTypes& types) {
    std::string out;
    for (wabt::Type v : types) out += (out.empty() ? "" : " ") + std::string(v.GetName());
    return out;
  };
  return fmt::format("({}) -> ({})", list(t.params), list(t.results));
}

}  // namespace

Status ValidateWasm(std::span<const uint8_t> bytes, std::string_view name) {
  KESTREL_ASSIGN_OR_RETURN(wabt::Module module, ReadIr(bytes, name));
  wabt::Errors errors;
  wabt::ValidateOptions options;
  if (wabt::Failed(wabt::ValidateModule(&module, &errors, options))) {
    return MakeError(ErrorCode::kParse, fmt::format("{}: invalid Wasm module: {}", name, WabtErrors(errors)));
  }
  return Ok();
}

Result<std::vector<uint8_t>> PrepareUserWasm(std::span<const uint8_t> bytes, std::string_view name) {
  {
    // wabt's IR reader asserts on some malformed code, its interpreter reader validates as it
    // reads: only a module the latter accepts goes to the former.
    wabt::Errors errors;
    wi::ModuleDesc desc;
    if (wabt::Failed(wi::ReadBinaryInterp(name, bytes.data(), bytes.size(), wabt::ReadBinaryOptions(), &errors, &desc))) {
      return MakeError(ErrorCode::kParse, fmt::format("{}: not a valid Wasm module: {}", name, WabtErrors(errors)));
    }
  }
  KESTREL_ASSIGN_OR_RETURN(wabt::Module module, ReadIr(bytes, name));
  // The reader does not validate, and wabt's writer assumes a valid module.
  wabt::Errors errors;
  if (wabt::Failed(wabt::ValidateModule(&module, &errors, wabt::ValidateOptions()))) {
    return MakeError(ErrorCode::kParse, fmt::format("{}: invalid Wasm module: {}", name, WabtErrors(errors)));
  }
  auto refuse = [&](std::string why) { return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: {}", name, why)); };
  for (const wabt::Export* e : module.exports) {
    if (e->name == kFuelExport) return refuse(fmt::format("exports `{}`, a name Kestrel reserves", kFuelExport));
  }
  for (const wabt::Import* i : module.imports) {
    if (i->kind() != wabt::ExternalKind::Func) {
      return refuse(fmt::format("imports {}.{}, which is not a function: Host API v{} provides only functions",
                                i->module_name, i->field_name, kHostAbiVersion));
    }
  }
  // A declared size above `max` is refused; a maximum above it (or none) becomes `max`.
  auto bound = [](wabt::Limits& limits, uint64_t max) {
    if (limits.initial > max) return false;
    if (!limits.has_max || limits.max > max) {
      limits.has_max = true;
      limits.max = max;
    }
    return true;
  };
  for (wabt::Memory* m : module.memories) {
    if (!bound(m->page_limits, kMaxUserPages)) {
      return refuse(fmt::format("declares {} pages of memory; a predicate may have at most {} (16 MiB)",
                                m->page_limits.initial, kMaxUserPages));
    }
  }
  for (wabt::Table* t : module.tables) {
    if (!bound(t->elem_limits, kMaxUserTableSize)) {
      return refuse(fmt::format("declares a table of {} elements; a predicate may have at most {}",
                                t->elem_limits.initial, kMaxUserTableSize));
    }
  }
  auto global = std::make_unique<wabt::GlobalModuleField>();
  global->global.type = wabt::Type::I64;
  global->global.mutable_ = true;
  global->global.init_expr.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I64(0)));
  module.AppendField(std::move(global));
  auto fuel = static_cast<wabt::Index>(module.globals.size() - 1);
  for (wabt::ModuleField& field : module.fields) {
    if (field.type() != wabt::ModuleFieldType::Func) continue;
    wabt::Func& func = wabt::cast<wabt::FuncModuleField>(&field)->func;
    MeterLoops(func.exprs, fuel);
    PrependFuel(func.exprs, fuel);
  }
  auto exp = std::make_unique<wabt::ExportModuleField>();
  exp->export_.name = std::string(kFuelExport);
  exp->export_.kind = wabt::ExternalKind::Global;
  exp->export_.var = wabt::Var(fuel, wabt::Location());
  module.AppendField(std::move(exp));
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions options;
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &module, options))) {
    return MakeError(ErrorCode::kInternal, fmt::format("{}: could not re-encode the prepared module", name));
  }
  return std::move(stream.output_buffer().data);
}

struct WasmWorld::Impl {
  wi::Store store;
  std::unique_ptr<wi::Thread> thread = std::make_unique<wi::Thread>(store);
  wi::Memory::Ptr shared_memory;  // imported by generated modules

  // The shared memory, grown to at least `pages`.
  Result<wi::Memory::Ptr> SharedMemory(uint64_t pages) {
    if (!shared_memory) {
      shared_memory = wi::Memory::New(store, wi::MemoryType(wabt::Limits(pages)));
    } else if (shared_memory->PageSize() < pages) {
      if (wabt::Failed(shared_memory->Grow(pages - shared_memory->PageSize()))) {
        return MakeError(ErrorCode::kLimit, fmt::format("cannot grow the shared memory to {} pages", pages));
      }
    }
    return shared_memory;
  }
};

WasmWorld::WasmWorld() : impl_(std::make_unique<Impl>()) {}
WasmWorld::~WasmWorld() = default;

struct WasmPredicate::Impl {
  std::unique_ptr<WasmWorld> own_world;  // first: destroyed after the references into it
  WasmWorld::Impl* world = nullptr;
  Binding binding;
  wi::Instance::Ptr instance;
  wi::Func::Ptr eval;
  wi::Global::Ptr fuel;          // metered (user) modules
  uint64_t cost = 0;             // generated modules: the most one evaluation costs
  wi::Values params;
  wi::Values results;
};

WasmPredicate::WasmPredicate(const SchemaRegistry& registry) : impl_(std::make_unique<Impl>()), host_(registry) {}
WasmPredicate::~WasmPredicate() = default;

Result<std::unique_ptr<WasmPredicate>> WasmPredicate::Load(std::span<const uint8_t> bytes, std::string_view name,
                                                           const SchemaRegistry& registry, Trust trust,
                                                           std::string_view function, WasmWorld* world) {
  std::vector<uint8_t> metered;
  if (trust == Trust::kUser) {
    KESTREL_ASSIGN_OR_RETURN(metered, PrepareUserWasm(bytes, name));
  } else {
    metered.assign(bytes.begin(), bytes.end());
  }
  std::unique_ptr<WasmPredicate> pred(new WasmPredicate(registry));
  Impl& im = *pred->impl_;
  if (world == nullptr) {
    im.own_world = std::make_unique<WasmWorld>();
    world = im.own_world.get();
  }
  im.world = &world->impl();
  wi::Store& store = im.world->store;
  im.binding.host = &pred->host_;

  wabt::Errors errors;
  wi::ModuleDesc desc;
  wabt::ReadBinaryOptions options;
  if (wabt::Failed(wi::ReadBinaryInterp(name, metered.data(), metered.size(), options, &errors, &desc))) {
    return MakeError(ErrorCode::kParse, fmt::format("{}: invalid Wasm module: {}", name, WabtErrors(errors)));
  }
  wi::Module::Ptr module = wi::Module::New(store, desc);

  wi::RefVec imports;
  for (const wi::ImportDesc& import : module->desc().imports) {
    const wi::ImportType& t = import.type;
    if (trust == Trust::kGenerated && t.module == "kestrel" && t.name == "memory" &&
        t.type->kind == wi::ExternKind::Memory) {
      const auto& mt = *wabt::cast<wi::MemoryType>(t.type.get());
      KESTREL_ASSIGN_OR_RETURN(wi::Memory::Ptr memory, im.world->SharedMemory(mt.limits.initial));
      imports.push_back(memory.ref());
      continue;
    }
    std::optional<HostImport> host;
    if (t.module == "kestrel" && t.type->kind == wi::ExternKind::Func) host = HostCallback(t.name, &im.binding);
    if (!host) {
      return MakeError(ErrorCode::kUnsupported,
                       fmt::format("{}: imports {}.{}, which Host API v{} does not provide", name, t.module, t.name,
                                   kHostAbiVersion));
    }
    const auto& declared = *wabt::cast<wi::FuncType>(t.type.get());
    if (declared.params != host->type.params || declared.results != host->type.results) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: imports kestrel.{} as {}; Host API v{} declares it {}", name, t.name,
                                   TypeText(declared), kHostAbiVersion, TypeText(host->type)));
    }
    imports.push_back(wi::HostFunc::New(store, host->type, std::move(host->callback)).ref());
  }
  wi::Trap::Ptr trap;
  im.instance = wi::Instance::Instantiate(store, module.ref(), imports, &trap);
  if (!im.instance) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: cannot instantiate: {}", name, trap ? trap->message() : "unknown error"));
  }

  wi::Func::Ptr init;
  std::optional<int32_t> abi;
  const auto& export_types = module->export_types();
  for (size_t k = 0; k < export_types.size(); ++k) {
    const std::string& ename = export_types[k].name;
    wi::Ref ref = im.instance->exports()[k];
    if (ename == "memory" && store.Is<wi::Memory>(ref)) im.binding.memory = store.UnsafeGet<wi::Memory>(ref).get();
    if (ename == kFuelExport && store.Is<wi::Global>(ref)) im.fuel = store.UnsafeGet<wi::Global>(ref);
    if (ename == kCostExport && trust == Trust::kGenerated && store.Is<wi::Global>(ref)) {
      im.cost = store.UnsafeGet<wi::Global>(ref)->Get().Get<wi::u64>();
    }
    if (ename == "pred_init" && store.Is<wi::Func>(ref)) init = store.UnsafeGet<wi::Func>(ref);
    if (ename == function && store.Is<wi::Func>(ref)) im.eval = store.UnsafeGet<wi::Func>(ref);
    if (ename == kAbiExport && store.Is<wi::Global>(ref)) {
      wi::Value v = store.UnsafeGet<wi::Global>(ref)->Get();
      if (store.UnsafeGet<wi::Global>(ref)->type().type == wabt::Type::I32) abi = static_cast<int32_t>(v.Get<wi::u32>());
    }
  }
  if (trust == Trust::kUser &&
      (!im.fuel || im.fuel->type().type != wabt::Type::I64 || im.fuel->type().mut != wi::Mutability::Var)) {
    return MakeError(ErrorCode::kInternal, fmt::format("{}: no mutable i64 `{}` global", name, kFuelExport));
  }
  if (!abi) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     fmt::format("{}: exports no i32 global `{}`: not a Kestrel predicate module (Host API v{})",
                                 name, kAbiExport, kHostAbiVersion));
  }
  if (*abi != kHostAbiVersion) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     fmt::format("{}: built for Host API v{}; this Kestrel provides v{}", name, *abi, kHostAbiVersion));
  }
  if (!im.eval) return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: exports no function `{}`", name, function));
  const wi::FuncType& et = im.eval->type();
  bool ok_sig = et.results.size() == 1 && et.results[0] == wabt::Type::I32 && et.params.size() <= 2;
  for (auto p : et.params) ok_sig = ok_sig && p == wabt::Type::I32;
  if (!ok_sig) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: `{}` must take (i32 event, i32 ctx) and return i32", name, function));
  }
  if (init) {
    const wi::FuncType& it = init->type();
    if (!it.params.empty() || it.results.size() > 1 || (it.results.size() == 1 && it.results[0] != wabt::Type::I32)) {
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: `pred_init` must take nothing and return i32", name));
    }
  }
  im.params.resize(et.params.size(), wi::Value::Make(wi::u32{0}));
  im.results.resize(et.results.size());  // a host function called directly writes results[0]
  if (init) {
    // Set-up runs with a generous budget of its own: it registers every constant once.
    if (im.fuel) im.fuel->UnsafeSet(wi::Value::Make(wi::u64{1} << 32));
    wi::Values none, out(init->type().results.size());
    if (wabt::Failed(init->Call(*im.world->thread, none, out, &trap))) {
      im.world->thread = std::make_unique<wi::Thread>(store);
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: pred_init trapped: {}", name, trap ? trap->message() : "unknown"));
    }
    if (!pred->host_.fault().empty() || (out.size() == 1 && out[0].Get<wi::u32>() != 0)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: pred_init failed{}{}", name, pred->host_.fault().empty() ? "" : ": ",
                                   pred->host_.fault()));
    }
  }
  return pred;
}

Verdict WasmPredicate::Eval(const Event& event, uint64_t budget) {
  Impl& im = *impl_;
  host_.set_event(&event);
  host_.clear_fault();
  if (im.fuel) {
    im.fuel->UnsafeSet(wi::Value::Make(static_cast<wi::u64>(std::min<uint64_t>(budget, INT64_MAX))));
  } else if (budget < im.cost) {
    last_error_ = fmt::format("needs {} units of budget, more than the {} it has", im.cost, budget);
    return Verdict::kOverBudget;
  }
  wi::Trap::Ptr trap;
  if (wabt::Failed(im.eval->Call(*im.world->thread, im.params, im.results, &trap))) {
    // A trap leaves the thread's stacks as they were: start the next call on a fresh one.
    im.world->thread = std::make_unique<wi::Thread>(im.world->store);
    bool out_of_fuel = im.fuel && static_cast<int64_t>(im.fuel->Get().Get<wi::u64>()) < 0;
    last_error_ = out_of_fuel ? "ran out of its instruction budget" : (trap ? trap->message() : "trapped");
    return out_of_fuel ? Verdict::kOverBudget : Verdict::kFault;
  }
  if (!host_.fault().empty()) {
    last_error_ = host_.fault();
    return Verdict::kFault;
  }
  uint32_t r = im.results[0].Get<wi::u32>();
  if (r > 2) {
    last_error_ = fmt::format("pred_eval returned {}, not 0, 1 or 2", r);
    return Verdict::kFault;
  }
  return static_cast<Verdict>(r);
}

}  // namespace kestrel::runtime
