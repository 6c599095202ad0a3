#include "sef/hal/kernel/uring_cmd.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/nvme_ioctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/requests.h"
#include "sef/hal/cmd/wire.h"

namespace sef::hal::kernel {
namespace {

// The kernel's layout of the URING_CMD payload (include/uapi/linux/nvme_ioctl.h).
static_assert(sizeof(nvme_uring_cmd) == 72);
static_assert(offsetof(nvme_uring_cmd, opcode) == 0);
static_assert(offsetof(nvme_uring_cmd, nsid) == 4);
static_assert(offsetof(nvme_uring_cmd, addr) == 24);
static_assert(offsetof(nvme_uring_cmd, data_len) == 36);
static_assert(offsetof(nvme_uring_cmd, cdw10) == 40);
static_assert(offsetof(nvme_uring_cmd, cdw15) == 60);
static_assert(offsetof(nvme_uring_cmd, timeout_ms) == 64);
static_assert(offsetof(nvme_passthru_cmd64, vec_cnt) == offsetof(nvme_uring_cmd, data_len));
static_assert(NVME_URING_CMD_IO == 0xC0484E80u && NVME_URING_CMD_IO_VEC == 0xC0484E81u);
static_assert(offsetof(io_uring_sqe, cmd) == kSqeCmdOffset);
static_assert(kSqeCmdOffset + kSqeCmdBytes == kSqe128Bytes);

constexpr cmd::DomainFormat kFormat{};  // 24-bit SB ids and ADU offsets, one placement id
constexpr QosDomainId kDomain{3};

// Buffers that outlive the commands referencing them.
struct Buffers {
  std::vector<uint8_t> arr = std::vector<uint8_t>(sizeof(wire::AddressRequestResponse));
  std::vector<uint8_t> data = std::vector<uint8_t>(2 * wire::kAduDataBytes);
  std::array<iovec, 2> iov{{{data.data(), wire::kAduDataBytes},
                            {data.data() + wire::kAduDataBytes, wire::kAduDataBytes}}};
};

Command Far(Buffers& b, uint32_t nlwid) {
  absl::StatusOr<Command> c = cmd::Encode(
      cmd::FlashAddressRequest{
          .domain = kDomain, .target = PlacementId{0}, .nlwid = nlwid, .arr = {b.arr.data(), 144}},
      kFormat);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

Command Nlw(Buffers& b, uint32_t nlwid) {
  absl::StatusOr<Command> c =
      cmd::Encode(cmd::NamelessWriteRequest{.domain = kDomain,
                                            .start = UserAddress::FromRaw(100),
                                            .adus = AduCount{2},
                                            .nlwid = nlwid,
                                            .data = {b.iov.data(), 2}},
                  kFormat);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

Command Read(Buffers& b) {
  absl::StatusOr<FlashAddress> address =
      FlashAddress::Make(kDomain, SuperBlockId{5}, AduOffset{8}, kFormat.address);
  EXPECT_TRUE(address.ok());
  absl::StatusOr<Command> c = cmd::Encode(
      cmd::ReadRequest{.address = *address, .adus = AduCount{2}, .data = {b.iov.data(), 2}},
      kFormat);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// The checks every URING_CMD SQE must pass.
void ExpectUringCmd(const unsigned char* raw, int fd, const Command& c, uint64_t user_data) {
  const auto* sqe = reinterpret_cast<const io_uring_sqe*>(raw);
  EXPECT_EQ(sqe->opcode, IORING_OP_URING_CMD);
  EXPECT_EQ(sqe->fd, fd);
  EXPECT_EQ(sqe->flags, 0);  // in particular no IOSQE_IO_LINK
  EXPECT_EQ(sqe->ioprio, 0);
  EXPECT_EQ(sqe->uring_cmd_flags, 0u);
  EXPECT_EQ(sqe->cmd_op, c.vectored ? 0xC0484E81u : 0xC0484E80u);
  EXPECT_EQ(sqe->__pad1, 0u);
  EXPECT_EQ(sqe->addr, 0u);  // the data address travels inside the command, not here
  EXPECT_EQ(sqe->len, 0u);
  EXPECT_EQ(sqe->user_data, user_data);
  unsigned char expected[kSqeCmdBytes] = {};
  std::memcpy(expected, &c.sqe, 72);
  EXPECT_EQ(std::memcmp(raw + kSqeCmdOffset, expected, kSqeCmdBytes), 0);
  nvme_uring_cmd u;
  std::memcpy(&u, raw + kSqeCmdOffset, sizeof(u));
  EXPECT_EQ(u.opcode, c.sqe.opcode);
  EXPECT_EQ(u.nsid, c.sqe.nsid);
  EXPECT_EQ(u.addr, c.sqe.addr);
  EXPECT_EQ(u.data_len, c.sqe.data_len);
  EXPECT_EQ(u.cdw10, c.sqe.cdw10);
  EXPECT_EQ(u.cdw13, c.sqe.cdw13);
  EXPECT_EQ(u.timeout_ms, c.sqe.timeout_ms);
}

TEST(PrepareUringCmdTest, NonVectoredFlashAddressRequest) {
  Buffers b;
  const Command far = Far(b, 7);
  ASSERT_FALSE(far.vectored);
  alignas(64) unsigned char raw[kSqe128Bytes];
  std::memset(raw, 0xA5, sizeof(raw));  // stale contents must not survive
  PrepareUringCmd(reinterpret_cast<io_uring_sqe*>(raw), 42, far, 0x1234'5678'9ABC'DEF0);
  ExpectUringCmd(raw, 42, far, 0x1234'5678'9ABC'DEF0);
  nvme_uring_cmd u;
  std::memcpy(&u, raw + kSqeCmdOffset, sizeof(u));
  EXPECT_EQ(u.opcode, 0xD2);
  EXPECT_EQ(u.nsid, 3u);
  EXPECT_EQ(u.addr, reinterpret_cast<uintptr_t>(b.arr.data()));
  EXPECT_EQ(u.data_len, 144u);
  EXPECT_EQ(u.cdw13, 7u);
  EXPECT_EQ(u.timeout_ms, cmd::kFarTimeoutMs);
}

TEST(PrepareUringCmdTest, VectoredReadAndNamelessWrite) {
  Buffers b;
  for (const Command& c : {Read(b), Nlw(b, 9)}) {
    ASSERT_TRUE(c.vectored);
    alignas(64) unsigned char raw[kSqe128Bytes];
    std::memset(raw, 0x5A, sizeof(raw));
    PrepareUringCmd(reinterpret_cast<io_uring_sqe*>(raw), 5, c, 77);
    ExpectUringCmd(raw, 5, c, 77);
    nvme_uring_cmd u;
    std::memcpy(&u, raw + kSqeCmdOffset, sizeof(u));
    // Vectored: addr is the iovec array, data_len its entry count.
    EXPECT_EQ(u.addr, reinterpret_cast<uintptr_t>(b.iov.data()));
    EXPECT_EQ(u.data_len, 2u);
  }
}

class RingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int ret = io_uring_queue_init(8, &ring_, kUringSetupFlags);
    ASSERT_EQ(ret, 0) << "io_uring_queue_init: " << std::strerror(-ret);
    ready_ = true;
  }
  void TearDown() override {
    if (ready_) io_uring_queue_exit(&ring_);
  }
  // The raw 128-byte SQE at SQ position `pos`.
  const unsigned char* SqeAt(unsigned pos) const {
    return reinterpret_cast<const unsigned char*>(&ring_.sq.sqes[(pos & ring_.sq.ring_mask) << 1]);
  }

  io_uring ring_{};
  bool ready_ = false;
};

// Submits the two prepared SQEs and checks both come back as OS errors naming `path`.
void ExpectTwoOsErrors(io_uring* ring, const char* path) {
  ASSERT_EQ(io_uring_submit(ring), 2);
  bool seen[2] = {false, false};
  for (int i = 0; i < 2; ++i) {
    io_uring_cqe* cqe = nullptr;
    ASSERT_EQ(io_uring_wait_cqe(ring, &cqe), 0);
    ASSERT_TRUE(cqe->user_data == 1001 || cqe->user_data == 1002) << cqe->user_data;
    seen[cqe->user_data - 1001] = true;
    EXPECT_LT(cqe->res, 0);
    const TransportResult r = ResultFromCqe(*cqe, path);
    io_uring_cqe_seen(ring, cqe);
    EXPECT_FALSE(r.os.ok());
    EXPECT_TRUE(r.nvme.ok());  // an OS error, not a device status
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.os.message().find(std::string("io_uring URING_CMD ") + path), std::string::npos)
        << r.os;
  }
  EXPECT_TRUE(seen[0] && seen[1]);
}

// Not /dev/null: since Linux 6.0 it implements uring_cmd (as a no-op that succeeds).
TEST_F(RingTest, PairIsFarThenNlwAdjacentAndFailsWithOsErrorsOnAPipe) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  Buffers b;
  const Command far = Far(b, 11);
  const Command nlw = Nlw(b, 11);
  const unsigned tail = ring_.sq.sqe_tail;
  ASSERT_TRUE(PrepareUringPair(&ring_, fds[1], far, 1001, fds[1], nlw, 1002));
  ASSERT_EQ(ring_.sq.sqe_tail, tail + 2);
  ExpectUringCmd(SqeAt(tail), fds[1], far, 1001);
  ExpectUringCmd(SqeAt(tail + 1), fds[1], nlw, 1002);
  EXPECT_EQ(SqeAt(tail)[kSqeCmdOffset], 0xD2);      // FAR
  EXPECT_EQ(SqeAt(tail + 1)[kSqeCmdOffset], 0xD1);  // then NLW
  ExpectTwoOsErrors(&ring_, "pipe");
  close(fds[0]);
  close(fds[1]);
}

TEST_F(RingTest, PairOnARegularFileFailsWithOsErrors) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/uring_cmd_test_file";
  const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  Buffers b;
  ASSERT_TRUE(PrepareUringPair(&ring_, fd, Far(b, 1), 1001, fd, Nlw(b, 1), 1002));
  ExpectTwoOsErrors(&ring_, path.c_str());
  close(fd);
  unlink(path.c_str());
}

TEST_F(RingTest, PairNeedsTwoFreeSlots) {
  Buffers b;
  const Command far = Far(b, 2);
  const Command nlw = Nlw(b, 2);
  // Leave exactly one free SQ slot.
  while (io_uring_sq_space_left(&ring_) > 1) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    ASSERT_NE(sqe, nullptr);
    io_uring_prep_nop(sqe);
  }
  const unsigned tail = ring_.sq.sqe_tail;
  EXPECT_FALSE(PrepareUringPair(&ring_, 0, far, 1, 0, nlw, 2));
  EXPECT_EQ(ring_.sq.sqe_tail, tail);  // nothing taken
}

// A CQE32 built by hand.
struct Cqe32 {
  alignas(io_uring_cqe) unsigned char raw[kCqe32Bytes] = {};
  Cqe32(int32_t res, uint64_t big0) {
    io_uring_cqe head{};
    head.user_data = 9;
    head.res = res;
    std::memcpy(raw, &head, sizeof(head));
    std::memcpy(raw + sizeof(head), &big0, sizeof(big0));
  }
  const io_uring_cqe& cqe() const { return *reinterpret_cast<const io_uring_cqe*>(raw); }
};

TEST(ResultFromCqeTest, NegativeResIsAnOsError) {
  const TransportResult r = ResultFromCqe(Cqe32(-EIO, 0).cqe(), "/dev/ng0n3");
  EXPECT_EQ(r.os.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.os.message(), "io_uring URING_CMD /dev/ng0n3: Input/output error (EIO)");
  EXPECT_TRUE(r.nvme.ok());
  EXPECT_EQ(r.result, 0u);

  const TransportResult perm = ResultFromCqe(Cqe32(-EACCES, 0).cqe(), "/dev/ng0n3");
  EXPECT_EQ(perm.os.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(perm.os.message().find("CAP_SYS_ADMIN"), std::string::npos);
}

TEST(ResultFromCqeTest, PositiveResIsTheNvmeStatus) {
  const TransportResult r = ResultFromCqe(Cqe32(0x7F0, 0x42).cqe());
  EXPECT_TRUE(r.os.ok());
  EXPECT_EQ(r.nvme, NvmeStatus::FromRaw(0x7F0));
  EXPECT_EQ(r.nvme.sct(), 7);
  EXPECT_EQ(r.nvme.sc(), 0xF0);
  EXPECT_EQ(r.result, 0x42u);
  EXPECT_FALSE(r.ok());
}

TEST(ResultFromCqeTest, ZeroResIsSuccessWithTheBigCqeResult) {
  const TransportResult r = ResultFromCqe(Cqe32(0, 0x0000000500000010).cqe());
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.result, 0x0000000500000010u);
}

TEST(WithScratchDataTest, MetadataOnlyReadGetsAScratchDataBuffer) {
  const cmd::DomainFormat f{{24, 24}, 4};
  std::vector<uint8_t> meta(3 * 16);
  cmd::ReadRequest r;
  r.address = FlashAddress::FromRaw((uint64_t{2} << 48) | 7);
  r.adus = AduCount(3);
  r.metadata = cmd::MutableBytes::Of(meta);
  const Command c = *cmd::Encode(r, f);
  ASSERT_EQ(c.sqe.vec_cnt, 0u);
  ReadScratch scratch;
  const std::optional<Command> sent = WithScratchData(c, scratch);
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->sqe.vec_cnt, 1u);
  EXPECT_EQ(sent->sqe.addr, reinterpret_cast<uintptr_t>(&scratch.iov));
  EXPECT_EQ(scratch.iov.iov_len, 3u * 4096);
  EXPECT_EQ(sent->sqe.metadata, c.sqe.metadata);
  EXPECT_EQ(sent->sqe.metadata_len, 48u);
  EXPECT_EQ(std::memcmp(&sent->sqe.cdw10, &c.sqe.cdw10, 6 * sizeof(uint32_t)), 0);

  // A Read with data, and any other command, go unchanged.
  std::vector<uint8_t> data(3 * 4096);
  iovec iov{data.data(), data.size()};
  r.data = {&iov, 1};
  EXPECT_FALSE(WithScratchData(*cmd::Encode(r, f), scratch).has_value());
  std::vector<uint8_t> identify(4096);
  EXPECT_FALSE(
      WithScratchData(
          *cmd::Encode(cmd::IdentifySefControllerRequest{cmd::MutableBytes::Of(identify)}), scratch)
          .has_value());
}

}  // namespace
}  // namespace sef::hal::kernel
