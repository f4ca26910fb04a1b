#include "runtime/wasm_codegen.h"

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
  if constexpr (std::is_same_v<T, int64_t>) return ValType::kI64;
  else if constexpr (std::is_same_v<T, double>) return ValType::kF64;
  else return ValType::kI32;  // int32_t, const char*, char*
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

Imports AddImports(ModuleWriter& w) {
  Imports im;
  const HostApiV1& api = HostApi();
#define KESTREL_HOST_FN(result, name, params) im.name = w.AddImport("kestrel", #name, ImportType(api.name));
#include "runtime/host_api.def"
#undef KESTREL_HOST_FN
  return im;
}

constexpr uint32_t kDataOffset = 16;

class Emitter {
 public:
  explicit Emitter(const PredicatePlan& plan) : plan_(plan) {}
  std::vector<uint8_t> Emit();

 private:
  // Bytes in the data segment: (offset, length).
  std::pair<int32_t, int32_t> Data(std::string_view bytes) {
    auto offset = static_cast<int32_t>(kDataOffset + data_.size());
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    return {offset, static_cast<int32_t>(bytes.size())};
  }
  void EmitInit();
  uint32_t EmitLeaf(const PlanNode& n);
  void EmitTree(Code& c, uint32_t node);
  void SpendFuel(Code& c);
  static void Not(Code& c, uint32_t tmp);

  const PredicatePlan& plan_;
  ModuleWriter w_;
  Imports im_;
  std::vector<uint8_t> data_;
  uint32_t fuel_ = 0;
  std::vector<uint32_t> field_globals_, const_globals_, set_globals_, matcher_globals_, net_globals_;
  std::vector<uint32_t> leaf_funcs_;  // per plan node (leaves only)
};

const FuncType kLeafType{{ValType::kI32}, {ValType::kI32}};

void Emitter::SpendFuel(Code& c) {
  c.GlobalGet(fuel_).I64(1).Op(Opcode::kI64Sub).GlobalSet(fuel_);
  c.GlobalGet(fuel_).I64(0).Op(Opcode::kI64LtS).Begin(Opcode::kIf).Op(Opcode::kUnreachable).Op(Opcode::kEnd);
}

// tmp := top of stack; pushes not(tmp): 2 stays 2, 0 and 1 swap.
void Emitter::Not(Code& c, uint32_t tmp) {
  c.Set(tmp);
  c.I32(2).Get(tmp).I32(1).Op(Opcode::kI32Xor).Get(tmp).I32(2).Op(Opcode::kI32Eq).Op(Opcode::kSelect);
}

void Emitter::EmitInit() {
  Code c;
  uint32_t failed = c.AddLocal(ValType::kI32, 0);
  uint32_t handle = c.AddLocal(ValType::kI32, 0);
  auto check = [&] {  // a set-up call's result: -1 marks the module as failed
    c.I32(-1).Op(Opcode::kI32Eq).Get(failed).Op(Opcode::kI32Or).Set(failed);
  };
  for (const std::string& name : plan_.fields) {
    auto [off, len] = Data(name);
    field_globals_.push_back(w_.AddGlobal(ValType::kI32, true, -1));
    c.I32(off).I32(len).Call(im_.field_id).GlobalSet(field_globals_.back());
  }
  for (const PlanConstant& k : plan_.constants) {
    auto [off, len] = Data(k.text);
    const_globals_.push_back(w_.AddGlobal(ValType::kI32, true, -1));
    c.I32(static_cast<int32_t>(k.kind)).I64(k.bits).I32(off).I32(len).Call(im_.const_new);
    c.Tee(handle).GlobalSet(const_globals_.back()).Get(handle);
    check();
  }
  for (const PlanSet& s : plan_.sets) {
    set_globals_.push_back(w_.AddGlobal(ValType::kI32, true, -1));
    c.I32(s.insensitive ? 1 : 0).Call(im_.set_new).GlobalSet(set_globals_.back());
    for (uint32_t item : s.items) {
      c.GlobalGet(set_globals_.back()).GlobalGet(const_globals_[item]).Call(im_.set_add);
      check();
    }
  }
  for (const auto& group : plan_.matchers) {
    matcher_globals_.push_back(w_.AddGlobal(ValType::kI32, true, -1));
    c.I32(0).Call(im_.matcher_new).GlobalSet(matcher_globals_.back());
    for (const PlanPattern& p : group) {
      auto [off, len] = Data(p.pattern);
      c.GlobalGet(matcher_globals_.back()).I32(p.regex ? 1 : 0).I32(off).I32(len).I32(p.insensitive ? 1 : 0);
      c.Call(im_.matcher_add);
      check();
    }
  }
  for (const auto& group : plan_.nets) {
    net_globals_.push_back(w_.AddGlobal(ValType::kI32, true, -1));
    c.I32(0).Call(im_.net_new).GlobalSet(net_globals_.back());
    for (const std::string& cidr : group) {
      auto [off, len] = Data(cidr);
      c.GlobalGet(net_globals_.back()).I32(off).I32(len).Call(im_.net_add);
      check();
    }
  }
  c.Get(failed);
  uint32_t init = w_.AddFunction({{}, {ValType::kI32}}, std::move(c));
  w_.ExportFunction("pred_init", init);
}

// One leaf: (ev) -> tri, a loop over the field's elements.
uint32_t Emitter::EmitLeaf(const PlanNode& n) {
  using K = PlanNode::Kind;
  Code c;
  const uint32_t ev = 0;
  uint32_t count = c.AddLocal(ValType::kI32, 1);
  uint32_t i = c.AddLocal(ValType::kI32, 1);
  uint32_t t = c.AddLocal(ValType::kI32, 1);
  uint32_t out = c.AddLocal(ValType::kI32, 1);    // kCompare: comparable; others: the tri so far
  uint32_t holds = c.AddLocal(ValType::kI32, 1);  // kCompare
  uint32_t x = c.AddLocal(ValType::kI64, 1);
  uint32_t field = field_globals_[n.field];
  auto element = [&] { c.Get(ev).GlobalGet(field).Get(i); };

  c.Get(ev).GlobalGet(field).Call(im_.event_array_len).Set(count);
  if (n.kind != K::kCompare && n.kind != K::kIsNull && n.kind != K::kIsNotNull) c.I32(2).Set(out);
  c.Begin(Opcode::kBlock).Begin(Opcode::kLoop);
  c.Get(i).Get(count).Op(Opcode::kI32GeS).OpIndex(Opcode::kBrIf, 1);
  SpendFuel(c);
  switch (n.kind) {
    case K::kCompare: {
      const PlanConstant& k = plan_.constants[n.handle];
      auto host_compare = [&] {
        element();
        c.GlobalGet(const_globals_[n.handle]).I32(n.insensitive ? 1 : 0).Call(im_.elem_compare);
      };
      if (k.kind == ElementKind::kInt) {  // an integer element against an integer: inline
        element();
        c.Call(im_.event_kind).I32(static_cast<int32_t>(ElementKind::kInt)).Op(Opcode::kI32Eq);
        c.Begin(Opcode::kIf, true);
        element();
        c.Call(im_.event_get_i64).Set(x);
        c.Get(x).I64(k.bits).Op(Opcode::kI64GtS).Get(x).I64(k.bits).Op(Opcode::kI64LtS).Op(Opcode::kI32Sub);
        c.Op(Opcode::kElse);
        host_compare();
        c.Op(Opcode::kEnd);
      } else {
        host_compare();
      }
      c.Set(t);
      c.Get(t).I32(2).Op(Opcode::kI32Ne).Begin(Opcode::kIf);
      c.I32(1).Set(out);
      c.Get(t);
      switch (n.cmp == eql::Op::kNe ? eql::Op::kEq : n.cmp) {
        case eql::Op::kLt: c.I32(0).Op(Opcode::kI32LtS); break;
        case eql::Op::kLe: c.I32(0).Op(Opcode::kI32LeS); break;
        case eql::Op::kGt: c.I32(0).Op(Opcode::kI32GtS); break;
        case eql::Op::kGe: c.I32(0).Op(Opcode::kI32GeS); break;
        default: c.Op(Opcode::kI32Eqz); break;
      }
      c.Tee(holds).OpIndex(Opcode::kBrIf, 2);
      c.Op(Opcode::kEnd);
      break;
    }
    case K::kIsNull:
    case K::kIsNotNull:
      element();
      c.Call(im_.event_kind).Begin(Opcode::kIf);  // not null (kind 0)
      c.I32(1).Set(out).OpIndex(Opcode::kBr, 2);
      c.Op(Opcode::kEnd);
      break;
    default: {
      element();
      switch (n.kind) {
        case K::kInSet: c.GlobalGet(set_globals_[n.handle]).Call(im_.elem_in_set); break;
        case K::kMatch: c.GlobalGet(matcher_globals_[n.handle]).Call(im_.elem_match); break;
        default: c.GlobalGet(net_globals_[n.handle]).Call(im_.elem_cidr); break;
      }
      c.Tee(t).I32(2).Op(Opcode::kI32Ne).Begin(Opcode::kIf);
      c.Get(t).Set(out);
      c.Get(t).I32(1).Op(Opcode::kI32Eq).OpIndex(Opcode::kBrIf, 2);
      c.Op(Opcode::kEnd);
      break;
    }
  }
  c.Get(i).I32(1).Op(Opcode::kI32Add).Set(i).OpIndex(Opcode::kBr, 0);
  c.Op(Opcode::kEnd).Op(Opcode::kEnd);  // loop, block

  switch (n.kind) {
    case K::kCompare:
      // Null when no element was comparable; `!=` is the negation of `==` over them.
      c.Get(out).Op(Opcode::kI32Eqz).Begin(Opcode::kIf, true).I32(2).Op(Opcode::kElse).Get(holds);
      if (n.cmp == eql::Op::kNe) c.Op(Opcode::kI32Eqz);
      c.Op(Opcode::kEnd);
      break;
    case K::kIsNull: c.Get(out).Op(Opcode::kI32Eqz); break;
    case K::kIsNotNull: c.Get(out); break;
    default:
      c.Get(out);
      if (n.kind == K::kInSet && n.negated) Not(c, t);
      break;
  }
  return w_.AddFunction(kLeafType, std::move(c));
}

// Pushes the tri of plan node `node` (pred_eval's locals: 0 ev, 1 ctx).
void Emitter::EmitTree(Code& c, uint32_t node) {
  using K = PlanNode::Kind;
  const PlanNode& n = plan_.nodes[node];
  if (plan_.IsLeaf(n)) {
    if (n.kind == K::kConst) {
      c.I32(n.tri);
    } else {
      c.Get(0).Call(leaf_funcs_[node]);
    }
    return;
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
  im_ = AddImports(w_);
  uint32_t abi = w_.AddGlobal(ValType::kI32, false, kHostAbiVersion);
  fuel_ = w_.AddGlobal(ValType::kI64, true, 0);
  EmitInit();
  leaf_funcs_.assign(plan_.nodes.size(), 0);
  for (uint32_t k = 0; k < plan_.nodes.size(); ++k) {
    const PlanNode& n = plan_.nodes[k];
    if (plan_.IsLeaf(n) && n.kind != PlanNode::Kind::kConst) leaf_funcs_[k] = EmitLeaf(n);
  }
  Code eval;
  SpendFuel(eval);
  EmitTree(eval, plan_.root);
  uint32_t eval_fn = w_.AddFunction({{ValType::kI32, ValType::kI32}, {ValType::kI32}}, std::move(eval));
  w_.ExportFunction("pred_eval", eval_fn);
  w_.ExportGlobal("kestrel_abi", abi);
  w_.ExportGlobal("kestrel_fuel", fuel_);
  // The data, then room for the predicate's own use.
  w_.SetMemory(static_cast<uint32_t>((kDataOffset + data_.size()) / 65536 + 1));
  w_.ExportMemory("memory");
  if (!data_.empty()) w_.SetData(kDataOffset, data_);
  return w_.Finish();
}

}  // namespace

std::vector<uint8_t> EmitWasm(const PredicatePlan& plan) { return Emitter(plan).Emit(); }

}  // namespace kestrel::runtime
