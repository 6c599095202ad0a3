#include "sef/hal/kernel/passthru.h"

#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>

#include <cerrno>

#include "sef/hal/kernel/os_error.h"

namespace sef::hal::kernel {
namespace {

// <libnvme.h> (1.3) cannot be included after <linux/nvme_ioctl.h>, which command.h needs:
// both use the include guard _LINUX_NVME_IOCTL_H and libnvme then misses its own constants.
// nvme_submit_admin_passthru64 is exactly this ioctl plus the copy of the result.
TransportResult Passthru(int fd, unsigned long request, const Command& c, std::string_view syscall,
                         std::string_view path) {
  nvme_passthru_cmd64 cmd = c.sqe;
  cmd.result = 0;
  // No retry on EINTR: the command may have reached the device.
  const int ret = ioctl(fd, request, &cmd);
  const int err = ret < 0 ? errno : 0;
  return ResultFromIoctl(ret, err, cmd.result, syscall, path);
}

}  // namespace

TransportResult ResultFromIoctl(int ret, int err, uint64_t result, std::string_view syscall,
                                std::string_view path) {
  TransportResult r;
  if (ret < 0) {
    r.os = ErrnoStatus(err, syscall, path);
    return r;
  }
  r.nvme = NvmeStatus::FromRaw(static_cast<uint16_t>(ret));
  r.result = result;
  return r;
}

TransportResult AdminPassthru(int fd, const Command& c, std::string_view path) {
  return Passthru(fd, NVME_IOCTL_ADMIN64_CMD, c, "ioctl NVME_IOCTL_ADMIN64_CMD", path);
}

TransportResult IoPassthru(int fd, const Command& c, std::string_view path) {
  if (c.vectored) {
    return Passthru(fd, NVME_IOCTL_IO64_CMD_VEC, c, "ioctl NVME_IOCTL_IO64_CMD_VEC", path);
  }
  return Passthru(fd, NVME_IOCTL_IO64_CMD, c, "ioctl NVME_IOCTL_IO64_CMD", path);
}

}  // namespace sef::hal::kernel
