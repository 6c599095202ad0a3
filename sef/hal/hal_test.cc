// HAL tests that need the device model itself: a transport that shrinks the controller's
// maximum transfer, events from before the unit was opened, two units over one in-process
// controller, the typed NVMe status of the model's answers, open errors. The suite every
// backend must pass is conformance_test.cc.
#include "sef/hal/hal.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/domain_kind.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model_transport.h"
#include "sef/hal/testing/fault_transport.h"
#include "sef/hal/testing/notifications.h"
#include "sef/hal/testing/pattern.h"

namespace sef::hal {
namespace {

using ::testing::HasSubstr;
using testing::Notifications;
using testing::Pattern;
using testing::Ua;

// A transport that reports a small maximum transfer (MDTS) in Identify Controller, as QEMU's
// emulated controller does (512 KiB), and counts the commands that reach the unit. With
// `path_limit_bytes`, the path itself carries less per command than the device (as Linux's
// max_segments does).
class SmallMdtsTransport : public Transport {
 public:
  explicit SmallMdtsTransport(std::unique_ptr<Transport> inner, uint64_t path_limit_bytes = 0)
      : inner_(std::move(inner)), path_limit_bytes_(path_limit_bytes) {}
  const std::string& name() const override { return inner_->name(); }
  uint64_t max_data_bytes_per_command() const override { return path_limit_bytes_; }
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
  absl::Status WatchEvents(absl::AnyInvocable<void(const TransportEvent&)> on_event) override {
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
  const uint64_t path_limit_bytes_;
  std::atomic<int> writes_{0}, reads_{0};
};

// A tiny-unit domain over a SmallMdtsTransport (path limit `path_limit_bytes`, 0 = none),
// with 10 ADUs written by placement id from LBA 70.
class MaxTransferTest : public ::testing::Test {
 protected:
  void OpenAndWrite(uint64_t path_limit_bytes) {
    absl::StatusOr<std::unique_ptr<Transport>> model =
        OpenTransport("model:testdata/units/tiny.json");
    ASSERT_TRUE(model.ok()) << model.status();
    auto transport = std::make_unique<SmallMdtsTransport>(*std::move(model), path_limit_bytes);
    counter_ = transport.get();
    absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open(std::move(transport));
    ASSERT_TRUE(unit.ok()) << unit.status();
    unit_ = *std::move(unit);
    ASSERT_TRUE(unit_->CreateVirtualDevices({{VirtualDeviceId(1), {0, 1, 2, 3}, 2, 0}}).ok());
    absl::StatusOr<QosDomainId> id = unit_->CreateQosDomain(
        {.vd = VirtualDeviceId(1), .capacity_adus = 512, .max_open_super_blocks = 2});
    ASSERT_TRUE(id.ok()) << id.status();
    d_ = *unit_->OpenQosDomain(*id);
    data_ = Pattern(70, 10);
    iovec iov{data_.data(), data_.size()};
    absl::StatusOr<WriteResult> w =
        d_->Write({.target = ByPlacement{PlacementId(0)}, .start = Ua(70), .data = {&iov, 1}});
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_EQ(w->addresses.size(), 10u);
    written_ = *std::move(w);
  }

  SmallMdtsTransport* counter_ = nullptr;  // owned by unit_
  std::unique_ptr<Unit> unit_;
  std::unique_ptr<QosDomain> d_;
  std::vector<uint8_t> data_;
  WriteResult written_;
};

// Regression: the kernel's per-command limit (max_segments) was not applied, so 128-ADU
// Nameless Writes failed in the kernel with EINVAL (docs/testing.md, "The 30 s stall").
TEST_F(MaxTransferTest, TheTransportsOwnLimitSplitsBelowTheMdts) {
  // 3 ADUs and a bit per command on the path, 4 by the device's MDTS.
  ASSERT_NO_FATAL_FAILURE(OpenAndWrite(3 * wire::kAduDataBytes + 100));
  EXPECT_EQ(d_->max_adus_per_command(), 3u);
  EXPECT_EQ(counter_->writes(), 4);  // 3 + 3 + 3 + 1 ADUs
}

TEST_F(MaxTransferTest, WritesAndReadsAboveTheControllersMdtsAreSplit) {
  ASSERT_NO_FATAL_FAILURE(OpenAndWrite(0));
  EXPECT_EQ(d_->max_adus_per_command(), 4u);
  EXPECT_EQ(counter_->writes(), 3);  // 4 + 4 + 2 ADUs
  const std::vector<FlashAddress>& a = written_.addresses;
  for (size_t i = 1; i < 10; ++i) EXPECT_EQ(a[i].raw(), a[0].raw() + i);

  std::vector<uint8_t> back(data_.size()), meta(10 * 16);
  iovec biov{back.data(), back.size()};
  ASSERT_TRUE(d_->Read({.address = a[0],
                        .adus = AduCount(10),
                        .verify = Ua(70),
                        .data = {&biov, 1},
                        .metadata = meta})
                  .ok());
  EXPECT_EQ(counter_->reads(), 3);
  EXPECT_EQ(back, data_);
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
  absl::StatusOr<std::unique_ptr<Unit>> unit =
      Unit::Open(*std::move(t), {.on_notification = seen.Callback()});
  ASSERT_TRUE(unit.ok()) << unit.status();
  std::unique_ptr<QosDomain> d = *(*unit)->OpenQosDomain(id);
  absl::StatusOr<SuperBlockAllocation> sb = d->AllocateSuperBlock();
  ASSERT_TRUE(sb.ok()) << sb.status();
  ASSERT_TRUE(d->CloseSuperBlock(sb->id).ok());
  const std::vector<Notification> closed = seen.WaitFor(NotificationType::kSuperBlockClosed, 1);
  ASSERT_EQ(closed.size(), 1u);  // the new close only; the earlier one was before open
  EXPECT_EQ(closed[0].super_block, sb->id);
  d.reset();
  unit->reset();  // before `seen`
}

std::shared_ptr<model::Controller> TinyController() {
  absl::StatusOr<model::UnitConfig> config = model::LoadUnitConfig("testdata/units/tiny.json");
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<model::Controller>> c =
      model::Controller::Open({.config = *config});
  EXPECT_TRUE(c.ok()) << c.status();
  return std::shared_ptr<model::Controller>(*std::move(c));
}

TEST(SharedControllerTest, TwoUnitsOverOneControllerShareDataAndEvents) {
  std::shared_ptr<model::Controller> controller = TinyController();
  Notifications first_events, second_events;
  absl::StatusOr<std::unique_ptr<Unit>> first = Unit::Open(
      MakeModelTransport(controller, "first"), {.on_notification = first_events.Callback()});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<Unit>> second = Unit::Open(
      MakeModelTransport(controller, "second"), {.on_notification = second_events.Callback()});
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*first)->CreateVirtualDevices({{VirtualDeviceId(1), {0, 1, 2, 3}, 2, 0}}).ok());
  absl::StatusOr<QosDomainId> id = (*first)->CreateQosDomain(
      {.vd = VirtualDeviceId(1), .capacity_adus = 512, .max_open_super_blocks = 2});
  ASSERT_TRUE(id.ok()) << id.status();
  // The second unit sees what the first created and wrote.
  EXPECT_EQ(*(*second)->ListQosDomains(), std::vector<QosDomainId>{*id});
  std::unique_ptr<QosDomain> writer = *(*first)->OpenQosDomain(*id);
  std::unique_ptr<QosDomain> reader = *(*second)->OpenQosDomain(*id);
  absl::StatusOr<SuperBlockAllocation> sb = writer->AllocateSuperBlock();
  ASSERT_TRUE(sb.ok()) << sb.status();
  std::vector<uint8_t> data = Pattern(9, 3);
  iovec iov{data.data(), data.size()};
  absl::StatusOr<WriteResult> w =
      writer->Write({.target = sb->id, .start = Ua(9), .data = {&iov, 1}});
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<uint8_t> back(data.size());
  iovec biov{back.data(), back.size()};
  ASSERT_TRUE(reader
                  ->Read({.address = w->addresses[0],
                          .adus = AduCount(3),
                          .verify = Ua(9),
                          .data = {&biov, 1}})
                  .ok());
  EXPECT_EQ(back, data);
  // An event is seen by both units: observing consumes nothing.
  ASSERT_TRUE(writer->CloseSuperBlock(sb->id).ok());
  EXPECT_EQ(first_events.WaitFor(NotificationType::kSuperBlockClosed, 1).size(), 1u);
  EXPECT_EQ(second_events.WaitFor(NotificationType::kSuperBlockClosed, 1).size(), 1u);
  writer.reset();
  reader.reset();
  first->reset();
  second->reset();
}

TEST(TypedStatusTest, TooManyOpenSuperBlocksKeepsItsStatus) {
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open("model:testdata/units/tiny.json");
  ASSERT_TRUE(unit.ok()) << unit.status();
  ASSERT_TRUE((*unit)->CreateVirtualDevices({{VirtualDeviceId(1), {0, 1, 2, 3}, 2, 0}}).ok());
  absl::StatusOr<QosDomainId> id = (*unit)->CreateQosDomain(
      {.vd = VirtualDeviceId(1), .capacity_adus = 512, .max_open_super_blocks = 1});
  ASSERT_TRUE(id.ok()) << id.status();
  std::unique_ptr<QosDomain> d = *(*unit)->OpenQosDomain(*id);
  ASSERT_TRUE(d->AllocateSuperBlock().ok());
  const absl::Status second = d->AllocateSuperBlock().status();
  EXPECT_EQ(second.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(NvmeStatusOf(second), NvmeStatus(1, wire::sc::kTooManyOpenSuperBlocks, true));
  EXPECT_THAT(std::string(second.message()), HasSubstr("sc=0xbe"));
}

TEST(ShuffledCompletionTest, CompletionsRunOnAnotherThreadInAnyOrder) {
  std::shared_ptr<model::Controller> controller = TinyController();
  std::unique_ptr<Transport> t = MakeModelTransport(
      controller, "shuffled", {.completion_order = CompletionOrder::kShuffled, .shuffle_seed = 7});
  // The first completion holds the delivery thread until every command is submitted, so that
  // the rest wait together and come out in the transport's shuffled order.
  constexpr int kCommands = 32;
  std::promise<void> all_submitted;
  std::shared_future<void> gate = all_submitted.get_future().share();
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  std::promise<void> all_completed;
  std::vector<std::vector<uint8_t>> buffers(kCommands, std::vector<uint8_t>(4096));
  for (int i = 0; i < kCommands; ++i) {
    absl::StatusOr<Command> c =
        cmd::Encode(cmd::IdentifySefControllerRequest{cmd::MutableBytes::Of(buffers[i])});
    ASSERT_TRUE(c.ok()) << c.status();
    t->Submit(*c, [&, i, gate](TransportResult) {
      if (i == 0) gate.wait();
      std::lock_guard lock(mu);
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
      if (order.size() == kCommands) all_completed.set_value();
    });
  }
  all_submitted.set_value();
  ASSERT_EQ(all_completed.get_future().wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
  for (std::thread::id id : threads) EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  std::sort(order.begin(), order.end());
  for (int i = 0; i < kCommands; ++i) EXPECT_EQ(order[i], i);  // each exactly once
}

TEST(FaultTransportTest, ChosenCommandsFailWithTheGivenStatus) {
  auto faults =
      std::make_unique<testing::FaultTransport>(MakeModelTransport(TinyController(), "faults"));
  testing::FaultTransport* rule = faults.get();
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open(std::move(faults));
  ASSERT_TRUE(unit.ok()) << unit.status();
  ASSERT_TRUE((*unit)->CreateVirtualDevices({{VirtualDeviceId(1), {0, 1, 2, 3}, 2, 0}}).ok());
  absl::StatusOr<QosDomainId> id = (*unit)->CreateQosDomain(
      {.vd = VirtualDeviceId(1), .capacity_adus = 512, .max_open_super_blocks = 2});
  ASSERT_TRUE(id.ok()) << id.status();
  std::unique_ptr<QosDomain> d = *(*unit)->OpenQosDomain(*id);
  std::vector<uint8_t> data = Pattern(1, 1);
  iovec iov{data.data(), data.size()};
  absl::StatusOr<WriteResult> w =
      d->Write({.target = ByPlacement{PlacementId(0)}, .start = Ua(1), .data = {&iov, 1}});
  ASSERT_TRUE(w.ok()) << w.status();
  const NvmeStatus unrecovered(2, wire::sc::kUnrecoveredReadError, true);
  rule->SetRule([&](const Command& c) -> std::optional<TransportResult> {
    if (c.queue == QueueType::kIo && c.opcode() != static_cast<uint8_t>(wire::IoOpcode::kRead)) {
      return TransportResult{absl::UnavailableError("injected: the device went away"), {}, 0};
    }
    if (c.queue == QueueType::kIo) return TransportResult{absl::OkStatus(), unrecovered, 0};
    return std::nullopt;
  });
  const absl::Status read = d->Read({.address = w->addresses[0], .data = {&iov, 1}});
  EXPECT_EQ(read.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(NvmeStatusOf(read), unrecovered);
  // A pair with a failed half is not sent: the OS error reaches the writer.
  const absl::Status write =
      d->Write({.target = ByPlacement{PlacementId(0)}, .start = Ua(2), .data = {&iov, 1}}).status();
  EXPECT_EQ(write.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(write.message()), HasSubstr("injected"));
  EXPECT_FALSE(NvmeStatusOf(write).has_value());
  rule->SetRule(nullptr);
  EXPECT_TRUE(d->Read({.address = w->addresses[0], .data = {&iov, 1}}).ok());
}

// The SDK sends capacity configurations with VDs by id and each VD's dies ascending (issue 16);
// the HAL sends that order whatever the caller's. The fault transport only watches here.
TEST(CapacityConfigTest, VirtualDevicesAndDiesAreSentSorted) {
  auto watch =
      std::make_unique<testing::FaultTransport>(MakeModelTransport(TinyController(), "watch"));
  std::vector<std::vector<uint8_t>> descriptors;  // Set Features 0xD2 payloads, as sent
  watch->SetRule([&descriptors](const Command& c) -> std::optional<TransportResult> {
    if (c.queue == QueueType::kAdmin && c.opcode() == 0x09 && (c.sqe.cdw10 & 0xFF) == 0xD2) {
      const auto* data = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(c.sqe.addr));
      descriptors.emplace_back(data, data + c.sqe.data_len);
    }
    return std::nullopt;
  });
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open(std::move(watch));
  ASSERT_TRUE(unit.ok()) << unit.status();
  ASSERT_TRUE(
      (*unit)
          ->CreateVirtualDevices({{VirtualDeviceId(2), {3, 1}}, {VirtualDeviceId(1), {2, 0}}})
          .ok());
  ASSERT_EQ(descriptors.size(), 1u);
  const std::vector<uint8_t>& d = descriptors[0];
  ASSERT_EQ(d.size(), 240u);  // 0x20 + 2 * 0x58 + 4 * 8
  const auto u16 = [&d](size_t at) { return static_cast<uint16_t>(d[at] | d[at + 1] << 8); };
  EXPECT_EQ(u16(32), 1);  // VD 1 first, dies 0 and 2
  EXPECT_EQ(u16(120), 0);
  EXPECT_EQ(u16(128), 2);
  EXPECT_EQ(u16(136), 2);  // then VD 2, dies 1 and 3
  EXPECT_EQ(u16(224), 1);
  EXPECT_EQ(u16(232), 3);
}

TEST(QosDomainCapacityTest, ResizeRoundsToPlanePagesRaisesTheQuotaAndRefusesTooMuch) {
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open("model:testdata/units/tiny.json");
  ASSERT_TRUE(unit.ok()) << unit.status();
  ASSERT_TRUE((*unit)->CreateVirtualDevices({{VirtualDeviceId(1), {0, 1, 2, 3}, 0, 0}}).ok());
  absl::StatusOr<VirtualDeviceInfo> vd = (*unit)->GetVirtualDeviceInfo(VirtualDeviceId(1));
  ASSERT_TRUE(vd.ok()) << vd.status();
  absl::StatusOr<QosDomainId> id =
      (*unit)->CreateQosDomain({.vd = VirtualDeviceId(1), .capacity_adus = 256});
  ASSERT_TRUE(id.ok()) << id.status();
  const uint32_t per_pp = (*(*unit)->Info()).adus_per_plane_page;
  ASSERT_GT(per_pp, 1u);

  ASSERT_TRUE((*unit)->SetQosDomainCapacity(*id, false, 512 + per_pp - 1, 0).ok());
  absl::StatusOr<QosDomainInfo> info = (*unit)->GetQosDomainInfo(*id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->capacity_adus, 512u);  // rounded down to whole plane pages
  EXPECT_EQ(info->quota_adus, 512u);     // raised to the capacity

  ASSERT_TRUE((*unit)->SetQosDomainCapacity(*id, false, 384, 1024).ok());
  info = (*unit)->GetQosDomainInfo(*id);
  EXPECT_EQ(info->capacity_adus, 384u);
  EXPECT_EQ(info->quota_adus, 1024u);

  absl::Status s = (*unit)->SetQosDomainCapacity(*id, false, per_pp - 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("below one plane page"));
  s = (*unit)->SetQosDomainCapacity(*id, false, vd->capacity_adus * 2);
  EXPECT_FALSE(s.ok());
  s = (*unit)->SetQosDomainCapacity(QosDomainId(7), false, 256);
  EXPECT_FALSE(s.ok());
}

TEST(QosDomainCapacityTest, TheDefectStrategyReachesTheDevice) {
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open("model:testdata/units/tiny.json");
  ASSERT_TRUE(unit.ok()) << unit.status();
  ASSERT_TRUE((*unit)->CreateVirtualDevices({{VirtualDeviceId(1), {0, 1, 2, 3}, 0, 0}}).ok());
  // The model has Perfect only: Packed is refused by the device (Invalid Field), which shows
  // that the field is sent.
  absl::StatusOr<QosDomainId> id = (*unit)->CreateQosDomain(
      {.vd = VirtualDeviceId(1), .capacity_adus = 256, .defect = DefectStrategy::kPacked});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << id.status();
  id = (*unit)->CreateQosDomain(
      {.vd = VirtualDeviceId(1), .capacity_adus = 256, .defect = DefectStrategy::kPerfect});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ((*unit)->GetQosDomainInfo(*id)->defect, DefectStrategy::kPerfect);
}

TEST(DomainLabelTest, FindsTheOneLabelledDomain) {
  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open("model:testdata/units/tiny.json");
  ASSERT_TRUE(unit.ok()) << unit.status();
  ASSERT_TRUE((*unit)->CreateVirtualDevices({{VirtualDeviceId(1), {0, 1, 2, 3}, 0, 0}}).ok());
  std::vector<QosDomainId> ids;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<QosDomainId> id =
        (*unit)->CreateQosDomain({.vd = VirtualDeviceId(1), .capacity_adus = 256});
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  const auto set_label = [&](QosDomainId id, DomainLabel label) {
    auto d = (*unit)->OpenQosDomain(id);
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_TRUE(
        (*d)->SetRootPointer(kLabelRootPointers[0], FlashAddress::FromRaw(label.first)).ok());
    ASSERT_TRUE(
        (*d)->SetRootPointer(kLabelRootPointers[1], FlashAddress::FromRaw(label.second)).ok());
  };
  set_label(ids[1], {7, 9});
  absl::StatusOr<QosDomainId> found = FindQosDomainByLabel(**unit, {7, 9});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, ids[1]);
  EXPECT_EQ(LabelOf(*(*unit)->GetQosDomainInfo(ids[1])), (DomainLabel{7, 9}));

  found = FindQosDomainByLabel(**unit, {9, 7});
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(found.status().message(), HasSubstr("\"9 7\""));
  EXPECT_EQ(FindQosDomainByLabel(**unit, {}).status().code(), absl::StatusCode::kInvalidArgument);
  set_label(ids[2], {7, 9});
  found = FindQosDomainByLabel(**unit, {7, 9});
  EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
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
