// The one mapping from an NVMe status to a canonical code, and the typed status that rides
// along with it (command.h: ToStatus, NvmeStatusOf, SetNvmeStatus).
#include "absl/status/status.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/wire.h"

namespace sef {
namespace {

using ::testing::HasSubstr;
using C = absl::StatusCode;
namespace sc = wire::sc;

struct Case {
  NvmeStatus status;
  C code;
};

// Every status the device model answers (docs/model.md, "Statuses"), the ZNS statuses the
// zoned layer answers, and the SEF partial write, each with its deliberate canonical code.
const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {NvmeStatus(0, sc::kInvalidOpcode, true), C::kUnimplemented},
      {NvmeStatus(0, sc::kInvalidField, true), C::kInvalidArgument},
      {NvmeStatus(0, sc::kCommandIdConflict, true), C::kAlreadyExists},
      {NvmeStatus(0, sc::kDataTransferError, true), C::kInternal},
      {NvmeStatus(0, sc::kAbortedPowerLoss, false), C::kUnavailable},
      {NvmeStatus(0, sc::kInternalError, true), C::kInternal},
      {NvmeStatus(0, sc::kAbortRequested, true), C::kAborted},
      {NvmeStatus(0, sc::kInvalidNamespace, true), C::kNotFound},
      {NvmeStatus(0, sc::kCommandSequenceError, true), C::kFailedPrecondition},
      {NvmeStatus(0, sc::kLbaOutOfRange, true), C::kOutOfRange},
      {NvmeStatus(0, sc::kCapacityExceeded, true), C::kResourceExhausted},
      {NvmeStatus(0, sc::kNamespaceNotReady, false), C::kUnavailable},
      {NvmeStatus(1, sc::kAsyncEventLimitExceeded, true), C::kResourceExhausted},
      {NvmeStatus(1, sc::kInvalidLogPage, true), C::kInvalidArgument},
      {NvmeStatus(1, sc::kFeatureNotChangeable, true), C::kFailedPrecondition},
      {NvmeStatus(1, sc::kNamespaceInsufficientCapacity, true), C::kResourceExhausted},
      {NvmeStatus(1, sc::kNamespaceIdUnavailable, true), C::kResourceExhausted},
      {NvmeStatus(1, sc::kNamespaceAlreadyAttached, true), C::kAlreadyExists},
      {NvmeStatus(1, sc::kNamespaceIsPrivate, true), C::kFailedPrecondition},
      {NvmeStatus(1, sc::kNamespaceNotAttached, true), C::kFailedPrecondition},
      {NvmeStatus(1, sc::kInvalidControllerList, true), C::kInvalidArgument},
      {NvmeStatus(1, sc::kTooManyOpenSuperBlocks, true), C::kResourceExhausted},
      {NvmeStatus(1, sc::kZoneBoundaryError, true), C::kOutOfRange},
      {NvmeStatus(1, sc::kZoneIsFull, true), C::kFailedPrecondition},
      {NvmeStatus(1, sc::kZoneIsReadOnly, true), C::kFailedPrecondition},
      {NvmeStatus(1, sc::kZoneIsOffline, true), C::kFailedPrecondition},
      {NvmeStatus(1, sc::kZoneInvalidWrite, true), C::kFailedPrecondition},
      {NvmeStatus(1, sc::kTooManyActiveZones, true), C::kResourceExhausted},
      {NvmeStatus(1, sc::kInvalidZoneStateTransition, true), C::kFailedPrecondition},
      {NvmeStatus(2, sc::kWriteFault, true), C::kDataLoss},
      {NvmeStatus(2, sc::kUnrecoveredReadError, true), C::kDataLoss},
      {NvmeStatus(2, sc::kCompareFailure, true), C::kFailedPrecondition},
      {NvmeStatus(2, sc::kAccessDenied, true), C::kPermissionDenied},
      {NvmeStatus(2, sc::kDeallocatedOrUnwritten, true), C::kNotFound},
      {NvmeStatus(3, 0x00, false), C::kUnavailable},
      {NvmeStatus(7, sc::kPartialWrite, true), C::kResourceExhausted},
  };
  return cases;
}

absl::Status PassesThrough(const absl::Status& s) {
  SEF_RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

TEST(NvmeStatusTest, EveryStatusMapsDeliberatelyAndRoundTrips) {
  for (const Case& c : Cases()) {
    const absl::Status s = ToStatus(c.status, "Read nsid 1");
    EXPECT_EQ(s.code(), c.code) << c.status;
    EXPECT_EQ(NvmeStatusOf(s), c.status) << c.status;
    // The payload survives copies and the status macros, and DNR/M/CRD are kept.
    const absl::Status copy = PassesThrough(s);
    EXPECT_EQ(NvmeStatusOf(copy), c.status) << c.status;
    EXPECT_THAT(std::string(s.message()), HasSubstr("Read nsid 1 failed"));
  }
}

TEST(NvmeStatusTest, UnknownStatusesAreUnknownButKeepTheirValue) {
  const NvmeStatus odd(0, 0x7E, true);
  const absl::Status s = ToStatus(odd, "x");
  EXPECT_EQ(s.code(), C::kUnknown);
  EXPECT_EQ(NvmeStatusOf(s), odd);
  const NvmeStatus with_more = NvmeStatus::FromRaw(NvmeStatus(2, 0x81, true).raw() | (1u << 13));
  EXPECT_EQ(NvmeStatusOf(ToStatus(with_more, "x")), with_more);
}

TEST(NvmeStatusTest, SuccessAndOtherErrorsCarryNone) {
  EXPECT_TRUE(ToStatus(NvmeStatus::Success(), "x").ok());
  EXPECT_EQ(NvmeStatusOf(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(NvmeStatusOf(absl::UnavailableError("EIO")), std::nullopt);
}

TEST(NvmeStatusTest, LayersAboveCanAttachTheStatusAGuestMustSee) {
  absl::Status s = absl::FailedPreconditionError("zone 3 is full");
  SetNvmeStatus(s, NvmeStatus(1, sc::kZoneIsFull, true));
  EXPECT_EQ(NvmeStatusOf(s), NvmeStatus(1, sc::kZoneIsFull, true));
  EXPECT_EQ(s.code(), C::kFailedPrecondition);
}

}  // namespace
}  // namespace sef
