// Format, Mount and recovery of a zoned namespace; geometry; refusals of domains that are not
// zoned namespaces; what a restart keeps; device faults.
#include "sef/zns/zns.h"

#include <atomic>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sef/base/clock.h"
#include "sef/base/mutex.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/domain_kind.h"
#include "sef/hal/testing/fault_transport.h"
#include "sef/hal/testing/test_unit.h"
#include "sef/zns/internal/format.h"
#include "sef/zns/test_util.h"

namespace sef::zns {
namespace {

using testing::Blocks;
using testing::BlockTag;
using testing::Iov;
using testing::IsZero;
namespace sc = wire::sc;

std::string TempFile(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::remove(path.c_str());
  return path;
}

absl::Status WriteBlocks(ZonedNamespace& ns, uint64_t lba, uint32_t n, uint32_t version = 1) {
  std::vector<uint8_t> data = Blocks(lba, n, version);
  iovec iov = Iov(data);
  return ns.Write(Lba(lba), n, {&iov, 1});
}

std::vector<uint8_t> ReadBlocks(ZonedNamespace& ns, uint64_t lba, uint32_t n) {
  std::vector<uint8_t> data(uint64_t{n} * kBlockBytes, 0xEE);
  iovec iov = Iov(data);
  absl::Status s = ns.Read(Lba(lba), n, {&iov, 1});
  EXPECT_TRUE(s.ok()) << s;
  return data;
}

ZoneDescriptor ZoneOf(ZonedNamespace& ns, uint32_t zone) {
  absl::StatusOr<ZoneReport> r =
      ns.Report(Lba(uint64_t{zone} * ns.geometry().zone_size), ReportFilter::kAll, 1);
  EXPECT_TRUE(r.ok()) << r.status();
  return r->zones.at(0);
}

// Checks that zone `zone` holds blocks written with `version` from its start up to `blocks`
// and zeros after, up to `upto`.
void ExpectData(ZonedNamespace& ns, uint32_t zone, uint32_t blocks, uint32_t upto,
                uint32_t version = 1) {
  const uint64_t zslba = uint64_t{zone} * ns.geometry().zone_size;
  const std::vector<uint8_t> back = ReadBlocks(ns, zslba, upto);
  for (uint32_t i = 0; i < upto; ++i) {
    const uint8_t* b = back.data() + uint64_t{i} * kBlockBytes;
    if (i < blocks) {
      EXPECT_EQ(BlockTag(b), std::make_pair(zslba + i, version))
          << "zone " << zone << " block " << i;
    } else {
      EXPECT_TRUE(IsZero(b)) << "zone " << zone << " block " << i;
    }
  }
}

struct TestDomain {
  std::unique_ptr<hal::Unit> unit;
  QosDomainId id;
};

TestDomain NewDomain(const testing::DomainShape& shape = {},
                     const std::string& spec = "model:testdata/units/tiny.json") {
  TestDomain s;
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = testing::OpenUnit(spec);
  EXPECT_TRUE(unit.ok()) << unit.status();
  s.unit = *std::move(unit);
  absl::StatusOr<QosDomainId> id = testing::MakeDomain(*s.unit, shape);
  EXPECT_TRUE(id.ok()) << id.status();
  s.id = *id;
  return s;
}

// ---- geometry ---------------------------------------------------------------------------------

TEST(ZnsGeometryTest, ASuperBlockThatIsNotAPowerOfTwoLeavesAGapInEachZone) {
  TestDomain s = NewDomain({.dies = {0, 1, 2}, .dies_per_super_block = 3});
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Format(*s.unit, s.id);
  ASSERT_TRUE(ns.ok()) << ns.status();
  const Geometry& g = (*ns)->geometry();
  EXPECT_EQ(g.super_block_adus, 96u);
  EXPECT_EQ(g.zone_size, 128u);
  EXPECT_EQ(g.zone_capacity, 96u);
  EXPECT_EQ(g.zones, 16u);
  EXPECT_EQ(g.blocks(), 16u * 128);
  ASSERT_TRUE(WriteBlocks(**ns, 128, 96).ok());
  EXPECT_EQ(ZoneOf(**ns, 1).state, ZoneState::kFull);
  ExpectData(**ns, 1, 96, 128);  // the gap reads as zeros
  EXPECT_EQ(NvmeStatusOf(WriteBlocks(**ns, 256, 97)), NvmeStatus(1, sc::kZoneBoundaryError, true));
}

TEST(ZnsGeometryTest, ASmallerZoneSizeLeavesTheRestOfEachSuperBlockUnused) {
  TestDomain s = NewDomain();
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns =
      ZonedNamespace::Format(*s.unit, s.id, {.zone_size = 64});
  ASSERT_TRUE(ns.ok()) << ns.status();
  const Geometry& g = (*ns)->geometry();
  EXPECT_EQ(g.zone_size, 64u);
  EXPECT_EQ(g.zone_capacity, 64u);
  EXPECT_EQ(g.zones, 16u);  // one super block each
  ASSERT_TRUE(WriteBlocks(**ns, 64, 64).ok());
  EXPECT_EQ(ZoneOf(**ns, 1).state, ZoneState::kFull);
  ExpectData(**ns, 1, 64, 64);
  // The namespace closed the zone's super block (the device would not: it is half empty),
  // so it is durable and its open resource is free. Unmount to see the device's state.
  ASSERT_TRUE((*ns)->Unmount().ok());
  ns->reset();
  std::unique_ptr<hal::QosDomain> d = *s.unit->OpenQosDomain(s.id);
  absl::StatusOr<std::vector<hal::SuperBlockEntry>> sbs = d->ListSuperBlocks();
  ASSERT_TRUE(sbs.ok());
  ASSERT_EQ(sbs->size(), 1u);
  EXPECT_EQ((*sbs)[0].state, hal::SuperBlockState::kClosed);
  // The zone size is kept: a mount finds it again.
  d.reset();
  ns = ZonedNamespace::Mount(*s.unit, s.id);
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ((*ns)->geometry().zone_size, 64u);
  EXPECT_EQ(ZoneOf(**ns, 1).state, ZoneState::kFull);
  ExpectData(**ns, 1, 64, 64);
}

TEST(ZnsGeometryTest, ZoneSizesThatDoNotFitAreRefused) {
  TestDomain s = NewDomain();
  for (uint64_t bad : {96u, 256u, 3u}) {
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns =
        ZonedNamespace::Format(*s.unit, s.id, {.zone_size = bad});
    EXPECT_EQ(ns.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(ns.status().message().find(std::to_string(bad)), std::string::npos) << ns.status();
  }
  EXPECT_TRUE(ZonedNamespace::Format(*s.unit, s.id, {.zone_size = 128}).ok());
}

TEST(ZnsGeometryTest, ADomainWithOneOpenSuperBlockIsRefused) {
  TestDomain s = NewDomain({.max_open_super_blocks = 1});
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Format(*s.unit, s.id);
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kFailedPrecondition) << ns.status();
  EXPECT_NE(ns.status().message().find("at least 2"), std::string::npos) << ns.status();
}

// ---- what a domain holds ----------------------------------------------------------------------

void SetPointer(TestDomain& s, uint8_t index, uint64_t value) {
  std::unique_ptr<hal::QosDomain> d = *s.unit->OpenQosDomain(s.id);
  ASSERT_TRUE(d->SetRootPointer(hal::RootPointerIndex(index), FlashAddress::FromRaw(value)).ok());
}

TEST(ZnsFormatTest, DomainsOfOtherKindsAreRefusedByName) {
  TestDomain s = NewDomain();
  SetPointer(s, 1, hal::kDomainKindBlockFtl);
  for (int mount = 0; mount < 2; ++mount) {
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns =
        mount ? ZonedNamespace::Mount(*s.unit, s.id) : ZonedNamespace::Format(*s.unit, s.id);
    EXPECT_EQ(ns.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(ns.status().message().find("a block FTL domain"), std::string::npos) << ns.status();
  }
  EXPECT_FALSE(ZonedNamespace::MountOrFormat(*s.unit, s.id).ok());
  SetPointer(s, 1, 0x1234);
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::MountOrFormat(*s.unit, s.id);
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ns.status().message().find("unknown kind"), std::string::npos) << ns.status();
}

TEST(ZnsFormatTest, ForeignDataIsRefused) {
  TestDomain s = NewDomain();
  {
    std::unique_ptr<hal::QosDomain> d = *s.unit->OpenQosDomain(s.id);
    ASSERT_TRUE(d->AllocateSuperBlock().ok());
  }
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::MountOrFormat(*s.unit, s.id);
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ns.status().message().find("1 super blocks"), std::string::npos) << ns.status();
  TestDomain t = NewDomain();
  SetPointer(t, 3, 77);
  ns = ZonedNamespace::Format(*t.unit, t.id);
  EXPECT_NE(ns.status().message().find("root pointer 3"), std::string::npos) << ns.status();
  // A label alone (root pointers 6 and 7) is not data.
  TestDomain u = NewDomain();
  SetPointer(u, 6, 0x4142);
  EXPECT_TRUE(ZonedNamespace::MountOrFormat(*u.unit, u.id).ok());
}

TEST(ZnsFormatTest, UnconfiguredInterruptedAndReformattedDomains) {
  TestDomain s = NewDomain();
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Mount(*s.unit, s.id);
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ns.status().message().find("unconfigured"), std::string::npos) << ns.status();
  // A format that stopped after the kind.
  SetPointer(s, 1, hal::kDomainKindZoned);
  ns = ZonedNamespace::Mount(*s.unit, s.id);
  EXPECT_NE(ns.status().message().find("interrupted"), std::string::npos) << ns.status();
  ns = ZonedNamespace::MountOrFormat(*s.unit, s.id);
  ASSERT_TRUE(ns.ok()) << ns.status();
  ASSERT_TRUE(WriteBlocks(**ns, 0, 5).ok());
  ns->reset();
  // A zoned namespace: Format refuses without reformat, erases every zone with it.
  ns = ZonedNamespace::Format(*s.unit, s.id);
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ns.status().message().find("reformat"), std::string::npos) << ns.status();
  ns = ZonedNamespace::Format(*s.unit, s.id, {.zone_size = 32, .reformat = true});
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ((*ns)->geometry().zone_size, 32u);
  EXPECT_EQ(ZoneOf(**ns, 0).state, ZoneState::kEmpty);
  ExpectData(**ns, 0, 0, 8);
}

TEST(ZnsFormatTest, ACorruptConfigurationIsDataLoss) {
  TestDomain s = NewDomain();
  ASSERT_TRUE(ZonedNamespace::Format(*s.unit, s.id).ok());
  SetPointer(s, 0, internal::EncodeConfig(7) ^ (uint64_t{1} << 33));  // a bit flipped
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::MountOrFormat(*s.unit, s.id);
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kDataLoss) << ns.status();
  EXPECT_NE(ns.status().message().find("CRC"), std::string::npos) << ns.status();
}

// ---- recovery ---------------------------------------------------------------------------------

TEST(ZnsRecoveryTest, ZoneStatesAndDataSurviveACleanRestart) {
  const std::string spec = "model:testdata/units/tiny.json:" + TempFile("restart.sef");
  {
    TestDomain s = NewDomain({}, spec);
    std::unique_ptr<ZonedNamespace> ns = *ZonedNamespace::Format(*s.unit, s.id);
    ASSERT_TRUE(WriteBlocks(*ns, 0, 128).ok());   // 0: full by writes
    ASSERT_TRUE(WriteBlocks(*ns, 128, 10).ok());  // 1: finished with data
    ASSERT_TRUE(ns->ZoneManagementSend(ZoneAction::kFinish, Lba(128)).ok());
    ASSERT_TRUE(WriteBlocks(*ns, 256, 17).ok());  // 2: implicitly open with data
    ASSERT_TRUE(ns->ZoneManagementSend(ZoneAction::kFinish, Lba(384)).ok());  // 3: finished empty
    ASSERT_TRUE(WriteBlocks(*ns, 512, 4).ok());                               // 4: reset after data
    ASSERT_TRUE(ns->ZoneManagementSend(ZoneAction::kReset, Lba(512)).ok());
    ASSERT_TRUE(ns->ZoneManagementSend(ZoneAction::kOpen, Lba(640)).ok());  // 5: open, no data
    ASSERT_TRUE(WriteBlocks(*ns, 768, 3).ok());                             // 6: closed with data
    ASSERT_TRUE(ns->ZoneManagementSend(ZoneAction::kClose, Lba(768)).ok());
    ASSERT_TRUE(ns->Unmount().ok());
  }
  TestDomain s;
  s.unit = *testing::OpenUnit(spec);
  s.id = QosDomainId(1);
  std::unique_ptr<ZonedNamespace> ns = *ZonedNamespace::Mount(*s.unit, s.id);
  const std::vector<std::pair<ZoneState, uint64_t>> want = {
      {ZoneState::kFull, 0},     {ZoneState::kFull, 0},    {ZoneState::kClosed, 256 + 17},
      {ZoneState::kFull, 0},     {ZoneState::kEmpty, 512}, {ZoneState::kEmpty, 640},
      {ZoneState::kClosed, 771}, {ZoneState::kEmpty, 896}};
  for (uint32_t z = 0; z < want.size(); ++z) {
    const ZoneDescriptor d = ZoneOf(*ns, z);
    EXPECT_EQ(d.state, want[z].first) << "zone " << z << ": " << ZoneStateName(d.state);
    if (d.state != ZoneState::kFull) {
      EXPECT_EQ(d.write_pointer, Lba(want[z].second)) << z;
    }
    EXPECT_EQ(d.attributes, 0) << z;
  }
  ExpectData(*ns, 0, 128, 128);
  ExpectData(*ns, 1, 10, 128);
  ExpectData(*ns, 2, 17, 20);
  ExpectData(*ns, 3, 0, 4);
  ExpectData(*ns, 4, 0, 4);
  ExpectData(*ns, 6, 3, 6);
  // No super block leaked: zones 0, 1, 2, 3 and 6 hold one each.
  {
    std::unique_ptr<hal::QosDomain> d = *s.unit->OpenQosDomain(s.id);
    EXPECT_EQ(d->ListSuperBlocks()->size(), 5u);
  }
  // Closed zones take writes where they stopped.
  ASSERT_TRUE(WriteBlocks(*ns, 273, 2).ok());
  EXPECT_EQ(ZoneOf(*ns, 2).state, ZoneState::kImplicitlyOpen);
  ExpectData(*ns, 2, 19, 20);
  EXPECT_EQ(NvmeStatusOf(WriteBlocks(*ns, 128 + 10, 1)), NvmeStatus(1, sc::kZoneIsFull, true));
}

// Device states a crash can leave, built by hand: each must come back as the rules say.
TEST(ZnsRecoveryTest, WhatACrashCanLeaveIsRepairedAtMount) {
  TestDomain s = NewDomain();
  ASSERT_TRUE(ZonedNamespace::Format(*s.unit, s.id).ok());
  std::vector<SuperBlockId> sbs;
  {
    std::unique_ptr<hal::QosDomain> d = *s.unit->OpenQosDomain(s.id);
    auto write = [&](SuperBlockId sb, UserAddress ua, uint32_t n, uint64_t lba) {
      std::vector<uint8_t> data = Blocks(lba, n, 1);
      iovec iov = Iov(data);
      ASSERT_TRUE(d->Write({.target = sb, .start = ua, .data = {&iov, 1}}).ok());
    };
    // The domain keeps at most 4 super blocks open at once.
    auto allocate = [&] {
      absl::StatusOr<hal::SuperBlockAllocation> a = d->AllocateSuperBlock();
      ASSERT_TRUE(a.ok()) << a.status();
      sbs.push_back(a->id);
    };
    for (int i = 0; i < 4; ++i) allocate();
    // sbs[0]: allocated, never written.
    // sbs[1]: zone 1's finish marker, the close never happened.
    write(sbs[1], internal::FinishMarkerAddress(128), 1, 128);
    // sbs[2]: zone 2, 5 blocks, then a block that belongs elsewhere (misplaced).
    write(sbs[2], internal::DataAddress(256), 5, 256);
    write(sbs[2], internal::DataAddress(256 + 9), 1, 256 + 9);
    // sbs[3] and sbs[5]: two super blocks for zone 3 (a Reset whose release failed): the
    // newer (sbs[5]) wins.
    write(sbs[3], internal::DataAddress(384), 7, 384);
    ASSERT_TRUE(d->CloseSuperBlock(sbs[3]).ok());
    // sbs[4]: zone 4 filled to its capacity (the device closed it).
    allocate();
    write(sbs[4], internal::DataAddress(512), 127, 512);
    write(sbs[4], internal::DataAddress(512 + 127), 1, 512 + 127);
    allocate();
    write(sbs[5], internal::DataAddress(384), 2, 384);
  }
  std::unique_ptr<ZonedNamespace> ns = *ZonedNamespace::Mount(*s.unit, s.id);
  EXPECT_EQ(ZoneOf(*ns, 0).state, ZoneState::kEmpty);
  EXPECT_EQ(ZoneOf(*ns, 1).state, ZoneState::kEmpty);
  EXPECT_EQ(ZoneOf(*ns, 2).state, ZoneState::kFull);
  EXPECT_EQ(ZoneOf(*ns, 2).attributes, kZoneAttributeFinishedByController);
  ExpectData(*ns, 2, 5, 12);
  EXPECT_EQ(ZoneOf(*ns, 3).state, ZoneState::kClosed);
  EXPECT_EQ(ZoneOf(*ns, 3).write_pointer, Lba(386));
  ExpectData(*ns, 3, 2, 8);
  EXPECT_EQ(ZoneOf(*ns, 4).state, ZoneState::kFull);
  ExpectData(*ns, 4, 128, 128);
  ns.reset();
  std::unique_ptr<hal::QosDomain> d = *s.unit->OpenQosDomain(s.id);
  absl::StatusOr<std::vector<hal::SuperBlockEntry>> left = d->ListSuperBlocks();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 3u);  // zones 2, 3, 4
  for (const hal::SuperBlockEntry& e : *left) {
    const bool open = e.id == sbs[5];
    EXPECT_EQ(e.state == hal::SuperBlockState::kClosed, !open) << e.id.value();
  }
}

TEST(ZnsRecoveryTest, DataZnsDidNotWriteIsDataLoss) {
  TestDomain s = NewDomain();
  ASSERT_TRUE(ZonedNamespace::Format(*s.unit, s.id).ok());
  {
    std::unique_ptr<hal::QosDomain> d = *s.unit->OpenQosDomain(s.id);
    std::vector<uint8_t> data = Blocks(0, 1, 1);
    iovec iov = Iov(data);
    ASSERT_TRUE(d->Write({.target = hal::ByPlacement{PlacementId(0)},
                          .start = *UserAddress::Make(Lba(5), 1),
                          .data = {&iov, 1}})
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Mount(*s.unit, s.id);
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kDataLoss) << ns.status();
  EXPECT_NE(ns.status().message().find("did not write"), std::string::npos) << ns.status();
}

// ---- device faults ----------------------------------------------------------------------------

bool IsNamelessWrite(const Command& c) {
  return c.queue == QueueType::kIo &&
         c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kNamelessWrite);
}
bool IsSbm(const Command& c, wire::SbOperation op) {
  return c.queue == QueueType::kIo &&
         c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kSuperBlockManagement) &&
         ((c.sqe.cdw11 >> 16) & 0xF) == static_cast<uint32_t>(op);
}

struct Faulty {
  hal::testing::FaultTransport* faults = nullptr;
  std::unique_ptr<hal::Unit> unit;
  QosDomainId id;
  std::unique_ptr<ZonedNamespace> ns;
};

Faulty NewFaulty(hal::CompletionOrder order) {
  Faulty f;
  absl::StatusOr<std::unique_ptr<hal::Transport>> t = hal::OpenTransport(
      "model:testdata/units/tiny.json", {.completion_order = order, .shuffle_seed = 7});
  EXPECT_TRUE(t.ok()) << t.status();
  auto faults = std::make_unique<hal::testing::FaultTransport>(*std::move(t));
  f.faults = faults.get();
  f.unit = *hal::Unit::Open(std::move(faults));
  f.id = *testing::MakeDomain(*f.unit);
  f.ns = *ZonedNamespace::Format(*f.unit, f.id);
  return f;
}

TEST(ZnsFaultTest, AFailedWriteLeavesTheWritePointerWhereItWas) {
  Faulty f = NewFaulty(hal::CompletionOrder::kInline);
  ASSERT_TRUE(WriteBlocks(*f.ns, 0, 3).ok());
  f.faults->SetRule([](const Command& c) -> std::optional<hal::TransportResult> {
    if (IsNamelessWrite(c))
      return hal::TransportResult{absl::OkStatus(), NvmeStatus(2, 0x80, true), 0};
    return std::nullopt;
  });
  absl::Status s = WriteBlocks(*f.ns, 3, 2);
  EXPECT_EQ(NvmeStatusOf(s), NvmeStatus(2, 0x80, true)) << s;  // the device's own status
  EXPECT_EQ(ZoneOf(*f.ns, 0).write_pointer, Lba(3));
  f.faults->SetRule(nullptr);
  ASSERT_TRUE(WriteBlocks(*f.ns, 3, 2).ok());
  ExpectData(*f.ns, 0, 5, 8);
  EXPECT_EQ(ZoneOf(*f.ns, 0).state, ZoneState::kImplicitlyOpen);
}

TEST(ZnsFaultTest, AFailedAllocationFailsTheWritesWaitingForIt) {
  Faulty f = NewFaulty(hal::CompletionOrder::kInline);
  f.faults->SetRule([](const Command& c) -> std::optional<hal::TransportResult> {
    if (IsSbm(c, wire::SbOperation::kErase)) {
      return hal::TransportResult{absl::OkStatus(), NvmeStatus(0, sc::kCapacityExceeded, true), 0};
    }
    return std::nullopt;
  });
  absl::Status s = WriteBlocks(*f.ns, 128, 1);
  EXPECT_EQ(NvmeStatusOf(s), NvmeStatus(0, sc::kCapacityExceeded, true)) << s;
  EXPECT_EQ(ZoneOf(*f.ns, 1).write_pointer, Lba(128));
  f.faults->SetRule(nullptr);
  ASSERT_TRUE(WriteBlocks(*f.ns, 128, 1).ok());
  ExpectData(*f.ns, 1, 1, 2);
}

// A transport that hands the device one FAR+NLW pair after the one submitted behind it, as
// a device that does not keep the submission order would.
class SwappingTransport final : public hal::Transport {
 public:
  explicit SwappingTransport(std::unique_ptr<hal::Transport> inner) : inner_(std::move(inner)) {}
  void SwapPair(int n) { swap_.store(n); }
  const std::string& name() const override { return inner_->name(); }
  void Submit(const Command& c, hal::TransportCallback done) override {
    inner_->Submit(c, std::move(done));
  }
  void SubmitPair(const Command& first, hal::TransportCallback first_done, const Command& second,
                  hal::TransportCallback second_done) override {
    std::unique_ptr<Held> held;
    {
      MutexLock lock(&mu_);
      if (pairs_++ == swap_.load()) {
        held_ = std::make_unique<Held>(
            Held{first, std::move(first_done), second, std::move(second_done)});
        return;
      }
      held = std::move(held_);
    }
    inner_->SubmitPair(first, std::move(first_done), second, std::move(second_done));
    if (held != nullptr) {
      inner_->SubmitPair(held->first, std::move(held->first_done), held->second,
                         std::move(held->second_done));
    }
  }
  absl::Status WatchEvents(absl::AnyInvocable<void(const hal::TransportEvent&)> on) override {
    return inner_->WatchEvents(std::move(on));
  }
  bool events_need_log_reads() const override { return inner_->events_need_log_reads(); }

 private:
  struct Held {
    Command first;
    hal::TransportCallback first_done;
    Command second;
    hal::TransportCallback second_done;
  };
  std::unique_ptr<hal::Transport> inner_;
  std::atomic<int> swap_{-1};
  Mutex mu_;
  int pairs_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<Held> held_ ABSL_GUARDED_BY(mu_);
};

// Writes the device puts somewhere else than where they were reserved are refused, and the
// zone is finished at what completed in place before them.
TEST(ZnsFaultTest, MisplacedWritesFinishTheZone) {
  absl::StatusOr<std::unique_ptr<hal::Transport>> t = hal::OpenTransport(
      "model:testdata/units/tiny.json", {.completion_order = hal::CompletionOrder::kShuffled});
  ASSERT_TRUE(t.ok()) << t.status();
  auto swapping = std::make_unique<SwappingTransport>(*std::move(t));
  SwappingTransport* swap = swapping.get();
  std::unique_ptr<hal::Unit> unit = *hal::Unit::Open(std::move(swapping));
  const QosDomainId id = *testing::MakeDomain(*unit);
  std::unique_ptr<ZonedNamespace> ns = *ZonedNamespace::Format(*unit, id);
  ASSERT_TRUE(WriteBlocks(*ns, 0, 2).ok());  // pair 0
  swap->SwapPair(2);                         // the second write below goes after the third
  constexpr int kWrites = 5;
  std::vector<std::vector<uint8_t>> data;
  std::vector<iovec> iovs(kWrites);
  for (int i = 0; i < kWrites; ++i) data.push_back(Blocks(2 + 3 * i, 3, 1));
  std::vector<std::promise<absl::Status>> done(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    iovs[i] = Iov(data[i]);
    ns->WriteAsync(Lba(2 + 3 * i), 3, {&iovs[i], 1}, false,
                   [&done, i](absl::Status s) { done[i].set_value(std::move(s)); });
  }
  std::vector<absl::Status> results;
  for (auto& d : done) results.push_back(d.get_future().get());
  EXPECT_TRUE(results[0].ok()) << results[0];
  // The two swapped writes are misplaced; those after them were either in flight (not kept)
  // or arrived once the zone was finished.
  for (int i = 1; i < kWrites; ++i) {
    const std::optional<NvmeStatus> st = NvmeStatusOf(results[i]);
    if (i <= 2) {
      EXPECT_EQ(st, NvmeStatus(0, sc::kInternalError, true)) << results[i];
    } else {
      EXPECT_TRUE(st == NvmeStatus(0, sc::kInternalError, true) ||
                  st == NvmeStatus(1, sc::kZoneIsFull, true))
          << results[i];
    }
  }
  EXPECT_NE(results[1].message().find("not at its reserved"), std::string::npos) << results[1];
  const ZoneDescriptor z = ZoneOf(*ns, 0);
  EXPECT_EQ(z.state, ZoneState::kFull);
  EXPECT_EQ(z.attributes, kZoneAttributeFinishedByController);
  ExpectData(*ns, 0, 5, 20);
  // A mount finds the same: the zone's super block was closed, its data ends at the prefix.
  ASSERT_TRUE(ns->Unmount().ok());
  ns.reset();
  ns = *ZonedNamespace::Mount(*unit, id);
  EXPECT_EQ(ZoneOf(*ns, 0).state, ZoneState::kFull);
  ExpectData(*ns, 0, 5, 20);
  // A reset makes the zone usable again.
  ASSERT_TRUE(ns->ZoneManagementSend(ZoneAction::kReset, Lba(0)).ok());
  ASSERT_TRUE(WriteBlocks(*ns, 0, 4, 2).ok());
  ExpectData(*ns, 0, 4, 6, 2);
}

// A write that fails at once (nothing reached the device) while an earlier one is in flight:
// later writes at the old position are refused, the zone goes on from it.
TEST(ZnsFaultTest, AWriteThatFailsFirstRollsTheReservationBack) {
  Faulty f = NewFaulty(hal::CompletionOrder::kShuffled);
  std::atomic<int> writes{0};
  f.faults->SetRule([&writes](const Command& c) -> std::optional<hal::TransportResult> {
    if (IsNamelessWrite(c) && writes.fetch_add(1) == 1) {
      return hal::TransportResult{absl::OkStatus(), NvmeStatus(0, sc::kAbortRequested, true), 0};
    }
    return std::nullopt;
  });
  std::vector<uint8_t> a = Blocks(0, 3, 1), b = Blocks(3, 3, 1);
  iovec ia = Iov(a), ib = Iov(b);
  std::promise<absl::Status> pa, pb;
  f.ns->WriteAsync(Lba(0), 3, {&ia, 1}, false, [&](absl::Status s) { pa.set_value(std::move(s)); });
  f.ns->WriteAsync(Lba(3), 3, {&ib, 1}, false, [&](absl::Status s) { pb.set_value(std::move(s)); });
  EXPECT_TRUE(pa.get_future().get().ok());
  EXPECT_EQ(NvmeStatusOf(pb.get_future().get()), NvmeStatus(0, sc::kAbortRequested, true));
  f.faults->SetRule(nullptr);
  EXPECT_EQ(ZoneOf(*f.ns, 0).write_pointer, Lba(3));
  ASSERT_TRUE(WriteBlocks(*f.ns, 3, 3).ok());
  ExpectData(*f.ns, 0, 6, 8);
}

// The device closes an open super block whose open period expired: its zone takes no more
// writes, is Full with the "finished by controller" attribute, and stays Full.
TEST(ZnsFaultTest, ADeviceThatClosesASuperBlockFinishesItsZone) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<hal::testing::TestUnit>> t = hal::testing::TestUnit::Open(
      {.config = "tiny",
       .edit_config = [](model::UnitConfig& c) { c.open_expiration_seconds = 60; },
       .clock = &clock});
  ASSERT_TRUE(t.ok()) << t.status();
  const QosDomainId id = *(*t)->Provision();
  std::unique_ptr<ZonedNamespace> ns = *ZonedNamespace::Format((*t)->unit(), id);
  ASSERT_TRUE(WriteBlocks(*ns, 128, 5).ok());
  clock.Advance(std::chrono::seconds(61));
  (*t)->controller().Tick();  // the open period expires: the device closes the SB
  // The event reaches the namespace on the unit's notification thread.
  for (int i = 0; i < 1000 && ZoneOf(*ns, 1).state != ZoneState::kFull; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const ZoneDescriptor z = ZoneOf(*ns, 1);
  EXPECT_EQ(z.state, ZoneState::kFull);
  EXPECT_EQ(z.attributes, kZoneAttributeFinishedByController);
  EXPECT_EQ(NvmeStatusOf(WriteBlocks(*ns, 133, 1)), NvmeStatus(1, sc::kZoneIsFull, true));
  ExpectData(*ns, 1, 5, 8);
  // Its open resources are free again (3 active zones allowed).
  for (uint32_t zone = 2; zone < 5; ++zone) {
    EXPECT_TRUE(WriteBlocks(*ns, zone * 128, 1).ok()) << zone;
  }
  ASSERT_TRUE(ns->Unmount().ok());
  ns.reset();
  ns = *ZonedNamespace::Mount((*t)->unit(), id);
  EXPECT_EQ(ZoneOf(*ns, 1).state, ZoneState::kFull);
  ExpectData(*ns, 1, 5, 8);
}

TEST(ZnsFaultTest, AFailedFlushIsReported) {
  Faulty f = NewFaulty(hal::CompletionOrder::kInline);
  ASSERT_TRUE(WriteBlocks(*f.ns, 0, 1).ok());
  ASSERT_TRUE(f.ns->Flush().ok());
  f.faults->SetRule([](const Command& c) -> std::optional<hal::TransportResult> {
    if (IsSbm(c, wire::SbOperation::kFlush)) {
      return hal::TransportResult{absl::OkStatus(), NvmeStatus(2, 0x80, true), 0};
    }
    return std::nullopt;
  });
  EXPECT_EQ(NvmeStatusOf(f.ns->Flush()), NvmeStatus(2, 0x80, true));
  f.faults->SetRule(nullptr);
}

}  // namespace
}  // namespace sef::zns
