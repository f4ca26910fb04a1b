// libFuzzer target: the EQL front end (lexer, parser, semantic analysis, IR, optimizer) on
// arbitrary text. Any crash, hang or sanitizer report is a bug; diagnostics are fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include "eql/compiler.h"
#include "eql/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kestrel::SchemaRegistry* registry = new kestrel::SchemaRegistry(kestrel::SchemaRegistry::WithEcs());
  std::string text(reinterpret_cast<const char*>(data), size);
  for (auto dialect : {kestrel::eql::Dialect::kElasticsearch, kestrel::eql::Dialect::kPythonEql}) {
    kestrel::eql::Source source("<fuzz>", text);
    kestrel::eql::CompileOptions options;
    options.dialect = dialect;
    auto result = kestrel::eql::Compile(source, *registry, options);
    if (!result.query) (void)source.RenderAll(result.diagnostics);
  }
  return 0;
}
