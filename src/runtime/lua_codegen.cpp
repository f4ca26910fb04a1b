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
local field_id, const_new, set_new, set_add = H.field_id, H.const_new, H.set_new, H.set_add
local matcher_new, matcher_add, net_new, net_add = H.matcher_new, H.matcher_add, H.net_new, H.net_add
local event_array_len, event_kind = H.event_array_len, H.event_kind
local elem_compare, elem_in_set, elem_match, elem_cidr = H.elem_compare, H.elem_in_set, H.elem_match, H.elem_cidr
local F, K, S, M, N, L = {}, {}, {}, {}, {}, {}
local failed = false
)";

class Emitter {
 public:
  explicit Emitter(const PredicatePlan& plan) : plan_(plan) {}

  std::string Emit() {
    out_ = kPrelude;
    EmitInit();
    for (uint32_t k = 0; k < plan_.nodes.size(); ++k) {
      const PlanNode& n = plan_.nodes[k];
      if (plan_.IsLeaf(n) && n.kind != PlanNode::Kind::kConst) EmitLeaf(k, n);
    }
    out_ += "local function pred_eval(ev, ctx)\n  local r\n";
    EmitTree(plan_.root, "r", 1);
    out_ += "  return r\nend\n";
    out_ += fmt::format("return {{ abi = {}, eval = pred_eval }}\n", kHostAbiVersion);
    return std::move(out_);
  }

 private:
  void EmitInit();
  void EmitLeaf(uint32_t id, const PlanNode& n);
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
  auto check = [](std::string call) { return fmt::format("if {} == -1 then failed = true end\n", call); };
  for (size_t i = 0; i < plan_.fields.size(); ++i) {
    const std::string& name = plan_.fields[i];
    out_ += fmt::format("F[{}] = field_id(host, {}, {})\n", i + 1, LuaQuote(name), name.size());
  }
  for (size_t i = 0; i < plan_.constants.size(); ++i) {
    const PlanConstant& k = plan_.constants[i];
    out_ += fmt::format("K[{}] = const_new(host, {}, 0x{:016x}ULL, {}, {})\n", i + 1, static_cast<int>(k.kind),
                        static_cast<uint64_t>(k.bits), LuaQuote(k.text), k.text.size());
    out_ += fmt::format("if K[{}] == -1 then failed = true end\n", i + 1);
  }
  for (size_t i = 0; i < plan_.sets.size(); ++i) {
    out_ += fmt::format("S[{}] = set_new(host, {})\n", i + 1, plan_.sets[i].insensitive ? 1 : 0);
    for (uint32_t item : plan_.sets[i].items) out_ += check(fmt::format("set_add(host, S[{}], K[{}])", i + 1, item + 1));
  }
  for (size_t i = 0; i < plan_.matchers.size(); ++i) {
    out_ += fmt::format("M[{}] = matcher_new(host, 0)\n", i + 1);
    for (const PlanPattern& p : plan_.matchers[i]) {
      out_ += check(fmt::format("matcher_add(host, M[{}], {}, {}, {}, {})", i + 1, p.regex ? 1 : 0,
                                LuaQuote(p.pattern), p.pattern.size(), p.insensitive ? 1 : 0));
    }
  }
  for (size_t i = 0; i < plan_.nets.size(); ++i) {
    out_ += fmt::format("N[{}] = net_new(host, 0)\n", i + 1);
    for (const std::string& cidr : plan_.nets[i]) {
      out_ += check(fmt::format("net_add(host, N[{}], {}, {})", i + 1, LuaQuote(cidr), cidr.size()));
    }
  }
  out_ += "if failed then return nil end\n";
}

void Emitter::EmitLeaf(uint32_t id, const PlanNode& n) {
  using K = PlanNode::Kind;
  out_ += fmt::format("L[{}] = function(ev)\n  local f = F[{}]\n  local n = event_array_len(host, ev, f)\n", id + 1,
                      n.field + 1);
  switch (n.kind) {
    case K::kCompare: {
      const char* holds = "c == 0";
      switch (n.cmp == eql::Op::kNe ? eql::Op::kEq : n.cmp) {
        case eql::Op::kLt: holds = "c < 0"; break;
        case eql::Op::kLe: holds = "c <= 0"; break;
        case eql::Op::kGt: holds = "c > 0"; break;
        case eql::Op::kGe: holds = "c >= 0"; break;
        default: break;
      }
      bool ne = n.cmp == eql::Op::kNe;
      out_ += "  local comparable, holds = false, false\n  for i = 0, n - 1 do\n";
      out_ += fmt::format("    local c = elem_compare(host, ev, f, i, K[{}], {})\n", n.handle + 1, n.insensitive ? 1 : 0);
      out_ += fmt::format("    if c ~= 2 then\n      comparable = true\n      holds = {}\n      if holds then break end\n"
                          "    end\n  end\n",
                          holds);
      out_ += fmt::format("  if not comparable then return 2 end\n  if holds then return {} end\n  return {}\nend\n",
                          ne ? 0 : 1, ne ? 1 : 0);
      return;
    }
    case K::kIsNull:
    case K::kIsNotNull:
      out_ += "  for i = 0, n - 1 do\n    if event_kind(host, ev, f, i) ~= 0 then\n";
      out_ += fmt::format("      return {}\n    end\n  end\n  return {}\nend\n", n.kind == K::kIsNull ? 0 : 1,
                          n.kind == K::kIsNull ? 1 : 0);
      return;
    default: {
      std::string call = n.kind == K::kInSet   ? fmt::format("elem_in_set(host, ev, f, i, S[{}])", n.handle + 1)
                         : n.kind == K::kMatch ? fmt::format("elem_match(host, ev, f, i, M[{}])", n.handle + 1)
                                               : fmt::format("elem_cidr(host, ev, f, i, N[{}])", n.handle + 1);
      out_ += fmt::format("  local out = 2\n  for i = 0, n - 1 do\n    local t = {}\n", call);
      out_ += "    if t ~= 2 then\n      out = t\n      if t == 1 then break end\n    end\n  end\n";
      if (n.kind == K::kInSet && n.negated) out_ += "  if out == 2 then return 2 end\n  return 1 - out\nend\n";
      else out_ += "  return out\nend\n";
      return;
    }
  }
}

// Assigns the tri of `node` to the local `target`.
void Emitter::EmitTree(uint32_t node, const std::string& target, int depth) {
  using K = PlanNode::Kind;
  const PlanNode& n = plan_.nodes[node];
  if (n.kind == K::kConst) return Line(depth, fmt::format("{} = {}", target, n.tri));
  if (plan_.IsLeaf(n)) return Line(depth, fmt::format("{} = L[{}](ev)", target, node + 1));
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
