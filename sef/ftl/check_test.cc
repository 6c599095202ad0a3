// ftl::Check on the device model: a clean domain, one stopped without unmounting (recovery
// due, repaired by a fresh checkpoint), domains that are no FTL, and corruptions forged by
// rewriting the checkpoint (a block mapped to another block's ADU, a page that fails its
// CRC) or by releasing a data super block behind the FTL's back.
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/base/crc32c.h"
#include "sef/ftl/ftl.h"
#include "sef/ftl/internal/format.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/ftl/testing/ftl_testing.h"
#include "sef/hal/domain_kind.h"
#include "sef/hal/hal.h"

namespace sef::ftl {
namespace {

using internal::CheckpointHeader;
using internal::CheckpointPageMeta;
using internal::kAduBytes;
using internal::SlotEntry;
using ::testing::AllOf;
using testing::Buffer;
using ::testing::ElementsAre;
using testing::FillBlock;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::VersionOf;

constexpr const char* kTinyUnit = "model:testdata/units/tiny.json";
constexpr uint64_t kBlocks = 200;

struct ForgeOptions {
  int bad_crc_page = -1;     // that page's metadata CRC is made wrong
  bool keep_counts = false;  // the per-slot counts stay as written (else: recounted)
  bool as_version1 = false;  // written in format version 1 (no count pages)
  uint32_t version = 0;      // nonzero: the header names this version
};

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<hal::Unit>> unit = hal::Unit::Open(kTinyUnit);
    ASSERT_TRUE(unit.ok()) << unit.status();
    unit_ = *std::move(unit);
    absl::StatusOr<QosDomainId> id = testing::SetUpDomain(*unit_);
    ASSERT_TRUE(id.ok()) << id.status();
    domain_ = *id;
  }

  // Formats the domain and writes blocks 0..kBlocks-1 (version 1); unmounts unless
  // `keep_mounted`, in which case the device is returned.
  std::unique_ptr<BlockDevice> FormatAndWrite(bool keep_mounted = false) {
    absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Format(unit_.get(), domain_);
    EXPECT_TRUE(d.ok()) << d.status();
    if (!d.ok()) return nullptr;
    Buffer b(kBlocks);
    for (uint64_t lba = 0; lba < kBlocks; ++lba) FillBlock(lba, 1, b.block(lba));
    EXPECT_TRUE((*d)->Write(Lba(0), kBlocks, b.span()).ok());
    EXPECT_TRUE((*d)->Flush().ok());
    if (!keep_mounted) {
      EXPECT_TRUE((*d)->Unmount().ok());
      return nullptr;
    }
    return *std::move(d);
  }

  uint64_t ReadVersion(uint64_t lba) {
    absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Mount(unit_.get(), domain_);
    EXPECT_TRUE(d.ok()) << d.status();
    if (!d.ok()) return ~uint64_t{0};
    Buffer b;
    EXPECT_TRUE((*d)->Read(Lba(lba), 1, b.span()).ok());
    EXPECT_TRUE((*d)->Unmount().ok());
    return VersionOf(lba, b.block(0));
  }

  // Rewrites the committed checkpoint into a fresh super block after `mutate` changed its
  // map or slot table, commits it with root pointer 0 and releases the old checkpoint's
  // super blocks.
  void ForgeCheckpoint(
      const std::function<void(std::vector<uint32_t>& map, std::vector<SlotEntry>& table)>& mutate,
      ForgeOptions o = {}) {
    absl::StatusOr<std::unique_ptr<hal::QosDomain>> opened = unit_->OpenQosDomain(domain_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    hal::QosDomain& d = **opened;
    absl::StatusOr<FlashAddress> root = d.GetRootPointer(hal::RootPointerIndex(0));
    ASSERT_TRUE(root.ok());
    CheckpointHeader h;
    ASSERT_TRUE(ReadPage(d, *root, &h).ok());
    const uint32_t sb_capacity = 32;  // tiny.json, one die per super block
    ASSERT_EQ(h.version, internal::kCheckpointVersion);
    uint32_t total = h.map_pages + h.slot_pages + h.count_pages;
    std::vector<uint8_t> pages(size_t{total} * kAduBytes);
    for (uint32_t p = 0; p < total; ++p) {
      absl::StatusOr<FlashAddress> a =
          d.AddressOf(SuperBlockId(h.sbs[p / sb_capacity]), AduOffset(p % sb_capacity));
      ASSERT_TRUE(a.ok());
      ASSERT_TRUE(ReadPage(d, *a, pages.data() + size_t{p} * kAduBytes).ok());
    }
    std::vector<uint32_t> map(h.block_count);
    std::memcpy(map.data(), pages.data(), map.size() * 4);
    std::vector<SlotEntry> table(h.slot_count);
    std::memcpy(table.data(), pages.data() + size_t{h.map_pages} * kAduBytes,
                table.size() * sizeof(SlotEntry));
    mutate(map, table);
    std::memcpy(pages.data(), map.data(), map.size() * 4);
    std::memcpy(pages.data() + size_t{h.map_pages} * kAduBytes, table.data(),
                table.size() * sizeof(SlotEntry));
    if (!o.keep_counts) {
      std::vector<uint32_t> counts(size_t{h.count_pages} * internal::kCountsPerPage, 0);
      internal::CountEntriesPerSlot(map.data(), map.size(), sb_capacity, h.slot_count,
                                    counts.data());
      std::memcpy(pages.data() + size_t{h.map_pages + h.slot_pages} * kAduBytes, counts.data(),
                  counts.size() * 4);
    }
    if (o.as_version1) {
      total -= h.count_pages;
      pages.resize(size_t{total} * kAduBytes);
      h.version = internal::kCheckpointVersion1;
      h.count_pages = 0;
    }
    if (o.version != 0) h.version = o.version;

    absl::StatusOr<hal::SuperBlockAllocation> sb = d.AllocateSuperBlock();
    ASSERT_TRUE(sb.ok()) << sb.status();
    ASSERT_LE(total + 1, sb->capacity_adus);
    const std::vector<SuperBlockId> old(h.sbs, h.sbs + h.num_sbs);
    h.generation += 1;
    h.num_sbs = 1;
    h.sbs[0] = sb->id.value();
    h.crc = internal::CheckpointHeaderCrc(h);
    pages.resize(size_t{total + 1} * kAduBytes);
    std::memcpy(pages.data() + size_t{total} * kAduBytes, &h, sizeof(h));
    std::vector<CheckpointPageMeta> meta(total + 1);
    for (uint32_t p = 0; p <= total; ++p) {
      meta[p] = {h.generation, p, Crc32c(pages.data() + size_t{p} * kAduBytes, kAduBytes)};
      if (static_cast<int>(p) == o.bad_crc_page) meta[p].crc ^= 1;
    }
    iovec iov{pages.data(), pages.size()};
    hal::WriteOp w;
    w.target = sb->id;
    w.start = UserAddress::FromRaw(uint64_t{internal::kCheckpointTag} << UserAddress::kLbaBits);
    w.data = {&iov, 1};
    w.metadata = {reinterpret_cast<const uint8_t*>(meta.data()), meta.size() * sizeof(meta[0])};
    w.fua = true;
    absl::StatusOr<hal::WriteResult> r = d.Write(w);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(d.SetRootPointer(hal::RootPointerIndex(0), r->addresses.back()).ok());
    for (SuperBlockId o : old) ASSERT_TRUE(d.ReleaseSuperBlock(o).ok());
  }

  template <typename T>
  static absl::Status ReadPage(hal::QosDomain& d, FlashAddress a, T* out) {
    std::vector<uint8_t> meta(16);
    iovec iov{out, kAduBytes};
    hal::ReadOp r;
    r.address = a;
    r.data = {&iov, 1};
    r.metadata = {meta.data(), meta.size()};
    return d.Read(r);
  }

  std::unique_ptr<hal::Unit> unit_;
  QosDomainId domain_;
};

TEST_F(CheckTest, CleanDomainIsConsistentAndCheckWritesNothing) {
  FormatAndWrite();
  absl::StatusOr<hal::QosDomainInfo> before = unit_->GetQosDomainInfo(domain_);
  ASSERT_TRUE(before.ok());
  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->problems, IsEmpty());
  EXPECT_FALSE(r->needs_recovery);
  EXPECT_FALSE(r->repaired);
  EXPECT_EQ(r->mapped_blocks, kBlocks);
  EXPECT_EQ(r->verified_blocks, kBlocks);
  EXPECT_EQ(r->stale_blocks, 0u);
  EXPECT_EQ(r->unclaimed_sbs, 0u);
  EXPECT_GE(r->checkpoint_generation, 2u);  // format, then the unmount's
  EXPECT_DOUBLE_EQ(r->overprovisioning_percent, 7.0);
  EXPECT_EQ(r->held_sbs, r->checkpoint_sbs + r->journal_sbs + r->data_sbs);
  EXPECT_GT(r->data_sbs, 0u);
  absl::StatusOr<hal::QosDomainInfo> after = unit_->GetQosDomainInfo(domain_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->root_pointers, before->root_pointers);
  EXPECT_EQ(after->used_adus, before->used_adus);
  EXPECT_EQ(after->super_blocks, before->super_blocks);

  absl::StatusOr<CheckReport> quick = Check(unit_.get(), domain_, {.verify_blocks = false});
  ASSERT_TRUE(quick.ok()) << quick.status();
  EXPECT_EQ(quick->mapped_blocks, kBlocks);
  EXPECT_EQ(quick->verified_blocks, 0u);
}

TEST_F(CheckTest, UncleanStopNeedsRecoveryAndRepairWritesAFreshCheckpoint) {
  std::unique_ptr<BlockDevice> d = FormatAndWrite(/*keep_mounted=*/true);
  ASSERT_NE(d, nullptr);
  Buffer b;
  FillBlock(7, 2, b.block(0));
  ASSERT_TRUE(d->Write(Lba(7), 1, b.span(), /*fua=*/true).ok());
  d.reset();  // no unmount: the next mount replays

  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->problems, IsEmpty());
  EXPECT_TRUE(r->needs_recovery);

  absl::StatusOr<CheckReport> fixed = Check(unit_.get(), domain_, {.repair = true});
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_TRUE(fixed->repaired);
  EXPECT_GT(fixed->recovered_adus, 0u);
  EXPECT_EQ(fixed->trimmed_blocks, 0u);
  EXPECT_FALSE(fixed->needs_recovery);
  EXPECT_THAT(fixed->problems, IsEmpty());
  EXPECT_THAT(fixed->problems_before_repair, IsEmpty());
  EXPECT_GT(fixed->checkpoint_generation, r->checkpoint_generation);
  EXPECT_EQ(fixed->verified_blocks, kBlocks);
  EXPECT_EQ(ReadVersion(7), 2u);
  EXPECT_EQ(ReadVersion(8), 1u);
}

TEST_F(CheckTest, RefusesWhatIsNoFtlDomain) {
  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("unconfigured"));

  r = Check(unit_.get(), QosDomainId(9));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();

  {
    absl::StatusOr<std::unique_ptr<hal::QosDomain>> d = unit_->OpenQosDomain(domain_);
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(
        (*d)->SetRootPointer(hal::kKindRootPointer, FlashAddress::FromRaw(hal::kDomainKindZoned))
            .ok());
  }
  r = Check(unit_.get(), domain_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("zoned"));
  r = Check(unit_.get(), domain_, {.repair = true});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CheckTest, FindsABlockMappedToAnotherBlocksAduAndRepairTrimsIt) {
  FormatAndWrite();
  ForgeCheckpoint([](std::vector<uint32_t>& map, std::vector<SlotEntry>&) { map[3] = map[5]; });
  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->problems, ElementsAre(AllOf(HasSubstr("block 3 maps to ADU"),
                                             HasSubstr("whose user address is block 5"))));
  EXPECT_EQ(r->verified_blocks, kBlocks - 1);

  absl::StatusOr<CheckReport> fixed = Check(unit_.get(), domain_, {.repair = true});
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->trimmed_blocks, 1u);
  EXPECT_THAT(fixed->problems, IsEmpty());
  EXPECT_THAT(fixed->problems_before_repair, ElementsAre(HasSubstr("block 3 maps to ADU")));
  EXPECT_EQ(fixed->mapped_blocks, kBlocks - 1);
  EXPECT_EQ(ReadVersion(3), 0u);  // zeros, not block 5's data
  EXPECT_EQ(ReadVersion(5), 1u);
}

TEST_F(CheckTest, FindsACheckpointPageThatFailsItsCrcAndDoesNotRepairIt) {
  FormatAndWrite();
  ForgeCheckpoint([](std::vector<uint32_t>&, std::vector<SlotEntry>&) {}, {.bad_crc_page = 0});
  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->problems, ElementsAre(HasSubstr("checkpoint page 0 (map, super block")));
  EXPECT_EQ(r->mapped_blocks, 0u);  // nothing checked past the bad page

  r = Check(unit_.get(), domain_, {.repair = true});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

TEST_F(CheckTest, FindsEntriesIntoADataSuperBlockReleasedBehindTheFtlsBack) {
  FormatAndWrite();
  uint32_t victim = 0;
  ForgeCheckpoint([&victim](std::vector<uint32_t>& map, std::vector<SlotEntry>& table) {
    victim = table[(map[0] - 1) / 32].sb;
  });
  {
    absl::StatusOr<std::unique_ptr<hal::QosDomain>> d = unit_->OpenQosDomain(domain_);
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE((*d)->ReleaseSuperBlock(SuperBlockId(victim)).ok());
  }
  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->needs_recovery);
  EXPECT_GT(r->stale_blocks, 0u);
  EXPECT_THAT(r->problems, ElementsAre(HasSubstr("blocks map into super blocks released")));

  absl::StatusOr<CheckReport> fixed = Check(unit_.get(), domain_, {.repair = true});
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_THAT(fixed->problems, IsEmpty());
  EXPECT_EQ(fixed->stale_blocks, 0u);
  EXPECT_EQ(fixed->mapped_blocks, kBlocks - r->stale_blocks);
  EXPECT_EQ(ReadVersion(0), 0u);  // lost with its super block: zeros, never other data
}

TEST_F(CheckTest, FindsASuperBlockNamedByTwoSlots) {
  FormatAndWrite();
  ForgeCheckpoint([](std::vector<uint32_t>& map, std::vector<SlotEntry>& table) {
    const uint32_t used = (map[0] - 1) / 32;
    for (SlotEntry& e : table) {
      if (e.kind == 0) {
        e = table[used];
        break;
      }
    }
  });
  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->problems, ElementsAre(HasSubstr("is named by slots")));
}

TEST_F(CheckTest, FindsPerSlotCountsThatDoNotMatchTheMap) {
  FormatAndWrite();
  ForgeCheckpoint([](std::vector<uint32_t>& map, std::vector<SlotEntry>&) { map[3] = 0; },
                  {.keep_counts = true});
  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->checkpoint_version, internal::kCheckpointVersion);
  EXPECT_THAT(r->problems, ElementsAre(AllOf(HasSubstr("the checkpoint records"),
                                             HasSubstr("mapped blocks, its map has"))));
}

// A domain whose checkpoint is format version 1 (no per-slot counts) mounts: its map is
// loaded and walked before Mount returns, and its next checkpoint is version 2.
TEST_F(CheckTest, MountsAVersion1CheckpointAndWritesVersion2) {
  FormatAndWrite();
  ForgeCheckpoint([](std::vector<uint32_t>&, std::vector<SlotEntry>&) {}, {.as_version1 = true});
  absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->checkpoint_version, 1u);
  EXPECT_THAT(r->problems, IsEmpty());
  {
    absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Mount(unit_.get(), domain_);
    ASSERT_TRUE(d.ok()) << d.status();
    const Stats st = (*d)->GetStats();
    EXPECT_EQ(st.map_pages_loaded, st.map_pages);  // loaded before Mount returned
    EXPECT_TRUE((*d)->DebugCheckValidCounts().ok()) << (*d)->DebugCheckValidCounts();
    ASSERT_TRUE((*d)->Unmount().ok());
  }
  EXPECT_EQ(ReadVersion(0), 1u);
  EXPECT_EQ(ReadVersion(kBlocks - 1), 1u);
  r = Check(unit_.get(), domain_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->checkpoint_version, internal::kCheckpointVersion);
  EXPECT_THAT(r->problems, IsEmpty());
}

TEST_F(CheckTest, RefusesAnUnknownCheckpointVersionNamingIt) {
  FormatAndWrite();
  ForgeCheckpoint([](std::vector<uint32_t>&, std::vector<SlotEntry>&) {}, {.version = 7});
  absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Mount(unit_.get(), domain_);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition) << d.status();
  EXPECT_THAT(d.status().message(), HasSubstr("checkpoint format version 7"));
}

// A map page that fails its CRC is found after Mount returned (the map loads then): the
// requests that need it fail with DataLoss naming the page, never read zeros; the FTL takes
// no more updates and writes no checkpoint over it.
TEST_F(CheckTest, AMapPageThatFailsToLoadFailsTheRequestsThatNeedIt) {
  FormatAndWrite();
  ForgeCheckpoint([](std::vector<uint32_t>&, std::vector<SlotEntry>&) {}, {.bad_crc_page = 0});
  absl::StatusOr<hal::QosDomainInfo> before = unit_->GetQosDomainInfo(domain_);
  ASSERT_TRUE(before.ok());
  for (int mount = 0; mount < 2; ++mount) {
    absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Mount(unit_.get(), domain_);
    ASSERT_TRUE(d.ok()) << d.status();
    Buffer b;
    absl::Status s = (*d)->Read(Lba(3), 1, b.span());
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("map page 0"), HasSubstr("fails its CRC")));
    EXPECT_EQ((*d)->WaitUntilMapLoaded().code(), absl::StatusCode::kDataLoss);
    const Stats st = (*d)->GetStats();
    EXPECT_EQ(st.map_pages_failed, 1u);
    EXPECT_EQ(st.map_pages_loaded, st.map_pages - 1);
    FillBlock(3, 9, b.block(0));
    EXPECT_EQ((*d)->Write(Lba(3), 1, b.span()).code(), absl::StatusCode::kDataLoss);
    if ((*d)->block_count() > internal::kMapEntriesPerPage) {
      EXPECT_TRUE((*d)->Read(Lba(internal::kMapEntriesPerPage), 1, b.span()).ok());
    }
    EXPECT_EQ((*d)->Unmount().code(), absl::StatusCode::kDataLoss);
  }
  // No checkpoint was written over the bad page: the same one is still in force.
  absl::StatusOr<hal::QosDomainInfo> after = unit_->GetQosDomainInfo(domain_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->root_pointers[0], before->root_pointers[0]);
}

// FormatOptions::placement_ids: validated against the domain, recorded in every checkpoint
// (not used by the write path yet).
TEST_F(CheckTest, PlacementIdsAreValidatedAndRecorded) {
  absl::StatusOr<std::unique_ptr<hal::QosDomain>> opened = unit_->OpenQosDomain(domain_);
  ASSERT_TRUE(opened.ok());
  const uint32_t available = (*opened)->placement_ids();
  opened->reset();
  ASSERT_GE(available, 1u);
  absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Format(
      unit_.get(), domain_, {.placement_ids = {PlacementId(static_cast<uint16_t>(available))}});
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << d.status();
  EXPECT_THAT(d.status().message(), HasSubstr(absl::StrFormat("placement id %u", available)));
  d = BlockDevice::Format(unit_.get(), domain_,
                          {.placement_ids = {PlacementId(0), PlacementId(0)}});
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << d.status();
  EXPECT_THAT(d.status().message(), HasSubstr("placement id 0 is named twice"));
  // Nothing was written by the refused formats.
  absl::StatusOr<hal::QosDomainInfo> info = unit_->GetQosDomainInfo(domain_);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->root_pointers[0], FlashAddress::Null());

  d = BlockDevice::Format(unit_.get(), domain_, {.placement_ids = {PlacementId(0)}});
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE((*d)->Unmount().ok());
  for (int mount = 0; mount < 2; ++mount) {  // carried from checkpoint to checkpoint
    absl::StatusOr<CheckReport> r = Check(unit_.get(), domain_);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_THAT(r->problems, IsEmpty());
    EXPECT_THAT(r->placement_ids, ElementsAre(PlacementId(0)));
    d = BlockDevice::Mount(unit_.get(), domain_);
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_TRUE((*d)->Unmount().ok());
  }
}

}  // namespace
}  // namespace sef::ftl
