// Conformance tests of the device model's I/O commands, driven only through encoded commands:
// Super Block Management (every operation and rule), FAR+NLW pairs (by placement id across
// SBs, into a given SB, partial writes, pSLC, FUA, user addresses, metadata), Read (verify,
// metadata, limits), NLC+GCR pairs (bitmap and list sources, filters, ACR paging, destination
// filling), and the pairing rules (NLWID/NLCID conflicts, missing partners, unpaired timeout).
//
// Geometry used throughout (testdata/units/tiny.json): 4 dies, 2 planes, 4 pages per block,
// 16 blocks per die, 4 ADUs per plane page. VD 1 = dies 0-3 with 2 dies per SB: SBs of
// 2 x 32 = 64 ADUs (16 plane pages), 32 SBs, 512 plane pages. pSLC SBs hold 16 ADUs.
#include <chrono>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "sef/base/clock.h"
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

// ---- Super Block Management ------------------------------------------------------------------

TEST_F(IoTest, EraseDeviceChosenReturnsSbAndCapacity) {
  const ModelHarness::Erased a = h_.Erase(d_);
  ASSERT_TRUE(a.completion.status.ok()) << a.completion.status;
  EXPECT_EQ(a.capacity, kSbAdus);
  const ModelHarness::Erased b = h_.Erase(d_);
  ASSERT_TRUE(b.completion.status.ok()) << b.completion.status;
  EXPECT_NE(a.sb, b.sb);
  const wire::SbInfoLog info = h_.SbInfo(kVd, a.sb);
  EXPECT_EQ(info.sbs, wire::kSbsOpenByErase);
  EXPECT_EQ(info.sbid, a.sb.value());
  EXPECT_EQ(info.qosdid, d_.value());
  EXPECT_EQ(info.vdid, kVd.value());
  EXPECT_EQ(info.cap, kSbAdus);
  EXPECT_EQ(info.aduptr, 0u);
  EXPECT_EQ(info.pid, 0xFFFF);
  EXPECT_EQ(info.peci, 1);
  EXPECT_LT(info.esn, h_.SbInfo(kVd, b.sb).esn);  // erase serial numbers increase
  EXPECT_EQ(h_.VdInfo(kVd).sbsta.neosb, 2u);
  EXPECT_EQ(h_.NamespaceInfo(d_).sbsta.neosb, 2);
  EXPECT_EQ(h_.NamespaceInfo(d_).sbsta.nsb, 2u);
  EXPECT_EQ(h_.NamespaceInfo(d_).sbsta.ucap, 2u * 16);
}

TEST_F(IoTest, EraseGivenSbAndItsRules) {
  const ModelHarness::Erased e = h_.Erase(d_, SuperBlockId(5));
  ASSERT_TRUE(e.completion.status.ok()) << e.completion.status;
  EXPECT_EQ(e.sb, SuperBlockId(5));
  EXPECT_EQ(e.capacity, kSbAdus);
  // Not free any more: a second erase of the same id is out of sequence.
  EXPECT_EQ(h_.Erase(d_, SuperBlockId(5)).completion.status, Generic(sc::kCommandSequenceError));
  // Past the VD's 32 SBs (but inside the 16-bit SB field).
  EXPECT_EQ(h_.Erase(d_, SuperBlockId(32)).completion.status, Generic(sc::kInvalidField));
  // Owned by another domain: not free either.
  const QosDomainId other = Domain(64, 64);
  EXPECT_EQ(h_.Erase(other, SuperBlockId(5)).completion.status, Generic(sc::kCommandSequenceError));
}

TEST_F(IoTest, EraseWithBufferReturnsSbInfo) {
  std::vector<uint8_t> buf;
  const Completion c = Sbm(d_, wire::SbOperation::kErase, kDeviceChoosesSuperBlock.value(), &buf);
  ASSERT_TRUE(c.status.ok()) << c.status;
  wire::SbInfoLog info;
  std::memcpy(&info, buf.data(), sizeof(info));
  EXPECT_EQ(info.sbid, cmd::EraseResult::FromResult(c.result).sb.value());
  EXPECT_EQ(info.sbs, wire::kSbsOpenByErase);
  EXPECT_EQ(info.cap, kSbAdus);
}

TEST_F(IoTest, CloseReportsCcOnlyWhenItClosed) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.Write(d_, e.sb, Lba(0), 3).nlw.status.ok());
  std::vector<uint8_t> buf;
  Completion c = Sbm(d_, wire::SbOperation::kClose, e.sb.value(), &buf);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(cmd::CloseResult::FromResult(c.result), (cmd::CloseResult{e.sb, true}));
  EXPECT_EQ(c.result >> 63, 1u);  // CC in DW1 bit 31
  wire::SbInfoLog info;
  std::memcpy(&info, buf.data(), sizeof(info));
  EXPECT_EQ(info.sbs, wire::kSbsClosed);
  EXPECT_EQ(info.aduptr, 3u);
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs, wire::kSbsClosed);
  // Closing a closed SB succeeds without CC.
  c = Sbm(d_, wire::SbOperation::kClose, e.sb.value(), nullptr);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(cmd::CloseResult::FromResult(c.result), (cmd::CloseResult{e.sb, false}));
  EXPECT_EQ(h_.VdInfo(kVd).sbsta.nclsb, 1u);
}

TEST_F(IoTest, OperationsOnSbsNotOwnedAreInvalidField) {
  const QosDomainId other = Domain(64, 64);
  const ModelHarness::Erased theirs = h_.Erase(other);
  ASSERT_TRUE(theirs.completion.status.ok());
  for (wire::SbOperation op : {wire::SbOperation::kClose, wire::SbOperation::kFree,
                               wire::SbOperation::kPatrol, wire::SbOperation::kFlush}) {
    // A free SB, another domain's SB, an SB past the VD.
    EXPECT_EQ(h_.SuperBlockOp(d_, op, SuperBlockId(20)).status, Generic(sc::kInvalidField))
        << static_cast<int>(op);
    EXPECT_EQ(h_.SuperBlockOp(d_, op, theirs.sb).status, Generic(sc::kInvalidField))
        << static_cast<int>(op);
    EXPECT_EQ(h_.SuperBlockOp(d_, op, SuperBlockId(40)).status, Generic(sc::kInvalidField))
        << static_cast<int>(op);
  }
  EXPECT_EQ(h_.SbInfo(kVd, theirs.sb).sbs, wire::kSbsOpenByErase);
}

TEST_F(IoTest, FreeReturnsTheSbToTheVd) {
  const uint32_t free_before = h_.VdInfo(kVd).sbsta.nfrsb;
  EXPECT_EQ(free_before, 32u);
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.Write(d_, e.sb, Lba(0), 4).nlw.status.ok());
  EXPECT_EQ(h_.VdInfo(kVd).sbsta.nfrsb, 31u);
  const Completion c = h_.SuperBlockOp(d_, wire::SbOperation::kFree, e.sb);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(cmd::FreeResult::FromResult(c.result).sb, e.sb);
  EXPECT_EQ(h_.VdInfo(kVd).sbsta.nfrsb, 32u);
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs, wire::kSbsFree);
  EXPECT_EQ(h_.NamespaceInfo(d_).sbsta.ucap, 0u);
  EXPECT_EQ(h_.NamespaceInfo(d_).sbsta.nsb, 0u);
  // Freed: a second free is not an SB of the domain any more.
  EXPECT_EQ(h_.SuperBlockOp(d_, wire::SbOperation::kFree, e.sb).status, Generic(sc::kInvalidField));
  // It can be erased again by id.
  EXPECT_TRUE(h_.Erase(d_, e.sb).completion.status.ok());
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).peci, 2);
}

TEST_F(IoTest, PatrolAndFlush) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.Write(d_, e.sb, Lba(0), 2).nlw.status.ok());
  Completion c = h_.SuperBlockOp(d_, wire::SbOperation::kPatrol, e.sb);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(cmd::PatrolResult::FromResult(c.result).integrity_index, 0);
  std::vector<uint8_t> buf;
  c = Sbm(d_, wire::SbOperation::kFlush, e.sb.value(), &buf);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(cmd::CloseResult::FromResult(c.result), (cmd::CloseResult{e.sb, false}));
  wire::SbInfoLog info;
  std::memcpy(&info, buf.data(), sizeof(info));
  EXPECT_EQ(info.aduptr, 2u);
  EXPECT_EQ(info.sbs, wire::kSbsOpenByErase);  // flush does not close
}

TEST_F(IoTest, PslcEraseNeedsPslcSuperBlocksAndQuota) {
  const QosDomainId p = Domain(64, 64, 4, /*pslc_capacity=*/8, /*pslc_quota=*/8);
  // The VD has no pSLC SBs yet.
  EXPECT_EQ(h_.Erase(p, kDeviceChoosesSuperBlock, true).completion.status,
            Generic(sc::kCapacityExceeded));
  ASSERT_TRUE(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 1}).status.ok());
  const ModelHarness::Erased e = h_.Erase(p, kDeviceChoosesSuperBlock, true);
  ASSERT_TRUE(e.completion.status.ok()) << e.completion.status;
  EXPECT_EQ(e.capacity, kSbAdus / 4);
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs, wire::kSbsOpenByErase | wire::kSbsPslc);
  EXPECT_EQ(h_.NamespaceInfo(p).psbsta.ucap, 4u);
  // The VD's pSLC SB limit (quota would allow a second).
  EXPECT_EQ(h_.Erase(p, kDeviceChoosesSuperBlock, true).completion.status,
            Generic(sc::kCapacityExceeded));
  ASSERT_TRUE(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 4}).status.ok());
  EXPECT_TRUE(h_.Erase(p, kDeviceChoosesSuperBlock, true).completion.status.ok());
  // The domain's pSLC quota (8 plane pages = 2 pSLC SBs).
  EXPECT_EQ(h_.Erase(p, kDeviceChoosesSuperBlock, true).completion.status,
            Generic(sc::kCapacityExceeded));
  // A domain without pSLC quota.
  EXPECT_EQ(h_.Erase(d_, kDeviceChoosesSuperBlock, true).completion.status,
            Generic(sc::kCapacityExceeded));
}

TEST_F(IoTest, MaxOpenSuperBlocks) {
  const QosDomainId d = Domain(256, 256, /*max_open=*/2);
  const ModelHarness::Erased a = h_.Erase(d);
  ASSERT_TRUE(a.completion.status.ok());
  ASSERT_TRUE(h_.Erase(d).completion.status.ok());
  EXPECT_EQ(h_.Erase(d).completion.status, CommandSpecific(0xBE));
  EXPECT_EQ(h_.Erase(d, SuperBlockId(30)).completion.status, CommandSpecific(0xBE));
  // A write by placement would open a third.
  const ModelHarness::Written w = h_.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(0), 1);
  EXPECT_EQ(w.far.status, CommandSpecific(0xBE));
  EXPECT_EQ(w.nlw.status, CommandSpecific(0xBE));
  ASSERT_TRUE(h_.SuperBlockOp(d, wire::SbOperation::kClose, a.sb).status.ok());
  EXPECT_TRUE(h_.Erase(d).completion.status.ok());
}

TEST_F(IoTest, QuotaExhausted) {
  const QosDomainId d = Domain(32, 32);  // two SBs
  const ModelHarness::Erased a = h_.Erase(d);
  ASSERT_TRUE(a.completion.status.ok());
  ASSERT_TRUE(h_.SuperBlockOp(d, wire::SbOperation::kClose, a.sb).status.ok());
  ASSERT_TRUE(h_.Erase(d).completion.status.ok());
  EXPECT_EQ(h_.Erase(d).completion.status, Generic(sc::kCapacityExceeded));
  // Freeing gives the quota back.
  ASSERT_TRUE(h_.SuperBlockOp(d, wire::SbOperation::kFree, a.sb).status.ok());
  EXPECT_TRUE(h_.Erase(d).completion.status.ok());
}

TEST_F(IoTest, WriteByPlacementStopsAtQuotaWithPartialWrite) {
  const QosDomainId d = Domain(32, 32);  // two SBs
  const ModelHarness::Written w = h_.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(0), 150);
  ASSERT_TRUE(w.far.status.ok()) << w.far.status;
  EXPECT_EQ(cmd::FarResult::FromResult(w.far.result).addresses, 128u);
  EXPECT_EQ(w.nlw.status, Vendor(sc::kPartialWrite));
  EXPECT_EQ(w.nlw.status.raw() & 0x7FF, 0x7F0);
  EXPECT_EQ(cmd::NlwResult::FromResult(w.nlw.result).count, 22u);  // ADUs not written
  EXPECT_EQ(w.arr.nsb, 2);
  EXPECT_EQ(w.arr.nradu, 0u);
  // Nothing is left: the next write fails whole.
  const ModelHarness::Written next = h_.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(200), 1);
  EXPECT_EQ(next.far.status, Generic(sc::kCapacityExceeded));
  EXPECT_EQ(next.nlw.status, Generic(sc::kCapacityExceeded));
}

TEST(IoNoFreeSb, EraseWithoutFreeSuperBlockIsCapacityExceeded) {
  ModelHarness h = ModelHarness::Open("tiny");
  ASSERT_TRUE(h.ok());
  h.CreateVirtualDevice(kVd, {0}, 1);  // 16 SBs of 32 ADUs (8 plane pages)
  cmd::QosDomainSpec spec = h.DefaultSpec(kVd);
  spec.capacity = PlanePageCount(64);
  spec.quota = PlanePageCount(128);  // quota is not what runs out
  const QosDomainId a = h.CreateDomain(spec);
  spec.quota = PlanePageCount(64);
  const QosDomainId b = h.CreateDomain(spec);
  for (int i = 0; i < 8; ++i) {
    const ModelHarness::Erased e = h.Erase(b);
    ASSERT_TRUE(e.completion.status.ok()) << i;
    ASSERT_TRUE(h.SuperBlockOp(b, wire::SbOperation::kClose, e.sb).status.ok());
  }
  for (int i = 0; i < 8; ++i) {
    const ModelHarness::Erased e = h.Erase(a);
    ASSERT_TRUE(e.completion.status.ok()) << i;
    ASSERT_TRUE(h.SuperBlockOp(a, wire::SbOperation::kClose, e.sb).status.ok());
  }
  EXPECT_EQ(h.VdInfo(kVd).sbsta.nfrsb, 0u);
  EXPECT_EQ(h.Erase(a).completion.status, Generic(sc::kCapacityExceeded));
  EXPECT_EQ(h.VdInfo(kVd).crit_warn & wire::kCritOutOfSuperBlocks, wire::kCritOutOfSuperBlocks);
}

// ---- FAR + NLW --------------------------------------------------------------------------------

TEST_F(IoTest, WriteByPlacementAcrossSuperBlocks) {
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(1)}, Lba(1000), 150);
  ASSERT_TRUE(w.far.status.ok()) << w.far.status;
  ASSERT_TRUE(w.nlw.status.ok()) << w.nlw.status;
  EXPECT_EQ(cmd::FarResult::FromResult(w.far.result).addresses, 150u);
  EXPECT_EQ(cmd::NlwResult::FromResult(w.nlw.result), (cmd::NlwResult{150, 0}));
  ASSERT_EQ(w.arr.nsb, 3);
  EXPECT_EQ(w.arr.npsp, 4);  // 2 dies x 2 planes
  EXPECT_EQ(w.arr.sbis[0].nfla, 64u);
  EXPECT_EQ(w.arr.sbis[1].nfla, 64u);
  EXPECT_EQ(w.arr.sbis[2].nfla, 22u);
  EXPECT_EQ(w.arr.nradu, 42u);
  std::vector<uint32_t> sbs;
  for (int i = 0; i < 3; ++i) {
    const FlashAddress start = FlashAddress::FromRaw(w.arr.sbis[i].sfla);
    EXPECT_EQ(start.domain(), d_);
    EXPECT_EQ(OffsetOf(start), 0u);
    sbs.push_back(SbOf(start));
  }
  EXPECT_NE(sbs[0], sbs[1]);
  EXPECT_NE(sbs[1], sbs[2]);
  for (int i = 0; i < 2; ++i) {
    const wire::SbInfoLog info = h_.SbInfo(kVd, SuperBlockId(sbs[i]));
    EXPECT_EQ(info.sbs, wire::kSbsClosed);
    EXPECT_EQ(info.aduptr, 64u);
    EXPECT_EQ(info.pid, 1);
  }
  const wire::SbInfoLog open = h_.SbInfo(kVd, SuperBlockId(sbs[2]));
  EXPECT_EQ(open.sbs, wire::kSbsOpenByPlacement);
  EXPECT_EQ(open.aduptr, 22u);
  EXPECT_EQ(open.pid, 1);
  EXPECT_EQ(h_.VdInfo(kVd).sbsta.nwosb, 1u);
  EXPECT_EQ(h_.NamespaceInfo(d_).sbsta.nwosb, 1);
  // Every ADU reads back from its tentative address.
  std::vector<uint8_t> data;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(h_.Read(FlashAddress::FromRaw(w.arr.sbis[i].sfla), w.arr.sbis[i].nfla, &data,
                        Ua(1000 + 64 * i))
                    .status.ok());
    EXPECT_TRUE(HoldsPattern(data, 1000 + 64 * i)) << i;
  }
  // The next write to the placement id continues the open SB.
  const ModelHarness::Written next = h_.Write(d_, cmd::ByPlacement{PlacementId(1)}, Lba(2000), 5);
  ASSERT_TRUE(next.nlw.status.ok());
  ASSERT_EQ(next.arr.nsb, 1);
  EXPECT_EQ(FlashAddress::FromRaw(next.arr.sbis[0].sfla), Fla(d_, sbs[2], 22));
  EXPECT_EQ(next.arr.nradu, 37u);
}

TEST_F(IoTest, PlacementIdsFillSeparateSuperBlocks) {
  const ModelHarness::Written a = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 3);
  const ModelHarness::Written b = h_.Write(d_, cmd::ByPlacement{PlacementId(1)}, Lba(10), 3);
  ASSERT_TRUE(a.nlw.status.ok() && b.nlw.status.ok());
  EXPECT_NE(SbOf(a.addresses[0]), SbOf(b.addresses[0]));
  EXPECT_EQ(OffsetOf(b.addresses[0]), 0u);
  EXPECT_EQ(h_.SbInfo(kVd, SuperBlockId(SbOf(b.addresses[0]))).pid, 1);
}

TEST_F(IoTest, WriteByPlacementStopsAfterEightExtents) {
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 600);
  ASSERT_TRUE(w.far.status.ok()) << w.far.status;
  EXPECT_EQ(cmd::FarResult::FromResult(w.far.result).addresses, 512u);
  EXPECT_EQ(w.arr.nsb, 8);
  EXPECT_EQ(w.arr.nradu, 0u);  // the last SB closed
  EXPECT_EQ(w.nlw.status, Vendor(sc::kPartialWrite));
  EXPECT_EQ(cmd::NlwResult::FromResult(w.nlw.result).count, 88u);
}

TEST_F(IoTest, WriteIntoGivenSuperBlockWithPartialWrite) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ModelHarness::Written w = h_.Write(d_, e.sb, Lba(0), 10);
  ASSERT_TRUE(w.far.status.ok()) << w.far.status;
  ASSERT_TRUE(w.nlw.status.ok()) << w.nlw.status;
  ASSERT_EQ(w.arr.nsb, 1);
  EXPECT_EQ(FlashAddress::FromRaw(w.arr.sbis[0].sfla), Fla(d_, e.sb.value(), 0));
  EXPECT_EQ(w.arr.nradu, 54u);
  // 60 more: 54 fit, the SB closes, the NLW reports the 6 it did not write.
  w = h_.Write(d_, e.sb, Lba(10), 60);
  ASSERT_TRUE(w.far.status.ok()) << w.far.status;
  EXPECT_EQ(cmd::FarResult::FromResult(w.far.result).addresses, 54u);
  EXPECT_EQ(w.nlw.status, Vendor(sc::kPartialWrite));
  EXPECT_EQ(cmd::NlwResult::FromResult(w.nlw.result).count, 6u);
  ASSERT_EQ(w.arr.nsb, 1);
  EXPECT_EQ(w.arr.sbis[0].nfla, 54u);
  EXPECT_EQ(FlashAddress::FromRaw(w.arr.sbis[0].sfla), Fla(d_, e.sb.value(), 10));
  EXPECT_EQ(w.arr.nradu, 0u);
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs, wire::kSbsClosed);
  std::vector<uint8_t> data;
  ASSERT_TRUE(h_.Read(Fla(d_, e.sb.value(), 0), 64, &data, Ua(0)).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 0));
  // Writing a closed SB.
  w = h_.Write(d_, e.sb, Lba(100), 1);
  EXPECT_EQ(w.far.status, Generic(sc::kCommandSequenceError));
  EXPECT_EQ(w.nlw.status, Generic(sc::kCommandSequenceError));
}

TEST_F(IoTest, WriteIntoSbClosedByCommand) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, e.sb).status.ok());
  const ModelHarness::Written w = h_.Write(d_, e.sb, Lba(0), 1);
  EXPECT_EQ(w.far.status, Generic(sc::kCommandSequenceError));
  EXPECT_EQ(w.nlw.status, Generic(sc::kCommandSequenceError));
}

TEST_F(IoTest, WriteIntoFreedOrForeignSuperBlock) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kFree, e.sb).status.ok());
  ModelHarness::Written w = h_.Write(d_, e.sb, Lba(0), 1);
  EXPECT_EQ(w.far.status, Generic(sc::kInvalidField));
  EXPECT_EQ(w.nlw.status, Generic(sc::kInvalidField));
  const QosDomainId other = Domain(64, 64);
  const ModelHarness::Erased theirs = h_.Erase(other);
  w = h_.Write(d_, theirs.sb, Lba(0), 1);
  EXPECT_EQ(w.far.status, Generic(sc::kInvalidField));
  EXPECT_EQ(w.nlw.status, Generic(sc::kInvalidField));
  EXPECT_EQ(h_.SbInfo(kVd, theirs.sb).aduptr, 0u);
}

TEST_F(IoTest, WriteIntoSbOpenedByPlacement) {
  // A write naming an SB that a placement id opened appends at its write pointer.
  const ModelHarness::Written a = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 3);
  const uint32_t sb = SbOf(a.addresses[0]);
  const ModelHarness::Written b = h_.Write(d_, SuperBlockId(sb), Lba(3), 2);
  ASSERT_TRUE(b.nlw.status.ok()) << b.nlw.status;
  EXPECT_EQ(FlashAddress::FromRaw(b.arr.sbis[0].sfla), Fla(d_, sb, 3));
}

TEST_F(IoTest, PslcWriteByPlacement) {
  const QosDomainId p = Domain(64, 64, 4, 8, 8);
  // No pSLC SBs in the VD: nothing can be allocated.
  ModelHarness::Written w = h_.Write(p, cmd::ByPlacement{PlacementId(0), true}, Lba(0), 1);
  EXPECT_EQ(w.far.status, Generic(sc::kCapacityExceeded));
  EXPECT_EQ(w.nlw.status, Generic(sc::kCapacityExceeded));
  ASSERT_TRUE(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 2}).status.ok());
  w = h_.Write(p, cmd::ByPlacement{PlacementId(0), true}, Lba(0), 20);
  ASSERT_TRUE(w.nlw.status.ok()) << w.nlw.status;
  ASSERT_EQ(w.arr.nsb, 2);
  EXPECT_EQ(w.arr.sbis[0].nfla, 16u);
  EXPECT_EQ(w.arr.sbis[1].nfla, 4u);
  EXPECT_EQ(w.arr.nradu, 12u);
  const SuperBlockId first(SbOf(w.addresses[0]));
  EXPECT_EQ(h_.SbInfo(kVd, first).sbs, wire::kSbsClosed | wire::kSbsPslc);
  EXPECT_EQ(h_.SbInfo(kVd, first).cap, 16u);
  EXPECT_EQ(h_.SbInfo(kVd, SuperBlockId(SbOf(w.addresses[16]))).sbs,
            wire::kSbsOpenByPlacement | wire::kSbsPslc);
  std::vector<uint8_t> data;
  ASSERT_TRUE(h_.Read(w.addresses[10], 6, &data, Ua(10)).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 10));
  EXPECT_EQ(h_.Read(w.addresses[10], 7, &data).status,
            Generic(sc::kLbaOutOfRange));  // past the pSLC SB
  ASSERT_TRUE(h_.Read(w.addresses[16], 4, &data, Ua(16)).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 16));
  // pSLC and normal writes of one placement id go to different SBs.
  const ModelHarness::Written n = h_.Write(p, cmd::ByPlacement{PlacementId(0)}, Lba(50), 1);
  ASSERT_TRUE(n.nlw.status.ok());
  EXPECT_EQ(h_.SbInfo(kVd, SuperBlockId(SbOf(n.addresses[0]))).sbs, wire::kSbsOpenByPlacement);
}

TEST_F(IoTest, FuaWrite) {
  const ModelHarness::Written w =
      h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(5), 4, /*fua=*/true);
  ASSERT_TRUE(w.nlw.status.ok()) << w.nlw.status;
  EXPECT_EQ(cmd::NlwResult::FromResult(w.nlw.result).count, 4u);
  std::vector<uint8_t> data;
  ASSERT_TRUE(h_.Read(w.addresses[0], 4, &data, Ua(5)).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 5));
}

TEST_F(IoTest, UserAddressesAutoIncrementInLogD4) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.Write(d_, e.sb, Lba(100), 5).nlw.status.ok());
  std::vector<uint64_t> uas = UserAddresses(d_, e.sb.value(), 0, kSbAdus);
  for (uint32_t i = 0; i < 5; ++i) EXPECT_EQ(uas[i], Ua(100 + i).raw()) << i;
  for (uint32_t i = 5; i < kSbAdus; ++i) EXPECT_EQ(uas[i], ~uint64_t{0}) << i;
  // Paging: a byte offset of 16 starts at entry 2; a short buffer gets the first entries.
  uas = UserAddresses(d_, e.sb.value(), 16, 2);
  EXPECT_EQ(uas[0], Ua(102).raw());
  EXPECT_EQ(uas[1], Ua(103).raw());
  uas = UserAddresses(d_, e.sb.value(), 8 * 63, 2);  // last entry, then zero fill
  EXPECT_EQ(uas[0], ~uint64_t{0});
  EXPECT_EQ(uas[1], 0u);
  // A second write continues the SB's ADUs; user addresses restart at its own start.
  ASSERT_TRUE(h_.Write(d_, e.sb, Lba(7), 2).nlw.status.ok());
  uas = UserAddresses(d_, e.sb.value(), 5 * 8, 3);
  EXPECT_EQ(uas[0], Ua(7).raw());
  EXPECT_EQ(uas[1], Ua(8).raw());
  EXPECT_EQ(uas[2], ~uint64_t{0});
}

TEST_F(IoTest, UserAddressListRules) {
  std::vector<uint8_t> buf(64);
  // A free SB, not the domain's.
  EXPECT_EQ(
      h_.Admin(cmd::UserAddressListLogRequest{d_, SuperBlockId(3), 0, cmd::MutableBytes::Of(buf)})
          .status,
      Generic(sc::kInvalidField));
  // A missing domain.
  EXPECT_EQ(h_.Admin(cmd::UserAddressListLogRequest{QosDomainId(7), SuperBlockId(3), 0,
                                                    cmd::MutableBytes::Of(buf)})
                .status,
            Generic(sc::kInvalidNamespace));
}

TEST_F(IoTest, MetadataRoundTripAndMetadataOnlyRead) {
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(40), 3);
  ASSERT_TRUE(w.nlw.status.ok());
  std::vector<uint8_t> data, meta;
  ASSERT_TRUE(h_.Read(w.addresses[0], 3, &data, UserAddress::Ignore(), &meta).status.ok());
  for (uint32_t i = 0; i < 3; ++i) {
    for (uint32_t b = 0; b < wire::kAduMetaBytes; ++b) {
      EXPECT_EQ(meta[i * 16 + b], ModelHarness::Pattern(40 + i) ^ 0xFF) << i;
    }
  }
  // Metadata only: no data buffer at all.
  std::vector<uint8_t> only(2 * wire::kAduMetaBytes, 0);
  cmd::ReadRequest r;
  r.address = w.addresses[1];
  r.adus = AduCount(2);
  r.verify = Ua(41);
  r.metadata = cmd::MutableBytes::Of(only);
  const Completion c = h_.Io(r, f_);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(only[0], ModelHarness::Pattern(41) ^ 0xFF);
  EXPECT_EQ(only[16], ModelHarness::Pattern(42) ^ 0xFF);
  // Verify applies to metadata-only reads too.
  r.verify = Ua(40);
  EXPECT_EQ(h_.Io(r, f_).status, Media(0x85));
}

TEST_F(IoTest, WriteWithoutMetadataReadsZeroMetadata) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ModelHarness::Slot far = Far(d_, e.sb, 900);
  const Completion nlw = Nlw(d_, e.sb, 900, 60, 2, /*no_metadata=*/true);
  ASSERT_TRUE(nlw.status.ok()) << nlw.status;
  ASSERT_TRUE(far->has_value() && (*far)->status.ok());
  std::vector<uint8_t> data, meta;
  ASSERT_TRUE(h_.Read(Fla(d_, e.sb.value(), 0), 2, &data, Ua(60), &meta).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 60));
  EXPECT_EQ(meta, std::vector<uint8_t>(32, 0));
}

TEST_F(IoTest, ReadVerifyMismatch) {
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(10), 4);
  std::vector<uint8_t> data;
  EXPECT_TRUE(h_.Read(w.addresses[1], 3, &data, Ua(11)).status.ok());
  EXPECT_EQ(h_.Read(w.addresses[1], 3, &data, Ua(10)).status, Media(0x85));
  EXPECT_EQ(h_.Read(w.addresses[0], 1, &data, *UserAddress::Make(Lba(10), 0x123)).status,
            Media(0x85));  // same LBA, other tag
}

// Past an open SB's write pointer the ADUs are erased: they read as zeros, with user address
// all ones (so a verified read fails). Past the SB's capacity there is no ADU.
TEST_F(IoTest, ReadPastTheWritePointer) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.Write(d_, e.sb, Lba(0), 5).nlw.status.ok());
  std::vector<uint8_t> data, meta;
  EXPECT_TRUE(h_.Read(Fla(d_, e.sb.value(), 0), 5, &data).status.ok());
  ASSERT_TRUE(
      h_.Read(Fla(d_, e.sb.value(), 0), 6, &data, UserAddress::Ignore(), &meta).status.ok());
  EXPECT_TRUE(HoldsPattern(std::vector<uint8_t>(data.begin(), data.begin() + 5 * 4096), 0));
  EXPECT_EQ(std::vector<uint8_t>(data.begin() + 5 * 4096, data.end()),
            std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(std::vector<uint8_t>(meta.begin() + 5 * 16, meta.end()), std::vector<uint8_t>(16, 0));
  EXPECT_EQ(h_.Read(Fla(d_, e.sb.value(), 0), 6, &data, Ua(0)).status, Media(0x85));
  EXPECT_TRUE(h_.Read(Fla(d_, e.sb.value(), 63), 1, &data).status.ok());
  EXPECT_EQ(h_.Read(Fla(d_, e.sb.value(), 63), 2, &data).status, Generic(sc::kLbaOutOfRange));
  // Writing later fills what read as zeros.
  ASSERT_TRUE(h_.Write(d_, e.sb, Lba(5), 1).nlw.status.ok());
  ASSERT_TRUE(h_.Read(Fla(d_, e.sb.value(), 5), 1, &data, Ua(5)).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 5));
}

TEST_F(IoTest, ReadFreedOrNeverAllocatedSb) {
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 2);
  std::vector<uint8_t> data;
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kFree, SuperBlockId(SbOf(w.addresses[0])))
                  .status.ok());
  EXPECT_EQ(h_.Read(w.addresses[0], 1, &data).status, Media(0x87));
  EXPECT_EQ(h_.Read(Fla(d_, 17, 0), 1, &data).status, Media(0x87));
  // Past the VD's SBs: no such address exists.
  EXPECT_EQ(h_.Read(Fla(d_, 32, 0), 1, &data).status, Generic(sc::kLbaOutOfRange));
}

TEST_F(IoTest, ReadAnotherDomainsSuperBlock) {
  const QosDomainId other = Domain(64, 64);
  const ModelHarness::Written w = h_.Write(other, cmd::ByPlacement{PlacementId(0)}, Lba(0), 2);
  ASSERT_TRUE(w.nlw.status.ok());
  std::vector<uint8_t> data;
  EXPECT_TRUE(h_.Read(w.addresses[0], 2, &data).status.ok());
  // The same SB through this domain.
  EXPECT_EQ(h_.Read(Fla(d_, SbOf(w.addresses[0]), 0), 1, &data).status, Media(0x86));
}

TEST_F(IoTest, ReadFifoSelection) {
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 1);
  std::vector<uint8_t> data(wire::kAduDataBytes);
  iovec iov{data.data(), data.size()};
  cmd::ReadRequest r;
  r.address = w.addresses[0];
  r.data = {&iov, 1};
  r.fifo = ReadFifoId(1);  // VD 1's default FIFO
  EXPECT_TRUE(h_.Io(r, f_).status.ok());
  r.fifo = ReadFifoId(2);  // not attached
  EXPECT_EQ(h_.Io(r, f_).status, Generic(sc::kInvalidField));
  ASSERT_TRUE(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kAttach, ReadFifoId(2), 9, false})
          .status.ok());
  EXPECT_TRUE(h_.Io(r, f_).status.ok());
}

TEST_F(IoTest, IoOnDetachedOrMissingDomain) {
  std::vector<uint8_t> list(4096);
  ASSERT_TRUE(h_.Admin(cmd::AttachQosDomainRequest{d_, cmd::AttachAction::kDetach, 0,
                                                   cmd::MutableBytes::Of(list)})
                  .status.ok());
  EXPECT_EQ(h_.Erase(d_).completion.status, Generic(sc::kInvalidNamespace));
  std::vector<uint8_t> data;
  EXPECT_EQ(h_.Read(Fla(d_, 0, 0), 1, &data).status, Generic(sc::kInvalidNamespace));
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 1);
  EXPECT_EQ(w.far.status, Generic(sc::kInvalidNamespace));
  EXPECT_EQ(w.nlw.status, Generic(sc::kInvalidNamespace));
  // A domain id that was never created (encoded with d_'s format).
  EXPECT_EQ(h_.Io(
                  cmd::SuperBlockManagementRequest{
                      QosDomainId(6), wire::SbOperation::kErase, kDeviceChoosesSuperBlock, 0, {}},
                  f_)
                .status,
            Generic(sc::kInvalidNamespace));
}

// ---- pairing rules ----------------------------------------------------------------------------

// Regression: the kernel may reorder the two halves of a pair (an io_uring command punted to
// a worker, another hardware queue); the model used to fail an NLW that came first with
// Command Sequence Error and leave its FAR parked for the 30 s unpaired timeout.
TEST_F(IoTest, NlwBeforeFarWaitsForItsFar) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ModelHarness::Slot nlw = NlwAsync(d_, e.sb, 4242, 0);
  EXPECT_FALSE(nlw->has_value());
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).aduptr, 0u);
  // A second NLW under the same NLWID is a conflict; the first stays parked.
  ModelHarness::Slot again = NlwAsync(d_, e.sb, 4242, 1);
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->status, Generic(sc::kCommandIdConflict));
  ModelHarness::Slot far = Far(d_, e.sb, 4242);
  ASSERT_TRUE(far->has_value());
  ASSERT_TRUE(nlw->has_value());
  EXPECT_TRUE((*far)->status.ok()) << (*far)->status;
  EXPECT_TRUE((*nlw)->status.ok()) << (*nlw)->status;
  EXPECT_EQ(cmd::FarResult::FromResult((*far)->result).addresses, 1u);
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).aduptr, 1u);
  std::vector<uint8_t> data;
  ASSERT_TRUE(h_.Read(Fla(d_, e.sb.value(), 0), 1, &data, Ua(0)).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 0));
}

TEST_F(IoTest, SecondFarWithParkedNlwidIsCommandIdConflict) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ModelHarness::Slot first = Far(d_, e.sb, 55);
  EXPECT_FALSE(first->has_value());
  ModelHarness::Slot second = Far(d_, e.sb, 55);
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->status, Generic(sc::kCommandIdConflict));
  // The first FAR is still parked and pairs with its NLW.
  const Completion nlw = Nlw(d_, e.sb, 55, 0, 2);
  ASSERT_TRUE(nlw.status.ok()) << nlw.status;
  ASSERT_TRUE(first->has_value());
  EXPECT_TRUE((*first)->status.ok());
  EXPECT_EQ(cmd::FarResult::FromResult((*first)->result).addresses, 2u);
  // NLWIDs are per domain: the same id may be parked in another domain at once.
  const QosDomainId other = Domain(64, 64);
  const ModelHarness::Erased oe = h_.Erase(other);
  ModelHarness::Slot a = Far(d_, e.sb, 56);
  ModelHarness::Slot b = Far(other, oe.sb, 56);
  EXPECT_FALSE(a->has_value());
  EXPECT_FALSE(b->has_value());
  EXPECT_TRUE(Nlw(other, oe.sb, 56, 0, 1).status.ok());
  EXPECT_TRUE(Nlw(d_, e.sb, 56, 0, 1).status.ok());
  EXPECT_TRUE(a->has_value() && b->has_value());
}

TEST_F(IoTest, NlwWithAnotherNlwidLeavesTheFarParked) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ModelHarness::Slot far = Far(d_, e.sb, 10);
  ModelHarness::Slot other = NlwAsync(d_, e.sb, 11, 0);
  EXPECT_FALSE(other->has_value());  // waits for a FAR with NLWID 11
  EXPECT_FALSE(far->has_value());
  EXPECT_TRUE(Nlw(d_, e.sb, 10, 0, 1).status.ok());
  EXPECT_TRUE(far->has_value());
  EXPECT_FALSE(other->has_value());
}

TEST_F(IoTest, FarAndNlwNamingDifferentTargetsAreInvalidField) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ModelHarness::Slot far = Far(d_, PlacementId(0), 20);
  EXPECT_EQ(Nlw(d_, cmd::ByPlacement{PlacementId(1)}, 20, 0, 1).status, Generic(sc::kInvalidField));
  ASSERT_TRUE(far->has_value());
  EXPECT_EQ((*far)->status, Generic(sc::kInvalidField));
  far = Far(d_, PlacementId(0), 21);
  EXPECT_EQ(Nlw(d_, e.sb, 21, 0, 1).status, Generic(sc::kInvalidField));
  EXPECT_EQ((*far)->status, Generic(sc::kInvalidField));
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).aduptr, 0u);
}

// A unit on a fake clock with one erased SB, and the halves of one-ADU write pairs into it.
class IoPairingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.ok());
    h_.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
    d_ = h_.CreateDomain(h_.DefaultSpec(kVd));
    f_ = h_.FormatOf(d_);
    e_ = h_.Erase(d_);
  }
  ModelHarness::Slot Far(uint32_t id) {
    return h_.SubmitAsync(cmd::FlashAddressRequest{d_, e_.sb, id, 0, cmd::MutableBytes::Of(*arr_)},
                          f_);
  }
  cmd::NamelessWriteRequest Nlw(uint32_t id) {
    cmd::NamelessWriteRequest nlw;
    nlw.domain = d_;
    nlw.target = e_.sb;
    nlw.start = Ua(0);
    nlw.nlwid = id;
    nlw.data = {iov_.get(), 1};
    return nlw;
  }
  ModelHarness::Slot NlwAsync(uint32_t id) { return h_.SubmitAsync(Nlw(id), f_); }
  // Past the unpaired timeout: what waits for a partner is aborted.
  void AbortParked() {
    clock_.Advance(std::chrono::seconds(31));
    h_.unit().Tick();
  }

  // Shared with parked commands, which may complete after the test body.
  std::shared_ptr<std::vector<uint8_t>> data_ =
      std::make_shared<std::vector<uint8_t>>(wire::kAduDataBytes);
  std::shared_ptr<iovec> iov_ = std::make_shared<iovec>(iovec{data_->data(), data_->size()});
  std::shared_ptr<std::vector<uint8_t>> arr_ =
      std::make_shared<std::vector<uint8_t>>(sizeof(wire::AddressRequestResponse));
  FakeClock clock_;
  ModelHarness h_ = ModelHarness::Open("tiny", "", &clock_);
  QosDomainId d_;
  cmd::DomainFormat f_;
  ModelHarness::Erased e_;
};

TEST_F(IoPairingTest, UnpairedFarAndNlcAreAbortedAfterTheTimeout) {
  auto payload = std::make_shared<std::vector<uint8_t>>(64);
  ModelHarness::Slot far = Far(7);
  ModelHarness::Slot nlc = h_.SubmitAsync(
      cmd::NamelessCopyRequest{
          d_, e_.sb,
          cmd::CopyList{{*FlashAddress::Make(d_, SuperBlockId(0), AduOffset(0), f_.address)}},
          std::nullopt, 8, 0, cmd::MutableBytes::Of(*payload)},
      f_);
  clock_.Advance(std::chrono::seconds(29));
  h_.unit().Tick();
  EXPECT_FALSE(far->has_value());
  EXPECT_FALSE(nlc->has_value());
  clock_.Advance(std::chrono::seconds(2));
  h_.unit().Tick();
  ASSERT_TRUE(far->has_value());
  ASSERT_TRUE(nlc->has_value());
  EXPECT_EQ((*far)->status, Generic(sc::kAbortRequested));
  EXPECT_EQ((*nlc)->status, Generic(sc::kAbortRequested));
  // Regression: their partners, arriving late, used to wait for a command that had already
  // completed (an FTL test that jumps a fake clock hung so). They fail at once.
  ModelHarness::Slot late_nlw = NlwAsync(7);
  auto acr = std::make_shared<std::vector<uint8_t>>(sizeof(wire::AcrHeader) + 24);
  ModelHarness::Slot late_gcr =
      h_.SubmitAsync(cmd::GetCopyResultRequest{d_, 8, false, cmd::MutableBytes::Of(*acr)}, f_);
  ASSERT_TRUE(late_nlw->has_value());
  ASSERT_TRUE(late_gcr->has_value());
  EXPECT_EQ((*late_nlw)->status, Generic(sc::kCommandSequenceError));
  EXPECT_EQ((*late_gcr)->status, Generic(sc::kCommandSequenceError));
  EXPECT_EQ(h_.SbInfo(kVd, e_.sb).aduptr, 0u);
  // The id is free again: a new pair under it works.
  ModelHarness::Slot again = Far(7);
  EXPECT_FALSE(again->has_value());
  const Completion written = h_.Io(Nlw(7), f_);
  EXPECT_TRUE(written.status.ok()) << written.status;
  ASSERT_TRUE(again->has_value());
  EXPECT_TRUE((*again)->status.ok());
  EXPECT_EQ(h_.SbInfo(kVd, e_.sb).aduptr, 1u);
}

TEST_F(IoPairingTest, AnAbortedIdIsForgottenWhenTheHostMovesOn) {
  // An NLW that came first and was aborted: its late FAR fails at once.
  ModelHarness::Slot early_nlw = NlwAsync(1);
  AbortParked();
  ASSERT_TRUE(early_nlw->has_value());
  EXPECT_EQ((*early_nlw)->status, Generic(sc::kAbortRequested));
  ModelHarness::Slot late_far = Far(1);
  ASSERT_TRUE(late_far->has_value());
  EXPECT_EQ((*late_far)->status, Generic(sc::kCommandSequenceError));
  // A half of the aborted one's own kind: the host started a new pair; it waits as usual.
  ModelHarness::Slot first_try = NlwAsync(2);
  AbortParked();
  ASSERT_TRUE(first_try->has_value());
  ModelHarness::Slot retry = NlwAsync(2);
  EXPECT_FALSE(retry->has_value());
  ModelHarness::Slot its_far = Far(2);
  ASSERT_TRUE(retry->has_value() && its_far->has_value());
  EXPECT_TRUE((*retry)->status.ok()) << (*retry)->status;
  EXPECT_TRUE((*its_far)->status.ok()) << (*its_far)->status;
  // An aborted id is remembered for one more timeout only.
  ModelHarness::Slot lonely = Far(3);
  AbortParked();
  ASSERT_TRUE(lonely->has_value());
  AbortParked();
  ModelHarness::Slot much_later = NlwAsync(3);
  EXPECT_FALSE(much_later->has_value());  // it waits for a FAR of its own
  ModelHarness::Slot its_own = Far(3);
  ASSERT_TRUE(much_later->has_value() && its_own->has_value());
  EXPECT_TRUE((*much_later)->status.ok()) << (*much_later)->status;
}

TEST(IoPairing, UnpairedTimeoutIsAnOption) {
  FakeClock clock;
  ControllerOptions options;
  options.config = testing::LoadTestUnit("tiny");
  options.clock = &clock;
  options.unpaired_timeout_ms = 2'000;
  ModelHarness h = ModelHarness::OpenWith(std::move(options));
  ASSERT_TRUE(h.ok());
  h.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
  const QosDomainId d = h.CreateDomain(h.DefaultSpec(kVd));
  auto arr = std::make_shared<std::vector<uint8_t>>(sizeof(wire::AddressRequestResponse));
  ModelHarness::Slot far =
      h.SubmitAsync(cmd::FlashAddressRequest{d, PlacementId(0), 3, 0, cmd::MutableBytes::Of(*arr)},
                    h.FormatOf(d));
  clock.Advance(std::chrono::seconds(3));
  h.unit().Tick();
  ASSERT_TRUE(far->has_value());
  EXPECT_EQ((*far)->status, Generic(sc::kAbortRequested));
}

TEST_F(IoTest, GcrBeforeNlcAndDuplicateNlcid) {
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 64);
  const ModelHarness::Erased e = h_.Erase(d_);
  const cmd::CopySource source = cmd::CopyList{{w.addresses[0]}};
  // Regression (see NlwBeforeFarWaitsForItsFar): a GCR that comes first waits for its NLC.
  ModelHarness::Slot early_gcr = GcrAsync(d_, 31);
  EXPECT_FALSE(early_gcr->has_value());
  ModelHarness::Slot second_gcr = GcrAsync(d_, 31);
  ASSERT_TRUE(second_gcr->has_value());
  EXPECT_EQ((*second_gcr)->status, Generic(sc::kCommandIdConflict));
  ModelHarness::Slot late_nlc = Nlc(d_, e.sb.value(), source, 31);
  ASSERT_TRUE(late_nlc->has_value());
  ASSERT_TRUE(early_gcr->has_value());
  EXPECT_TRUE((*late_nlc)->status.ok()) << (*late_nlc)->status;
  EXPECT_TRUE((*early_gcr)->status.ok()) << (*early_gcr)->status;
  EXPECT_EQ(cmd::NlcResult::FromResult((*late_nlc)->result).adus_left, 63u);
  ModelHarness::Slot first = Nlc(d_, e.sb.value(), source, 32);
  ModelHarness::Slot second = Nlc(d_, e.sb.value(), source, 32);
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->status, Generic(sc::kCommandIdConflict));
  EXPECT_FALSE(first->has_value());
  const Completion gcr = Gcr(d_, 32);
  ASSERT_TRUE(gcr.status.ok()) << gcr.status;
  ASSERT_TRUE(first->has_value());
  EXPECT_TRUE((*first)->status.ok());
  EXPECT_EQ(cmd::NlcResult::FromResult((*first)->result).adus_left,
            62u);  // the early pair copied one ADU already
}

TEST_F(IoTest, DeletingADomainAbortsItsParkedCommands) {
  const QosDomainId other = Domain(64, 64);
  ModelHarness::Slot far = Far(other, PlacementId(0), 5);
  std::vector<uint8_t> list(4096);
  ASSERT_TRUE(h_.Admin(cmd::AttachQosDomainRequest{other, cmd::AttachAction::kDetach, 0,
                                                   cmd::MutableBytes::Of(list)})
                  .status.ok());
  ASSERT_TRUE(h_.Admin(cmd::DeleteQosDomainRequest{other}).status.ok());
  ASSERT_TRUE(far->has_value());
  EXPECT_EQ((*far)->status, Generic(sc::kAbortRequested));
}

}  // namespace
}  // namespace sef::model
