// The kinds of values an event field holds, and a field's declared type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kestrel {

// The kind of one stored value. kArray holds elements that each carry their own kind.
enum class ValueKind : uint8_t {
  kNull = 0,
  kBool = 1,
  kI64 = 2,
  kU64 = 3,
  kF64 = 4,
  kString = 5,
  kIp = 6,         // IPv4 or IPv6
  kTimestamp = 7,  // ns since the Unix epoch, UTC
  kArray = 8,
};
inline constexpr uint8_t kMaxValueKind = 8;

std::string_view ValueKindName(ValueKind kind);

// A field's declared type: a scalar kind, or an array of that kind ("keyword[]" in ECS terms).
// Values are stored with their own kind; the declared type guides decoding (an "ip" field's
// strings become kIp values) and, later, semantic analysis of rules.
struct FieldType {
  ValueKind scalar = ValueKind::kNull;  // kNull: not known yet (dynamic field seen only as null)
  bool is_array = false;

  friend bool operator==(FieldType, FieldType) = default;
};

std::string FieldTypeName(FieldType type);                   // "string", "ip[]", ...
std::optional<FieldType> ParseFieldType(std::string_view s);  // inverse of FieldTypeName

}  // namespace kestrel
