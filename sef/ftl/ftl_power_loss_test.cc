// FtlPowerLossTest: the block FTL's crash suite. A random mixed workload (writes of one to
// forty blocks, overwrites, FUA writes, trims, flushes, reads; eight requests in flight, GC
// active) runs on a model unit with a volatile write cache until its power is cut at a
// random command (CutPowerAfter), or during format, mount or unmount. After each cut the unit
// restarts, the domain is mounted (recovered) and every block is checked against an oracle
// of what was acknowledged and made durable: a block must hold its last durable content or
// the content of a later write or trim of it (never older data, another block's data or
// garbage). Then the domain's capacity accounting must be exact: the FTL knows every super
// block the domain holds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/base/mutex.h"
#include "sef/ftl/ftl.h"
#include "sef/ftl/testing/ftl_testing.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/model/unit_config.h"
#include "sef/hal/testing/test_unit.h"
#include "sef/hal/transport.h"

namespace sef::ftl {
namespace {

using testing::Buffer;
using testing::FillBlock;
using testing::VersionOf;

constexpr uint64_t kGarbage = ~uint64_t{0};
// No request of the workload may take this long: it is a hang (the watchdog's limit).
constexpr std::chrono::seconds kHangTimeout(30);

// What each block may hold. Per block: the contents of the updates submitted to it, in order
// (the FTL orders updates of a block by submission), the index of the last durable one, and
// how many have completed. Content 0 is zeros (never written, or trimmed).
class Oracle {
 public:
  explicit Oracle(uint64_t blocks)
      : hist_(blocks, std::vector<uint64_t>{0}), durable_(blocks, 0), completed_(blocks, 1) {}

  // A write (content = its version) or a trim of [lba, lba + count): returns the version and
  // each block's index.
  uint64_t Submit(uint64_t lba, uint32_t count, bool trim, std::vector<uint32_t>* index) {
    MutexLock lock(&mu_);
    const uint64_t version = ++version_;
    index->clear();
    for (uint32_t i = 0; i < count; ++i) {
      index->push_back(static_cast<uint32_t>(hist_[lba + i].size()));
      hist_[lba + i].push_back(trim ? 0 : version);
    }
    return version;
  }
  void Completed(uint64_t lba, const std::vector<uint32_t>& index, bool fua) {
    MutexLock lock(&mu_);
    for (size_t i = 0; i < index.size(); ++i) {
      completed_[lba + i] = std::max(completed_[lba + i], index[i] + 1);
      if (fua) durable_[lba + i] = std::max(durable_[lba + i], index[i]);
    }
  }
  std::vector<uint32_t> FlushSubmitted() {
    MutexLock lock(&mu_);
    return completed_;
  }
  void FlushCompleted(const std::vector<uint32_t>& completed_then) {
    MutexLock lock(&mu_);
    for (size_t b = 0; b < durable_.size(); ++b) {
      durable_[b] = std::max(durable_[b], completed_then[b] - 1);
    }
  }
  // Everything completed is durable (a clean unmount succeeded).
  void AllDurable() { FlushCompleted(FlushSubmitted()); }
  // For a read: the first index whose content it may see.
  uint32_t ReadFrom(uint64_t lba) {
    MutexLock lock(&mu_);
    return completed_[lba] - 1;
  }
  bool MayHold(uint64_t lba, uint32_t from, uint64_t observed) {
    MutexLock lock(&mu_);
    const std::vector<uint64_t>& h = hist_[lba];
    return std::find(h.begin() + from, h.end(), observed) != h.end();
  }
  uint32_t durable(uint64_t lba) {
    MutexLock lock(&mu_);
    return durable_[lba];
  }
  std::string Describe(uint64_t lba) {
    MutexLock lock(&mu_);
    std::string s = absl::StrFormat("durable index %u, completed %u, contents:", durable_[lba],
                                    completed_[lba]);
    for (uint64_t v : hist_[lba]) absl::StrAppend(&s, " ", v);
    return s;
  }
  // After a check: what the block holds now is its only, durable content.
  void Rebase(uint64_t lba, uint64_t observed) {
    MutexLock lock(&mu_);
    hist_[lba].assign(1, observed);
    durable_[lba] = 0;
    completed_[lba] = 1;
  }

 private:
  Mutex mu_;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::vector<uint64_t>> hist_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> durable_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> completed_ ABSL_GUARDED_BY(mu_);
};

struct Config {
  const char* name;
  hal::CompletionOrder order;
  uint16_t max_open;
  int cuts;
  // FormatOptions::placement_ids: user writes by placement id (the device opens their SBs).
  std::vector<PlacementId> placement_ids = {};
};
void PrintTo(const Config& c, std::ostream* os) { *os << c.name; }

class FtlPowerLossTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    hal::testing::TestUnitOptions options;
    options.config = "tiny";
    const uint16_t max_open = GetParam().max_open;
    options.edit_config = [max_open](model::UnitConfig& c) {
      c.write_cache = model::WriteCache::kVolatile;
      c.max_open_super_blocks = std::max<uint32_t>(c.max_open_super_blocks, max_open);
    };
    options.transport.completion_order = GetParam().order;
    absl::StatusOr<std::unique_ptr<hal::testing::TestUnit>> t =
        hal::testing::TestUnit::Open(std::move(options));
    ASSERT_TRUE(t.ok()) << t.status();
    unit_ = *std::move(t);
    absl::StatusOr<QosDomainId> d =
        unit_->Provision({.dies_per_super_block = 1, .max_open_super_blocks = GetParam().max_open});
    ASSERT_TRUE(d.ok()) << d.status();
    domain_ = *d;
  }

  // Runs up to `ops` random requests, `depth` in flight, until one fails (the power is cut).
  // Returns whether one failed.
  bool RunWorkload(BlockDevice& d, Oracle& oracle, std::mt19937_64& rng, int ops, int depth) {
    const uint64_t n = d.block_count();
    Mutex mu;
    CondVar cv;
    int in_flight = 0;
    bool failed = false;
    // The requests in flight, by number, for the watchdog.
    std::map<int, std::string> pending;
    auto finish = [&](int id, bool ok) {
      MutexLock lock(&mu);
      if (!ok) failed = true;
      --in_flight;
      pending.erase(id);
      cv.SignalAll();
    };
    // The watchdog: a request not completed for kHangSeconds is a hang. Everything needed to
    // find out why goes to stderr (the requests in flight, the FTL's state, its threads'
    // wait points show in a core), then the test aborts: the callbacks still pending refer
    // to this frame, so it cannot just return.
    auto wait = [&](auto done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      auto last_progress = std::chrono::steady_clock::now();
      int seen = in_flight;
      while (!done()) {
        cv.WaitWithTimeout(&mu, std::chrono::seconds(1));
        if (in_flight != seen) {
          seen = in_flight;
          last_progress = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - last_progress > kHangTimeout) {
          std::string what;
          for (const auto& [id, text] : pending) absl::StrAppend(&what, "  #", id, " ", text, "\n");
          std::fprintf(stderr, "HANG: no request completed for %d s (power %s); in flight:\n%s%s\n",
                       static_cast<int>(kHangTimeout.count()),
                       unit_->controller().powered() ? "on" : "cut", what.c_str(),
                       d.DebugState().c_str());
          std::fflush(stderr);
          std::abort();
        }
      }
    };
    for (int i = 0; i < ops; ++i) {
      const int id = i;
      {
        MutexLock lock(&mu);
        wait([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight < depth; });
        if (failed) break;
        ++in_flight;
      }
      const int kind = static_cast<int>(rng() % 100);
      if (kind < 62) {  // write, 1 in 5 with FUA; a few longer than a super block
        const uint32_t count = rng() % 20 == 0 ? 1 + static_cast<uint32_t>(rng() % 40)
                                               : 1 + static_cast<uint32_t>(rng() % 4);
        const uint64_t lba = rng() % (n - count + 1);
        const bool fua = rng() % 5 == 0;
        auto index = std::make_shared<std::vector<uint32_t>>();
        const uint64_t version = oracle.Submit(lba, count, false, index.get());
        auto buffer = std::make_shared<testing::Buffer>(count);
        for (uint32_t b = 0; b < count; ++b) FillBlock(lba + b, version, buffer->block(b));
        Pending(mu, pending, id, absl::StrFormat("write lba %u count %u fua %d", lba, count, fua));
        d.WriteAsync(Lba(lba), count, buffer->span(), fua,
                     [&, id, lba, fua, index, buffer](absl::Status s) {
                       if (s.ok()) oracle.Completed(lba, *index, fua);
                       finish(id, s.ok());
                     });
      } else if (kind < 74) {  // trim
        const uint32_t count = 1 + static_cast<uint32_t>(rng() % 8);
        const uint64_t lba = rng() % (n - count + 1);
        auto index = std::make_shared<std::vector<uint32_t>>();
        oracle.Submit(lba, count, true, index.get());
        Pending(mu, pending, id, absl::StrFormat("trim lba %u count %u", lba, count));
        d.TrimAsync(Lba(lba), count, [&, id, lba, index](absl::Status s) {
          if (s.ok()) oracle.Completed(lba, *index, false);
          finish(id, s.ok());
        });
      } else if (kind < 80) {  // flush
        auto snapshot = std::make_shared<std::vector<uint32_t>>(oracle.FlushSubmitted());
        Pending(mu, pending, id, "flush");
        d.FlushAsync([&, id, snapshot](absl::Status s) {
          if (s.ok()) oracle.FlushCompleted(*snapshot);
          finish(id, s.ok());
        });
      } else {  // read: it sees the last completed update of the block or a later one
        const uint64_t lba = rng() % n;
        const uint32_t from = oracle.ReadFrom(lba);
        auto buffer = std::make_shared<testing::Buffer>(1);
        Pending(mu, pending, id, absl::StrFormat("read lba %u", lba));
        d.ReadAsync(Lba(lba), 1, buffer->span(), [&, id, lba, from, buffer](absl::Status s) {
          if (s.ok()) {
            const uint64_t v = VersionOf(lba, buffer->block(0));
            EXPECT_TRUE(oracle.MayHold(lba, from, v))
                << "read of LBA " << lba << " returned version " << v << "; "
                << oracle.Describe(lba);
            if (!oracle.MayHold(lba, from, v)) read_errors_.fetch_add(1);
          }
          finish(id, s.ok());
        });
      }
    }
    MutexLock lock(&mu);
    wait([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight == 0; });
    return failed;
  }

  static void Pending(Mutex& mu, std::map<int, std::string>& pending, int id, std::string what) {
    MutexLock lock(&mu);
    pending[id] = std::move(what);
  }

  // Every block holds what the oracle allows; then that is the new durable state.
  void Verify(BlockDevice& d, Oracle& oracle) {
    const uint64_t n = d.block_count();
    for (uint64_t lba = 0; lba < n; lba += 64) {
      const uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(64, n - lba));
      testing::Buffer b(count);
      absl::Status s = d.Read(Lba(lba), count, b.span());
      ASSERT_TRUE(s.ok()) << "LBA " << lba << ": " << s;
      for (uint32_t i = 0; i < count; ++i) {
        const uint64_t v = VersionOf(lba + i, b.block(i));
        ASSERT_NE(v, kGarbage) << "LBA " << lba + i << " holds another block's data or garbage; "
                               << oracle.Describe(lba + i);
        ASSERT_TRUE(oracle.MayHold(lba + i, oracle.durable(lba + i), v))
            << "LBA " << lba + i << " holds version " << v << "; " << oracle.Describe(lba + i);
        oracle.Rebase(lba + i, v);
      }
    }
  }

  // The FTL accounts for exactly the super blocks the domain holds (its background work
  // settles first).
  void ExpectExactAccounting(BlockDevice& d) {
    uint32_t device = 0, ftl = 0;
    for (int i = 0; i < 200; ++i) {
      absl::StatusOr<hal::QosDomainInfo> info = unit_->unit().GetQosDomainInfo(domain_);
      ASSERT_TRUE(info.ok()) << info.status();
      device = info->super_blocks;
      const Stats st = d.GetStats();
      ftl = st.held_sbs;
      if (device == ftl && st.free_sbs + st.held_sbs == st.total_sbs) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "the domain holds " << device << " super blocks, the FTL knows of " << ftl;
  }

  std::unique_ptr<BlockDevice> MountAfterCut(std::mt19937_64& rng, bool cut_during_mount) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      EXPECT_TRUE(unit_->Restart().ok());
      // Half the cuts during a mount land while its map loads (after Mount returned): the
      // load is held until the cut is armed a few commands ahead.
      const bool cut_during_load = cut_during_mount && attempt == 0 && rng() % 2 == 0;
      if (cut_during_mount && attempt == 0 && !cut_during_load) {
        unit_->controller().CutPowerAfter(rng() % 40, rng());
        ++cuts_;
        ++mount_cuts_;
      }
      absl::StatusOr<std::unique_ptr<BlockDevice>> d =
          BlockDevice::Mount(&unit_->unit(), domain_, {.map_load_paused = cut_during_load});
      if (d.ok() && cut_during_load) {
        unit_->controller().CutPowerAfter(rng() % 3, rng());
        ++cuts_;
        ++load_cuts_;
        (*d)->ResumeMapLoad();
        (void)(*d)->WaitUntilMapLoaded();
      }
      if (d.ok()) {
        // Disarm first, then look: the mounted FTL's threads go on sending commands, and a
        // cut armed for the mount may fire among them (a cut after the mount's last command).
        unit_->controller().CutPowerAfter(~uint64_t{0} >> 1, 0);
        if (!unit_->controller().powered()) {
          d->reset();
          continue;
        }
        recovered_ += (*d)->GetStats().recovered_adus;
        return *std::move(d);
      }
      EXPECT_FALSE(unit_->controller().powered()) << "mount failed with power on: " << d.status();
      if (unit_->controller().powered()) return nullptr;
    }
    ADD_FAILURE() << "no mount";
    return nullptr;
  }

  std::unique_ptr<hal::testing::TestUnit> unit_;
  QosDomainId domain_;
  int cuts_ = 0, mount_cuts_ = 0, load_cuts_ = 0, unmount_cuts_ = 0, format_cuts_ = 0;
  uint64_t recovered_ = 0;
  uint64_t placement_opened_ = 0;  // SBs the device opened for writes by placement id
  std::atomic<int> read_errors_{0};
};

TEST_P(FtlPowerLossTest, RandomCutsOfAMixedWorkload) {
  const auto start = std::chrono::steady_clock::now();
  // FTL_TEST_SEED=N runs another seed set (the default, 0, is what CI runs).
  const char* seed_env = std::getenv("FTL_TEST_SEED");
  const uint64_t seed_set = seed_env != nullptr ? std::strtoull(seed_env, nullptr, 10) : 0;
  std::mt19937_64 rng(0xF7 + GetParam().max_open * 31 + static_cast<int>(GetParam().order) +
                      GetParam().placement_ids.size() * 7 + seed_set * 1000003);
  // A cut during the format first: the domain is formatted again, never taken for foreign.
  std::unique_ptr<BlockDevice> d;
  for (int attempt = 0; d == nullptr && attempt < 10; ++attempt) {
    if (attempt < 4) unit_->controller().CutPowerAfter(rng() % (40 * (attempt + 1)), rng());
    absl::StatusOr<std::unique_ptr<BlockDevice>> f =
        BlockDevice::MountOrFormat(
            &unit_->unit(), domain_,
            {.overprovisioning_percent = 25, .placement_ids = GetParam().placement_ids});
    if (!unit_->controller().powered()) {
      ++cuts_;
      ++format_cuts_;
      f = absl::StatusOr<std::unique_ptr<BlockDevice>>(absl::UnavailableError("cut"));
      ASSERT_TRUE(unit_->Restart().ok());
      continue;
    }
    ASSERT_TRUE(f.ok()) << f.status();
    d = *std::move(f);
  }
  ASSERT_NE(d, nullptr);
  unit_->controller().CutPowerAfter(~uint64_t{0} >> 1, 0);  // disarm: far away
  Oracle oracle(d->block_count());
  Verify(*d, oracle);  // zeros after the format

  while (cuts_ < GetParam().cuts) {
    const int round = cuts_;
    if (round % 10 == 9) {
      // A clean unmount, possibly cut short.
      const bool cut = rng() % 2 == 0;
      if (cut) unit_->controller().CutPowerAfter(rng() % 60, rng());
      absl::Status s = d->Unmount();
      if (s.ok() && unit_->controller().powered()) {
        oracle.AllDurable();
        unit_->controller().PowerCut(rng());  // and the power goes after it
      }
      placement_opened_ += d->GetStats().placement_sbs_opened;
      d.reset();
      ++cuts_;
      ++unmount_cuts_;
    } else {
      unit_->controller().CutPowerAfter(1 + rng() % 3000, rng());
      const bool failed = RunWorkload(*d, oracle, rng, 150 + static_cast<int>(rng() % 400), 8);
      if (unit_->controller().powered()) {
        EXPECT_FALSE(failed) << "a request failed with the power on";
        unit_->controller().PowerCut(rng());
      }
      placement_opened_ += d->GetStats().placement_sbs_opened;
      d.reset();  // destroyed after the cut: no unmount
      ++cuts_;
    }
    d = MountAfterCut(rng, round % 7 == 3);
    ASSERT_NE(d, nullptr) << "after cut " << cuts_;
    unit_->controller().CutPowerAfter(~uint64_t{0} >> 1, 0);
    ASSERT_NO_FATAL_FAILURE(Verify(*d, oracle)) << "after cut " << cuts_;
    ASSERT_NO_FATAL_FAILURE(ExpectExactAccounting(*d)) << "after cut " << cuts_;
    // The valid counts recovery built (the checkpoint's, adjusted as each map page loaded)
    // are what a recount of the map finds.
    {
      const absl::Status counts = d->DebugCheckValidCounts();
      ASSERT_TRUE(counts.ok()) << "after cut " << cuts_ << ": " << counts;
    }
    ASSERT_EQ(read_errors_.load(), 0);
    if (std::getenv("FTL_TEST_VERBOSE") != nullptr) {
      const Stats st = d->GetStats();
      std::fprintf(stderr, "cut %d: %.1f s, replayed %lu, WAF %.2f, victims %lu\n", cuts_,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                   static_cast<unsigned long>(st.recovered_adus), st.write_amplification,
                   static_cast<unsigned long>(st.gc_victims));
    }
  }
  ASSERT_TRUE(d->Unmount().ok());
  // With placement ids, user writes went by them: the device opened SBs for them.
  if (!GetParam().placement_ids.empty()) {
    EXPECT_GT(placement_opened_, 0u);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "FtlPowerLossTest %s: %d power cuts (%d during format, %d during mount, %d during the "
      "map load after it, %d around unmount), %lu ADUs replayed, %lu SBs opened by placement "
      "id, %.1f s\n",
      GetParam().name, cuts_, format_cuts_, mount_cuts_, load_cuts_, unmount_cuts_,
      static_cast<unsigned long>(recovered_), static_cast<unsigned long>(placement_opened_),
      secs);
}

// ---- Regression tests for what the ShuffledOpen8 instance found ------------------------------

// A transport that can hold the completions of nameless writes (the FAR+NLW pairs: user data,
// journal and checkpoint pages) until the test releases them, as a device may take its time.
class HoldingTransport final : public hal::Transport {
 public:
  explicit HoldingTransport(std::unique_ptr<hal::Transport> inner) : inner_(std::move(inner)) {}

  void Hold(bool on) {
    MutexLock lock(&mu_);
    hold_ = on;
  }
  size_t held() {
    MutexLock lock(&mu_);
    return held_.size();
  }
  // Delivers the completions held so far, on the calling thread.
  void Release() {
    std::vector<std::pair<hal::TransportCallback, hal::TransportResult>> held;
    {
      MutexLock lock(&mu_);
      held.swap(held_);
    }
    for (auto& [done, result] : held) std::move(done)(std::move(result));
  }

  const std::string& name() const override { return inner_->name(); }
  void Submit(const Command& c, hal::TransportCallback done) override {
    inner_->Submit(c, Wrap(c, std::move(done)));
  }
  void SubmitPair(const Command& first, hal::TransportCallback first_done, const Command& second,
                  hal::TransportCallback second_done) override {
    inner_->SubmitPair(first, Wrap(first, std::move(first_done)), second,
                       Wrap(second, std::move(second_done)));
  }
  absl::Status WatchEvents(absl::AnyInvocable<void(const hal::TransportEvent&)> on_event) override {
    return inner_->WatchEvents(std::move(on_event));
  }
  bool events_need_log_reads() const override { return inner_->events_need_log_reads(); }
  absl::Status NamespacesChanged() override { return inner_->NamespacesChanged(); }

 private:
  hal::TransportCallback Wrap(const Command& c, hal::TransportCallback done) {
    const bool write = c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kNamelessWrite) ||
                       c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kFlashAddressRequest);
    return [this, write, done = std::move(done)](hal::TransportResult r) mutable {
      {
        MutexLock lock(&mu_);
        if (write && hold_) {
          held_.emplace_back(std::move(done), std::move(r));
          return;
        }
      }
      std::move(done)(std::move(r));
    };
  }

  const std::unique_ptr<hal::Transport> inner_;
  Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<hal::TransportCallback, hal::TransportResult>> held_ ABSL_GUARDED_BY(mu_);
};

// Waits up to `limit` for `f`; true if it became ready.
template <typename T>
bool ReadyWithin(std::future<T>& f, std::chrono::milliseconds limit) {
  return f.wait_for(limit) == std::future_status::ready;
}

std::function<void(absl::Status)> SetTo(std::shared_ptr<std::promise<absl::Status>> p) {
  return [p](absl::Status s) { p->set_value(std::move(s)); };
}

// A unit on the tiny model behind a HoldingTransport, with one QoS domain.
struct HeldUnit {
  HoldingTransport* hold = nullptr;  // owned by unit
  std::unique_ptr<hal::Unit> unit;
  QosDomainId domain;

  void Open() {
    absl::StatusOr<std::unique_ptr<hal::Transport>> inner =
        hal::OpenTransport("model:testdata/units/tiny.json");
    ASSERT_TRUE(inner.ok()) << inner.status();
    auto holding = std::make_unique<HoldingTransport>(*std::move(inner));
    hold = holding.get();
    absl::StatusOr<std::unique_ptr<hal::Unit>> u = hal::Unit::Open(std::move(holding));
    ASSERT_TRUE(u.ok()) << u.status();
    unit = *std::move(u);
    absl::StatusOr<QosDomainId> id = testing::SetUpDomain(*unit);
    ASSERT_TRUE(id.ok()) << id.status();
    domain = *id;
  }
};

// The hang: after a power cut the allocator asked for the journal's next SB first, over and
// over; its failure was never taken for the device's loss (DeviceError), so the writes
// waiting for a data SB waited forever. Here the device refuses every super block command
// (Unavailable, as after a cut) once the journal is about to need its successor.
TEST(FtlPowerLossRegressionTest, DeviceLossWhileTheJournalNeedsItsSuccessorFailsWaitingWrites) {
  absl::StatusOr<std::unique_ptr<hal::testing::TestUnit>> t =
      hal::testing::TestUnit::Open({.config = "tiny"});
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<QosDomainId> id = (*t)->Provision({.dies_per_super_block = 1});
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<std::unique_ptr<BlockDevice>> d =
      BlockDevice::Format(&(*t)->unit(), *id, {.overprovisioning_percent = 25});
  ASSERT_TRUE(d.ok()) << d.status();
  (*t)->SetFaultRule([](const Command& c) -> std::optional<hal::TransportResult> {
    if (c.opcode() != static_cast<uint8_t>(wire::IoOpcode::kSuperBlockManagement)) {
      return std::nullopt;
    }
    return hal::TransportResult{absl::UnavailableError("injected: the device lost power"), {}, 0};
  });
  // Trims and flushes write a journal page each and need no data SB: the journal fills up
  // to where it needs its successor, whose erase fails. Stop at the first refusal.
  bool refused = false;
  for (int i = 0; i < 64 && !refused; ++i) {
    auto trim = std::make_shared<std::promise<absl::Status>>();
    auto flush = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> trimmed = trim->get_future(), flushed = flush->get_future();
    (*d)->TrimAsync(Lba(i), 1, SetTo(trim));
    (*d)->FlushAsync(SetTo(flush));
    if (!ReadyWithin(trimmed, std::chrono::seconds(10)) ||
        !ReadyWithin(flushed, std::chrono::seconds(10))) {
      break;  // a trim waits for journal room: the write below tells the rest
    }
    refused = !trimmed.get().ok() || !flushed.get().ok();
  }
  // New data needs a data SB: the write must fail (Unavailable), not wait forever.
  Buffer b;
  FillBlock(100, 1, b.block(0));
  auto write = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> written = write->get_future();
  (*d)->WriteAsync(Lba(100), 1, b.span(), false, SetTo(write));
  const bool done = ReadyWithin(written, std::chrono::seconds(20));
  EXPECT_TRUE(done) << "a write waited 20 s for a super block the device will never give: "
                    << (*d)->DebugState();
  (*t)->SetFaultRule(nullptr);  // so that a hung write can finish and the test end
  EXPECT_EQ(written.get().code(), absl::StatusCode::kUnavailable);
  d->reset();
}

// The segmentation fault: a journal write that no request waits for (the change-over into
// the journal's next SB) completed while the FTL was being destroyed, after domain_ had been
// reset, and its completion called domain_->CloseSuperBlockAsync on null. Here that write's
// completion is held until the destruction is under way.
TEST(FtlPowerLossRegressionTest, DestructionWaitsForTheJournalChangeOverInFlight) {
  HeldUnit held;
  ASSERT_NO_FATAL_FAILURE(held.Open());
  HoldingTransport* h = held.hold;
  // The flush that makes the journal need its successor is held until the allocator has
  // erased the successor; its completion then starts the change-over write, held too. A
  // slow allocator misses that moment: then try again with a longer wait.
  bool caught = false;
  for (int attempt = 0; attempt < 3 && !caught; ++attempt) {
    absl::StatusOr<std::unique_ptr<BlockDevice>> d =
        BlockDevice::Format(held.unit.get(), held.domain, {.overprovisioning_percent = 25});
    ASSERT_TRUE(d.ok()) << d.status();
    const auto wait = std::chrono::milliseconds(150 << (2 * attempt));
    for (int i = 0; i < 64 && (*d)->GetStats().journal_sbs == 1; ++i) {
      h->Hold(true);
      ASSERT_TRUE((*d)->Trim(Lba(i), 1).ok());
      auto flush = std::make_shared<std::promise<absl::Status>>();
      std::future<absl::Status> flushed = flush->get_future();
      (*d)->FlushAsync(SetTo(flush));
      bool successor = false;
      for (auto start = std::chrono::steady_clock::now();
           !successor && std::chrono::steady_clock::now() - start < wait;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        successor = (*d)->GetStats().journal_sbs == 2;
      }
      h->Hold(successor);
      while (!ReadyWithin(flushed, std::chrono::milliseconds(10))) h->Release();
      ASSERT_TRUE(flushed.get().ok());
      caught = successor && h->held() > 0;
    }
    if (!caught) {
      h->Hold(false);
      h->Release();
      continue;
    }
    std::thread releaser([h] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      h->Hold(false);
      h->Release();
    });
    d->reset();  // crashed here
    releaser.join();
  }
  EXPECT_TRUE(caught) << "the change-over write was never caught in flight";
}

// The durability violation: a data SB the FTL counts as closed while its Close Super Block
// is still on the way (a write into it failed, or a GC copy left room unused) has a tail as
// volatile as an open SB's, but flush rounds flushed open SBs only. A round that ran in
// between acknowledged writes in it as durable (and let a GC victim whose data had been
// copied there be released); a power cut then lost them. Here the close is held up on its
// way to the device while a Flush runs, then the power goes.
TEST(FtlPowerLossRegressionTest, FlushRoundCoversSuperBlocksBeingClosed) {
  absl::StatusOr<std::unique_ptr<hal::testing::TestUnit>> t =
      hal::testing::TestUnit::Open({.config = "tiny", .edit_config = [](model::UnitConfig& c) {
                                      c.write_cache = model::WriteCache::kVolatile;
                                    }});
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<QosDomainId> id = (*t)->Provision({.dies_per_super_block = 1});
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<std::unique_ptr<BlockDevice>> d =
      BlockDevice::Format(&(*t)->unit(), *id, {.overprovisioning_percent = 25});
  ASSERT_TRUE(d.ok()) << d.status();
  // Three blocks of new data open a data SB; they are in its volatile tail.
  Buffer three(3);
  for (uint32_t i = 0; i < 3; ++i) FillBlock(i, 1, three.block(i));
  ASSERT_TRUE((*d)->Write(Lba(0), 3, three.span()).ok());
  const uint32_t capacity = 32;  // ADUs per SB of the tiny unit, one die per SB
  // The rest of that SB goes to one write, which fails: the FTL closes the SB, and that
  // close is held up until the test lets it go.
  struct Gate {
    Mutex mu;
    CondVar cv;
    bool fail_writes ABSL_GUARDED_BY(mu) = true;
    bool hold_close ABSL_GUARDED_BY(mu) = true;
    bool holding ABSL_GUARDED_BY(mu) = false;
  };
  auto gate = std::make_shared<Gate>();
  (*t)->SetFaultRule([gate](const Command& c) -> std::optional<hal::TransportResult> {
    MutexLock lock(&gate->mu);
    if (c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kNamelessWrite) && gate->fail_writes) {
      return hal::TransportResult{absl::OkStatus(), NvmeStatus(2, 0x80, true), 0};
    }
    if (c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kSuperBlockManagement) &&
        gate->hold_close) {
      gate->hold_close = false;
      gate->holding = true;
      gate->cv.SignalAll();
      while (gate->holding) gate->cv.Wait(&gate->mu);
    }
    return std::nullopt;
  });
  Buffer rest(capacity - 3);
  for (uint32_t i = 0; i < capacity - 3; ++i) FillBlock(100 + i, 1, rest.block(i));
  std::thread writer([&] { EXPECT_FALSE((*d)->Write(Lba(100), capacity - 3, rest.span()).ok()); });
  {
    MutexLock lock(&gate->mu);
    while (!gate->holding) gate->cv.Wait(&gate->mu);
    gate->fail_writes = false;
  }
  // The first three blocks completed before this flush: durable once it completes.
  ASSERT_TRUE((*d)->Flush().ok());
  // A cut that keeps only the durable part of each open SB: the model draws one number per
  // open SB with a volatile tail, and keeps the durable part only when it is 0 modulo 4
  // (model/internal/power.cc, LoseVolatileTail).
  uint64_t seed = 1;
  while (std::mt19937_64(seed)() % 4 != 0) ++seed;
  (*t)->controller().PowerCut(seed);
  {
    MutexLock lock(&gate->mu);
    gate->holding = false;
    gate->cv.SignalAll();
  }
  writer.join();
  d->reset();
  (*t)->SetFaultRule(nullptr);
  ASSERT_TRUE((*t)->Restart().ok());
  absl::StatusOr<std::unique_ptr<BlockDevice>> m = BlockDevice::Mount(&(*t)->unit(), *id);
  ASSERT_TRUE(m.ok()) << m.status();
  Buffer back(3);
  ASSERT_TRUE((*m)->Read(Lba(0), 3, back.span()).ok());
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(VersionOf(i, back.block(i)), 1u) << "LBA " << i << " was flushed";
  }
}

// A lost durable write: when a flush round ended with flushes waiting for the next one, it was
// marked inactive before that next round started (after the finished round's callbacks); a
// flush requested in between, e.g. from one of those callbacks, started a round of its own.
// Two rounds then ran at once, and the first to end recorded the other's number as done: an
// SB emptied between the two starts could be released before any round that started after
// it had flushed the data that superseded it. Rounds must run one after another: a flush
// requested while one hands over to the next waits for a round of its own.
TEST(FlushRoundTest, AFlushRequestedWhileRoundsHandOverDoesNotStartASecondRound) {
  HeldUnit held;
  ASSERT_NO_FATAL_FAILURE(held.Open());
  HoldingTransport* h = held.hold;
  absl::StatusOr<std::unique_ptr<BlockDevice>> d =
      BlockDevice::Format(held.unit.get(), held.domain, {.overprovisioning_percent = 25});
  ASSERT_TRUE(d.ok()) << d.status();
  BlockDevice* disk = d->get();
  // Round 1 has a journal record to write (a trim), and that write is held: round 1 stays
  // active, and the second flush waits for the next round.
  ASSERT_TRUE(disk->Trim(Lba(0), 1).ok());
  h->Hold(true);
  auto second = std::make_shared<std::promise<absl::Status>>();
  auto third = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> second_done = second->get_future(), third_done = third->get_future();
  std::atomic<bool> third_inside_first{false};
  auto first = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> first_done = first->get_future();
  disk->FlushAsync([&, first, third](absl::Status s) {
    // Round 1 has ended, round 2 (the second flush's) has not started yet.
    disk->FlushAsync(SetTo(third));
    third_inside_first = third_done.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    first->set_value(std::move(s));
  });
  disk->FlushAsync(SetTo(second));
  h->Hold(false);
  h->Release();
  ASSERT_TRUE(ReadyWithin(first_done, std::chrono::seconds(10)));
  EXPECT_TRUE(first_done.get().ok());
  ASSERT_TRUE(ReadyWithin(second_done, std::chrono::seconds(10)));
  EXPECT_TRUE(second_done.get().ok());
  ASSERT_TRUE(ReadyWithin(third_done, std::chrono::seconds(10)));
  EXPECT_TRUE(third_done.get().ok());
  EXPECT_FALSE(third_inside_first)
      << "a flush requested between two rounds ran a round of its own beside the next one";
  d->reset();
}

INSTANTIATE_TEST_SUITE_P(
    Cuts, FtlPowerLossTest,
    ::testing::Values(Config{"InlineOpen4", hal::CompletionOrder::kInline, 4, 80},
                      Config{"ShuffledOpen4", hal::CompletionOrder::kShuffled, 4, 130},
                      Config{"ShuffledOpen8", hal::CompletionOrder::kShuffled, 8, 70},
                      // User writes by placement ids 1 (hot) and 0: cuts also fall between
                      // the device opening an SB and the FTL journaling it.
                      Config{"ShuffledOpen8Placement", hal::CompletionOrder::kShuffled, 8, 70,
                             {PlacementId(1), PlacementId(0)}},
                      Config{"InlineOpen4Placement", hal::CompletionOrder::kInline, 4, 40,
                             {PlacementId(0)}}),
    [](const ::testing::TestParamInfo<Config>& info) { return info.param.name; });

}  // namespace
}  // namespace sef::ftl
