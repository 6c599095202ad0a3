// Conformance of the device model to the forms of commands the public SEF SDK (libsef, sef.ko,
// sef-cli) sends (issue 16). Every command under test is written by hand, dword by dword, as
// the SDK puts it on the wire; setup uses our encoders. docs/command-set.md ("Forms other
// hosts send") and docs/model.md record the decisions these tests pin.
//
// Geometry (testdata/units/tiny.json): 2 channels x 2 banks = 4 dies, 2 planes, 4 pages per
// block, 16 blocks per die, 4 ADUs per plane page; VD 1 on all dies with 2 dies per SB has
// 32 SBs of 64 ADUs (16 plane pages).
#include <cstring>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/cmd/testing/hand_command.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model {
namespace {

using cmd::Dwords;
using cmd::HandAdmin;
using cmd::Load;
using cmd::Store;
using testing::Generic;
using testing::ModelHarness;
namespace sc = wire::sc;

constexpr VirtualDeviceId kVd(1);

class SdkFormsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.ok());
    h_.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
  }

  // NS Management create (SEL 0, CSI 0x30) of a hand-written SEF namespace structure, as
  // libsef's SEFCreateQoSDomain fills it: VD 1, its read FIFO 1, deadline typical, Perfect.
  Completion CreateAsSdk(uint64_t gcap, uint64_t quota, uint16_t nplid, uint16_t mxosb,
                         uint64_t pslc_gcap = 0, uint64_t pslc_quota = 0) {
    std::vector<uint8_t> ns(4096, 0);
    Store<uint16_t>(ns, 102, 1);  // endgid
    Store<uint16_t>(ns, 772, nplid);
    Store<uint16_t>(ns, 774, mxosb);
    Store<uint32_t>(ns, 780, 1);  // drfid
    Store<uint64_t>(ns, 832, quota);
    Store<uint64_t>(ns, 840, gcap);
    Store<uint64_t>(ns, 896, pslc_quota);
    Store<uint64_t>(ns, 904, pslc_gcap);
    return h_.Raw(HandAdmin(0x0D, 0, {.cdw10 = 0, .cdw11 = 0x30000000}, ns.data(), 4096));
  }
  QosDomainId AttachedDomain(const Completion& created) {
    const QosDomainId d(static_cast<uint16_t>(created.result));
    std::vector<uint8_t> list(4096);
    EXPECT_TRUE(h_.Admin(cmd::AttachQosDomainRequest{d, cmd::AttachAction::kAttach, 0,
                                                     cmd::MutableBytes::Of(list)})
                    .status.ok());
    return d;
  }

  ModelHarness h_ = ModelHarness::Open("tiny");
};

// Item 1. libsef's GetVDInfoLogPage: the 196-byte header alone, NUMDL 48, LSI = VD 1.
TEST_F(SdkFormsTest, VdInfoLogHeaderOnly) {
  std::vector<uint8_t> header(196, 0xEE);
  const Completion c =
      h_.Raw(HandAdmin(0x02, 0, {.cdw10 = 0x003000D0, .cdw11 = 0x00010000}, header.data(), 196));
  ASSERT_TRUE(c.status.ok()) << c.status;
  const auto info = Load<wire::VdInfoLogHeader>(header);
  EXPECT_EQ(info.vdid, 1);
  EXPECT_EQ(info.ndie, 3);  // four dies, 0-based: what the SDK reads the header for
  EXPECT_EQ(info.nsbdie, 2);
  EXPECT_EQ(info.sbsta.nfrsb, 32u);
  // A partial read of the first dword returns what fits.
  std::vector<uint8_t> dword(4, 0xEE);
  ASSERT_TRUE(
      h_.Raw(HandAdmin(0x02, 0, {.cdw10 = 0x000000D0, .cdw11 = 0x00010000}, dword.data(), 4))
          .status.ok());
  EXPECT_EQ(Load<uint16_t>(dword), 1);  // vdid
  // An unknown VD is still refused.
  EXPECT_EQ(
      h_.Raw(HandAdmin(0x02, 0, {.cdw10 = 0x003000D0, .cdw11 = 0x00020000}, header.data(), 196))
          .status,
      Generic(sc::kInvalidField));
}

// Item 2. sef-cli's defaults: quota 1 ADU (1 / 4 = 0 plane pages on the wire), max open SBs 0,
// one placement id (nplid 0). The device raises the quota to the capacity and max open SBs to
// placement ids + 2, and reports the values in force in Identify 05h.
TEST_F(SdkFormsTest, QosDomainCreateDefaults) {
  const Completion created = CreateAsSdk(/*gcap=*/64, /*quota=*/0, /*nplid=*/0, /*mxosb=*/0);
  ASSERT_TRUE(created.status.ok()) << created.status;
  const QosDomainId d = AttachedDomain(created);
  const wire::IdentifySefNamespace ns = h_.NamespaceInfo(d);
  EXPECT_EQ(ns.sbsta.gcap, 64u);
  EXPECT_EQ(ns.sbsta.quota, 64u);
  EXPECT_EQ(ns.nplid, 0);
  EXPECT_EQ(ns.mxosb, 3);
  // The values in force: the quota holds four 16-plane-page SBs, three may be open.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h_.Erase(d).completion.status.ok()) << i;
  EXPECT_EQ(h_.Erase(d).completion.status, testing::CommandSpecific(0xBE));  // too many open

  // Four placement ids: 4 + 2 is above the unit's 4 open SBs, so the unit's maximum. A pSLC
  // quota below its capacity is raised too.
  const Completion four = CreateAsSdk(/*gcap=*/32, /*quota=*/16, /*nplid=*/3, /*mxosb=*/2,
                                      /*pslc_gcap=*/8, /*pslc_quota=*/0);
  ASSERT_TRUE(four.status.ok()) << four.status;
  const wire::IdentifySefNamespace ns4 = h_.NamespaceInfo(QosDomainId(four.result));
  EXPECT_EQ(ns4.sbsta.quota, 32u);
  EXPECT_EQ(ns4.psbsta.gcap, 8u);
  EXPECT_EQ(ns4.psbsta.quota, 8u);
  EXPECT_EQ(ns4.mxosb, 4);
  // An explicit value at or above the placement ids is kept, and refused above the unit's.
  const Completion kept = CreateAsSdk(16, 16, /*nplid=*/0, /*mxosb=*/2);
  ASSERT_TRUE(kept.status.ok());
  EXPECT_EQ(h_.NamespaceInfo(QosDomainId(kept.result)).mxosb, 2);
  EXPECT_EQ(CreateAsSdk(16, 16, 0, /*mxosb=*/5).status, Generic(sc::kInvalidField));
}

// Item 3. libsef's write into a given SB: FAR with SBI 1 and the SB's flash address (ADU offset
// 0) in CDW14-15, then NLW with SBI 1 and the offset all ones (16-bit offsets on tiny).
TEST_F(SdkFormsTest, WriteIntoSuperBlockWithFarOffsetZero) {
  const QosDomainId d = h_.CreateDomain(h_.DefaultSpec(kVd));
  const ModelHarness::Erased e = h_.Erase(d);
  ASSERT_TRUE(e.completion.status.ok());
  const uint32_t sb = e.sb.value();
  for (const uint32_t lba : {100u, 102u}) {  // twice: the second write appends after the first
    SCOPED_TRACE(lba);
    std::vector<uint8_t> arr(144);
    const ModelHarness::Slot far = h_.SubmitAsync(cmd::HandCommand(
        QueueType::kIo, 0xD2, d.value(),
        {.cdw12 = 0x02000000, .cdw13 = lba, .cdw14 = sb << 16, .cdw15 = 0}, arr.data(), 144));
    EXPECT_FALSE(far->has_value());  // waits for its NLW
    std::vector<uint8_t> data(2 * 4096, static_cast<uint8_t>(lba)), meta(2 * 16, 0x5A);
    const iovec iov{data.data(), data.size()};
    const Completion nlw = h_.Raw(cmd::HandVectoredIo(
        0xD1, d.value(),
        {.cdw10 = lba, .cdw11 = 0, .cdw12 = 0x02000001, .cdw13 = lba, .cdw14 = (sb << 16) | 0xFFFF},
        &iov, 1, meta.data(), 32));
    ASSERT_TRUE(nlw.status.ok()) << nlw.status;
    EXPECT_EQ(cmd::NlwResult::FromResult(nlw.result).count, 2u);
    ASSERT_TRUE(far->has_value());
    ASSERT_TRUE((*far)->status.ok()) << (*far)->status;
    EXPECT_EQ(cmd::FarResult::FromResult((*far)->result).addresses, 2u);
    const auto response = Load<wire::AddressRequestResponse>(arr);
    ASSERT_EQ(response.nsb, 1);
    EXPECT_EQ(response.sbis[0].nfla, 2u);
    const uint32_t offset = lba - 100;
    EXPECT_EQ(response.sbis[0].sfla, (uint64_t{d.value()} << 48) | (sb << 16) | offset);
    std::vector<uint8_t> back;
    ASSERT_TRUE(
        h_.Read(FlashAddress::FromRaw(response.sbis[0].sfla), 2, &back, UserAddress::FromRaw(lba))
            .status.ok());
    EXPECT_EQ(back, data);
  }
}

// Item 4. The SDK's FTL check reads the metadata of every ADU of every SB (SB capacity,
// metadata only, user address ignored) and expects success: a closed SB's padding and an open
// SB's erased remainder read as zeros with user address all ones. Here SB A is closed after 10
// ADUs; SB B held data, was freed, erased again and holds 3 ADUs (its old data must not show).
TEST_F(SdkFormsTest, FtlCheckReadsWholeSuperBlocks) {
  const QosDomainId d = h_.CreateDomain(h_.DefaultSpec(kVd));
  const SuperBlockId a = h_.Erase(d).sb;
  ASSERT_TRUE(h_.Write(d, a, Lba(0), 10).nlw.status.ok());
  ASSERT_TRUE(h_.SuperBlockOp(d, wire::SbOperation::kClose, a).status.ok());
  const SuperBlockId b = h_.Erase(d).sb;
  ASSERT_TRUE(h_.Write(d, b, Lba(500), 64).nlw.status.ok());  // fills and closes B
  ASSERT_TRUE(h_.SuperBlockOp(d, wire::SbOperation::kFree, b).status.ok());
  ASSERT_TRUE(h_.Erase(d, b).completion.status.ok());
  ASSERT_TRUE(h_.Write(d, b, Lba(100), 3).nlw.status.ok());

  struct Case {
    SuperBlockId sb;
    uint32_t written;
    uint64_t first_lba;
  };
  for (const Case& k : {Case{a, 10, 0}, Case{b, 3, 100}}) {
    SCOPED_TRACE(k.sb.value());
    const Dwords read{.cdw10 = 0xFFFFFFFF,
                      .cdw11 = 0xFFFFFFFF,  // user address: ignore
                      .cdw12 = 63,          // 64 ADUs, the SB's capacity
                      .cdw13 = 0xFFFFFFFF,  // the domain's default read FIFO
                      .cdw14 = k.sb.value() << 16,
                      .cdw15 = 0};
    std::vector<uint8_t> meta(64 * 16, 0xEE);
    const Completion c =
        h_.Raw(cmd::HandVectoredIo(0xD6, d.value(), read, nullptr, 0, meta.data(), 64 * 16));
    ASSERT_TRUE(c.status.ok()) << c.status;
    for (uint32_t i = 0; i < 64; ++i) {
      // The harness writes metadata bytes Pattern(lba) ^ 0xFF.
      const uint8_t want = i < k.written ? ModelHarness::Pattern(k.first_lba + i) ^ 0xFF : 0;
      ASSERT_EQ(meta[i * 16], want) << "ADU " << i;
      ASSERT_EQ(meta[i * 16 + 15], want) << "ADU " << i;
    }
    // With data: the unwritten ADUs read as zeros.
    std::vector<uint8_t> data(64 * 4096, 0xEE);
    const iovec iov{data.data(), data.size()};
    ASSERT_TRUE(h_.Raw(cmd::HandVectoredIo(0xD6, d.value(), read, &iov, 1)).status.ok());
    EXPECT_EQ(std::vector<uint8_t>(data.begin() + k.written * 4096, data.end()),
              std::vector<uint8_t>((64 - k.written) * 4096, 0));
    // A verified read of them fails: their user address is all ones.
    Dwords verified = read;
    verified.cdw10 = static_cast<uint32_t>(k.first_lba + k.written);
    verified.cdw11 = 0;
    verified.cdw12 = 0;
    verified.cdw14 |= k.written;
    const iovec one{data.data(), 4096};
    EXPECT_EQ(h_.Raw(cmd::HandVectoredIo(0xD6, d.value(), verified, &one, 1)).status,
              testing::Media(0x85));
  }
  // Errors where the spec means them: past the SB's capacity there is no ADU; a free SB holds
  // nothing of the domain.
  std::vector<uint8_t> meta(2 * 16);
  EXPECT_EQ(h_.Raw(cmd::HandVectoredIo(0xD6, d.value(),
                                       {.cdw10 = 0xFFFFFFFF,
                                        .cdw11 = 0xFFFFFFFF,
                                        .cdw12 = 1,
                                        .cdw13 = 0xFFFFFFFF,
                                        .cdw14 = (a.value() << 16) | 63},
                                       nullptr, 0, meta.data(), 32))
                .status,
            Generic(sc::kLbaOutOfRange));
  EXPECT_EQ(h_.Raw(cmd::HandVectoredIo(0xD6, d.value(),
                                       {.cdw10 = 0xFFFFFFFF,
                                        .cdw11 = 0xFFFFFFFF,
                                        .cdw12 = 0,
                                        .cdw13 = 0xFFFFFFFF,
                                        .cdw14 = 30u << 16},
                                       nullptr, 0, meta.data(), 16))
                .status,
            testing::Media(0x87));
}

// Item 5. Get Features 0xD0 SEL 1 (read FIFO list) with CDW11[31:16] = dwords - 1, as the SDK
// sends it: a 3496-byte buffer is 874 dwords, 0x369 in the field.
TEST_F(SdkFormsTest, GetReadFifoListDwordCount) {
  std::vector<uint8_t> list(3496, 0xEE);
  const Completion c =
      h_.Raw(HandAdmin(0x0A, 1, {.cdw10 = 0x000000D0, .cdw11 = 0x03690001}, list.data(), 3496));
  ASSERT_TRUE(c.status.ok()) << c.status;
  const auto first = Load<wire::ReadFifoEntry>(list);
  EXPECT_EQ(first.rfid, 1u);  // the VD's default read FIFO
  EXPECT_EQ(first.vdid, 1);
  EXPECT_EQ(Load<wire::ReadFifoEntry>(list, 8).rfid, 0u);  // the end of the list
  EXPECT_EQ(list[3495], 0);                                // the rest is zeroed
  // A count that does not describe the buffer is refused.
  EXPECT_EQ(
      h_.Raw(HandAdmin(0x0A, 1, {.cdw10 = 0x000000D0, .cdw11 = 0x03680001}, list.data(), 3496))
          .status,
      Generic(sc::kInvalidField));
}

// Item 6. The SDK sends capacity configurations sorted (VDs by id, dies ascending). Order has
// no meaning to the model: a descriptor in another order is accepted and kept in the SDK's
// order, which Get Features 0xD2 returns and the VDs' die lists follow. Here VD 2 = dies
// {3, 1} comes before VD 1 = dies {2, 0}.
TEST_F(SdkFormsTest, UnsortedCapacityConfigurationIsKeptSorted) {
  ASSERT_TRUE(h_.Admin(cmd::SelectCapacityConfigRequest{0}).status.ok());
  std::vector<uint8_t> d(240, 0);
  Store<uint16_t>(d, 0, 2);  // cci
  Store<uint16_t>(d, 4, 2);  // egcn
  for (const auto& [at, vd, die0, die1] : {std::tuple{32, 2, 3, 1}, std::tuple{136, 1, 2, 0}}) {
    Store<uint16_t>(d, at, static_cast<uint16_t>(vd));
    Store<uint16_t>(d, at + 82, 1);
    Store<uint16_t>(d, at + 84, 0xFFFF);
    Store<uint16_t>(d, at + 86, 2);
    Store<uint16_t>(d, at + 88, static_cast<uint16_t>(die0));
    Store<uint16_t>(d, at + 96, static_cast<uint16_t>(die1));
  }
  ASSERT_TRUE(h_.Raw(HandAdmin(0x09, 0, {.cdw10 = 0x800000D2, .cdw11 = 0x00020004}, d.data(), 240))
                  .status.ok());
  ASSERT_TRUE(h_.Admin(cmd::SelectCapacityConfigRequest{2}).status.ok());
  std::vector<uint8_t> back(4096, 0xEE);
  ASSERT_TRUE(h_.Admin(cmd::GetCapacityConfigRequest{cmd::MutableBytes::Of(back)}).status.ok());
  EXPECT_EQ(Load<uint16_t>(back, 32), 1);  // VD 1 first
  EXPECT_EQ(Load<uint16_t>(back, 120), 0);
  EXPECT_EQ(Load<uint16_t>(back, 128), 2);
  EXPECT_EQ(Load<uint16_t>(back, 136), 2);
  EXPECT_EQ(Load<uint16_t>(back, 224), 1);
  EXPECT_EQ(Load<uint16_t>(back, 232), 3);
  std::vector<uint8_t> log(256);
  ASSERT_TRUE(h_.Admin(cmd::VdInfoLogRequest{VirtualDeviceId(2), false, cmd::MutableBytes::Of(log)})
                  .status.ok());
  EXPECT_EQ(Load<uint16_t>(log, 196), 1);
  EXPECT_EQ(Load<uint16_t>(log, 198), 3);
}

// Item 7. libsef's create payload leaves FLBAS and LBA format 0 (bytes 128..131) zero; the
// domain gets the unit's 4096 + 16 byte format, which Identify 05h reports. Another format is
// refused.
TEST_F(SdkFormsTest, NamespaceCreateWithoutLbaFormat) {
  const Completion created = CreateAsSdk(/*gcap=*/16, /*quota=*/16, /*nplid=*/0, /*mxosb=*/2);
  ASSERT_TRUE(created.status.ok()) << created.status;
  const wire::IdentifySefNamespace ns = h_.NamespaceInfo(QosDomainId(created.result));
  EXPECT_EQ(ns.flbas, 0);
  EXPECT_EQ(ns.lbaf[0].ms, 16);
  EXPECT_EQ(ns.lbaf[0].lbads, 12);
  // 512-byte LBAs with 8 bytes of metadata: not a format of this unit.
  std::vector<uint8_t> payload(4096, 0);
  Store<uint16_t>(payload, 102, 1);
  Store<uint64_t>(payload, 840, 16);
  Store<uint16_t>(payload, 128, 8);
  Store<uint8_t>(payload, 130, 9);
  EXPECT_EQ(
      h_.Raw(HandAdmin(0x0D, 0, {.cdw10 = 0, .cdw11 = 0x30000000}, payload.data(), 4096)).status,
      Generic(sc::kInvalidField));
}

}  // namespace
}  // namespace sef::model
