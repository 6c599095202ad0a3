// The bridge's disks as QEMU drives them, without a VM: one host thread submits through
// sef_bridge_disk_* and drains completions from the disk's eventfd, as QEMU's AioContext
// does, keeping a queue depth.
//
//   bazel run -c opt //sef/qemu_bridge:disk_benchmark [-- --seconds=S] [-- --ram]
//
// Cells (the guest benchmark's, tools/bench/devices.sh): 128 KiB sequential writes at QD 8
// on a block disk (the block FTL, QoS domain 2) and on a zoned disk (QoS domain 3, zone by
// zone), 4 KiB random writes and reads at QD 32 on the block disk, then 4 KiB random writes
// and 128 KiB sequential writes over the whole block disk ("-all": the guest benchmark's order,
// which leaves the FTL's collector partly valid super blocks to copy from, and the model's
// flushes, which the collector needs, to a file-backed unit's disk). The unit is the embedded
// default unit in a temporary SEF_DATA_DIR (file-backed, as QEMU users run it) or, with
// --ram, the same configuration in RAM. Per cell it prints IOPS and the share of the wall
// time the host thread spent on a CPU ("host CPU"): what the bridge costs the thread that
// submits (QEMU's AioContext thread, which also runs the emulated device).
#include <poll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sef/qemu_bridge/sef_bridge.h"

namespace {

constexpr uint64_t kBlock = 4096;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "disk_benchmark: %s\n", what.c_str());
  std::exit(1);
}

sef_bridge_disk* Open(uint32_t kind, uint32_t domain) {
  sef_bridge_disk_options o{};
  o.kind = kind;
  o.domain = domain;
  o.user = "disk_benchmark";
  sef_bridge_disk* d = nullptr;
  char err[512];
  if (const int rc = sef_bridge_disk_open("0", &o, &d, err, sizeof(err)); rc != 0) {
    Die(std::string("open: ") + err);
  }
  return d;
}

constexpr uint64_t kUncounted = ~uint64_t{0};  // the tag of a zone reset between writes

// Waits for at least one completion and returns how many it drained (but kUncounted).
size_t Drain(sef_bridge_disk* d) {
  sef_bridge_completion c[64];
  for (;;) {
    size_t total = 0;
    size_t n = 0;
    while ((n = sef_bridge_disk_poll(d, c, 64)) > 0) {
      for (size_t i = 0; i < n; ++i) {
        if (c[i].status != 0)
          Die("a command failed with NVMe status " + std::to_string(c[i].status));
        if (c[i].tag != kUncounted) ++total;
      }
    }
    if (total > 0) return total;
    pollfd p{sef_bridge_disk_event_fd(d), POLLIN, 0};
    poll(&p, 1, 1000);
  }
}

struct Result {
  double iops = 0;
  double host_cpu = 0;  // host thread CPU seconds / wall seconds
};

// Keeps `depth` commands of `blocks` in flight for `seconds`; submit(i, buffer) submits
// command i (tag i).
template <typename Submit>
Result Run(sef_bridge_disk* d, int depth, double seconds, Submit submit) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = ThreadCpuSeconds();
  uint64_t submitted = 0, completed = 0;
  double wall = 0;
  for (;;) {
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool more = wall < seconds;
    while (more && submitted - completed < static_cast<uint64_t>(depth)) submit(submitted++);
    if (submitted == completed) break;
    completed += Drain(d);
  }
  wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {static_cast<double>(completed) / wall, (ThreadCpuSeconds() - cpu0) / wall};
}

void Print(const char* disk, const char* cell, const Result& r, uint64_t bytes) {
  std::printf("%-6s %-12s %9.0f IOPS %8.1f MiB/s   host CPU %5.1f %%\n", disk, cell, r.iops,
              r.iops * static_cast<double>(bytes) / (1 << 20), 100 * r.host_cpu);
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  double seconds = 3;
  bool ram = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) {
      seconds = std::atof(argv[i] + 10);
    } else if (std::strcmp(argv[i], "--ram") == 0) {
      ram = true;
    } else {
      Die(std::string("unknown argument ") + argv[i] + " (--seconds=S, --ram)");
    }
  }
  char dir[] = "/var/tmp/sef-disk-benchmark-XXXXXX";
  if (mkdtemp(dir) == nullptr) Die("mkdtemp failed");
  setenv("SEF_DATA_DIR", dir, 1);
  if (ram) {
    const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    const std::string config =
        std::string(ws != nullptr ? ws : ".") + "/testdata/units/default.json";
    const std::string units = std::string(dir) + "/units.json";
    FILE* f = std::fopen(units.c_str(), "w");
    if (f == nullptr) Die("cannot write " + units);
    std::fprintf(
        f, "{\"units\": {\"0\": \"model:%s\"}, \"provision\": [\"0\"], \"discover\": false}\n",
        config.c_str());
    std::fclose(f);
    setenv("SEF_UNITS_FILE", units.c_str(), 1);
  }
  std::printf("unit 0 %s, %.1f s per cell\n", ram ? "in RAM" : "file-backed", seconds);

  constexpr int kSeqDepth = 8, kRandDepth = 32;
  constexpr uint32_t kSeqBlocks = 32;
  std::vector<uint8_t> buf(kSeqDepth * kSeqBlocks * kBlock, 0x5A);
  // One iovec per queue slot, set once: the host must not touch a command's iovec until it
  // completes, and completions come in any order.
  std::vector<iovec> seq_iov(kSeqDepth), rand_iov(kRandDepth);
  for (int k = 0; k < kSeqDepth; ++k)
    seq_iov[k] = {buf.data() + k * kSeqBlocks * kBlock, kSeqBlocks * kBlock};
  for (int k = 0; k < kRandDepth; ++k) rand_iov[k] = {buf.data() + k * kBlock, kBlock};

  sef_bridge_disk* block = Open(SEF_BRIDGE_DISK_BLOCK, 2);
  sef_bridge_disk_info info{};
  sef_bridge_disk_get_info(block, &info);
  const uint64_t first = 128 * 256, span = std::min<uint64_t>(512 * 256, info.blocks - first);
  Result r = Run(block, kSeqDepth, seconds, [&](uint64_t i) {
    const iovec& v = seq_iov[i % kSeqDepth];
    const uint64_t lba = first + (i * kSeqBlocks) % (span - span % kSeqBlocks);
    if (sef_bridge_disk_write(block, lba, kSeqBlocks, &v, 1, 0, i) != 0) Die("write refused");
  });
  Print("block", "sw128k-qd8", r, kSeqBlocks * kBlock);

  std::mt19937_64 rng(1);
  r = Run(block, kRandDepth, seconds, [&](uint64_t i) {
    const iovec& v = rand_iov[i % kRandDepth];
    const uint64_t lba = first + rng() % span;
    if (sef_bridge_disk_write(block, lba, 1, &v, 1, 0, i) != 0) Die("write refused");
  });
  Print("block", "rw4k-qd32", r, kBlock);

  r = Run(block, kRandDepth, seconds, [&](uint64_t i) {
    const iovec& v = rand_iov[i % kRandDepth];
    const uint64_t lba = first + rng() % span;
    if (sef_bridge_disk_read(block, lba, 1, &v, 1, i) != 0) Die("read refused");
  });
  Print("block", "rr4k-qd32", r, kBlock);

  // The guest benchmark's order: 128 KiB sequential writes over the whole disk after the
  // random writes (the FTL's collector then has partly valid super blocks to copy from).
  const uint64_t whole = info.blocks - info.blocks % kSeqBlocks;
  r = Run(block, kRandDepth, seconds, [&](uint64_t i) {
    const iovec& v = rand_iov[i % kRandDepth];
    if (sef_bridge_disk_write(block, rng() % info.blocks, 1, &v, 1, 0, i) != 0) {
      Die("write refused");
    }
  });
  Print("block", "rw4k-qd32-all", r, kBlock);
  r = Run(block, kSeqDepth, seconds, [&](uint64_t i) {
    const iovec& v = seq_iov[i % kSeqDepth];
    if (sef_bridge_disk_write(block, (i * kSeqBlocks) % whole, kSeqBlocks, &v, 1, 0, i) != 0) {
      Die("write refused");
    }
  });
  Print("block", "sw128k-qd8-all", r, kSeqBlocks * kBlock);
  sef_bridge_disk_close(block);

  sef_bridge_disk* zoned = Open(SEF_BRIDGE_DISK_ZONED, 3);
  sef_bridge_disk_get_info(zoned, &info);
  if (sef_bridge_disk_zone_send(zoned, SEF_BRIDGE_ZONE_RESET, 0, 1, 0) != 0) Die("reset refused");
  Drain(zoned);
  // Writes run zone after zone; a zone is reset before it is written again (between two
  // rounds of the queue, as fio's zbd mode resets a zone it comes back to).
  const uint64_t per_zone = info.zone_capacity / kSeqBlocks;
  const uint64_t zones = std::min<uint64_t>(info.zones, 64);
  uint64_t in_flight_zone = ~uint64_t{0};
  r = Run(zoned, kSeqDepth, seconds, [&](uint64_t i) {
    const uint64_t zone = (i / per_zone) % zones;
    if (zone != in_flight_zone && i >= per_zone * zones && i % per_zone == 0) {
      // Coming back to a written zone: reset it first (same queue, in order).
      if (sef_bridge_disk_zone_send(zoned, SEF_BRIDGE_ZONE_RESET, zone * info.zone_size, 0,
                                    kUncounted) != 0) {
        Die("reset refused");
      }
    }
    in_flight_zone = zone;
    const iovec& v = seq_iov[i % kSeqDepth];
    const uint64_t lba = zone * info.zone_size + (i % per_zone) * kSeqBlocks;
    if (sef_bridge_disk_write(zoned, lba, kSeqBlocks, &v, 1, 0, i) != 0) Die("write refused");
  });
  Print("zoned", "sw128k-qd8", r, kSeqBlocks * kBlock);
  sef_bridge_disk_close(zoned);

  std::string rm = std::string("rm -rf ") + dir;
  if (std::system(rm.c_str()) != 0) Die("cannot remove " + std::string(dir));
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
