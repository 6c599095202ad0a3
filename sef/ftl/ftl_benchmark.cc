// The block FTL's benchmark: write amplification, IOPS against the raw HAL, recovery time.
//
//   bazel run -c opt //sef/ftl:ftl_benchmark [-- --quick]
//
// Everything runs on RAM model units of sef/ftl/testdata/bench.json (8 dies, 128 blocks
// each, 128 ADUs per block; the VD has one die per super block: 1024 SBs of 128 ADUs, the
// geometry of the greedy reference) and prints ratios measured in this one run:
//
//  - WAF in steady state under uniform random 4 KiB overwrites at OP 7, 12.5 and 28 % (OP
//    over the FTL's data area; the FTL's metadata writes count), next to greedy GC's WAF for
//    the same OP from simulation (1024 blocks x 128 pages); and under zipf(0.9) at OP 28 %.
//    Both at OP 28 % again with user writes by placement ids 3..0 (FormatOptions; GC copies
//    into erased SBs), for comparison: the targets are the rows without placement ids.
//    After a sequential fill, 4 x the capacity is overwritten to reach steady state, then
//    the next 4 x is measured.
//  - random 4 KiB writes and reads at queue depth 32 before GC starts, as a ratio to the raw
//    HAL's nameless writes (by placement id) and reads on the same unit, both completing on
//    the model's completion thread in shuffled order (as the kernel's reaper would).
//  - Mount time after an unclean stop with the same amount (8 MiB, 64 MiB) written since the
//    last checkpoint, on two domain sizes 4 x apart of a larger unit (bench_recovery.json),
//    and after a clean unmount (the part of a mount that grows with the domain). Two times
//    each: until Mount returns (ready for I/O; the map then loads in the background) and
//    until the whole map is loaded.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "sef/base/mutex.h"
#include "sef/ftl/ftl.h"
#include "sef/ftl/testing/ftl_testing.h"
#include "sef/hal/hal.h"

namespace sef::ftl {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr const char* kUnit = "model:sef/ftl/testdata/bench.json";
// Recovery runs on a larger unit (bench_recovery.json: 8 dies of 1024 blocks, 8192 SBs of
// 128 ADUs, 4 GiB), so that the smaller domain (1/8 of it, 0.5 GiB) can take a replay of 64
// MiB without garbage collection in the window.
constexpr const char* kRecoveryUnit = "model:sef/ftl/testdata/bench_recovery.json";
constexpr int kDepth = 32;

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "ftl_benchmark: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}
template <typename T>
T Check(absl::StatusOr<T> v, const char* what) {
  Check(v.status(), what);
  return *std::move(v);
}

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

// Keeps `depth` operations in flight: submit(i, slot, done) starts operation i using buffer
// `slot`; `done` must be called exactly once.
class QueueDriver {
 public:
  explicit QueueDriver(int depth) : depth_(depth) {
    for (int i = 0; i < depth; ++i) free_.push_back(i);
  }
  void Run(
      uint64_t ops,
      const std::function<void(uint64_t, int, absl::AnyInvocable<void(absl::Status) &&>)>& submit) {
    for (uint64_t i = 0; i < ops; ++i) {
      int slot = 0;
      {
        MutexLock lock(&mu_);
        while (free_.empty()) cv_.Wait(&mu_);
        slot = free_.back();
        free_.pop_back();
      }
      submit(i, slot, [this, slot](absl::Status s) {
        Check(s, "I/O");
        MutexLock lock(&mu_);
        free_.push_back(slot);
        cv_.Signal();
      });
    }
    MutexLock lock(&mu_);
    while (free_.size() != static_cast<size_t>(depth_)) cv_.Wait(&mu_);
  }

 private:
  const int depth_;
  Mutex mu_;
  CondVar cv_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
};

struct Buffers {
  Buffers() : data(size_t{kDepth} * kBlockSize, 0x5A) {
    for (int i = 0; i < kDepth; ++i)
      iovs[i] = {data.data() + static_cast<size_t>(i) * kBlockSize, kBlockSize};
  }
  std::span<const iovec> at(int slot) const { return {&iovs[slot], 1}; }
  std::vector<uint8_t> data;
  iovec iovs[kDepth];
};

std::unique_ptr<hal::Unit> OpenUnit(hal::CompletionOrder order, double fraction = 1.0,
                                    const char* spec = kUnit) {
  hal::UnitOptions options;
  options.transport.completion_order = order;
  std::unique_ptr<hal::Unit> unit = Check(hal::Unit::Open(spec, options), "open unit");
  Check(testing::SetUpDomain(
            *unit,
            {.dies_per_super_block = 1,
             .capacity_fraction = fraction,
             .max_open_super_blocks = 16,
             .placement_ids = 4})
            .status(),
        "set up domain");
  return unit;
}

// Ranks 0..n-1 drawn with P(k) ~ 1/(k+1)^theta, then scattered over the LBAs.
class Zipf {
 public:
  Zipf(uint64_t n, double theta, uint64_t seed) : cdf_(n), lba_(n), rng_(seed) {
    double sum = 0;
    for (uint64_t k = 0; k < n; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), theta);
      cdf_[k] = sum;
    }
    std::iota(lba_.begin(), lba_.end(), 0);
    std::shuffle(lba_.begin(), lba_.end(), rng_);
  }
  uint64_t Next() {
    const double u = std::uniform_real_distribution<double>(0, cdf_.back())(rng_);
    const size_t k = std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin();
    return lba_[std::min(k, lba_.size() - 1)];
  }

 private:
  std::vector<double> cdf_;
  std::vector<uint64_t> lba_;
  std::mt19937_64 rng_;
};

struct WafResult {
  double waf = 0;
  double whole_domain_op = 0;  // spare over exported, counting every SB of the domain
  double mb_per_s = 0;
};

WafResult SteadyWaf(double op, bool zipf, double passes,
                    std::vector<PlacementId> placement_ids = {}) {
  std::unique_ptr<hal::Unit> unit = OpenUnit(hal::CompletionOrder::kInline);
  std::unique_ptr<BlockDevice> d =
      Check(BlockDevice::Format(unit.get(), QosDomainId(1),
                                {.overprovisioning_percent = op, .placement_ids = placement_ids}),
            "format");
  const uint64_t n = d->block_count();
  Buffers buffers;
  QueueDriver q(kDepth);
  auto write = [&](uint64_t lba, int slot, absl::AnyInvocable<void(absl::Status) &&> done) {
    d->WriteAsync(Lba(lba), 1, buffers.at(slot), false, std::move(done));
  };
  q.Run(n, [&](uint64_t i, int slot, auto done) { write(i, slot, std::move(done)); });
  std::mt19937_64 rng(42);
  Zipf z(zipf ? n : 1, 0.9, 7);
  auto next = [&]() { return zipf ? z.Next() : rng() % n; };
  const uint64_t rounds = static_cast<uint64_t>(passes * static_cast<double>(n));
  q.Run(rounds, [&](uint64_t, int slot, auto done) { write(next(), slot, std::move(done)); });
  const Stats before = d->GetStats();
  const auto start = SteadyClock::now();
  q.Run(rounds, [&](uint64_t, int slot, auto done) { write(next(), slot, std::move(done)); });
  const double secs = Seconds(start);
  const Stats after = d->GetStats();
  WafResult r;
  r.waf = static_cast<double>(after.flash_adus_written - before.flash_adus_written) /
          static_cast<double>(after.host_adus_written - before.host_adus_written);
  const double sb_adus = 128;
  r.whole_domain_op = (after.total_sbs * sb_adus - static_cast<double>(n)) / static_cast<double>(n);
  r.mb_per_s = static_cast<double>(rounds) * kBlockSize / secs / 1e6;
  Check(d->Unmount(), "unmount");
  return r;
}

struct Iops {
  double raw_write = 0, ftl_write = 0, raw_read = 0, ftl_read = 0;
};

// Raw HAL and FTL side by side, each on its own unit, measured in alternating rounds so that
// both see the same machine load; each side's best round counts.
Iops MeasureIops(double fraction_written, int rounds) {
  Iops r;
  Buffers buffers;
  QueueDriver q(kDepth);
  std::mt19937_64 rng(9);
  std::unique_ptr<hal::Unit> raw_unit = OpenUnit(hal::CompletionOrder::kShuffled);
  std::unique_ptr<hal::QosDomain> raw =
      Check(raw_unit->OpenQosDomain(QosDomainId(1)), "open domain");
  const hal::QosDomainInfo info = Check(raw_unit->GetQosDomainInfo(QosDomainId(1)), "info");
  std::unique_ptr<hal::Unit> ftl_unit = OpenUnit(hal::CompletionOrder::kShuffled);
  std::unique_ptr<BlockDevice> d =
      Check(BlockDevice::Format(ftl_unit.get(), QosDomainId(1), {.overprovisioning_percent = 28}),
            "format");
  const uint64_t per_round =
      static_cast<uint64_t>(fraction_written * static_cast<double>(info.capacity_adus)) / rounds;
  const uint64_t n = d->block_count();
  std::vector<FlashAddress> written;
  std::vector<uint64_t> lbas;
  auto best = [](double* best, uint64_t ops, SteadyClock::time_point start) {
    *best = std::max(*best, static_cast<double>(ops) / Seconds(start));
  };
  for (int round = 0; round < rounds; ++round) {
    // Raw: one-ADU nameless writes by placement id.
    const size_t base = written.size();
    written.resize(base + per_round);
    auto start = SteadyClock::now();
    q.Run(per_round, [&](uint64_t i, int slot, auto done) {
      raw->WriteAsync({.target = hal::ByPlacement{PlacementId(0)},
                       .start = UserAddress::FromRaw(base + i),
                       .data = buffers.at(slot)},
                      [&written, at = base + i,
                       done = std::move(done)](absl::StatusOr<hal::WriteResult> w) mutable {
                        if (w.ok()) written[at] = w->addresses[0];
                        std::move(done)(w.status());
                      });
    });
    best(&r.raw_write, per_round, start);
    // FTL: random 4 KiB writes.
    const size_t lbase = lbas.size();
    for (uint64_t i = 0; i < per_round; ++i) lbas.push_back(rng() % n);
    start = SteadyClock::now();
    q.Run(per_round, [&](uint64_t i, int slot, auto done) {
      d->WriteAsync(Lba(lbas[lbase + i]), 1, buffers.at(slot), false, std::move(done));
    });
    best(&r.ftl_write, per_round, start);
  }
  if (d->GetStats().gc_victims != 0) std::fprintf(stderr, "note: GC ran during the write phase\n");
  for (int round = 0; round < rounds; ++round) {
    auto start = SteadyClock::now();
    q.Run(per_round, [&](uint64_t, int slot, auto done) {
      raw->ReadAsync({.address = written[rng() % written.size()], .data = buffers.at(slot)},
                     std::move(done));
    });
    best(&r.raw_read, per_round, start);
    // Reads of written blocks only: an unwritten block reads zeros without a device read.
    start = SteadyClock::now();
    q.Run(per_round, [&](uint64_t, int slot, auto done) {
      d->ReadAsync(Lba(lbas[rng() % lbas.size()]), 1, buffers.at(slot), std::move(done));
    });
    best(&r.ftl_read, per_round, start);
  }
  Check(d->Unmount(), "unmount");
  return r;
}

struct Replay {
  uint64_t written = 0;       // host blocks written since the last checkpoint
  uint64_t replayed = 0;      // ADUs the mount replayed
  int restarts = 0;           // automatic checkpoints that restarted the count
  double seconds = 0;         // the mount: until Mount returns (ready for I/O)
  double loaded_seconds = 0;  // from the same start until the whole map is loaded
};

struct Recovery {
  uint64_t blocks = 0;
  double clean_seconds = 0;  // a mount after a clean unmount: nothing to replay
  double clean_loaded_seconds = 0;
  std::vector<Replay> replays;  // one per amount asked for
};

// Mounts domain 1 and times it: until Mount returns (the device takes I/O; the map loads in
// the background) and until the map is loaded.
std::unique_ptr<BlockDevice> TimedMount(hal::Unit* unit, double* ready, double* loaded) {
  const auto start = SteadyClock::now();
  std::unique_ptr<BlockDevice> d = Check(BlockDevice::Mount(unit, QosDomainId(1)), "mount");
  *ready = Seconds(start);
  Check(d->WaitUntilMapLoaded(), "map load");
  *loaded = Seconds(start);
  return d;
}

// Writes `since` random blocks after the last checkpoint, stops without unmounting and times
// the mount. The FTL also checkpoints by itself (when a journal SB retires, whatever the
// interval): the blocks are written in batches of kBatch, and the count starts again after a
// batch in which a checkpoint committed, so that every domain replays the same amount (to
// within one batch: the writes of that batch after the checkpoint's barrier are replayed too).
Replay WriteStopAndMount(hal::Unit* unit, std::unique_ptr<BlockDevice>* d, uint64_t since,
                         uint64_t seed) {
  constexpr uint64_t kBatch = 64;
  Buffers buffers;
  QueueDriver q(kDepth);
  Replay r;
  const uint64_t n = (*d)->block_count();
  Check((*d)->Checkpoint(), "checkpoint");
  std::mt19937_64 rng(seed);
  uint64_t checkpoints = (*d)->GetStats().checkpoints;
  for (int guard = 0; guard < 100000; ++guard) {
    if (r.written >= since) {
      Check((*d)->Flush(), "flush");
      if ((*d)->GetStats().checkpoints == checkpoints) break;
    } else {
      const uint64_t batch = std::min(kBatch, since - r.written);
      q.Run(batch, [&](uint64_t, int slot, auto done) {
        (*d)->WriteAsync(Lba(rng() % n), 1, buffers.at(slot), false, std::move(done));
      });
      r.written += batch;
    }
    if (const uint64_t now = (*d)->GetStats().checkpoints; now != checkpoints) {
      checkpoints = now;
      r.written = 0;
      ++r.restarts;
    }
  }
  d->reset();  // destroyed without Unmount: the next mount replays what was written since
  *d = TimedMount(unit, &r.seconds, &r.loaded_seconds);
  r.replayed = (*d)->GetStats().recovered_adus;
  return r;
}

// A domain of `fraction` of the recovery unit, filled sequentially (every map entry set) and
// unmounted; then the mount with nothing to replay, and for each amount in `since` a mount
// after an unclean stop with that amount written since the last checkpoint.
Recovery MeasureRecovery(double fraction, const std::vector<uint64_t>& since, uint64_t seed) {
  std::unique_ptr<hal::Unit> unit =
      OpenUnit(hal::CompletionOrder::kInline, fraction, kRecoveryUnit);
  Buffers buffers;
  QueueDriver q(kDepth);
  Recovery r;
  std::unique_ptr<BlockDevice> d = Check(
      BlockDevice::Format(unit.get(), QosDomainId(1),
                          {.overprovisioning_percent = 28, .checkpoint_interval_adus = 1u << 30}),
      "format");
  r.blocks = d->block_count();
  q.Run(r.blocks, [&](uint64_t i, int slot, auto done) {
    d->WriteAsync(Lba(i), 1, buffers.at(slot), false, std::move(done));
  });
  Check(d->Unmount(), "unmount");
  d.reset();
  d = TimedMount(unit.get(), &r.clean_seconds, &r.clean_loaded_seconds);
  for (uint64_t amount : since) {
    r.replays.push_back(WriteStopAndMount(unit.get(), &d, amount, seed++));
  }
  Check(d->Unmount(), "unmount");
  return r;
}

int Main(int argc, char** argv) {
  bool quick = false;
  std::string only;  // --only=waf|zipf|iops|recovery
  double passes = 4;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
      passes = 1;
    } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
      only = argv[i] + 7;
    } else if (std::strncmp(argv[i], "--passes=", 9) == 0) {
      passes = std::atof(argv[i] + 9);
    }
  }
  auto want = [&only](const char* part) { return only.empty() || only == part; };
  std::printf("Block FTL benchmark on %s (RAM model; 1024 SBs x 128 ADUs)\n\n", kUnit);

  struct Case {
    const char* workload;
    double op;
    bool zipf;
    double reference;  // greedy GC, simulation (0: none)
    double target;     // WAF / reference at most (ratio), or absolute WAF for zipf
    bool placement = false;  // user writes by placement ids 3..0 (for comparison: no target)
  };
  const Case cases[] = {
      {"uniform random 4 KiB", 7, false, 7.58, 0},
      {"uniform random 4 KiB", 12.5, false, 4.59, 1.05},
      {"uniform random 4 KiB", 28, false, 2.46, 1.05},
      {"zipf(0.9) 4 KiB", 28, true, 0, 2.0},
      {"uniform random 4 KiB, by placement ids 3..0", 28, false, 2.46, 0, true},
      {"zipf(0.9) 4 KiB, by placement ids 3..0", 28, true, 0, 0, true}};
  if (want("waf") || want("zipf")) {
    std::printf("| Workload | OP | OP, whole domain | WAF | greedy reference | ratio | target |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
  }
  for (const Case& c : cases) {
    if (!want(c.zipf ? "zipf" : "waf")) continue;
    const WafResult w =
        SteadyWaf(c.op, c.zipf, passes,
                  c.placement ? std::vector<PlacementId>{PlacementId(3), PlacementId(2),
                                                         PlacementId(1), PlacementId(0)}
                              : std::vector<PlacementId>{});
    if (c.reference > 0) {
      std::printf("| %s | %.1f %% | %.1f %% | %.2f | %.2f | %.3f | %s |\n", c.workload, c.op,
                  w.whole_domain_op * 100, w.waf, c.reference, w.waf / c.reference,
                  c.target > 0 ? "<= 1.05" : "-");
    } else {
      std::printf("| %s | %.1f %% | %.1f %% | %.2f | (>= 2.4 without separation) | - | %s |\n",
                  c.workload, c.op, w.whole_domain_op * 100, w.waf,
                  c.target > 0 ? absl::StrFormat("<= %.1f", c.target).c_str() : "-");
    }
    std::fflush(stdout);
  }

  if (!want("iops") && !want("recovery")) return 0;
  if (want("iops")) {
    const Iops iops = MeasureIops(quick ? 0.2 : 0.5, 10);
    std::printf("\n| QD %d, 4 KiB, before GC | FTL IOPS | raw HAL IOPS | ratio | target |\n",
                kDepth);
    std::printf("|---|---|---|---|---|\n");
    std::printf("| random write | %.0f | %.0f | %.2f | >= 0.7 |\n", iops.ftl_write, iops.raw_write,
                iops.ftl_write / iops.raw_write);
    std::printf("| random read | %.0f | %.0f | %.2f | >= 0.7 |\n", iops.ftl_read, iops.raw_read,
                iops.ftl_read / iops.raw_read);
    std::fflush(stdout);
  }

  if (!want("recovery")) return 0;
  // 8 MiB and 64 MiB written since the last checkpoint. A mount takes milliseconds, so one
  // sample moves with the machine's load about as much as with the domain's size: the two
  // sizes alternate, and each cell is the median of kRecoveryRuns.
  const std::vector<uint64_t> since = {2048, 16384};
  const int runs = quick ? 1 : 7;
  std::vector<Recovery> smalls, larges;
  for (int i = 0; i < runs; ++i) {
    smalls.push_back(MeasureRecovery(0.125, since, 5 + i));
    larges.push_back(MeasureRecovery(0.5, since, 5 + i));
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  auto clean_ms = [&](const std::vector<Recovery>& v, double Recovery::*field) {
    std::vector<double> t;
    for (const Recovery& x : v) t.push_back(x.*field * 1e3);
    return median(t);
  };
  auto replay_ms = [&](const std::vector<Recovery>& v, size_t k, double Replay::*field) {
    std::vector<double> t;
    for (const Recovery& x : v) t.push_back(x.replays[k].*field * 1e3);
    return median(t);
  };
  // Of all runs, the fewest and most blocks written since and ADUs replayed: the amounts
  // really are the same on both sizes.
  auto span = [](const std::vector<Recovery>& v, size_t k, uint64_t Replay::*field) {
    uint64_t lo = ~uint64_t{0}, hi = 0;
    for (const Recovery& x : v) {
      lo = std::min(lo, x.replays[k].*field);
      hi = std::max(hi, x.replays[k].*field);
    }
    return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
  };
  const double ratio_blocks =
      static_cast<double>(larges[0].blocks) / static_cast<double>(smalls[0].blocks);
  // Two times per mount: until Mount returns (ready for I/O; the target is judged on it) and
  // until the map is loaded in the background (docs/ftl.md, "Benchmark").
  std::printf(
      "\n| Recovery (%s, median of %d runs) | domain blocks | written since checkpoint | ADUs "
      "replayed | mount ms (ready for I/O) | map loaded ms |\n",
      kRecoveryUnit + 6, runs);
  std::printf("|---|---|---|---|---|---|\n");
  const double cs = clean_ms(smalls, &Recovery::clean_seconds);
  const double cl = clean_ms(larges, &Recovery::clean_seconds);
  const double cs_load = clean_ms(smalls, &Recovery::clean_loaded_seconds);
  const double cl_load = clean_ms(larges, &Recovery::clean_loaded_seconds);
  std::printf("| small domain, clean unmount (nothing to replay) | %lu | 0 | 0 | %.2f | %.2f |\n",
              static_cast<unsigned long>(smalls[0].blocks), cs, cs_load);
  std::printf("| large domain (%.1f x), clean unmount | %lu | 0 | 0 | %.2f | %.2f |\n",
              ratio_blocks, static_cast<unsigned long>(larges[0].blocks), cl, cl_load);
  std::printf("| ratio large / small, clean | | | | **%.2f** (target <= 1.5) | %.2f |\n", cl / cs,
              cl_load / cs_load);
  for (size_t k = 0; k < since.size(); ++k) {
    const double a = replay_ms(smalls, k, &Replay::seconds);
    const double b = replay_ms(larges, k, &Replay::seconds);
    const double a_load = replay_ms(smalls, k, &Replay::loaded_seconds);
    const double b_load = replay_ms(larges, k, &Replay::loaded_seconds);
    std::printf("| small domain, unclean stop | %lu | %s | %s | %.2f | %.2f |\n",
                static_cast<unsigned long>(smalls[0].blocks),
                span(smalls, k, &Replay::written).c_str(),
                span(smalls, k, &Replay::replayed).c_str(), a, a_load);
    std::printf("| large domain (%.1f x), unclean stop | %lu | %s | %s | %.2f | %.2f |\n",
                ratio_blocks, static_cast<unsigned long>(larges[0].blocks),
                span(larges, k, &Replay::written).c_str(),
                span(larges, k, &Replay::replayed).c_str(), b, b_load);
    std::printf(
        "| ratio large / small, %lu blocks (%lu MiB) since | | | | **%.2f** (target <= 1.5) | "
        "%.2f |\n",
        static_cast<unsigned long>(since[k]),
        static_cast<unsigned long>(since[k] * kBlockSize >> 20), b / a, b_load / a_load);
  }
  return 0;
}

}  // namespace
}  // namespace sef::ftl

int main(int argc, char** argv) { return sef::ftl::Main(argc, argv); }
