#include "sef/hal/cmd/types.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sef {
namespace {

using ::testing::HasSubstr;

TEST(AddressFormatTest, Validates) {
  EXPECT_TRUE((AddressFormat{24, 24}).Validate().ok());
  EXPECT_TRUE((AddressFormat{16, 32}).Validate().ok());
  EXPECT_THAT(std::string((AddressFormat{0, 24}).Validate().message()),
              HasSubstr("super block id width 0"));
  EXPECT_THAT(std::string((AddressFormat{24, 33}).Validate().message()),
              HasSubstr("ADU offset width 33"));
  EXPECT_THAT(std::string((AddressFormat{20, 30}).Validate().message()),
              HasSubstr("exceed 48 bits"));
}

TEST(FlashAddressTest, ComposesAndSplits) {
  const AddressFormat f{24, 24};
  absl::StatusOr<FlashAddress> a =
      FlashAddress::Make(QosDomainId(3), SuperBlockId(0x12345), AduOffset(0x678), f);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->raw(), 0x0003'012345'000678ull);
  EXPECT_EQ(a->domain(), QosDomainId(3));
  EXPECT_EQ(a->super_block(f), SuperBlockId(0x12345));
  EXPECT_EQ(a->adu_offset(f), AduOffset(0x678));
  EXPECT_EQ(a->low48(), 0x012345'000678ull);

  const AddressFormat g{16, 32};
  a = FlashAddress::Make(QosDomainId(0xFFFF), SuperBlockId(0xFFFF), AduOffset(0xFFFFFFFF), g);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->raw(), ~uint64_t{0});
  EXPECT_EQ(a->super_block(g), SuperBlockId(0xFFFF));
}

TEST(FlashAddressTest, RejectsFieldsWiderThanTheFormat) {
  const AddressFormat f{16, 24};
  absl::StatusOr<FlashAddress> a =
      FlashAddress::Make(QosDomainId(1), SuperBlockId(0x10000), AduOffset(0), f);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(a.status().message()),
              HasSubstr("super block id 65536 is wider than the virtual device's 16-bit field"));
  a = FlashAddress::Make(QosDomainId(1), SuperBlockId(1), AduOffset(1u << 24), f);
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("ADU offset 16777216"));
}

TEST(FlashAddressTest, SpecialValuesAndPrinting) {
  EXPECT_EQ(FlashAddress::Null().raw(), 0u);
  EXPECT_EQ(FlashAddress::AutoAllocate().raw(), ~uint64_t{0});
  EXPECT_EQ(FlashAddress::AutoAllocatePslc().raw(), ~uint64_t{1});
  std::ostringstream os;
  os << FlashAddress::FromRaw(0x10);
  EXPECT_EQ(os.str(), "fla:0x0000000000000010");
}

TEST(UserAddressTest, PacksLbaAndTag) {
  absl::StatusOr<UserAddress> ua = UserAddress::Make(Lba(0x12'3456'789A), 0xABCDEF);
  ASSERT_TRUE(ua.ok());
  EXPECT_EQ(ua->raw(), 0xABCDEF'12'3456'789Aull);
  EXPECT_EQ(ua->lba(), Lba(0x12'3456'789A));
  EXPECT_EQ(ua->tag(), 0xABCDEFu);
  EXPECT_FALSE(ua->is_ignore());
  EXPECT_TRUE(UserAddress::Ignore().is_ignore());
}

TEST(UserAddressTest, RejectsWideFields) {
  EXPECT_THAT(std::string(UserAddress::Make(Lba(uint64_t{1} << 40), 0).status().message()),
              HasSubstr("LBA 1099511627776 does not fit"));
  EXPECT_THAT(std::string(UserAddress::Make(Lba(0), 1u << 24).status().message()),
              HasSubstr("tag 0x1000000 does not fit in 24 bits"));
}

}  // namespace
}  // namespace sef
