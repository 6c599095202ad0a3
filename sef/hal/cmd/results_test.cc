#include "sef/hal/cmd/results.h"

#include "gtest/gtest.h"
#include "sef/hal/cmd/command.h"

namespace sef::cmd {
namespace {

// Bit positions from spec §1.6 and §1.8, written out by hand.
TEST(ResultsTest, DecodesTheSpecBitPositions) {
  EXPECT_EQ(EraseResult::FromResult(0x0000'4000'0000'0012ull),
            (EraseResult{SuperBlockId(0x12), AduCount(0x4000)}));
  EXPECT_EQ(CloseResult::FromResult(0x8000'0000'0000'0007ull),
            (CloseResult{SuperBlockId(7), true}));
  EXPECT_EQ(CloseResult::FromResult(0x0000'0000'0000'0007ull),
            (CloseResult{SuperBlockId(7), false}));
  EXPECT_EQ(FreeResult::FromResult(9).sb, SuperBlockId(9));
  EXPECT_EQ(PatrolResult::FromResult(0x1FF).integrity_index, 0xFF);
  EXPECT_EQ(FarResult::FromResult(0x20).addresses, 0x20u);
  EXPECT_EQ(NlwResult::FromResult(0x0000'0005'0000'0010ull), (NlwResult{0x10, 5}));
  EXPECT_EQ(NlcResult::FromResult(0x4300'1000ull), (NlcResult{0x1000, 0x43}));
  EXPECT_EQ(GcrResult::FromResult(3).status, 3u);
  EXPECT_EQ(CreateQosDomainResult::FromResult(4).domain, QosDomainId(4));
  EXPECT_EQ(RootPointerResult::FromResult(0x1234'5678'9ABC'DEF0ull).value.raw(),
            0x1234'5678'9ABC'DEF0ull);
}

TEST(ResultsTest, ToResultInvertsFromResult) {
  const uint64_t values[] = {0,
                             1,
                             0x8000'0000'0000'0000ull,
                             0xFFFF'FFFF'FFFF'FFFFull,
                             0x0000'0005'0000'0010ull,
                             0x1234'5678'9ABC'DEF0ull};
  for (uint64_t v : values) {
    EXPECT_EQ(EraseResult::FromResult(EraseResult::FromResult(v).ToResult()),
              EraseResult::FromResult(v));
    EXPECT_EQ(NlwResult::FromResult(v).ToResult(), v);
    EXPECT_EQ(RootPointerResult::FromResult(v).ToResult(), v);
    EXPECT_EQ(CloseResult::FromResult(CloseResult::FromResult(v).ToResult()),
              CloseResult::FromResult(v));
    EXPECT_EQ(NlcResult::FromResult(v & 0xFFFFFFFF).ToResult(), v & 0xFFFFFFFF);
  }
}

TEST(AsyncEventTest, SefEvents) {
  // 0xD04006: VD critical warning; 0xD34006: SB state change (spec §1.8).
  const AsyncEvent vd = AsyncEvent::FromResult(0xD04006);
  EXPECT_TRUE(vd.is_sef());
  EXPECT_EQ(vd.log_id, 0xD0);
  EXPECT_EQ(AsyncEvent::Sef(wire::LogId::kSuperBlockInfo).ToResult(), 0xD34006u);
  EXPECT_FALSE(AsyncEvent::FromResult(0x000002).is_sef());  // a standard notice event
}

TEST(NvmeStatusTest, FieldsAndCanonicalMapping) {
  const NvmeStatus partial = NvmeStatus::FromRaw(0x7F0);
  EXPECT_EQ(partial.sct(), 7);
  EXPECT_EQ(partial.sc(), 0xF0);
  EXPECT_FALSE(partial.ok());
  EXPECT_EQ(ToStatus(partial, "Nameless Write").code(), absl::StatusCode::kResourceExhausted);

  const NvmeStatus invalid_field(0, wire::sc::kInvalidField, /*dnr=*/true);
  EXPECT_EQ(invalid_field.raw(), 0x4002);
  EXPECT_TRUE(invalid_field.dnr());
  absl::Status s = ToStatus(invalid_field, "Read nsid 1");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "Read nsid 1 failed: NVMe status sct=0 sc=0x02 dnr (raw 0x4002)");

  EXPECT_TRUE(ToStatus(NvmeStatus::Success(), "x").ok());
  EXPECT_EQ(ToStatus(NvmeStatus(0, wire::sc::kInvalidNamespace), "x").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ToStatus(NvmeStatus(1, wire::sc::kNamespaceAlreadyAttached), "x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ToStatus(NvmeStatus(2, wire::sc::kUnrecoveredReadError), "x").code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ToStatus(NvmeStatus(0, wire::sc::kCapacityExceeded), "x").code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(CommandTest, DirectionFollowsOpcodeBits) {
  EXPECT_EQ(DirectionOfOpcode(0xD1), DataDirection::kHostToDevice);
  EXPECT_EQ(DirectionOfOpcode(0xDD), DataDirection::kHostToDevice);
  EXPECT_EQ(DirectionOfOpcode(0xD2), DataDirection::kDeviceToHost);
  EXPECT_EQ(DirectionOfOpcode(0xD6), DataDirection::kDeviceToHost);
  EXPECT_EQ(DirectionOfOpcode(0xDA), DataDirection::kDeviceToHost);
  EXPECT_EQ(DirectionOfOpcode(0xDE), DataDirection::kDeviceToHost);
  EXPECT_EQ(DirectionOfOpcode(0x20), DataDirection::kNone);
}

}  // namespace
}  // namespace sef::cmd
