// The block FTL's functional tests on the device model, completing inline and in shuffled
// order on another thread (as the kernel's completion reaper may).
#include "sef/ftl/ftl.h"

#include <atomic>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/ftl/testing/ftl_testing.h"
#include "sef/hal/domain_kind.h"

namespace sef::ftl {
namespace {

using testing::Buffer;
using testing::FillBlock;
using ::testing::HasSubstr;
using testing::VersionOf;

constexpr const char* kTinyUnit = "model:testdata/units/tiny.json";

class FtlTest : public ::testing::TestWithParam<hal::CompletionOrder> {
 protected:
  void SetUp() override {
    hal::UnitOptions options;
    options.transport.completion_order = GetParam();
    absl::StatusOr<std::unique_ptr<hal::Unit>> unit = hal::Unit::Open(kTinyUnit, options);
    ASSERT_TRUE(unit.ok()) << unit.status();
    unit_ = *std::move(unit);
    absl::StatusOr<QosDomainId> id = testing::SetUpDomain(*unit_);
    ASSERT_TRUE(id.ok()) << id.status();
    domain_ = *id;
  }

  std::unique_ptr<BlockDevice> FormatOrDie(FormatOptions options = {}) {
    absl::StatusOr<std::unique_ptr<BlockDevice>> d =
        BlockDevice::Format(unit_.get(), domain_, options);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  absl::Status WriteVersion(BlockDevice& d, uint64_t lba, uint64_t version, bool fua = false) {
    Buffer b;
    FillBlock(lba, version, b.block(0));
    return d.Write(Lba(lba), 1, b.span(), fua);
  }

  uint64_t ReadVersion(BlockDevice& d, uint64_t lba) {
    Buffer b;
    absl::Status s = d.Read(Lba(lba), 1, b.span());
    EXPECT_TRUE(s.ok()) << "LBA " << lba << ": " << s;
    return VersionOf(lba, b.block(0));
  }

  void ExpectContents(BlockDevice& d, const std::map<uint64_t, uint64_t>& oracle) {
    const uint64_t n = d.block_count();
    Buffer b(32);
    for (uint64_t lba = 0; lba < n; lba += 32) {
      const uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(32, n - lba));
      Buffer part(count);
      ASSERT_TRUE(d.Read(Lba(lba), count, part.span()).ok());
      for (uint32_t i = 0; i < count; ++i) {
        auto it = oracle.find(lba + i);
        const uint64_t want = it == oracle.end() ? 0 : it->second;
        ASSERT_EQ(VersionOf(lba + i, part.block(i)), want) << "LBA " << lba + i;
      }
    }
  }

  std::unique_ptr<hal::Unit> unit_;
  QosDomainId domain_;
};

TEST_P(FtlTest, FormatWriteReadTrim) {
  std::unique_ptr<BlockDevice> d = FormatOrDie();
  ASSERT_NE(d, nullptr);
  EXPECT_GT(d->block_count(), 1000u);
  EXPECT_EQ(ReadVersion(*d, 5), 0u);  // never written: zeros
  ASSERT_TRUE(WriteVersion(*d, 5, 1).ok());
  EXPECT_EQ(ReadVersion(*d, 5), 1u);
  ASSERT_TRUE(WriteVersion(*d, 5, 2).ok());
  EXPECT_EQ(ReadVersion(*d, 5), 2u);
  ASSERT_TRUE(d->Trim(Lba(5), 1).ok());
  EXPECT_EQ(ReadVersion(*d, 5), 0u);
  ASSERT_TRUE(d->Flush().ok());
  ASSERT_TRUE(d->Unmount().ok());
}

TEST_P(FtlTest, MultiBlockWritesAndSplitIovecs) {
  std::unique_ptr<BlockDevice> d = FormatOrDie();
  ASSERT_NE(d, nullptr);
  // 100 blocks (more than a 32-ADU super block) from three iovecs of odd sizes.
  Buffer b(100);
  for (uint32_t i = 0; i < 100; ++i) FillBlock(200 + i, 7, b.block(i));
  const iovec iovs[3] = {{b.bytes.data(), 1000},
                         {b.bytes.data() + 1000, 300000},
                         {b.bytes.data() + 301000, b.bytes.size() - 301000}};
  ASSERT_TRUE(d->Write(Lba(200), 100, iovs).ok());
  Buffer r(100);
  const iovec riovs[2] = {{r.bytes.data(), 5}, {r.bytes.data() + 5, r.bytes.size() - 5}};
  ASSERT_TRUE(d->Read(Lba(200), 100, riovs).ok());
  for (uint32_t i = 0; i < 100; ++i) EXPECT_EQ(VersionOf(200 + i, r.block(i)), 7u) << i;
}

TEST_P(FtlTest, BadRequestsAreInvalidArgument) {
  std::unique_ptr<BlockDevice> d = FormatOrDie();
  ASSERT_NE(d, nullptr);
  Buffer b(2);
  absl::Status s = d->Write(Lba(d->block_count()), 1, Buffer().span());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("beyond"));
  s = d->Write(Lba(0), 1, b.span());  // 8192 bytes for one block
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("8192"));
  s = d->Read(Lba(0), 0, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = d->Trim(Lba(d->block_count() - 1), 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(FtlTest, OverwritesCollectGarbageAndKeepEveryBlock) {
  std::unique_ptr<BlockDevice> d = FormatOrDie({.overprovisioning_percent = 20});
  ASSERT_NE(d, nullptr);
  const uint64_t n = d->block_count();
  std::map<uint64_t, uint64_t> oracle;
  std::mt19937_64 rng(1);
  for (uint64_t i = 0; i < n * 6; ++i) {
    const uint64_t lba = rng() % n;
    const uint64_t v = ++oracle[lba];
    ASSERT_TRUE(WriteVersion(*d, lba, v).ok()) << i;
  }
  const Stats st = d->GetStats();
  EXPECT_GT(st.gc_victims, 0u);
  EXPECT_GT(st.write_amplification, 1.0);
  ExpectContents(*d, oracle);
  ASSERT_TRUE(d->Unmount().ok());
}

TEST_P(FtlTest, UnmountAndMountKeepsData) {
  std::map<uint64_t, uint64_t> oracle;
  {
    std::unique_ptr<BlockDevice> d = FormatOrDie();
    ASSERT_NE(d, nullptr);
    std::mt19937_64 rng(2);
    for (int i = 0; i < 3000; ++i) {
      const uint64_t lba = rng() % d->block_count();
      if (rng() % 10 == 0) {
        ASSERT_TRUE(d->Trim(Lba(lba), 1).ok());
        oracle[lba] = 0;
      } else {
        const uint64_t v = ++oracle[lba];
        ASSERT_TRUE(WriteVersion(*d, lba, v).ok());
      }
    }
    ASSERT_TRUE(d->Unmount().ok());
  }
  absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Mount(unit_.get(), domain_);
  ASSERT_TRUE(d.ok()) << d.status();
  ExpectContents(**d, oracle);
  EXPECT_EQ((*d)->GetStats().recovered_adus, 0u);
  ASSERT_TRUE((*d)->Unmount().ok());
}

TEST_P(FtlTest, MountAfterAnUncleanStopReplays) {
  std::map<uint64_t, uint64_t> oracle;
  {
    std::unique_ptr<BlockDevice> d = FormatOrDie();
    ASSERT_NE(d, nullptr);
    std::mt19937_64 rng(3);
    for (int i = 0; i < 2500; ++i) {
      const uint64_t lba = rng() % d->block_count();
      if (rng() % 10 == 0) {
        ASSERT_TRUE(d->Trim(Lba(lba), 1 + rng() % 3 > d->block_count() - lba ? 1 : 1).ok());
        oracle[lba] = 0;
      } else {
        const uint64_t v = ++oracle[lba];
        ASSERT_TRUE(WriteVersion(*d, lba, v).ok());
      }
    }
    ASSERT_TRUE(d->Flush().ok());
    // Destroyed without Unmount: no final checkpoint.
  }
  absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Mount(unit_.get(), domain_);
  ASSERT_TRUE(d.ok()) << d.status();
  ExpectContents(**d, oracle);
  ASSERT_TRUE((*d)->Unmount().ok());
}

INSTANTIATE_TEST_SUITE_P(Completions, FtlTest,
                         ::testing::Values(hal::CompletionOrder::kInline,
                                           hal::CompletionOrder::kShuffled),
                         [](const ::testing::TestParamInfo<hal::CompletionOrder>& info) {
                           return info.param == hal::CompletionOrder::kInline ? "Inline"
                                                                              : "Shuffled";
                         });

}  // namespace
}  // namespace sef::ftl
