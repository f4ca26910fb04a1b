#include "schema/schema_registry.h"

#include <gtest/gtest.h>

namespace kestrel {
namespace {

TEST(SchemaRegistryTest, EcsCatalogHasTypedLinuxFields) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  struct Expect {
    const char* name;
    FieldType type;
  };
  const Expect expected[] = {
      {"@timestamp", {ValueKind::kTimestamp, false}},
      {"process.pid", {ValueKind::kI64, false}},
      {"process.args", {ValueKind::kString, true}},
      {"process.args_count", {ValueKind::kI64, false}},
      {"process.parent.executable", {ValueKind::kString, false}},
      {"process.parent.entity_id", {ValueKind::kString, false}},
      {"process.entry_leader.entry_meta.type", {ValueKind::kString, false}},
      {"process.working_directory", {ValueKind::kString, false}},
      {"user.id", {ValueKind::kString, false}},
      {"group.name", {ValueKind::kString, false}},
      {"file.path", {ValueKind::kString, false}},
      {"destination.ip", {ValueKind::kIp, false}},
      {"destination.port", {ValueKind::kI64, false}},
      {"source.ip", {ValueKind::kIp, false}},
      {"network.transport", {ValueKind::kString, false}},
      {"host.os.type", {ValueKind::kString, false}},
      {"host.ip", {ValueKind::kIp, true}},
      {"event.category", {ValueKind::kString, true}},
      {"event.type", {ValueKind::kString, true}},
      {"process.interactive", {ValueKind::kBool, false}},
  };
  for (const Expect& e : expected) {
    auto id = registry.Find(e.name);
    ASSERT_TRUE(id) << e.name;
    EXPECT_EQ(registry.info(*id).type, e.type) << e.name;
    EXPECT_FALSE(registry.info(*id).dynamic) << e.name;
    EXPECT_EQ(registry.name(*id), e.name);
  }
  EXPECT_FALSE(registry.Find("proces.name"));
  ASSERT_TRUE(registry.FindEventType("process"));
  ASSERT_TRUE(registry.FindEventType("network"));
  EXPECT_EQ(registry.event_type_name(kUnknownEventType), "unknown");
}

TEST(SchemaRegistryTest, DynamicFieldsAreTypedByTheirFirstValue) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  size_t before = registry.size();
  auto id = registry.Intern("custom.score", {ValueKind::kF64, false});
  ASSERT_TRUE(id);
  EXPECT_EQ(registry.size(), before + 1);
  EXPECT_TRUE(registry.info(*id).dynamic);
  EXPECT_EQ(registry.info(*id).type.scalar, ValueKind::kF64);
  // Interning again returns the same id and keeps the type.
  auto again = registry.Intern("custom.score", {ValueKind::kString, false});
  EXPECT_EQ(*again, *id);
  EXPECT_EQ(registry.info(*id).type.scalar, ValueKind::kF64);
  // A catalog field keeps its declared type whatever the value.
  auto pid = registry.Intern("process.pid", {ValueKind::kString, false});
  EXPECT_EQ(registry.info(*pid).type.scalar, ValueKind::kI64);
  // First seen as null: typed by the first non-null value.
  auto late = registry.Intern("custom.late", {ValueKind::kNull, false});
  registry.Intern("custom.late", {ValueKind::kBool, false});
  EXPECT_EQ(registry.info(*late).type.scalar, ValueKind::kBool);
}

TEST(SchemaRegistryTest, NamesStayValidAsTheRegistryGrows) {
  SchemaRegistry registry;
  auto first = registry.Intern("a", {ValueKind::kI64, false});
  std::string_view name = registry.name(*first);
  for (int i = 0; i < 5000; ++i) registry.Intern("f" + std::to_string(i), {ValueKind::kI64, false});
  EXPECT_EQ(name, "a");
}

TEST(SchemaRegistryTest, BoundsAreEnforced) {
  SchemaLimits limits;
  limits.max_fields = 3;
  limits.max_event_types = 2;
  limits.max_name_length = 8;
  SchemaRegistry registry(limits);
  EXPECT_TRUE(registry.Intern("a", {}));
  EXPECT_TRUE(registry.Intern("b", {}));
  EXPECT_TRUE(registry.Intern("c", {}));
  auto over = registry.Intern("d", {});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code(), ErrorCode::kLimit);
  EXPECT_NE(over.error().message().find("too many distinct fields"), std::string::npos);
  EXPECT_TRUE(registry.Intern("a", {}));  // existing names still resolve
  EXPECT_FALSE(registry.Intern("", {}));
  EXPECT_TRUE(registry.InternEventType("process"));
  EXPECT_FALSE(registry.InternEventType("file"));
  EXPECT_FALSE(registry.InternEventType("averyveryverylongtype"));
}

TEST(SchemaRegistryTest, DeclareRejectsConflictingTypes) {
  SchemaRegistry registry;
  EXPECT_TRUE(registry.Declare("x", {ValueKind::kI64, false}));
  EXPECT_TRUE(registry.Declare("x", {ValueKind::kI64, false}));
  auto conflict = registry.Declare("x", {ValueKind::kString, false});
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().message(), "field 'x' declared as i64 and string");
}

TEST(FieldTypeTest, NamesRoundTrip) {
  for (uint8_t k = 0; k < kMaxValueKind; ++k) {
    for (bool array : {false, true}) {
      FieldType t{static_cast<ValueKind>(k), array};
      auto parsed = ParseFieldType(FieldTypeName(t));
      ASSERT_TRUE(parsed) << FieldTypeName(t);
      EXPECT_EQ(*parsed, t);
    }
  }
  EXPECT_FALSE(ParseFieldType("array"));
  EXPECT_FALSE(ParseFieldType("long"));
}

}  // namespace
}  // namespace kestrel
