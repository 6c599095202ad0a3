// Test helper: a command written by hand, dword by dword, as another host (the public SEF
// SDK, nvme-cli) puts it on the wire. Regression tests of the forms such hosts send build
// their commands with it instead of with our encoders, so that the bits under test are the
// ones written in the test.
#ifndef SEF_HAL_CMD_TESTING_HAND_COMMAND_H_
#define SEF_HAL_CMD_TESTING_HAND_COMMAND_H_

#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "sef/hal/cmd/command.h"

namespace sef::cmd {

struct Dwords {
  uint32_t cdw10 = 0, cdw11 = 0, cdw12 = 0, cdw13 = 0, cdw14 = 0, cdw15 = 0;
};

// A command with a contiguous data buffer (none when `data` is null). The direction follows
// the opcode, as the kernel derives it.
inline Command HandCommand(QueueType queue, uint8_t opcode, uint32_t nsid, const Dwords& d,
                           void* data = nullptr, uint32_t data_len = 0) {
  Command c;
  c.queue = queue;
  c.direction = DirectionOfOpcode(opcode);
  c.sqe.opcode = opcode;
  c.sqe.nsid = nsid;
  c.sqe.cdw10 = d.cdw10;
  c.sqe.cdw11 = d.cdw11;
  c.sqe.cdw12 = d.cdw12;
  c.sqe.cdw13 = d.cdw13;
  c.sqe.cdw14 = d.cdw14;
  c.sqe.cdw15 = d.cdw15;
  c.sqe.addr = reinterpret_cast<uintptr_t>(data);
  c.sqe.data_len = data == nullptr ? 0 : data_len;
  return c;
}

inline Command HandAdmin(uint8_t opcode, uint32_t nsid, const Dwords& d, void* data = nullptr,
                         uint32_t data_len = 0) {
  return HandCommand(QueueType::kAdmin, opcode, nsid, d, data, data_len);
}

// An I/O command whose data is an iovec list (NVME_URING_CMD_IO_VEC), with optional metadata.
inline Command HandVectoredIo(uint8_t opcode, uint32_t nsid, const Dwords& d, const iovec* iov,
                              uint32_t iov_count, void* metadata = nullptr,
                              uint32_t metadata_len = 0) {
  Command c = HandCommand(QueueType::kIo, opcode, nsid, d);
  c.vectored = true;
  c.sqe.addr = reinterpret_cast<uintptr_t>(iov);
  c.sqe.vec_cnt = iov_count;
  c.sqe.metadata = reinterpret_cast<uintptr_t>(metadata);
  c.sqe.metadata_len = metadata == nullptr ? 0 : metadata_len;
  return c;
}

// Writes `value` (little endian, as the machine stores it) at byte `offset` of a payload
// written by hand.
template <typename T>
void Store(std::vector<uint8_t>& payload, size_t offset, T value) {
  std::memcpy(payload.data() + offset, &value, sizeof(T));
}

// Reads a T at byte `offset` of a buffer the device filled.
template <typename T>
T Load(const std::vector<uint8_t>& buffer, size_t offset = 0) {
  T value{};
  std::memcpy(&value, buffer.data() + offset, sizeof(T));
  return value;
}

}  // namespace sef::cmd

#endif  // SEF_HAL_CMD_TESTING_HAND_COMMAND_H_
