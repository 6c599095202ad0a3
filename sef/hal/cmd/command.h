// An encoded NVMe command, exactly as the Linux kernel consumes it, and an NVMe completion
// status as a typed value.
//
// `Command::sqe` is a `struct nvme_passthru_cmd64` (<linux/nvme_ioctl.h>): the argument of
// NVME_IOCTL_ADMIN64_CMD / NVME_IOCTL_IO64_CMD, and (its first 72 bytes) the payload of an
// io_uring NVME_URING_CMD_IO{,_VEC} SQE. Data and metadata buffers are referenced by address
// in `sqe.addr` / `sqe.metadata`; the Command does not own them: whoever submits it keeps
// them alive until completion. For a vectored command `sqe.addr` points at an iovec array
// and `sqe.vec_cnt` counts its entries.
#ifndef SEF_HAL_CMD_COMMAND_H_
#define SEF_HAL_CMD_COMMAND_H_

#include <linux/nvme_ioctl.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

#include "absl/status/status.h"

namespace sef {

static_assert(sizeof(nvme_passthru_cmd64) == 80);
static_assert(offsetof(nvme_passthru_cmd64, cdw10) == 40);
static_assert(offsetof(nvme_passthru_cmd64, result) == 72);

enum class QueueType : uint8_t { kAdmin, kIo };

// Direction of the data (and metadata) transfer. It follows the NVMe opcode convention in
// opcode bits 1:0 (01b host to controller, 10b controller to host).
enum class DataDirection : uint8_t { kNone, kHostToDevice, kDeviceToHost };

struct Command {
  nvme_passthru_cmd64 sqe{};
  QueueType queue = QueueType::kAdmin;
  DataDirection direction = DataDirection::kNone;
  bool vectored = false;  // sqe.addr is `const iovec*`, sqe.vec_cnt the count

  uint8_t opcode() const { return sqe.opcode; }
  uint32_t nsid() const { return sqe.nsid; }
  // Bytes of data the command moves: data_len, or the sum of the iovec lengths.
  uint64_t data_bytes() const;
};

// The direction NVMe implies for an opcode (bits 1:0).
DataDirection DirectionOfOpcode(uint8_t opcode);

// An NVMe completion status (CQE DW3 bits 31:17 as the kernel reports them: SC[7:0],
// SCT[10:8], CRD[12:11], M[13], DNR[14]). A device's answer, kept as it came; mapped to a
// canonical absl::Status exactly once, by ToStatus().
class NvmeStatus {
 public:
  constexpr NvmeStatus() = default;
  constexpr NvmeStatus(uint8_t sct, uint8_t sc, bool dnr = false)
      : raw_(static_cast<uint16_t>(((sct & 0x7) << 8) | sc | (dnr ? 1u << 14 : 0))) {}
  static constexpr NvmeStatus FromRaw(uint16_t raw) {
    NvmeStatus s;
    s.raw_ = raw & 0x7FFF;
    return s;
  }
  static constexpr NvmeStatus Success() { return NvmeStatus(); }

  constexpr uint16_t raw() const { return raw_; }
  constexpr uint8_t sc() const { return raw_ & 0xFF; }
  constexpr uint8_t sct() const { return (raw_ >> 8) & 0x7; }
  constexpr uint8_t crd() const { return (raw_ >> 11) & 0x3; }
  constexpr bool more() const { return raw_ & (1u << 13); }
  constexpr bool dnr() const { return raw_ & (1u << 14); }
  constexpr bool ok() const { return sc() == 0 && sct() == 0; }
  // Same SCT and SC, regardless of DNR/M/CRD.
  constexpr bool Is(uint8_t sct_value, uint8_t sc_value) const {
    return sct() == sct_value && sc() == sc_value;
  }

  friend constexpr bool operator==(NvmeStatus, NvmeStatus) = default;
  friend std::ostream& operator<<(std::ostream& os, NvmeStatus s);

 private:
  uint16_t raw_ = 0;
};

// The one mapping from a device status to a canonical code. `what` names the command for the
// message, e.g. "Nameless Write nsid 3". The message keeps SCT, SC and DNR, and the status
// itself travels with the result as a typed payload (NvmeStatusOf), so that a layer that
// must hand the exact status on (ZNS, the QEMU devices) never parses messages. The mapping,
// status by status, is the table in docs/hal.md ("Errors").
absl::Status ToStatus(NvmeStatus status, std::string_view what);

// The device status a failed result carries: set by ToStatus, kept by every layer that
// passes the status on (including absl::Status copies and SEF_RETURN_IF_ERROR), absent for
// OS, transport and argument errors and for OK.
std::optional<NvmeStatus> NvmeStatusOf(const absl::Status& status);

// Attaches `nvme` as the typed payload of `status` (a status built above the HAL, e.g. by a
// ZNS layer answering a zone check, that a guest must see as that NVMe status).
// REQUIRES: !status.ok().
void SetNvmeStatus(absl::Status& status, NvmeStatus nvme);

}  // namespace sef

#endif  // SEF_HAL_CMD_COMMAND_H_
