#include "event/event_builder.h"

#include <gtest/gtest.h>

#include "event/event_batch.h"

namespace kestrel {
namespace {

TEST(EventBuilderTest, SortsFieldsAndFindsThem) {
  EventBatch batch;
  EventBuilder builder(&batch.arena());
  builder.Start();
  builder.header().event_id = 7;
  builder.Set(FieldId{9}, Value::I64(-3));
  builder.Set(FieldId{2}, builder.StringValue("bash"));
  builder.Set(FieldId{5}, Value::Bool(true));
  Event e = builder.Finish();
  ASSERT_EQ(e.fields().size(), 3u);
  EXPECT_EQ(e.fields()[0].id, FieldId{2});
  EXPECT_EQ(e.fields()[1].id, FieldId{5});
  EXPECT_EQ(e.fields()[2].id, FieldId{9});
  ASSERT_NE(e.Find(FieldId{2}), nullptr);
  EXPECT_EQ(e.Find(FieldId{2})->as_string(), "bash");
  EXPECT_EQ(e.Find(FieldId{9})->as_i64(), -3);
  EXPECT_EQ(e.Find(FieldId{1}), nullptr);
  EXPECT_EQ(e.Find(FieldId{6}), nullptr);
  EXPECT_EQ(e.Find(FieldId{100}), nullptr);
  EXPECT_EQ(e.event_id(), 7u);
}

TEST(EventBuilderTest, LastScalarWinsAndArrayPartsConcatenate) {
  EventBatch batch;
  EventBuilder builder(&batch.arena());
  builder.Start();
  builder.Set(FieldId{1}, Value::I64(1));
  builder.Append(FieldId{3}, builder.StringValue("-c"));
  builder.Set(FieldId{1}, Value::I64(2));
  builder.Append(FieldId{3}, builder.StringValue("id"));
  builder.MarkArray(FieldId{4});
  Event e = builder.Finish();
  EXPECT_EQ(e.Find(FieldId{1})->as_i64(), 2);
  auto args = e.Find(FieldId{3})->as_array();
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0].as_string(), "-c");
  EXPECT_EQ(args[1].as_string(), "id");
  ASSERT_EQ(e.Find(FieldId{4})->kind(), ValueKind::kArray);
  EXPECT_TRUE(e.Find(FieldId{4})->as_array().empty());
}

TEST(EventBuilderTest, RepeatedShapesReuseTheirPlanExactly) {
  // Finish keeps plans for recent shapes; the same ids with other parts (scalar vs array
  // element), and more shapes than it keeps, must still build the right events.
  EventBatch batch;
  EventBuilder builder(&batch.arena());
  for (int round = 0; round < 3; ++round) {
    for (uint32_t shape = 0; shape < 12; ++shape) {
      builder.Start();
      builder.Set(FieldId{shape + 10}, Value::I64(round));
      if (shape % 2 == 0) {
        builder.Append(FieldId{3}, Value::I64(1));
        builder.Append(FieldId{3}, Value::I64(2));
      } else {
        builder.Set(FieldId{3}, Value::I64(1));
        builder.Set(FieldId{3}, Value::I64(2));
      }
      builder.Set(FieldId{1}, Value::I64(shape));
      Event e = builder.Finish();
      ASSERT_EQ(e.fields().size(), 3u);
      EXPECT_EQ(e.fields()[0].id, FieldId{1});
      EXPECT_EQ(e.fields()[1].id, FieldId{3});
      EXPECT_EQ(e.fields()[2].id, FieldId{shape + 10});
      EXPECT_EQ(e.Find(FieldId{1})->as_i64(), shape);
      EXPECT_EQ(e.Find(FieldId{shape + 10})->as_i64(), round);
      const Value* three = e.Find(FieldId{3});
      if (shape % 2 == 0) {
        ASSERT_EQ(three->kind(), ValueKind::kArray);
        ASSERT_EQ(three->as_array().size(), 2u);
        EXPECT_EQ(three->as_array()[1].as_i64(), 2);
      } else {
        EXPECT_EQ(three->as_i64(), 2);
      }
    }
  }
  builder.Start();
  EXPECT_TRUE(builder.Finish().fields().empty());
}

TEST(EventBuilderTest, EventsStayValidWhileTheBatchLives) {
  EventBatch batch;
  EventBuilder builder(&batch.arena());
  for (int i = 0; i < 10000; ++i) {
    builder.Start();
    builder.Set(FieldId{0}, builder.StringValue("value-" + std::to_string(i)));
    batch.Add(builder.Finish());
  }
  for (int i = 0; i < 10000; ++i) {
    EXPECT_EQ(batch[i].Find(FieldId{0})->as_string(), "value-" + std::to_string(i));
  }
  batch.Clear();
  EXPECT_TRUE(batch.empty());
}

TEST(ValueTest, DeepEquality) {
  EventBatch batch;
  EventBuilder builder(&batch.arena());
  IpAddress ip{};
  ip.bytes[15] = 1;
  Value elements_a[] = {Value::I64(1), builder.StringValue("x")};
  Value elements_b[] = {Value::I64(1), builder.StringValue("x")};
  EXPECT_EQ(Value::Array(elements_a), Value::Array(elements_b));
  EXPECT_FALSE(Value::I64(1) == Value::U64(1));
  EXPECT_EQ(builder.IpValue(ip), builder.IpValue(ip));
  EXPECT_EQ(Value::F64(0.5), Value::F64(0.5));
  EXPECT_EQ(Value::Null(), Value());
  Value copy = builder.CopyValue(Value::Array(elements_a));
  EXPECT_EQ(copy, Value::Array(elements_a));
  EXPECT_NE(copy.as_array().data(), elements_a);
}

TEST(EventTest, OrderingContractIsMonotonicTimeThenEventId) {
  EventHeader a{.type = 0, .ts_mono_ns = 10, .ts_wall_ns = 999, .event_id = 5};
  EventHeader b{.type = 0, .ts_mono_ns = 10, .ts_wall_ns = 1, .event_id = 6};
  EventHeader c{.type = 0, .ts_mono_ns = 11, .ts_wall_ns = 0, .event_id = 1};
  Event ea(a, {}), eb(b, {}), ec(c, {});
  EXPECT_TRUE(OrderedBefore(ea, eb));   // same time: event_id breaks the tie
  EXPECT_FALSE(OrderedBefore(eb, ea));
  EXPECT_TRUE(OrderedBefore(eb, ec));   // monotonic time first, wall clock ignored
  EXPECT_FALSE(OrderedBefore(ea, ea));  // strict
}

}  // namespace
}  // namespace kestrel
