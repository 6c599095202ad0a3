// The forms of commands the public SEF SDK (libsef, sef.ko, sef-cli) sends, written by hand
// dword by dword (docs/command-set.md, "Forms other hosts send"), decoded as the device
// decodes them. Each test pins one form the decoders once refused (issue 16).
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/testing/hand_command.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {
namespace {

// libsef reads the VD information log header alone (196 bytes, no die list) to learn the
// die count: NUMDL = 196 / 4 - 1 = 48, NUMDU 0, LSI = the VD.
TEST(SdkFormsTest, VdInfoLogHeaderOnly) {
  std::vector<uint8_t> header(196);
  const Command c =
      HandAdmin(0x02, 0, {.cdw10 = 0x003000D0, .cdw11 = 0x23280000}, header.data(), header.size());
  absl::StatusOr<AdminRequest> r = DecodeAdmin(c);
  ASSERT_TRUE(r.ok()) << r.status();
  const auto* log = std::get_if<VdInfoLogRequest>(&*r);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->vd, VirtualDeviceId(9000));
  EXPECT_FALSE(log->retain_event);
  EXPECT_EQ(log->buffer.size, 196u);
  // Shorter still: NVMe allows any partial read, down to one dword.
  const Command one =
      HandAdmin(0x02, 0, {.cdw10 = 0x000000D0, .cdw11 = 0x23280000}, header.data(), 4);
  EXPECT_TRUE(DecodeAdmin(one).ok());
  // NUMD still has to describe the buffer.
  const Command mismatch =
      HandAdmin(0x02, 0, {.cdw10 = 0x003000D0, .cdw11 = 0x23280000}, header.data(), 192);
  EXPECT_EQ(DecodeAdmin(mismatch).status().code(), absl::StatusCode::kInvalidArgument);
}

// sef-cli's QoS domain defaults: quota 1 ADU (0 plane pages on the wire) below the capacity,
// max open SBs 0, one placement id. Both are the device's to raise, so both decode.
TEST(SdkFormsTest, QosDomainCreateDefaults) {
  std::vector<uint8_t> ns(4096, 0);
  Store<uint16_t>(ns, 102, 1);   // endgid
  Store<uint16_t>(ns, 772, 0);   // nplid: one placement id
  Store<uint16_t>(ns, 774, 0);   // mxosb
  Store<uint32_t>(ns, 780, 1);   // drfid
  Store<uint64_t>(ns, 832, 0);   // sbsta.quota
  Store<uint64_t>(ns, 840, 64);  // sbsta.gcap
  const Command c = HandAdmin(0x0D, 0, {.cdw10 = 0, .cdw11 = 0x30000000}, ns.data(), 4096);
  absl::StatusOr<AdminRequest> r = DecodeAdmin(c);
  ASSERT_TRUE(r.ok()) << r.status();
  const QosDomainSpec& s = std::get<CreateQosDomainRequest>(*r).spec;
  EXPECT_EQ(s.vd, VirtualDeviceId(1));
  EXPECT_EQ(s.capacity, PlanePageCount(64));
  EXPECT_EQ(s.quota, PlanePageCount(0));
  EXPECT_EQ(s.num_placement_ids, 1);
  EXPECT_EQ(s.max_open_super_blocks, 0);
  EXPECT_EQ(s.default_read_fifo, ReadFifoId(1));
}

// libsef's Flash Address Request into a given super block carries the caller's flash address
// of the SB (ADU offset 0) in CDW14-15; its Nameless Write carries the offset all ones. Both
// name SB 5 (16-bit SB ids above 16-bit ADU offsets); the device appends either way.
TEST(SdkFormsTest, FlashAddressRequestIntoSuperBlockWithOffsetZero) {
  const DomainFormat format{{.sb_bits = 16, .adu_offset_bits = 16}, /*num_placement_ids=*/2};
  std::vector<uint8_t> arr(144);
  for (const uint32_t cdw14 : {0x00050000u, 0x0005FFFFu}) {
    SCOPED_TRACE(cdw14);
    const Command c =
        HandCommand(QueueType::kIo, 0xD2, 3,
                    {.cdw12 = 0x02000000, .cdw13 = 7, .cdw14 = cdw14, .cdw15 = 0}, arr.data(), 144);
    absl::StatusOr<IoRequest> r = DecodeIo(c, format);
    ASSERT_TRUE(r.ok()) << r.status();
    const auto& far = std::get<FlashAddressRequest>(*r);
    EXPECT_EQ(far.domain, QosDomainId(3));
    EXPECT_EQ(std::get<SuperBlockId>(far.target), SuperBlockId(5));
    EXPECT_EQ(far.nlwid, 7u);
  }
  // Any other offset would be an explicit one (capability bit 11, not offered).
  const Command explicit_offset =
      HandCommand(QueueType::kIo, 0xD2, 3, {.cdw12 = 0x02000000, .cdw13 = 7, .cdw14 = 0x00050003},
                  arr.data(), 144);
  absl::StatusOr<IoRequest> r = DecodeIo(explicit_offset, format);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ADU offset 0x3 given"), std::string::npos) << r.status();
  // The Nameless Write keeps its one form: offset 0 there is refused.
  std::vector<uint8_t> data(4096);
  const iovec iov{data.data(), data.size()};
  Command nlw =
      HandVectoredIo(0xD1, 3, {.cdw12 = 0x02000000, .cdw13 = 7, .cdw14 = 0x0005FFFF}, &iov, 1);
  EXPECT_TRUE(DecodeIo(nlw, format).ok());
  nlw.sqe.cdw14 = 0x00050000;
  EXPECT_FALSE(DecodeIo(nlw, format).ok());
}

// Get Features 0xD0 SEL 1 (read FIFO list): the SDK (and nvme-cli's plugin) put the transfer's
// dword count minus one in CDW11[31:16]. VD 9027 with a 3496-byte buffer: 874 - 1 = 0x369.
TEST(SdkFormsTest, GetReadFifoListDwordCount) {
  std::vector<uint8_t> list(3496);
  const Command c =
      HandAdmin(0x0A, 9027, {.cdw10 = 0x000000D0, .cdw11 = 0x03690001}, list.data(), 3496);
  absl::StatusOr<AdminRequest> r = DecodeAdmin(c);
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& get = std::get<GetReadFifoListRequest>(*r);
  EXPECT_EQ(get.vd, VirtualDeviceId(9027));
  EXPECT_EQ(get.buffer.size, 3496u);
  // Our encoder sends the SDK's form.
  absl::StatusOr<Command> ours = Encode(get);
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ(ours->sqe.cdw11, 0x03690001u);
  // CDW11[31:16] = 0, the form this codec sent before, is still accepted.
  const Command zero =
      HandAdmin(0x0A, 9027, {.cdw10 = 0x000000D0, .cdw11 = 0x00000001}, list.data(), 3496);
  EXPECT_TRUE(DecodeAdmin(zero).ok());
}

// Set Features 0xD2 as libsef's SEFCreateVirtualDevices sends it: capacity configuration 2,
// VDs by id, each VD's die ids ascending, one "any channel" descriptor per VD. VD 1 = dies
// {0, 2}, VD 2 = dies {1, 3}: 0x20 + 2 * 0x58 + 4 * 8 = 240 bytes, CDW11 = 4 dies | 2 << 16.
std::vector<uint8_t> SdkCapacityConfig() {
  std::vector<uint8_t> d(240, 0);
  Store<uint16_t>(d, 0, 2);  // cci
  Store<uint16_t>(d, 4, 2);  // egcn
  for (const auto& [at, vd, die0, die1] : {std::tuple{32, 1, 0, 2}, std::tuple{136, 2, 1, 3}}) {
    Store<uint16_t>(d, at, static_cast<uint16_t>(vd));         // endgid
    Store<uint16_t>(d, at + 82, 1);                            // egchans
    Store<uint16_t>(d, at + 84, 0xFFFF);                       // ch_id: any channel
    Store<uint16_t>(d, at + 86, 2);                            // chmus
    Store<uint16_t>(d, at + 88, static_cast<uint16_t>(die0));  // media unit ids
    Store<uint16_t>(d, at + 96, static_cast<uint16_t>(die1));
  }
  return d;
}

TEST(SdkFormsTest, CapacityConfigurationInTheSdksOrder) {
  std::vector<uint8_t> sdk = SdkCapacityConfig();
  const Command c = HandAdmin(0x09, 0, {.cdw10 = 0x800000D2, .cdw11 = 0x00020004}, sdk.data(),
                              static_cast<uint32_t>(sdk.size()));
  absl::StatusOr<AdminRequest> r = DecodeAdmin(c);
  ASSERT_TRUE(r.ok()) << r.status();
  const CapacityConfig sorted{
      2, {{VirtualDeviceId(1), {DieId(0), DieId(2)}}, {VirtualDeviceId(2), {DieId(1), DieId(3)}}}};
  EXPECT_EQ(std::get<SetCapacityConfigRequest>(*r).config, sorted);
  // A configuration given in another order sorts into the SDK's, and encodes to its bytes.
  CapacityConfig config{
      2, {{VirtualDeviceId(2), {DieId(3), DieId(1)}}, {VirtualDeviceId(1), {DieId(2), DieId(0)}}}};
  config.Sort();
  EXPECT_EQ(config, sorted);
  std::vector<uint8_t> payload(4096, 0xEE);
  absl::StatusOr<Command> ours =
      Encode(SetCapacityConfigRequest{config, MutableBytes::Of(payload)});
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ(ours->sqe.cdw11, 0x00020004u);
  EXPECT_EQ(std::vector<uint8_t>(payload.begin(), payload.begin() + ours->sqe.data_len), sdk);
}

// NS Management create: libsef leaves FLBAS and LBA format 0 (bytes 128..131) zero; our
// encoder writes the ADU's format {ms 16, lbads 12}. Both decode; another format does not.
TEST(SdkFormsTest, NamespaceCreateLbaFormat) {
  std::vector<uint8_t> ns(4096, 0);
  Store<uint16_t>(ns, 102, 1);   // endgid
  Store<uint64_t>(ns, 840, 16);  // sbsta.gcap
  Store<uint64_t>(ns, 832, 16);  // sbsta.quota
  const auto decode = [&ns] {
    return DecodeAdmin(HandAdmin(0x0D, 0, {.cdw10 = 0, .cdw11 = 0x30000000}, ns.data(), 4096));
  };
  EXPECT_TRUE(decode().ok()) << decode().status();  // the SDK's zeros
  Store<uint16_t>(ns, 128, 16);                     // ms
  Store<uint8_t>(ns, 130, 12);                      // lbads
  EXPECT_TRUE(decode().ok()) << decode().status();  // our form
  Store<uint8_t>(ns, 130, 9);
  ASSERT_FALSE(decode().ok());
  EXPECT_NE(decode().status().message().find("LBA format 0 {ms 16, lbads 9}"), std::string::npos)
      << decode().status();
  Store<uint8_t>(ns, 130, 12);
  Store<uint8_t>(ns, 26, 1);  // FLBAS: format 1
  ASSERT_FALSE(decode().ok());
  EXPECT_NE(decode().status().message().find("FLBAS 0x1"), std::string::npos) << decode().status();
}

}  // namespace
}  // namespace sef::cmd
