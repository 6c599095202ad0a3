// The kernel backend of the HAL: a sef::hal::Transport over the Linux NVMe driver, for a SEF
// unit at /dev/nvmeN. See docs/hal-kernel.md.
//
// Paths:
// - Admin commands: NVME_IOCTL_ADMIN64_CMD on /dev/nvmeN, run on worker threads (a pool
//   that starts a thread whenever all are busy, so a slow admin command never holds up
//   another); `done` runs on that worker thread. An Asynchronous Event Request (opcode 0x0C)
//   is refused at once with InvalidArgument in `os`: the driver keeps its own outstanding,
//   and the kernel turns their completions into NVME_AEN uevents (WatchEvents).
// - I/O commands: io_uring IORING_OP_URING_CMD (SQE128 / CQE32, depth 256) on the QoS
//   domain's generic device /dev/ng<N>n<M>, found by asking each /dev/ng<N>n* for its NSID
//   (NVME_IOCTL_ID). Submission from any thread is serialised by a mutex; one completion
//   thread reaps CQEs and runs every I/O `done`. At most 256 commands are in flight; a
//   further Submit waits for a completion (except on the completion thread itself, which
//   never waits). Pairs: both SQEs prepared under the lock, adjacent in the SQ, first
//   first, no IOSQE_IO_LINK, one io_uring_submit.
// - Fallback to NVME_IOCTL_IO64_CMD{,_VEC} on the generic device, each command on its own
//   worker thread (`done` runs there), when TransportOptions::force_ioctl is set, when the
//   io_uring ring cannot be set up (no SQE128/CQE32 or URING_CMD in the kernel, io_uring
//   disabled), or when the first URING_CMD completions answer -EOPNOTSUPP before any has
//   succeeded (those commands are re-run through the ioctl, so the caller sees one result).
//   A pair's first command (FAR/NLC) blocks in the kernel until the device has seen the
//   second, so the two run on separate threads pinned to the caller's CPU, the second
//   issued once the first is inside its ioctl.
// - Events: WatchEvents listens for the driver's NVME_AEN "change" uevents of this
//   controller (NETLINK_KOBJECT_UEVENT, no udev needed); `on_event` runs on the listener
//   thread.
//
// Results: an OS or transport failure is `os` = ErrnoStatus(errno, syscall, device path)
// (os_error.h); a device status is `nvme`, kept raw; `result` is the CQE's DW1:DW0. An I/O
// command whose NSID has no generic device (after one rescan) completes at once with
// NotFound in `os`.
//
// Privileges: SEF's vendor opcodes are not in the kernel's unprivileged NVMe allow-list, so
// commands need root or CAP_SYS_ADMIN (otherwise EACCES/EPERM -> PermissionDenied).
//
// Thread-safety: every Transport method may be called from any thread (transport.h).
// Destruction stops the event listener, waits for every submitted command to complete (the
// kernel's command timeouts bound the wait) and then closes the devices. REQUIRES: no
// Submit or SubmitPair once the destructor has started, including from callbacks.
#ifndef SEF_HAL_KERNEL_KERNEL_TRANSPORT_H_
#define SEF_HAL_KERNEL_KERNEL_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sef/hal/transport.h"

namespace sef::hal {

// Opens the SEF unit whose NVMe controller is `path` (/dev/nvmeN; a symlink to one is fine).
// Errors, each one line naming `path`:
//   NotFound            the path does not exist or names no device ("...: no such device")
//   PermissionDenied    EACCES/EPERM on open or Identify (root or CAP_SYS_ADMIN needed)
//   FailedPrecondition  not an NVMe controller ("... is not an NVMe controller": not a
//                       character device, not an nvmeN device, or Identify answered ENOTTY)
//                       or not a SEF unit ("... is not a SEF unit (CSI 0x30 is not in its
//                       I/O command set vector)", also when Identify CNS 1Ch fails)
//   other               the failing system call's ErrnoStatus (e.g. EIO -> Unavailable)
absl::StatusOr<std::unique_ptr<Transport>> OpenKernelTransport(
    const std::string& path, const TransportOptions& options = {});

}  // namespace sef::hal

#endif  // SEF_HAL_KERNEL_KERNEL_TRANSPORT_H_
