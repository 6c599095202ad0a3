#include "sef/hal/cmd/command.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_format.h"
#include "sef/hal/cmd/wire.h"

namespace sef {

uint64_t Command::data_bytes() const {
  if (!vectored) return sqe.data_len;
  const auto* iov = reinterpret_cast<const iovec*>(static_cast<uintptr_t>(sqe.addr));
  uint64_t total = 0;
  for (uint32_t i = 0; i < sqe.vec_cnt; ++i) total += iov[i].iov_len;
  return total;
}

DataDirection DirectionOfOpcode(uint8_t opcode) {
  switch (opcode & 0x3) {
    case 0x1:
      return DataDirection::kHostToDevice;
    case 0x2:
      return DataDirection::kDeviceToHost;
    default:
      // 00b: no data; 11b: bidirectional, which no SEF command uses.
      return DataDirection::kNone;
  }
}

std::ostream& operator<<(std::ostream& os, NvmeStatus s) {
  return os << absl::StrFormat("NVMe status sct=%d sc=0x%02x%s", s.sct(), s.sc(),
                               s.dnr() ? " dnr" : "");
}

namespace {

// The payload's type URL; the payload is the raw 15-bit status, two bytes little endian.
constexpr absl::string_view kNvmeStatusUrl = "type.sef/sef.NvmeStatus";

// Each status the SEF command set, the ZNS layer or the device model answers has a
// deliberate canonical code (docs/hal.md, "Errors"); anything else is kUnknown, and the
// exact status is always in the payload.
absl::StatusCode CanonicalCode(NvmeStatus s) {
  using wire::StatusCodeType;
  namespace sc = wire::sc;
  using C = absl::StatusCode;
  switch (static_cast<StatusCodeType>(s.sct())) {
    case StatusCodeType::kGeneric:
      switch (s.sc()) {
        case sc::kSuccess:
          return C::kOk;
        case sc::kInvalidOpcode:
          return C::kUnimplemented;
        case sc::kInvalidField:
          return C::kInvalidArgument;
        case sc::kCommandIdConflict:
          return C::kAlreadyExists;  // a pair id already waiting for its partner
        case sc::kDataTransferError:
        case sc::kInternalError:
          return C::kInternal;
        case sc::kAbortedPowerLoss:
        case sc::kNamespaceNotReady:
          return C::kUnavailable;  // the device may answer again later
        case sc::kAbortRequested:
          return C::kAborted;
        case sc::kInvalidNamespace:
          return C::kNotFound;
        case sc::kCommandSequenceError:
          return C::kFailedPrecondition;
        case sc::kLbaOutOfRange:
          return C::kOutOfRange;
        case sc::kCapacityExceeded:
          return C::kResourceExhausted;
        default:
          return C::kUnknown;
      }
    case StatusCodeType::kCommandSpecific:
      switch (s.sc()) {
        case sc::kInvalidLogPage:
        case sc::kInvalidControllerList:
          return C::kInvalidArgument;
        case sc::kAsyncEventLimitExceeded:
        case sc::kNamespaceInsufficientCapacity:
        case sc::kNamespaceIdUnavailable:
        case sc::kTooManyActiveZones:
        case sc::kTooManyOpenZones:  // also too many open super blocks
          return C::kResourceExhausted;
        case sc::kFeatureNotChangeable:
        case sc::kNamespaceIsPrivate:
        case sc::kNamespaceNotAttached:
        case sc::kZoneIsFull:
        case sc::kZoneIsReadOnly:
        case sc::kZoneIsOffline:
        case sc::kZoneInvalidWrite:
        case sc::kInvalidZoneStateTransition:
          return C::kFailedPrecondition;
        case sc::kNamespaceAlreadyAttached:
          return C::kAlreadyExists;
        case sc::kZoneBoundaryError:
          return C::kOutOfRange;
        default:
          return C::kUnknown;
      }
    case StatusCodeType::kMediaAndDataIntegrity:
      switch (s.sc()) {
        case sc::kCompareFailure:
          return C::kFailedPrecondition;  // the ADU holds another user address
        case sc::kAccessDenied:
          return C::kPermissionDenied;  // an SB of another QoS domain
        case sc::kDeallocatedOrUnwritten:
          return C::kNotFound;  // nothing written there
        default:
          return C::kDataLoss;  // write fault, unrecovered read error, ...
      }
    case StatusCodeType::kPath:
      return C::kUnavailable;
    case StatusCodeType::kVendorSpecific:
      // SEF partial write: the target SB filled before all ADUs were written. The HAL turns
      // it into WriteResult::not_written; it reaches a caller only from a raw command.
      if (s.sc() == sc::kPartialWrite) return C::kResourceExhausted;
      return C::kUnknown;
    default:
      return C::kUnknown;
  }
}

}  // namespace

absl::Status ToStatus(NvmeStatus status, std::string_view what) {
  const absl::StatusCode code = CanonicalCode(status);
  if (code == absl::StatusCode::kOk) return absl::OkStatus();
  absl::Status s(code, absl::StrFormat("%s failed: %s (raw 0x%04x)", what,
                                       absl::FormatStreamed(status), status.raw()));
  SetNvmeStatus(s, status);
  return s;
}

void SetNvmeStatus(absl::Status& status, NvmeStatus nvme) {
  const char bytes[2] = {static_cast<char>(nvme.raw() & 0xFF), static_cast<char>(nvme.raw() >> 8)};
  status.SetPayload(kNvmeStatusUrl, absl::Cord(absl::string_view(bytes, 2)));
}

std::optional<NvmeStatus> NvmeStatusOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kNvmeStatusUrl);
  if (!payload.has_value() || payload->size() != 2) return std::nullopt;
  const std::string bytes(*payload);
  return NvmeStatus::FromRaw(
      static_cast<uint16_t>(static_cast<uint8_t>(bytes[0]) | static_cast<uint8_t>(bytes[1]) << 8));
}

}  // namespace sef
