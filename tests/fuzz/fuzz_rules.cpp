// libFuzzer target: the rule pack loader on one arbitrary rule file. The first byte picks the
// format (YAML, TOML, JSON or an `.eql` file with header comments), the rest is the file's
// text: the document readers (yaml-cpp, toml++, Kestrel's JSON reader), the rule fields, the
// embedded tests and the query's compilation. Any crash, hang or sanitizer report is a bug;
// errors are fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rules/rule_pack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kestrel::SchemaRegistry* registry = new kestrel::SchemaRegistry(kestrel::SchemaRegistry::WithEcs());
  if (size == 0) return 0;
  static const char* kNames[] = {"/nonexistent/fuzz.yaml", "/nonexistent/fuzz.toml", "/nonexistent/fuzz.json",
                                 "/nonexistent/fuzz.eql"};
  std::string path = kNames[data[0] % 4];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto rule = kestrel::rules::ReadRuleFile(path, text, *registry, {});
  if (!rule) (void)rule.error().ToString();
  return 0;
}
