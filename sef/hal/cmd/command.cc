#include "sef/hal/cmd/command.h"

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

absl::StatusCode CanonicalCode(NvmeStatus s) {
  using wire::StatusCodeType;
  namespace sc = wire::sc;
  switch (static_cast<StatusCodeType>(s.sct())) {
    case StatusCodeType::kGeneric:
      switch (s.sc()) {
        case sc::kSuccess:
          return absl::StatusCode::kOk;
        case sc::kInvalidOpcode:
          return absl::StatusCode::kUnimplemented;
        case sc::kInvalidField:
          return absl::StatusCode::kInvalidArgument;
        case sc::kInvalidNamespace:
          return absl::StatusCode::kNotFound;
        case sc::kCommandSequenceError:
          return absl::StatusCode::kFailedPrecondition;
        case sc::kAbortRequested:
          return absl::StatusCode::kAborted;
        case sc::kLbaOutOfRange:
          return absl::StatusCode::kOutOfRange;
        case sc::kCapacityExceeded:
          return absl::StatusCode::kResourceExhausted;
        case sc::kNamespaceNotReady:
          return absl::StatusCode::kUnavailable;
        case sc::kDataTransferError:
        case sc::kInternalError:
          return absl::StatusCode::kInternal;
        default:
          return absl::StatusCode::kUnknown;
      }
    case StatusCodeType::kCommandSpecific:
      switch (s.sc()) {
        case sc::kInvalidLogPage:
          return absl::StatusCode::kInvalidArgument;
        case sc::kFeatureNotChangeable:
        case sc::kNamespaceNotAttached:
        case sc::kNamespaceIsPrivate:
          return absl::StatusCode::kFailedPrecondition;
        case sc::kNamespaceInsufficientCapacity:
        case sc::kNamespaceIdUnavailable:
          return absl::StatusCode::kResourceExhausted;
        case sc::kNamespaceAlreadyAttached:
          return absl::StatusCode::kAlreadyExists;
        case sc::kInvalidControllerList:
          return absl::StatusCode::kInvalidArgument;
        default:
          return absl::StatusCode::kUnknown;
      }
    case StatusCodeType::kMediaAndDataIntegrity:
      return absl::StatusCode::kDataLoss;
    case StatusCodeType::kVendorSpecific:
      // SEF partial write: the target SB filled before all ADUs were written.
      if (s.sc() == sc::kPartialWrite) return absl::StatusCode::kResourceExhausted;
      return absl::StatusCode::kUnknown;
    default:
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

absl::Status ToStatus(NvmeStatus status, std::string_view what) {
  const absl::StatusCode code = CanonicalCode(status);
  if (code == absl::StatusCode::kOk) return absl::OkStatus();
  return absl::Status(code, absl::StrFormat("%s failed: %s (raw 0x%04x)", what,
                                            absl::FormatStreamed(status), status.raw()));
}

}  // namespace sef
