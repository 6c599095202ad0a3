// Writes, appends, reads, zone management and reports of a zoned namespace on the model, with
// the exact NVMe status of every refusal.
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/cmd/wire.h"
#include "sef/zns/test_util.h"
#include "sef/zns/zns.h"

namespace sef::zns {
namespace {

using testing::Blocks;
using testing::BlockTag;
using testing::Iov;
using testing::IsZero;
namespace sc = wire::sc;

// The tiny unit, 4 dies per super block: 16 zones of 128 blocks, 3 open / active zones.
class ZnsIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<hal::Unit>> unit = testing::OpenUnit();
    ASSERT_TRUE(unit.ok()) << unit.status();
    unit_ = *std::move(unit);
    absl::StatusOr<QosDomainId> id = testing::MakeDomain(*unit_);
    ASSERT_TRUE(id.ok()) << id.status();
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Format(*unit_, *id);
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = *std::move(ns);
  }
  void TearDown() override { ns_.reset(); }

  absl::Status Write(uint64_t lba, uint32_t n, uint32_t version = 1) {
    std::vector<uint8_t> data = Blocks(lba, n, version);
    iovec iov = Iov(data);
    return ns_->Write(Lba(lba), n, {&iov, 1});
  }
  absl::StatusOr<Lba> Append(uint64_t zslba, uint32_t n) {
    std::vector<uint8_t> data(uint64_t{n} * kBlockBytes);
    iovec iov = Iov(data);
    return ns_->Append(Lba(zslba), n, {&iov, 1});
  }
  std::vector<uint8_t> Read(uint64_t lba, uint32_t n) {
    std::vector<uint8_t> data(uint64_t{n} * kBlockBytes, 0xEE);
    iovec iov = Iov(data);
    absl::Status s = ns_->Read(Lba(lba), n, {&iov, 1});
    EXPECT_TRUE(s.ok()) << s;
    return data;
  }
  ZoneDescriptor Zone(uint32_t zone) {
    absl::StatusOr<ZoneReport> r = ns_->Report(Lba(uint64_t{zone} * 128), ReportFilter::kAll, 1);
    EXPECT_TRUE(r.ok()) << r.status();
    return r->zones.at(0);
  }
  absl::Status Send(ZoneAction a, uint32_t zone, bool all = false) {
    return ns_->ZoneManagementSend(a, Lba(uint64_t{zone} * 128), all);
  }

  std::unique_ptr<hal::Unit> unit_;
  std::unique_ptr<ZonedNamespace> ns_;
};

// The NVMe status a refusal carries, or none.
std::optional<NvmeStatus> Nvme(const absl::Status& s) { return NvmeStatusOf(s); }
NvmeStatus Zns(uint8_t code) { return NvmeStatus(1, code, true); }
NvmeStatus Generic(uint8_t code) { return NvmeStatus(0, code, true); }

TEST_F(ZnsIoTest, GeometryOfTheTinyUnit) {
  const Geometry& g = ns_->geometry();
  EXPECT_EQ(g.super_block_adus, 128u);
  EXPECT_EQ(g.zone_size, 128u);
  EXPECT_EQ(g.zone_capacity, 128u);
  EXPECT_EQ(g.zones, 16u);
  EXPECT_EQ(g.blocks(), 2048u);
  EXPECT_EQ(g.max_open_super_blocks, 4u);
  EXPECT_EQ(g.max_active_zones, 3u);
  EXPECT_EQ(g.max_open_zones, 3u);
  EXPECT_EQ(g.nvme_mar(), 2u);
  EXPECT_EQ(g.nvme_mor(), 2u);
  EXPECT_EQ(g.zone_size_log2(), 7u);
}

TEST_F(ZnsIoTest, WritesAtTheWritePointerReadBackAndAdvanceIt) {
  ASSERT_TRUE(Write(128, 3).ok());
  ASSERT_TRUE(Write(131, 5, 2).ok());
  EXPECT_EQ(Zone(1).state, ZoneState::kImplicitlyOpen);
  EXPECT_EQ(Zone(1).write_pointer, Lba(136));
  const std::vector<uint8_t> back = Read(128, 8);
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(BlockTag(back.data() + i * kBlockBytes),
              std::make_pair(uint64_t{128 + i}, i < 3 ? 1u : 2u));
  }
}

TEST_F(ZnsIoTest, BlocksAtOrAboveTheWritePointerReadAsZerosWithinAndAcrossZones) {
  ASSERT_TRUE(Write(0, 4).ok());
  ASSERT_TRUE(Write(128, 2).ok());
  // Zone 0: 4 blocks of data then zeros; zone 1: 2 then zeros; zone 2 empty.
  const std::vector<uint8_t> back = Read(2, 300);
  for (uint32_t i = 0; i < 300; ++i) {
    const uint64_t lba = 2 + i;
    const uint8_t* b = back.data() + uint64_t{i} * kBlockBytes;
    const bool data = lba < 4 || (lba >= 128 && lba < 130);
    if (data) {
      EXPECT_EQ(BlockTag(b).first, lba);
    } else {
      EXPECT_TRUE(IsZero(b)) << "LBA " << lba;
    }
  }
}

TEST_F(ZnsIoTest, AppendReturnsTheLbaItWroteInOrder) {
  uint64_t expected = 256;
  for (uint32_t n : {1u, 7u, 3u, 20u}) {
    absl::StatusOr<Lba> at = Append(256, n);
    ASSERT_TRUE(at.ok()) << at.status();
    EXPECT_EQ(*at, Lba(expected));
    expected += n;
  }
  EXPECT_EQ(Zone(2).write_pointer, Lba(expected));
  // A write continues where the appends left off.
  EXPECT_TRUE(Write(expected, 1).ok());
}

TEST_F(ZnsIoTest, FillingTheZoneCapacityMakesItFull) {
  ASSERT_TRUE(Write(0, 100).ok());
  ASSERT_TRUE(Write(100, 28).ok());
  EXPECT_EQ(Zone(0).state, ZoneState::kFull);
  EXPECT_EQ(Zone(0).write_pointer, kNoWritePointer);
  EXPECT_EQ(Read(0, 128).size(), 128u * kBlockBytes);
  // Its open resources are free again: three more zones can be opened.
  for (uint32_t z = 1; z <= 3; ++z) EXPECT_TRUE(Write(z * 128, 1).ok());
}

TEST_F(ZnsIoTest, WriteRefusals) {
  ASSERT_TRUE(Write(0, 2).ok());
  absl::Status s = Write(5, 1);  // not at the write pointer (2)
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(Nvme(s), Zns(sc::kZoneInvalidWrite)) << s;
  s = Write(2, 127);  // past the zone capacity
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_EQ(Nvme(s), Zns(sc::kZoneBoundaryError)) << s;
  s = Write(2047, 2);  // past the namespace
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_EQ(Nvme(s), Generic(sc::kLbaOutOfRange)) << s;
  s = Write(4096, 1);
  EXPECT_EQ(Nvme(s), Generic(sc::kLbaOutOfRange)) << s;
  // A data buffer of the wrong size.
  std::vector<uint8_t> short_data(kBlockBytes);
  iovec iov = Iov(short_data);
  s = ns_->Write(Lba(2), 2, {&iov, 1});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(Nvme(s), Generic(sc::kInvalidField)) << s;
  // A finished zone.
  ASSERT_TRUE(Send(ZoneAction::kFinish, 0).ok());
  s = Write(2, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(Nvme(s), Zns(sc::kZoneIsFull)) << s;
  // Nothing changed the zone.
  EXPECT_EQ(Zone(0).state, ZoneState::kFull);
}

TEST_F(ZnsIoTest, AppendRefusals) {
  absl::StatusOr<Lba> a = Append(5, 1);  // not a zone's first LBA
  EXPECT_EQ(Nvme(a.status()), Generic(sc::kInvalidField)) << a.status();
  ASSERT_TRUE(Append(0, 120).ok());
  a = Append(0, 9);  // 8 blocks left
  EXPECT_EQ(Nvme(a.status()), Zns(sc::kZoneBoundaryError)) << a.status();
  a = Append(2048, 1);
  EXPECT_EQ(Nvme(a.status()), Generic(sc::kLbaOutOfRange)) << a.status();
  ASSERT_TRUE(Append(0, 8).ok());
  a = Append(0, 1);
  EXPECT_EQ(Nvme(a.status()), Zns(sc::kZoneIsFull)) << a.status();
}

TEST_F(ZnsIoTest, ReadRefusals) {
  std::vector<uint8_t> data(2 * kBlockBytes);
  iovec iov = Iov(data);
  absl::Status s = ns_->Read(Lba(2047), 2, {&iov, 1});
  EXPECT_EQ(Nvme(s), Generic(sc::kLbaOutOfRange)) << s;
  s = ns_->Read(Lba(0), 3, {&iov, 1});
  EXPECT_EQ(Nvme(s), Generic(sc::kInvalidField)) << s;
  s = ns_->Read(Lba(0), 0, {});
  EXPECT_EQ(Nvme(s), Generic(sc::kInvalidField)) << s;
}

TEST_F(ZnsIoTest, OpenAndActiveLimits) {
  // Three explicitly open zones take every open resource; no auto transition for them.
  for (uint32_t z = 0; z < 3; ++z) ASSERT_TRUE(Send(ZoneAction::kOpen, z).ok());
  absl::Status s = Write(3 * 128, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(Nvme(s), Zns(sc::kTooManyActiveZones)) << s;  // active = open = 3 = MAR
  // Closed zones stay active.
  ASSERT_TRUE(Send(ZoneAction::kClose, 0).ok());
  EXPECT_EQ(Zone(0).state, ZoneState::kClosed);
  s = Send(ZoneAction::kOpen, 3);
  EXPECT_EQ(Nvme(s), Zns(sc::kTooManyActiveZones)) << s;
  ASSERT_TRUE(Send(ZoneAction::kReset, 0).ok());
  EXPECT_EQ(Zone(0).state, ZoneState::kEmpty);
  EXPECT_TRUE(Send(ZoneAction::kOpen, 3).ok());
}

// With 2 open and 3 active zones (ZoneLimits, as QEMU's zoned.max_open / max_active).
class ZnsLimitsTest : public ZnsIoTest {
 protected:
  void SetUp() override {
    ZnsIoTest::SetUp();
    ASSERT_TRUE(ns_->Unmount().ok());
    ns_.reset();
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns =
        ZonedNamespace::Mount(*unit_, QosDomainId(1), {.max_open_zones = 2, .max_active_zones = 3});
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = *std::move(ns);
  }
};

TEST_F(ZnsLimitsTest, TooManyOpenZones) {
  EXPECT_EQ(ns_->geometry().max_open_zones, 2u);
  EXPECT_EQ(ns_->geometry().max_active_zones, 3u);
  ASSERT_TRUE(Send(ZoneAction::kOpen, 0).ok());
  ASSERT_TRUE(Send(ZoneAction::kOpen, 1).ok());
  absl::Status s = Send(ZoneAction::kOpen, 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(Nvme(s), Zns(sc::kTooManyOpenZones)) << s;
  s = Write(256, 1);
  EXPECT_EQ(Nvme(s), Zns(sc::kTooManyOpenZones)) << s;
  EXPECT_EQ(Zone(2).state, ZoneState::kEmpty);
}

TEST_F(ZnsLimitsTest, AutoTransitionClosesTheImplicitlyOpenZoneOpenedLongestAgo) {
  ASSERT_TRUE(Write(0, 1).ok());
  ASSERT_TRUE(Write(128, 1).ok());
  // Both open resources taken by implicitly open zones: zone 0, the older, is closed.
  ASSERT_TRUE(Write(256, 1).ok());
  EXPECT_EQ(Zone(0).state, ZoneState::kClosed);
  EXPECT_EQ(Zone(1).state, ZoneState::kImplicitlyOpen);
  EXPECT_EQ(Zone(2).state, ZoneState::kImplicitlyOpen);
  // Writing zone 0 again closes zone 1.
  ASSERT_TRUE(Write(1, 1).ok());
  EXPECT_EQ(Zone(0).state, ZoneState::kImplicitlyOpen);
  EXPECT_EQ(Zone(1).state, ZoneState::kClosed);
  // A fourth zone would be a fourth active one: refused, after the auto transition closed
  // zone 2 (as QEMU does).
  absl::Status s = Write(384, 1);
  EXPECT_EQ(Nvme(s), Zns(sc::kTooManyActiveZones)) << s;
  EXPECT_EQ(Zone(2).state, ZoneState::kClosed);
  EXPECT_EQ(Zone(3).state, ZoneState::kEmpty);
  // An explicit open closes an implicitly open zone too; explicitly open zones are never
  // closed automatically.
  ASSERT_TRUE(Send(ZoneAction::kOpen, 1).ok());  // a free open resource: nothing closed
  EXPECT_EQ(Zone(0).state, ZoneState::kImplicitlyOpen);
  ASSERT_TRUE(Send(ZoneAction::kOpen, 2).ok());  // closes zone 0
  EXPECT_EQ(Zone(0).state, ZoneState::kClosed);
  s = Write(2, 1);
  EXPECT_EQ(Nvme(s), Zns(sc::kTooManyOpenZones)) << s;
}

TEST_F(ZnsLimitsTest, OpenAllStopsAtTheFirstRefusal) {
  for (uint32_t z = 0; z < 3; ++z) {
    ASSERT_TRUE(Write(z * 128, 1).ok());
    ASSERT_TRUE(Send(ZoneAction::kClose, z).ok());
  }
  absl::Status s = ns_->ZoneManagementSend(ZoneAction::kOpen, Lba(0), true);
  EXPECT_EQ(Nvme(s), Zns(sc::kTooManyOpenZones)) << s;
  EXPECT_EQ(Zone(0).state, ZoneState::kExplicitlyOpen);
  EXPECT_EQ(Zone(1).state, ZoneState::kExplicitlyOpen);
  EXPECT_EQ(Zone(2).state, ZoneState::kClosed);
}

TEST_F(ZnsIoTest, LimitsAboveTheDevicesAreRefused) {
  ASSERT_TRUE(ns_->Unmount().ok());
  ns_.reset();
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns =
      ZonedNamespace::Mount(*unit_, QosDomainId(1), {.max_active_zones = 4});
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kInvalidArgument) << ns.status();
  ns = ZonedNamespace::Mount(*unit_, QosDomainId(1), {.max_open_zones = 3, .max_active_zones = 2});
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kInvalidArgument) << ns.status();
}

TEST_F(ZnsIoTest, ZoneManagementRefusals) {
  absl::Status s = Send(ZoneAction::kClose, 0);  // Empty
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(Nvme(s), Zns(sc::kInvalidZoneStateTransition)) << s;
  ASSERT_TRUE(Send(ZoneAction::kFinish, 0).ok());
  s = Send(ZoneAction::kOpen, 0);  // Full
  EXPECT_EQ(Nvme(s), Zns(sc::kInvalidZoneStateTransition)) << s;
  s = Send(ZoneAction::kClose, 0);  // Full
  EXPECT_EQ(Nvme(s), Zns(sc::kInvalidZoneStateTransition)) << s;
  s = Send(ZoneAction::kOffline, 0);  // only Read Only zones go offline
  EXPECT_EQ(Nvme(s), Zns(sc::kInvalidZoneStateTransition)) << s;
  s = ns_->ZoneManagementSend(ZoneAction::kOpen, Lba(5));
  EXPECT_EQ(Nvme(s), Generic(sc::kInvalidField)) << s;
  s = ns_->ZoneManagementSend(ZoneAction::kOpen, Lba(2048));
  EXPECT_EQ(Nvme(s), Generic(sc::kLbaOutOfRange)) << s;
  s = ns_->ZoneManagementSend(static_cast<ZoneAction>(0x10), Lba(0));
  EXPECT_EQ(Nvme(s), Generic(sc::kInvalidField)) << s;
  // Finishing and resetting are allowed in every state but Read Only and Offline.
  EXPECT_TRUE(Send(ZoneAction::kFinish, 0).ok());
  EXPECT_TRUE(Send(ZoneAction::kReset, 1).ok());
}

TEST_F(ZnsIoTest, FinishResetAndTheirDataOnTheDevice) {
  ASSERT_TRUE(Write(0, 10).ok());
  ASSERT_TRUE(Send(ZoneAction::kFinish, 0).ok());
  EXPECT_EQ(Zone(0).state, ZoneState::kFull);
  std::vector<uint8_t> back = Read(0, 12);
  EXPECT_EQ(BlockTag(back.data() + 9 * kBlockBytes).first, 9u);
  EXPECT_TRUE(IsZero(back.data() + 10 * kBlockBytes));
  ASSERT_TRUE(Send(ZoneAction::kReset, 0).ok());
  EXPECT_EQ(Zone(0).state, ZoneState::kEmpty);
  EXPECT_EQ(Zone(0).write_pointer, Lba(0));
  back = Read(0, 1);
  EXPECT_TRUE(IsZero(back.data()));
  // The next write allocates a new super block and starts at the zone's first block.
  ASSERT_TRUE(Write(0, 1, 7).ok());
  back = Read(0, 1);
  EXPECT_EQ(BlockTag(back.data()), std::make_pair(uint64_t{0}, 7u));
}

TEST_F(ZnsIoTest, SelectAllActions) {
  ASSERT_TRUE(Write(0, 1).ok());                 // IO
  ASSERT_TRUE(Send(ZoneAction::kOpen, 1).ok());  // EO
  ASSERT_TRUE(Write(256, 1).ok());
  ASSERT_TRUE(Send(ZoneAction::kClose, 2).ok());   // Closed
  ASSERT_TRUE(Send(ZoneAction::kFinish, 3).ok());  // Full
  ASSERT_TRUE(ns_->ZoneManagementSend(ZoneAction::kClose, Lba(0), true).ok());
  EXPECT_EQ(Zone(0).state, ZoneState::kClosed);
  EXPECT_EQ(Zone(1).state, ZoneState::kClosed);
  EXPECT_EQ(Zone(2).state, ZoneState::kClosed);
  EXPECT_EQ(Zone(3).state, ZoneState::kFull);
  ASSERT_TRUE(ns_->ZoneManagementSend(ZoneAction::kOpen, Lba(0), true).ok());
  for (uint32_t z = 0; z < 3; ++z) EXPECT_EQ(Zone(z).state, ZoneState::kExplicitlyOpen);
  EXPECT_EQ(Zone(4).state, ZoneState::kEmpty);
  ASSERT_TRUE(ns_->ZoneManagementSend(ZoneAction::kFinish, Lba(0), true).ok());
  for (uint32_t z = 0; z < 4; ++z) EXPECT_EQ(Zone(z).state, ZoneState::kFull);
  EXPECT_EQ(Zone(4).state, ZoneState::kEmpty);
  ASSERT_TRUE(ns_->ZoneManagementSend(ZoneAction::kReset, Lba(0), true).ok());
  for (uint32_t z = 0; z < 16; ++z) EXPECT_EQ(Zone(z).state, ZoneState::kEmpty);
  // Offline of all: no read-only zones, nothing happens.
  EXPECT_TRUE(ns_->ZoneManagementSend(ZoneAction::kOffline, Lba(0), true).ok());
}

TEST_F(ZnsIoTest, ReportFiltersAndPartialReports) {
  ASSERT_TRUE(Write(0, 3).ok());                 // 0: IO, wp 3
  ASSERT_TRUE(Send(ZoneAction::kOpen, 1).ok());  // 1: EO
  ASSERT_TRUE(Write(256, 5).ok());
  ASSERT_TRUE(Send(ZoneAction::kClose, 2).ok());   // 2: Closed, wp 261
  ASSERT_TRUE(Send(ZoneAction::kFinish, 3).ok());  // 3: Full
  ASSERT_TRUE(Send(ZoneAction::kFinish, 5).ok());  // 5: Full
  absl::StatusOr<ZoneReport> all = ns_->Report(Lba(0));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->matching, 16u);
  ASSERT_EQ(all->zones.size(), 16u);
  EXPECT_EQ(all->zones[0], (ZoneDescriptor{.state = ZoneState::kImplicitlyOpen,
                                           .capacity = 128,
                                           .start = Lba(0),
                                           .write_pointer = Lba(3)}));
  EXPECT_EQ(all->zones[2].write_pointer, Lba(261));
  EXPECT_EQ(all->zones[3].write_pointer, kNoWritePointer);
  EXPECT_EQ(all->zones[4].write_pointer, Lba(512));

  const std::vector<std::pair<ReportFilter, std::vector<uint32_t>>> expected = {
      {ReportFilter::kEmpty, {4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
      {ReportFilter::kImplicitlyOpen, {0}},
      {ReportFilter::kExplicitlyOpen, {1}},
      {ReportFilter::kClosed, {2}},
      {ReportFilter::kFull, {3, 5}},
      {ReportFilter::kReadOnly, {}},
      {ReportFilter::kOffline, {}},
  };
  for (const auto& [filter, zones] : expected) {
    absl::StatusOr<ZoneReport> r = ns_->Report(Lba(0), filter);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->matching, zones.size());
    ASSERT_EQ(r->zones.size(), zones.size());
    for (size_t i = 0; i < zones.size(); ++i) EXPECT_EQ(r->zones[i].start, Lba(zones[i] * 128));
  }
  // From a zone in the middle (any LBA of it), at most 2 descriptors.
  absl::StatusOr<ZoneReport> r = ns_->Report(Lba(3 * 128 + 7), ReportFilter::kAll, 2, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->matching, 13u);  // zones 3..15 match; not partial: all counted
  ASSERT_EQ(r->zones.size(), 2u);
  EXPECT_EQ(r->zones[0].start, Lba(384));
  r = ns_->Report(Lba(3 * 128), ReportFilter::kAll, 2, true);
  EXPECT_EQ(r->matching, 2u);  // partial: only what was returned
  r = ns_->Report(Lba(0), ReportFilter::kEmpty, 0, false);
  EXPECT_EQ(r->matching, 11u);
  EXPECT_TRUE(r->zones.empty());
  // Refusals.
  r = ns_->Report(Lba(2048));
  EXPECT_EQ(Nvme(r.status()), Generic(sc::kLbaOutOfRange)) << r.status();
  r = ns_->Report(Lba(0), static_cast<ReportFilter>(8));
  EXPECT_EQ(Nvme(r.status()), Generic(sc::kInvalidField)) << r.status();
}

TEST_F(ZnsIoTest, SynchronousCallsFromCallbacksFailFast) {
  std::vector<uint8_t> data = Blocks(0, 1, 1);
  iovec iov = Iov(data);
  absl::Status inner;
  bool ran = false;
  ns_->WriteAsync(Lba(0), 1, {&iov, 1}, false, [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    inner = ns_->Flush();
    ran = true;
  });
  // The model completes inline: the callback ran already, or runs soon.
  ASSERT_TRUE(ns_->Flush().ok());
  ASSERT_TRUE(ran);
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition) << inner;
  EXPECT_NE(inner.message().find("ZonedNamespace::Flush"), std::string::npos) << inner;
}

// Regression: a flush with no open super block kept a busy token, and Unmount then waited
// forever.
TEST_F(ZnsIoTest, AFlushWithNothingOpenLetsUnmountFinish) {
  ASSERT_TRUE(ns_->Flush().ok());
  ASSERT_TRUE(Send(ZoneAction::kFinish, 0).ok());
  ASSERT_TRUE(ns_->Flush().ok());
  EXPECT_TRUE(ns_->Unmount().ok());
}

TEST_F(ZnsIoTest, AfterUnmountEveryCallIsRefused) {
  ASSERT_TRUE(Write(0, 2).ok());
  ASSERT_TRUE(ns_->Unmount().ok());
  ASSERT_TRUE(ns_->Unmount().ok());  // idempotent
  absl::Status s = Write(2, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(Nvme(s), Generic(sc::kNamespaceNotReady)) << s;
  std::vector<uint8_t> data(kBlockBytes);
  iovec iov = Iov(data);
  EXPECT_EQ(Nvme(ns_->Read(Lba(0), 1, {&iov, 1})), Generic(sc::kNamespaceNotReady));
  EXPECT_EQ(Nvme(ns_->Flush()), Generic(sc::kNamespaceNotReady));
  EXPECT_EQ(Nvme(Send(ZoneAction::kFinish, 0)), Generic(sc::kNamespaceNotReady));
}

TEST_F(ZnsIoTest, LongWritesAreSplitAtTheDevicesTransferSizeInOrder) {
  // The model takes 0x10000 ADUs per command: a zone is far smaller, so this checks the
  // multi-iovec path and that one write may cover the whole zone.
  std::vector<uint8_t> a = Blocks(0, 50, 3), b = Blocks(50, 78, 3);
  iovec iov[2] = {Iov(a), Iov(b)};
  ASSERT_TRUE(ns_->Write(Lba(0), 128, iov).ok());
  const std::vector<uint8_t> back = Read(0, 128);
  for (uint32_t i = 0; i < 128; ++i) EXPECT_EQ(BlockTag(back.data() + i * kBlockBytes).first, i);
  EXPECT_EQ(Zone(0).state, ZoneState::kFull);
}

}  // namespace
}  // namespace sef::zns
