// The model's nameless copy (NLC + GCR) conformance tests, driven through encoded commands.
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/model/testing/io_fixture.h"

namespace sef::model {
namespace {

using testing::CommandSpecific;
using testing::Generic;
using testing::HoldsPattern;
using testing::Media;
using testing::ModelHarness;
using testing::Vendor;
namespace sc = wire::sc;
using testing::IoTest;
using testing::kSbAdus;
using testing::kTag;
using testing::kVd;
using testing::Ua;

// ---- NLC + GCR --------------------------------------------------------------------------------

class CopyTest : public IoTest {
 protected:
  void SetUp() override {
    IoTest::SetUp();
    // A closed source SB: 64 ADUs, LBAs 500..563.
    src_ = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(500), 64);
    ASSERT_TRUE(src_.nlw.status.ok());
    src_sb_ = SbOf(src_.addresses[0]);
    ASSERT_EQ(h_.SbInfo(kVd, SuperBlockId(src_sb_)).sbs, wire::kSbsClosed);
    const ModelHarness::Erased e = h_.Erase(d_);
    ASSERT_TRUE(e.completion.status.ok());
    dest_ = e.sb.value();
  }
  ModelHarness::Written src_;
  uint32_t src_sb_ = 0;
  uint32_t dest_ = 0;
};

TEST_F(CopyTest, BitmapSource) {
  // ADUs 1, 3 and 33 of the source.
  const ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_), cmd::CopyBitmap{Fla(d_, src_sb_, 0), {0b1010, 0b10}});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  ASSERT_TRUE(c.nlc.status.ok()) << c.nlc.status;
  EXPECT_EQ(c.header.processed_adus, 3u);
  EXPECT_EQ(c.header.read_error_adus, 0u);
  EXPECT_EQ(c.header.adus_left, 61u);
  EXPECT_EQ(c.header.next_adu_offset, 64u);
  EXPECT_EQ(c.header.copy_status, wire::kCopyConsumedSource);
  EXPECT_EQ(cmd::NlcResult::FromResult(c.nlc.result),
            (cmd::NlcResult{61, wire::kCopyConsumedSource}));
  ASSERT_EQ(c.changes.size(), 3u);
  const uint32_t lbas[] = {501, 503, 533};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.changes[i].ua, Ua(lbas[i]).raw());
    EXPECT_EQ(c.changes[i].ofa, Fla(d_, src_sb_, lbas[i] - 500).raw());
    EXPECT_EQ(c.changes[i].nfa, Fla(d_, dest_, i).raw());
    std::vector<uint8_t> data, meta;
    ASSERT_TRUE(
        h_.Read(FlashAddress::FromRaw(c.changes[i].nfa), 1, &data, Ua(lbas[i]), &meta).status.ok());
    EXPECT_TRUE(HoldsPattern(data, lbas[i]));
    EXPECT_EQ(meta[0], ModelHarness::Pattern(lbas[i]) ^ 0xFF);  // metadata travels too
  }
  // The copied UAs are in the destination's user address list.
  EXPECT_EQ(UserAddresses(d_, dest_, 0, 4),
            (std::vector<uint64_t>{Ua(501).raw(), Ua(503).raw(), Ua(533).raw(), ~uint64_t{0}}));
}

TEST_F(CopyTest, BitmapStartIsAlignedDown) {
  // sfla at offset 5: bit 0 still names offset 0 (sfla & ~0x3F).
  const ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_), cmd::CopyBitmap{Fla(d_, src_sb_, 5), {0b1}});
  ASSERT_TRUE(c.gcr.status.ok());
  ASSERT_EQ(c.changes.size(), 1u);
  EXPECT_EQ(c.changes[0].ofa, Fla(d_, src_sb_, 0).raw());
}

TEST_F(CopyTest, ListSource) {
  const ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_), cmd::CopyList{{src_.addresses[9], src_.addresses[2]}});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  EXPECT_EQ(c.header.processed_adus, 2u);
  EXPECT_EQ(c.header.next_adu_offset, 2u);
  EXPECT_EQ(c.header.copy_status, wire::kCopyConsumedSource);
  ASSERT_EQ(c.changes.size(), 2u);
  EXPECT_EQ(c.changes[0].ua, Ua(509).raw());
  EXPECT_EQ(c.changes[1].ua, Ua(502).raw());
  EXPECT_EQ(c.changes[1].nfa, Fla(d_, dest_, 1).raw());
}

TEST_F(CopyTest, IncludeAndExcludeFilters) {
  // First 8 ADUs (LBAs 500..507), keep only LBAs 502..504.
  ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_), cmd::CopyBitmap{Fla(d_, src_sb_, 0), {0xFF}},
              cmd::UserAddressFilter{Ua(502), 3, false});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  EXPECT_EQ(c.header.copy_status, wire::kCopyConsumedSource | wire::kCopyFilteredUas);
  ASSERT_EQ(c.changes.size(), 3u);
  EXPECT_EQ(c.changes[0].ua, Ua(502).raw());
  EXPECT_EQ(c.changes[2].ua, Ua(504).raw());
  EXPECT_EQ(c.header.adus_left, 61u);
  // Exclude: the other five.
  c = h_.Copy(d_, SuperBlockId(dest_), cmd::CopyBitmap{Fla(d_, src_sb_, 0), {0xFF}},
              cmd::UserAddressFilter{Ua(502), 3, true});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  EXPECT_EQ(c.header.copy_status, wire::kCopyConsumedSource | wire::kCopyFilteredUas);
  ASSERT_EQ(c.changes.size(), 5u);
  EXPECT_EQ(c.changes[0].ua, Ua(500).raw());
  EXPECT_EQ(c.changes[1].ua, Ua(501).raw());
  EXPECT_EQ(c.changes[2].ua, Ua(505).raw());
  EXPECT_EQ(c.header.adus_left, 56u);
}

TEST_F(CopyTest, FullAcrStopsWithNextOffset) {
  const ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_),
              cmd::CopyBitmap{Fla(d_, src_sb_, 0), {0xFFFFFFFF, 0xFFFFFFFF}}, std::nullopt,
              /*acr_entries=*/10);
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  EXPECT_EQ(c.header.processed_adus, 10u);
  EXPECT_EQ(c.header.next_adu_offset, 10u);
  EXPECT_EQ(c.header.copy_status, wire::kCopyFilledAcr);
  EXPECT_EQ(c.header.adus_left, 54u);
  ASSERT_EQ(c.changes.size(), 10u);
  // The host resumes from the next offset.
  std::vector<uint32_t> rest = {0xFFFFFC00, 0xFFFFFFFF};
  const ModelHarness::Copied more =
      h_.Copy(d_, SuperBlockId(dest_), cmd::CopyBitmap{Fla(d_, src_sb_, 0), rest});
  ASSERT_TRUE(more.gcr.status.ok());
  EXPECT_EQ(more.header.processed_adus, 54u);
  EXPECT_EQ(more.header.adus_left, 0u);
  EXPECT_EQ(more.changes[0].ua, Ua(510).raw());
}

TEST_F(CopyTest, ListAcrFullNextOffsetIsAnEntryIndex) {
  const ModelHarness::Copied c = h_.Copy(
      d_, SuperBlockId(dest_),
      cmd::CopyList{{src_.addresses[0], src_.addresses[1], src_.addresses[2], src_.addresses[3]}},
      std::nullopt, /*acr_entries=*/3);
  ASSERT_TRUE(c.gcr.status.ok());
  EXPECT_EQ(c.header.processed_adus, 3u);
  EXPECT_EQ(c.header.next_adu_offset, 3u);
  EXPECT_EQ(c.header.copy_status, wire::kCopyFilledAcr);
}

TEST_F(CopyTest, DestinationFillsAndCloses) {
  ASSERT_TRUE(h_.Write(d_, SuperBlockId(dest_), Lba(0), 60).nlw.status.ok());
  const ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_), cmd::CopyBitmap{Fla(d_, src_sb_, 0), {0xFF}});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  ASSERT_TRUE(c.nlc.status.ok()) << c.nlc.status;
  EXPECT_EQ(c.header.processed_adus, 4u);
  EXPECT_EQ(c.header.next_adu_offset, 4u);
  EXPECT_EQ(c.header.adus_left, 0u);
  EXPECT_EQ(c.header.copy_status, wire::kCopyClosedDestination);
  EXPECT_EQ(cmd::NlcResult::FromResult(c.nlc.result),
            (cmd::NlcResult{0, wire::kCopyClosedDestination}));
  EXPECT_EQ(h_.SbInfo(kVd, SuperBlockId(dest_)).sbs, wire::kSbsClosed);
  EXPECT_EQ(c.changes.back().nfa, Fla(d_, dest_, 63).raw());
}

TEST_F(CopyTest, CopyIntoClosedFreeOrForeignDestination) {
  const QosDomainId other = Domain(64, 64);
  const ModelHarness::Erased theirs = h_.Erase(other);
  const cmd::CopySource source = cmd::CopyList{{src_.addresses[0]}};
  // Closed (the source SB itself).
  ModelHarness::Copied c = h_.Copy(d_, SuperBlockId(src_sb_), source);
  EXPECT_EQ(c.nlc.status, Generic(sc::kCommandSequenceError));
  EXPECT_EQ(c.gcr.status, Generic(sc::kCommandSequenceError));
  // Free.
  c = h_.Copy(d_, SuperBlockId(25), source);
  EXPECT_EQ(c.nlc.status, Generic(sc::kInvalidField));
  EXPECT_EQ(c.gcr.status, Generic(sc::kInvalidField));
  // Another domain's.
  c = h_.Copy(d_, theirs.sb, source);
  EXPECT_EQ(c.nlc.status, Generic(sc::kInvalidField));
  EXPECT_EQ(h_.SbInfo(kVd, theirs.sb).aduptr, 0u);
}

TEST_F(CopyTest, NonClosedSourceIsReportedAndNotCopied) {
  const ModelHarness::Written open = h_.Write(d_, cmd::ByPlacement{PlacementId(1)}, Lba(900), 4);
  ASSERT_TRUE(open.nlw.status.ok());
  const ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_), cmd::CopyList{{open.addresses[0], src_.addresses[0]}});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  EXPECT_TRUE(c.header.copy_status & wire::kCopyNonClosedSource);
  EXPECT_TRUE(c.header.copy_status & wire::kCopyConsumedSource);
  EXPECT_FALSE(c.header.copy_status & wire::kCopyReadError);  // not a read error
  EXPECT_EQ(c.header.read_error_adus, 0u);
  EXPECT_EQ(c.header.processed_adus, 2u);
  EXPECT_EQ(c.header.adus_left, 63u);
  EXPECT_EQ(UserAddresses(d_, dest_, 0, 2), (std::vector<uint64_t>{Ua(500).raw(), ~uint64_t{0}}));
}

// Regression (model_fuzzer): a copy that copies nothing passed memcpy a null source.
TEST_F(CopyTest, CopyingNothingReturnsAnAcrWithoutEntries) {
  const ModelHarness::Written open = h_.Write(d_, cmd::ByPlacement{PlacementId(1)}, Lba(900), 1);
  ASSERT_TRUE(open.nlw.status.ok());
  const ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_), cmd::CopyList{{open.addresses[0]}}, std::nullopt, 4);
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  EXPECT_EQ(c.header.copy_status, wire::kCopyNonClosedSource | wire::kCopyConsumedSource);
  EXPECT_EQ(c.header.processed_adus, 1u);
  EXPECT_EQ(c.header.adus_left, 64u);
  EXPECT_TRUE(c.changes.empty());
}

TEST_F(CopyTest, UnreadableSourcesAreReadErrors) {
  // Past the source's written ADUs can't happen in a closed full SB; use a free SB and a
  // missing domain instead.
  const ModelHarness::Copied c =
      h_.Copy(d_, SuperBlockId(dest_),
              cmd::CopyList{{Fla(d_, 27, 0), Fla(QosDomainId(8), 0, 0), src_.addresses[63]}});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  EXPECT_EQ(c.header.processed_adus, 3u);
  EXPECT_EQ(c.header.read_error_adus, 2u);
  EXPECT_EQ(c.header.copy_status, wire::kCopyReadError | wire::kCopyConsumedSource);
  EXPECT_EQ(c.header.adus_left, 63u);
  EXPECT_EQ(UserAddresses(d_, dest_, 0, 1), (std::vector<uint64_t>{Ua(563).raw()}));
}

TEST_F(CopyTest, CrossDomainCopy) {
  const QosDomainId dest = Domain(64, 64);
  const ModelHarness::Erased e = h_.Erase(dest);
  ASSERT_TRUE(e.completion.status.ok());
  const ModelHarness::Copied c = h_.Copy(dest, e.sb, cmd::CopyBitmap{Fla(d_, src_sb_, 0), {0b111}});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  ASSERT_EQ(c.changes.size(), 3u);
  const FlashAddress to = FlashAddress::FromRaw(c.changes[2].nfa);
  EXPECT_EQ(to.domain(), dest);
  EXPECT_EQ(to, *FlashAddress::Make(dest, e.sb, AduOffset(2), f_.address));
  std::vector<uint8_t> data;
  ASSERT_TRUE(h_.Read(to, 1, &data, Ua(502)).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 502));
  // The source domain cannot read the destination's SB.
  EXPECT_EQ(h_.Read(Fla(d_, e.sb.value(), 0), 1, &data).status, Media(0x86));
}

}  // namespace
}  // namespace sef::model
