// Conformance tests of the device model's asynchronous events, driven only through encoded
// commands: AERs park until an event; SB state changes (closed by fill, by command, by copy,
// by open expiration; needs patrol) complete them with 0xD34006 and VD critical warnings with
// 0xD04006; logs 0xD3 / 0xD0 with LSI 0xFFFF name what happened, with NVMe's retain (RAE)
// semantics; the AER limit; AERs aborted when the unit closes.
#include <chrono>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "sef/base/clock.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model {
namespace {

using testing::CommandSpecific;
using testing::Generic;
using testing::ModelHarness;
namespace sc = wire::sc;

constexpr VirtualDeviceId kVd(1);
constexpr uint64_t kSbEvent = 0xD34006;
constexpr uint64_t kVdEvent = 0xD04006;

struct PendingSb {
  Completion completion;
  wire::SbInfoLog info{};
};

// Log 0xD3 with LSI 0xFFFF: the SB whose state change is pending.
PendingSb ReadPendingSb(ModelHarness& h, bool retain) {
  PendingSb out;
  std::vector<uint8_t> buf(sizeof(wire::SbInfoLog));
  out.completion = h.Admin(cmd::SuperBlockInfoLogRequest{
      kPendingEventVirtualDevice, SuperBlockId(0), retain, cmd::MutableBytes::Of(buf)});
  std::memcpy(&out.info, buf.data(), sizeof(out.info));
  return out;
}

struct PendingVd {
  Completion completion;
  wire::VdInfoLogHeader info{};
};

PendingVd ReadPendingVd(ModelHarness& h, bool retain) {
  PendingVd out;
  std::vector<uint8_t> buf(512);
  out.completion = h.Admin(
      cmd::VdInfoLogRequest{kPendingEventVirtualDevice, retain, cmd::MutableBytes::Of(buf)});
  std::memcpy(&out.info, buf.data(), sizeof(out.info));
  return out;
}

bool Fired(const ModelHarness::Slot& s, uint64_t result) {
  return s->has_value() && (*s)->status.ok() && (*s)->result == result;
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.ok());
    h_.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
    d_ = h_.CreateDomain(h_.DefaultSpec(kVd));
    ASSERT_NE(d_.value(), 0);
  }
  ModelHarness h_ = ModelHarness::Open("tiny");
  QosDomainId d_;
};

TEST_F(EventsTest, AerParksUntilAnEvent) {
  ModelHarness::Slot aer = h_.SubmitAer();
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.Write(d_, e.sb, Lba(0), 3).nlw.status.ok());
  h_.unit().Tick();
  EXPECT_FALSE(aer->has_value());  // an erase and a write are no events
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, e.sb).status.ok());
  ASSERT_TRUE(aer->has_value());
  EXPECT_TRUE((*aer)->status.ok());
  EXPECT_EQ((*aer)->result, kSbEvent);
  EXPECT_EQ(cmd::AsyncEvent::FromResult(static_cast<uint32_t>((*aer)->result)),
            cmd::AsyncEvent::Sef(wire::LogId::kSuperBlockInfo));
  const PendingSb p = ReadPendingSb(h_, false);
  ASSERT_TRUE(p.completion.status.ok()) << p.completion.status;
  EXPECT_EQ(p.info.st, wire::kStEraseClosed);
  EXPECT_EQ(p.info.sbs, wire::kSbsClosed);
  EXPECT_EQ(p.info.sbid, e.sb.value());
  EXPECT_EQ(p.info.qosdid, d_.value());
  EXPECT_EQ(p.info.vdid, kVd.value());
  EXPECT_EQ(p.info.aduptr, 3u);
  EXPECT_EQ(p.info.cap, 64u);
  // Consumed: nothing is pending any more.
  EXPECT_EQ(ReadPendingSb(h_, false).completion.status, Generic(sc::kInvalidField));
}

TEST_F(EventsTest, EventBeforeAnAerIsDeliveredWhenOneArrives) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, e.sb).status.ok());
  ModelHarness::Slot aer = h_.SubmitAer();
  EXPECT_TRUE(Fired(aer, kSbEvent));
}

TEST_F(EventsTest, SbClosedByFillIsTransitionFour) {
  ModelHarness::Slot aer = h_.SubmitAer();
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(1)}, Lba(0), 64);
  ASSERT_TRUE(w.nlw.status.ok());
  EXPECT_TRUE(Fired(aer, kSbEvent));
  const PendingSb p = ReadPendingSb(h_, false);
  ASSERT_TRUE(p.completion.status.ok());
  EXPECT_EQ(p.info.st, wire::kStNlwClosed);
  EXPECT_EQ(p.info.pid, 1);
  EXPECT_EQ(p.info.aduptr, 64u);
  EXPECT_EQ(p.info.sbid, w.addresses[0].super_block(h_.FormatOf(d_).address).value());
}

TEST_F(EventsTest, SbClosedByCommandAfterPlacementWriteIsTransitionFour) {
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 5);
  const SuperBlockId sb = w.addresses[0].super_block(h_.FormatOf(d_).address);
  ModelHarness::Slot aer = h_.SubmitAer();
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, sb).status.ok());
  EXPECT_TRUE(Fired(aer, kSbEvent));
  EXPECT_EQ(ReadPendingSb(h_, false).info.st, wire::kStNlwClosed);
}

TEST_F(EventsTest, SbClosedByCopyIsTransitionEight) {
  const ModelHarness::Written src = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 64);
  ASSERT_TRUE(ReadPendingSb(h_, false).completion.status.ok());  // the source's close
  const ModelHarness::Erased dest = h_.Erase(d_);
  ModelHarness::Slot aer = h_.SubmitAer();
  const ModelHarness::Copied c =
      h_.Copy(d_, dest.sb, cmd::CopyBitmap{src.addresses[0], {0xFFFFFFFF, 0xFFFFFFFF}});
  ASSERT_TRUE(c.gcr.status.ok());
  EXPECT_TRUE(Fired(aer, kSbEvent));
  const PendingSb p = ReadPendingSb(h_, false);
  EXPECT_EQ(p.info.st, wire::kStNlcClosed);
  EXPECT_EQ(p.info.sbid, dest.sb.value());
  EXPECT_EQ(p.info.aduptr, 64u);
}

TEST_F(EventsTest, RetainKeepsTheEventAndDoesNotRearm) {
  const ModelHarness::Erased a = h_.Erase(d_);
  const ModelHarness::Erased b = h_.Erase(d_);
  ModelHarness::Slot first = h_.SubmitAer();
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, a.sb).status.ok());
  EXPECT_TRUE(Fired(first, kSbEvent));
  ModelHarness::Slot second = h_.SubmitAer();
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, b.sb).status.ok());
  EXPECT_FALSE(second->has_value());  // the first event is still outstanding
  // RAE = 1: the same event, twice, and the second AER stays parked.
  for (int i = 0; i < 2; ++i) {
    const PendingSb p = ReadPendingSb(h_, true);
    ASSERT_TRUE(p.completion.status.ok());
    EXPECT_EQ(p.info.sbid, a.sb.value());
    EXPECT_FALSE(second->has_value());
  }
  // RAE = 0 consumes it and lets the next event through.
  EXPECT_EQ(ReadPendingSb(h_, false).info.sbid, a.sb.value());
  EXPECT_TRUE(Fired(second, kSbEvent));
  EXPECT_EQ(ReadPendingSb(h_, false).info.sbid, b.sb.value());
  EXPECT_EQ(ReadPendingSb(h_, false).completion.status, Generic(sc::kInvalidField));
}

// NVMe: reading a log page with RAE = 0 re-arms its event. Read by id, the pending event is
// not consumed (only LSI 0xFFFF reads it), so the re-armed AEN reports it again.
TEST_F(EventsTest, ReadingTheLogByIdWithRaeZeroReArmsTheEvent) {
  const ModelHarness::Erased a = h_.Erase(d_);
  const ModelHarness::Erased b = h_.Erase(d_);
  ModelHarness::Slot first = h_.SubmitAer();
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, a.sb).status.ok());
  ASSERT_TRUE(Fired(first, kSbEvent));
  ModelHarness::Slot second = h_.SubmitAer();
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, b.sb).status.ok());
  std::vector<uint8_t> buf(sizeof(wire::SbInfoLog));
  ASSERT_TRUE(h_.Admin(cmd::SuperBlockInfoLogRequest{kVd, a.sb, false, cmd::MutableBytes::Of(buf)})
                  .status.ok());
  EXPECT_TRUE(Fired(second, kSbEvent));
}

TEST_F(EventsTest, AerLimitExceeded) {
  std::vector<ModelHarness::Slot> aers;
  for (int i = 0; i < 4; ++i) {
    aers.push_back(h_.SubmitAer());
    EXPECT_FALSE(aers.back()->has_value()) << i;
  }
  ModelHarness::Slot fifth = h_.SubmitAer();
  ASSERT_TRUE(fifth->has_value());
  EXPECT_EQ((*fifth)->status, CommandSpecific(0x05));
  // The four still work: the oldest gets the next event.
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, e.sb).status.ok());
  EXPECT_TRUE(Fired(aers[0], kSbEvent));
  EXPECT_FALSE(aers[1]->has_value());
}

TEST_F(EventsTest, ClosingTheUnitAbortsParkedAers) {
  ModelHarness::Slot aer = h_.SubmitAer();
  h_.Close();
  ASSERT_TRUE(aer->has_value());
  EXPECT_EQ((*aer)->status, Generic(sc::kAbortRequested));
}

TEST_F(EventsTest, ControllerResetAbortsParkedCommandsAndReArmsEvents) {
  ModelHarness::Slot aer = h_.SubmitAer();
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, e.sb).status.ok());
  ASSERT_TRUE(Fired(aer, kSbEvent));  // reported; the host never reads the log
  ModelHarness::Slot parked = h_.SubmitAer();
  h_.unit().AbortOutstanding();
  ASSERT_TRUE(parked->has_value());
  EXPECT_EQ((*parked)->status, Generic(sc::kAbortRequested));
  // After the reset the still-pending event is reported again to the new AER.
  ModelHarness::Slot fresh = h_.SubmitAer();
  EXPECT_TRUE(Fired(fresh, kSbEvent));
  // The unit itself is untouched.
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs & 0x0F, wire::kSbsClosed);
}

// ---- VD critical warnings ---------------------------------------------------------------------

TEST_F(EventsTest, OutOfPslcSuperBlocksIsAVdEvent) {
  cmd::QosDomainSpec spec = h_.DefaultSpec(kVd);
  spec.capacity = PlanePageCount(64);
  spec.quota = PlanePageCount(64);
  spec.pslc_capacity = PlanePageCount(8);
  spec.pslc_quota = PlanePageCount(8);
  const QosDomainId p = h_.CreateDomain(spec);
  ASSERT_TRUE(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 1}).status.ok());
  ModelHarness::Slot aer = h_.SubmitAer();
  EXPECT_FALSE(aer->has_value());
  const ModelHarness::Erased e = h_.Erase(p, kDeviceChoosesSuperBlock, true);
  ASSERT_TRUE(e.completion.status.ok());
  EXPECT_TRUE(Fired(aer, kVdEvent));
  EXPECT_EQ(cmd::AsyncEvent::FromResult(static_cast<uint32_t>((*aer)->result)),
            cmd::AsyncEvent::Sef(wire::LogId::kVirtualDeviceInfo));
  // RAE = 1 first (as sef.ko does), then RAE = 0.
  PendingVd v = ReadPendingVd(h_, true);
  ASSERT_TRUE(v.completion.status.ok()) << v.completion.status;
  EXPECT_EQ(v.info.vdid, kVd.value());
  EXPECT_EQ(v.info.crit_warn, wire::kCritOutOfPslcSuperBlocks);
  v = ReadPendingVd(h_, false);
  ASSERT_TRUE(v.completion.status.ok());
  EXPECT_EQ(v.info.vdid, kVd.value());
  EXPECT_EQ(ReadPendingVd(h_, false).completion.status, Generic(sc::kInvalidField));
  // The warning stays in log 0xD0 while it holds, and clears when the SB is freed.
  EXPECT_EQ(h_.VdInfo(kVd).crit_warn, wire::kCritOutOfPslcSuperBlocks);
  ASSERT_TRUE(h_.SuperBlockOp(p, wire::SbOperation::kFree, e.sb).status.ok());
  EXPECT_EQ(h_.VdInfo(kVd).crit_warn, 0);
  // It raises a new event when it comes back.
  ModelHarness::Slot again = h_.SubmitAer();
  ASSERT_TRUE(h_.Erase(p, kDeviceChoosesSuperBlock, true).completion.status.ok());
  EXPECT_TRUE(Fired(again, kVdEvent));
}

TEST_F(EventsTest, MaskedCriticalWarningRaisesNoEvent) {
  cmd::QosDomainSpec spec = h_.DefaultSpec(kVd);
  spec.capacity = PlanePageCount(64);
  spec.quota = PlanePageCount(64);
  spec.pslc_capacity = PlanePageCount(8);
  spec.pslc_quota = PlanePageCount(8);
  const QosDomainId p = h_.CreateDomain(spec);
  ASSERT_TRUE(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 1}).status.ok());
  // sef.ko silences the bits that fired: mask = ~crit_warn & 7.
  ASSERT_TRUE(
      h_.Admin(cmd::SetVdAenControlRequest{kVd, wire::kCritAll & ~wire::kCritOutOfPslcSuperBlocks})
          .status.ok());
  ModelHarness::Slot aer = h_.SubmitAer();
  ASSERT_TRUE(h_.Erase(p, kDeviceChoosesSuperBlock, true).completion.status.ok());
  EXPECT_FALSE(aer->has_value());
  EXPECT_EQ(h_.VdInfo(kVd).crit_warn, wire::kCritOutOfPslcSuperBlocks);  // still reported
  EXPECT_EQ(ReadPendingVd(h_, false).completion.status, Generic(sc::kInvalidField));
}

TEST(EventsVd, OutOfSuperBlocksIsAVdEvent) {
  ModelHarness h = ModelHarness::Open("tiny");
  ASSERT_TRUE(h.ok());
  h.CreateVirtualDevice(kVd, {0}, 1);  // 16 SBs of 8 plane pages
  cmd::QosDomainSpec spec = h.DefaultSpec(kVd);
  spec.capacity = PlanePageCount(128);
  spec.quota = PlanePageCount(128);
  const QosDomainId d = h.CreateDomain(spec);
  for (int i = 0; i < 15; ++i) {
    const ModelHarness::Erased e = h.Erase(d);
    ASSERT_TRUE(e.completion.status.ok()) << i;
    ASSERT_TRUE(h.SuperBlockOp(d, wire::SbOperation::kClose, e.sb).status.ok());
  }
  EXPECT_EQ(h.VdInfo(kVd).crit_warn, 0);
  ASSERT_TRUE(h.Erase(d).completion.status.ok());  // the last free SB
  EXPECT_EQ(h.VdInfo(kVd).crit_warn, wire::kCritOutOfSuperBlocks);
  // Two AERs: the VD event and the (first) SB close event, one each.
  ModelHarness::Slot a = h.SubmitAer();
  ModelHarness::Slot b = h.SubmitAer();
  EXPECT_TRUE(Fired(a, kVdEvent));
  EXPECT_TRUE(Fired(b, kSbEvent));
  const PendingVd v = ReadPendingVd(h, false);
  ASSERT_TRUE(v.completion.status.ok());
  EXPECT_EQ(v.info.vdid, kVd.value());
  EXPECT_EQ(v.info.crit_warn, wire::kCritOutOfSuperBlocks);
  EXPECT_EQ(v.info.sbsta.nfrsb, 0u);
}

// ---- time-driven events -----------------------------------------------------------------------

ControllerOptions TimedOptions(Clock* clock) {
  ControllerOptions options;
  options.config = testing::LoadTestUnit("tiny");
  options.config.open_expiration_seconds = 60;
  options.config.patrol_cycle_minutes = 2;
  options.clock = clock;
  return options;
}

class TimedEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.ok());
    h_.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
    d_ = h_.CreateDomain(h_.DefaultSpec(kVd));
  }
  void Advance(int seconds) {
    clock_.Advance(std::chrono::seconds(seconds));
    h_.unit().Tick();
  }
  FakeClock clock_;
  ModelHarness h_ = ModelHarness::OpenWith(TimedOptions(&clock_));
  QosDomainId d_;
};

TEST_F(TimedEventsTest, IdentifyAndLogsReportTheTimes) {
  std::vector<uint8_t> buf(4096);
  ASSERT_TRUE(h_.Admin(cmd::IdentifySefControllerRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  wire::IdentifySefController id;
  std::memcpy(&id, buf.data(), sizeof(id));
  EXPECT_EQ(id.eop, 60);
  EXPECT_EQ(h_.VdInfo(kVd).rpc, 2);
}

TEST_F(TimedEventsTest, OpenSuperBlocksExpire) {
  const ModelHarness::Erased e = h_.Erase(d_);
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(1)}, Lba(0), 2);
  const SuperBlockId by_pid = w.addresses[0].super_block(h_.FormatOf(d_).address);
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).tl, 1);  // minutes left
  ModelHarness::Slot a = h_.SubmitAer();
  ModelHarness::Slot b = h_.SubmitAer();
  Advance(59);
  EXPECT_FALSE(a->has_value());
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs, wire::kSbsOpenByErase);
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).tl, 0);
  Advance(1);
  EXPECT_TRUE(Fired(a, kSbEvent));
  EXPECT_FALSE(b->has_value());  // one SB event outstanding at a time
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs, wire::kSbsClosed);
  EXPECT_EQ(h_.SbInfo(kVd, by_pid).sbs, wire::kSbsClosed);
  const PendingSb first = ReadPendingSb(h_, false);
  ASSERT_TRUE(first.completion.status.ok());
  EXPECT_TRUE(Fired(b, kSbEvent));
  const PendingSb second = ReadPendingSb(h_, false);
  ASSERT_TRUE(second.completion.status.ok());
  // One was opened by erase (ST 16), the other by placement id (ST 4).
  const PendingSb& erased = first.info.sbid == e.sb.value() ? first : second;
  const PendingSb& placed = first.info.sbid == e.sb.value() ? second : first;
  EXPECT_EQ(erased.info.sbid, e.sb.value());
  EXPECT_EQ(erased.info.st, wire::kStEraseClosed);
  EXPECT_EQ(placed.info.sbid, by_pid.value());
  EXPECT_EQ(placed.info.st, wire::kStNlwClosed);
  EXPECT_EQ(placed.info.aduptr, 2u);
  // Closed SBs do not expire again; a write by placement opens a new SB.
  const ModelHarness::Written next = h_.Write(d_, cmd::ByPlacement{PlacementId(1)}, Lba(9), 1);
  EXPECT_NE(next.addresses[0].super_block(h_.FormatOf(d_).address), by_pid);
}

TEST_F(TimedEventsTest, ClosedSuperBlockNeedsPatrolAfterTheCycle) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, e.sb).status.ok());
  ASSERT_TRUE(ReadPendingSb(h_, false).completion.status.ok());  // the close
  ModelHarness::Slot aer = h_.SubmitAer();
  Advance(119);
  EXPECT_FALSE(aer->has_value());
  Advance(1);
  EXPECT_TRUE(Fired(aer, kSbEvent));
  PendingSb p = ReadPendingSb(h_, false);
  ASSERT_TRUE(p.completion.status.ok());
  EXPECT_EQ(p.info.st, wire::kStIntegrityUnknown);
  EXPECT_EQ(p.info.sbid, e.sb.value());
  EXPECT_EQ(p.info.sbs, wire::kSbsClosed);
  // Log 0xD2 order 2 (check) lists it until a patrol.
  std::vector<uint8_t> buf(64);
  ASSERT_TRUE(h_.Admin(cmd::SuperBlockListLogRequest{d_, wire::SbListOrder::kCheck, 0,
                                                     cmd::MutableBytes::Of(buf)})
                  .status.ok());
  wire::SbListEntry entry;
  std::memcpy(&entry, buf.data(), sizeof(entry));
  EXPECT_EQ(entry.sbid, e.sb.value());
  std::memcpy(&entry, buf.data() + 8, sizeof(entry));
  EXPECT_EQ(entry.sbid, wire::kSbListEnd);
  // No second event for the same cycle.
  ModelHarness::Slot next = h_.SubmitAer();
  Advance(200);
  EXPECT_FALSE(next->has_value());
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kPatrol, e.sb).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::SuperBlockListLogRequest{d_, wire::SbListOrder::kCheck, 0,
                                                     cmd::MutableBytes::Of(buf)})
                  .status.ok());
  std::memcpy(&entry, buf.data(), sizeof(entry));
  EXPECT_EQ(entry.sbid, wire::kSbListEnd);
  // A patrol restarts the cycle.
  Advance(119);
  EXPECT_FALSE(next->has_value());
  Advance(1);
  EXPECT_TRUE(Fired(next, kSbEvent));
}

TEST_F(TimedEventsTest, SubmitRunsTimeDrivenWork) {
  const ModelHarness::Erased e = h_.Erase(d_);
  ModelHarness::Slot aer = h_.SubmitAer();
  clock_.Advance(std::chrono::seconds(61));
  // No explicit Tick: the next command runs it.
  (void)h_.VdInfo(kVd);
  EXPECT_TRUE(Fired(aer, kSbEvent));
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs, wire::kSbsClosed);
}

}  // namespace
}  // namespace sef::model
