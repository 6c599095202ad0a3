// The basic life of a unit, end to end through encoded commands: a virtual device, a QoS
// domain, writes by placement id and into an erased SB, reads with verify, a copy, close and
// free. Exhaustive per-command tests live in model_*_test.cc.
#include "gtest/gtest.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model {
namespace {

using testing::HoldsPattern;
using testing::ModelHarness;

TEST(ModelTest, WriteReadCopyFree) {
  ModelHarness h = ModelHarness::Open("tiny");
  ASSERT_TRUE(h.ok());
  h.CreateVirtualDevice(VirtualDeviceId(1), {0, 1, 2, 3}, 2);
  const QosDomainId d = h.CreateDomain(h.DefaultSpec(VirtualDeviceId(1)));
  ASSERT_NE(d.value(), 0);

  // 70 ADUs by placement id: the tiny unit's SBs hold 64 ADUs (2 dies x 32), so the write
  // spans two SBs and the first one closes.
  ModelHarness::Written w = h.Write(d, cmd::ByPlacement{PlacementId(1)}, Lba(100), 70);
  ASSERT_TRUE(w.nlw.status.ok()) << w.nlw.status;
  ASSERT_TRUE(w.far.status.ok()) << w.far.status;
  EXPECT_EQ(cmd::FarResult::FromResult(w.far.result).addresses, 70u);
  EXPECT_EQ(cmd::NlwResult::FromResult(w.nlw.result).count, 70u);
  ASSERT_EQ(w.arr.nsb, 2);
  EXPECT_EQ(w.arr.sbis[0].nfla, 64u);
  EXPECT_EQ(w.arr.sbis[1].nfla, 6u);
  EXPECT_EQ(w.arr.nradu, 58u);
  ASSERT_EQ(w.addresses.size(), 70u);

  std::vector<uint8_t> data;
  const Completion r = h.Read(w.addresses[0], 64, &data, *UserAddress::Make(Lba(100), 0x5EF));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(HoldsPattern(data, 100));
  ASSERT_TRUE(h.Read(w.addresses[64], 6, &data).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 164));

  // Copy the closed first SB's first 8 ADUs into a freshly erased SB.
  ModelHarness::Erased e = h.Erase(d);
  ASSERT_TRUE(e.completion.status.ok()) << e.completion.status;
  EXPECT_EQ(e.capacity, 64u);
  ModelHarness::Copied c = h.Copy(d, e.sb, cmd::CopyBitmap{w.addresses[0], {0xFF}});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  ASSERT_TRUE(c.nlc.status.ok()) << c.nlc.status;
  EXPECT_EQ(c.header.processed_adus, 8u);
  EXPECT_EQ(c.header.adus_left, 56u);
  EXPECT_TRUE(c.header.copy_status & wire::kCopyConsumedSource);
  ASSERT_EQ(c.changes.size(), 8u);
  ASSERT_TRUE(
      h.Read(FlashAddress::FromRaw(c.changes[3].nfa), 1, &data, *UserAddress::Make(Lba(103), 0x5EF))
          .status.ok());
  EXPECT_TRUE(HoldsPattern(data, 103));

  const SuperBlockId first = w.addresses[0].super_block(h.FormatOf(d).address);
  EXPECT_TRUE(h.SuperBlockOp(d, wire::SbOperation::kFree, first).status.ok());
  EXPECT_EQ(h.Read(w.addresses[0], 1, &data).status, testing::Media(0x87));
}

// Regression (unit_config_fuzzer): a valid configuration of 65536 dies x 65536 blocks made
// Open allocate 32 GiB of per-block state (std::bad_alloc, or the OOM killer).
TEST(ModelTest, OpenRefusesUnitsTooLargeToEmulate) {
  // channels x banks dies of `blocks` blocks of pages x planes plane pages of `bytes`.
  const auto unit = [](uint32_t channels, uint32_t banks, uint32_t blocks, uint32_t pages,
                       uint32_t planes, uint32_t bytes, AddressFormat address) {
    UnitConfig c = testing::LoadTestUnit("tiny");
    c.channels = channels;
    c.banks = banks;
    c.blocks_per_die = blocks;
    c.pages_per_block = pages;
    c.planes = planes;
    c.plane_data_bytes = bytes;
    c.address = address;
    EXPECT_TRUE(c.Validate().ok()) << c.Validate();
    return Controller::Open({.config = c}).status();
  };
  absl::Status s = unit(256, 256, 65536, 1, 1, 4096, {32, 16});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("4294967296 physical blocks"), std::string::npos) << s;
  // A super block of more ADUs than the model lists: 256 dies of 131072-ADU blocks.
  s = unit(16, 16, 1, 256, 16, 131072, {8, 25});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("33554432 ADUs"), std::string::npos) << s;
}

}  // namespace
}  // namespace sef::model
