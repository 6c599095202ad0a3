#include "sef/base/crc32c.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace sef {
namespace {

// Check values from RFC 3720 (iSCSI) appendix B.4 and the common "123456789" vector.
TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  uint8_t zeros[32] = {};
  EXPECT_EQ(Crc32c(zeros, sizeof(zeros)), 0x8A9136AAu);
  uint8_t ones[32];
  std::memset(ones, 0xFF, sizeof(ones));
  EXPECT_EQ(Crc32c(ones, sizeof(ones)), 0x62A8AB43u);
}

TEST(Crc32cTest, ExtendsInPieces) {
  const std::string s = "software-enabled flash";
  EXPECT_EQ(Crc32c(s.data() + 5, s.size() - 5, Crc32c(s.data(), 5)), Crc32c(s.data(), s.size()));
}

// Both implementations (the CPU instruction where there is one, and the tables) against the bitwise
// definition, over every length and start offset that exercises the 8-byte loop, its tail, and a
// start value.
TEST(Crc32cTest, MatchesTheBitwiseDefinition) {
  auto bitwise = [](const uint8_t* p, size_t n, uint32_t crc) {
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) {
      crc ^= p[i];
      for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
  };
  uint8_t buf[300];
  uint32_t x = 12345;
  for (uint8_t& b : buf) b = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 16);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t n = 0; n + start <= sizeof(buf); n += 7) {
      EXPECT_EQ(Crc32c(buf + start, n, 0x1234u), bitwise(buf + start, n, 0x1234u))
          << start << " " << n;
      EXPECT_EQ(internal::Crc32cTables(buf + start, n, 0x1234u), bitwise(buf + start, n, 0x1234u))
          << start << " " << n;
    }
  }
}

}  // namespace
}  // namespace sef
