// Many writes and appends in flight to one zone and to many zones, from several threads, with
// the model completing inline and in shuffled order on another thread (as the kernel may).
// Every block must read back what was written to it. Also run under --config=tsan.
#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sef/zns/test_util.h"
#include "sef/zns/zns.h"

namespace sef::zns {
namespace {

using testing::BlockTag;
using testing::FillBlock;

// The default unit with one die per super block: zones of 512 blocks, 64 of them, 15 open.
class ZnsConcurrencyTest : public ::testing::TestWithParam<hal::CompletionOrder> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<hal::Unit>> unit = testing::OpenUnit(
        "model:testdata/units/default.json", {.completion_order = GetParam(), .shuffle_seed = 42});
    ASSERT_TRUE(unit.ok()) << unit.status();
    unit_ = *std::move(unit);
    std::vector<uint16_t> dies;
    for (uint16_t d = 0; d < 16; ++d) dies.push_back(d);
    absl::StatusOr<QosDomainId> id = testing::MakeDomain(*unit_, {.dies = dies,
                                                                  .dies_per_super_block = 1,
                                                                  .capacity_adus = 64 * 512,
                                                                  .max_open_super_blocks = 16});
    ASSERT_TRUE(id.ok()) << id.status();
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns = ZonedNamespace::Format(*unit_, *id);
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = *std::move(ns);
    ASSERT_EQ(ns_->geometry().zone_size, 512u);
    ASSERT_EQ(ns_->geometry().max_open_zones, 15u);
  }

  std::vector<uint8_t> ReadAll(uint64_t lba, uint32_t n) {
    std::vector<uint8_t> data(uint64_t{n} * kBlockBytes);
    iovec iov{data.data(), data.size()};
    EXPECT_TRUE(ns_->Read(Lba(lba), n, {&iov, 1}).ok());
    return data;
  }

  std::unique_ptr<hal::Unit> unit_;
  std::unique_ptr<ZonedNamespace> ns_;
};

// One zone, two threads, 128 appends of 4 blocks in flight together: each lands on its own
// blocks, together they fill the zone exactly.
TEST_P(ZnsConcurrencyTest, AppendsToOneZoneFromTwoThreads) {
  constexpr int kThreads = 2, kPerThread = 64, kBlocks = 4;
  struct Append {
    std::vector<uint8_t> data;
    iovec iov;
    std::promise<absl::StatusOr<Lba>> done;
  };
  std::vector<std::vector<Append>> appends(kThreads);
  for (auto& v : appends) v = std::vector<Append>(kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Append& a = appends[t][i];
        a.data.resize(kBlocks * kBlockBytes);
        // Tagged with who wrote it: (thread, index, block) in place of an LBA.
        for (int b = 0; b < kBlocks; ++b) {
          FillBlock(a.data.data() + b * kBlockBytes, (t * 1000 + i) * 8 + b, 9);
        }
        a.iov = {a.data.data(), a.data.size()};
        ns_->AppendAsync(Lba(0), kBlocks, {&a.iov, 1}, false,
                         [&a](absl::StatusOr<Lba> r) { a.done.set_value(std::move(r)); });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<uint64_t> starts;
  std::vector<std::pair<uint64_t, uint64_t>> where;  // (lba, tag base)
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      absl::StatusOr<Lba> r = appends[t][i].done.get_future().get();
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->value() % kBlocks, 0u);
      EXPECT_TRUE(starts.insert(r->value()).second) << "two appends at LBA " << r->value();
      where.push_back({r->value(), uint64_t(t * 1000 + i) * 8});
    }
  }
  EXPECT_EQ(starts.size(), 128u);
  EXPECT_EQ(*starts.rbegin(), 508u);
  const std::vector<uint8_t> back = ReadAll(0, 512);
  for (const auto& [lba, tag] : where) {
    for (int b = 0; b < kBlocks; ++b) {
      EXPECT_EQ(BlockTag(back.data() + (lba + b) * kBlockBytes), std::make_pair(tag + b, 9u))
          << "LBA " << lba + b;
    }
  }
  absl::StatusOr<ZoneReport> z = ns_->Report(Lba(0), ReportFilter::kAll, 1);
  EXPECT_EQ(z->zones[0].state, ZoneState::kFull);
}

// Two threads, each keeping 64 sequential writes in flight to each of 6 zones of its own
// (12 zones open at once), interleaved across zones; appends to a 13th zone from both.
TEST_P(ZnsConcurrencyTest, WritesToManyZonesFromTwoThreads) {
  constexpr int kThreads = 2, kZonesPerThread = 6, kWrites = 64, kBlocks = 8;  // 512 blocks
  struct Write {
    std::vector<uint8_t> data;
    iovec iov;
    std::promise<absl::Status> done;
  };
  const int total = kThreads * kZonesPerThread * kWrites;
  std::vector<Write> writes(total);
  std::atomic<int> appended{0};
  std::vector<std::promise<absl::StatusOr<Lba>>> appends(2 * 32);
  std::vector<std::vector<uint8_t>> append_data(appends.size());
  std::vector<iovec> append_iov(appends.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        for (int z = 0; z < kZonesPerThread; ++z) {
          const uint32_t zone = t * kZonesPerThread + z;
          const uint64_t lba = uint64_t{zone} * 512 + i * kBlocks;
          Write& w = writes[(t * kZonesPerThread + z) * kWrites + i];
          w.data = testing::Blocks(lba, kBlocks, 5);
          w.iov = {w.data.data(), w.data.size()};
          ns_->WriteAsync(Lba(lba), kBlocks, {&w.iov, 1}, i % 16 == 15,
                          [&w](absl::Status s) { w.done.set_value(std::move(s)); });
        }
        if (i % 2 == 0) {
          const int a = appended.fetch_add(1);
          append_data[a] = testing::Blocks(1000000 + a, 1, 6);
          append_iov[a] = {append_data[a].data(), append_data[a].size()};
          ns_->AppendAsync(
              Lba(12 * 512), 1, {&append_iov[a], 1}, false,
              [&appends, a](absl::StatusOr<Lba> r) { appends[a].set_value(std::move(r)); });
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (Write& w : writes) {
    absl::Status s = w.done.get_future().get();
    ASSERT_TRUE(s.ok()) << s;
  }
  std::vector<uint64_t> append_lba(appends.size());
  for (size_t a = 0; a < appends.size(); ++a) {
    absl::StatusOr<Lba> r = appends[a].get_future().get();
    ASSERT_TRUE(r.ok()) << r.status();
    append_lba[a] = r->value();
  }
  ASSERT_TRUE(ns_->Flush().ok());
  for (uint32_t zone = 0; zone < kThreads * kZonesPerThread; ++zone) {
    const std::vector<uint8_t> back = ReadAll(uint64_t{zone} * 512, 512);
    for (uint32_t b = 0; b < 512; ++b) {
      ASSERT_EQ(BlockTag(back.data() + uint64_t{b} * kBlockBytes),
                std::make_pair(uint64_t{zone} * 512 + b, 5u))
          << "zone " << zone << " block " << b;
    }
  }
  const std::vector<uint8_t> back = ReadAll(12 * 512, 64);
  std::set<uint64_t> seen;
  for (size_t a = 0; a < appends.size(); ++a) {
    EXPECT_TRUE(seen.insert(append_lba[a]).second);
    EXPECT_EQ(BlockTag(back.data() + (append_lba[a] - 12 * 512) * kBlockBytes),
              std::make_pair(uint64_t{1000000 + a}, 6u));
  }
  absl::StatusOr<ZoneReport> full = ns_->Report(Lba(0), ReportFilter::kFull);
  EXPECT_EQ(full->matching, 12u);
}

// Readers and zone management race with writers: every read of blocks whose write completed
// sees that write's data; resets and finishes of other zones do not disturb them.
TEST_P(ZnsConcurrencyTest, ReadsAndZoneManagementBesideWrites) {
  constexpr int kRounds = 200;
  std::atomic<uint64_t> written{0};  // blocks of zone 0 whose writes completed
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::vector<uint8_t> data;
    for (int i = 0; i < kRounds && !stop; ++i) {
      const uint64_t lba = written.load();
      if (lba + 2 > 512) break;
      data = testing::Blocks(lba, 2, 3);
      iovec iov{data.data(), data.size()};
      ASSERT_TRUE(ns_->Write(Lba(lba), 2, {&iov, 1}).ok());
      written.store(lba + 2);
    }
  });
  std::thread reader([&] {
    std::vector<uint8_t> data(4 * kBlockBytes);
    iovec iov{data.data(), data.size()};
    for (int i = 0; i < kRounds; ++i) {
      const uint64_t upto = written.load();
      if (upto < 4) continue;
      const uint64_t lba = (i * 7) % (upto - 3);
      ASSERT_TRUE(ns_->Read(Lba(lba), 4, {&iov, 1}).ok());
      for (int b = 0; b < 4; ++b) {
        ASSERT_EQ(BlockTag(data.data() + b * kBlockBytes), std::make_pair(lba + b, 3u));
      }
    }
  });
  std::thread manager([&] {
    std::vector<uint8_t> data = testing::Blocks(512, 1, 4);
    iovec iov{data.data(), data.size()};
    for (int i = 0; i < kRounds / 4; ++i) {
      const uint64_t zslba = 512 * (1 + i % 3);
      // Writes and a reset or finish in flight together on the same zone.
      std::promise<absl::Status> w, m;
      data = testing::Blocks(zslba, 1, 4);
      iov = {data.data(), data.size()};
      ns_->WriteAsync(Lba(zslba), 1, {&iov, 1}, false,
                      [&](absl::Status s) { w.set_value(std::move(s)); });
      ns_->ZoneManagementSendAsync(i % 2 ? ZoneAction::kReset : ZoneAction::kFinish, Lba(zslba),
                                   false, [&](absl::Status s) { m.set_value(std::move(s)); });
      absl::Status ws = w.get_future().get();
      EXPECT_TRUE(ws.ok() || NvmeStatusOf(ws).has_value()) << ws;
      ASSERT_TRUE(m.get_future().get().ok());
      ASSERT_TRUE(ns_->Flush().ok());
      ASSERT_TRUE(ns_->ZoneManagementSend(ZoneAction::kReset, Lba(zslba)).ok());
    }
  });
  writer.join();
  reader.join();
  manager.join();
  stop = true;
  for (uint32_t z = 1; z <= 3; ++z) {
    absl::StatusOr<ZoneReport> r = ns_->Report(Lba(512 * z), ReportFilter::kAll, 1);
    EXPECT_EQ(r->zones[0].state, ZoneState::kEmpty);
  }
}

INSTANTIATE_TEST_SUITE_P(CompletionOrders, ZnsConcurrencyTest,
                         ::testing::Values(hal::CompletionOrder::kInline,
                                           hal::CompletionOrder::kShuffled),
                         [](const auto& info) {
                           return info.param == hal::CompletionOrder::kInline ? "Inline"
                                                                              : "Shuffled";
                         });

}  // namespace
}  // namespace sef::zns
