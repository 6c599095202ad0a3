// The HAL conformance suite: every API call, synchronous and asynchronous, many commands in
// flight from several threads, and notifications. It runs on every backend: always on the
// device model, and on a real or emulated SEF unit named by SEF_TEST_DEVICE=/dev/nvmeN
// (skipped cleanly when that is unset; SEF_TEST_FORCE_IOCTL=1 selects the kernel backend's
// ioctl path instead of io_uring). On a device it is destructive: it deletes every QoS
// domain and virtual device of the unit first.
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

namespace sef::hal {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Pattern(uint64_t lba, uint32_t adus) {
  std::vector<uint8_t> data(uint64_t{adus} * wire::kAduDataBytes);
  for (uint32_t i = 0; i < adus; ++i) {
    std::memset(data.data() + uint64_t{i} * wire::kAduDataBytes,
                static_cast<int>((lba + i) * 131 + 7), wire::kAduDataBytes);
  }
  return data;
}

UserAddress Ua(uint64_t lba) { return *UserAddress::Make(Lba(lba), 0xC0F); }

// The asynchronous allocation, waited for.
absl::StatusOr<SuperBlockAllocation> AllocateAsync(QosDomain& d) {
  std::promise<absl::StatusOr<SuperBlockAllocation>> promise;
  std::future<absl::StatusOr<SuperBlockAllocation>> future = promise.get_future();
  d.AllocateSuperBlockAsync(false, [&promise](absl::StatusOr<SuperBlockAllocation> r) {
    promise.set_value(std::move(r));
  });
  return future.get();
}

// Collects notifications for the test thread.
class Notifications {
 public:
  void Add(const Notification& n) {
    std::lock_guard lock(mu_);
    seen_.push_back(n);
    cv_.notify_all();
  }
  // Waits up to 10 s for `count` notifications of `type`; returns those seen.
  std::vector<Notification> WaitFor(NotificationType type, size_t count) {
    std::unique_lock lock(mu_);
    std::vector<Notification> out;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      out.clear();
      for (const Notification& n : seen_) {
        if (n.type == type) out.push_back(n);
      }
      return out.size() >= count;
    });
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Notification> seen_;
};

struct Backend {
  std::string name;
  std::string spec;  // empty: skipped
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
    options.on_notification = [this](const Notification& n) { notifications_.Add(n); };
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
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(domain_->SetRootPointer(i, FlashAddress::FromRaw(0x1000 + i)).ok());
  }
  for (int i = 0; i < 8; ++i) EXPECT_EQ(domain_->GetRootPointer(i)->raw(), 0x1000u + i);
  EXPECT_EQ(unit_->GetQosDomainInfo(domain_id_)->root_pointers[5].raw(), 0x1005u);
  absl::Status bad = domain_->SetRootPointer(8, FlashAddress::FromRaw(1));
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("root pointer index 8"));
}

TEST_P(ConformanceTest, SuperBlockLifecycle) {
  absl::StatusOr<SuperBlockAllocation> sb = domain_->AllocateSuperBlock();
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sb->capacity_adus, vd_.super_block_adus);
  absl::StatusOr<SuperBlockDetails> details = domain_->GetSuperBlockInfo(sb->address);
  ASSERT_TRUE(details.ok()) << details.status();
  EXPECT_EQ(details->state_bits & 0x0F, wire::kSbsOpenByErase);
  EXPECT_EQ(details->written_adus, 0u);

  absl::StatusOr<WriteResult> w = WriteLbas(*domain_, sb->address, 40, 5);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->addresses.size(), 5u);
  EXPECT_EQ(w->addresses[0], sb->address);
  ExpectReadsBack(*domain_, w->addresses, 40);
  EXPECT_EQ(*domain_->FlushSuperBlock(sb->address), sb->capacity_adus - 5);

  std::vector<UserAddress> uas = *domain_->GetUserAddressList(sb->address);
  ASSERT_EQ(uas.size(), sb->capacity_adus);
  EXPECT_EQ(uas[0], Ua(40));
  EXPECT_EQ(uas[4], Ua(44));
  EXPECT_TRUE(uas[5].is_ignore());

  EXPECT_EQ(*domain_->CloseSuperBlock(sb->address), true);
  EXPECT_EQ(*domain_->CloseSuperBlock(sb->address), false);
  const auto closed = notifications_.WaitFor(NotificationType::kSuperBlockClosed, 1);
  ASSERT_GE(closed.size(), 1u);
  EXPECT_EQ(closed[0].super_block, sb->address);
  EXPECT_EQ(closed[0].domain, domain_id_);
  EXPECT_EQ(closed[0].written_adus, 5u);

  std::vector<SuperBlockEntry> list = *domain_->ListSuperBlocks(SbListOrder::kClosedBySbId);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, sb->address.super_block(domain_->format()));
  EXPECT_EQ(*domain_->CheckSuperBlock(sb->address), 0);
  // A closed SB takes no more data.
  EXPECT_FALSE(WriteLbas(*domain_, sb->address, 0, 1).ok());
  ASSERT_TRUE(domain_->ReleaseSuperBlock(sb->address).ok());
  EXPECT_TRUE(domain_->ListSuperBlocks()->empty());
  std::vector<uint8_t> buffer(wire::kAduDataBytes);
  iovec iov{buffer.data(), buffer.size()};
  EXPECT_EQ(domain_->Read({.address = w->addresses[0], .data = {&iov, 1}}).code(),
            absl::StatusCode::kDataLoss);  // a released SB holds nothing readable
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

TEST_P(ConformanceTest, WriteIntoASuperBlockStopsWhenItFills) {
  absl::StatusOr<SuperBlockAllocation> sb = domain_->AllocateSuperBlock();
  ASSERT_TRUE(sb.ok()) << sb.status();
  absl::StatusOr<WriteResult> w = WriteLbas(*domain_, sb->address, 0, sb->capacity_adus + 6);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->addresses.size(), sb->capacity_adus);
  EXPECT_EQ(w->not_written, 6u);
  EXPECT_EQ(domain_->GetSuperBlockInfo(sb->address)->state_bits & 0x0F, wire::kSbsClosed);
}

TEST_P(ConformanceTest, ReadVerifyMetadataAndErrors) {
  std::vector<uint8_t> data = Pattern(500, 4), meta(4 * 16);
  for (size_t i = 0; i < meta.size(); ++i) meta[i] = static_cast<uint8_t>(i);
  iovec iov{data.data(), data.size()};
  absl::StatusOr<WriteResult> w = domain_->Write({.target = ByPlacement{PlacementId(0)},
                                                  .start = Ua(500),
                                                  .data = {&iov, 1},
                                                  .metadata = meta.data()});
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<uint8_t> back(4 * wire::kAduDataBytes), back_meta(4 * 16);
  iovec biov{back.data(), back.size()};
  ASSERT_TRUE(domain_
                  ->Read({.address = w->addresses[0],
                          .adus = 4,
                          .verify = Ua(500),
                          .data = {&biov, 1},
                          .metadata = back_meta.data()})
                  .ok());
  EXPECT_EQ(back, data);
  EXPECT_EQ(back_meta, meta);
  std::vector<uint8_t> only_meta(2 * 16);
  ASSERT_TRUE(
      domain_->Read({.address = w->addresses[2], .adus = 2, .metadata = only_meta.data()}).ok());
  EXPECT_EQ(only_meta[0], 32);
  // Wrong user address, past the written ADUs, another domain's address, a buffer that does
  // not match the ADU count.
  iovec one{back.data(), wire::kAduDataBytes};
  EXPECT_EQ(
      domain_->Read({.address = w->addresses[0], .verify = Ua(501), .data = {&one, 1}}).code(),
      absl::StatusCode::kDataLoss);
  std::vector<uint8_t> five(5 * wire::kAduDataBytes);
  iovec fiov{five.data(), five.size()};
  EXPECT_EQ(domain_->Read({.address = w->addresses[0], .adus = 5, .data = {&fiov, 1}}).code(),
            absl::StatusCode::kDataLoss);  // unwritten
  FlashAddress foreign = FlashAddress::FromRaw(w->addresses[0].raw() ^ (uint64_t{0x7F} << 48));
  EXPECT_EQ(domain_->Read({.address = foreign, .data = {&one, 1}}).code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status mismatch = domain_->Read({.address = w->addresses[0], .data = {&biov, 1}});
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("the ADU count needs 4096"));
  EXPECT_EQ(WriteLbas(*domain_, foreign, 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, NamelessCopyBitmapAndList) {
  absl::StatusOr<SuperBlockAllocation> src = domain_->AllocateSuperBlock();
  ASSERT_TRUE(src.ok());
  absl::StatusOr<WriteResult> w = WriteLbas(*domain_, src->address, 200, 10);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(domain_->CloseSuperBlock(src->address).ok());
  absl::StatusOr<SuperBlockAllocation> dst = domain_->AllocateSuperBlock();
  ASSERT_TRUE(dst.ok());
  // ADUs 1, 3, 5 by bitmap.
  absl::StatusOr<CopyResult> c = domain_->Copy(
      {.destination = dst->address, .source = cmd::CopyBitmap{src->address, {0b101010}}});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->changes.size(), 3u);
  EXPECT_TRUE(c->copy_status & wire::kCopyConsumedSource);
  EXPECT_EQ(c->changes[1].from, w->addresses[3]);
  EXPECT_EQ(c->changes[1].user_address, Ua(203));
  ExpectReadsBack(*domain_, {c->changes[1].to}, 203);
  // A list with a filter that keeps only LBAs 206..207.
  absl::StatusOr<CopyResult> l =
      domain_->Copy({.destination = dst->address,
                     .source = cmd::CopyList{{w->addresses[0], w->addresses[6], w->addresses[7]}},
                     .filter = cmd::UserAddressFilter{Ua(206), 2, false}});
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->changes.size(), 2u);
  EXPECT_TRUE(l->copy_status & wire::kCopyFilteredUas);
  ExpectReadsBack(*domain_, {l->changes[0].to, l->changes[1].to}, 206);
  EXPECT_EQ(domain_->GetSuperBlockInfo(dst->address)->written_adus, 5u);
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
  std::vector<FlashAddress> allocated;
  for (QosDomain* d : {domain_.get(), other.get()}) {
    for (;;) {
      absl::StatusOr<SuperBlockAllocation> sb = AllocateAsync(*d);
      if (!sb.ok()) {
        EXPECT_EQ(sb.status().code(), absl::StatusCode::kResourceExhausted) << sb.status();
        break;
      }
      allocated.push_back(sb->address);
      // Open SBs are limited per domain: close each as soon as it is allocated.
      ASSERT_TRUE(d->CloseSuperBlock(sb->address).ok());
    }
  }
  EXPECT_EQ(allocated.size(), vd_.free_super_blocks);
  const auto warnings = notifications_.WaitFor(NotificationType::kCapacityWarning, 1);
  ASSERT_GE(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].vd, VirtualDeviceId(1));
  EXPECT_TRUE(warnings[0].critical_warning & wire::kCritOutOfSuperBlocks);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ConformanceTest,
    ::testing::Values(Backend{"model", "model:testdata/units/tiny.json"},
                      Backend{"device", std::getenv("SEF_TEST_DEVICE") != nullptr
                                            ? std::getenv("SEF_TEST_DEVICE")
                                            : ""}),
    [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

// A transport that reports a small maximum transfer (MDTS) in Identify Controller, as QEMU's
// emulated controller does (512 KiB), and counts the commands that reach the unit.
class SmallMdtsTransport : public Transport {
 public:
  explicit SmallMdtsTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  const std::string& name() const override { return inner_->name(); }
  void Submit(const Command& c, TransportCallback done) override {
    Count(c);
    const bool identify_controller =
        c.queue == QueueType::kAdmin && c.opcode() == 0x06 && (c.sqe.cdw10 & 0xFF) == 0x01;
    if (!identify_controller) return inner_->Submit(c, std::move(done));
    auto* data = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(c.sqe.addr));
    inner_->Submit(c, [data, done = std::move(done)](TransportResult r) mutable {
      data[offsetof(wire::IdentifyController, mdts)] = 2;  // 2^2 * 4 KiB = 4 ADUs
      std::move(done)(std::move(r));
    });
  }
  void SubmitPair(const Command& first, TransportCallback first_done, const Command& second,
                  TransportCallback second_done) override {
    Count(first);
    Count(second);
    inner_->SubmitPair(first, std::move(first_done), second, std::move(second_done));
  }
  absl::Status WatchEvents(absl::AnyInvocable<void(uint32_t)> on_event) override {
    return inner_->WatchEvents(std::move(on_event));
  }
  int writes() const { return writes_.load(); }
  int reads() const { return reads_.load(); }

 private:
  void Count(const Command& c) {
    if (c.queue != QueueType::kIo) return;
    if (c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kNamelessWrite)) ++writes_;
    if (c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kRead)) ++reads_;
  }
  std::unique_ptr<Transport> inner_;
  std::atomic<int> writes_{0}, reads_{0};
};

TEST(MaxTransferTest, WritesAndReadsAboveTheControllersMdtsAreSplit) {
  absl::StatusOr<std::unique_ptr<Transport>> model =
      OpenTransport("model:testdata/units/tiny.json");
  ASSERT_TRUE(model.ok()) << model.status();
  auto transport = std::make_unique<SmallMdtsTransport>(*std::move(model));
  SmallMdtsTransport* counter = transport.get();
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open(std::move(transport));
  ASSERT_TRUE(unit.ok()) << unit.status();
  ASSERT_TRUE((*unit)->CreateVirtualDevices({{VirtualDeviceId(1), {0, 1, 2, 3}, 2, 0}}).ok());
  absl::StatusOr<QosDomainId> id = (*unit)->CreateQosDomain(
      {.vd = VirtualDeviceId(1), .capacity_adus = 512, .max_open_super_blocks = 2});
  ASSERT_TRUE(id.ok()) << id.status();
  std::unique_ptr<QosDomain> d = *(*unit)->OpenQosDomain(*id);

  std::vector<uint8_t> data = Pattern(70, 10);
  iovec iov{data.data(), data.size()};
  absl::StatusOr<WriteResult> w =
      d->Write({.target = ByPlacement{PlacementId(0)}, .start = Ua(70), .data = {&iov, 1}});
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->addresses.size(), 10u);
  EXPECT_EQ(counter->writes(), 3);  // 4 + 4 + 2 ADUs
  for (size_t i = 1; i < 10; ++i) EXPECT_EQ(w->addresses[i].raw(), w->addresses[0].raw() + i);

  std::vector<uint8_t> back(data.size()), meta(10 * 16);
  iovec biov{back.data(), back.size()};
  ASSERT_TRUE(d->Read({.address = w->addresses[0],
                       .adus = 10,
                       .verify = Ua(70),
                       .data = {&biov, 1},
                       .metadata = meta.data()})
                  .ok());
  EXPECT_EQ(counter->reads(), 3);
  EXPECT_EQ(back, data);
}

TransportResult RunRaw(Transport& t, const absl::StatusOr<Command>& c) {
  EXPECT_TRUE(c.ok()) << c.status();
  std::promise<TransportResult> p;
  std::future<TransportResult> f = p.get_future();
  t.Submit(*c, [&p](TransportResult r) { p.set_value(std::move(r)); });
  return f.get();
}

TEST(NotificationTest, EventsPendingBeforeOpenAreDrainedNotDelivered) {
  absl::StatusOr<std::unique_ptr<Transport>> t = OpenTransport("model:testdata/units/tiny.json");
  ASSERT_TRUE(t.ok()) << t.status();
  Transport& raw = **t;
  // An earlier user: a VD, a domain, an SB erased and closed (an SB event left pending).
  std::vector<uint8_t> payload(4096);
  cmd::CapacityConfig config{2, {{VirtualDeviceId(1), {cmd::DieId(0), cmd::DieId(1)}}}};
  ASSERT_TRUE(RunRaw(raw, cmd::Encode(cmd::SetCapacityConfigRequest{
                              config, cmd::MutableBytes::Of(payload)}))
                  .ok());
  ASSERT_TRUE(RunRaw(raw, cmd::Encode(cmd::SelectCapacityConfigRequest{2})).ok());
  cmd::QosDomainSpec spec;
  spec.vd = VirtualDeviceId(1);
  spec.capacity = spec.quota = PlanePageCount(64);
  const TransportResult created =
      RunRaw(raw, cmd::Encode(cmd::CreateQosDomainRequest{spec, cmd::MutableBytes::Of(payload)}));
  ASSERT_TRUE(created.ok());
  const QosDomainId id = cmd::CreateQosDomainResult::FromResult(created.result).domain;
  ASSERT_TRUE(RunRaw(raw, cmd::Encode(cmd::AttachQosDomainRequest{id, cmd::AttachAction::kAttach, 0,
                                                                  cmd::MutableBytes::Of(payload)}))
                  .ok());
  const cmd::DomainFormat f{{16, 16}, 1};
  const TransportResult erased =
      RunRaw(raw, cmd::Encode(
                      cmd::SuperBlockManagementRequest{
                          id, wire::SbOperation::kErase, kDeviceChoosesSuperBlock, 0, {}},
                      f));
  ASSERT_TRUE(erased.ok());
  const SuperBlockId old_sb = cmd::EraseResult::FromResult(erased.result).sb;
  ASSERT_TRUE(
      RunRaw(raw,
             cmd::Encode(
                 cmd::SuperBlockManagementRequest{id, wire::SbOperation::kClose, old_sb, 0, {}}, f))
          .ok());

  Notifications seen;
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open(
      *std::move(t), {.on_notification = [&seen](const Notification& n) { seen.Add(n); }});
  ASSERT_TRUE(unit.ok()) << unit.status();
  std::unique_ptr<QosDomain> d = *(*unit)->OpenQosDomain(id);
  absl::StatusOr<SuperBlockAllocation> sb = d->AllocateSuperBlock();
  ASSERT_TRUE(sb.ok()) << sb.status();
  ASSERT_TRUE(d->CloseSuperBlock(sb->address).ok());
  const std::vector<Notification> closed = seen.WaitFor(NotificationType::kSuperBlockClosed, 1);
  ASSERT_EQ(closed.size(), 1u);  // the new close only; the earlier one was drained at open
  EXPECT_EQ(closed[0].super_block, sb->address);
  d.reset();
  unit->reset();  // before `seen`
}

TEST(OpenTest, UnknownSpecsAndMissingUnitsAreReported) {
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open("bogus");
  EXPECT_EQ(unit.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unit.status().message()),
              HasSubstr("expected model:<config.json>[:<backing file>] or /dev/nvmeN"));
  unit = Unit::Open("model:testdata/units/no-such-unit.json");
  EXPECT_EQ(unit.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unit.status().message()), HasSubstr("no-such-unit.json"));
  unit = Unit::Open("/dev/nvme99");
  EXPECT_FALSE(unit.ok());
  EXPECT_THAT(std::string(unit.status().message()), HasSubstr("/dev/nvme99"));
}

}  // namespace
}  // namespace sef::hal
