// The HAL over a unit that loses power (the device model's volatile write cache,
// docs/model.md "Power loss"): what was flushed or written with FUA survives, what was not
// may vanish only as a suffix of each super block, vanished ADUs read as unwritten ones do,
// SB information shows the rolled-back write pointer, and commands while the power is off
// fail with the power-loss status. Run with both completion orders.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/hal/hal.h"
#include "sef/hal/testing/test_unit.h"

namespace sef::hal {
namespace {

using testing::TestUnit;

std::vector<uint8_t> Pattern(uint64_t lba, uint32_t adus) {
  std::vector<uint8_t> data(uint64_t{adus} * wire::kAduDataBytes);
  for (uint32_t i = 0; i < adus; ++i) {
    std::memset(data.data() + uint64_t{i} * wire::kAduDataBytes,
                static_cast<int>((lba + i) * 29 + 3), wire::kAduDataBytes);
  }
  return data;
}

UserAddress Ua(uint64_t lba) { return *UserAddress::Make(Lba(lba), 0x90D); }

absl::StatusOr<WriteResult> WriteLbas(QosDomain& d, WriteTarget target, uint64_t lba, uint32_t adus,
                                      bool fua) {
  std::vector<uint8_t> data = Pattern(lba, adus);
  iovec iov{data.data(), data.size()};
  return d.Write({.target = target, .start = Ua(lba), .data = {&iov, 1}, .fua = fua});
}

// What one super block was given before the cut: `lbas[i]` went to ADU i; the first
// `durable` of them were made durable.
struct Written {
  SuperBlockId sb;
  uint64_t first_lba = 0;
  uint32_t adus = 0, durable = 0;
};

class HalPowerLossTest : public ::testing::TestWithParam<CompletionOrder> {};

TEST_P(HalPowerLossTest, WhatWasMadeDurableSurvivesTheRestMayVanishAsASuffix) {
  int lost_some = 0, kept_some = 0;
  for (uint64_t seed = 0; seed < 24; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    absl::StatusOr<std::unique_ptr<TestUnit>> t = TestUnit::Open(
        {.edit_config = [](model::UnitConfig& c) { c.write_cache = model::WriteCache::kVolatile; },
         .transport = {.completion_order = GetParam(), .shuffle_seed = seed}});
    ASSERT_TRUE(t.ok()) << t.status();
    absl::StatusOr<QosDomainId> id = (*t)->Provision({.dies_per_super_block = 2});
    ASSERT_TRUE(id.ok()) << id.status();
    std::vector<Written> sbs;
    {
      std::unique_ptr<QosDomain> d = *(*t)->unit().OpenQosDomain(*id);
      // A: 10 ADUs flushed, 6 more not. B: 5 with FUA, 3 more without. C (by placement id):
      // 7 ADUs, neither flushed nor FUA (less than one 8-ADU die page of the tiny unit).
      absl::StatusOr<SuperBlockAllocation> a = d->AllocateSuperBlock();
      absl::StatusOr<SuperBlockAllocation> b = d->AllocateSuperBlock();
      ASSERT_TRUE(a.ok() && b.ok());
      ASSERT_TRUE(WriteLbas(*d, a->id, 100, 10, false).ok());
      ASSERT_TRUE(d->FlushSuperBlock(a->id).ok());
      ASSERT_TRUE(WriteLbas(*d, a->id, 110, 6, false).ok());
      ASSERT_TRUE(WriteLbas(*d, b->id, 200, 5, true).ok());
      ASSERT_TRUE(WriteLbas(*d, b->id, 205, 3, false).ok());
      absl::StatusOr<WriteResult> c = WriteLbas(*d, ByPlacement{PlacementId(0)}, 300, 7, false);
      ASSERT_TRUE(c.ok()) << c.status();
      sbs = {
          {a->id, 100, 16, 10}, {b->id, 200, 8, 5}, {d->SuperBlockOf(c->addresses[0]), 300, 7, 0}};

      (*t)->controller().PowerCut(seed);
      std::vector<uint8_t> buffer(wire::kAduDataBytes);
      iovec iov{buffer.data(), buffer.size()};
      const absl::Status off = d->Read({.address = c->addresses[0], .data = {&iov, 1}});
      EXPECT_EQ(off.code(), absl::StatusCode::kUnavailable) << off;
      EXPECT_EQ(NvmeStatusOf(off).value_or(NvmeStatus()).sc(), wire::sc::kAbortedPowerLoss);
    }
    ASSERT_TRUE((*t)->Restart().ok());
    std::unique_ptr<QosDomain> d = *(*t)->unit().OpenQosDomain(*id);
    for (const Written& w : sbs) {
      absl::StatusOr<SuperBlockDetails> info = d->GetSuperBlockInfo(w.sb);
      ASSERT_TRUE(info.ok()) << info.status();
      const uint32_t kept = info->written_adus;
      EXPECT_GE(kept, w.durable) << "SB " << w.sb;
      EXPECT_LE(kept, w.adus) << "SB " << w.sb;
      lost_some += kept < w.adus;
      kept_some += kept > w.durable;
      // The surviving prefix reads back with data and user addresses.
      if (kept > 0) {
        std::vector<uint8_t> back(uint64_t{kept} * wire::kAduDataBytes);
        iovec iov{back.data(), back.size()};
        ASSERT_TRUE(d->Read({.address = info->address,
                             .adus = AduCount(kept),
                             .verify = Ua(w.first_lba),
                             .data = {&iov, 1}})
                        .ok());
        EXPECT_EQ(back, Pattern(w.first_lba, kept));
      }
      // The vanished suffix reads as never written: zeros, another user address.
      if (kept < w.adus) {
        const FlashAddress lost = *d->AddressOf(w.sb, AduOffset(kept));
        std::vector<uint8_t> back(wire::kAduDataBytes, 0xEE);
        iovec iov{back.data(), back.size()};
        ASSERT_TRUE(d->Read({.address = lost, .data = {&iov, 1}}).ok());
        EXPECT_EQ(back, std::vector<uint8_t>(wire::kAduDataBytes, 0));
        const absl::Status verified =
            d->Read({.address = lost, .verify = Ua(w.first_lba + kept), .data = {&iov, 1}});
        EXPECT_EQ(NvmeStatusOf(verified), NvmeStatus(2, wire::sc::kCompareFailure, true));
      }
    }
    // The open SBs are still usable after the restart: A takes more data at its pointer.
    absl::StatusOr<WriteResult> more = WriteLbas(*d, sbs[0].sb, 400, 1, true);
    ASSERT_TRUE(more.ok()) << more.status();
    EXPECT_EQ(d->OffsetOf(more->addresses[0]).value(),
              d->GetSuperBlockInfo(sbs[0].sb)->written_adus - 1);
  }
  EXPECT_GT(lost_some, 0);  // the rule was exercised both ways
  EXPECT_GT(kept_some, 0);
}

TEST_P(HalPowerLossTest, ATriggeredCutFailsEveryLaterCommandUntilRestart) {
  absl::StatusOr<std::unique_ptr<TestUnit>> t = TestUnit::Open(
      {.edit_config = [](model::UnitConfig& c) { c.write_cache = model::WriteCache::kVolatile; },
       .transport = {.completion_order = GetParam()}});
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<QosDomainId> id = (*t)->Provision({.dies_per_super_block = 2});
  ASSERT_TRUE(id.ok()) << id.status();
  {
    std::unique_ptr<QosDomain> d = *(*t)->unit().OpenQosDomain(*id);
    (*t)->controller().CutPowerAfter(4, /*seed=*/9);  // two FAR+NLW pairs
    EXPECT_TRUE(WriteLbas(*d, ByPlacement{PlacementId(0)}, 0, 1, true).ok());
    EXPECT_TRUE(WriteLbas(*d, ByPlacement{PlacementId(0)}, 1, 1, true).ok());
    absl::StatusOr<WriteResult> third = WriteLbas(*d, ByPlacement{PlacementId(0)}, 2, 1, true);
    EXPECT_EQ(third.status().code(), absl::StatusCode::kUnavailable) << third.status();
    EXPECT_FALSE((*t)->controller().powered());
  }
  ASSERT_TRUE((*t)->Restart().ok());
  std::unique_ptr<QosDomain> d = *(*t)->unit().OpenQosDomain(*id);
  absl::StatusOr<std::vector<SuperBlockEntry>> list = d->ListSuperBlocks();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(d->GetSuperBlockInfo((*list)[0].id)->written_adus, 2u);  // both FUA writes
}

INSTANTIATE_TEST_SUITE_P(Orders, HalPowerLossTest,
                         ::testing::Values(CompletionOrder::kInline, CompletionOrder::kShuffled),
                         [](const ::testing::TestParamInfo<CompletionOrder>& info) {
                           return info.param == CompletionOrder::kInline ? "inline" : "shuffled";
                         });

}  // namespace
}  // namespace sef::hal
