// The forms of commands the public SEF SDK (libsef, sef.ko, sef-cli) sends, written by hand
// dword by dword (docs/command-set.md, "Forms other hosts send"), decoded as the device
// decodes them. Each test pins one form the decoders once refused (issue 16).
#include <cstring>
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
  const auto store = [&ns](size_t offset, auto value) {
    std::memcpy(ns.data() + offset, &value, sizeof(value));
  };
  store(102, uint16_t{1});   // endgid
  store(772, uint16_t{0});   // nplid: one placement id
  store(774, uint16_t{0});   // mxosb
  store(780, uint32_t{1});   // drfid
  store(832, uint64_t{0});   // sbsta.quota
  store(840, uint64_t{64});  // sbsta.gcap
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

}  // namespace
}  // namespace sef::cmd
