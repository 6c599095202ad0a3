#include "sef/hal/kernel/uring_cmd.h"

#include <cstring>

#include "sef/hal/cmd/wire.h"
#include "sef/hal/kernel/os_error.h"

namespace sef::hal::kernel {

// io_uring_sqe::cmd and io_uring_cqe::big_cqe are zero-length / flexible arrays; the bytes
// are reached through the raw 128- and 32-byte entries instead, so that no array bound is
// crossed in the compiler's eyes.
static_assert(offsetof(io_uring_sqe, user_data) == 32);

void PrepareUringCmd(io_uring_sqe* sqe, int fd, const Command& c, uint64_t user_data) {
  auto* raw = reinterpret_cast<unsigned char*>(sqe);
  std::memset(raw, 0, kSqe128Bytes);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fd;
  sqe->cmd_op = c.vectored ? kNvmeUringCmdIoVec : kNvmeUringCmdIo;
  sqe->user_data = user_data;
  std::memcpy(raw + kSqeCmdOffset, &c.sqe, sizeof(nvme_uring_cmd));
}

bool PrepareUringPair(io_uring* ring, int first_fd, const Command& first, uint64_t first_user_data,
                      int second_fd, const Command& second, uint64_t second_user_data) {
  // Checking the space first keeps a pair from being split across two submissions.
  if (io_uring_sq_space_left(ring) < 2) return false;
  io_uring_sqe* a = io_uring_get_sqe(ring);
  io_uring_sqe* b = io_uring_get_sqe(ring);
  // Cannot happen after the space check, but the optimiser cannot know that (and warns).
  if (a == nullptr || b == nullptr) return false;
  PrepareUringCmd(a, first_fd, first, first_user_data);
  PrepareUringCmd(b, second_fd, second, second_user_data);
  return true;
}

uint64_t BigCqeResult(const io_uring_cqe& cqe) {
  uint64_t result;
  std::memcpy(&result, reinterpret_cast<const unsigned char*>(&cqe) + sizeof(io_uring_cqe),
              sizeof(result));
  return result;
}

TransportResult ResultFromCompletion(int32_t res, uint64_t result, std::string_view path) {
  TransportResult r;
  if (res < 0) {
    r.os = ErrnoStatus(-res, "io_uring URING_CMD", path);
    return r;
  }
  r.nvme = NvmeStatus::FromRaw(static_cast<uint16_t>(res));
  r.result = result;
  return r;
}

TransportResult ResultFromCqe(const io_uring_cqe& cqe, std::string_view path) {
  return ResultFromCompletion(cqe.res, BigCqeResult(cqe), path);
}

std::optional<Command> WithScratchData(const Command& c, ReadScratch& scratch) {
  const bool metadata_only_read = c.queue == QueueType::kIo &&
                                  c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kRead) &&
                                  c.vectored && c.sqe.vec_cnt == 0 && c.sqe.metadata_len != 0;
  if (!metadata_only_read) return std::nullopt;
  const uint64_t adus = uint64_t{c.sqe.cdw12 & 0xFFFF} + 1;  // NADU, 0-based on the wire
  scratch.data.assign(adus * wire::kAduDataBytes, 0);
  scratch.iov = {scratch.data.data(), scratch.data.size()};
  Command with_data = c;
  with_data.sqe.addr = reinterpret_cast<uintptr_t>(&scratch.iov);
  with_data.sqe.vec_cnt = 1;
  return with_data;
}

}  // namespace sef::hal::kernel
