#include "sef/hal/kernel/os_error.h"

#include <string.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sef::hal::kernel {

absl::Status ErrnoStatus(int err, std::string_view syscall, std::string_view path) {
  // strerrordesc_np and strerrorname_np (glibc 2.32) are thread-safe, unlike strerror.
  const char* description = strerrordesc_np(err);
  const char* name = strerrorname_np(err);
  std::string message =
      absl::StrFormat("%s%s%s: %s (%s)", syscall, path.empty() ? "" : " ", path,
                      description != nullptr ? description : "unknown error",
                      name != nullptr ? std::string(name) : absl::StrCat("errno ", err));
  if (err == EACCES || err == EPERM) {
    // The kernel lets unprivileged users send only the NVMe commands on its allow-list; SEF's
    // vendor opcodes are not on it.
    absl::StrAppend(&message,
                    "; SEF needs root or CAP_SYS_ADMIN (its vendor opcodes are not in the "
                    "kernel's unprivileged NVMe command allow-list)");
  }
  absl::StatusCode code = absl::ErrnoToStatusCode(err);
  // Abseil calls EIO Unknown and EBUSY FailedPrecondition. Between us and an NVMe device both
  // are transport conditions (a controller reset or a dead path; a busy queue) that a caller
  // may retry, which is what Unavailable says.
  if (err == EIO || err == EBUSY) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, message);
}

}  // namespace sef::hal::kernel
