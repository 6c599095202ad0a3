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
#include "sef/zns/zns.h"

namespace sef::zns {
namespace {

using testing::FillBlock;

// What the host knows of one zone: the content of each block it was acknowledged, and what
// must survive a cut.
struct ZoneModel {
  std::vector<uint64_t> word;  // per block: the word its content repeats; 0 = nothing
  uint32_t acked = 0;          // blocks acknowledged (the host's write pointer)
  uint32_t durable = 0;        // blocks that must survive: FUA, flush, finish, fill
  bool full = false;           // Full, durably (a finish acknowledged, or filled durably)
  bool finish_unsure = false;  // a finish failed at the cut: it may have happened
  // A reset failed at the cut: the zone may be as before it.
  std::shared_ptr<ZoneModel> before_reset;
};

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
    g_ = (*ns)->geometry();
    zones_.assign(g_.zones, ZoneModel{});
    for (ZoneModel& z : zones_) z.word.assign(Cap(), 0);
  }

  uint64_t Zslba(uint32_t zone) const { return uint64_t{zone} * g_.zone_size; }
  uint32_t Cap() const { return static_cast<uint32_t>(g_.zone_capacity); }

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
        if (ns.Flush().ok()) {
          for (ZoneModel& z : zones_) z.durable = z.acked;
        }
      } else if (op < 70) {
        absl::Status s = ns.ZoneManagementSend(ZoneAction::kFinish, Lba(Zslba(zone)));
        if (s.ok()) {
          zones_[zone].full = true;
          zones_[zone].durable = zones_[zone].acked;
        } else if (!NvmeStatusOf(s).has_value() || NvmeStatusOf(s)->sct() != 1) {
          zones_[zone].finish_unsure = true;  // a device failure, not a refusal
        }
      } else if (op < 80) {
        ZoneModel before = zones_[zone];
        absl::Status s = ns.ZoneManagementSend(ZoneAction::kReset, Lba(Zslba(zone)));
        if (s.ok() || !NvmeStatusOf(s).has_value() || NvmeStatusOf(s)->sct() != 1) {
          ZoneModel fresh;
          fresh.word.assign(Cap(), 0);
          if (!s.ok()) fresh.before_reset = std::make_shared<ZoneModel>(std::move(before));
          zones_[zone] = std::move(fresh);
        }
      } else if (op < 87) {
        ns.ZoneManagementSend(ZoneAction::kOpen, Lba(Zslba(zone))).IgnoreError();
      } else if (op < 94) {
        ns.ZoneManagementSend(ZoneAction::kClose, Lba(Zslba(zone))).IgnoreError();
      } else {
        ReadBack(ns, zone);
      }
    }
  }

  void Acknowledged(uint32_t zone, uint32_t start, uint32_t n, uint64_t key, bool fua) {
    ZoneModel& z = zones_[zone];
    for (uint32_t i = 0; i < n; ++i) z.word[start + i] = ((key + i) << 20) | 1;
    z.acked = std::max(z.acked, start + n);
    if (fua) z.durable = std::max(z.durable, start + n);
    // Filling the super block makes it durable and closes it.
    if (z.acked == Cap() && Cap() == g_.super_block_adus) {
      z.durable = z.acked;
      z.full = true;
    }
  }

  void Write(ZonedNamespace& ns, uint32_t zone, std::mt19937_64& rng) {
    ZoneModel& z = zones_[zone];
    if (z.acked >= Cap()) return;
    const uint32_t n = std::min<uint32_t>(1 + rng() % 8, Cap() - z.acked);
    const bool fua = rng() % 4 == 0;
    const uint64_t lba = Zslba(zone) + z.acked;
    std::vector<uint8_t> data(uint64_t{n} * kBlockBytes);
    for (uint32_t i = 0; i < n; ++i) FillBlock(data.data() + uint64_t{i} * kBlockBytes, lba + i, 1);
    iovec iov{data.data(), data.size()};
    if (ns.Write(Lba(lba), n, {&iov, 1}, fua).ok()) Acknowledged(zone, z.acked, n, lba, fua);
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
    uint32_t room = Cap() - std::min(zones_[zone].acked, Cap());
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
      Acknowledged(zone, static_cast<uint32_t>(r->value() - Zslba(zone)), appends[i].n,
                   appends[i].key, appends[i].fua);
    }
  }

  // While the power is on, what was acknowledged reads back.
  void ReadBack(ZonedNamespace& ns, uint32_t zone) {
    const ZoneModel& z = zones_[zone];
    if (z.acked == 0) return;
    std::vector<uint8_t> data(uint64_t{z.acked} * kBlockBytes);
    iovec iov{data.data(), data.size()};
    if (!ns.Read(Lba(Zslba(zone)), z.acked, {&iov, 1}).ok()) return;  // the power went
    for (uint32_t i = 0; i < z.acked; ++i) {
      uint64_t word;
      std::memcpy(&word, data.data() + uint64_t{i} * kBlockBytes, 8);
      ASSERT_EQ(word, z.word[i]) << "zone " << zone << " block " << i << " before the cut";
    }
  }

  // ---- the check after a restart ------------------------------------------------------------

  // Why the zone as recovered (state, `n` blocks of data whose words are `read`) is not
  // allowed by `m`; empty when it is.
  std::string Disallowed(const ZoneModel& m, ZoneState state, uint32_t n,
                         const std::vector<uint64_t>& read) const {
    if (state == ZoneState::kEmpty) {
      if (m.durable > 0 || m.full) {
        return absl::StrFormat("Empty, but %u blocks were durable (full: %d)", m.durable, m.full);
      }
      return "";
    }
    if (n < m.durable || n > m.acked) {
      return absl::StrFormat("%u blocks of data; durable %u, acknowledged %u", n, m.durable,
                             m.acked);
    }
    for (uint32_t i = 0; i < n; ++i) {
      if (read[i] != m.word[i]) {
        return absl::StrFormat("block %u holds 0x%x, written 0x%x", i, read[i], m.word[i]);
      }
    }
    if (state == ZoneState::kFull) {
      if (!m.full && !m.finish_unsure && n < Cap()) {
        return absl::StrFormat("Full with %u blocks, never finished", n);
      }
      return "";
    }
    if (state == ZoneState::kClosed) {
      if (m.full) return "Closed, but it was finished or filled durably";
      if (n == 0 || n >= Cap()) return absl::StrFormat("Closed with %u blocks", n);
      return "";
    }
    return absl::StrFormat("in state %s after a restart", ZoneStateName(state));
  }

  void CheckAfterRestart(ZonedNamespace& ns, int cut) {
    size_t holding = 0;
    for (uint32_t zone = 0; zone < g_.zones; ++zone) {
      absl::StatusOr<ZoneReport> r = ns.Report(Lba(Zslba(zone)), ReportFilter::kAll, 1);
      ASSERT_TRUE(r.ok()) << r.status();
      const ZoneDescriptor& d = r->zones.at(0);
      std::vector<uint8_t> data(g_.zone_size * kBlockBytes);
      iovec iov{data.data(), data.size()};
      ASSERT_TRUE(ns.Read(Lba(Zslba(zone)), static_cast<uint32_t>(g_.zone_size), {&iov, 1}).ok());
      std::vector<uint64_t> read(g_.zone_size);
      for (uint64_t i = 0; i < g_.zone_size; ++i) {
        std::memcpy(&read[i], data.data() + i * kBlockBytes, 8);
      }
      // The blocks with data: up to the write pointer, or (Full) the first zero block.
      uint32_t n = 0;
      if (d.state == ZoneState::kClosed) {
        n = static_cast<uint32_t>(d.write_pointer.value() - Zslba(zone));
      } else if (d.state == ZoneState::kFull) {
        while (n < Cap() && read[n] != 0) ++n;
      }
      for (uint64_t i = n; i < g_.zone_size; ++i) {
        ASSERT_EQ(read[i], 0u) << "cut " << cut << " zone " << zone << ": block " << i
                               << " past the data is not zero";
      }
      EXPECT_EQ(d.attributes, 0) << "cut " << cut << " zone " << zone;
      ZoneModel& m = zones_[zone];
      std::string why = Disallowed(m, d.state, n, read);
      if (!why.empty() && m.before_reset != nullptr &&
          Disallowed(*m.before_reset, d.state, n, read).empty()) {
        m = *m.before_reset;  // the reset did not happen
        why.clear();
      }
      ASSERT_TRUE(why.empty()) << "cut " << cut << ", zone " << zone << ": " << why;
      // From now on the zone is what was recovered, all of it durable.
      for (uint32_t i = n; i < Cap(); ++i) m.word[i] = 0;
      m.acked = m.durable = n;
      m.full = d.state == ZoneState::kFull;
      m.finish_unsure = false;
      m.before_reset.reset();
      holding += d.state != ZoneState::kEmpty;
      ++seen_[d.state == ZoneState::kFull ? 2 : d.state == ZoneState::kClosed ? 1 : 0];
      verified_ += n;
    }
    // No super block left over: one per zone that is not empty.
    std::unique_ptr<hal::QosDomain> d = *t_->unit().OpenQosDomain(id_);
    absl::StatusOr<std::vector<hal::SuperBlockEntry>> sbs = d->ListSuperBlocks();
    ASSERT_TRUE(sbs.ok()) << sbs.status();
    EXPECT_EQ(sbs->size(), holding) << "cut " << cut;
  }

  std::unique_ptr<hal::testing::TestUnit> t_;
  QosDomainId id_;
  Geometry g_;
  std::vector<ZoneModel> zones_;
  uint64_t next_key_ = uint64_t{1} << 30;
  uint64_t seen_[3] = {0, 0, 0};  // zones found Empty, Closed, Full after the restarts
  uint64_t verified_ = 0;         // blocks of data checked after the restarts
};

TEST_P(ZnsPowerLossTest, RandomCutsKeepWhatTheRulesSay) {
  std::mt19937_64 rng(GetParam().cuts * 7919 + static_cast<int>(GetParam().order));
  int cuts = 0, in_flight = 0;
  while (cuts < GetParam().cuts) {
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Mount(t_->unit(), id_);
    ASSERT_TRUE(ns.ok()) << "after cut " << cuts << ": " << ns.status();
    CheckAfterRestart(**ns, cuts);
    if (HasFatalFailure()) return;
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
      cuts, in_flight, seen_[0], seen_[1], seen_[2], verified_);
  // The workload reaches every kind of zone.
  EXPECT_GT(seen_[1], 0u);
  EXPECT_GT(seen_[2], 0u);
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
