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

}  // namespace
}  // namespace sef::cmd
