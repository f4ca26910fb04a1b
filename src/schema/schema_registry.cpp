#include "schema/schema_registry.h"

#include <atomic>

#include <fmt/format.h>

namespace kestrel {

SchemaRegistry::SchemaRegistry(SchemaLimits limits) : limits_(limits) {
  event_types_.emplace_back("unknown");
  type_by_name_.emplace("unknown", kUnknownEventType);
}

std::optional<FieldId> SchemaRegistry::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

Result<FieldId> SchemaRegistry::Add(std::string_view name, FieldType type, bool dynamic) {
  if (name.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty field name");
  if (name.size() > limits_.max_name_length) {
    return MakeError(ErrorCode::kLimit, fmt::format("field name longer than {} bytes", limits_.max_name_length));
  }
  if (fields_.size() >= limits_.max_fields) {
    return MakeError(ErrorCode::kLimit,
                     fmt::format("too many distinct fields (limit {}) at '{}'", limits_.max_fields, name));
  }
  FieldId id{static_cast<uint32_t>(fields_.size())};
  fields_.push_back({std::string(name), type, dynamic});
  by_name_.emplace(std::string(name), id);
  return id;
}

Result<FieldId> SchemaRegistry::Declare(std::string_view name, FieldType type) {
  if (auto id = Find(name)) {
    if (fields_[id->value].type != type) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("field '{}' declared as {} and {}", name,
                                   FieldTypeName(fields_[id->value].type), FieldTypeName(type)));
    }
    return *id;
  }
  return Add(name, type, /*dynamic=*/false);
}

Result<FieldId> SchemaRegistry::Intern(std::string_view name, FieldType type) {
  if (auto id = Find(name)) {
    FieldInfo& field = fields_[id->value];
    if (field.dynamic && field.type.scalar == ValueKind::kNull) field.type = type;
    return *id;
  }
  return Add(name, type, /*dynamic=*/true);
}

std::optional<EventTypeId> SchemaRegistry::FindEventType(std::string_view name) const {
  auto it = type_by_name_.find(name);
  if (it == type_by_name_.end()) return std::nullopt;
  return it->second;
}

Result<EventTypeId> SchemaRegistry::InternEventType(std::string_view name) {
  if (auto id = FindEventType(name)) return *id;
  if (name.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty event type");
  if (name.size() > limits_.max_name_length) {
    return MakeError(ErrorCode::kLimit, fmt::format("event type longer than {} bytes", limits_.max_name_length));
  }
  if (event_types_.size() >= limits_.max_event_types) {
    return MakeError(ErrorCode::kLimit,
                     fmt::format("too many distinct event types (limit {}) at '{}'", limits_.max_event_types, name));
  }
  auto id = static_cast<EventTypeId>(event_types_.size());
  event_types_.emplace_back(name);
  type_by_name_.emplace(std::string(name), id);
  return id;
}

uint64_t SchemaRegistry::Serial::Next() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace kestrel
