// 4 KiB nameless write and read throughput of the device model's RAM backend, against a
// plain 4 KiB memcpy loop over the same working set, measured in the same run.
//
//   bazel run -c opt //sef/hal/model:model_benchmark [-- --seconds=2]
//
// The unit is sized so that its whole capacity is the working set (128 MiB). Writes are
// FAR+NLW pairs of one ADU by placement id, encoded per command as a HAL would; when the
// domain is full the benchmark frees every closed SB and goes on (the frees are counted in
// the write time). Reads are one-ADU reads with user-address verify at random written
// addresses. Pages are touched once before timing, so neither side pays first-touch faults.
// Writes are measured on a unit without a write cache and on one with a volatile cache (whose
// writes also keep each open SB's durable pointer at the page-program boundary).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/model/controller.h"

namespace sef::model {
namespace {

using Clock = std::chrono::steady_clock;

UnitConfig BenchUnit(WriteCache cache) {
  UnitConfig c;
  c.write_cache = cache;
  c.name = "bench";
  c.channels = 2;
  c.banks = 2;
  c.planes = 2;
  c.pages_per_block = 16;
  c.blocks_per_die = 64;
  c.plane_data_bytes = 16384;  // 128 ADUs (512 KiB) per block, 128 MiB in all
  c.max_qos_domains = 2;
  c.max_placement_ids = 1;
  c.max_open_super_blocks = 4;
  c.read_fifos = 2;
  c.address = {16, 16};
  return c;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "benchmark setup failed: %s\n", what);
    std::exit(1);
  }
}

Completion Run(Controller& unit, const absl::StatusOr<Command>& c) {
  Check(c.ok(), "encode");
  return unit.Execute(*c);
}

class Bench {
 public:
  explicit Bench(Controller& unit) : unit_(unit) {
    std::vector<uint8_t> payload(4096);
    cmd::CapacityConfig config{2, {{VirtualDeviceId(1), {}}}};
    for (uint16_t die = 0; die < 4; ++die) config.vds[0].dies.push_back(cmd::DieId(die));
    Check(Run(unit_,
              cmd::Encode(cmd::SetCapacityConfigRequest{config, cmd::MutableBytes::Of(payload)}))
              .status.ok(),
          "capacity config");
    Check(Run(unit_, cmd::Encode(cmd::SelectCapacityConfigRequest{2})).status.ok(), "select");
    Check(Run(unit_, cmd::Encode(cmd::SetDiesPerSuperBlockRequest{VirtualDeviceId(1), 1}))
              .status.ok(),
          "dies per SB");
    const uint64_t plane_pages = uint64_t{4} * 64 * 16 * 2;
    cmd::QosDomainSpec spec;
    spec.vd = VirtualDeviceId(1);
    spec.capacity = spec.quota = PlanePageCount(plane_pages);
    spec.max_open_super_blocks = 4;
    const Completion created =
        Run(unit_, cmd::Encode(cmd::CreateQosDomainRequest{spec, cmd::MutableBytes::Of(payload)}));
    Check(created.status.ok(), "create domain");
    domain_ = cmd::CreateQosDomainResult::FromResult(created.result).domain;
    Check(Run(unit_, cmd::Encode(cmd::AttachQosDomainRequest{domain_, cmd::AttachAction::kAttach, 0,
                                                             cmd::MutableBytes::Of(payload)}))
              .status.ok(),
          "attach");
    format_ = {{16, 16}, 1};
    adu_.assign(wire::kAduDataBytes, 0x5A);
  }

  // One FAR+NLW of one ADU; frees the closed SBs when the domain is full.
  void Write(uint64_t lba) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      iovec iov{adu_.data(), adu_.size()};
      cmd::FlashAddressRequest far{domain_, PlacementId(0), nlwid_, 0, cmd::MutableBytes::Of(arr_)};
      cmd::NamelessWriteRequest nlw;
      nlw.domain = domain_;
      nlw.start = *UserAddress::Make(Lba(lba), 1);
      nlw.nlwid = nlwid_;
      nlw.data = {&iov, 1};
      nlwid_ = nlwid_ == 0xFFFFFFFF ? 1 : nlwid_ + 1;
      absl::StatusOr<Command> far_cmd = cmd::Encode(far, format_);
      absl::StatusOr<Command> nlw_cmd = cmd::Encode(nlw, format_);
      Completion far_done;
      unit_.Submit(*far_cmd, [&far_done](Completion c) { far_done = c; });
      const Completion done = unit_.Execute(*nlw_cmd);
      if (done.status.ok()) {
        wire::AddressRequestResponse arr;
        std::memcpy(&arr, arr_.data(), sizeof(arr));
        written_.push_back({FlashAddress::FromRaw(arr.sbis[0].sfla), lba});
        return;
      }
      FreeClosed();
    }
    Check(false, "write after freeing");
  }

  void Read(std::mt19937_64& rng) {
    const auto& [address, lba] = written_[rng() % written_.size()];
    iovec iov{buffer_.data(), buffer_.size()};
    cmd::ReadRequest r;
    r.address = address;
    r.verify = *UserAddress::Make(Lba(lba), 1);
    r.data = {&iov, 1};
    Check(Run(unit_, cmd::Encode(r, format_)).status.ok(), "read");
  }

  size_t written() const { return written_.size(); }

 private:
  void FreeClosed() {
    std::vector<uint8_t> list(8 * 256);
    Check(
        Run(unit_, cmd::Encode(cmd::SuperBlockListLogRequest{
                       domain_, wire::SbListOrder::kClosedBySbId, 0, cmd::MutableBytes::Of(list)}))
            .status.ok(),
        "SB list");
    for (size_t at = 0; at + 8 <= list.size(); at += 8) {
      wire::SbListEntry e;
      std::memcpy(&e, list.data() + at, sizeof(e));
      if (e.sbid == wire::kSbListEnd) break;
      Run(unit_, cmd::Encode(
                     cmd::SuperBlockManagementRequest{
                         domain_, wire::SbOperation::kFree, SuperBlockId(e.sbid), 0, {}},
                     format_));
    }
    written_.clear();
  }

  Controller& unit_;
  QosDomainId domain_;
  cmd::DomainFormat format_;
  uint32_t nlwid_ = 1;
  std::vector<uint8_t> adu_, arr_ = std::vector<uint8_t>(sizeof(wire::AddressRequestResponse));
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(wire::kAduDataBytes);
  std::vector<std::pair<FlashAddress, uint64_t>> written_;
};

template <typename F>
double OpsPerSecond(double seconds, F op) {
  uint64_t ops = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    for (int i = 0; i < 256; ++i) op(ops++);
  }
  return ops / std::chrono::duration<double>(Clock::now() - start).count();
}

int Main(int argc, char** argv) {
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) seconds = std::atof(argv[i] + 10);
  }
  const UnitConfig config = BenchUnit(WriteCache::kNone);
  const uint64_t working_set = config.total_adus() * wire::kAduDataBytes;

  // Baseline: 4 KiB memcpy into a working set of the same size, pages touched beforehand.
  std::vector<uint8_t> source(wire::kAduDataBytes, 0xA5), target(working_set, 0);
  const uint64_t slots = working_set / wire::kAduDataBytes;
  const double memcpy_ops = OpsPerSecond(seconds, [&](uint64_t i) {
    std::memcpy(target.data() + (i % slots) * wire::kAduDataBytes, source.data(),
                wire::kAduDataBytes);
    source[i % wire::kAduDataBytes] ^= 1;  // keep the copies observable
  });

  absl::StatusOr<std::unique_ptr<Controller>> unit = Controller::Open({.config = config});
  Check(unit.ok(), "open");
  Bench bench(**unit);
  for (uint64_t lba = 0; lba < slots; ++lba) bench.Write(lba);  // touch every page once
  const double write_ops = OpsPerSecond(seconds, [&](uint64_t i) { bench.Write(i); });
  std::mt19937_64 rng(1);
  const double read_ops = OpsPerSecond(seconds, [&](uint64_t) { bench.Read(rng); });
  unit->reset();

  absl::StatusOr<std::unique_ptr<Controller>> cached =
      Controller::Open({.config = BenchUnit(WriteCache::kVolatile)});
  Check(cached.ok(), "open with a volatile cache");
  Bench cached_bench(**cached);
  for (uint64_t lba = 0; lba < slots; ++lba) cached_bench.Write(lba);
  const double cached_write_ops = OpsPerSecond(seconds, [&](uint64_t i) { cached_bench.Write(i); });

  std::printf("SEF device model, RAM backend, 4 KiB ADUs, working set %llu MiB, %.1f s each\n",
              static_cast<unsigned long long>(working_set >> 20), seconds);
  std::printf("%-34s %14s %12s\n", "operation", "ops/s", "vs memcpy");
  std::printf("%-34s %14.0f %12s\n", "memcpy 4 KiB (baseline)", memcpy_ops, "1.000");
  std::printf("%-34s %14.0f %12.3f\n", "nameless write (FAR+NLW, 1 ADU)", write_ops,
              write_ops / memcpy_ops);
  std::printf("%-34s %14.0f %12.3f\n", "read with UA verify (1 ADU)", read_ops,
              read_ops / memcpy_ops);
  std::printf("%-34s %14.0f %12.3f  (%.3f of writes without cache)\n",
              "nameless write, volatile cache", cached_write_ops, cached_write_ops / memcpy_ops,
              cached_write_ops / write_ops);
  return 0;
}

}  // namespace
}  // namespace sef::model

int main(int argc, char** argv) { return sef::model::Main(argc, argv); }
