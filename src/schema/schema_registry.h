// SchemaRegistry: every field name and event type a process knows, each with a small dense id.
// It starts from the ECS catalog for Linux hosts; fields met while decoding recordings are added
// dynamically, typed by their first value, up to a bound.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <deque>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "schema/field_type.h"

namespace kestrel {

// Dense index into a SchemaRegistry; ids are stable for the registry's lifetime.
struct FieldId {
  uint32_t value = 0;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misfires on a defaulted operator<=>
  friend auto operator<=>(FieldId, FieldId) = default;
};

// Event type (ECS event.category, or Endgame event_type), interned like fields.
using EventTypeId = uint16_t;
inline constexpr EventTypeId kUnknownEventType = 0;  // the name "unknown"

struct FieldInfo {
  std::string name;
  FieldType type;
  bool dynamic = false;  // not in the catalog: registered while decoding
  // A catalog field with a handful of values on a host (event.type, host.os.type, ...): a test
  // on it rarely fails, so it is a poor index key and is best evaluated after the others.
  bool low_cardinality = false;
};

struct SchemaLimits {
  uint32_t max_fields = 1u << 16;
  uint32_t max_event_types = 1u << 12;
  uint32_t max_name_length = 1024;
};

class SchemaRegistry {
 public:
  // An empty registry (only the "unknown" event type); use WithEcs() for the catalog.
  explicit SchemaRegistry(SchemaLimits limits = {});
  static SchemaRegistry WithEcs(SchemaLimits limits = {});

  std::optional<FieldId> Find(std::string_view name) const;
  const FieldInfo& info(FieldId id) const { return fields_[id.value]; }
  std::string_view name(FieldId id) const { return fields_[id.value].name; }
  size_t size() const { return fields_.size(); }

  // Registers a catalog field. Fails if the name exists with another type.
  Result<FieldId> Declare(std::string_view name, FieldType type);
  // Marks a field as one with few distinct values (FieldInfo::low_cardinality).
  void MarkLowCardinality(FieldId id) { fields_[id.value].low_cardinality = true; }

  // Returns the field with this name, registering it as dynamic with `type` if it is new.
  // A dynamic field first seen as null gets its type from its first non-null value.
  Result<FieldId> Intern(std::string_view name, FieldType type);

  std::optional<EventTypeId> FindEventType(std::string_view name) const;
  Result<EventTypeId> InternEventType(std::string_view name);
  std::string_view event_type_name(EventTypeId id) const { return event_types_[id]; }
  size_t event_type_count() const { return event_types_.size(); }

  // Identifies this registry's contents for caches: fields are only ever appended, so two
  // registries with the same serial and size name every field the same way. A copy gets a new
  // serial (the two may grow apart).
  uint64_t serial() const { return serial_.value; }

 private:
  struct Serial {
    Serial() : value(Next()) {}
    Serial(const Serial&) : value(Next()) {}
    Serial& operator=(const Serial&) {
      value = Next();
      return *this;
    }
    Serial(Serial&&) noexcept = default;
    Serial& operator=(Serial&&) noexcept = default;
    static uint64_t Next();
    uint64_t value;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  Result<FieldId> Add(std::string_view name, FieldType type, bool dynamic);

  SchemaLimits limits_;
  std::deque<FieldInfo> fields_;  // a deque: names stay put as fields are added
  std::unordered_map<std::string, FieldId, StringHash, std::equal_to<>> by_name_;
  std::deque<std::string> event_types_;
  std::unordered_map<std::string, EventTypeId, StringHash, std::equal_to<>> type_by_name_;
  Serial serial_;
};

}  // namespace kestrel
