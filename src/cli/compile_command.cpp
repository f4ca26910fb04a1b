// `kestrel compile`: an event query's condition as the Wasm module or Lua chunk the code
// generators emit (docs/host-api.md). The .wasm has its own memory, so any Kestrel with Host API
// v1 runs it as a user-written predicate; the .lua uses the FFI and is for reading.
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/rule_setup.h"
#include "eql/compiler.h"
#include "event/file_io.h"
#include "runtime/lua_codegen.h"
#include "runtime/plan.h"
#include "runtime/predicate.h"
#include "runtime/wasm_codegen.h"

namespace kestrel::cli {
namespace {

struct CompileOptions {
  std::string query;
  std::string backend = "wasm";
  std::string output = "-";
  std::string dialect = "es";
};

int RunCompile(const CompileOptions& o) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  eql::Source source("<query>", o.query);
  eql::CompileOptions options = CompileOptionsFor(o.dialect);
  auto compiled = eql::Compile(source, registry, options);
  if (!compiled.query) {
    fmt::print(stderr, "{}", source.RenderAll(compiled.diagnostics));
    return kExitFailure;
  }
  if (compiled.query->kind != eql::QueryKind::kEvent || !compiled.query->pipes.empty()) {
    fmt::print(stderr, "error: kestrel compile takes an event query without pipes (one condition)\n");
    return kExitFailure;
  }
  auto backend = *runtime::ParseBackend(o.backend);
  auto plan = runtime::MakePlan(compiled.query->terms[0].filter, registry, o.query);
  if (!plan) {
    fmt::print(stderr, "error: {}\n", plan.error().ToString());
    return kExitFailure;
  }
  // A module with its own memory: valid as a user-written predicate (`// predicate: wasm`).
  std::vector<uint8_t> wasm;
  std::string lua;
  if (backend == runtime::Backend::kWasm) {
    wasm = runtime::EmitWasm(*plan, runtime::WasmMemory::kStandalone);
  } else {
    lua = runtime::EmitLua(*plan);
  }
  std::string_view bytes = backend == runtime::Backend::kWasm
                               ? std::string_view(reinterpret_cast<const char*>(wasm.data()), wasm.size())
                               : std::string_view(lua);
  if (Status written = OutputFile::WriteAll(o.output, bytes); !written) {
    fmt::print(stderr, "error: {}\n", written.error().ToString());
    return kExitFailure;
  }
  if (!compiled.query->terms[0].filter.category.empty()) {
    fmt::print(stderr, "note: the module tests the condition only; a rule using it names the category `{}`\n",
               compiled.query->terms[0].filter.category);
  }
  return kExitOk;
}

}  // namespace

CommandFn AddCompileCommand(CLI::App& app) {
  auto options = std::make_shared<CompileOptions>();
  CLI::App* cmd = app.add_subcommand("compile", "Compile an event query's condition to a Wasm module or Lua chunk");
  cmd->add_option("query", options->query, "The EQL event query")->required();
  cmd->add_option("--backend", options->backend, "wasm or lua")
      ->check(CLI::IsMember({"wasm", "lua"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", options->output, "Output file ('-' for stdout)")->capture_default_str();
  cmd->add_option("--dialect", options->dialect, "Rule language dialect")
      ->check(CLI::IsMember({"es", "eql"}))
      ->capture_default_str();
  return [options] { return RunCompile(*options); };
}

}  // namespace kestrel::cli
