// The predicate runtimes: Host API v1's table, the Wasm emitter's output under wabt's validator,
// the Wasm backend against the native evaluator on the predicate grid, ABI and import checks,
// and fuel budgets on user-written modules.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <random>

#include "event/ip_address.h"

#include "eql/compiler.h"
#include "eql/evaluator.h"
#include "eql/predicate_grid.h"
#include "runtime/host_api.h"
#include "runtime/lua_codegen.h"
#include "runtime/lua_runtime.h"
#include "runtime/plan.h"
#include "runtime/wasm_codegen.h"
#include "runtime/wasm_runtime.h"
#include "wabt/binary-writer.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

namespace kestrel::runtime {
namespace {

// A module from WebAssembly text, for hand-written (user) predicates.
std::vector<uint8_t> Wat(std::string_view text) {
  wabt::Errors errors;
  auto lexer = wabt::WastLexer::CreateBufferLexer("test.wat", text.data(), text.size(), &errors);
  std::unique_ptr<wabt::Module> module;
  wabt::Features features;
  wabt::WastParseOptions options(features);
  bool ok = wabt::Succeeded(wabt::ParseWatModule(lexer.get(), &module, &errors, &options)) &&
            wabt::Succeeded(wabt::ResolveNamesModule(module.get(), &errors));
  EXPECT_TRUE(ok) << (errors.empty() ? "" : errors[0].message);
  if (!ok) return {};
  wabt::MemoryStream stream;
  EXPECT_TRUE(wabt::Succeeded(wabt::WriteBinaryModule(&stream, module.get(), wabt::WriteBinaryOptions())));
  return stream.output_buffer().data;
}

TEST(HostApiTest, TheTableIsCompleteAndTheCdefDeclaresEveryFunction) {
  const HostApiV1& api = HostApi();
  const auto* slots = reinterpret_cast<void* const*>(&api);
  constexpr size_t n = sizeof(HostApiV1) / sizeof(void*);
  ASSERT_EQ(n, std::size(kHostFunctionNames));
  for (size_t k = 0; k < n; ++k) EXPECT_NE(slots[k], nullptr) << kHostFunctionNames[k];
  for (std::string_view name : kHostFunctionNames) {
    EXPECT_NE(kLuaCdef.find(fmt::format("(*{})(kestrel_host* host", name)), std::string_view::npos) << name;
  }
}

eql::CompiledQuery CompileOrDie(std::string_view text, SchemaRegistry& registry, bool insensitive = false) {
  eql::Source source("<q>", std::string(text));
  eql::CompileOptions options;
  options.case_insensitive = insensitive;
  auto compiled = eql::Compile(source, registry, options);
  EXPECT_TRUE(compiled.query) << source.RenderAll(compiled.diagnostics);
  return std::move(*compiled.query);
}

TEST(WasmTest, GeneratedModulesValidateAndImportOnlyWhatTheyUseOfHostApiV1) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  for (const char* q : {R"(process where process.name == "bash")",
                        R"(process where process.pid > 4 and not process.args : ("-c", "*x*") or process.exit_code == null)",
                        R"(network where cidrMatch(destination.ip, "10.0.0.0/8", "::1") and destination.port in (22, 443))",
                        R"(any where true)"}) {
    eql::CompiledQuery query = CompileOrDie(q, registry);
    auto plan = MakePlan(query.terms[0].filter, registry, q);
    ASSERT_TRUE(plan) << plan.error().ToString();
    std::vector<uint8_t> module = EmitWasm(*plan);
    auto valid = ValidateWasm(module, q);
    EXPECT_TRUE(valid) << valid.error().ToString();
    auto pred = WasmPredicate::Load(module, q, registry, Trust::kGenerated);
    EXPECT_TRUE(pred) << pred.error().ToString();
  }
}

// Every IR node has a plan: what the field tests cannot decide runs on the Host API's values.
TEST(PlanTest, ValuesCarryWhatFieldTestsCannot) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  std::string q = R"(process where length(process.name) > 3 and process.pid + 1 != process.parent.pid)";
  eql::CompiledQuery query = CompileOrDie(q, registry);
  auto plan = MakePlan(query.terms[0].filter, registry, q);
  ASSERT_TRUE(plan) << plan.error().ToString();
  std::vector<PlanNode::Kind> kinds;
  for (const PlanNode& n : plan->nodes) kinds.push_back(n.kind);
  using K = PlanNode::Kind;
  // length(process.name) > 3: a call on the field's value compared with a constant's.
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), K::kValCompare), 2);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), K::kCall), 1);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), K::kArith), 1);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), K::kField), 3);
  EXPECT_EQ(plan->registers, 7u);  // every value its own register
  for (const PlanNode& n : plan->nodes) {
    if (n.kind == K::kCall) {
      EXPECT_EQ(n.args.size(), 1u);
    }
  }
}

// Every grid predicate gives the native evaluator's answer on every grid event, on
// the Wasm and the Lua backend.
TEST(BackendsTest, AgreeWithTheNativeEvaluatorOnThePredicateGrid) {
  testing::PredicateGrid grid;
  auto lua_runtime = LuaRuntime::Create();
  ASSERT_TRUE(lua_runtime) << lua_runtime.error().ToString();
  SchemaRegistry& registry = grid.registry();
  eql::Evaluator native;
  native.set_boolean_fast_path(false);
  size_t programs = 0, planned = 0, checks = 0;
  for (bool insensitive : {false, true}) {
    for (const auto& [text, events] : grid.predicates()) {
      std::string q = "process where " + text;
      eql::CompiledQuery query = CompileOrDie(q, registry, insensitive);
      const eql::Program& p = query.terms[0].filter;
      ++programs;
      auto plan = MakePlan(p, registry, q);
      if (!plan) {
        ASSERT_EQ(plan.error().code(), ErrorCode::kUnsupported) << plan.error().ToString();
        continue;
      }
      ++planned;
      auto wasm = WasmPredicate::Load(EmitWasm(*plan), q, registry, Trust::kGenerated);
      ASSERT_TRUE(wasm) << wasm.error().ToString();
      std::string lua_source = EmitLua(*plan);
      auto lua = LuaPredicate::Load(**lua_runtime, lua_source, q, registry, Trust::kGenerated);
      ASSERT_TRUE(lua) << lua.error().ToString() << "\n" << lua_source;
      for (const Event& e : *events) {
        auto expected = native.Test(p, e);
        Verdict want = !expected ? Verdict::kNull : (*expected ? Verdict::kTrue : Verdict::kFalse);
        Verdict got = (*wasm)->Eval(e, 1'000'000);
        ASSERT_EQ(static_cast<int>(got), static_cast<int>(want))
            << "wasm: " << q << (insensitive ? " (case-insensitive)" : "") << " on " << grid.Json(e) << ": "
            << (*wasm)->last_error();
        got = (*lua)->Eval(e, 1'000'000);
        ASSERT_EQ(static_cast<int>(got), static_cast<int>(want))
            << "lua: " << q << (insensitive ? " (case-insensitive)" : "") << " on " << grid.Json(e) << ": "
            << (*lua)->last_error() << "\n" << lua_source;
        ++checks;
      }
    }
  }
  std::printf("%zu programs, %zu with a plan, %zu evaluations agree on native, wasm and lua\n", programs, planned, checks);
  EXPECT_EQ(planned, programs);
}

// Random conditions from a small EQL grammar (fields of every type, every operator, functions,
// arithmetic, field-to-field comparisons and array loops) over random events: every condition
// gives the same verdict on native, Wasm and Lua.
class RandomPredicates {
 public:
  explicit RandomPredicates(uint32_t seed) : rng_(seed) {}

  std::string Condition(int depth) {
    if (depth == 0 || Pick(3) == 0) return Leaf();
    switch (Pick(4)) {
      case 0: return fmt::format("({} and {})", Condition(depth - 1), Condition(depth - 1));
      case 1: return fmt::format("({} or {})", Condition(depth - 1), Condition(depth - 1));
      case 2: return fmt::format("not {}", Condition(depth - 1));
      default: return fmt::format("({} or {} or {})", Condition(depth - 1), Condition(depth - 1), Condition(depth - 1));
    }
  }

  Event RandomEvent(EventBuilder& b, SchemaRegistry& registry) {
    b.Start();
    b.header().type = *registry.InternEventType(Pick(2) == 0 ? "process" : "network");
    b.header().event_id = ++id_;
    auto str = [&] { return b.StringValue(kStrings[Pick(std::size(kStrings))]); };
    auto num = [&] { return Value::I64(kNumbers[Pick(std::size(kNumbers))]); };
    auto ip = [&] { return b.IpValue(*ParseIp(kIps[Pick(std::size(kIps))])); };
    for (const char* name : kFields) {
      if (Pick(4) == 0) continue;  // missing
      FieldId id = *registry.Find(name);
      std::string_view n(name);
      auto scalar = [&]() -> Value {
        if (Pick(10) == 0) return Value::Null();
        if (n == "destination.ip" || n == "source.ip") return Pick(5) == 0 ? str() : ip();
        if (n == "process.pid" || n == "destination.port" || n == "file.size") {
          return Pick(6) == 0 ? Value::F64(2.5) : (Pick(6) == 0 ? str() : num());
        }
        return Pick(8) == 0 ? num() : str();
      };
      if (Pick(3) == 0) {  // an array
        size_t k = Pick(4);
        Value* out = b.arena().AllocateArray<Value>(k);
        for (size_t j = 0; j < k; ++j) out[j] = scalar();
        b.Set(id, Value::Array({out, k}));
      } else {
        b.Set(id, scalar());
      }
    }
    return b.Finish();
  }

 private:
  static constexpr const char* kFields[] = {"process.name", "process.pid", "process.args", "destination.ip",
                                            "destination.port", "file.path", "user.name", "file.size"};
  static constexpr const char* kStrings[] = {"bash", "BASH", "sh", "/tmp/x.sh", "curl", "", "10.1.2.3", "42",
                                             "été", "root", "/etc/passwd"};
  static constexpr int64_t kNumbers[] = {0, 1, 22, 42, 443, -5, 65535, 9'000'000'000};
  static constexpr const char* kIps[] = {"10.1.2.3", "192.168.1.1", "8.8.8.8", "::1", "fe80::1"};

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::string Const() {
    switch (Pick(6)) {
      case 0: return fmt::format("{}", kNumbers[Pick(std::size(kNumbers))]);
      case 1: return "2.5";
      case 2: return Pick(2) ? "true" : "null";
      default: return fmt::format("\"{}\"", kStrings[Pick(std::size(kStrings))]);
    }
  }
  std::string Leaf() {
    std::string f = kFields[Pick(std::size(kFields))];
    static constexpr const char* kOps[] = {"==", "!=", "<", "<=", ">", ">=", ":"};
    switch (Pick(19)) {
      case 0: return fmt::format("{} {} {}", f, kOps[Pick(6)], Const());
      case 1: return fmt::format("{} {} {}", Const(), kOps[Pick(6)], f);
      case 2: return fmt::format("{} {}in ({}, {}, {})", f, Pick(2) ? "not " : "", Const(), Const(), Const());
      case 3: return fmt::format("{} in~ ({}, {})", f, Const(), Const());
      case 4: return fmt::format("{} : (\"*sh\", \"/tmp/*\", \"b?sh\", \"{}\")", f, kStrings[Pick(std::size(kStrings))]);
      case 5: return fmt::format("{} like{} \"{}*\"", f, Pick(2) ? "~" : "", kStrings[Pick(std::size(kStrings))]);
      case 6: return fmt::format("{} regex~ \"[a-z]+\"", f);
      case 7: return fmt::format("cidrMatch({}, \"10.0.0.0/8\", \"::1\")", f);
      case 8: return fmt::format("{} {} null", f, Pick(2) ? "==" : "!=");
      case 9: return Pick(2) ? "true" : "false";
      case 10: return fmt::format("length({}) > 2", f);
      case 11: return fmt::format("{} {} {}", f, kOps[Pick(7)], kFields[Pick(std::size(kFields))]);
      case 12: return fmt::format("{} {} {} {} {}", f, kArith[Pick(5)], Const(), kOps[Pick(6)], Const());
      case 13: return fmt::format("{}({}, {})", kStringFns[Pick(std::size(kStringFns))], f, Const());
      case 14: return fmt::format("{}({}, {}) {} {}", Pick(2) ? "indexOf" : "substring", f, Pick(2) ? "1" : "-2",
                                  kOps[Pick(6)], Const());
      case 15: return fmt::format("concat({}, \"-\", {}) : \"*sh*\"", f, kFields[Pick(std::size(kFields))]);
      case 16: return fmt::format("{} in ({}, {}, -{})", f, kFields[Pick(std::size(kFields))], Const(),
                                  kFields[Pick(std::size(kFields))]);
      case 17: return fmt::format("array{}({}, x, x {} {}) {}", Pick(2) ? "Search" : "Count", f, kOps[Pick(7)],
                                  Const(), Pick(2) ? "" : "== 1");
      default: return fmt::format("number(string({}), {}) {} between({}, \"b\", \"h\")", f, Pick(2) ? "10" : "null",
                                  kOps[Pick(2)], f);
    }
  }
  static constexpr const char* kArith[] = {"+", "-", "*", "/", "%"};
  static constexpr const char* kStringFns[] = {"startsWith", "endsWith", "stringContains", "arrayContains",
                                               "cidrMatch", "match", "wildcard"};

  std::mt19937 rng_;
  uint64_t id_ = 0;
};

TEST(BackendsTest, AgreeOnRandomConditionsAndEvents) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto lua_runtime = LuaRuntime::Create();
  ASSERT_TRUE(lua_runtime) << lua_runtime.error().ToString();
  EventBatch batch;
  EventBuilder builder(&batch.arena());
  RandomPredicates gen(20261126);
  std::vector<Event> events;
  for (int i = 0; i < 300; ++i) events.push_back(gen.RandomEvent(builder, registry));
  eql::Evaluator native;
  size_t programs = 0, planned = 0, checks = 0, verdicts[3] = {};
  for (int round = 0; round < 1500; ++round) {
    std::string q = "any where " + gen.Condition(1 + round % 4);
    eql::Source source("<q>", q);
    auto compiled = eql::Compile(source, registry, {});
    if (!compiled.query) continue;  // e.g. a type error the checker refuses
    ++programs;
    const eql::Program& p = compiled.query->terms[0].filter;
    auto plan = MakePlan(p, registry, q);
    ASSERT_TRUE(plan) << q << ": " << plan.error().ToString();
    ++planned;
    auto wasm = WasmPredicate::Load(EmitWasm(*plan), q, registry, Trust::kGenerated);
    ASSERT_TRUE(wasm) << wasm.error().ToString();
    auto lua = LuaPredicate::Load(**lua_runtime, EmitLua(*plan), q, registry, Trust::kGenerated);
    ASSERT_TRUE(lua) << lua.error().ToString();
    for (const Event& e : events) {
      auto expected = native.Test(p, e);
      Verdict want = !expected ? Verdict::kNull : (*expected ? Verdict::kTrue : Verdict::kFalse);
      ASSERT_EQ(static_cast<int>((*wasm)->Eval(e, 1'000'000)), static_cast<int>(want)) << "wasm: " << q;
      ASSERT_EQ(static_cast<int>((*lua)->Eval(e, 1'000'000)), static_cast<int>(want)) << "lua: " << q;
      ++verdicts[static_cast<int>(want)];
      ++checks;
    }
  }
  std::printf("%zu random conditions compiled, %zu with a plan, %zu evaluations agree (%zu false, %zu true, %zu null)\n",
              programs, planned, checks, verdicts[0], verdicts[1], verdicts[2]);
  EXPECT_EQ(planned, programs);
  EXPECT_GT(programs, 1000u);
  for (size_t v : verdicts) EXPECT_GT(v, checks / 20);  // every verdict is well represented
}

constexpr std::string_view kHeader = R"(
  (import "kestrel" "event_array_len" (func $len (param i32 i32) (result i32)))
  (import "kestrel" "field_id" (func $field_id (param i32 i32) (result i32)))
  (import "kestrel" "event_get_str" (func $get_str (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "process.name")
  (global $f (mut i32) (i32.const -1))
  (global (export "kestrel_abi") i32 (i32.const 1))
  (func (export "pred_init") (result i32)
    (global.set $f (call $field_id (i32.const 0) (i32.const 12)))
    (i32.const 0))
)";

Event NamedProcess(EventBatch& batch, SchemaRegistry& registry, std::string_view name) {
  EventBuilder b(&batch.arena());
  b.Start();
  b.header().type = *registry.InternEventType("process");
  b.Set(*registry.Find("process.name"), b.StringValue(name));
  return b.Finish();
}

TEST(WasmTest, UserPredicatesReadTheEventThroughTheHostApi) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  // true when process.name is 4 bytes long
  auto module = Wat(fmt::format(R"((module {}
    (func (export "pred_eval") (param $ev i32) (param $ctx i32) (result i32)
      (i32.eq (call $get_str (local.get $ev) (global.get $f) (i32.const 0) (i32.const 64) (i32.const 16))
              (i32.const 4)))))",
                                kHeader));
  auto pred = WasmPredicate::Load(module, "user.wasm", registry, Trust::kUser);
  ASSERT_TRUE(pred) << pred.error().ToString();
  EventBatch batch;
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "bash"), 1000), Verdict::kTrue);
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "sh"), 1000), Verdict::kFalse);
}

TEST(WasmTest, AnInfiniteLoopRunsOutOfFuelAndTheInstanceStaysUsable) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  // loops forever when process.name is "spin", else true
  auto module = Wat(fmt::format(R"((module {}
    (func (export "pred_eval") (param $ev i32) (param $ctx i32) (result i32)
      (if (i32.eq (call $get_str (local.get $ev) (global.get $f) (i32.const 0) (i32.const 64) (i32.const 16))
                  (i32.const 4))
        (then (loop $forever (br $forever))))
      (i32.const 1))))",
                                kHeader));
  auto pred = WasmPredicate::Load(module, "spin.wasm", registry, Trust::kUser);
  ASSERT_TRUE(pred) << pred.error().ToString();
  EventBatch batch;
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "spin"), 10'000), Verdict::kOverBudget);
  EXPECT_NE((*pred)->last_error().find("budget"), std::string::npos);
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "sh"), 10'000), Verdict::kTrue);
}

TEST(WasmTest, BadModulesAreRefusedWithAReason) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto expect_error = [&](std::vector<uint8_t> module, std::string_view needle) {
    auto pred = WasmPredicate::Load(module, "m.wasm", registry, Trust::kUser);
    ASSERT_FALSE(pred);
    EXPECT_NE(pred.error().ToString().find(needle), std::string::npos) << pred.error().ToString();
    EXPECT_NE(pred.error().ToString().find("m.wasm"), std::string::npos) << pred.error().ToString();
  };
  expect_error({0x00, 0x61, 0x73, 0x6D, 0x02}, "not a valid Wasm module");
  expect_error(Wat(R"((module (global (export "kestrel_abi") i32 (i32.const 2))
                        (func (export "pred_eval") (param i32 i32) (result i32) (i32.const 1))))"),
               "built for Host API v2; this Kestrel provides v1");
  expect_error(Wat(R"((module (func (export "pred_eval") (param i32 i32) (result i32) (i32.const 1))))"),
               "exports no i32 global `kestrel_abi`");
  expect_error(Wat(R"((module (import "env" "system" (func (param i32)))
                        (global (export "kestrel_abi") i32 (i32.const 1))
                        (func (export "pred_eval") (param i32 i32) (result i32) (i32.const 1))))"),
               "imports env.system, which Host API v1 does not provide");
  expect_error(Wat(R"((module (global (export "kestrel_abi") i32 (i32.const 1))
                        (func (export "pred_eval") (param i64) (result i32) (i32.const 1))))"),
               "must take (i32 event, i32 ctx) and return i32");
  expect_error(Wat(R"((module (memory 257) (global (export "kestrel_abi") i32 (i32.const 1))
                        (func (export "pred_eval") (param i32 i32) (result i32) (i32.const 1))))"),
               "declares 257 pages of memory; a predicate may have at most 256");
  expect_error(Wat(R"((module (global (export "kestrel_fuel") (mut i64) (i64.const 9))
                        (global (export "kestrel_abi") i32 (i32.const 1))
                        (func (export "pred_eval") (param i32 i32) (result i32) (i32.const 1))))"),
               "exports `kestrel_fuel`, a name Kestrel reserves");
  expect_error(Wat(R"((module (import "kestrel" "memory" (memory 1)) (global (export "kestrel_abi") i32 (i32.const 1))
                        (func (export "pred_eval") (param i32 i32) (result i32) (i32.const 1))))"),
               "imports kestrel.memory, which is not a function");
  expect_error(Wat(R"((module (import "kestrel" "matcher_add" (func (param i32 i32) (result i32)))
                        (global (export "kestrel_abi") i32 (i32.const 1))
                        (func (export "pred_eval") (param i32 i32) (result i32) (i32.const 1))))"),
               "imports kestrel.matcher_add as (i32 i32) -> (i32); Host API v1 declares it (i32 i32 i32 i32 i32) -> (i32)");
}

TEST(WasmTest, APointerOutsideMemoryIsAFaultNotARead) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto module = Wat(fmt::format(R"((module {}
    (func (export "pred_eval") (param $ev i32) (param $ctx i32) (result i32)
      (drop (call $get_str (local.get $ev) (global.get $f) (i32.const 0) (i32.const 65530) (i32.const 100)))
      (i32.const 1))))",
                                kHeader));
  auto pred = WasmPredicate::Load(module, "oob.wasm", registry, Trust::kUser);
  ASSERT_TRUE(pred) << pred.error().ToString();
  EventBatch batch;
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "bash"), 1000), Verdict::kFault);
  EXPECT_NE((*pred)->last_error().find("outside the module's memory"), std::string::npos) << (*pred)->last_error();
}

// A user module that misuses registers faults; it never reads a stale or foreign value.
TEST(WasmTest, ABadRegisterIsAFault) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto module = Wat(fmt::format(R"((module
    (import "kestrel" "val_truth" (func $truth (param i32) (result i32))) {}
    (func (export "pred_eval") (param $ev i32) (param $ctx i32) (result i32)
      (call $truth (i32.const 7)))))",
                                kHeader));
  auto pred = WasmPredicate::Load(module, "reg.wasm", registry, Trust::kUser);
  ASSERT_TRUE(pred) << pred.error().ToString();
  EventBatch batch;
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "bash"), 1000), Verdict::kFault);
  EXPECT_NE((*pred)->last_error().find("register 7 holds no value"), std::string::npos) << (*pred)->last_error();
}

TEST(LuaTest, TheUserApiHasEveryHostFunction) {
  auto rt = LuaRuntime::Create();
  ASSERT_TRUE(rt) << rt.error().ToString();
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  std::string source = "local missing = {}\n";
  for (std::string_view name : kHostFunctionNames) {
    source += fmt::format("if type(kestrel.{0}) ~= 'function' then missing[#missing + 1] = '{0}' end\n", name);
  }
  source += "assert(#missing == 0, 'missing: ' .. table.concat(missing, ', '))\n"
            "return { abi = 1, eval = function(ev, ctx) return 1 end }\n";
  auto pred = LuaPredicate::Load(**rt, source, "api.lua", registry, Trust::kUser);
  EXPECT_TRUE(pred) << pred.error().ToString();
}

constexpr std::string_view kLuaUser = R"(
local name = kestrel.field_id("process.name")
local m = kestrel.matcher_new()
kestrel.matcher_add(m, 0, "ba*", 1)
return { abi = 1, eval = function(ev, ctx)
  local s = kestrel.event_get_str(ev, name, 0)
  if s == "spin" then while true do end end
  if s == nil then return 2 end
  if kestrel.str_match(m, s) == 1 then kestrel.alert_emit(ev, "matched " .. s) return 1 end
  return 0
end }
)";

TEST(LuaTest, UserPredicatesRunSandboxedWithinTheirBudget) {
  auto rt = LuaRuntime::Create();
  ASSERT_TRUE(rt) << rt.error().ToString();
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto pred = LuaPredicate::Load(**rt, kLuaUser, "user.lua", registry, Trust::kUser);
  ASSERT_TRUE(pred) << pred.error().ToString();
  EventBatch batch;
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "BASH"), 100'000), Verdict::kTrue);
  ASSERT_EQ((*pred)->host().notes().size(), 1u);
  EXPECT_EQ((*pred)->host().notes()[0], "matched BASH");
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "sh"), 100'000), Verdict::kFalse);
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "spin"), 100'000), Verdict::kOverBudget);
  EXPECT_NE((*pred)->last_error().find("budget"), std::string::npos) << (*pred)->last_error();
  EXPECT_EQ((*pred)->Eval(NamedProcess(batch, registry, "bash"), 100'000), Verdict::kTrue);  // still usable
}

TEST(LuaTest, TheSandboxHasNoWayOut) {
  auto rt = LuaRuntime::Create();
  ASSERT_TRUE(rt) << rt.error().ToString();
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  for (const char* escape : {"require('ffi')", "os.execute('true')", "io.open('/etc/passwd')", "load('return 1')",
                             "loadstring('return 1')", "debug.getinfo(1)", "dofile('/dev/null')",
                             "setfenv(1, {})", "getmetatable('').__index.rep('x', 1)"}) {
    std::string source = fmt::format("{}\nreturn {{ abi = 1, eval = function() return 1 end }}", escape);
    auto pred = LuaPredicate::Load(**rt, source, "escape.lua", registry, Trust::kUser);
    EXPECT_FALSE(pred) << escape;
  }
  // Bytecode is refused: only text loads.
  auto pred = LuaPredicate::Load(**rt, std::string("\x1bLJ\x02", 4), "bytecode.lua", registry,
                                 Trust::kUser);
  ASSERT_FALSE(pred);
  EXPECT_NE(pred.error().ToString().find("bytecode.lua"), std::string::npos) << pred.error().ToString();
}

TEST(LuaTest, BadChunksAreRefusedWithAReason) {
  auto rt = LuaRuntime::Create();
  ASSERT_TRUE(rt) << rt.error().ToString();
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto expect_error = [&](std::string_view source, std::string_view needle) {
    auto pred = LuaPredicate::Load(**rt, source, "p.lua", registry, Trust::kUser);
    ASSERT_FALSE(pred) << source;
    EXPECT_NE(pred.error().ToString().find(needle), std::string::npos) << pred.error().ToString();
    EXPECT_NE(pred.error().ToString().find("p.lua"), std::string::npos) << pred.error().ToString();
  };
  expect_error("return { abi = 2, eval = function() return 1 end }", "built for Host API v2; this Kestrel provides v1");
  expect_error("return { eval = function() return 1 end }", "returns no `abi`");
  expect_error("return 1", "returns no table");
  expect_error("return { abi = 1 }", "`eval` is not a function");
  expect_error("return {", "expected");
  expect_error("while true do end", "budget");
}

}  // namespace
}  // namespace kestrel::runtime
