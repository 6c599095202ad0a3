// A sef::Command read from a fuzz input (testonly): the 64-byte submission entry exactly as
// the input gives it, plus the data and metadata buffers it references, sized as the entry's
// lengths say. The decode and model fuzz targets read commands this way; seed generators write
// them with WriteFuzzCommand.
//
// Tape encoding (sef/base/testing/fuzz.h):
//   u8      mode: bit 0 I/O queue (else admin); bit 1 vectored data (sqe.addr = iovec[]);
//           bit 2 NULL data pointer; bit 3 NULL metadata pointer (honoured only when the
//           limits allow NULL buffers)
//   u8[64]  the SQE as struct nvme_passthru_cmd64 lays it out (opcode .. cdw15). `addr` and
//           `metadata` are ignored (replaced by the buffers'); `data_len` is the contiguous
//           buffer's length or, vectored, the iovec count; `metadata_len` the metadata's.
//   vectored: u32 length of each iovec
//   for each data buffer (the contiguous one or each iovec), then the metadata buffer:
//           u16 n, n bytes: the buffer's first bytes (the rest is zero)
// Every buffer is its own heap allocation of exactly its length, so that AddressSanitizer sees
// any access past it.
#ifndef SEF_HAL_CMD_TESTING_FUZZ_COMMAND_H_
#define SEF_HAL_CMD_TESTING_FUZZ_COMMAND_H_

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "sef/base/testing/fuzz.h"
#include "sef/hal/cmd/command.h"

namespace sef::cmd::testing {

struct FuzzCommandLimits {
  uint64_t max_data_bytes = 1 << 20;  // all data buffers together
  uint32_t max_iovecs = 8;
  uint32_t max_metadata_bytes = 64 << 10;
  bool allow_null_buffers = false;  // NULL with a non-zero length (decoders check for it)
};

class FuzzCommand {
 public:
  // Reads one command. nullptr when a length is above `limits` (the input is skipped).
  static std::unique_ptr<FuzzCommand> Read(sef::testing::FuzzTape& tape,
                                           const FuzzCommandLimits& limits);

  const Command& command() const { return command_; }
  Command& command() { return command_; }

 private:
  FuzzCommand() = default;
  uint8_t* NewBuffer(uint64_t size, sef::testing::FuzzTape& tape);

  Command command_;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  std::vector<iovec> iovecs_;
};

// Appends the tape encoding of `c` and of the bytes its buffers hold now (trailing zeros
// omitted). REQUIRES: c's buffers are readable.
void WriteFuzzCommand(sef::testing::FuzzTapeWriter& w, const Command& c);

}  // namespace sef::cmd::testing

#endif  // SEF_HAL_CMD_TESTING_FUZZ_COMMAND_H_
