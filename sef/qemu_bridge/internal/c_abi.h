// The one place where the bridge's C++ outcomes become C: absl::Status to a negative
// errno-style code and a one-line message, exceptions caught at every entry point, and (for
// disks) a status to the NVMe status a guest must see. Shared by every handle type.
#ifndef SEF_QEMU_BRIDGE_INTERNAL_C_ABI_H_
#define SEF_QEMU_BRIDGE_INTERNAL_C_ABI_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sef::qemu_bridge {

// Copies `text` into a C buffer as one line: control characters become spaces, the result is
// truncated to fit and always NUL-terminated, starting at `at`. Allocates nothing.
void WriteLine(char* err, size_t err_len, absl::string_view text, size_t at = 0) noexcept;

// THE conversion of an absl::Status into the C ABI's negative errno-style code (0 for OK)
// and one-line message (written to err, "" for OK). Every int entry point returns through
// here.
int Report(const absl::Status& status, char* err, size_t err_len) noexcept;

// The NVMe status (15-bit, sef_bridge_completion.status) a guest must see for the outcome of
// a disk operation: the device's own status when the error carries one (sef::NvmeStatusOf:
// Zone Is Full is 1/0xB9), else one chosen from the code (InvalidArgument -> Invalid Field,
// OutOfRange -> LBA Out of Range, Unavailable -> Namespace Not Ready, ResourceExhausted ->
// Capacity Exceeded, anything else -> Internal Error), with DNR set for errors a retry
// cannot cure.
uint16_t NvmeStatusFor(const absl::Status& status) noexcept;

// Runs an entry point's body, which returns absl::Status, and converts the outcome. No
// exception escapes: they become -ENOMEM or -EIO with a message.
template <typename Body>
int Run(char* err, size_t err_len, Body&& body) noexcept {
  try {
    return Report(body(), err, err_len);
  } catch (const std::bad_alloc&) {
    return Report(absl::ResourceExhaustedError("sef_bridge: out of memory"), err, err_len);
  } catch (const std::exception& e) {
    constexpr absl::string_view kPrefix = "sef_bridge: internal error: ";
    WriteLine(err, err_len, kPrefix);
    WriteLine(err, err_len, e.what(), kPrefix.size());
    return -EIO;
  } catch (...) {
    WriteLine(err, err_len, "sef_bridge: internal error (unknown exception)");
    return -EIO;
  }
}

// For entry points with nothing to return an error through (poll, tick, close): an exception
// is reported on stderr, the only channel left, and swallowed.
void ReportSwallowed(const char* what) noexcept;
template <typename Body>
void RunVoid(const char* what, Body&& body) noexcept {
  try {
    body();
  } catch (...) {
    ReportSwallowed(what);
  }
}

}  // namespace sef::qemu_bridge

#endif  // SEF_QEMU_BRIDGE_INTERNAL_C_ABI_H_
