// Conformance of the device model to the forms of commands the public SEF SDK (libsef, sef.ko,
// sef-cli) sends (issue 16). Every command under test is written by hand, dword by dword, as
// the SDK puts it on the wire; setup uses our encoders. docs/command-set.md ("Forms other
// hosts send") and docs/model.md record the decisions these tests pin.
//
// Geometry (testdata/units/tiny.json): 2 channels x 2 banks = 4 dies, 2 planes, 4 pages per
// block, 16 blocks per die, 4 ADUs per plane page; VD 1 on all dies with 2 dies per SB has
// 32 SBs of 64 ADUs (16 plane pages).
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/cmd/testing/hand_command.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model {
namespace {

using cmd::HandAdmin;
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

class SdkFormsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.ok());
    h_.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
  }

  ModelHarness h_ = ModelHarness::Open("tiny");
};

// Item 1. libsef's GetVDInfoLogPage: the 196-byte header alone, NUMDL 48, LSI = VD 1.
TEST_F(SdkFormsTest, VdInfoLogHeaderOnly) {
  std::vector<uint8_t> header(196, 0xEE);
  const Completion c =
      h_.Raw(HandAdmin(0x02, 0, {.cdw10 = 0x003000D0, .cdw11 = 0x00010000}, header.data(), 196));
  ASSERT_TRUE(c.status.ok()) << c.status;
  const auto info = As<wire::VdInfoLogHeader>(header);
  EXPECT_EQ(info.vdid, 1);
  EXPECT_EQ(info.ndie, 3);  // four dies, 0-based: what the SDK reads the header for
  EXPECT_EQ(info.nsbdie, 2);
  EXPECT_EQ(info.sbsta.nfrsb, 32u);
  // A partial read of the first dword returns what fits.
  std::vector<uint8_t> dword(4, 0xEE);
  ASSERT_TRUE(
      h_.Raw(HandAdmin(0x02, 0, {.cdw10 = 0x000000D0, .cdw11 = 0x00010000}, dword.data(), 4))
          .status.ok());
  EXPECT_EQ(As<uint16_t>(dword), 1);  // vdid
  // An unknown VD is still refused.
  EXPECT_EQ(
      h_.Raw(HandAdmin(0x02, 0, {.cdw10 = 0x003000D0, .cdw11 = 0x00020000}, header.data(), 196))
          .status,
      Generic(sc::kInvalidField));
}

}  // namespace
}  // namespace sef::model
