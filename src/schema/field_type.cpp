#include "schema/field_type.h"

#include <array>

namespace kestrel {

namespace {
constexpr std::array<std::string_view, kMaxValueKind + 1> kKindNames = {
    "null", "bool", "i64", "u64", "f64", "string", "ip", "timestamp", "array"};
}  // namespace

std::string_view ValueKindName(ValueKind kind) {
  auto i = static_cast<size_t>(kind);
  return i < kKindNames.size() ? kKindNames[i] : "invalid";
}

std::string FieldTypeName(FieldType type) {
  std::string name(ValueKindName(type.scalar));
  if (type.is_array) name += "[]";
  return name;
}

std::optional<FieldType> ParseFieldType(std::string_view s) {
  FieldType type;
  if (s.size() > 2 && s.substr(s.size() - 2) == "[]") {
    type.is_array = true;
    s.remove_suffix(2);
  }
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == s && static_cast<ValueKind>(i) != ValueKind::kArray) {
      type.scalar = static_cast<ValueKind>(i);
      return type;
    }
  }
  return std::nullopt;
}

}  // namespace kestrel
