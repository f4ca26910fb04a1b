#include "bus/spsc_ring.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <thread>

#include "bus/bus_test_util.h"

namespace kestrel::bus {
namespace {

TEST(SpscRingTest, CapacityRoundsUpToAPowerOfTwo) {
  EXPECT_EQ(SpscRing<int>(0).capacity(), 1u);
  EXPECT_EQ(SpscRing<int>(1).capacity(), 1u);
  EXPECT_EQ(SpscRing<int>(2).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(3).capacity(), 4u);
  EXPECT_EQ(SpscRing<int>(5).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(64).capacity(), 64u);
  EXPECT_EQ(SpscRing<int>(65).capacity(), 128u);
  SpscRing<int> ring(3);  // rounded to 4: four pushes fit, not three
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.TryPush(i));
  EXPECT_FALSE(ring.TryPush(4));
}

TEST(SpscRingTest, FifoFullAndEmpty) {
  SpscRing<int> ring(4);
  int out = -1;
  EXPECT_TRUE(ring.empty());
  EXPECT_FALSE(ring.TryPop(out));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.TryPush(i));
  EXPECT_TRUE(ring.full());
  EXPECT_EQ(ring.size(), 4u);
  EXPECT_FALSE(ring.TryPush(99));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.TryPop(out));
    EXPECT_EQ(out, i);
  }
  EXPECT_FALSE(ring.TryPop(out));
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.size(), 0u);
}

TEST(SpscRingTest, WrapsAroundManyTimes) {
  SpscRing<uint64_t> ring(4);
  uint64_t next_in = 0;
  uint64_t next_out = 0;
  // Fill levels 1..4 in turn, so head and tail cross the end of the slot array at every offset.
  for (int round = 0; round < 1000; ++round) {
    const int n = 1 + round % 4;
    for (int i = 0; i < n; ++i) ASSERT_TRUE(ring.TryPush(next_in++));
    EXPECT_EQ(ring.size(), static_cast<size_t>(n));
    uint64_t out = 0;
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(ring.TryPop(out));
      ASSERT_EQ(out, next_out++);
    }
  }
  EXPECT_EQ(next_out, 2500u);
}

TEST(SpscRingTest, MoveOnlyItemsAndAFailedPushKeepsTheItem) {
  SpscRing<std::unique_ptr<int>> ring(2);
  EXPECT_TRUE(ring.TryPush(std::make_unique<int>(1)));
  EXPECT_TRUE(ring.TryPush(std::make_unique<int>(2)));
  auto third = std::make_unique<int>(3);
  EXPECT_FALSE(ring.TryPush(std::move(third)));
  ASSERT_NE(third, nullptr) << "a failed push must not consume the item";
  EXPECT_EQ(*third, 3);

  std::unique_ptr<int> out;
  ASSERT_TRUE(ring.TryPop(out));
  EXPECT_EQ(*out, 1);
  EXPECT_TRUE(ring.TryPush(std::move(third)));
  ASSERT_TRUE(ring.TryPop(out));
  EXPECT_EQ(*out, 2);
  ASSERT_TRUE(ring.TryPop(out));
  EXPECT_EQ(*out, 3);
}

// Counts live objects, to check that the ring constructs and destroys each item exactly once.
struct Tracked {
  static inline int live = 0;
  explicit Tracked(int v) : value(v) { ++live; }
  Tracked(Tracked&& other) noexcept : value(other.value) { ++live; }
  Tracked& operator=(Tracked&& other) noexcept {
    value = other.value;
    return *this;
  }
  ~Tracked() { --live; }
  int value;
};

TEST(SpscRingTest, ItemsNeedNoDefaultConstructorAndAreDestroyedOnce) {
  Tracked::live = 0;
  {
    SpscRing<Tracked> ring(4);
    EXPECT_EQ(Tracked::live, 0) << "empty slots hold no objects";
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(ring.TryEmplace(i));
    EXPECT_EQ(Tracked::live, 3);
    Tracked out(-1);
    ASSERT_TRUE(ring.TryPop(out));
    EXPECT_EQ(out.value, 0);
    EXPECT_EQ(Tracked::live, 3);  // two queued + `out`
  }
  EXPECT_EQ(Tracked::live, 0) << "the destructor destroys the items still queued";
}

TEST(SpscRingTest, DestructorReleasesQueuedSharedItems) {
  auto shared = std::make_shared<int>(7);
  {
    SpscRing<std::shared_ptr<int>> ring(8);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(ring.TryPush(shared));
    EXPECT_EQ(shared.use_count(), 6);
  }
  EXPECT_EQ(shared.use_count(), 1);
}

// One producer and one consumer thread push millions of sequence numbers through a small ring
// (so both sides keep hitting full and empty); the consumer checks every number arrives once,
// in order.
TEST(SpscRingTest, TwoThreadStressKeepsOrderAndLosesNothing) {
  const uint64_t kItems = 2'000'000 / testing::kStressScale;
  testing::Watchdog watchdog(std::chrono::seconds(60), "SpscRing stress");
  SpscRing<uint64_t> ring(64);
  // A failed try spins a little, then yields: on a busy 2-core machine the other side may not be
  // running at all, and pure spinning would only slow it down.
  auto backoff = [](uint32_t& failures) {
    if (++failures < 64) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  };
  std::thread producer([&] {
    for (uint64_t seq = 0; seq < kItems; ++seq) {
      uint32_t failures = 0;
      while (!ring.TryPush(seq)) backoff(failures);
    }
  });
  uint64_t expected = 0;
  uint64_t mismatches = 0;
  while (expected < kItems) {
    uint64_t out = 0;
    uint32_t failures = 0;
    while (!ring.TryPop(out)) backoff(failures);
    if (out != expected) ++mismatches;
    expected = out + 1;
  }
  producer.join();
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(expected, kItems);
  EXPECT_TRUE(ring.empty());
}

}  // namespace
}  // namespace kestrel::bus
