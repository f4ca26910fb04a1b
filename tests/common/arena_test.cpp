#include "common/arena.h"

#include <gtest/gtest.h>

#include <string>

namespace kestrel {
namespace {

TEST(ArenaTest, AllocationsAreAlignedAndDistinct) {
  Arena arena(1024);
  auto* a = static_cast<uint8_t*>(arena.Allocate(3, 1));
  auto* b = static_cast<uint64_t*>(arena.Allocate(8, 8));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 8, 0u);
  EXPECT_NE(static_cast<void*>(a), static_cast<void*>(b));
  *b = 42;
  a[0] = a[1] = a[2] = 7;
  EXPECT_EQ(*b, 42u);
}

TEST(ArenaTest, CopyStringOwnsItsBytes) {
  Arena arena;
  std::string source = "process.name";
  std::string_view copy = arena.CopyString(source);
  source.assign("xxxxxxxxxxxx");
  EXPECT_EQ(copy, "process.name");
  EXPECT_TRUE(arena.CopyString("").empty());
}

TEST(ArenaTest, GrowsAcrossBlocksAndOversizedAllocations) {
  Arena arena(256);
  std::vector<std::string_view> copies;
  for (int i = 0; i < 200; ++i) copies.push_back(arena.CopyString(std::string(static_cast<size_t>(i % 50), 'a' + i % 26)));
  std::string big(10000, 'z');
  std::string_view big_copy = arena.CopyString(big);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(copies[i], std::string(static_cast<size_t>(i % 50), 'a' + i % 26)) << i;
  }
  EXPECT_EQ(big_copy, big);
  EXPECT_GE(arena.bytes_used(), 10000u);
}

TEST(ArenaTest, ResetReusesRegularBlocksAndFreesOversized) {
  Arena arena(1024);
  for (int i = 0; i < 10; ++i) arena.Allocate(200, 8);
  arena.Allocate(100000, 8);
  size_t reserved = arena.bytes_reserved();
  EXPECT_GE(reserved, 100000u);
  arena.Reset();
  EXPECT_EQ(arena.bytes_used(), 0u);
  EXPECT_LT(arena.bytes_reserved(), 100000u);
  size_t regular = arena.bytes_reserved();
  for (int i = 0; i < 10; ++i) arena.Allocate(200, 8);
  EXPECT_EQ(arena.bytes_reserved(), regular) << "the same work after Reset needs no new blocks";
}

}  // namespace
}  // namespace kestrel
