// Malformed and undefined commands sent raw (encoded, then altered, or built by hand): the
// model answers each with the NVMe status its place in the command set calls for.
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model {
namespace {

using testing::CommandSpecific;
using testing::Generic;
using testing::ModelHarness;
namespace sc = wire::sc;

constexpr VirtualDeviceId kVd(1);

class RawTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.ok());
    h_.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
    d_ = h_.CreateDomain(h_.DefaultSpec(kVd));
    ASSERT_NE(d_.value(), 0);
    f_ = h_.FormatOf(d_);
  }
  Command Admin(const cmd::AdminRequest& r) {
    absl::StatusOr<Command> c = cmd::Encode(r);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : Command{};
  }
  Command Io(const cmd::IoRequest& r) {
    absl::StatusOr<Command> c = cmd::Encode(r, f_);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : Command{};
  }
  Command Erase() {
    return Io(cmd::SuperBlockManagementRequest{
        d_, wire::SbOperation::kErase, kDeviceChoosesSuperBlock, 0, {}});
  }

  ModelHarness h_ = ModelHarness::Open("tiny");
  QosDomainId d_;
  cmd::DomainFormat f_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(4096);
};

TEST_F(RawTest, UnknownAdminOpcode) {
  Command c;
  c.queue = QueueType::kAdmin;
  c.sqe.opcode = 0x7E;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidOpcode));
  c.sqe.opcode = 0x05;  // "CMDSPEC_IDENTIFY": defined by the SDK, never used
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidOpcode));
}

TEST_F(RawTest, UnknownIoOpcode) {
  Command c = Erase();
  c.sqe.opcode = 0xD9;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidOpcode));
  c.sqe.opcode = 0x01;  // NVM Write: not part of the SEF command set
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidOpcode));
}

TEST_F(RawTest, IoOnMissingNamespace) {
  Command c = Erase();
  c.sqe.nsid = 5;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidNamespace));
  c.sqe.nsid = 0x10000;  // above every QoS domain id
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidNamespace));
  c.sqe.nsid = d_.value();
  EXPECT_TRUE(h_.Raw(c).status.ok());
}

TEST_F(RawTest, UndefinedSelIsInvalidField) {
  // Set Features 0xD0 SEL 7.
  Command c = Admin(cmd::SetVdAenControlRequest{kVd, 1});
  c.sqe.cdw11 = (c.sqe.cdw11 & ~0xFu) | 7;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  // Get Features 0xD0 SEL 0 (only SEL 1 is defined for Get).
  c = Admin(cmd::GetReadFifoListRequest{kVd, cmd::MutableBytes::Of(buf_)});
  c.sqe.cdw11 &= ~0xFu;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  // Set Features 0xD1 SEL 9.
  c = Admin(cmd::SetWeightsRequest{d_, 1, 1});
  c.sqe.cdw11 = (c.sqe.cdw11 & ~0xFu) | 9;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  // Get Features 0xD1 SEL 2.
  c = Admin(cmd::GetRootPointerRequest{d_, 0});
  c.sqe.cdw11 = (c.sqe.cdw11 & ~0xFu) | 2;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  // Get Features 0xD1 SEL 0 with root pointer index 8.
  c = Admin(cmd::GetRootPointerRequest{d_, 0});
  c.sqe.cdw11 = (c.sqe.cdw11 & ~0xF0u) | (8u << 4);
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  // An AEN mask beyond the three critical-warning bits.
  c = Admin(cmd::SetVdAenControlRequest{kVd, 1});
  c.sqe.cdw11 |= 0x08u << 16;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
}

TEST_F(RawTest, UndefinedFeatureIdIsInvalidField) {
  Command c = Admin(cmd::SetWeightsRequest{d_, 1, 1});
  c.sqe.cdw10 = (c.sqe.cdw10 & ~0xFFu) | 0x05;  // Error Recovery: defined, unused
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
}

TEST_F(RawTest, UnknownLogPage) {
  Command c = Admin(cmd::ReadFifoLogRequest{kVd, cmd::MutableBytes::Of(buf_)});
  c.sqe.cdw10 = (c.sqe.cdw10 & ~0xFFu) | 0xC0;
  EXPECT_EQ(h_.Raw(c).status, CommandSpecific(sc::kInvalidLogPage));
  c.sqe.cdw10 = (c.sqe.cdw10 & ~0xFFu) | 0xD7;
  EXPECT_EQ(h_.Raw(c).status, CommandSpecific(sc::kInvalidLogPage));
  c.sqe.cdw10 = (c.sqe.cdw10 & ~0xFFu) | 0x11;  // supported capacity config list (nvme-cli)
  EXPECT_EQ(h_.Raw(c).status, CommandSpecific(sc::kInvalidLogPage));
}

TEST_F(RawTest, SuperBlockListOrderBeyondFour) {
  Command c = Admin(
      cmd::SuperBlockListLogRequest{d_, wire::SbListOrder::kAll, 0, cmd::MutableBytes::Of(buf_)});
  c.sqe.cdw10 = (c.sqe.cdw10 & ~(0x7u << 12)) | (5u << 12);
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
}

TEST_F(RawTest, UndefinedIdentifyCnsOrCsi) {
  Command c = Admin(cmd::IdentifySefControllerRequest{cmd::MutableBytes::Of(buf_)});
  c.sqe.cdw11 &= 0x00FFFFFFu;  // CSI 0 (NVM) instead of 0x30
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  c = Admin(cmd::IdentifySefControllerRequest{cmd::MutableBytes::Of(buf_)});
  c.sqe.cdw10 = (c.sqe.cdw10 & ~0xFFu) | 0x02;  // active namespace list: not decoded
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
}

TEST_F(RawTest, UndefinedOperationsAreInvalidField) {
  // Super Block Management operation 5.
  Command c = Erase();
  c.sqe.cdw11 = (c.sqe.cdw11 & ~(0xFu << 16)) | (5u << 16);
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  // Capacity Management operation 1 (create endurance group).
  c = Admin(cmd::SelectCapacityConfigRequest{0});
  c.sqe.cdw10 |= 1;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  // NS Management SEL 2.
  c = Admin(cmd::DeleteQosDomainRequest{d_});
  c.sqe.cdw10 = 2;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
  // NS Attachment SEL 2.
  c = Admin(
      cmd::AttachQosDomainRequest{d_, cmd::AttachAction::kDetach, 0, cmd::MutableBytes::Of(buf_)});
  c.sqe.cdw10 = 2;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
}

TEST_F(RawTest, NlwidZeroIsInvalidField) {
  std::vector<uint8_t> arr(sizeof(wire::AddressRequestResponse));
  Command c = Io(cmd::FlashAddressRequest{d_, PlacementId(0), 1, 0, cmd::MutableBytes::Of(arr)});
  c.sqe.cdw13 = 0;
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
}

TEST_F(RawTest, PlacementIdBeyondTheDomainIsInvalidField) {
  std::vector<uint8_t> arr(sizeof(wire::AddressRequestResponse));
  Command c = Io(cmd::FlashAddressRequest{d_, PlacementId(0), 1, 0, cmd::MutableBytes::Of(arr)});
  c.sqe.cdw15 = (c.sqe.cdw15 & ~0xFFFFu) | 2;  // the domain has placement ids 0 and 1
  EXPECT_EQ(h_.Raw(c).status, Generic(sc::kInvalidField));
}

}  // namespace
}  // namespace sef::model
