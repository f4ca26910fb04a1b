#include "runtime/wasm_codegen.h"

#include <algorithm>
#include <set>
#include <type_traits>

#include "runtime/host_api.h"
#include "runtime/wasm_writer.h"

namespace kestrel::runtime {
namespace {

using wasm::Code;
using wasm::FuncType;
using wasm::ModuleWriter;
using wasm::Opcode;
using wasm::ValType;

// The Wasm type of a Host API C type: pointers are offsets into the module's memory.
template <class T>
constexpr ValType WasmTypeOf() {
  if constexpr (std::is_same_v<T, int64_t>) {
    return ValType::kI64;
  } else if constexpr (std::is_same_v<T, double>) {
    return ValType::kF64;
  } else {
    return ValType::kI32;  // int32_t, const char*, char*
  }
}

template <class R, class... A>
FuncType ImportType(R (*)(HostState*, A...)) {
  FuncType t{{WasmTypeOf<A>()...}, {}};
  if constexpr (!std::is_void_v<R>) t.results.push_back(WasmTypeOf<R>());
  return t;
}

// Function indices of the imports, by name.
struct Imports {
#define KESTREL_HOST_FN(result, name, params) uint32_t name = 0;
#include "runtime/host_api.def"
#undef KESTREL_HOST_FN
};

// The Host API functions `plan` calls.
std::set<std::string_view> FunctionsOf(const PredicatePlan& plan) {
  using K = PlanNode::Kind;
  std::set<std::string_view> used;
  if (!plan.fields.empty()) used.insert("field_id");
  if (!plan.constants.empty()) used.insert("const_new");
  if (!plan.sets.empty()) used.insert({"set_new", "set_add"});
  if (!plan.matchers.empty()) used.insert({"matcher_new", "matcher_add"});
  if (!plan.nets.empty()) used.insert({"net_new", "net_add"});
  for (const PlanNode& n : plan.nodes) {
    switch (n.kind) {
      case K::kAnd: case K::kOr: case K::kNot: case K::kConst: break;
      case K::kCompare: used.insert("field_compare"); break;
      case K::kInSet: used.insert("field_in_set"); break;
      case K::kMatch: used.insert("field_match"); break;
      case K::kCidr: used.insert("field_cidr"); break;
      case K::kIsNull: case K::kIsNotNull: used.insert("field_is_null"); break;
      case K::kTruth: used.insert("val_truth"); break;
      case K::kValCompare: used.insert("val_compare"); break;
      case K::kValIsNull: case K::kValIsNotNull: used.insert("val_is_null"); break;
      case K::kValInSet: used.insert("val_in_set"); break;
      case K::kValInList: used.insert("val_in_list"); break;
      case K::kValMatch: used.insert("val_match"); break;
      case K::kLineage: used.insert("lineage"); break;
      case K::kField: used.insert("val_field"); break;
      case K::kConstant: used.insert("val_const"); break;
      case K::kTri: used.insert("val_tri"); break;
      case K::kVariable: used.insert("val_var"); break;
      case K::kArith: used.insert("val_arith"); break;
      case K::kNeg: used.insert("val_neg"); break;
      case K::kCall: used.insert("val_call"); break;
      case K::kArrayLoop:
        used.insert({"val_len", "val_bind", n.builtin == eql::Builtin::kArrayCount ? "val_i64" : "val_tri"});
        break;
    }
  }
  return used;
}

// Imports the Host API functions `plan` uses (each instance binds only those).
Imports AddImports(ModuleWriter& w, const PredicatePlan& plan) {
  std::set<std::string_view> used = FunctionsOf(plan);
  Imports im;
  const HostApiV1& api = HostApi();
#define KESTREL_HOST_FN(result, name, params) \
  if (used.count(#name) != 0) im.name = w.AddImport("kestrel", #name, ImportType(api.name));
#include "runtime/host_api.def"
#undef KESTREL_HOST_FN
  return im;
}

constexpr uint32_t kDataOffset = 16;

class Emitter {
 public:
  Emitter(const PredicatePlan& plan, WasmMemory memory) : plan_(plan), memory_(memory) {}
  std::vector<uint8_t> Emit();

 private:
  // Bytes in the data segment: (offset, length).
  std::pair<int32_t, int32_t> Data(std::string_view bytes) {
    auto offset = static_cast<int32_t>(kDataOffset + data_.size());
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    return {offset, static_cast<int32_t>(bytes.size())};
  }
  void EmitInit();
  void EmitLeaf(Code& c, const PlanNode& n);
  void EmitTree(Code& c, uint32_t node);
  void EmitValue(Code& c, uint32_t node);
  void EmitArrayLoop(Code& c, const PlanNode& n);
  static Code& Reg(Code& c, uint32_t reg) { return c.I32(static_cast<int32_t>(reg)); }
  uint32_t RegOf(uint32_t node) const { return plan_.nodes[node].reg; }
  static void Not(Code& c, uint32_t tmp);

  const PredicatePlan& plan_;
  WasmMemory memory_;
  ModuleWriter w_;
  Imports im_;
  std::vector<uint8_t> data_;
};

// tmp := top of stack; pushes not(tmp): 2 stays 2, 0 and 1 swap.
void Emitter::Not(Code& c, uint32_t tmp) {
  c.Set(tmp);
  c.I32(2).Get(tmp).I32(1).Op(Opcode::kI32Xor).Get(tmp).I32(2).Op(Opcode::kI32Eq).Op(Opcode::kSelect);
}

void Emitter::EmitInit() {
  Code c;
  uint32_t failed = c.AddLocal(ValType::kI32, 0);
  // Each set-up call must return the handle the code below uses (handles count from 0 per
  // kind), or 0 for an add; anything else fails pred_init.
  auto expect = [&](int32_t value) { c.I32(value).Op(Opcode::kI32Ne).Get(failed).Op(Opcode::kI32Or).Set(failed); };
  for (size_t i = 0; i < plan_.fields.size(); ++i) {
    auto [off, len] = Data(plan_.fields[i]);
    c.I32(off).I32(len).Call(im_.field_id);
    expect(static_cast<int32_t>(i));
  }
  for (size_t i = 0; i < plan_.constants.size(); ++i) {
    const PlanConstant& k = plan_.constants[i];
    auto [off, len] = Data(k.text);
    c.I32(static_cast<int32_t>(k.kind)).I64(k.bits).I32(off).I32(len).Call(im_.const_new);
    expect(static_cast<int32_t>(i));
  }
  for (size_t i = 0; i < plan_.sets.size(); ++i) {
    c.I32(plan_.sets[i].insensitive ? 1 : 0).Call(im_.set_new);
    expect(static_cast<int32_t>(i));
    for (uint32_t item : plan_.sets[i].items) {
      c.I32(static_cast<int32_t>(i)).I32(static_cast<int32_t>(item)).Call(im_.set_add);
      expect(0);
    }
  }
  for (size_t i = 0; i < plan_.matchers.size(); ++i) {
    c.I32(0).Call(im_.matcher_new);
    expect(static_cast<int32_t>(i));
    for (const PlanPattern& p : plan_.matchers[i]) {
      auto [off, len] = Data(p.pattern);
      c.I32(static_cast<int32_t>(i)).I32(p.regex ? 1 : 0).I32(off).I32(len).I32(p.insensitive ? 1 : 0);
      c.Call(im_.matcher_add);
      expect(0);
    }
  }
  for (size_t i = 0; i < plan_.nets.size(); ++i) {
    c.I32(0).Call(im_.net_new);
    expect(static_cast<int32_t>(i));
    for (const std::string& cidr : plan_.nets[i]) {
      auto [off, len] = Data(cidr);
      c.I32(static_cast<int32_t>(i)).I32(off).I32(len).Call(im_.net_add);
      expect(0);
    }
  }
  c.Get(failed);
  uint32_t init = w_.AddFunction({{}, {ValType::kI32}}, std::move(c));
  w_.ExportFunction("pred_init", init);
}

// Pushes the tri of leaf `n`: one Host API field test (pred_eval's local 0 is the event).
void Emitter::EmitLeaf(Code& c, const PlanNode& n) {
  using K = PlanNode::Kind;
  c.Get(0).I32(static_cast<int32_t>(n.field));
  switch (n.kind) {
    case K::kCompare:
      c.I32(HostOpCode(n.cmp)).I32(static_cast<int32_t>(n.handle)).I32(n.insensitive ? 1 : 0).Call(im_.field_compare);
      break;
    case K::kInSet: c.I32(static_cast<int32_t>(n.handle)).Call(im_.field_in_set); break;
    case K::kMatch: c.I32(static_cast<int32_t>(n.handle)).Call(im_.field_match); break;
    case K::kCidr: c.I32(static_cast<int32_t>(n.handle)).Call(im_.field_cidr); break;
    case K::kIsNull: c.Call(im_.field_is_null); break;
    default: c.Call(im_.field_is_null).Op(Opcode::kI32Eqz); break;  // kIsNotNull
  }
}

// Fills the register of value node `node` (pred_eval's locals: 0 ev, 1 ctx).
void Emitter::EmitValue(Code& c, uint32_t node) {
  using K = PlanNode::Kind;
  const PlanNode& n = plan_.nodes[node];
  switch (n.kind) {
    case K::kField: Reg(c, n.reg).Get(0).I32(static_cast<int32_t>(n.field)).Call(im_.val_field); break;
    case K::kConstant: Reg(c, n.reg).I32(static_cast<int32_t>(n.handle)).Call(im_.val_const); break;
    case K::kTri:
      Reg(c, n.reg);
      EmitTree(c, n.a);
      c.Call(im_.val_tri);
      break;
    case K::kVariable: Reg(c, n.reg).I32(static_cast<int32_t>(n.handle)).Call(im_.val_var); break;
    case K::kArith:
      EmitValue(c, n.a);
      EmitValue(c, n.b);
      Reg(c, n.reg).I32(HostOpCode(n.cmp));
      Reg(c, RegOf(n.a));
      Reg(c, RegOf(n.b)).Call(im_.val_arith);
      break;
    case K::kNeg:
      EmitValue(c, n.a);
      Reg(c, n.reg);
      Reg(c, RegOf(n.a)).Call(im_.val_neg);
      break;
    case K::kCall:
      for (uint32_t arg : n.args) EmitValue(c, arg);
      Reg(c, n.reg).I32(HostBuiltinCode(n.builtin));
      Reg(c, n.first_reg).I32(static_cast<int32_t>(n.args.size())).I32(n.insensitive ? 1 : 0);
      c.I32(n.handle == UINT32_MAX ? -1 : static_cast<int32_t>(n.handle)).Call(im_.val_call);
      break;
    case K::kArrayLoop: EmitArrayLoop(c, n); break;
    default: break;  // conditions: EmitTree
  }
}

// arrayCount / arraySearch: counts the elements of value a (bound to the variable) for which
// condition b is true.
void Emitter::EmitArrayLoop(Code& c, const PlanNode& n) {
  EmitValue(c, n.a);
  uint32_t len = c.AddLocal(ValType::kI32, 2), i = c.AddLocal(ValType::kI32, 2), count = c.AddLocal(ValType::kI32, 2);
  Reg(c, RegOf(n.a)).Call(im_.val_len).Set(len);
  c.I32(0).Set(i).I32(0).Set(count);
  c.Begin(Opcode::kBlock).Begin(Opcode::kLoop);
  c.Get(i).Get(len).Op(Opcode::kI32GeS).OpIndex(Opcode::kBrIf, 1);
  c.I32(static_cast<int32_t>(n.handle));
  Reg(c, RegOf(n.a)).Get(i).Call(im_.val_bind);
  c.Begin(Opcode::kIf);
  EmitTree(c, n.b);
  c.I32(1).Op(Opcode::kI32Eq).Begin(Opcode::kIf).Get(count).I32(1).Op(Opcode::kI32Add).Set(count).Op(Opcode::kEnd);
  c.Op(Opcode::kEnd);
  c.Get(i).I32(1).Op(Opcode::kI32Add).Set(i).OpIndex(Opcode::kBr, 0);
  c.Op(Opcode::kEnd).Op(Opcode::kEnd);
  Reg(c, n.reg);
  if (n.builtin == eql::Builtin::kArrayCount) {
    c.Get(count).Op(Opcode::kI64ExtendI32S).Call(im_.val_i64);
  } else {
    c.Get(count).I32(0).Op(Opcode::kI32GtS).Call(im_.val_tri);
  }
}

// Pushes the tri of condition `node` (pred_eval's locals: 0 ev, 1 ctx).
void Emitter::EmitTree(Code& c, uint32_t node) {
  using K = PlanNode::Kind;
  const PlanNode& n = plan_.nodes[node];
  auto not_if_negated = [&] {
    if (n.negated) Not(c, c.AddLocal(ValType::kI32, 2));
  };
  switch (n.kind) {
    case K::kConst: c.I32(n.tri); return;
    case K::kCompare: case K::kInSet: case K::kMatch: case K::kCidr: case K::kIsNull: case K::kIsNotNull:
      EmitLeaf(c, n);
      if (n.kind == K::kInSet) not_if_negated();
      return;
    case K::kTruth:
      EmitValue(c, n.a);
      Reg(c, RegOf(n.a)).Call(im_.val_truth);
      return;
    case K::kValCompare:
      EmitValue(c, n.a);
      EmitValue(c, n.b);
      c.I32(HostOpCode(n.cmp));
      Reg(c, RegOf(n.a));
      Reg(c, RegOf(n.b)).I32(n.insensitive ? 1 : 0).Call(im_.val_compare);
      return;
    case K::kValIsNull:
    case K::kValIsNotNull:
      EmitValue(c, n.a);
      Reg(c, RegOf(n.a)).Call(im_.val_is_null);
      if (n.kind == K::kValIsNotNull) c.Op(Opcode::kI32Eqz);
      return;
    case K::kValInSet:
      EmitValue(c, n.a);
      Reg(c, RegOf(n.a)).I32(static_cast<int32_t>(n.handle)).Call(im_.val_in_set);
      not_if_negated();
      return;
    case K::kValInList:
      EmitValue(c, n.a);
      for (uint32_t arg : n.args) EmitValue(c, arg);
      Reg(c, RegOf(n.a));
      Reg(c, n.first_reg).I32(static_cast<int32_t>(n.args.size())).I32(n.insensitive ? 1 : 0).Call(im_.val_in_list);
      not_if_negated();
      return;
    case K::kValMatch:
      EmitValue(c, n.a);
      Reg(c, RegOf(n.a)).I32(static_cast<int32_t>(n.handle)).Call(im_.val_match);
      return;
    case K::kLineage:
      c.Get(0).I32(n.lineage).I32(static_cast<int32_t>(n.handle)).Call(im_.lineage);
      return;
    case K::kAnd: case K::kOr: case K::kNot: break;
    default: c.I32(2); return;  // values are not conditions (plans never ask)
  }
  uint32_t l = c.AddLocal(ValType::kI32, 2);
  if (n.kind == K::kNot) {
    EmitTree(c, n.a);
    Not(c, l);
    return;
  }
  uint32_t r = c.AddLocal(ValType::kI32, 2);
  // Kleene: `and` is false if either side is, `or` true if either is (the right side is not
  // evaluated then); otherwise the larger of the two (null = 2 beats true = 1 and false = 0).
  int32_t decisive = n.kind == K::kAnd ? 0 : 1;
  auto is_decisive = [&] { c.I32(decisive).Op(Opcode::kI32Eq); };
  EmitTree(c, n.a);
  c.Tee(l);
  is_decisive();
  c.Begin(Opcode::kIf, true).I32(decisive).Op(Opcode::kElse);
  EmitTree(c, n.b);
  c.Tee(r);
  is_decisive();
  c.Begin(Opcode::kIf, true).I32(decisive).Op(Opcode::kElse);
  c.Get(l).Get(r).Get(l).Get(r).Op(Opcode::kI32GtS).Op(Opcode::kSelect);
  c.Op(Opcode::kEnd).Op(Opcode::kEnd);
}

std::vector<uint8_t> Emitter::Emit() {
  im_ = AddImports(w_, plan_);
  uint32_t abi = w_.AddGlobal(ValType::kI32, false, kHostAbiVersion);
  // Straight-line code but for arrayCount / arraySearch, which loop once per element of an
  // event's array: an evaluation's cost is bounded by the plan's size (times those arrays'
  // lengths), so the runtime checks the budget against it once instead of metering every call.
  uint32_t cost = w_.AddGlobal(ValType::kI64, false, static_cast<int64_t>(plan_.nodes.size()));
  EmitInit();
  Code eval;
  EmitTree(eval, plan_.root);
  uint32_t eval_fn = w_.AddFunction({{ValType::kI32, ValType::kI32}, {ValType::kI32}}, std::move(eval));
  w_.ExportFunction("pred_eval", eval_fn);
  w_.ExportGlobal("kestrel_abi", abi);
  w_.ExportGlobal("kestrel_cost", cost);
  // The data lives in the worker's one memory, which every generated module imports: pred_init
  // reads it right after instantiation (when the data segment has just been written) and
  // pred_eval never touches memory, so the modules can share it.
  auto pages = static_cast<uint32_t>((kDataOffset + data_.size()) / 65536 + 1);
  if (memory_ == WasmMemory::kShared) {
    w_.ImportMemory("kestrel", "memory", pages);
  } else {
    w_.SetMemory(pages);
  }
  w_.ExportMemory("memory");
  if (!data_.empty()) w_.SetData(kDataOffset, data_);
  return w_.Finish();
}

}  // namespace

std::vector<uint8_t> EmitWasm(const PredicatePlan& plan, WasmMemory memory) { return Emitter(plan, memory).Emit(); }

}  // namespace kestrel::runtime
