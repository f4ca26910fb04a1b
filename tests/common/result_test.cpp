#include "common/result.h"

#include <gtest/gtest.h>

#include "common/time_provider.h"

namespace kestrel {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return MakeError(ErrorCode::kInvalidArgument, "not positive");
  return v;
}

Result<int> Doubled(int v) {
  KESTREL_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return x * 2;
}

Status Check(int v) {
  KESTREL_TRY(ParsePositive(v));
  return Ok();
}

TEST(ResultTest, MacrosPropagateErrors) {
  EXPECT_EQ(*Doubled(21), 42);
  auto bad = Doubled(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().ToString(), "not positive");
  EXPECT_TRUE(Check(1));
  EXPECT_FALSE(Check(0));
}

TEST(ResultTest, LocationPrefixesTheMessageOnce) {
  auto e = MakeErrorAt("events.json:12", ErrorCode::kParse, "invalid JSON");
  EXPECT_EQ(e.value().ToString(), "events.json:12: invalid JSON");
  Error moved = std::move(e.value()).At("ignored:1");  // the more specific location stays
  EXPECT_EQ(moved.ToString(), "events.json:12: invalid JSON");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kCorrupt), "corrupt input");
}

TEST(TimeProviderTest, MockIsDrivenByTheCaller) {
  MockTimeProvider clock(100, 1000);
  clock.Advance(5);
  EXPECT_EQ(clock.MonotonicNs(), 105u);
  EXPECT_EQ(clock.WallNs(), 1005u);
  RealTimeProvider real;
  uint64_t a = real.MonotonicNs();
  EXPECT_LE(a, real.MonotonicNs());
  EXPECT_GT(real.WallNs(), 1'600'000'000'000'000'000ull);
}

}  // namespace
}  // namespace kestrel
