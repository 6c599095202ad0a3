// The zone state machine, table-driven: every state × every event, with resources to spare
// and at the limits (NVMe ZNS; stock QEMU 7.2's nvme_zrm_* and nvme_check_zone_state_for_write).
#include "sef/zns/internal/zone_state.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/cmd/wire.h"

namespace sef::zns::internal {
namespace {

using S = ZoneState;
using E = ZoneEvent;
namespace sc = wire::sc;

constexpr S kStates[] = {S::kEmpty,    S::kImplicitlyOpen, S::kExplicitlyOpen, S::kClosed,
                         S::kReadOnly, S::kFull,           S::kOffline};
constexpr E kEvents[] = {E::kOpen, E::kClose, E::kFinish, E::kReset, E::kOffline, E::kWrite};

// An expected outcome: a new state, or the status code (SCT 1) that refuses.
struct Outcome {
  std::optional<S> next;
  uint8_t refusal = 0;
  bool auto_close = false;
};
Outcome To(S s) { return {s, 0, false}; }
Outcome No(uint8_t code) { return {std::nullopt, code, false}; }

constexpr uint8_t kBadTransition = sc::kInvalidZoneStateTransition;

void Expect(S state, E event, const ZoneResources& r, const Outcome& want) {
  const ZoneDecision d = Decide(state, event, r);
  const std::string where = std::string(ZoneStateName(state)) + " × " + ZoneEventName(event);
  EXPECT_EQ(d.auto_close, want.auto_close) << where;
  if (want.next.has_value()) {
    EXPECT_TRUE(d.status.ok()) << where << ": " << d.status;
    EXPECT_EQ(d.next, *want.next) << where << ": " << ZoneStateName(d.next);
  } else {
    EXPECT_EQ(d.status, NvmeStatus(1, want.refusal, true)) << where;
  }
}

TEST(ZoneStateTest, EveryStateAndEventWithResourcesToSpare) {
  const ZoneResources plenty{.open = 1, .active = 1, .max_open = 4, .max_active = 4};
  // Rows: states in kStates order; columns: events in kEvents order.
  const std::vector<std::vector<Outcome>> table = {
      // Open                 Close                  Finish             Reset
      // Offline              Write
      {To(S::kExplicitlyOpen), No(kBadTransition), To(S::kFull), To(S::kEmpty), No(kBadTransition),
       To(S::kImplicitlyOpen)},  // Empty
      {To(S::kExplicitlyOpen), To(S::kClosed), To(S::kFull), To(S::kEmpty), No(kBadTransition),
       To(S::kImplicitlyOpen)},  // Implicitly Open
      {To(S::kExplicitlyOpen), To(S::kClosed), To(S::kFull), To(S::kEmpty), No(kBadTransition),
       To(S::kExplicitlyOpen)},  // Explicitly Open
      {To(S::kExplicitlyOpen), To(S::kClosed), To(S::kFull), To(S::kEmpty), No(kBadTransition),
       To(S::kImplicitlyOpen)},  // Closed
      {No(kBadTransition), No(kBadTransition), No(kBadTransition), No(kBadTransition),
       To(S::kOffline), No(sc::kZoneIsReadOnly)},  // Read Only
      {No(kBadTransition), No(kBadTransition), To(S::kFull), To(S::kEmpty), No(kBadTransition),
       No(sc::kZoneIsFull)},  // Full
      {No(kBadTransition), No(kBadTransition), No(kBadTransition), No(kBadTransition),
       To(S::kOffline), No(sc::kZoneIsOffline)},  // Offline
  };
  ASSERT_EQ(table.size(), std::size(kStates));
  for (size_t i = 0; i < std::size(kStates); ++i) {
    ASSERT_EQ(table[i].size(), std::size(kEvents));
    for (size_t j = 0; j < std::size(kEvents); ++j) {
      Expect(kStates[i], kEvents[j], plenty, table[i][j]);
    }
  }
}

TEST(ZoneStateTest, OpeningAtTheLimits) {
  // Every active resource taken (and some open ones): opening an Empty zone needs one more.
  const ZoneResources active_full{.open = 2, .active = 4, .max_open = 4, .max_active = 4};
  Expect(S::kEmpty, E::kOpen, active_full, No(sc::kTooManyActiveZones));
  Expect(S::kEmpty, E::kWrite, active_full, No(sc::kTooManyActiveZones));
  // A Closed zone is active already: it needs an open resource only.
  Expect(S::kClosed, E::kOpen, active_full, To(S::kExplicitlyOpen));
  Expect(S::kClosed, E::kWrite, active_full, To(S::kImplicitlyOpen));

  // Every open resource taken by explicitly open zones: nothing to close automatically.
  const ZoneResources open_full{.open = 3, .active = 3, .max_open = 3, .max_active = 4};
  Expect(S::kEmpty, E::kOpen, open_full, No(sc::kTooManyOpenZones));
  Expect(S::kEmpty, E::kWrite, open_full, No(sc::kTooManyOpenZones));
  Expect(S::kClosed, E::kOpen, open_full, No(sc::kTooManyOpenZones));
  Expect(S::kClosed, E::kWrite, open_full, No(sc::kTooManyOpenZones));
  // Already open zones need nothing.
  Expect(S::kImplicitlyOpen, E::kOpen, open_full, To(S::kExplicitlyOpen));
  Expect(S::kExplicitlyOpen, E::kWrite, open_full, To(S::kExplicitlyOpen));

  // ... with an implicitly open zone among them: QEMU's auto transition closes it first.
  ZoneResources auto_close = open_full;
  auto_close.implicitly_open_exists = true;
  Expect(S::kEmpty, E::kOpen, auto_close, {S::kExplicitlyOpen, 0, true});
  Expect(S::kClosed, E::kWrite, auto_close, {S::kImplicitlyOpen, 0, true});
  // The close happens even when the active limit then refuses (as QEMU).
  ZoneResources both_full{
      .open = 4, .active = 4, .max_open = 4, .max_active = 4, .implicitly_open_exists = true};
  Expect(S::kEmpty, E::kWrite, both_full, {std::nullopt, sc::kTooManyActiveZones, true});
  Expect(S::kClosed, E::kOpen, both_full, {S::kExplicitlyOpen, 0, true});

  // Closing, finishing and resetting never need resources.
  for (S s : {S::kImplicitlyOpen, S::kExplicitlyOpen, S::kClosed}) {
    Expect(s, E::kClose, both_full, To(S::kClosed));
    Expect(s, E::kFinish, both_full, To(S::kFull));
    Expect(s, E::kReset, both_full, To(S::kEmpty));
  }
}

TEST(ZoneStateTest, WriteStateStatusesComeFromTheStateAlone) {
  EXPECT_EQ(WriteStateStatus(S::kFull), NvmeStatus(1, sc::kZoneIsFull, true));
  EXPECT_EQ(WriteStateStatus(S::kReadOnly), NvmeStatus(1, sc::kZoneIsReadOnly, true));
  EXPECT_EQ(WriteStateStatus(S::kOffline), NvmeStatus(1, sc::kZoneIsOffline, true));
  for (S s : {S::kEmpty, S::kImplicitlyOpen, S::kExplicitlyOpen, S::kClosed}) {
    EXPECT_TRUE(WriteStateStatus(s).ok()) << ZoneStateName(s);
  }
  for (S s : kStates) {
    EXPECT_EQ(ReadStateStatus(s).ok(), s != S::kOffline) << ZoneStateName(s);
  }
}

TEST(ZoneStateTest, SelectAllPicksTheStatesNvmeNames) {
  // nvme_zone_mgmt_send's processing masks.
  const std::vector<std::pair<ZoneAction, std::vector<S>>> selected = {
      {ZoneAction::kOpen, {S::kClosed}},
      {ZoneAction::kClose, {S::kImplicitlyOpen, S::kExplicitlyOpen}},
      {ZoneAction::kFinish, {S::kImplicitlyOpen, S::kExplicitlyOpen, S::kClosed}},
      {ZoneAction::kReset, {S::kImplicitlyOpen, S::kExplicitlyOpen, S::kClosed, S::kFull}},
      {ZoneAction::kOffline, {S::kReadOnly}},
  };
  for (const auto& [action, states] : selected) {
    for (S s : kStates) {
      const bool want = std::find(states.begin(), states.end(), s) != states.end();
      EXPECT_EQ(SelectedByAll(action, s), want)
          << ZoneActionName(action) << " " << ZoneStateName(s);
    }
  }
}

TEST(ZoneStateTest, ReportFiltersMatchOneStateEach) {
  const std::vector<std::pair<ReportFilter, S>> filters = {
      {ReportFilter::kEmpty, S::kEmpty},
      {ReportFilter::kImplicitlyOpen, S::kImplicitlyOpen},
      {ReportFilter::kExplicitlyOpen, S::kExplicitlyOpen},
      {ReportFilter::kClosed, S::kClosed},
      {ReportFilter::kFull, S::kFull},
      {ReportFilter::kReadOnly, S::kReadOnly},
      {ReportFilter::kOffline, S::kOffline},
  };
  for (S s : kStates) {
    EXPECT_TRUE(MatchesFilter(ReportFilter::kAll, s));
    for (const auto& [filter, only] : filters) {
      EXPECT_EQ(MatchesFilter(filter, s), s == only) << static_cast<int>(filter);
    }
  }
}

TEST(ZoneStateTest, OpenAndActiveAsNvmeCountsThem) {
  for (S s : kStates) {
    EXPECT_EQ(IsOpen(s), s == S::kImplicitlyOpen || s == S::kExplicitlyOpen);
    EXPECT_EQ(IsActive(s), IsOpen(s) || s == S::kClosed);
  }
}

}  // namespace
}  // namespace sef::zns::internal
