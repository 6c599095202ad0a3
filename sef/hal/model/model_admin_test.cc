// Conformance tests of the device model's admin commands, driven only through encoded
// commands: Identify (every CNS), capacity configurations, Set/Get Features 0xD0 / 0xD1 / 0xD2
// (every SEL), QoS domain create / delete / attach / detach, and every log 0xD0-0xD6.
//
// Geometry (testdata/units/tiny.json): 2 channels x 2 banks = 4 dies, 2 planes, 4 pages per
// block, 16 blocks per die, 4 ADUs per plane page (32 ADUs = 8 plane pages per die block).
#include <cstring>
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

template <typename T>
T As(const std::vector<uint8_t>& buf, size_t offset = 0) {
  T v{};
  std::memcpy(&v, buf.data() + offset, sizeof(T));
  return v;
}

std::vector<wire::ReadFifoEntry> FifoEntries(const std::vector<uint8_t>& buf) {
  std::vector<wire::ReadFifoEntry> out;
  for (size_t o = 0; o + 8 <= buf.size(); o += 8) {
    const auto e = As<wire::ReadFifoEntry>(buf, o);
    if (e.rfid == 0) break;
    out.push_back(e);
  }
  return out;
}

std::vector<wire::SbListEntry> SbEntries(const std::vector<uint8_t>& buf) {
  std::vector<wire::SbListEntry> out;
  for (size_t o = 0; o + 8 <= buf.size(); o += 8) {
    const auto e = As<wire::SbListEntry>(buf, o);
    if (e.sbid == wire::kSbListEnd) break;
    out.push_back(e);
  }
  return out;
}

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h_.ok()); }

  // VD 1 on all four dies, 2 dies per SB (32 SBs of 64 ADUs = 16 plane pages).
  void StandardVd() { h_.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2); }

  Completion Create(const cmd::QosDomainSpec& spec) {
    std::vector<uint8_t> payload(4096);
    return h_.Admin(cmd::CreateQosDomainRequest{spec, cmd::MutableBytes::Of(payload)});
  }
  Completion Attach(QosDomainId d, cmd::AttachAction action, uint16_t controller = 0) {
    std::vector<uint8_t> list(4096);
    return h_.Admin(
        cmd::AttachQosDomainRequest{d, action, controller, cmd::MutableBytes::Of(list)});
  }
  cmd::QosDomainSpec Spec(uint64_t capacity) {
    cmd::QosDomainSpec spec;
    spec.vd = kVd;
    spec.capacity = PlanePageCount(capacity);
    spec.quota = PlanePageCount(capacity);
    spec.num_placement_ids = 2;
    spec.max_open_super_blocks = 4;
    return spec;
  }
  std::vector<uint8_t> ReadFifoLog(VirtualDeviceId vd, NvmeStatus* status = nullptr) {
    std::vector<uint8_t> buf(256);
    const Completion c = h_.Admin(cmd::ReadFifoLogRequest{vd, cmd::MutableBytes::Of(buf)});
    if (status != nullptr) *status = c.status;
    return buf;
  }
  std::vector<wire::SbListEntry> SbList(QosDomainId d, wire::SbListOrder order, uint64_t offset = 0,
                                        uint32_t bytes = 512) {
    std::vector<uint8_t> buf(bytes);
    const Completion c =
        h_.Admin(cmd::SuperBlockListLogRequest{d, order, offset, cmd::MutableBytes::Of(buf)});
    EXPECT_TRUE(c.status.ok()) << c.status;
    return SbEntries(buf);
  }

  ModelHarness h_ = ModelHarness::Open("tiny");
};

// ---- Identify ---------------------------------------------------------------------------------

TEST_F(AdminTest, IdentifyController) {
  std::vector<uint8_t> buf(4096, 0xEE);
  ASSERT_TRUE(h_.Admin(cmd::IdentifyControllerRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  auto id = std::make_unique<wire::IdentifyController>();
  std::memcpy(id.get(), buf.data(), sizeof(*id));
  EXPECT_EQ(id->nn, 8u);  // max_qos_domains
  EXPECT_TRUE(id->ctratt & wire::kCtrattDeleteEnduranceGroup);
  EXPECT_TRUE(id->oacs & (1u << 3));  // namespace management
  EXPECT_EQ(id->aerl, 3);             // four AERs (0-based)
  EXPECT_EQ(std::string(id->sn, sizeof(id->sn)), "SEFTINY0001         ");
  EXPECT_EQ(std::string(id->mn, 18), "SEF software model");
  EXPECT_EQ(id->mn[18], ' ');
  EXPECT_EQ(buf[4095], 0);  // the rest is zero, not left as it was
}

TEST_F(AdminTest, IdentifySefController) {
  std::vector<uint8_t> buf(4096);
  ASSERT_TRUE(h_.Admin(cmd::IdentifySefControllerRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  auto id = As<wire::IdentifySefController>(buf);
  EXPECT_EQ(id.cap,
            wire::kCapPerfect | wire::kCapCopyUaRange | wire::kCapCopyFlaList | wire::kCapPslc);
  EXPECT_EQ(id.nch, 1);
  EXPECT_EQ(id.nbnk, 1);
  EXPECT_EQ(id.nblk, 15);
  EXPECT_EQ(id.npag, 3);
  EXPECT_EQ(id.npl, 1);
  EXPECT_EQ(id.plds, 14);  // 16 KiB plane pages: 4 ADUs
  EXPECT_EQ(id.eop, 0);
  EXPECT_EQ(id.nplid, 3);
  EXPECT_EQ(id.mxosb, 4u);
  EXPECT_EQ(id.nrf, 8u);
  EXPECT_EQ(id.npsi, 1);
  EXPECT_EQ(id.nvd, 0);
  EXPECT_EQ(id.nqosd, 0);
  EXPECT_EQ(id.nurf, 0u);
  StandardVd();
  h_.CreateDomain(Spec(64));
  ASSERT_TRUE(h_.Admin(cmd::IdentifySefControllerRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  id = As<wire::IdentifySefController>(buf);
  EXPECT_EQ(id.nvd, 1);
  EXPECT_EQ(id.nqosd, 1);
  EXPECT_EQ(id.nurf, 1u);  // the VD's default FIFO
}

TEST_F(AdminTest, IdentifySefNamespace) {
  StandardVd();
  ASSERT_TRUE(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kAttach, ReadFifoId(3), 40, false})
          .status.ok());
  cmd::QosDomainSpec spec = Spec(100);
  spec.quota = PlanePageCount(120);
  spec.pslc_capacity = PlanePageCount(8);
  spec.pslc_quota = PlanePageCount(12);
  spec.num_placement_ids = 3;
  spec.max_open_super_blocks = 3;  // kept: not below the placement ids
  spec.program_weight = 300;
  spec.erase_weight = 77;
  spec.default_read_fifo = ReadFifoId(3);
  spec.deadline = wire::ReadDeadline::kHeroic;
  const QosDomainId d = h_.CreateDomain(spec);
  ASSERT_EQ(d, QosDomainId(1));
  const wire::IdentifySefNamespace ns = h_.NamespaceInfo(d);
  EXPECT_EQ(ns.nsze, 400u);  // ADUs
  EXPECT_EQ(ns.ncap, 400u);
  EXPECT_EQ(ns.nuse, 0u);
  EXPECT_EQ(ns.lbaf[0].ms, 16);
  EXPECT_EQ(ns.lbaf[0].lbads, 12);
  EXPECT_EQ(ns.endgid, 1);
  EXPECT_EQ(ns.qosds, 2u | (0u << 2));  // heroic, perfect
  EXPECT_EQ(ns.nplid, 2);
  EXPECT_EQ(ns.mxosb, 3);
  EXPECT_EQ(ns.wwt, 300);
  EXPECT_EQ(ns.ewt, 77);
  EXPECT_EQ(ns.drfid, 3u);
  EXPECT_EQ(ns.sbsta.gcap, 100u);
  EXPECT_EQ(ns.sbsta.quota, 120u);
  EXPECT_EQ(ns.psbsta.gcap, 8u);
  EXPECT_EQ(ns.psbsta.quota, 12u);
  for (uint64_t r : ns.rootptr) EXPECT_EQ(r, 0u);
  // After an erase, usage shows in plane pages (and nuse in ADUs).
  ASSERT_TRUE(h_.Erase(d).completion.status.ok());
  const wire::IdentifySefNamespace after = h_.NamespaceInfo(d);
  EXPECT_EQ(after.sbsta.ucap, 16u);
  EXPECT_EQ(after.nuse, 64u);
  EXPECT_EQ(after.sbsta.nsb, 1u);
  // A missing domain.
  std::vector<uint8_t> buf(4096);
  EXPECT_EQ(
      h_.Admin(cmd::IdentifySefNamespaceRequest{QosDomainId(5), cmd::MutableBytes::Of(buf)}).status,
      Generic(sc::kInvalidNamespace));
}

TEST_F(AdminTest, IdentifyVirtualDeviceList) {
  cmd::CapacityConfig config;
  config.id = 2;
  config.vds = {{VirtualDeviceId(1), {cmd::DieId(0), cmd::DieId(1)}},
                {VirtualDeviceId(3), {cmd::DieId(2), cmd::DieId(3)}}};
  std::vector<uint8_t> payload(4096), buf(4096);
  ASSERT_TRUE(
      h_.Admin(cmd::SetCapacityConfigRequest{config, cmd::MutableBytes::Of(payload)}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::IdentifyVirtualDeviceListRequest{VirtualDeviceId(1),
                                                             cmd::MutableBytes::Of(buf)})
                  .status.ok());
  EXPECT_EQ(As<wire::IdList16>(buf).count, 0);  // defined, not selected
  ASSERT_TRUE(h_.Admin(cmd::SelectCapacityConfigRequest{2}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::IdentifyVirtualDeviceListRequest{VirtualDeviceId(1),
                                                             cmd::MutableBytes::Of(buf)})
                  .status.ok());
  auto list = As<wire::IdList16>(buf);
  ASSERT_EQ(list.count, 2);
  EXPECT_EQ(list.ids[0], 1);
  EXPECT_EQ(list.ids[1], 3);
  ASSERT_TRUE(h_.Admin(cmd::IdentifyVirtualDeviceListRequest{VirtualDeviceId(2),
                                                             cmd::MutableBytes::Of(buf)})
                  .status.ok());
  list = As<wire::IdList16>(buf);
  ASSERT_EQ(list.count, 1);
  EXPECT_EQ(list.ids[0], 3);
}

TEST_F(AdminTest, IdentifyCommandSetVector) {
  std::vector<uint8_t> buf(4096);
  ASSERT_TRUE(
      h_.Admin(cmd::IdentifyCommandSetVectorRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  const uint64_t v0 = As<uint64_t>(buf);
  EXPECT_TRUE(v0 & wire::kCommandSetVectorSefBit);
  EXPECT_EQ(As<uint64_t>(buf, 8), 0u);
}

// ---- capacity configuration -------------------------------------------------------------------

TEST_F(AdminTest, CapacityConfigSelectGetAndDelete) {
  std::vector<uint8_t> buf(4096, 0xEE);
  // Nothing selected: Get Features 0xD2 returns zeros.
  ASSERT_TRUE(h_.Admin(cmd::GetCapacityConfigRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  EXPECT_EQ(buf, std::vector<uint8_t>(4096, 0));
  cmd::CapacityConfig config;
  config.id = 2;
  config.vds = {{VirtualDeviceId(1), {cmd::DieId(3), cmd::DieId(1)}},
                {VirtualDeviceId(2), {cmd::DieId(0), cmd::DieId(2)}}};
  std::vector<uint8_t> payload(4096);
  ASSERT_TRUE(
      h_.Admin(cmd::SetCapacityConfigRequest{config, cmd::MutableBytes::Of(payload)}).status.ok());
  // An undefined configuration.
  EXPECT_EQ(h_.Admin(cmd::SelectCapacityConfigRequest{5}).status, Generic(sc::kInvalidField));
  ASSERT_TRUE(h_.Admin(cmd::SelectCapacityConfigRequest{2}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::GetCapacityConfigRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  config.Sort();  // kept in the SDK's order: VDs by id, dies ascending
  const std::vector<uint8_t> expected = cmd::SerializeCapacityConfig(config);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), buf.begin()));
  // Die lists are sorted in log 0xD0.
  std::vector<uint8_t> log(512);
  ASSERT_TRUE(h_.Admin(cmd::VdInfoLogRequest{kVd, false, cmd::MutableBytes::Of(log)}).status.ok());
  EXPECT_EQ(As<wire::VdInfoLogHeader>(log).ndie, 1);
  EXPECT_EQ(As<uint16_t>(log, 196), 1);
  EXPECT_EQ(As<uint16_t>(log, 198), 3);
  // Selecting another configuration while VDs exist.
  EXPECT_EQ(h_.Admin(cmd::SelectCapacityConfigRequest{2}).status,
            Generic(sc::kCommandSequenceError));
  // Deleting VDs while a QoS domain exists.
  const QosDomainId d = h_.CreateDomain(Spec(16));
  EXPECT_EQ(h_.Admin(cmd::SelectCapacityConfigRequest{0}).status,
            Generic(sc::kCommandSequenceError));
  ASSERT_TRUE(Attach(d, cmd::AttachAction::kDetach).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::DeleteQosDomainRequest{d}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::SelectCapacityConfigRequest{0}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::IdentifyVirtualDeviceListRequest{VirtualDeviceId(1),
                                                             cmd::MutableBytes::Of(buf)})
                  .status.ok());
  EXPECT_EQ(As<wire::IdList16>(buf).count, 0);
  EXPECT_EQ(h_.Admin(cmd::VdInfoLogRequest{kVd, false, cmd::MutableBytes::Of(log)}).status,
            Generic(sc::kInvalidField));
  // The configuration can be selected again.
  EXPECT_TRUE(h_.Admin(cmd::SelectCapacityConfigRequest{2}).status.ok());
}

TEST_F(AdminTest, SelectedCapacityConfigCannotBeRedefined) {
  StandardVd();  // config 2: VD 1 on dies 0-3
  cmd::CapacityConfig other;
  other.id = 2;
  other.vds = {{VirtualDeviceId(5), {cmd::DieId(0)}}};
  std::vector<uint8_t> payload(4096), buf(4096);
  EXPECT_EQ(h_.Admin(cmd::SetCapacityConfigRequest{other, cmd::MutableBytes::Of(payload)}).status,
            Generic(sc::kCommandSequenceError));
  // Get Features 0xD2 still describes the VDs that exist.
  ASSERT_TRUE(h_.Admin(cmd::GetCapacityConfigRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  EXPECT_EQ(As<wire::EnduranceGroupConfig>(buf, sizeof(wire::CapacityConfigHeader)).endgid, 1);
  // Another id may be defined meanwhile.
  other.id = 3;
  EXPECT_TRUE(
      h_.Admin(cmd::SetCapacityConfigRequest{other, cmd::MutableBytes::Of(payload)}).status.ok());
}

TEST_F(AdminTest, CapacityConfigWithDiesPastTheUnit) {
  cmd::CapacityConfig config;
  config.id = 3;
  config.vds = {{VirtualDeviceId(1), {cmd::DieId(0), cmd::DieId(4)}}};
  std::vector<uint8_t> payload(4096);
  EXPECT_EQ(h_.Admin(cmd::SetCapacityConfigRequest{config, cmd::MutableBytes::Of(payload)}).status,
            Generic(sc::kInvalidField));
  EXPECT_EQ(h_.Admin(cmd::SelectCapacityConfigRequest{3}).status, Generic(sc::kInvalidField));
}

// ---- Set Features 0xD0 ------------------------------------------------------------------------

TEST_F(AdminTest, DiesPerSuperBlock) {
  StandardVd();
  ASSERT_TRUE(h_.Admin(cmd::SetDiesPerSuperBlockRequest{kVd, 1}).status.ok());
  wire::VdInfoLogHeader info = h_.VdInfo(kVd);
  EXPECT_EQ(info.nsbdie, 1);
  EXPECT_EQ(info.sbsta.nfrsb, 64u);
  EXPECT_EQ(info.vdcap, 512u);
  ASSERT_TRUE(h_.Admin(cmd::SetDiesPerSuperBlockRequest{kVd, 4}).status.ok());
  info = h_.VdInfo(kVd);
  EXPECT_EQ(info.nsbdie, 4);
  EXPECT_EQ(info.sbsta.nfrsb, 16u);
  // Must divide the VD's dies.
  EXPECT_EQ(h_.Admin(cmd::SetDiesPerSuperBlockRequest{kVd, 3}).status, Generic(sc::kInvalidField));
  EXPECT_EQ(h_.Admin(cmd::SetDiesPerSuperBlockRequest{kVd, 8}).status, Generic(sc::kInvalidField));
  // A missing VD.
  EXPECT_EQ(h_.Admin(cmd::SetDiesPerSuperBlockRequest{VirtualDeviceId(2), 1}).status,
            Generic(sc::kInvalidField));
  // Not while the VD has QoS domains.
  const QosDomainId d = h_.CreateDomain(Spec(64));
  EXPECT_EQ(h_.Admin(cmd::SetDiesPerSuperBlockRequest{kVd, 2}).status,
            Generic(sc::kCommandSequenceError));
  EXPECT_EQ(h_.Erase(d).capacity, 128u);  // 4 dies x 32
}

TEST_F(AdminTest, ReadFifoAttachChangeDetach) {
  StandardVd();
  std::vector<wire::ReadFifoEntry> list = FifoEntries(ReadFifoLog(kVd));
  ASSERT_EQ(list.size(), 1u);  // the VD's default FIFO, RFID = VD id
  EXPECT_EQ(list[0].rfid, 1u);
  EXPECT_EQ(list[0].vdid, 1);
  EXPECT_EQ(h_.VdInfo(kVd).drfid, 1u);
  EXPECT_EQ(h_.VdInfo(kVd).nrf, 1u);
  // Attach FIFO 3.
  ASSERT_TRUE(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kAttach, ReadFifoId(3), 50, false})
          .status.ok());
  list = FifoEntries(ReadFifoLog(kVd));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].rfid, 3u);
  EXPECT_EQ(list[1].weight, 50);
  EXPECT_EQ(h_.VdInfo(kVd).nrf, 2u);
  // Attaching it again, or a FIFO the unit does not have.
  EXPECT_EQ(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kAttach, ReadFifoId(3), 5, false})
          .status,
      Generic(sc::kInvalidField));
  EXPECT_EQ(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kAttach, ReadFifoId(9), 5, false})
          .status,
      Generic(sc::kInvalidField));
  // Change: weight and VD default.
  ASSERT_TRUE(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kChange, ReadFifoId(3), 70, true})
          .status.ok());
  list = FifoEntries(ReadFifoLog(kVd));
  EXPECT_EQ(list[1].weight, 70);
  EXPECT_EQ(h_.VdInfo(kVd).drfid, 3u);
  // Changing a FIFO that is not attached to the VD.
  EXPECT_EQ(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kChange, ReadFifoId(5), 1, false})
          .status,
      Generic(sc::kInvalidField));
  // Get Features 0xD0 SEL 1 returns the same list.
  std::vector<uint8_t> buf(256);
  ASSERT_TRUE(h_.Admin(cmd::GetReadFifoListRequest{kVd, cmd::MutableBytes::Of(buf)}).status.ok());
  EXPECT_EQ(buf, ReadFifoLog(kVd));
  // Detach: not while it is the VD's default.
  EXPECT_EQ(h_.Admin(cmd::DetachReadFifoRequest{kVd, ReadFifoId(3)}).status,
            Generic(sc::kCommandSequenceError));
  ASSERT_TRUE(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kChange, ReadFifoId(1), 1, true})
          .status.ok());
  // Not while a domain uses it as its default.
  cmd::QosDomainSpec spec = Spec(16);
  spec.default_read_fifo = ReadFifoId(3);
  const QosDomainId d = h_.CreateDomain(spec);
  EXPECT_EQ(h_.Admin(cmd::DetachReadFifoRequest{kVd, ReadFifoId(3)}).status,
            Generic(sc::kCommandSequenceError));
  ASSERT_TRUE(h_.Admin(cmd::SetDefaultReadFifoRequest{d, ReadFifoId(1)}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::DetachReadFifoRequest{kVd, ReadFifoId(3)}).status.ok());
  EXPECT_EQ(FifoEntries(ReadFifoLog(kVd)).size(), 1u);
  // Detaching a FIFO that is not attached.
  EXPECT_EQ(h_.Admin(cmd::DetachReadFifoRequest{kVd, ReadFifoId(3)}).status,
            Generic(sc::kInvalidField));
  // A missing VD.
  NvmeStatus status;
  ReadFifoLog(VirtualDeviceId(4), &status);
  EXPECT_EQ(status, Generic(sc::kInvalidField));
  EXPECT_EQ(h_.Admin(cmd::SetReadFifoRequest{VirtualDeviceId(4), cmd::ReadFifoAction::kAttach,
                                             ReadFifoId(6), 1, false})
                .status,
            Generic(sc::kInvalidField));
}

TEST_F(AdminTest, ReadFifosBelongToOneVd) {
  cmd::CapacityConfig config;
  config.vds = {{VirtualDeviceId(1), {cmd::DieId(0), cmd::DieId(1)}},
                {VirtualDeviceId(2), {cmd::DieId(2), cmd::DieId(3)}}};
  std::vector<uint8_t> payload(4096);
  ASSERT_TRUE(
      h_.Admin(cmd::SetCapacityConfigRequest{config, cmd::MutableBytes::Of(payload)}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::SelectCapacityConfigRequest{2}).status.ok());
  // FIFO 2 is VD 2's default: VD 1 can neither attach, change nor detach it.
  EXPECT_EQ(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kAttach, ReadFifoId(2), 1, false})
          .status,
      Generic(sc::kInvalidField));
  EXPECT_EQ(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kChange, ReadFifoId(2), 1, false})
          .status,
      Generic(sc::kInvalidField));
  EXPECT_EQ(h_.Admin(cmd::DetachReadFifoRequest{kVd, ReadFifoId(2)}).status,
            Generic(sc::kInvalidField));
  // A domain of VD 1 cannot default to it.
  cmd::QosDomainSpec spec = Spec(16);
  spec.default_read_fifo = ReadFifoId(2);
  EXPECT_EQ(Create(spec).status, Generic(sc::kInvalidField));
}

TEST_F(AdminTest, PslcSuperBlockCount) {
  StandardVd();
  ASSERT_TRUE(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 4}).status.ok());
  wire::VdInfoLogHeader info = h_.VdInfo(kVd);
  EXPECT_EQ(info.npblk, 8u);         // 4 SBs x 2 dies
  EXPECT_EQ(info.psbsta.tcap, 16u);  // 4 x 16 ADUs = 4 x 4 plane pages
  EXPECT_EQ(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 33}).status, Generic(sc::kInvalidField));
  // Not below the pSLC SBs in use.
  cmd::QosDomainSpec spec = Spec(64);
  spec.pslc_capacity = PlanePageCount(8);
  spec.pslc_quota = PlanePageCount(8);
  const QosDomainId d = h_.CreateDomain(spec);
  ASSERT_TRUE(h_.Erase(d, kDeviceChoosesSuperBlock, true).completion.status.ok());
  ASSERT_TRUE(h_.Erase(d, kDeviceChoosesSuperBlock, true).completion.status.ok());
  EXPECT_EQ(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 1}).status,
            Generic(sc::kCommandSequenceError));
  EXPECT_TRUE(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 2}).status.ok());
  EXPECT_EQ(h_.Admin(cmd::SetPslcSuperBlocksRequest{VirtualDeviceId(9), 1}).status,
            Generic(sc::kInvalidField));
}

TEST_F(AdminTest, AenControlSuspendAndResetScheduler) {
  StandardVd();
  EXPECT_EQ(h_.VdInfo(kVd).cwc, wire::kCritAll);
  ASSERT_TRUE(h_.Admin(cmd::SetVdAenControlRequest{kVd, 0x5}).status.ok());
  EXPECT_EQ(h_.VdInfo(kVd).cwc, 0x5);
  ASSERT_TRUE(h_.Admin(cmd::SetVdAenControlRequest{kVd, 0}).status.ok());
  EXPECT_EQ(h_.VdInfo(kVd).cwc, 0);
  EXPECT_TRUE(h_.Admin(cmd::SetSuspendConfigRequest{kVd, 1000}).status.ok());
  EXPECT_TRUE(h_.Admin(cmd::ResetSchedulerRequest{kVd}).status.ok());
  const VirtualDeviceId missing(2);
  EXPECT_EQ(h_.Admin(cmd::SetVdAenControlRequest{missing, 1}).status, Generic(sc::kInvalidField));
  EXPECT_EQ(h_.Admin(cmd::SetSuspendConfigRequest{missing, 1}).status, Generic(sc::kInvalidField));
  EXPECT_EQ(h_.Admin(cmd::ResetSchedulerRequest{missing}).status, Generic(sc::kInvalidField));
}

// ---- Set / Get Features 0xD1 ------------------------------------------------------------------

TEST_F(AdminTest, RootPointers) {
  StandardVd();
  const QosDomainId d = h_.CreateDomain(Spec(64));
  for (uint8_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(h_.Admin(cmd::SetRootPointerRequest{
                             d, i, FlashAddress::FromRaw(0x0001'0000'0000'0000 + 0x1111 * i)})
                    .status.ok())
        << int{i};
  }
  for (uint8_t i = 0; i < 8; ++i) {
    const Completion c = h_.Admin(cmd::GetRootPointerRequest{d, i});
    ASSERT_TRUE(c.status.ok()) << int{i};
    EXPECT_EQ(cmd::RootPointerResult::FromResult(c.result).value.raw(),
              0x0001'0000'0000'0000 + 0x1111 * i);
  }
  EXPECT_EQ(h_.NamespaceInfo(d).rootptr[5], 0x0001'0000'0000'0000 + 0x1111 * 5);
  // Any 64-bit value, and overwriting.
  ASSERT_TRUE(
      h_.Admin(cmd::SetRootPointerRequest{d, 7, FlashAddress::FromRaw(~uint64_t{0})}).status.ok());
  EXPECT_EQ(h_.Admin(cmd::GetRootPointerRequest{d, 7}).result, ~uint64_t{0});
  // A missing domain.
  EXPECT_EQ(h_.Admin(cmd::GetRootPointerRequest{QosDomainId(4), 0}).status,
            Generic(sc::kInvalidNamespace));
  EXPECT_EQ(
      h_.Admin(cmd::SetRootPointerRequest{QosDomainId(4), 0, FlashAddress::FromRaw(1)}).status,
      Generic(sc::kInvalidNamespace));
}

TEST_F(AdminTest, DomainCapacity) {
  StandardVd();  // 512 plane pages
  const QosDomainId a = h_.CreateDomain(Spec(200));
  const QosDomainId b = h_.CreateDomain(Spec(200));
  ASSERT_TRUE(
      h_.Admin(cmd::SetQosDomainCapacityRequest{a, false, PlanePageCount(300), PlanePageCount(310)})
          .status.ok());
  wire::IdentifySefNamespace ns = h_.NamespaceInfo(a);
  EXPECT_EQ(ns.sbsta.gcap, 300u);
  EXPECT_EQ(ns.sbsta.quota, 310u);
  EXPECT_EQ(ns.nsze, 1200u);
  EXPECT_EQ(h_.VdInfo(kVd).vdgcap, 500u);
  // Beyond the VD with the other domain's capacity.
  EXPECT_EQ(
      h_.Admin(cmd::SetQosDomainCapacityRequest{a, false, PlanePageCount(313), PlanePageCount(313)})
          .status,
      CommandSpecific(sc::kNamespaceInsufficientCapacity));
  EXPECT_TRUE(
      h_.Admin(cmd::SetQosDomainCapacityRequest{a, false, PlanePageCount(312), PlanePageCount(312)})
          .status.ok());
  // pSLC capacity.
  ASSERT_TRUE(
      h_.Admin(cmd::SetQosDomainCapacityRequest{b, true, PlanePageCount(8), PlanePageCount(12)})
          .status.ok());
  ns = h_.NamespaceInfo(b);
  EXPECT_EQ(ns.psbsta.gcap, 8u);
  EXPECT_EQ(ns.psbsta.quota, 12u);
  EXPECT_EQ(ns.sbsta.gcap, 200u);
  // The quota cannot drop below what the domain holds (two SBs = 32 plane pages).
  ASSERT_TRUE(h_.Erase(b).completion.status.ok());
  ASSERT_TRUE(h_.Erase(b).completion.status.ok());
  EXPECT_EQ(
      h_.Admin(cmd::SetQosDomainCapacityRequest{b, false, PlanePageCount(16), PlanePageCount(16)})
          .status,
      Generic(sc::kInvalidField));
  EXPECT_TRUE(
      h_.Admin(cmd::SetQosDomainCapacityRequest{b, false, PlanePageCount(32), PlanePageCount(32)})
          .status.ok());
  EXPECT_EQ(h_.Erase(b).completion.status, Generic(sc::kCapacityExceeded));
  EXPECT_EQ(h_.Admin(cmd::SetQosDomainCapacityRequest{QosDomainId(7), false, PlanePageCount(1),
                                                      PlanePageCount(1)})
                .status,
            Generic(sc::kInvalidNamespace));
}

TEST_F(AdminTest, WeightsDeadlineMaxOpenAndDefaultFifo) {
  StandardVd();
  const QosDomainId d = h_.CreateDomain(Spec(64));
  ASSERT_TRUE(h_.Admin(cmd::SetWeightsRequest{d, 512, 1024}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::SetReadDeadlineRequest{d, wire::ReadDeadline::kFastest}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::SetMaxOpenSuperBlocksRequest{d, 1}).status.ok());
  ASSERT_TRUE(
      h_.Admin(cmd::SetReadFifoRequest{kVd, cmd::ReadFifoAction::kAttach, ReadFifoId(4), 9, false})
          .status.ok());
  ASSERT_TRUE(h_.Admin(cmd::SetDefaultReadFifoRequest{d, ReadFifoId(4)}).status.ok());
  const wire::IdentifySefNamespace ns = h_.NamespaceInfo(d);
  EXPECT_EQ(ns.wwt, 512);
  EXPECT_EQ(ns.ewt, 1024);
  EXPECT_EQ(ns.qosds & 3, 3u);
  EXPECT_EQ((ns.qosds >> 2) & 3, 0u);
  EXPECT_EQ(ns.mxosb, 1);
  EXPECT_EQ(ns.drfid, 4u);
  // The new max open SBs applies.
  ASSERT_TRUE(h_.Erase(d).completion.status.ok());
  EXPECT_EQ(h_.Erase(d).completion.status, CommandSpecific(0xBE));
  // Above the unit's limit.
  EXPECT_EQ(h_.Admin(cmd::SetMaxOpenSuperBlocksRequest{d, 5}).status, Generic(sc::kInvalidField));
  // A FIFO not attached to the domain's VD.
  EXPECT_EQ(h_.Admin(cmd::SetDefaultReadFifoRequest{d, ReadFifoId(6)}).status,
            Generic(sc::kInvalidField));
  const QosDomainId missing(3);
  EXPECT_EQ(h_.Admin(cmd::SetWeightsRequest{missing, 1, 1}).status, Generic(sc::kInvalidNamespace));
  EXPECT_EQ(h_.Admin(cmd::SetReadDeadlineRequest{missing, wire::ReadDeadline::kLong}).status,
            Generic(sc::kInvalidNamespace));
  EXPECT_EQ(h_.Admin(cmd::SetMaxOpenSuperBlocksRequest{missing, 1}).status,
            Generic(sc::kInvalidNamespace));
  EXPECT_EQ(h_.Admin(cmd::SetDefaultReadFifoRequest{missing, ReadFifoId(1)}).status,
            Generic(sc::kInvalidNamespace));
}

// ---- QoS domains ------------------------------------------------------------------------------

TEST_F(AdminTest, CreateAttachDetachDelete) {
  StandardVd();
  Completion c = Create(Spec(64));
  ASSERT_TRUE(c.status.ok()) << c.status;
  const QosDomainId d = cmd::CreateQosDomainResult::FromResult(c.result).domain;
  EXPECT_EQ(d, QosDomainId(1));
  EXPECT_EQ(h_.VdInfo(kVd).ass_qosd, 1);
  // Created detached: no I/O yet.
  const cmd::DomainFormat f = h_.FormatOf(d);
  EXPECT_EQ(h_.Io(
                  cmd::SuperBlockManagementRequest{
                      d, wire::SbOperation::kErase, kDeviceChoosesSuperBlock, 0, {}},
                  f)
                .status,
            Generic(sc::kInvalidNamespace));
  EXPECT_EQ(Attach(d, cmd::AttachAction::kDetach).status,
            CommandSpecific(sc::kNamespaceNotAttached));
  EXPECT_EQ(Attach(d, cmd::AttachAction::kAttach, 1).status,
            CommandSpecific(sc::kInvalidControllerList));
  ASSERT_TRUE(Attach(d, cmd::AttachAction::kAttach).status.ok());
  EXPECT_EQ(Attach(d, cmd::AttachAction::kAttach).status,
            CommandSpecific(sc::kNamespaceAlreadyAttached));
  const ModelHarness::Erased e = h_.Erase(d);
  ASSERT_TRUE(e.completion.status.ok());
  ASSERT_TRUE(Attach(d, cmd::AttachAction::kDetach).status.ok());
  EXPECT_EQ(Attach(d, cmd::AttachAction::kDetach).status,
            CommandSpecific(sc::kNamespaceNotAttached));
  // Deleting frees its SBs.
  EXPECT_EQ(h_.VdInfo(kVd).sbsta.nfrsb, 31u);
  ASSERT_TRUE(h_.Admin(cmd::DeleteQosDomainRequest{d}).status.ok());
  EXPECT_EQ(h_.VdInfo(kVd).sbsta.nfrsb, 32u);
  EXPECT_EQ(h_.VdInfo(kVd).ass_qosd, 0);
  EXPECT_EQ(h_.SbInfo(kVd, e.sb).sbs, wire::kSbsFree);
  EXPECT_EQ(h_.Admin(cmd::DeleteQosDomainRequest{d}).status, Generic(sc::kInvalidNamespace));
  EXPECT_EQ(Attach(d, cmd::AttachAction::kAttach).status, Generic(sc::kInvalidNamespace));
  // The id is reused.
  c = Create(Spec(64));
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(cmd::CreateQosDomainResult::FromResult(c.result).domain, QosDomainId(1));
}

TEST_F(AdminTest, CreateRules) {
  StandardVd();
  cmd::QosDomainSpec spec = Spec(64);
  spec.vd = VirtualDeviceId(2);
  EXPECT_EQ(Create(spec).status, Generic(sc::kInvalidField));  // missing VD
  spec = Spec(64);
  spec.defect = wire::DefectStrategy::kPacked;
  EXPECT_EQ(Create(spec).status, Generic(sc::kInvalidField));
  spec.defect = wire::DefectStrategy::kFragmented;
  EXPECT_EQ(Create(spec).status, Generic(sc::kInvalidField));
  spec = Spec(64);
  spec.num_placement_ids = 5;  // the unit has 4
  EXPECT_EQ(Create(spec).status, Generic(sc::kInvalidField));
  spec = Spec(64);
  spec.max_open_super_blocks = 5;  // the unit has 4
  EXPECT_EQ(Create(spec).status, Generic(sc::kInvalidField));
  spec = Spec(64);
  spec.default_read_fifo = ReadFifoId(6);  // not attached
  EXPECT_EQ(Create(spec).status, Generic(sc::kInvalidField));
  EXPECT_EQ(Create(Spec(513)).status, CommandSpecific(sc::kNamespaceInsufficientCapacity));
  ASSERT_TRUE(Create(Spec(500)).status.ok());
  EXPECT_EQ(Create(Spec(13)).status, CommandSpecific(sc::kNamespaceInsufficientCapacity));
  // Eight domains at most (NN); the ninth has no id left.
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(Create(Spec(1)).status.ok()) << i;
  EXPECT_EQ(Create(Spec(1)).status, CommandSpecific(sc::kNamespaceIdUnavailable));
  std::vector<uint8_t> buf(4096);
  ASSERT_TRUE(h_.Admin(cmd::IdentifySefControllerRequest{cmd::MutableBytes::Of(buf)}).status.ok());
  EXPECT_EQ(As<wire::IdentifySefController>(buf).nqosd, 8);
}

TEST_F(AdminTest, PslcCapacityWithoutPslcSupport) {
  UnitConfig config = testing::LoadTestUnit("tiny");
  config.pslc = false;
  config.capabilities &= ~wire::kCapPslc;
  ControllerOptions options;
  options.config = config;
  ModelHarness h = ModelHarness::OpenWith(std::move(options));
  ASSERT_TRUE(h.ok());
  h.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
  cmd::QosDomainSpec spec = Spec(64);
  spec.pslc_capacity = PlanePageCount(4);
  spec.pslc_quota = PlanePageCount(4);
  std::vector<uint8_t> payload(4096);
  EXPECT_EQ(h.Admin(cmd::CreateQosDomainRequest{spec, cmd::MutableBytes::Of(payload)}).status,
            Generic(sc::kInvalidField));
  EXPECT_EQ(h.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 1}).status, Generic(sc::kInvalidField));
  const QosDomainId d = h.CreateDomain(Spec(64));
  EXPECT_EQ(h.Admin(cmd::SetQosDomainCapacityRequest{d, true, PlanePageCount(4), PlanePageCount(4)})
                .status,
            Generic(sc::kInvalidField));
}

// ---- logs -------------------------------------------------------------------------------------

TEST_F(AdminTest, VdInfoLog) {
  StandardVd();
  const QosDomainId d = h_.CreateDomain(Spec(100));
  h_.CreateDomain(Spec(60));
  const ModelHarness::Written w = h_.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(0), 70);
  ASSERT_TRUE(w.nlw.status.ok());
  ASSERT_TRUE(h_.Erase(d).completion.status.ok());
  std::vector<uint8_t> buf(256, 0xEE);
  ASSERT_TRUE(h_.Admin(cmd::VdInfoLogRequest{kVd, false, cmd::MutableBytes::Of(buf)}).status.ok());
  const auto info = As<wire::VdInfoLogHeader>(buf);
  EXPECT_EQ(info.vdid, 1);
  EXPECT_EQ(info.crit_warn, 0);
  EXPECT_EQ(info.cwc, wire::kCritAll);
  EXPECT_EQ(info.cesn, 3u);  // three erases so far
  EXPECT_EQ(info.max_pe, 1);
  EXPECT_EQ(info.avg_pe, 0);  // 3 erases over 32 SBs
  EXPECT_EQ(info.nsbdie, 2);
  EXPECT_EQ(info.sbbw, 15);
  EXPECT_EQ(info.aobw, 15);
  EXPECT_EQ(info.rpc, 0);
  EXPECT_EQ(info.mxosb, 4u);
  EXPECT_EQ(info.drfid, 1u);
  EXPECT_EQ(info.nrf, 1u);
  EXPECT_EQ(info.vdcap, 512u);
  EXPECT_EQ(info.vdgcap, 160u);
  EXPECT_EQ(info.vducap, 48u);
  EXPECT_EQ(info.sbsta.tcap, 512u);
  EXPECT_EQ(info.sbsta.nfrsb, 29u);
  EXPECT_EQ(info.sbsta.nclsb, 1u);
  EXPECT_EQ(info.sbsta.neosb, 1u);
  EXPECT_EQ(info.sbsta.nwosb, 1u);
  EXPECT_EQ(info.ass_qosd, 2);
  EXPECT_EQ(info.ndie, 3);
  for (uint16_t i = 0; i < 4; ++i) EXPECT_EQ(As<uint16_t>(buf, 196 + 2 * i), i);
  EXPECT_EQ(buf[204], 0);  // zero after the die list
  // A missing VD; LSI 0xFFFF with no pending event.
  EXPECT_EQ(
      h_.Admin(cmd::VdInfoLogRequest{VirtualDeviceId(3), false, cmd::MutableBytes::Of(buf)}).status,
      Generic(sc::kInvalidField));
  EXPECT_EQ(
      h_.Admin(cmd::VdInfoLogRequest{kPendingEventVirtualDevice, false, cmd::MutableBytes::Of(buf)})
          .status,
      Generic(sc::kInvalidField));
}

TEST_F(AdminTest, PslcSuperBlocksAreCountedApart) {
  StandardVd();
  ASSERT_TRUE(h_.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 3}).status.ok());
  cmd::QosDomainSpec spec = Spec(64);
  spec.pslc_capacity = PlanePageCount(8);
  spec.pslc_quota = PlanePageCount(8);
  const QosDomainId d = h_.CreateDomain(spec);
  ASSERT_TRUE(h_.Erase(d, kDeviceChoosesSuperBlock, true).completion.status.ok());
  const ModelHarness::Written w = h_.Write(d, cmd::ByPlacement{PlacementId(0), true}, Lba(0), 16);
  ASSERT_TRUE(w.nlw.status.ok());  // fills (and closes) a second pSLC SB
  ASSERT_TRUE(h_.Erase(d).completion.status.ok());
  const wire::VdInfoLogHeader vd = h_.VdInfo(kVd);
  EXPECT_EQ(vd.sbsta.neosb, 1u);
  EXPECT_EQ(vd.sbsta.nclsb, 0u);
  EXPECT_EQ(vd.sbsta.ucap, 16u);
  EXPECT_EQ(vd.sbsta.nfrsb, 29u);
  EXPECT_EQ(vd.psbsta.tcap, 12u);
  EXPECT_EQ(vd.psbsta.tgcap, 8u);
  EXPECT_EQ(vd.psbsta.ucap, 8u);
  EXPECT_EQ(vd.psbsta.neosb, 1u);
  EXPECT_EQ(vd.psbsta.nclsb, 1u);
  EXPECT_EQ(vd.psbsta.nwosb, 0u);
  EXPECT_EQ(vd.psbsta.nfrsb, 1u);  // 3 pSLC SBs, 2 in use
  const wire::IdentifySefNamespace ns = h_.NamespaceInfo(d);
  EXPECT_EQ(ns.sbsta.nsb, 1u);
  EXPECT_EQ(ns.sbsta.neosb, 1);
  EXPECT_EQ(ns.sbsta.ucap, 16u);
  EXPECT_EQ(ns.psbsta.nsb, 2u);
  EXPECT_EQ(ns.psbsta.neosb, 1);
  EXPECT_EQ(ns.psbsta.nwosb, 0);
  EXPECT_EQ(ns.psbsta.ucap, 8u);
}

TEST_F(AdminTest, QosDomainListLog) {
  cmd::CapacityConfig config;
  config.vds = {{VirtualDeviceId(1), {cmd::DieId(0), cmd::DieId(1)}},
                {VirtualDeviceId(2), {cmd::DieId(2), cmd::DieId(3)}}};
  std::vector<uint8_t> payload(4096);
  ASSERT_TRUE(
      h_.Admin(cmd::SetCapacityConfigRequest{config, cmd::MutableBytes::Of(payload)}).status.ok());
  ASSERT_TRUE(h_.Admin(cmd::SelectCapacityConfigRequest{2}).status.ok());
  h_.CreateDomain(Spec(16));
  cmd::QosDomainSpec other = Spec(16);
  other.vd = VirtualDeviceId(2);
  h_.CreateDomain(other);
  h_.CreateDomain(Spec(16));
  std::vector<uint8_t> buf(64);
  ASSERT_TRUE(h_.Admin(cmd::QosDomainListLogRequest{kVd, cmd::MutableBytes::Of(buf)}).status.ok());
  EXPECT_EQ(As<uint16_t>(buf, 0), 2);
  EXPECT_EQ(As<uint16_t>(buf, 2), 1);
  EXPECT_EQ(As<uint16_t>(buf, 4), 3);
  ASSERT_TRUE(h_.Admin(cmd::QosDomainListLogRequest{VirtualDeviceId(2), cmd::MutableBytes::Of(buf)})
                  .status.ok());
  EXPECT_EQ(As<uint16_t>(buf, 0), 1);
  EXPECT_EQ(As<uint16_t>(buf, 2), 2);
  EXPECT_EQ(
      h_.Admin(cmd::QosDomainListLogRequest{VirtualDeviceId(5), cmd::MutableBytes::Of(buf)}).status,
      Generic(sc::kInvalidField));
}

TEST_F(AdminTest, SuperBlockListOrdersAndPaging) {
  StandardVd();
  const QosDomainId d = h_.CreateDomain(Spec(256));
  // SB 4: erased twice, closed. SB 7: erased once, closed. SB 2: open by erase. SB by PID 1.
  ASSERT_TRUE(h_.Erase(d, SuperBlockId(4)).completion.status.ok());
  ASSERT_TRUE(h_.SuperBlockOp(d, wire::SbOperation::kFree, SuperBlockId(4)).status.ok());
  ASSERT_TRUE(h_.Erase(d, SuperBlockId(4)).completion.status.ok());
  ASSERT_TRUE(h_.SuperBlockOp(d, wire::SbOperation::kClose, SuperBlockId(4)).status.ok());
  ASSERT_TRUE(h_.Erase(d, SuperBlockId(7)).completion.status.ok());
  ASSERT_TRUE(h_.SuperBlockOp(d, wire::SbOperation::kClose, SuperBlockId(7)).status.ok());
  ASSERT_TRUE(h_.Erase(d, SuperBlockId(2)).completion.status.ok());
  const ModelHarness::Written w = h_.Write(d, cmd::ByPlacement{PlacementId(1)}, Lba(0), 1);
  const uint32_t by_pid = w.addresses[0].super_block(h_.FormatOf(d).address).value();

  std::vector<wire::SbListEntry> all = SbList(d, wire::SbListOrder::kAll);
  ASSERT_EQ(all.size(), 4u);
  std::vector<uint32_t> ids;
  for (const auto& e : all) ids.push_back(e.sbid);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  const auto state_of = [&](uint32_t id) {
    for (const auto& e : all) {
      if (e.sbid == id) return e.sbs;
    }
    return uint8_t{0xFF};
  };
  EXPECT_EQ(state_of(4), wire::kSbsClosed);
  EXPECT_EQ(state_of(7), wire::kSbsClosed);
  EXPECT_EQ(state_of(2), wire::kSbsOpenByErase);
  EXPECT_EQ(state_of(by_pid), wire::kSbsOpenByPlacement);
  EXPECT_EQ(all[2].sbid, 4u);
  EXPECT_EQ(all[2].peci, 2);
  // Order 0 (reuse): closed only, least worn first.
  std::vector<wire::SbListEntry> reuse = SbList(d, wire::SbListOrder::kReuse);
  ASSERT_EQ(reuse.size(), 2u);
  EXPECT_EQ(reuse[0].sbid, 7u);
  EXPECT_EQ(reuse[1].sbid, 4u);
  // Order 1 (refresh) and 2 (check): nothing needs either.
  EXPECT_TRUE(SbList(d, wire::SbListOrder::kRefresh).empty());
  EXPECT_TRUE(SbList(d, wire::SbListOrder::kCheck).empty());
  // Order 4: closed by SB id.
  std::vector<wire::SbListEntry> closed = SbList(d, wire::SbListOrder::kClosedBySbId);
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[0].sbid, 4u);
  EXPECT_EQ(closed[1].sbid, 7u);
  // Paging: offset 8 starts at the second descriptor; the end marker follows the last.
  std::vector<uint8_t> buf(16);
  ASSERT_TRUE(h_.Admin(cmd::SuperBlockListLogRequest{d, wire::SbListOrder::kAll, 8,
                                                     cmd::MutableBytes::Of(buf)})
                  .status.ok());
  EXPECT_EQ(As<wire::SbListEntry>(buf, 0).sbid, all[1].sbid);
  EXPECT_EQ(As<wire::SbListEntry>(buf, 8).sbid, all[2].sbid);
  ASSERT_TRUE(h_.Admin(cmd::SuperBlockListLogRequest{d, wire::SbListOrder::kAll, 32,
                                                     cmd::MutableBytes::Of(buf)})
                  .status.ok());
  EXPECT_EQ(As<wire::SbListEntry>(buf, 0).sbid, wire::kSbListEnd);
  EXPECT_EQ(As<wire::SbListEntry>(buf, 8).sbid, 0u);  // past the log: zeros
  // Another domain's SBs are not listed; a missing domain.
  const QosDomainId other = h_.CreateDomain(Spec(64));
  EXPECT_TRUE(SbList(other, wire::SbListOrder::kAll).empty());
  EXPECT_EQ(h_.Admin(cmd::SuperBlockListLogRequest{QosDomainId(6), wire::SbListOrder::kAll, 0,
                                                   cmd::MutableBytes::Of(buf)})
                .status,
            Generic(sc::kInvalidNamespace));
}

TEST_F(AdminTest, SuperBlockInfoLog) {
  StandardVd();
  const QosDomainId d = h_.CreateDomain(Spec(64));
  const ModelHarness::Written w = h_.Write(d, cmd::ByPlacement{PlacementId(1)}, Lba(0), 9);
  const SuperBlockId sb = w.addresses[0].super_block(h_.FormatOf(d).address);
  const wire::SbInfoLog info = h_.SbInfo(kVd, sb);
  EXPECT_EQ(info.vdid, 1);
  EXPECT_EQ(info.st, 0);
  EXPECT_EQ(info.sbs, wire::kSbsOpenByPlacement);
  EXPECT_EQ(info.sbid, sb.value());
  EXPECT_EQ(info.pid, 1);
  EXPECT_EQ(info.qosdid, d.value());
  EXPECT_EQ(info.peci, 1);
  EXPECT_EQ(info.cap, 64u);
  EXPECT_EQ(info.aduptr, 9u);
  EXPECT_EQ(info.esn, 1u);
  EXPECT_EQ(info.dgid, sb.value() / 16);
  EXPECT_EQ(info.ndpl, 0);
  // A free SB reads as free.
  EXPECT_EQ(h_.SbInfo(kVd, SuperBlockId(31)).sbs, wire::kSbsFree);
  std::vector<uint8_t> buf(256);
  EXPECT_EQ(h_.Admin(cmd::SuperBlockInfoLogRequest{kVd, SuperBlockId(32), false,
                                                   cmd::MutableBytes::Of(buf)})
                .status,
            Generic(sc::kInvalidField));
  EXPECT_EQ(h_.Admin(cmd::SuperBlockInfoLogRequest{VirtualDeviceId(2), SuperBlockId(0), false,
                                                   cmd::MutableBytes::Of(buf)})
                .status,
            Generic(sc::kInvalidField));
  EXPECT_EQ(h_.Admin(cmd::SuperBlockInfoLogRequest{kPendingEventVirtualDevice, SuperBlockId(0),
                                                   false, cmd::MutableBytes::Of(buf)})
                .status,
            Generic(sc::kInvalidField));  // no pending event
}

TEST_F(AdminTest, AddressChangeOrderLogHasNothingUnderPerfect) {
  StandardVd();
  const QosDomainId d = h_.CreateDomain(Spec(64));
  const ModelHarness::Written w = h_.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(0), 3);
  EXPECT_EQ(cmd::NlwResult::FromResult(w.nlw.result).aco_id, 0u);  // nothing relocated
  std::vector<uint8_t> buf(32 + 24 * 3);
  EXPECT_EQ(h_.Admin(cmd::AddressChangeOrderLogRequest{d, 1, cmd::MutableBytes::Of(buf)}).status,
            Generic(sc::kInvalidField));
}

}  // namespace
}  // namespace sef::model
