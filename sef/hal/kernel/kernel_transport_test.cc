// What can be tested without an NVMe device: the open errors, the errno mapping and the
// passthrough result mapping. Nothing here talks to a SEF unit.
#include "sef/hal/kernel/kernel_transport.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/requests.h"
#include "sef/hal/kernel/os_error.h"
#include "sef/hal/kernel/passthru.h"

namespace sef::hal {
namespace {

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string MakeFile(const std::string& name, mode_t mode) {
  const std::string path = TempDir() + "/" + name;
  unlink(path.c_str());
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, mode);
  EXPECT_GE(fd, 0) << path;
  close(fd);
  chmod(path.c_str(), mode);
  return path;
}

TEST(OpenKernelTransportTest, MissingDeviceIsNotFound) {
  absl::StatusOr<std::unique_ptr<Transport>> t = OpenKernelTransport("/dev/nvme99");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound) << t.status();
  EXPECT_TRUE(absl::StartsWith(t.status().message(), "/dev/nvme99: no such device")) << t.status();
  EXPECT_EQ(t.status().message().find('\n'), std::string::npos);
}

TEST(OpenKernelTransportTest, DevNullIsNotAnNvmeController) {
  absl::StatusOr<std::unique_ptr<Transport>> t = OpenKernelTransport("/dev/null");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition) << t.status();
  EXPECT_TRUE(absl::StartsWith(t.status().message(), "/dev/null is not an NVMe controller"))
      << t.status();
}

TEST(OpenKernelTransportTest, RegularFileIsNotAnNvmeController) {
  const std::string path = MakeFile("nvme0", 0644);  // the name alone does not make it one
  absl::StatusOr<std::unique_ptr<Transport>> t =
      OpenKernelTransport(path, TransportOptions{.force_ioctl = true});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition) << t.status();
  EXPECT_EQ(t.status().message(), path + " is not an NVMe controller (not a character device)");
}

TEST(OpenKernelTransportTest, DirectoryIsNotAnNvmeController) {
  absl::StatusOr<std::unique_ptr<Transport>> t = OpenKernelTransport(TempDir());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition) << t.status();
  EXPECT_TRUE(absl::StartsWith(t.status().message(), TempDir() + " is not an NVMe controller"))
      << t.status();
}

// Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the calling process, so that root
// obeys file modes. Works in a user namespace too, where setuid to another user may not.
bool DropFileCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) != 0) return false;
  for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}) {
    data[cap / 32].effective &= ~(1u << (cap % 32));
  }
  return syscall(SYS_capset, &header, data) == 0;
}

// EACCES on open. Root bypasses file modes, so a root test drops capabilities in a child.
TEST(OpenKernelTransportTest, NoAccessIsPermissionDenied) {
  const std::string path = MakeFile("nvme_noaccess", 0000);
  auto check = [&path]() -> bool {
    absl::StatusOr<std::unique_ptr<Transport>> t = OpenKernelTransport(path);
    return !t.ok() && t.status().code() == absl::StatusCode::kPermissionDenied &&
           absl::StrContains(t.status().message(), path) &&
           absl::StrContains(t.status().message(), "CAP_SYS_ADMIN");
  };
  if (geteuid() != 0) {
    EXPECT_TRUE(check());
    return;
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!DropFileCapabilities()) _exit(2);
    _exit(check() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: wrong status; 2: could not drop privileges";
}

TEST(ErrnoStatusTest, CodesAndMessages) {
  using kernel::ErrnoStatus;
  EXPECT_EQ(ErrnoStatus(ENOENT, "open", "/dev/nvme9"),
            absl::NotFoundError("open /dev/nvme9: No such file or directory (ENOENT)"));
  EXPECT_EQ(ErrnoStatus(ENOTTY, "ioctl NVME_IOCTL_ID", "/dev/null").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrnoStatus(EOPNOTSUPP, "io_uring URING_CMD", "").message(),
            "io_uring URING_CMD: Operation not supported (EOPNOTSUPP)");
  EXPECT_EQ(ErrnoStatus(EIO, "x", "y").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoStatus(EBUSY, "x", "y").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoStatus(ETIMEDOUT, "x", "y").code(), absl::StatusCode::kDeadlineExceeded);
  for (int err : {EACCES, EPERM}) {
    const absl::Status s = ErrnoStatus(err, "ioctl NVME_IOCTL_IO64_CMD", "/dev/ng0n1");
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_TRUE(absl::StartsWith(s.message(), "ioctl NVME_IOCTL_IO64_CMD /dev/ng0n1: ")) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "root or CAP_SYS_ADMIN")) << s;
  }
}

TEST(PassthruTest, ResultFromIoctl) {
  using kernel::ResultFromIoctl;
  const TransportResult os = ResultFromIoctl(-1, EIO, 0, "ioctl NVME_IOCTL_IO64_CMD", "/dev/x");
  EXPECT_EQ(os.os.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(os.nvme.ok());
  const TransportResult nvme = ResultFromIoctl(0x4002, 0, 7, "s", "p");
  EXPECT_TRUE(nvme.os.ok());
  EXPECT_EQ(nvme.nvme, NvmeStatus::FromRaw(0x4002));
  EXPECT_TRUE(nvme.nvme.dnr());
  EXPECT_EQ(nvme.result, 7u);
  const TransportResult ok = ResultFromIoctl(0, 0, 0x0000000500000010, "s", "p");
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.result, 0x0000000500000010u);
}

// The real ioctls against a device that is not NVMe: an os error, never a device status.
TEST(PassthruTest, IoctlsOnDevNullAreOsErrors) {
  const int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  uint8_t buffer[4096];
  absl::StatusOr<Command> identify =
      cmd::Encode(cmd::IdentifyCommandSetVectorRequest{.buffer = {buffer, sizeof(buffer)}});
  ASSERT_TRUE(identify.ok());
  const TransportResult admin = kernel::AdminPassthru(fd, *identify, "/dev/null");
  EXPECT_EQ(admin.os.code(), absl::StatusCode::kInvalidArgument) << admin.os;
  EXPECT_TRUE(absl::StartsWith(admin.os.message(), "ioctl NVME_IOCTL_ADMIN64_CMD /dev/null: "))
      << admin.os;
  EXPECT_TRUE(absl::StrContains(admin.os.message(), "ENOTTY")) << admin.os;
  EXPECT_TRUE(admin.nvme.ok());

  Command io = *identify;
  io.queue = QueueType::kIo;
  const TransportResult plain = kernel::IoPassthru(fd, io, "/dev/null");
  EXPECT_TRUE(absl::StartsWith(plain.os.message(), "ioctl NVME_IOCTL_IO64_CMD /dev/null"))
      << plain.os;
  io.vectored = true;
  const TransportResult vec = kernel::IoPassthru(fd, io, "/dev/null");
  EXPECT_TRUE(absl::StartsWith(vec.os.message(), "ioctl NVME_IOCTL_IO64_CMD_VEC /dev/null"))
      << vec.os;
  close(fd);
}

}  // namespace
}  // namespace sef::hal
