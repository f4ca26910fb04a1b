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
  void Line(int depth, std::string_view text) {
    out_.append(2 * depth, ' ');
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

// Assigns the tri of `node` to the local `target`.
void Emitter::EmitTree(uint32_t node, const std::string& target, int depth) {
  using K = PlanNode::Kind;
  const PlanNode& n = plan_.nodes[node];
  if (n.kind == K::kConst) return Line(depth, fmt::format("{} = {}", target, n.tri));
  if (n.kind == K::kInSet && n.negated) {
    Line(depth, fmt::format("{} = {}", target, Leaf(n)));
    return Line(depth, fmt::format("if {0} ~= 2 then {0} = 1 - {0} end", target));
  }
  if (plan_.IsLeaf(n)) return Line(depth, fmt::format("{} = {}", target, Leaf(n)));
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
