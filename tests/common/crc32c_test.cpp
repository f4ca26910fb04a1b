#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace kestrel {
namespace {

// Check values from RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("", 0), 0u);
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::string ones(32, '\xFF');
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(ascending.data(), ascending.size()), 0x46DD794Eu);
}

// Bit-by-bit CRC-32C: slow and obviously right.
uint32_t ReferenceCrc32c(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

TEST(Crc32cTest, LargeBuffersMatchTheReference) {
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1103515245u + 12345u;
    data.push_back(static_cast<char>(x >> 24));
  }
  // Around and across the three-stride boundaries of the fast path (3 x 4096 bytes).
  for (size_t n : {12287ul, 12288ul, 12289ul, 24576ul, 24583ul, 36864ul, 65536ul, 99999ul, 100000ul}) {
    std::string part = data.substr(0, n);
    EXPECT_EQ(Crc32c(part.data(), part.size()), ReferenceCrc32c(part)) << n;
    // and from an unaligned start
    std::string tail = data.substr(3, n - 3);
    EXPECT_EQ(Crc32c(tail.data(), tail.size()), ReferenceCrc32c(tail)) << n;
  }
}

TEST(Crc32cTest, ExtendingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 31));
  uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t split : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    uint32_t part = Crc32c(data.data(), split);
    EXPECT_EQ(Crc32c(data.data() + split, data.size() - split, part), whole) << split;
  }
}

}  // namespace
}  // namespace kestrel
