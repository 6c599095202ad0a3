// The one mapping from an errno to an absl::Status in the kernel backend.
//
// Thread-safety: pure functions; safe from any thread.
#ifndef SEF_HAL_KERNEL_OS_ERROR_H_
#define SEF_HAL_KERNEL_OS_ERROR_H_

#include <string_view>

#include "absl/status/status.h"

namespace sef::hal::kernel {

// A one-line status for a failed system call: code = absl::ErrnoToStatusCode(err) (ENOENT,
// ENODEV, ENXIO NotFound; EACCES, EPERM PermissionDenied; ENOTTY, EINVAL, EFAULT
// InvalidArgument; EOPNOTSUPP Unimplemented; EAGAIN, EINTR Unavailable; ETIMEDOUT
// DeadlineExceeded; ECANCELED Cancelled; ENOMEM ResourceExhausted; ...) except that EIO and
// EBUSY are Unavailable (Abseil: Unknown, FailedPrecondition);
// message "<syscall> <path>: <description> (<ERRNAME>)". EACCES and EPERM add that SEF needs
// root or CAP_SYS_ADMIN. `path` may be empty. REQUIRES: err > 0.
absl::Status ErrnoStatus(int err, std::string_view syscall, std::string_view path);

}  // namespace sef::hal::kernel

#endif  // SEF_HAL_KERNEL_OS_ERROR_H_
