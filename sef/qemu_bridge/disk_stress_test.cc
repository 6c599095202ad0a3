// Two block disks of one file-backed unit driven from one thread, as QEMU's main loop drives
// the sef-aio and nvme-ns sef=true disks of tools/bench/devices.sh: 4 KiB writes and reads
// (started inline), 128 KiB writes (started on the disk's worker) and flushes (on the
// worker), mixed at random, a queue depth kept on each disk. Every operation, flushes first
// of all, must complete: a lost completion fails the test with what is still outstanding
// instead of hanging it (docs/performance.md, finding 3, "Open problem seen once").
#include <poll.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sef/qemu_bridge/sef_bridge.h"

namespace {

constexpr uint64_t kBlock = 4096;

enum class Kind { kRead4k, kWrite4k, kWrite128k, kFlush };

const char* Name(Kind k) {
  switch (k) {
    case Kind::kRead4k:
      return "4 KiB read";
    case Kind::kWrite4k:
      return "4 KiB write";
    case Kind::kWrite128k:
      return "128 KiB write";
    case Kind::kFlush:
      return "flush";
  }
  return "?";
}

struct Disk {
  sef_bridge_disk* handle = nullptr;
  sef_bridge_disk_info info{};
  std::map<uint64_t, Kind> outstanding;  // tag -> kind
  std::map<uint64_t, iovec> iovs;        // tag -> its iovec: valid until the completion
  std::vector<std::vector<uint8_t>> buffers;
  uint64_t flushes_done = 0;
  uint64_t done = 0;
};

class DiskStressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    setenv("SEF_DATA_DIR", tmp, 1);  // the embedded default unit 0, file-backed
  }

  static void Open(uint32_t domain, Disk* d) {
    sef_bridge_disk_options o{};
    o.kind = SEF_BRIDGE_DISK_BLOCK;
    o.domain = domain;
    o.user = "disk_stress_test";
    char err[512] = {};
    ASSERT_EQ(sef_bridge_disk_open("0", &o, &d->handle, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sef_bridge_disk_get_info(d->handle, &d->info), 0);
    d->buffers.assign(64, std::vector<uint8_t>(128 * 1024, 0x5a));
  }

  // Submits one operation of a random kind with a fresh tag.
  static void SubmitOne(Disk* d, std::mt19937_64& rng, uint64_t* next_tag) {
    const uint64_t tag = (*next_tag)++;
    const uint32_t r = rng() % 100;
    const Kind kind = r < 40   ? Kind::kWrite4k
                      : r < 55 ? Kind::kRead4k
                      : r < 90 ? Kind::kWrite128k
                               : Kind::kFlush;
    std::vector<uint8_t>& buf = d->buffers[tag % d->buffers.size()];
    const uint32_t blocks = kind == Kind::kWrite128k ? 32 : 1;
    iovec& iov = d->iovs[tag];
    iov = iovec{buf.data(), blocks * kBlock};
    const uint64_t lba = rng() % (d->info.blocks - blocks);
    int rc = 0;
    switch (kind) {
      case Kind::kRead4k:
        rc = sef_bridge_disk_read(d->handle, lba, blocks, &iov, 1, tag);
        break;
      case Kind::kWrite4k:
      case Kind::kWrite128k:
        rc = sef_bridge_disk_write(d->handle, lba, blocks, &iov, 1, 0, tag);
        break;
      case Kind::kFlush:
        rc = sef_bridge_disk_flush(d->handle, tag);
        break;
    }
    ASSERT_EQ(rc, 0) << Name(kind);
    d->outstanding[tag] = kind;
  }

  // Pops what `d` has; returns how many completed.
  static size_t Reap(Disk* d) {
    sef_bridge_completion c[64];
    size_t total = 0;
    size_t n = 0;
    while ((n = sef_bridge_disk_poll(d->handle, c, 64)) > 0) {
      for (size_t i = 0; i < n; ++i) {
        auto it = d->outstanding.find(c[i].tag);
        EXPECT_NE(it, d->outstanding.end()) << "completion of unknown tag " << c[i].tag;
        if (it == d->outstanding.end()) continue;
        EXPECT_EQ(c[i].status, 0) << Name(it->second) << " failed";
        if (it->second == Kind::kFlush) ++d->flushes_done;
        d->outstanding.erase(it);
        d->iovs.erase(c[i].tag);
        ++d->done;
      }
      total += n;
    }
    return total;
  }

  static std::string Outstanding(const Disk& d) {
    std::string s;
    for (const auto& [tag, kind] : d.outstanding) {
      s += " tag " + std::to_string(tag) + " (" + Name(kind) + ")";
    }
    return s;
  }
};

TEST_F(DiskStressTest, TwoDisksOneThreadEveryFlushCompletes) {
  Disk disks[2];
  Open(1, &disks[0]);
  Open(2, &disks[1]);
  ASSERT_FALSE(HasFatalFailure());
  std::mt19937_64 rng(20261128);
  uint64_t next_tag = 1;
  const double seconds = 4;
  constexpr size_t kDepth = 8;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    const bool more = std::chrono::duration<double>(now - start).count() < seconds;
    bool busy = false;
    for (Disk& d : disks) {
      // Bursts: the guest rings a doorbell for several commands at once.
      while (more && d.outstanding.size() < kDepth) {
        SubmitOne(&d, rng, &next_tag);
        ASSERT_FALSE(HasFatalFailure());
      }
      busy |= !d.outstanding.empty();
    }
    if (!busy) break;
    pollfd p[2] = {{sef_bridge_disk_event_fd(disks[0].handle), POLLIN, 0},
                   {sef_bridge_disk_event_fd(disks[1].handle), POLLIN, 0}};
    poll(p, 2, 100);
    size_t got = 0;
    for (Disk& d : disks) got += Reap(&d);
    if (got > 0) {
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(60)) {
      FAIL() << "no completion for 60 s; outstanding on disk 1:" << Outstanding(disks[0])
             << "; on disk 2:" << Outstanding(disks[1]);
    }
  }
  for (Disk& d : disks) {
    EXPECT_GT(d.flushes_done, 0u);
    EXPECT_GT(d.done, 100u);
    // Close reports operations whose counts disagree (disk.cc, DiskCounters): none here.
    ::testing::internal::CaptureStderr();
    sef_bridge_disk_close(d.handle);
    const std::string said = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(said.find("operations:"), std::string::npos) << said;
  }
}

}  // namespace
