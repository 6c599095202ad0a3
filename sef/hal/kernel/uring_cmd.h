// The io_uring side of the kernel backend, as pure functions: an NVMe I/O passthrough
// command (IORING_OP_URING_CMD on /dev/ngXnY) in a 128-byte SQE, and a 32-byte CQE back to a
// TransportResult.
//
// The ring must be created with IORING_SETUP_SQE128 | IORING_SETUP_CQE32 (kUringSetupFlags):
// the NVMe driver refuses URING_CMD on a ring with 64-byte SQEs or 16-byte CQEs (EOPNOTSUPP).
//
// Thread-safety: the functions touch only their arguments. PrepareUringPair writes into the
// ring's SQ: the caller serialises it with every other user of that SQ.
#ifndef SEF_HAL_KERNEL_URING_CMD_H_
#define SEF_HAL_KERNEL_URING_CMD_H_

#include <liburing.h>
#include <linux/nvme_ioctl.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sef/hal/cmd/command.h"
#include "sef/hal/transport.h"

namespace sef::hal::kernel {

// `struct nvme_uring_cmd` is `struct nvme_passthru_cmd64` without its trailing 64-bit result.
static_assert(sizeof(nvme_uring_cmd) == 72);
static_assert(offsetof(nvme_uring_cmd, cdw10) == 40);
static_assert(offsetof(nvme_uring_cmd, data_len) == 36);
static_assert(offsetof(nvme_uring_cmd, timeout_ms) == 64);
static_assert(offsetof(nvme_passthru_cmd64, timeout_ms) == offsetof(nvme_uring_cmd, timeout_ms));
static_assert(offsetof(nvme_passthru_cmd64, result) == sizeof(nvme_uring_cmd));

inline constexpr uint32_t kNvmeUringCmdIo = NVME_URING_CMD_IO;
inline constexpr uint32_t kNvmeUringCmdIoVec = NVME_URING_CMD_IO_VEC;
static_assert(kNvmeUringCmdIo == 0xC0484E80u);
static_assert(kNvmeUringCmdIoVec == 0xC0484E81u);

inline constexpr unsigned kUringSetupFlags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
inline constexpr size_t kSqe128Bytes = 128;
inline constexpr size_t kSqeCmdOffset = 48;  // io_uring_sqe::cmd
inline constexpr size_t kSqeCmdBytes = 80;   // kSqe128Bytes - kSqeCmdOffset
inline constexpr size_t kCqe32Bytes = 32;
static_assert(sizeof(io_uring_sqe) == 64 && sizeof(io_uring_cqe) == 16);

// Fills `sqe` (all 128 bytes; earlier contents are overwritten) with one URING_CMD: opcode
// IORING_OP_URING_CMD, `fd`, flags 0, cmd_op NVME_URING_CMD_IO (NVME_URING_CMD_IO_VEC when
// c.vectored: then sqe.addr is the iovec array and sqe.vec_cnt its length, which the kernel
// reads as addr / data_len), the first 72 bytes of c.sqe in the 80-byte cmd area (the rest
// zero) and `user_data`. REQUIRES: sqe belongs to a ring set up with IORING_SETUP_SQE128.
void PrepareUringCmd(io_uring_sqe* sqe, int fd, const Command& c, uint64_t user_data);

// Takes two SQEs from `ring` and prepares `first` then `second` in adjacent SQ slots, with no
// IOSQE_IO_LINK or other flag, so that one io_uring_submit hands them to the driver back to
// back, first first (spec §1.10). Does not submit. Returns false, preparing nothing, when the
// SQ has fewer than two free slots. REQUIRES: ring set up with kUringSetupFlags.
bool PrepareUringPair(io_uring* ring, int first_fd, const Command& first, uint64_t first_user_data,
                      int second_fd, const Command& second, uint64_t second_user_data);

// The result of one URING_CMD completion. res < 0: `os` = ErrnoStatus(-res, "io_uring
// URING_CMD", path) and nvme success; res >= 0: `nvme` = NvmeStatus::FromRaw(res) and
// `result` = big_cqe[0] (the CQE's 64-bit command result). REQUIRES: `cqe` is the first
// half of a 32-byte CQE (a ring set up with IORING_SETUP_CQE32).
TransportResult ResultFromCqe(const io_uring_cqe& cqe, std::string_view path = {});

// The same from the two values a CQE32 carries: `res` and big_cqe[0].
TransportResult ResultFromCompletion(int32_t res, uint64_t result, std::string_view path);

// big_cqe[0] of a 32-byte CQE.
uint64_t BigCqeResult(const io_uring_cqe& cqe);

// Linux (6.1) maps a passthrough command's metadata buffer only together with a data
// buffer, so a metadata-only Read (no iovecs) would silently lose its metadata. Such a Read
// is sent with a scratch data buffer instead. Returns the command to send (pointing into
// `*scratch`, which must outlive it), or nullopt when `c` needs no change.
struct ReadScratch {
  std::vector<uint8_t> data;
  iovec iov{};
};
std::optional<Command> WithScratchData(const Command& c, ReadScratch& scratch);

}  // namespace sef::hal::kernel

#endif  // SEF_HAL_KERNEL_URING_CMD_H_
