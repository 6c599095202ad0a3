#include "sef/hal/kernel/uevent.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sef::hal::kernel {
namespace {

using namespace std::string_literals;

const std::string kAen =
    "change@/devices/pci0000:00/0000:00:04.0/nvme/nvme0\0"
    "ACTION=change\0"
    "DEVPATH=/devices/pci0000:00/0000:00:04.0/nvme/nvme0\0"
    "SUBSYSTEM=nvme\0"
    "NVME_AEN=0xd34006\0"
    "MAJOR=241\0"
    "MINOR=0\0"
    "DEVNAME=nvme0\0"
    "SEQNUM=4242\0"s;

TEST(ParseAenUeventTest, KernelMessage) { EXPECT_EQ(ParseAenUevent(kAen, "nvme0"), 0xd34006u); }

TEST(ParseAenUeventTest, OtherController) {
  EXPECT_EQ(ParseAenUevent(kAen, "nvme1"), std::nullopt);
  const std::string nvme10 =
      "ACTION=change\0DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme10\0SUBSYSTEM=nvme\0"
      "NVME_AEN=0x1\0DEVNAME=nvme10\0"s;
  EXPECT_EQ(ParseAenUevent(nvme10, "nvme1"), std::nullopt);
  EXPECT_EQ(ParseAenUevent(nvme10, "nvme10"), 1u);
}

TEST(ParseAenUeventTest, DevpathDecidesWithoutDevname) {
  const std::string m =
      "ACTION=change\0DEVPATH=/devices/pci0000:00/0000:00:04.0/nvme/nvme2\0"
      "NVME_AEN=0x00000007\0"s;
  EXPECT_EQ(ParseAenUevent(m, "nvme2"), 7u);
  EXPECT_EQ(ParseAenUevent(m, "vme2"), std::nullopt);  // a suffix, not a path component
  EXPECT_EQ(ParseAenUevent(m, ""), std::nullopt);
}

TEST(ParseAenUeventTest, DevnameWithDevPrefix) {
  const std::string m = "ACTION=change\0DEVNAME=/dev/nvme3\0NVME_AEN=0XABCDEF01\0"s;
  EXPECT_EQ(ParseAenUevent(m, "nvme3"), 0xABCDEF01u);
}

TEST(ParseAenUeventTest, NotAnAenChange) {
  std::string add = kAen;
  add.replace(add.find("ACTION=change"), 13, "ACTION=add\0\0\0"s);
  EXPECT_EQ(ParseAenUevent(add, "nvme0"), std::nullopt);

  const std::string no_aen = "ACTION=change\0SUBSYSTEM=nvme\0DEVNAME=nvme0\0"s;
  EXPECT_EQ(ParseAenUevent(no_aen, "nvme0"), std::nullopt);

  const std::string block = "ACTION=change\0SUBSYSTEM=block\0DEVNAME=nvme0\0NVME_AEN=0x1\0"s;
  EXPECT_EQ(ParseAenUevent(block, "nvme0"), std::nullopt);

  const std::string header_only = "change@/devices/pci0000:00/0000:00:04.0/nvme/nvme0"s;
  EXPECT_EQ(ParseAenUevent(header_only, "nvme0"), std::nullopt);
  EXPECT_EQ(ParseAenUevent("", "nvme0"), std::nullopt);
}

TEST(ParseAenUeventTest, MalformedValues) {
  for (const char* value : {"", "0x", "0xzz", "0x123456789", "-1", "0x 1", "12g"}) {
    const std::string m = "ACTION=change\0DEVNAME=nvme0\0NVME_AEN="s + value + "\0SEQNUM=1\0"s;
    EXPECT_EQ(ParseAenUevent(m, "nvme0"), std::nullopt) << value;
  }
  // No trailing NUL, no 0x prefix.
  EXPECT_EQ(ParseAenUevent("ACTION=change\0DEVNAME=nvme0\0NVME_AEN=ff"s, "nvme0"), 0xFFu);
}

TEST(UeventWatcherTest, StartsAndStopsWithoutEvents) {
  absl::StatusOr<std::unique_ptr<UeventWatcher>> w =
      UeventWatcher::Start([](std::string_view) {}, "test");
  ASSERT_TRUE(w.ok()) << w.status();
  w->reset();  // the destructor wakes the thread and joins it
}

// End to end with a real kernel uevent: writing "change" to a device's sysfs uevent file
// makes the kernel broadcast a synthetic change uevent for it (here /dev/null's).
TEST(UeventWatcherTest, ReceivesAKernelUevent) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> messages;
  absl::StatusOr<std::unique_ptr<UeventWatcher>> w = UeventWatcher::Start(
      [&](std::string_view m) {
        std::lock_guard lock(mu);
        messages.emplace_back(m);
        cv.notify_all();
      },
      "test");
  ASSERT_TRUE(w.ok()) << w.status();
  const int fd = open("/sys/devices/virtual/mem/null/uevent", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "change", 6) != 6) {
    if (fd >= 0) close(fd);
    GTEST_SKIP() << "cannot trigger a uevent here (no writable sysfs)";
  }
  close(fd);
  std::unique_lock lock(mu);
  const bool got = cv.wait_for(lock, std::chrono::seconds(10), [&] {
    for (const std::string& m : messages) {
      if (m.find("DEVPATH=/devices/virtual/mem/null") != std::string::npos) return true;
    }
    return false;
  });
  EXPECT_TRUE(got) << "no uevent for /dev/null within 10 s";
  lock.unlock();
  w->reset();
}

}  // namespace
}  // namespace sef::hal::kernel
