#include "runtime/lua_codegen.h"

#include <fmt/format.h>

#include "runtime/host_api.h"

namespace kestrel::runtime {

std::string LuaQuote(std::string_view bytes) {
  std::string out = "\"";
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out += ch;
    } else {
      out += fmt::format("\\{:03d}", c);
    }
  }
  out += '"';
  return out;
}

namespace {

// The Host API functions the generated code calls, bound to locals.
constexpr std::string_view kPrelude = R"(local ffi = require("ffi")
local api, state = ...
local H = ffi.cast("const kestrel_host_api_v1*", api)
local host = ffi.cast("kestrel_host*", state)
local field_compare, field_in_set, field_match = H.field_compare, H.field_in_set, H.field_match
local field_cidr, field_is_null = H.field_cidr, H.field_is_null
local val_field, val_const, val_tri, val_i64, val_var = H.val_field, H.val_const, H.val_tri, H.val_i64, H.val_var
local val_arith, val_neg, val_call, val_len, val_bind = H.val_arith, H.val_neg, H.val_call, H.val_len, H.val_bind
local val_truth, val_compare, val_is_null, val_in_set = H.val_truth, H.val_compare, H.val_is_null, H.val_in_set
local val_in_list, val_match, lineage = H.val_in_list, H.val_match, H.lineage
local failed = false
-- Each set-up call must return the handle the code uses (handles count from 0 per kind).
local function expect(got, want) if got ~= want then failed = true end end
)";

class Emitter {
 public:
  explicit Emitter(const PredicatePlan& plan) : plan_(plan) {}

  std::string Emit() {
    out_ = kPrelude;
    EmitInit();
    out_ += "local function pred_eval(ev, ctx)\n  local r\n";
    EmitTree(plan_.root, "r", 1);
    out_ += "  return r\nend\n";
    out_ += fmt::format("return {{ abi = {}, eval = pred_eval }}\n", kHostAbiVersion);
    return std::move(out_);
  }

 private:
  void EmitInit();
  std::string Leaf(const PlanNode& n) const;
  void EmitTree(uint32_t node, const std::string& target, int depth);
  void EmitValue(uint32_t node, int depth);
  // The call that tests a value condition, after its values are emitted at `depth`.
  std::string ValueTest(const PlanNode& n, int depth);
  uint32_t RegOf(uint32_t node) const { return plan_.nodes[node].reg; }
  void Line(int depth, std::string_view text) {
    out_.append(2 * static_cast<size_t>(depth), ' ');
    out_ += text;
    out_ += '\n';
  }

  const PredicatePlan& plan_;
  std::string out_;
  int temp_ = 0;
};

void Emitter::EmitInit() {
  for (size_t i = 0; i < plan_.fields.size(); ++i) {
    const std::string& name = plan_.fields[i];
    out_ += fmt::format("expect(H.field_id(host, {}, {}), {})\n", LuaQuote(name), name.size(), i);
  }
  for (size_t i = 0; i < plan_.constants.size(); ++i) {
    const PlanConstant& k = plan_.constants[i];
    out_ += fmt::format("expect(H.const_new(host, {}, 0x{:016x}ULL, {}, {}), {})\n", static_cast<int>(k.kind),
                        static_cast<uint64_t>(k.bits), LuaQuote(k.text), k.text.size(), i);
  }
  for (size_t i = 0; i < plan_.sets.size(); ++i) {
    out_ += fmt::format("expect(H.set_new(host, {}), {})\n", plan_.sets[i].insensitive ? 1 : 0, i);
    for (uint32_t item : plan_.sets[i].items) out_ += fmt::format("expect(H.set_add(host, {}, {}), 0)\n", i, item);
  }
  for (size_t i = 0; i < plan_.matchers.size(); ++i) {
    out_ += fmt::format("expect(H.matcher_new(host, 0), {})\n", i);
    for (const PlanPattern& p : plan_.matchers[i]) {
      out_ += fmt::format("expect(H.matcher_add(host, {}, {}, {}, {}, {}), 0)\n", i, p.regex ? 1 : 0,
                          LuaQuote(p.pattern), p.pattern.size(), p.insensitive ? 1 : 0);
    }
  }
  for (size_t i = 0; i < plan_.nets.size(); ++i) {
    out_ += fmt::format("expect(H.net_new(host, 0), {})\n", i);
    for (const std::string& cidr : plan_.nets[i]) {
      out_ += fmt::format("expect(H.net_add(host, {}, {}, {}), 0)\n", i, LuaQuote(cidr), cidr.size());
    }
  }
  out_ += "if failed then return nil end\n";
}

// The call of a leaf's Host API field test.
std::string Emitter::Leaf(const PlanNode& n) const {
  using K = PlanNode::Kind;
  switch (n.kind) {
    case K::kCompare:
      return fmt::format("field_compare(host, ev, {}, {}, {}, {})", n.field, HostOpCode(n.cmp), n.handle,
                         n.insensitive ? 1 : 0);
    case K::kInSet: return fmt::format("field_in_set(host, ev, {}, {})", n.field, n.handle);
    case K::kMatch: return fmt::format("field_match(host, ev, {}, {})", n.field, n.handle);
    case K::kCidr: return fmt::format("field_cidr(host, ev, {}, {})", n.field, n.handle);
    case K::kIsNull: return fmt::format("field_is_null(host, ev, {})", n.field);
    default: return fmt::format("1 - field_is_null(host, ev, {})", n.field);  // kIsNotNull
  }
}

// Fills the register of value node `node`.
void Emitter::EmitValue(uint32_t node, int depth) {
  using K = PlanNode::Kind;
  const PlanNode& n = plan_.nodes[node];
  switch (n.kind) {
    case K::kField: return Line(depth, fmt::format("val_field(host, {}, ev, {})", n.reg, n.field));
    case K::kConstant: return Line(depth, fmt::format("val_const(host, {}, {})", n.reg, n.handle));
    case K::kTri: {
      std::string t = fmt::format("t{}", temp_++);
      Line(depth, fmt::format("do local {}", t));
      EmitTree(n.a, t, depth + 1);
      Line(depth + 1, fmt::format("val_tri(host, {}, {})", n.reg, t));
      return Line(depth, "end");
    }
    case K::kVariable: return Line(depth, fmt::format("val_var(host, {}, {})", n.reg, n.handle));
    case K::kArith:
      EmitValue(n.a, depth);
      EmitValue(n.b, depth);
      return Line(depth, fmt::format("val_arith(host, {}, {}, {}, {})", n.reg, HostOpCode(n.cmp), RegOf(n.a), RegOf(n.b)));
    case K::kNeg:
      EmitValue(n.a, depth);
      return Line(depth, fmt::format("val_neg(host, {}, {})", n.reg, RegOf(n.a)));
    case K::kCall:
      for (uint32_t arg : n.args) EmitValue(arg, depth);
      return Line(depth, fmt::format("val_call(host, {}, {}, {}, {}, {}, {})", n.reg, HostBuiltinCode(n.builtin),
                                     n.first_reg, n.args.size(), n.insensitive ? 1 : 0,
                                     n.handle == UINT32_MAX ? -1 : static_cast<int64_t>(n.handle)));
    case K::kArrayLoop: {
      // arrayCount / arraySearch: counts the elements of value a (bound to the variable) for
      // which condition b is true.
      EmitValue(n.a, depth);
      int k = temp_++;
      Line(depth, fmt::format("do local c{} = 0", k));
      Line(depth + 1, fmt::format("for i{0} = 0, val_len(host, {1}) - 1 do", k, RegOf(n.a)));
      Line(depth + 2, fmt::format("if val_bind(host, {}, {}, i{}) == 1 then local t{}", n.handle, RegOf(n.a), k, k));
      EmitTree(n.b, fmt::format("t{}", k), depth + 3);
      Line(depth + 3, fmt::format("if t{0} == 1 then c{0} = c{0} + 1 end", k));
      Line(depth + 2, "end");
      Line(depth + 1, "end");
      Line(depth + 1, n.builtin == eql::Builtin::kArrayCount
                          ? fmt::format("val_i64(host, {}, c{})", n.reg, k)
                          : fmt::format("val_tri(host, {0}, c{1} > 0 and 1 or 0)", n.reg, k));
      return Line(depth, "end");
    }
    default: return;  // conditions: EmitTree
  }
}

std::string Emitter::ValueTest(const PlanNode& n, int depth) {
  using K = PlanNode::Kind;
  if (n.kind != K::kLineage) EmitValue(n.a, depth);
  switch (n.kind) {
    case K::kTruth: return fmt::format("val_truth(host, {})", RegOf(n.a));
    case K::kValCompare:
      EmitValue(n.b, depth);
      return fmt::format("val_compare(host, {}, {}, {}, {})", HostOpCode(n.cmp), RegOf(n.a), RegOf(n.b),
                         n.insensitive ? 1 : 0);
    case K::kValIsNull: return fmt::format("val_is_null(host, {})", RegOf(n.a));
    case K::kValIsNotNull: return fmt::format("1 - val_is_null(host, {})", RegOf(n.a));
    case K::kValInSet: return fmt::format("val_in_set(host, {}, {})", RegOf(n.a), n.handle);
    case K::kValInList:
      for (uint32_t arg : n.args) EmitValue(arg, depth);
      return fmt::format("val_in_list(host, {}, {}, {}, {})", RegOf(n.a), n.first_reg, n.args.size(),
                         n.insensitive ? 1 : 0);
    case K::kValMatch: return fmt::format("val_match(host, {}, {})", RegOf(n.a), n.handle);
    default: return fmt::format("lineage(host, ev, {}, {})", n.lineage, n.handle);  // kLineage
  }
}

// Assigns the tri of `node` to the local `target`.
void Emitter::EmitTree(uint32_t node, const std::string& target, int depth) {
  using K = PlanNode::Kind;
  const PlanNode& n = plan_.nodes[node];
  if (n.kind == K::kConst) return Line(depth, fmt::format("{} = {}", target, n.tri));
  if (plan_.IsLeaf(n)) {
    bool field_test = n.kind <= K::kIsNotNull;
    Line(depth, fmt::format("{} = {}", target, field_test ? Leaf(n) : ValueTest(n, depth)));
    if (n.negated) Line(depth, fmt::format("if {0} ~= 2 then {0} = 1 - {0} end", target));
    return;
  }
  std::string t = fmt::format("t{}", temp_++);
  if (n.kind == K::kNot) {
    Line(depth, "do");
    Line(depth + 1, fmt::format("local {}", t));
    EmitTree(n.a, t, depth + 1);
    Line(depth + 1, fmt::format("if {0} == 2 then {1} = 2 else {1} = 1 - {0} end", t, target));
    Line(depth, "end");
    return;
  }
  // The operands of a chain of the same operator, left to right.
  std::vector<uint32_t> operands;
  std::vector<uint32_t> pending = {node};
  while (!pending.empty()) {
    uint32_t id = pending.back();
    pending.pop_back();
    const PlanNode& m = plan_.nodes[id];
    if (m.kind == n.kind) {
      pending.push_back(m.b);
      pending.push_back(m.a);
    } else {
      operands.push_back(id);
    }
  }
  // Kleene: the first decisive operand (false for and, true for or) decides; otherwise null if
  // any operand was null.
  int decisive = n.kind == K::kAnd ? 0 : 1;
  Line(depth, fmt::format("{} = {}", target, 1 - decisive));
  Line(depth, "repeat");
  for (uint32_t op : operands) {  // each in its own scope: a long chain adds no locals
    Line(depth + 1, "do");
    Line(depth + 2, fmt::format("local {}", t));
    EmitTree(op, t, depth + 2);
    Line(depth + 2, fmt::format("if {0} == {1} then {2} = {1}; break end", t, decisive, target));
    Line(depth + 2, fmt::format("if {0} == 2 then {1} = 2 end", t, target));
    Line(depth + 1, "end");
  }
  Line(depth, "until true");
}

}  // namespace

std::string EmitLua(const PredicatePlan& plan) { return Emitter(plan).Emit(); }

}  // namespace kestrel::runtime
