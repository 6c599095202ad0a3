// Several threads drive two QoS domains at once: FAR+NLW pairs by placement id, reads with
// verify, super block erase/close/free and admin log reads interleave. Run under
// --config=tsan to check the model's locking; the assertions check that no write is lost or
// misplaced. Power cuts (direct and triggered) fall among commands of several threads.
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model {
namespace {

using testing::HoldsPattern;
using testing::ModelHarness;

TEST(ModelConcurrencyTest, FourThreadsTwoDomains) {
  ModelHarness h = ModelHarness::Open("tiny");
  ASSERT_TRUE(h.ok());
  h.CreateVirtualDevice(VirtualDeviceId(1), {0, 1, 2, 3}, 1);  // 64 SBs of 32 ADUs
  cmd::QosDomainSpec spec = h.DefaultSpec(VirtualDeviceId(1));
  spec.max_open_super_blocks = 4;
  const QosDomainId domains[2] = {h.CreateDomain(spec), h.CreateDomain(spec)};
  ASSERT_NE(domains[0].value(), 0);
  ASSERT_NE(domains[1].value(), 0);

  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 60;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const QosDomainId d = domains[t % 2];
      const PlacementId pid(static_cast<uint16_t>(t / 2));
      for (int i = 0; i < kWritesPerThread; ++i) {
        const uint64_t lba = uint64_t(t) * 100000 + i * 8;
        const uint32_t adus = 1 + i % 3;
        ModelHarness::Written w = h.Write(d, cmd::ByPlacement{pid}, Lba(lba), adus);
        if (!w.nlw.status.ok() || w.addresses.size() != adus) {
          ++failures;
          ADD_FAILURE() << "thread " << t << " write " << i << ": " << w.nlw.status;
          return;
        }
        std::vector<uint8_t> data;
        for (uint32_t a = 0; a < adus; ++a) {
          const Completion r =
              h.Read(w.addresses[a], 1, &data, *UserAddress::Make(Lba(lba + a), 0x5EF));
          if (!r.status.ok() || !HoldsPattern(data, lba + a)) {
            ++failures;
            ADD_FAILURE() << "thread " << t << " read " << i << "/" << a << ": " << r.status;
            return;
          }
        }
        if (i % 10 == 0) {
          // Erase, write into, close and free an SB of our own, and read an admin log.
          ModelHarness::Erased e = h.Erase(d);
          if (e.completion.status.ok()) {
            h.Write(d, e.sb, Lba(lba + 50), 2);
            h.SuperBlockOp(d, wire::SbOperation::kClose, e.sb);
            if (!h.SuperBlockOp(d, wire::SbOperation::kFree, e.sb).status.ok()) ++failures;
          }
          h.VdInfo(VirtualDeviceId(1));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  // Each domain holds exactly what its two threads wrote: 2 * sum(1 + i % 3) ADUs.
  uint64_t expected = 0;
  for (int i = 0; i < kWritesPerThread; ++i) expected += 1 + i % 3;
  for (QosDomainId d : domains) {
    std::vector<uint8_t> buf(4096);
    ASSERT_TRUE(h.Admin(cmd::SuperBlockListLogRequest{d, wire::SbListOrder::kAll, 0,
                                                      cmd::MutableBytes::Of(buf)})
                    .status.ok());
    uint64_t written = 0;
    for (size_t at = 0; at + 8 <= buf.size(); at += 8) {
      wire::SbListEntry e;
      std::memcpy(&e, buf.data() + at, sizeof(e));
      if (e.sbid == wire::kSbListEnd) break;
      written += h.SbInfo(VirtualDeviceId(1), SuperBlockId(e.sbid)).aduptr;
    }
    EXPECT_EQ(written, 2 * expected) << "domain " << d;
  }
}

// The tiny unit with a volatile write cache.
ControllerOptions VolatileTiny() {
  ControllerOptions options;
  options.config = testing::LoadTestUnit("tiny");
  options.config.write_cache = WriteCache::kVolatile;
  return options;
}

// CutPowerAfter(n) with four threads submitting admin and I/O commands: exactly n run.
TEST(ModelConcurrencyTest, TriggeredCutRunsExactlyThatManyCommands) {
  ModelHarness h = ModelHarness::OpenWith(VolatileTiny());
  ASSERT_TRUE(h.ok());
  h.CreateVirtualDevice(VirtualDeviceId(1), {0, 1, 2, 3}, 1);
  const QosDomainId d = h.CreateDomain(h.DefaultSpec(VirtualDeviceId(1)));
  h.PinFormat(d, h.FormatOf(d));
  const ModelHarness::Written w = h.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(9), 1);
  ASSERT_TRUE(w.nlw.status.ok());
  constexpr uint64_t kCommands = 400;
  h.unit().CutPowerAfter(kCommands, 3);
  std::atomic<uint64_t> ran{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> buf(4096);
      for (int i = 0;; ++i) {
        const Completion c =
            (i + t) % 3 == 0 ? h.Admin(cmd::IdentifyControllerRequest{cmd::MutableBytes::Of(buf)})
                             : h.Read(w.addresses[0], 1, &buf, *UserAddress::Make(Lba(9), 0x5EF));
        if (c.status == testing::Generic(wire::sc::kAbortedPowerLoss)) return;
        ++(c.status.ok() ? ran : other);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ran.load(), kCommands);
  EXPECT_EQ(other.load(), 0u);
  EXPECT_FALSE(h.unit().powered());
}

// Threads write with FUA while the main thread cuts the power: every write that completed
// before the cut survives it, and none is half-applied.
TEST(ModelConcurrencyTest, PowerCutAmongWriters) {
  ModelHarness h = ModelHarness::OpenWith(VolatileTiny());
  ASSERT_TRUE(h.ok());
  h.CreateVirtualDevice(VirtualDeviceId(1), {0, 1, 2, 3}, 1);
  const QosDomainId domains[2] = {h.CreateDomain(h.DefaultSpec(VirtualDeviceId(1))),
                                  h.CreateDomain(h.DefaultSpec(VirtualDeviceId(1)))};
  for (QosDomainId d : domains) h.PinFormat(d, h.FormatOf(d));
  std::mutex mu;
  std::vector<std::pair<FlashAddress, uint64_t>> acked;  // guarded by mu
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ++started;
      for (uint64_t i = 0; i < 200; ++i) {
        const uint64_t lba = uint64_t(t) * 1000 + i;
        const ModelHarness::Written w =
            h.Write(domains[t % 2], cmd::ByPlacement{PlacementId(static_cast<uint16_t>(t / 2))},
                    Lba(lba), 1, /*fua=*/true);
        if (!w.nlw.status.ok()) return;  // the cut (or, late, a full domain)
        std::lock_guard lock(mu);
        acked.push_back({w.addresses[0], lba});
      }
    });
  }
  while (started.load() < 4) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  h.unit().PowerCut(11);
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(h.unit().PowerOn().ok());
  std::vector<uint8_t> data;
  for (const auto& [address, lba] : acked) {
    ASSERT_TRUE(h.Read(address, 1, &data, *UserAddress::Make(Lba(lba), 0x5EF)).status.ok())
        << "LBA " << lba << " at " << address;
    EXPECT_TRUE(HoldsPattern(data, lba));
  }
}

}  // namespace
}  // namespace sef::model
