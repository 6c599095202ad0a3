// ZnsPowerLossTest: power cuts at random points of a random workload (writes, appends in
// flight together, flushes, resets, finishes, opens, closes) on a unit with a volatile write
// cache, each followed by a restart of the unit and a Mount. After every one, each zone's
// state and write pointer must be allowed by what was acknowledged and what was durable,
// every block below a write pointer must read what was written to it, and no super block may
// be left over (docs/zns.md, "What a crash leaves").
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "sef/hal/testing/test_unit.h"
#include "sef/zns/test_util.h"
#include "sef/zns/testing/zone_oracle.h"
#include "sef/zns/zns.h"

namespace sef::zns {
namespace {

using testing::FillBlock;
using testing::ZoneOracle;

struct Params {
  hal::CompletionOrder order;
  uint64_t zone_size;  // 0: the natural one (the super block's capacity here)
  int cuts;
};

class ZnsPowerLossTest : public ::testing::TestWithParam<Params> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<hal::testing::TestUnit>> t = hal::testing::TestUnit::Open(
        {.config = "tiny",
         .edit_config = [](model::UnitConfig& c) { c.write_cache = model::WriteCache::kVolatile; },
         .transport = {.completion_order = GetParam().order, .shuffle_seed = 5}});
    ASSERT_TRUE(t.ok()) << t.status();
    t_ = *std::move(t);
    absl::StatusOr<QosDomainId> id = t_->Provision({.max_open_super_blocks = 4});
    ASSERT_TRUE(id.ok()) << id.status();
    id_ = *id;
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns =
        ZonedNamespace::Format(t_->unit(), id_, {.zone_size = GetParam().zone_size});
    ASSERT_TRUE(ns.ok()) << ns.status();
    oracle_ = std::make_unique<ZoneOracle>((*ns)->geometry());
  }

  uint64_t Zslba(uint32_t zone) const { return oracle_->Zslba(zone); }
  uint32_t Cap() const { return oracle_->Cap(); }

  // ---- the workload -----------------------------------------------------------------------

  // Runs random operations until `ops` ran or the power is off.
  void Workload(ZonedNamespace& ns, std::mt19937_64& rng, int ops) {
    for (int i = 0; i < ops && t_->controller().powered(); ++i) {
      const uint32_t zone = static_cast<uint32_t>(rng() % 6);  // a few zones: limits bite
      const int op = static_cast<int>(rng() % 100);
      if (op < 35) {
        Write(ns, zone, rng);
      } else if (op < 50) {
        Appends(ns, zone, rng);
      } else if (op < 60) {
        if (ns.Flush().ok()) oracle_->Flushed();
      } else if (op < 70) {
        oracle_->Finished(zone, ns.ZoneManagementSend(ZoneAction::kFinish, Lba(Zslba(zone))));
      } else if (op < 80) {
        oracle_->Reset(zone, ns.ZoneManagementSend(ZoneAction::kReset, Lba(Zslba(zone))));
      } else if (op < 87) {
        ns.ZoneManagementSend(ZoneAction::kOpen, Lba(Zslba(zone))).IgnoreError();
      } else if (op < 94) {
        ns.ZoneManagementSend(ZoneAction::kClose, Lba(Zslba(zone))).IgnoreError();
      } else {
        ReadBack(ns, zone);
      }
    }
  }

  void Write(ZonedNamespace& ns, uint32_t zone, std::mt19937_64& rng) {
    const uint32_t acked = oracle_->zone(zone).acked;
    if (acked >= Cap()) return;
    const uint32_t n = std::min<uint32_t>(1 + rng() % 8, Cap() - acked);
    const bool fua = rng() % 4 == 0;
    const uint64_t lba = Zslba(zone) + acked;
    std::vector<uint8_t> data(uint64_t{n} * kBlockBytes);
    for (uint32_t i = 0; i < n; ++i) FillBlock(data.data() + uint64_t{i} * kBlockBytes, lba + i, 1);
    iovec iov{data.data(), data.size()};
    if (ns.Write(Lba(lba), n, {&iov, 1}, fua).ok()) oracle_->Acknowledged(zone, acked, n, lba, fua);
  }

  // Several appends in flight together (the model's shuffled order completes them in any
  // order); each lands where its result says.
  void Appends(ZonedNamespace& ns, uint32_t zone, std::mt19937_64& rng) {
    const int count = 2 + static_cast<int>(rng() % 8);
    struct Append {
      std::vector<uint8_t> data;
      iovec iov;
      uint32_t n;
      uint64_t key;
      bool fua;
      std::promise<absl::StatusOr<Lba>> done;
    };
    std::vector<Append> appends(count);
    uint32_t room = Cap() - std::min(oracle_->zone(zone).acked, Cap());
    int issued = 0;
    for (Append& a : appends) {
      a.n = std::min<uint32_t>(1 + rng() % 4, room);
      if (a.n == 0) break;
      room -= a.n;
      a.key = next_key_;
      next_key_ += a.n;
      a.fua = rng() % 4 == 0;
      a.data.resize(uint64_t{a.n} * kBlockBytes);
      for (uint32_t i = 0; i < a.n; ++i) {
        FillBlock(a.data.data() + uint64_t{i} * kBlockBytes, a.key + i, 1);
      }
      a.iov = {a.data.data(), a.data.size()};
      ns.AppendAsync(Lba(Zslba(zone)), a.n, {&a.iov, 1}, a.fua,
                     [&a](absl::StatusOr<Lba> r) { a.done.set_value(std::move(r)); });
      ++issued;
    }
    for (int i = 0; i < issued; ++i) {
      absl::StatusOr<Lba> r = appends[i].done.get_future().get();
      if (!r.ok()) continue;
      oracle_->Acknowledged(zone, static_cast<uint32_t>(r->value() - Zslba(zone)), appends[i].n,
                            appends[i].key, appends[i].fua);
    }
  }

  // While the power is on, what was acknowledged reads back.
  void ReadBack(ZonedNamespace& ns, uint32_t zone) {
    absl::StatusOr<std::string> why = oracle_->ReadBack(ns, zone);
    if (!why.ok()) return;  // the power went
    ASSERT_TRUE(why->empty()) << *why << " before the cut";
  }

  std::unique_ptr<hal::testing::TestUnit> t_;
  QosDomainId id_;
  std::unique_ptr<ZoneOracle> oracle_;
  uint64_t next_key_ = uint64_t{1} << 30;
};

TEST_P(ZnsPowerLossTest, RandomCutsKeepWhatTheRulesSay) {
  std::mt19937_64 rng(GetParam().cuts * 7919 + static_cast<int>(GetParam().order));
  int cuts = 0, in_flight = 0;
  while (cuts < GetParam().cuts) {
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Mount(t_->unit(), id_);
    ASSERT_TRUE(ns.ok()) << "after cut " << cuts << ": " << ns.status();
    const std::string why = oracle_->CheckAfterRestart(**ns, t_->unit(), id_);
    ASSERT_TRUE(why.empty()) << "after cut " << cuts << ": " << why;
    const uint64_t seed = rng();
    t_->controller().CutPowerAfter(rng() % 70, seed);
    Workload(**ns, rng, 30);
    if (HasFatalFailure()) return;
    in_flight += !t_->controller().powered();
    t_->controller().PowerCut(seed);  // at a quiet point, if the trigger did not fire
    ++cuts;
    ns->reset();  // its flushes fail: the power is off
    ASSERT_TRUE(t_->Restart().ok());
  }
  std::printf(
      "%d power cuts, %d of them in the middle of the workload; zones found after them: %lu "
      "empty, %lu closed, %lu full; %lu blocks of data verified\n",
      cuts, in_flight, oracle_->seen(0), oracle_->seen(1), oracle_->seen(2), oracle_->verified());
  // The workload reaches every kind of zone.
  EXPECT_GT(oracle_->seen(1), 0u);
  EXPECT_GT(oracle_->seen(2), 0u);
  EXPECT_GT(in_flight, cuts / 2);
}

INSTANTIATE_TEST_SUITE_P(Cuts, ZnsPowerLossTest,
                         ::testing::Values(Params{hal::CompletionOrder::kInline, 0, 150},
                                           Params{hal::CompletionOrder::kShuffled, 0, 100},
                                           Params{hal::CompletionOrder::kShuffled, 64, 60}),
                         [](const auto& info) {
                           return absl::StrFormat("%s%s",
                                                  info.param.order == hal::CompletionOrder::kInline
                                                      ? "Inline"
                                                      : "Shuffled",
                                                  info.param.zone_size == 0 ? "" : "SmallZones");
                         });

}  // namespace
}  // namespace sef::zns
