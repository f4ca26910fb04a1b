// A structured file (YAML, TOML or JSON: rule files, the configuration) read into one tree with
// positions, so that one reader builds rules or settings from any of the three and every error
// names `file:line:col`. Scalars keep their type as the format gives it (a quoted YAML scalar is a
// string; a plain one is typed: null, true/false, integer, float, else string).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kestrel::config {

struct DocField;

struct DocNode {
  enum class Kind : uint8_t { kNull, kBool, kInt, kFloat, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  uint32_t line = 1;    // 1-based; where the value starts in the file
  uint32_t column = 1;  // 1-based
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string text;  // kString; the scalar's text for the other scalars
  std::vector<DocNode> items;                           // kArray
  std::vector<DocField> fields;  // kObject, in file order

  bool is_scalar() const { return kind != Kind::kArray && kind != Kind::kObject; }
  const DocNode* Find(std::string_view key) const;
  // As a JSON value (objects keep their field order).
  void AppendJson(std::string& out) const;
  std::string_view KindName() const;
};

// A key and its value in a mapping (first / second, as a map's entries).
struct DocField {
  std::string first;
  DocNode second;
};

enum class DocFormat : uint8_t { kYaml, kToml, kJson };
// By extension: .yaml / .yml, .toml, .json; nullopt for anything else.
std::optional<DocFormat> DocFormatOf(std::string_view path);

// Parses `text` (named `path` in errors, which are `path:line:col: reason`).
Result<DocNode> ParseDocument(const std::string& path, std::string_view text, DocFormat format);
// Reads and parses the file `path`, its format by extension.
Result<DocNode> ParseFile(const std::string& path);

// `path:line:col` of a node, and an error there.
std::string Where(const std::string& path, const DocNode& node);
tl::unexpected<Error> ErrorAt(const std::string& path, const DocNode& node, std::string message);

}  // namespace kestrel::config
