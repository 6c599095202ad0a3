// Every rejection rule: an invalid request is refused before anything is encoded, with
// InvalidArgument and a message naming the field and the bad value. The decoders apply the
// same rules to commands that arrive malformed.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {
namespace {

using ::testing::HasSubstr;

const DomainFormat kFormat{{.sb_bits = 16, .adu_offset_bits = 24}, /*num_placement_ids=*/4};

template <typename Request>
void ExpectRejected(const Request& r, const std::string& substring) {
  absl::StatusOr<Command> c;
  if constexpr (std::is_constructible_v<AdminRequest, Request>) {
    c = Encode(r);
  } else {
    c = Encode(r, kFormat);
  }
  ASSERT_FALSE(c.ok()) << "accepted a request that should fail with: " << substring;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(substring));
}

class RejectTest : public ::testing::Test {
 protected:
  NamelessWriteRequest ValidWrite(uint32_t adus) {
    data_.assign(uint64_t{adus} * wire::kAduDataBytes, 0);
    iov_ = {data_.data(), data_.size()};
    NamelessWriteRequest w;
    w.domain = QosDomainId(1);
    w.target = ByPlacement{PlacementId(0)};
    w.adus = AduCount(adus);
    w.nlwid = 1;
    w.data = {&iov_, 1};
    return w;
  }
  ReadRequest ValidRead(uint32_t adus) {
    data_.assign(uint64_t{adus} * wire::kAduDataBytes, 0);
    iov_ = {data_.data(), data_.size()};
    ReadRequest r;
    r.address = *FlashAddress::Make(QosDomainId(1), SuperBlockId(3), AduOffset(0), kFormat.address);
    r.adus = AduCount(adus);
    r.data = {&iov_, 1};
    return r;
  }
  MutableBytes Buffer(uint32_t size) {
    buffer_.assign(size, 0);
    return {buffer_.data(), size};
  }

  std::vector<uint8_t> data_, buffer_;
  iovec iov_{};
};

// ---- the rules the issue names ------------------------------------------------------------

TEST_F(RejectTest, AduCountZero) {
  NamelessWriteRequest w = ValidWrite(1);
  w.adus = AduCount(0);
  ExpectRejected(w, "ADU count 0 is outside 1..65536");
  ReadRequest r = ValidRead(1);
  r.adus = AduCount(0);
  ExpectRejected(r, "ADU count 0");
}

TEST_F(RejectTest, AduCountAbove64Ki) {
  NamelessWriteRequest w = ValidWrite(1);
  w.adus = AduCount(0x10001);
  ExpectRejected(w, "ADU count 65537 is outside 1..65536");
  ReadRequest r = ValidRead(1);
  r.adus = AduCount(0x10001);
  ExpectRejected(r, "ADU count 65537");
}

TEST_F(RejectTest, RootPointerIndexAbove7) {
  ExpectRejected(SetRootPointerRequest{QosDomainId(1), 8, FlashAddress::FromRaw(1)},
                 "root pointer index 8 is above 7");
  ExpectRejected(GetRootPointerRequest{QosDomainId(1), 200}, "root pointer index 200 is above 7");
}

TEST_F(RejectTest, SuperBlockIdWiderThanTheVirtualDevice) {
  // 16-bit SB ids: 0xFFFF is the largest.
  ExpectRejected(
      SuperBlockManagementRequest{
          QosDomainId(1), SbOperation::kClose, SuperBlockId(0x10000), 0, {}},
      "super block id 65536 is wider than the virtual device's 16-bit field");
  NamelessWriteRequest w = ValidWrite(1);
  w.target = SuperBlockId(0x12345);
  ExpectRejected(w, "super block id 74565 is wider");
  ExpectRejected(FlashAddressRequest{QosDomainId(1), SuperBlockId(0x10000), 1, 0, Buffer(144)},
                 "super block id 65536");
  NamelessCopyRequest c;
  c.destination = QosDomainId(1);
  c.destination_sb = SuperBlockId(0xFFFFF);
  c.source = CopyList{{FlashAddress::FromRaw(1)}};
  c.payload = Buffer(64);
  ExpectRejected(c, "super block id 1048575");
  ReadRequest r = ValidRead(1);
  r.address = FlashAddress::FromRaw((uint64_t{1} << 48) | (uint64_t{0x10000} << 24));
  ExpectRejected(r, "super block id wider than the virtual device's 16-bit field");
}

TEST_F(RejectTest, PlacementIdAboveTheDomainMaximum) {
  NamelessWriteRequest w = ValidWrite(1);
  w.target = ByPlacement{PlacementId(4)};
  ExpectRejected(w, "placement id 4 is above the domain's maximum 3");
  ExpectRejected(FlashAddressRequest{QosDomainId(1), PlacementId(9), 1, 0, Buffer(144)},
                 "placement id 9 is above the domain's maximum 3");
}

// ---- further rules ------------------------------------------------------------------------

TEST_F(RejectTest, WriteDataMustMatchTheAduCount) {
  NamelessWriteRequest w = ValidWrite(2);
  w.adus = AduCount(3);
  ExpectRejected(w, "data buffers hold 8192 bytes, the ADU count needs 12288");
  w = ValidWrite(2);
  std::vector<uint8_t> meta(16);
  w.metadata = ConstBytes::Of(meta);
  ExpectRejected(w, "metadata buffer of 16 bytes, the ADU count needs 32");
}

TEST_F(RejectTest, PairIdsAreNonZero) {
  NamelessWriteRequest w = ValidWrite(1);
  w.nlwid = 0;
  ExpectRejected(w, "NLWID 0 is reserved");
  ExpectRejected(GetCopyResultRequest{QosDomainId(1), 0, false, Buffer(48)}, "NLCID 0");
}

TEST_F(RejectTest, NamespaceIdZero) {
  ExpectRejected(DeleteQosDomainRequest{QosDomainId(0)}, "QoS domain id 0");
  ReadRequest r = ValidRead(1);
  r.address = FlashAddress::FromRaw(5);  // domain bits 0
  ExpectRejected(r, "QoS domain id 0");
}

TEST_F(RejectTest, ReadNeedsABuffer) {
  ReadRequest r = ValidRead(1);
  r.data = {};
  ExpectRejected(r, "neither data nor metadata");
}

TEST_F(RejectTest, ReadMayNotRunPastTheSuperBlock) {
  ReadRequest r = ValidRead(2);
  r.address =
      *FlashAddress::Make(QosDomainId(1), SuperBlockId(3), AduOffset(0xFFFFFF), kFormat.address);
  ExpectRejected(r, "2 ADUs from offset 16777215 run past the 24-bit ADU offset field");
}

TEST_F(RejectTest, SuperBlockManagementRules) {
  ExpectRejected(
      SuperBlockManagementRequest{
          QosDomainId(1), SbOperation::kClose, kDeviceChoosesSuperBlock, 0, {}},
      "operation 1 needs a super block id");
  ExpectRejected(
      SuperBlockManagementRequest{QosDomainId(1), SbOperation::kFree, SuperBlockId(1), 7, {}},
      "free takes no erase weight (got 7)");
  ExpectRejected(
      SuperBlockManagementRequest{
          QosDomainId(1), static_cast<SbOperation>(5), SuperBlockId(1), 0, {}},
      "operation 5 is not 0-4 or 8");
}

TEST_F(RejectTest, LogBuffersAreWholeDwords) {
  ExpectRejected(SuperBlockListLogRequest{QosDomainId(1), SbListOrder::kAll, 0, Buffer(10)},
                 "buffer length 10 is not a whole number of dwords");
  ExpectRejected(SuperBlockListLogRequest{QosDomainId(1), SbListOrder::kAll, 6, Buffer(16)},
                 "offset 6 is not dword aligned");
  ExpectRejected(
      SuperBlockListLogRequest{QosDomainId(1), static_cast<SbListOrder>(5), 0, Buffer(16)},
      "list order 5 is not 0..4");
  ExpectRejected(IdentifySefControllerRequest{Buffer(512)}, "buffer length 512");
  ExpectRejected(AddressChangeOrderLogRequest{QosDomainId(1), 0, Buffer(4096)}, "ACO id 0");
}

TEST_F(RejectTest, FeatureFieldRanges) {
  ExpectRejected(SetDiesPerSuperBlockRequest{VirtualDeviceId(1), 257},
                 "257 dies is outside 1..256");
  ExpectRejected(SetDiesPerSuperBlockRequest{VirtualDeviceId(1), 0}, "0 dies");
  ExpectRejected(SetVdAenControlRequest{VirtualDeviceId(1), 0x8}, "mask 0x8 has bits beyond 0x7");
  ExpectRejected(SetReadFifoRequest{VirtualDeviceId(1), ReadFifoAction::kAttach,
                                    ReadFifoId(0x80000000), 1, false},
                 "read FIFO id 0x80000000 does not fit in 31 bits");
  ExpectRejected(SetReadDeadlineRequest{QosDomainId(1), static_cast<ReadDeadline>(4)},
                 "deadline code 4");
  ExpectRejected(
      SetQosDomainCapacityRequest{QosDomainId(1), false, PlanePageCount(10), PlanePageCount(9)},
      "quota 9 is below capacity 10");
  ExpectRejected(
      SetQosDomainCapacityRequest{QosDomainId(1), false, PlanePageCount(0), PlanePageCount(9)},
      "capacity 0");
  ExpectRejected(SetMaxOpenSuperBlocksRequest{QosDomainId(1), 0}, "0 would forbid every write");
  ExpectRejected(SetDiesPerSuperBlockRequest{VirtualDeviceId(0), 4}, "virtual device id 0");
  ExpectRejected(GetReadFifoListRequest{VirtualDeviceId(1), Buffer(0x40004)},
                 "exceeds the 16-bit dword count");
}

TEST_F(RejectTest, QosDomainCreation) {
  QosDomainSpec s;
  s.vd = VirtualDeviceId(1);
  ExpectRejected(CreateQosDomainRequest{s, Buffer(4096)}, "both capacity and pSLC capacity are 0");
  s.capacity = PlanePageCount(10);
  s.num_placement_ids = 0;
  ExpectRejected(CreateQosDomainRequest{s, Buffer(4096)}, "0 placement ids");
  s.num_placement_ids = 1;
  s.defect = static_cast<DefectStrategy>(3);
  ExpectRejected(CreateQosDomainRequest{s, Buffer(4096)}, "defect strategy code 3");
  s.defect = DefectStrategy::kPerfect;
  ExpectRejected(CreateQosDomainRequest{s, Buffer(100)}, "buffer length 100");
}

TEST_F(RejectTest, CapacityConfiguration) {
  CapacityConfig config;
  config.id = 2;
  ExpectRejected(SetCapacityConfigRequest{config, Buffer(4096)}, "no virtual devices");
  config.vds = {{VirtualDeviceId(1), {DieId(0), DieId(1)}}, {VirtualDeviceId(2), {DieId(1)}}};
  ExpectRejected(SetCapacityConfigRequest{config, Buffer(4096)},
                 "die 1 is given to two virtual devices");
  config.vds = {{VirtualDeviceId(1), {DieId(0)}}, {VirtualDeviceId(1), {DieId(1)}}};
  ExpectRejected(SetCapacityConfigRequest{config, Buffer(4096)}, "virtual device 1 appears twice");
  config.vds = {{VirtualDeviceId(1), {DieId(0)}}};
  ExpectRejected(SetCapacityConfigRequest{config, Buffer(16)},
                 "payload buffer of 16 bytes, the descriptor needs 128");
}

TEST_F(RejectTest, NamelessCopyRules) {
  NamelessCopyRequest c;
  c.destination = QosDomainId(1);
  c.destination_sb = SuperBlockId(1);
  c.payload = Buffer(1 << 20);
  ExpectRejected(c, "0 source addresses is outside 1..65536");
  c.source = CopyBitmap{FlashAddress::FromRaw(0), std::vector<uint32_t>(0x10001)};
  ExpectRejected(c, "65537 source bitmap words");
  c.source = CopyList{{FlashAddress::FromRaw(1)}};
  c.filter = UserAddressFilter{UserAddress::FromRaw(0), 0, false};
  ExpectRejected(c, "filter of length 0");
  c.filter.reset();
  c.payload = Buffer(20);
  ExpectRejected(c, "payload buffer of 20 bytes, the source descriptor needs 24");
}

TEST_F(RejectTest, GetCopyResultBuffer) {
  ExpectRejected(GetCopyResultRequest{QosDomainId(1), 1, false, Buffer(24)},
                 "ACR buffer of 24 bytes");
  ExpectRejected(GetCopyResultRequest{QosDomainId(1), 1, false, Buffer(60)},
                 "ACR buffer of 60 bytes");
}

// ---- malformed commands on the device side ------------------------------------------------

TEST_F(RejectTest, DecoderRefusesUnknownOpcodesAndSelects) {
  Command c;
  c.queue = QueueType::kIo;
  c.sqe.opcode = 0x01;  // NVM Write: not SEF
  c.sqe.nsid = 1;
  EXPECT_EQ(DecodeIo(c, kFormat).status().code(), absl::StatusCode::kUnimplemented);

  c.queue = QueueType::kAdmin;
  c.sqe.opcode = static_cast<uint8_t>(wire::AdminOpcode::kSetFeatures);
  c.sqe.cdw10 = 0xD1;
  c.sqe.cdw11 = 9;  // SEL 9
  absl::StatusOr<AdminRequest> r = DecodeAdmin(c);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("SEL 9"));

  c.sqe.cdw10 = 0x02;  // LID 2 via Get Log Page
  c.sqe.opcode = static_cast<uint8_t>(wire::AdminOpcode::kGetLogPage);
  std::vector<uint8_t> buf(4);
  c.sqe.addr = reinterpret_cast<uintptr_t>(buf.data());
  c.sqe.data_len = 4;
  EXPECT_EQ(DecodeAdmin(c).status().code(), absl::StatusCode::kUnimplemented);
}

TEST_F(RejectTest, DecoderRefusesMismatchedLengths) {
  Command c = *Encode(ValidRead(2), kFormat);
  c.sqe.cdw12 = 2;  // NADU 3, buffers for 2
  absl::StatusOr<IoRequest> r = DecodeIo(c, kFormat);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("the ADU count needs 12288"));

  Command l = *Encode(VdInfoLogRequest{VirtualDeviceId(1), false, Buffer(256)});
  l.sqe.data_len = 128;
  absl::StatusOr<AdminRequest> log = DecodeAdmin(l);
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(std::string(log.status().message()),
              HasSubstr("NUMD 64 dwords does not match the 128-byte buffer"));

  Command fifos = *Encode(GetReadFifoListRequest{VirtualDeviceId(1), Buffer(256)});
  fifos.sqe.data_len = 128;
  absl::StatusOr<AdminRequest> list = DecodeAdmin(fifos);
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(std::string(list.status().message()),
              HasSubstr("64 dwords in CDW11[31:16] do not match the 128-byte buffer"));
}

TEST_F(RejectTest, DecoderRefusesExplicitAduOffsets) {
  NamelessWriteRequest w = ValidWrite(1);
  w.target = SuperBlockId(5);
  Command c = *Encode(w, kFormat);
  c.sqe.cdw14 &= ~1u;  // ADU offset no longer all ones
  absl::StatusOr<IoRequest> r = DecodeIo(c, kFormat);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("this device appends"));
}

TEST_F(RejectTest, DecoderRefusesWrongQueue) {
  Command c = *Encode(ValidRead(1), kFormat);
  c.queue = QueueType::kAdmin;
  EXPECT_EQ(DecodeIo(c, kFormat).status().code(), absl::StatusCode::kInvalidArgument);
  // An I/O opcode sent to the admin queue is simply not an admin command.
  EXPECT_EQ(DecodeAdmin(c).status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace sef::cmd
