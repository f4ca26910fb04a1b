#include "event/timestamp.h"

#include <gtest/gtest.h>

#include "event/ip_address.h"

namespace kestrel {
namespace {

constexpr int64_t kSec = 1'000'000'000;

TEST(TimestampTest, ParsesRfc3339Forms) {
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTimestamp("2017-08-30T20:47:33Z"), 1504126053 * kSec);
  EXPECT_EQ(ParseTimestamp("2017-08-30T20:47:33.5Z"), 1504126053 * kSec + 500'000'000);
  EXPECT_EQ(ParseTimestamp("2017-08-30T20:47:33.123456789Z"), 1504126053 * kSec + 123456789);
  EXPECT_EQ(ParseTimestamp("2017-08-30T22:47:33+02:00"), 1504126053 * kSec);
  EXPECT_EQ(ParseTimestamp("2017-08-30T15:47:33-0500"), 1504126053 * kSec);
  EXPECT_EQ(ParseTimestamp("2017-08-30 20:47:33"), 1504126053 * kSec);  // no zone: UTC
  EXPECT_EQ(ParseTimestamp("2017-08-30T20:47"), 1504126020 * kSec);
  EXPECT_EQ(ParseTimestamp("2017-08-30"), 1504051200 * kSec);
  EXPECT_EQ(ParseTimestamp("2024-02-29T00:00:00Z"), 1709164800 * kSec);
}

TEST(TimestampTest, CommonUtcFormAtItsEdges) {
  // "YYYY-MM-DDTHH:MM:SS[.f]Z" has a fixed-position fast path; these must match the general one.
  EXPECT_EQ(ParseTimestamp("2017-08-30T20:47:33.1234567891Z"), 1504126053 * kSec + 123456789);
  EXPECT_EQ(ParseTimestamp("2017-08-30T20:47:33,5Z"), 1504126053 * kSec + 500'000'000);
  EXPECT_EQ(ParseTimestamp("2016-12-31T23:59:60Z"), 1483228800 * kSec);  // leap second
  EXPECT_EQ(ParseTimestamp("2262-04-11T23:47:15Z"), 9223372035 * kSec);
  EXPECT_FALSE(ParseTimestamp("2262-04-11T23:47:16Z"));  // past int64 nanoseconds
  EXPECT_FALSE(ParseTimestamp("1017-08-30T20:47:33Z"));
  EXPECT_FALSE(ParseTimestamp("2017-08-30T20:47:33.Z"));
  EXPECT_FALSE(ParseTimestamp("2017-08-30T20:47:3aZ"));
  EXPECT_FALSE(ParseTimestamp("2017-08-30T24:00:00Z"));
  EXPECT_EQ(ParseTimestamp("1969-12-31T23:59:59.5Z"), -kSec / 2);
}

TEST(TimestampTest, ParsesEpochMillisStrings) {
  EXPECT_EQ(ParseTimestamp("1"), 1'000'000);
  EXPECT_EQ(ParseTimestamp("1516116808349"), 1516116808349 * 1'000'000);
}

TEST(TimestampTest, RejectsMalformed) {
  for (const char* bad : {"", "2017-", "2017-13-01", "2017-02-30", "2023-02-29", "2017-08-30T25:00:00Z",
                          "2017-08-30T20:47:33.Z", "2017-08-30T20:47:33Zjunk", "2017-08-30X20:47",
                          "yesterday", "12:00", "2017-08-30T20:47:33+2", "99999999999999999999"}) {
    EXPECT_FALSE(ParseTimestamp(bad)) << bad;
  }
}

TEST(TimestampTest, FormatsShortestExactFraction) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(1504126053 * kSec), "2017-08-30T20:47:33Z");
  EXPECT_EQ(FormatTimestamp(1504126053 * kSec + 500'000'000), "2017-08-30T20:47:33.500Z");
  EXPECT_EQ(FormatTimestamp(1504126053 * kSec + 123'456'000), "2017-08-30T20:47:33.123456Z");
  EXPECT_EQ(FormatTimestamp(1504126053 * kSec + 1), "2017-08-30T20:47:33.000000001Z");
  EXPECT_EQ(FormatTimestamp(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(TimestampTest, FormatThenParseIsIdentity) {
  for (int64_t ns : {int64_t{0}, int64_t{1}, 951782400 * kSec + 7, 4102444799 * kSec + 999'999'999,
                     int64_t{1732600000123456789}}) {
    EXPECT_EQ(ParseTimestamp(FormatTimestamp(ns)), ns) << FormatTimestamp(ns);
  }
}

TEST(TimestampTest, FileTime) {
  EXPECT_EQ(FileTimeToUnixNs(116444736000000000ull), 0);
  EXPECT_EQ(FileTimeToUnixNs(131485996510000000ull), (131485996510000000 - 116444736000000000) * 100);
  EXPECT_FALSE(FileTimeToUnixNs(UINT64_MAX));
  EXPECT_FALSE(FileTimeToUnixNs(0));  // year 1601: before the int64 nanosecond range (1678)
  EXPECT_EQ(FileTimeToUnixNs(116444736000000000ull - 1), -100);
}

TEST(IpAddressTest, ParsesAndFormatsBothFamilies) {
  auto v4 = ParseIp("10.0.0.1");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(FormatIp(*v4), "10.0.0.1");
  auto v6 = ParseIp("2001:DB8:0:0::1");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ(FormatIp(*v6), "2001:db8::1");
  EXPECT_EQ(FormatIp(*ParseIp("::ffff:192.0.2.1")), "192.0.2.1");  // mapped = the IPv4 address
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "host", "fe80::1%eth0", "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_FALSE(ParseIp(bad)) << bad;
  }
}

}  // namespace
}  // namespace kestrel
