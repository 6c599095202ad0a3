// Synchronous NVMe passthrough ioctls: NVME_IOCTL_ADMIN64_CMD on /dev/nvmeN and
// NVME_IOCTL_IO64_CMD{,_VEC} on /dev/ngXnY.
//
// Thread-safety: the functions touch only their arguments; any number may run at once.
#ifndef SEF_HAL_KERNEL_PASSTHRU_H_
#define SEF_HAL_KERNEL_PASSTHRU_H_

#include <cstdint>
#include <string_view>

#include "sef/hal/cmd/command.h"
#include "sef/hal/transport.h"

namespace sef::hal::kernel {

// The result of one passthrough ioctl that returned `ret` (errno `err` when ret < 0) and
// wrote `result` into the command. ret < 0: `os` = ErrnoStatus(err, syscall, path); ret > 0:
// `nvme` = NvmeStatus::FromRaw(ret); ret >= 0: `result` = result.
TransportResult ResultFromIoctl(int ret, int err, uint64_t result, std::string_view syscall,
                                std::string_view path);

// Runs `c` through NVME_IOCTL_ADMIN64_CMD on `fd` (a copy of c.sqe: the kernel writes the
// result into it) and blocks until the device completes it or the kernel's timeout expires.
// Equivalent to libnvme's nvme_submit_admin_passthru64.
TransportResult AdminPassthru(int fd, const Command& c, std::string_view path);

// Runs an I/O command through NVME_IOCTL_IO64_CMD (NVME_IOCTL_IO64_CMD_VEC when c.vectored)
// on the namespace's generic device `fd`; blocks like AdminPassthru.
TransportResult IoPassthru(int fd, const Command& c, std::string_view path);

}  // namespace sef::hal::kernel

#endif  // SEF_HAL_KERNEL_PASSTHRU_H_
