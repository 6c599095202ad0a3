#include "sef/qemu_bridge/internal/c_abi.h"

#include <cerrno>
#include <cstdio>
#include <optional>

#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/wire.h"

namespace sef::qemu_bridge {

void WriteLine(char* err, size_t err_len, absl::string_view text, size_t at) noexcept {
  if (err == nullptr || err_len == 0 || at >= err_len) return;
  size_t i = at;
  for (char ch : text) {
    if (i + 1 >= err_len) break;
    err[i++] = (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) ? ' ' : ch;
  }
  err[i] = '\0';
}

int Report(const absl::Status& status, char* err, size_t err_len) noexcept {
  WriteLine(err, err_len, status.message());
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return -EINVAL;
    case absl::StatusCode::kNotFound:
      return -ENOENT;
    case absl::StatusCode::kPermissionDenied:
      return -EACCES;
    case absl::StatusCode::kFailedPrecondition:  // a backing file locked or of another config
    case absl::StatusCode::kAlreadyExists:       // a QoS domain in use by another device
      return -EBUSY;
    case absl::StatusCode::kOutOfRange:
      return -E2BIG;
    case absl::StatusCode::kResourceExhausted:
      return -ENOMEM;
    case absl::StatusCode::kUnimplemented:
      return -ENOTSUP;
    default:  // DataLoss (corrupt backing file), Internal, Unknown, ...
      return -EIO;
  }
}

uint16_t NvmeStatusFor(const absl::Status& status) noexcept {
  if (status.ok()) return 0;
  if (std::optional<NvmeStatus> nvme = NvmeStatusOf(status)) return nvme->raw();
  namespace sc = wire::sc;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return NvmeStatus(0, sc::kInvalidField, true).raw();
    case absl::StatusCode::kOutOfRange:
      return NvmeStatus(0, sc::kLbaOutOfRange, true).raw();
    case absl::StatusCode::kUnavailable:
      return NvmeStatus(0, sc::kNamespaceNotReady).raw();
    case absl::StatusCode::kResourceExhausted:
      return NvmeStatus(0, sc::kCapacityExceeded, true).raw();
    default:
      return NvmeStatus(0, sc::kInternalError).raw();
  }
}

void ReportSwallowed(const char* what) noexcept {
  std::fputs(what, stderr);
  std::fputs(": internal error (exception swallowed at the C ABI)\n", stderr);
}

}  // namespace sef::qemu_bridge
