// The HAL conformance suite: every API call, synchronous and asynchronous, many commands in
// flight from several threads, notifications, and the completion contract. It runs on every
// backend: always on the device model, once completing inline and once completing on another
// thread in shuffled order (as the kernel's io_uring reaper may), and on a real or emulated
// SEF unit named by SEF_TEST_DEVICE=/dev/nvmeN (skipped cleanly when that is unset;
// SEF_TEST_FORCE_IOCTL=1 selects the kernel backend's ioctl path instead of io_uring). On a
// device it is destructive: it deletes every QoS domain and virtual device of the unit
// first. Model-only HAL tests are in hal_test.cc.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/hal.h"
#include "sef/hal/testing/notifications.h"
#include "sef/hal/testing/pattern.h"

namespace sef::hal {
namespace {

using ::testing::HasSubstr;
using testing::Notifications;
using testing::Pattern;
using testing::Ua;

// The asynchronous allocation, waited for.
absl::StatusOr<SuperBlockAllocation> AllocateAsync(QosDomain& d) {
  std::promise<absl::StatusOr<SuperBlockAllocation>> promise;
  std::future<absl::StatusOr<SuperBlockAllocation>> future = promise.get_future();
  d.AllocateSuperBlockAsync(
      {}, [&promise](absl::StatusOr<SuperBlockAllocation> r) { promise.set_value(std::move(r)); });
  return future.get();
}

struct Backend {
  std::string name;
  std::string spec;  // empty: skipped
  CompletionOrder order = CompletionOrder::kInline;
};
void PrintTo(const Backend& b, std::ostream* os) { *os << b.name << " (" << b.spec << ")"; }

class ConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().spec.empty()) GTEST_SKIP() << "SEF_TEST_DEVICE is not set";
    UnitOptions options;
    // SEF_TEST_FORCE_IOCTL=1: the kernel backend uses NVME_IOCTL_IO64_CMD, not io_uring.
    const char* force_ioctl = std::getenv("SEF_TEST_FORCE_IOCTL");
    options.transport.force_ioctl = force_ioctl != nullptr && std::string(force_ioctl) == "1";
    options.transport.completion_order = GetParam().order;
    options.on_notification = notifications_.Callback();
    absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open(GetParam().spec, std::move(options));
    ASSERT_TRUE(unit.ok()) << unit.status();
    unit_ = *std::move(unit);
    // A clean unit: no QoS domains, no virtual devices.
    absl::StatusOr<std::vector<QosDomainId>> domains = unit_->ListQosDomains();
    ASSERT_TRUE(domains.ok()) << domains.status();
    for (QosDomainId d : *domains) ASSERT_TRUE(unit_->DeleteQosDomain(d).ok());
    ASSERT_TRUE(unit_->DeleteVirtualDevices().ok());
    absl::StatusOr<UnitInfo> info = unit_->Info();
    ASSERT_TRUE(info.ok()) << info.status();
    info_ = *info;
    VirtualDeviceConfig vd{
        VirtualDeviceId(1), {}, static_cast<uint16_t>(std::min(2u, info_.dies())), 0};
    for (uint16_t die = 0; die < info_.dies(); ++die) vd.dies.push_back(die);
    ASSERT_TRUE(unit_->CreateVirtualDevices({vd}).ok());
    absl::StatusOr<VirtualDeviceInfo> vd_info = unit_->GetVirtualDeviceInfo(VirtualDeviceId(1));
    ASSERT_TRUE(vd_info.ok()) << vd_info.status();
    vd_ = *vd_info;
    domain_id_ = CreateDomain(vd_.capacity_adus / 2);
    absl::StatusOr<std::unique_ptr<QosDomain>> domain = unit_->OpenQosDomain(domain_id_);
    ASSERT_TRUE(domain.ok()) << domain.status();
    domain_ = *std::move(domain);
  }

  QosDomainId CreateDomain(uint64_t capacity_adus) {
    QosDomainConfig config;
    config.vd = VirtualDeviceId(1);
    config.capacity_adus = capacity_adus;
    config.placement_ids = 2;
    config.max_open_super_blocks = 4;
    absl::StatusOr<QosDomainId> id = unit_->CreateQosDomain(config);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(QosDomainId(0));
  }

  absl::StatusOr<WriteResult> WriteLbas(QosDomain& d, WriteTarget target, uint64_t lba,
                                        uint32_t adus, std::vector<uint8_t>* keep = nullptr) {
    std::vector<uint8_t> data = Pattern(lba, adus);
    iovec iov{data.data(), data.size()};
    absl::StatusOr<WriteResult> r =
        d.Write({.target = target, .start = Ua(lba), .data = {&iov, 1}});
    if (keep != nullptr) *keep = std::move(data);
    return r;
  }

  // Reads every address back with user-address verify and compares the data.
  void ExpectReadsBack(QosDomain& d, const std::vector<FlashAddress>& addresses, uint64_t lba) {
    std::vector<uint8_t> buffer(wire::kAduDataBytes);
    iovec iov{buffer.data(), buffer.size()};
    for (size_t i = 0; i < addresses.size(); ++i) {
      ASSERT_TRUE(d.Read({.address = addresses[i], .verify = Ua(lba + i), .data = {&iov, 1}}).ok())
          << "LBA " << lba + i << " at " << addresses[i];
      ASSERT_EQ(buffer, Pattern(lba + i, 1)) << "LBA " << lba + i;
    }
  }

  Notifications notifications_;  // first: the unit's notification thread outlives nothing else
  std::unique_ptr<Unit> unit_;
  UnitInfo info_;
  VirtualDeviceInfo vd_;
  QosDomainId domain_id_;
  std::unique_ptr<QosDomain> domain_;
};

TEST_P(ConformanceTest, UnitVirtualDeviceAndDomainInformation) {
  EXPECT_GT(info_.channels * info_.banks, 0u);
  EXPECT_TRUE(info_.capabilities & wire::kCapPerfect);
  EXPECT_EQ(info_.root_pointers, 8u);
  EXPECT_GE(info_.max_qos_domains, 1u);
  EXPECT_EQ(*unit_->ListVirtualDevices(), std::vector<VirtualDeviceId>{VirtualDeviceId(1)});
  EXPECT_EQ(vd_.dies.size(), info_.dies());
  EXPECT_EQ(vd_.super_block_adus, vd_.dies_per_super_block * info_.pages_per_block * info_.planes *
                                      info_.adus_per_plane_page);
  // vd_ was read before the domain existed; read it again.
  EXPECT_EQ(unit_->GetVirtualDeviceInfo(VirtualDeviceId(1))->qos_domains,
            std::vector<QosDomainId>{domain_id_});
  EXPECT_EQ(*unit_->ListQosDomains(), std::vector<QosDomainId>{domain_id_});
  absl::StatusOr<QosDomainInfo> d = unit_->GetQosDomainInfo(domain_id_);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->vd, VirtualDeviceId(1));
  EXPECT_EQ(d->placement_ids, 2u);
  EXPECT_EQ(d->max_open_super_blocks, 4u);
  EXPECT_EQ(d->capacity_adus,
            vd_.capacity_adus / 2 / info_.adus_per_plane_page * info_.adus_per_plane_page);
  EXPECT_EQ(d->defect, DefectStrategy::kPerfect);
}

TEST_P(ConformanceTest, CreateAndDeleteQosDomains) {
  const QosDomainId second = CreateDomain(vd_.super_block_adus * 2);
  ASSERT_NE(second.value(), 0);
  EXPECT_EQ(unit_->ListQosDomains()->size(), 2u);
  {
    absl::StatusOr<std::unique_ptr<QosDomain>> d = unit_->OpenQosDomain(second);
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_TRUE(WriteLbas(**d, ByPlacement{PlacementId(0)}, 0, 3).ok());
  }
  EXPECT_TRUE(unit_->DeleteQosDomain(second).ok());
  EXPECT_EQ(*unit_->ListQosDomains(), std::vector<QosDomainId>{domain_id_});
  EXPECT_FALSE(unit_->OpenQosDomain(second).ok());
  // VDs cannot be deleted while a QoS domain exists.
  EXPECT_EQ(unit_->DeleteVirtualDevices().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(ConformanceTest, RootPointers) {
  for (uint8_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(
        domain_->SetRootPointer(RootPointerIndex(i), FlashAddress::FromRaw(0x1000 + i)).ok());
  }
  for (uint8_t i = 0; i < 8; ++i) {
    EXPECT_EQ(domain_->GetRootPointer(RootPointerIndex(i))->raw(), 0x1000u + i);
  }
  EXPECT_EQ(unit_->GetQosDomainInfo(domain_id_)->root_pointers[5].raw(), 0x1005u);
  absl::Status bad = domain_->SetRootPointer(RootPointerIndex(8), FlashAddress::FromRaw(1));
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("root pointer index 8"));
  EXPECT_EQ(domain_->GetRootPointer(RootPointerIndex(200)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, SuperBlockLifecycle) {
  absl::StatusOr<SuperBlockAllocation> sb = domain_->AllocateSuperBlock();
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sb->capacity_adus, vd_.super_block_adus);
  EXPECT_EQ(sb->address, *domain_->AddressOf(sb->id));
  EXPECT_EQ(domain_->SuperBlockOf(sb->address), sb->id);
  absl::StatusOr<SuperBlockDetails> details = domain_->GetSuperBlockInfo(sb->id);
  ASSERT_TRUE(details.ok()) << details.status();
  EXPECT_EQ(details->state, SuperBlockState::kOpenByErase);
  EXPECT_EQ(details->written_adus, 0u);

  absl::StatusOr<WriteResult> w = WriteLbas(*domain_, sb->id, 40, 5);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->addresses.size(), 5u);
  EXPECT_EQ(w->addresses[0], sb->address);
  EXPECT_EQ(domain_->OffsetOf(w->addresses[4]), AduOffset(4));
  ExpectReadsBack(*domain_, w->addresses, 40);
  EXPECT_EQ(*domain_->FlushSuperBlock(sb->id), sb->capacity_adus - 5);

  std::vector<UserAddress> uas = *domain_->GetUserAddressList(sb->id);
  ASSERT_EQ(uas.size(), sb->capacity_adus);
  EXPECT_EQ(uas[0], Ua(40));
  EXPECT_EQ(uas[4], Ua(44));
  EXPECT_TRUE(uas[5].is_ignore());

  EXPECT_EQ(*domain_->CloseSuperBlock(sb->id), true);
  EXPECT_EQ(*domain_->CloseSuperBlock(sb->id), false);
  const auto closed = notifications_.WaitFor(NotificationType::kSuperBlockClosed, 1);
  ASSERT_GE(closed.size(), 1u);
  EXPECT_EQ(closed[0].super_block, sb->id);
  EXPECT_EQ(closed[0].address, sb->address);
  EXPECT_EQ(closed[0].domain, domain_id_);
  EXPECT_EQ(closed[0].written_adus, 5u);

  std::vector<SuperBlockEntry> list = *domain_->ListSuperBlocks(SbListOrder::kClosedBySbId);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, sb->id);
  EXPECT_EQ(list[0].state, SuperBlockState::kClosed);
  EXPECT_EQ(*domain_->CheckSuperBlock(sb->id), 0);
  // A closed SB takes no more data.
  absl::StatusOr<WriteResult> refused = WriteLbas(*domain_, sb->id, 0, 1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(NvmeStatusOf(refused.status()), NvmeStatus(0, wire::sc::kCommandSequenceError, true));
  ASSERT_TRUE(domain_->ReleaseSuperBlock(sb->id).ok());
  EXPECT_TRUE(domain_->ListSuperBlocks()->empty());
  std::vector<uint8_t> buffer(wire::kAduDataBytes);
  iovec iov{buffer.data(), buffer.size()};
  const absl::Status gone = domain_->Read({.address = w->addresses[0], .data = {&iov, 1}});
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);  // a released SB holds nothing readable
  EXPECT_EQ(NvmeStatusOf(gone), NvmeStatus(2, wire::sc::kDeallocatedOrUnwritten, true));
}

TEST_P(ConformanceTest, AllocateAGivenSuperBlockById) {
  absl::StatusOr<SuperBlockAllocation> first = domain_->AllocateSuperBlock();
  ASSERT_TRUE(first.ok()) << first.status();
  // Held: a given SB that is not free is refused.
  absl::StatusOr<SuperBlockAllocation> again = domain_->AllocateSuperBlock({.id = first->id});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(NvmeStatusOf(again.status()), NvmeStatus(0, wire::sc::kCommandSequenceError, true));
  ASSERT_TRUE(domain_->ReleaseSuperBlock(first->id).ok());
  // Free again: erased by id, it is the same SB, empty.
  absl::StatusOr<SuperBlockAllocation> by_id = domain_->AllocateSuperBlock({.id = first->id});
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->id, first->id);
  EXPECT_EQ(by_id->address, first->address);
  EXPECT_EQ(domain_->GetSuperBlockInfo(first->id)->written_adus, 0u);
  // An id beyond the VD's super blocks, and one wider than the address format.
  const uint32_t beyond = vd_.free_super_blocks + vd_.closed_super_blocks + vd_.open_super_blocks;
  EXPECT_EQ(domain_->AllocateSuperBlock({.id = SuperBlockId(beyond)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<SuperBlockAllocation> too_wide = domain_->AllocateSuperBlock(
      {.id = SuperBlockId(static_cast<uint32_t>(vd_.format.max_super_block_id() + 1))});
  EXPECT_EQ(too_wide.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(NvmeStatusOf(too_wide.status()).has_value());  // refused before sending
}

TEST_P(ConformanceTest, WriteByPlacementContinuesAcrossManySuperBlocks) {
  // Nine super blocks' worth: more than one FAR's eight extents, so the HAL must continue.
  const uint32_t adus = vd_.super_block_adus * 9 + 3;
  absl::StatusOr<WriteResult> w = WriteLbas(*domain_, ByPlacement{PlacementId(1)}, 1000, adus);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->addresses.size(), adus);
  ExpectReadsBack(*domain_, w->addresses, 1000);
  EXPECT_GE(notifications_.WaitFor(NotificationType::kSuperBlockClosed, 9).size(), 9u);
  EXPECT_EQ(domain_->ListSuperBlocks()->size(), 10u);
}

// Regression: Linux maps a passthrough command's buffer into at most max_segments (127)
// physically contiguous runs and refuses more with EINVAL. The HAL sent Nameless Writes of
// 128 ADUs (the emulated controller's MDTS): from a buffer whose pages were not contiguous,
// the NLW failed, and its FAR, already on the device, waited 30 s for it (docs/testing.md,
// "The 30 s stall"). The pages here are faulted in last to first, so that the kernel, which
// tends to hand out ascending physical pages, leaves no two of them mergeable.
TEST_P(ConformanceTest, WritesFromPageFragmentedBuffers) {
  const uint32_t adus = std::min(2 * domain_->max_adus_per_command() + 3, 600u);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t bytes = uint64_t{adus} * wire::kAduDataBytes;
  void* mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mapped, MAP_FAILED);
  madvise(mapped, bytes, MADV_NOHUGEPAGE);
  auto* base = static_cast<uint8_t*>(mapped);
  const std::vector<uint8_t> pattern = Pattern(2000, adus);
  for (size_t offset = (bytes - 1) / page * page;; offset -= page) {
    std::memcpy(base + offset, pattern.data() + offset, std::min(page, bytes - offset));
    if (offset == 0) break;
  }
  iovec iov{base, bytes};
  absl::StatusOr<WriteResult> w =
      domain_->Write({.target = ByPlacement{PlacementId(0)}, .start = Ua(2000), .data = {&iov, 1}});
  munmap(mapped, bytes);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->addresses.size(), adus);
  ExpectReadsBack(*domain_, w->addresses, 2000);
}

TEST_P(ConformanceTest, WriteIntoASuperBlockStopsWhenItFills) {
  absl::StatusOr<SuperBlockAllocation> sb = domain_->AllocateSuperBlock();
  ASSERT_TRUE(sb.ok()) << sb.status();
  absl::StatusOr<WriteResult> w = WriteLbas(*domain_, sb->id, 0, sb->capacity_adus + 6);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->addresses.size(), sb->capacity_adus);
  EXPECT_EQ(w->not_written, 6u);
  EXPECT_EQ(domain_->GetSuperBlockInfo(sb->id)->state, SuperBlockState::kClosed);
}

TEST_P(ConformanceTest, ReadVerifyMetadataAndErrors) {
  std::vector<uint8_t> data = Pattern(500, 4), meta(4 * 16);
  for (size_t i = 0; i < meta.size(); ++i) meta[i] = static_cast<uint8_t>(i);
  iovec iov{data.data(), data.size()};
  absl::StatusOr<WriteResult> w = domain_->Write({.target = ByPlacement{PlacementId(0)},
                                                  .start = Ua(500),
                                                  .data = {&iov, 1},
                                                  .metadata = meta});
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<uint8_t> back(4 * wire::kAduDataBytes), back_meta(4 * 16);
  iovec biov{back.data(), back.size()};
  ASSERT_TRUE(domain_
                  ->Read({.address = w->addresses[0],
                          .adus = AduCount(4),
                          .verify = Ua(500),
                          .data = {&biov, 1},
                          .metadata = back_meta})
                  .ok());
  EXPECT_EQ(back, data);
  EXPECT_EQ(back_meta, meta);
  std::vector<uint8_t> only_meta(2 * 16);
  ASSERT_TRUE(
      domain_->Read({.address = w->addresses[2], .adus = AduCount(2), .metadata = only_meta}).ok());
  EXPECT_EQ(only_meta[0], 32);
  // Wrong user address, past the written ADUs, another domain's address, a buffer that does
  // not match the ADU count, metadata of the wrong size.
  iovec one{back.data(), wire::kAduDataBytes};
  const absl::Status compare =
      domain_->Read({.address = w->addresses[0], .verify = Ua(501), .data = {&one, 1}});
  EXPECT_EQ(compare.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(NvmeStatusOf(compare), NvmeStatus(2, wire::sc::kCompareFailure, true));
  // Past the write pointer of the open SB: erased ADUs read as zeros, and fail a verified read
  // (their user address is all ones).
  std::vector<uint8_t> five(5 * wire::kAduDataBytes, 0xEE);
  iovec fiov{five.data(), five.size()};
  ASSERT_TRUE(
      domain_->Read({.address = w->addresses[0], .adus = AduCount(5), .data = {&fiov, 1}}).ok());
  EXPECT_EQ(std::vector<uint8_t>(five.begin(), five.begin() + 4 * wire::kAduDataBytes), data);
  EXPECT_EQ(std::vector<uint8_t>(five.begin() + 4 * wire::kAduDataBytes, five.end()),
            std::vector<uint8_t>(wire::kAduDataBytes, 0));
  const absl::Status unwritten = domain_->Read(
      {.address = w->addresses[0], .adus = AduCount(5), .verify = Ua(500), .data = {&fiov, 1}});
  EXPECT_EQ(unwritten.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(NvmeStatusOf(unwritten), NvmeStatus(2, wire::sc::kCompareFailure, true));
  FlashAddress foreign = FlashAddress::FromRaw(w->addresses[0].raw() ^ (uint64_t{0x7F} << 48));
  EXPECT_EQ(domain_->Read({.address = foreign, .data = {&one, 1}}).code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status mismatch = domain_->Read({.address = w->addresses[0], .data = {&biov, 1}});
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("1 ADUs need 4096"));
  EXPECT_EQ(domain_->Read({.address = w->addresses[0], .data = {&one, 1}, .metadata = meta}).code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<WriteResult> short_meta =
      domain_->Write({.target = ByPlacement{PlacementId(0)},
                      .start = Ua(600),
                      .data = {&iov, 1},
                      .metadata = std::span<const uint8_t>(meta).first(16)});
  EXPECT_EQ(short_meta.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(short_meta.status().message()),
              HasSubstr("16 metadata bytes for 4 ADUs"));
}

TEST_P(ConformanceTest, NamelessCopyBitmapAndList) {
  absl::StatusOr<SuperBlockAllocation> src = domain_->AllocateSuperBlock();
  ASSERT_TRUE(src.ok());
  absl::StatusOr<WriteResult> w = WriteLbas(*domain_, src->id, 200, 10);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(domain_->CloseSuperBlock(src->id).ok());
  absl::StatusOr<SuperBlockAllocation> dst = domain_->AllocateSuperBlock();
  ASSERT_TRUE(dst.ok());
  // ADUs 1, 3, 5 by bitmap.
  absl::StatusOr<CopyResult> c =
      domain_->Copy({.destination = dst->id, .source = CopyBitmap{src->address, {0b101010}}});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->changes.size(), 3u);
  EXPECT_TRUE(c->copy_status & wire::kCopyConsumedSource);
  EXPECT_EQ(c->changes[1].from, w->addresses[3]);
  EXPECT_EQ(c->changes[1].user_address, Ua(203));
  ExpectReadsBack(*domain_, {c->changes[1].to}, 203);
  // A list with a filter that keeps only LBAs 206..207.
  absl::StatusOr<CopyResult> l =
      domain_->Copy({.destination = dst->id,
                     .source = CopyList{{w->addresses[0], w->addresses[6], w->addresses[7]}},
                     .filter = UserAddressFilter{Ua(206), 2, false}});
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->changes.size(), 2u);
  EXPECT_TRUE(l->copy_status & wire::kCopyFilteredUas);
  ExpectReadsBack(*domain_, {l->changes[0].to, l->changes[1].to}, 206);
  EXPECT_EQ(domain_->GetSuperBlockInfo(dst->id)->written_adus, 5u);
}

TEST_P(ConformanceTest, SixtyFourInFlightFromTwoThreads) {
  constexpr int kThreads = 2, kPerThread = 64;
  std::vector<std::vector<uint8_t>> buffers(kThreads * kPerThread);
  std::vector<iovec> iovs(kThreads * kPerThread);
  std::vector<FlashAddress> addresses(kThreads * kPerThread);
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0, failures = 0;
  auto finish = [&](bool ok) {
    std::lock_guard lock(mu);
    failures += !ok;
    --outstanding;
    cv.notify_all();
  };
  // Writes: every thread puts all of its writes in flight before any is waited for.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int k = t * kPerThread + i;
        buffers[k] = Pattern(10000 + k, 1);
        iovs[k] = {buffers[k].data(), buffers[k].size()};
        {
          std::lock_guard lock(mu);
          ++outstanding;
        }
        domain_->WriteAsync({.target = ByPlacement{PlacementId(static_cast<uint16_t>(t))},
                             .start = Ua(10000 + k),
                             .data = {&iovs[k], 1}},
                            [&, k](absl::StatusOr<WriteResult> r) {
                              if (r.ok() && r->addresses.size() == 1)
                                addresses[k] = r->addresses[0];
                              finish(r.ok());
                            });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return outstanding == 0; }));
    ASSERT_EQ(failures, 0);
  }
  // Reads, likewise, into fresh buffers.
  std::vector<std::vector<uint8_t>> reads(kThreads * kPerThread,
                                          std::vector<uint8_t>(wire::kAduDataBytes));
  std::vector<iovec> read_iovs(kThreads * kPerThread);
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int k = t * kPerThread + i;
        read_iovs[k] = {reads[k].data(), reads[k].size()};
        {
          std::lock_guard lock(mu);
          ++outstanding;
        }
        domain_->ReadAsync(
            {.address = addresses[k], .verify = Ua(10000 + k), .data = {&read_iovs[k], 1}},
            [&](absl::Status s) { finish(s.ok()); });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return outstanding == 0; }));
  EXPECT_EQ(failures, 0);
  for (int k = 0; k < kThreads * kPerThread; ++k) EXPECT_EQ(reads[k], buffers[k]) << k;
}

TEST_P(ConformanceTest, AsyncSuperBlockAllocationAndCapacityWarning) {
  // Give a second domain the rest of the VD and allocate every free SB: the VD runs out of
  // super blocks and raises a capacity warning.
  const QosDomainId rest = CreateDomain(vd_.capacity_adus - vd_.capacity_adus / 2);
  ASSERT_NE(rest.value(), 0);
  std::unique_ptr<QosDomain> other = *unit_->OpenQosDomain(rest);
  std::vector<SuperBlockId> allocated;
  for (QosDomain* d : {domain_.get(), other.get()}) {
    for (;;) {
      absl::StatusOr<SuperBlockAllocation> sb = AllocateAsync(*d);
      if (!sb.ok()) {
        EXPECT_EQ(sb.status().code(), absl::StatusCode::kResourceExhausted) << sb.status();
        break;
      }
      allocated.push_back(sb->id);
      // Open SBs are limited per domain: close each as soon as it is allocated.
      ASSERT_TRUE(d->CloseSuperBlock(sb->id).ok());
    }
  }
  EXPECT_EQ(allocated.size(), vd_.free_super_blocks);
  const auto warnings = notifications_.WaitFor(NotificationType::kCapacityWarning, 1);
  ASSERT_GE(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].vd, VirtualDeviceId(1));
  EXPECT_TRUE(warnings[0].critical_warning & wire::kCritOutOfSuperBlocks);
}

TEST_P(ConformanceTest, EverySuperBlockOperationHasAnAsyncForm) {
  std::promise<void> all_done;
  auto state = std::make_shared<std::vector<std::string>>();  // failures, on the last thread
  struct Steps {
    QosDomain* d;
    std::promise<void>* done;
    std::shared_ptr<std::vector<std::string>> failures;
    SuperBlockAllocation sb;
  };
  auto steps = std::make_shared<Steps>(Steps{domain_.get(), &all_done, state, {}});
  // allocate -> write -> flush -> close -> check -> set/get root pointer -> release, each
  // submitted from the previous one's callback (where synchronous calls are forbidden).
  domain_->AllocateSuperBlockAsync({}, [steps](absl::StatusOr<SuperBlockAllocation> sb) {
    auto fail = [steps](const std::string& what) {
      steps->failures->push_back(what);
      steps->done->set_value();
    };
    if (!sb.ok()) return fail(std::string(sb.status().message()));
    steps->sb = *sb;
    QosDomain* d = steps->d;
    d->FlushSuperBlockAsync(sb->id, [steps, fail](absl::StatusOr<uint32_t> left) {
      if (!left.ok() || *left != steps->sb.capacity_adus) return fail("flush");
      steps->d->CloseSuperBlockAsync(steps->sb.id, [steps, fail](absl::StatusOr<bool> closed) {
        if (!closed.ok() || !*closed) return fail("close");
        steps->d->CheckSuperBlockAsync(steps->sb.id, [steps, fail](absl::StatusOr<uint8_t> dii) {
          if (!dii.ok() || *dii != 0) return fail("check");
          steps->d->SetRootPointerAsync(
              RootPointerIndex(3), steps->sb.address, [steps, fail](absl::Status s) {
                if (!s.ok()) return fail("set root pointer");
                steps->d->GetRootPointerAsync(
                    RootPointerIndex(3), [steps, fail](absl::StatusOr<FlashAddress> rp) {
                      if (!rp.ok() || *rp != steps->sb.address) return fail("get root pointer");
                      steps->d->ReleaseSuperBlockAsync(steps->sb.id, [steps, fail](absl::Status s) {
                        if (!s.ok()) return fail("release");
                        steps->done->set_value();
                      });
                    });
              });
        });
      });
    });
  });
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(state->empty()) << state->front();
  EXPECT_TRUE(domain_->ListSuperBlocks()->empty());
}

TEST_P(ConformanceTest, SynchronousCallsFromCallbacksFailFast) {
  std::promise<std::vector<absl::Status>> seen;
  std::vector<uint8_t> data = Pattern(7, 1);
  iovec iov{data.data(), data.size()};
  domain_->WriteAsync(
      {.target = ByPlacement{PlacementId(0)}, .start = Ua(7), .data = {&iov, 1}},
      [&](absl::StatusOr<WriteResult> w) {
        std::vector<absl::Status> statuses{w.status()};
        std::vector<uint8_t> buffer(wire::kAduDataBytes);
        iovec b{buffer.data(), buffer.size()};
        if (w.ok()) {
          statuses.push_back(domain_->Read({.address = w->addresses[0], .data = {&b, 1}}));
        }
        statuses.push_back(domain_->AllocateSuperBlock().status());
        statuses.push_back(unit_->Info().status());
        statuses.push_back(unit_->ExecuteRaw(Command{}).os);
        seen.set_value(std::move(statuses));
      });
  std::future<std::vector<absl::Status>> f = seen.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  std::vector<absl::Status> statuses = f.get();
  ASSERT_EQ(statuses.size(), 5u);
  ASSERT_TRUE(statuses[0].ok()) << statuses[0];
  const char* methods[] = {"QosDomain::Read", "QosDomain::AllocateSuperBlock", "Unit::Info",
                           "Unit::ExecuteRaw"};
  for (size_t i = 1; i < statuses.size(); ++i) {
    EXPECT_EQ(statuses[i].code(), absl::StatusCode::kFailedPrecondition) << statuses[i];
    EXPECT_THAT(std::string(statuses[i].message()), HasSubstr(methods[i - 1]));
  }
  // Nothing was allocated by the refused call.
  EXPECT_EQ(domain_->ListSuperBlocks()->size(), 1u);  // the placement id's open SB
}

TEST_P(ConformanceTest, PerDomainSubscriptionsSeeOnlyTheirDomain) {
  const QosDomainId second = CreateDomain(vd_.super_block_adus * 4);
  ASSERT_NE(second.value(), 0);
  Notifications first_seen, second_seen;
  // Closes one SB in each domain: with a subscriber for each, and once more after the
  // second subscriber is gone (its events then reach the unit's callback).
  {
    std::unique_ptr<QosDomain> a =
        *unit_->OpenQosDomain(domain_id_, {.on_notification = first_seen.Callback()});
    std::unique_ptr<QosDomain> b =
        *unit_->OpenQosDomain(second, {.on_notification = second_seen.Callback()});
    for (QosDomain* d : {a.get(), b.get()}) {
      absl::StatusOr<SuperBlockAllocation> sb = d->AllocateSuperBlock();
      ASSERT_TRUE(sb.ok()) << sb.status();
      ASSERT_TRUE(d->CloseSuperBlock(sb->id).ok());
    }
    ASSERT_EQ(first_seen.WaitFor(NotificationType::kSuperBlockClosed, 1).size(), 1u);
    ASSERT_EQ(second_seen.WaitFor(NotificationType::kSuperBlockClosed, 1).size(), 1u);
  }
  std::unique_ptr<QosDomain> b = *unit_->OpenQosDomain(second);  // no subscription
  absl::StatusOr<SuperBlockAllocation> sb = b->AllocateSuperBlock();
  ASSERT_TRUE(sb.ok()) << sb.status();
  ASSERT_TRUE(b->CloseSuperBlock(sb->id).ok());
  const auto at_unit = notifications_.WaitFor(NotificationType::kSuperBlockClosed, 1);
  ASSERT_EQ(at_unit.size(), 1u);
  EXPECT_EQ(at_unit[0].domain, second);
  EXPECT_EQ(at_unit[0].super_block, sb->id);
  EXPECT_EQ(at_unit[0].address, sb->address);
  for (const Notification& n : first_seen.All()) EXPECT_EQ(n.domain, domain_id_);
  for (const Notification& n : second_seen.All()) EXPECT_EQ(n.domain, second);
  EXPECT_EQ(first_seen.All().size(), 1u);
  EXPECT_EQ(second_seen.All().size(), 1u);
}

TEST_P(ConformanceTest, DestroyingADomainWaitsForItsOperations) {
  constexpr int kWrites = 32;
  std::vector<std::vector<uint8_t>> buffers(kWrites);
  std::vector<iovec> iovs(kWrites);
  std::atomic<int> completed{0};
  {
    std::unique_ptr<QosDomain> d = *unit_->OpenQosDomain(domain_id_);
    for (int i = 0; i < kWrites; ++i) {
      buffers[i] = Pattern(i, 1);
      iovs[i] = {buffers[i].data(), buffers[i].size()};
      d->WriteAsync({.target = ByPlacement{PlacementId(0)}, .start = Ua(i), .data = {&iovs[i], 1}},
                    [&completed](absl::StatusOr<WriteResult> r) {
                      if (r.ok()) completed.fetch_add(1);
                    });
    }
  }  // ~QosDomain
  EXPECT_EQ(completed.load(), kWrites);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ConformanceTest,
    ::testing::Values(
        Backend{"model", "model:testdata/units/tiny.json"},
        Backend{"model_shuffled", "model:testdata/units/tiny.json", CompletionOrder::kShuffled},
        Backend{"device",
                std::getenv("SEF_TEST_DEVICE") != nullptr ? std::getenv("SEF_TEST_DEVICE") : ""}),
    [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

}  // namespace
}  // namespace sef::hal
