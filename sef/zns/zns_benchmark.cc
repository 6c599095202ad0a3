// The zoned namespace's throughput against the raw HAL on the same unit, at queue depth 32.
//
//   bazel run -c opt //sef/zns:zns_benchmark [-- --seconds=2] [--inline | --shuffled]
//
// One RAM model of testdata/units/default.json, one virtual device of one die (super blocks
// of 512 ADUs), two QoS domains on it: one raw, one a zoned namespace (zones of 512 blocks).
//   writes   raw: allocate a super block, 512 one-ADU writes into it, release it; ZNS: 512
//            one-block writes at the write pointer of a zone, reset it.
//   appends  ZNS: the same with Zone Append (raw: the writes above).
//   reads    one-block reads at random over 8 written super blocks / zones, with
//            user-address verify on both sides (ZNS always verifies).
// Raw and ZNS rounds alternate, so that other load on the machine slows both alike.
// Each runs with the model completing inline (on the submitting thread) and in shuffled order
// on a completion thread (as the kernel's io_uring reaper would). Ratios are ZNS / raw, by
// wall time and by the process's CPU time (the steadier one when the machine is shared).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "sef/base/mutex.h"
#include "sef/hal/hal.h"
#include "sef/zns/zns.h"

namespace sef::zns {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kDepth = 32;
constexpr uint32_t kZoneBlocks = 512;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "zns_benchmark: %s failed\n", what);
    std::exit(1);
  }
}
void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "zns_benchmark: %s failed: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// Keeps up to kDepth operations in flight.
class Window {
 public:
  void Acquire() {
    MutexLock lock(&mu_);
    while (in_flight_ >= kDepth) cv_.Wait(&mu_);
    ++in_flight_;
  }
  void Release(bool ok) {
    MutexLock lock(&mu_);
    --in_flight_;
    failures_ += !ok;
    cv_.SignalAll();
  }
  void Drain() {
    MutexLock lock(&mu_);
    while (in_flight_ > 0) cv_.Wait(&mu_);
    Check(failures_ == 0, "an operation");
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
};

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Operations per second of wall time and per second of the process's CPU time (every thread;
// robust when other work shares the machine).
struct Rate {
  double wall = 0, cpu = 0;
};

// Runs `a` and `b` (each does some operations and returns how many) in alternation until
// `seconds` passed, so that a busy machine slows both alike.
template <typename A, typename B>
std::pair<Rate, Rate> Rates(double seconds, A a, B b) {
  uint64_t ops[2] = {0, 0};
  double wall[2] = {0, 0}, cpu[2] = {0, 0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds * 2);
  // A round runs faster right after a round of the other side than after one of its own
  // (measured: ~14%), so the order alternates (ABBA) to take that bias out.
  for (int pair = 0; Clock::now() < end; ++pair) {
    for (int i = 0; i < 2; ++i) {
      const int side = (pair + i) % 2;
      const auto start = Clock::now();
      const double start_cpu = CpuSeconds();
      ops[side] += side == 0 ? a() : b();
      cpu[side] += CpuSeconds() - start_cpu;
      wall[side] += std::chrono::duration<double>(Clock::now() - start).count();
    }
  }
  return {{ops[0] / wall[0], ops[0] / cpu[0]}, {ops[1] / wall[1], ops[1] / cpu[1]}};
}

struct Results {
  Rate raw_write, zns_write, raw_write_for_append, zns_append, raw_read, zns_read;
};

Results Run(hal::CompletionOrder order, double seconds) {
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = hal::Unit::Open(
      "model:testdata/units/default.json", {.transport = {.completion_order = order}});
  Check(unit.ok(), "open unit");
  Check((*unit)->CreateVirtualDevices({{VirtualDeviceId(1), {0}, 1, 0}}), "create VD");
  const uint64_t half = (*unit)->GetVirtualDeviceInfo(VirtualDeviceId(1))->capacity_adus / 2;
  absl::StatusOr<QosDomainId> raw_id = (*unit)->CreateQosDomain(
      {.vd = VirtualDeviceId(1), .capacity_adus = half, .max_open_super_blocks = 4});
  absl::StatusOr<QosDomainId> zns_id = (*unit)->CreateQosDomain(
      {.vd = VirtualDeviceId(1), .capacity_adus = half, .max_open_super_blocks = 4});
  Check(raw_id.ok() && zns_id.ok(), "create domains");
  std::unique_ptr<hal::QosDomain> raw = *(*unit)->OpenQosDomain(*raw_id);
  absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Format(**unit, *zns_id);
  Check(ns.ok(), "format");
  Check((*ns)->geometry().zone_size == kZoneBlocks, "zone size");

  std::vector<std::vector<uint8_t>> buffers(kDepth, std::vector<uint8_t>(kBlockBytes, 0x5A));
  std::vector<iovec> iovs(kDepth);
  for (int i = 0; i < kDepth; ++i) iovs[i] = {buffers[i].data(), buffers[i].size()};
  Window window;
  Results r;

  const auto raw_round = [&] {
    absl::StatusOr<hal::SuperBlockAllocation> sb = raw->AllocateSuperBlock();
    Check(sb.ok(), "allocate");
    for (uint32_t i = 0; i < kZoneBlocks; ++i) {
      window.Acquire();
      raw->WriteAsync({.target = sb->id,
                       .start = *UserAddress::Make(Lba(i), 1),
                       .data = {&iovs[i % kDepth], 1}},
                      [&](absl::StatusOr<hal::WriteResult> w) { window.Release(w.ok()); });
    }
    window.Drain();
    Check(raw->ReleaseSuperBlock(sb->id), "release");
    return kZoneBlocks;
  };
  const auto zns_round = [&](bool append) {
    for (uint32_t i = 0; i < kZoneBlocks; ++i) {
      window.Acquire();
      if (append) {
        (*ns)->AppendAsync(Lba(0), 1, {&iovs[i % kDepth], 1}, false,
                           [&](absl::StatusOr<Lba> a) { window.Release(a.ok()); });
      } else {
        (*ns)->WriteAsync(Lba(i), 1, {&iovs[i % kDepth], 1}, false,
                          [&](absl::Status s) { window.Release(s.ok()); });
      }
    }
    window.Drain();
    Check((*ns)->ZoneManagementSend(ZoneAction::kReset, Lba(0)), "reset");
    return kZoneBlocks;
  };
  // Warm up: every super block of the VD written once (the RAM model's pages faulted in).
  for (int i = 0; i < 80; ++i) {
    raw_round();
    zns_round(false);
  }
  std::tie(r.raw_write, r.zns_write) = Rates(seconds, raw_round, [&] { return zns_round(false); });
  std::tie(r.raw_write_for_append, r.zns_append) =
      Rates(seconds, raw_round, [&] { return zns_round(true); });

  // Reads: 8 full super blocks / zones.
  constexpr uint32_t kZones = 8;
  std::vector<FlashAddress> bases;
  std::vector<uint8_t> zone_data(uint64_t{kZoneBlocks} * kBlockBytes, 0x33);
  iovec zone_iov{zone_data.data(), zone_data.size()};
  for (uint32_t z = 0; z < kZones; ++z) {
    absl::StatusOr<hal::SuperBlockAllocation> sb = raw->AllocateSuperBlock();
    Check(sb.ok(), "allocate");
    Check(raw->Write({.target = sb->id,
                      .start = *UserAddress::Make(Lba(z * kZoneBlocks), 1),
                      .data = {&zone_iov, 1}})
              .ok(),
          "fill super block");
    bases.push_back(sb->address);
    Check((*ns)->Write(Lba(z * kZoneBlocks), kZoneBlocks, {&zone_iov, 1}), "fill zone");
  }
  std::mt19937_64 rng(1);
  std::tie(r.raw_read, r.zns_read) = Rates(
      seconds,
      [&] {
        for (int i = 0; i < 1024; ++i) {
          const uint64_t lba = rng() % (kZones * kZoneBlocks);
          window.Acquire();
          raw->ReadAsync(
              {.address = FlashAddress::FromRaw(bases[lba / kZoneBlocks].raw() + lba % kZoneBlocks),
               .verify = *UserAddress::Make(Lba(lba), 1),
               .data = {&iovs[i % kDepth], 1}},
              [&](absl::Status s) { window.Release(s.ok()); });
        }
        window.Drain();
        return 1024;
      },
      [&] {
        for (int i = 0; i < 1024; ++i) {
          const uint64_t lba = rng() % (kZones * kZoneBlocks);
          window.Acquire();
          (*ns)->ReadAsync(Lba(lba), 1, {&iovs[i % kDepth], 1},
                           [&](absl::Status s) { window.Release(s.ok()); });
        }
        window.Drain();
        return 1024;
      });
  ns->reset();
  raw.reset();
  return r;
}

int Main(int argc, char** argv) {
  double seconds = 2;
  std::vector<hal::CompletionOrder> orders = {hal::CompletionOrder::kInline,
                                              hal::CompletionOrder::kShuffled};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) seconds = std::atof(argv[i] + 10);
    if (std::strcmp(argv[i], "--inline") == 0) orders = {hal::CompletionOrder::kInline};
    if (std::strcmp(argv[i], "--shuffled") == 0) orders = {hal::CompletionOrder::kShuffled};
  }
  std::printf(
      "ZNS vs raw HAL, RAM model of testdata/units/default.json (1 die, 512-ADU super "
      "blocks), 4 KiB operations at QD %d, %.1f s each\n",
      kDepth, seconds);
  std::printf("%-10s %-10s %12s %12s %7s %14s %14s %7s\n", "completion", "operation", "raw ops/s",
              "ZNS ops/s", "ratio", "raw ops/cpu-s", "ZNS ops/cpu-s", "ratio");
  for (hal::CompletionOrder order : orders) {
    const Results r = Run(order, seconds);
    const char* name = order == hal::CompletionOrder::kInline ? "inline" : "shuffled";
    const auto line = [name](const char* what, const Rate& raw, const Rate& zns) {
      std::printf("%-10s %-10s %12.0f %12.0f %7.2f %14.0f %14.0f %7.2f\n", name, what, raw.wall,
                  zns.wall, zns.wall / raw.wall, raw.cpu, zns.cpu, zns.cpu / raw.cpu);
    };
    line("write", r.raw_write, r.zns_write);
    line("append", r.raw_write_for_append, r.zns_append);
    line("read", r.raw_read, r.zns_read);
  }
  return 0;
}

}  // namespace
}  // namespace sef::zns

int main(int argc, char** argv) { return sef::zns::Main(argc, argv); }
