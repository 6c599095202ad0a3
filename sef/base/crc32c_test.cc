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

}  // namespace
}  // namespace sef
