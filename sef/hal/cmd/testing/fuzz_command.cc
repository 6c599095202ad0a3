#include "sef/hal/cmd/testing/fuzz_command.h"

#include <algorithm>
#include <cstring>

namespace sef::cmd::testing {
namespace {

constexpr size_t kSqeBytes = 64;  // opcode .. cdw15
static_assert(offsetof(nvme_passthru_cmd64, cdw15) + 4 == kSqeBytes);

constexpr uint8_t kIoQueue = 1u << 0;
constexpr uint8_t kVectored = 1u << 1;
constexpr uint8_t kNullData = 1u << 2;
constexpr uint8_t kNullMetadata = 1u << 3;

void WriteContent(sef::testing::FuzzTapeWriter& w, const void* data, uint64_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t n = p == nullptr ? 0 : std::min<uint64_t>(size, 0xFFFF);
  while (n > 0 && p[n - 1] == 0) --n;
  w.U16(static_cast<uint16_t>(n));
  if (n != 0) w.Bytes(p, n);
}

}  // namespace

uint8_t* FuzzCommand::NewBuffer(uint64_t size, sef::testing::FuzzTape& tape) {
  buffers_.push_back(std::make_unique<uint8_t[]>(size));  // zeroed
  uint8_t* b = buffers_.back().get();
  const uint16_t n = tape.U16();
  sef::testing::FuzzTape content = tape.Take(n);
  content.Read(b, std::min<uint64_t>(n, size));
  return b;
}

std::unique_ptr<FuzzCommand> FuzzCommand::Read(sef::testing::FuzzTape& tape,
                                               const FuzzCommandLimits& limits) {
  std::unique_ptr<FuzzCommand> fc(new FuzzCommand());
  Command& c = fc->command_;
  const uint8_t mode = tape.U8();
  tape.Read(&c.sqe, kSqeBytes);
  c.sqe.addr = 0;
  c.sqe.metadata = 0;
  c.queue = (mode & kIoQueue) ? QueueType::kIo : QueueType::kAdmin;
  c.direction = DirectionOfOpcode(c.sqe.opcode);
  c.vectored = mode & kVectored;
  const bool null_data = (mode & kNullData) && limits.allow_null_buffers;
  const bool null_metadata = (mode & kNullMetadata) && limits.allow_null_buffers;

  if (c.vectored) {
    const uint32_t count = c.sqe.vec_cnt;
    if (count > limits.max_iovecs) return nullptr;
    std::vector<uint32_t> lengths(count);
    uint64_t total = 0;
    for (uint32_t& len : lengths) {
      len = tape.U32();
      total += len;
    }
    if (total > limits.max_data_bytes) return nullptr;
    fc->iovecs_.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
      fc->iovecs_[i] = {fc->NewBuffer(lengths[i], tape), lengths[i]};
    }
    if (!null_data) c.sqe.addr = reinterpret_cast<uintptr_t>(fc->iovecs_.data());
  } else {
    if (c.sqe.data_len > limits.max_data_bytes) return nullptr;
    uint8_t* data = fc->NewBuffer(c.sqe.data_len, tape);
    if (!null_data) c.sqe.addr = reinterpret_cast<uintptr_t>(data);
  }
  if (c.sqe.metadata_len > limits.max_metadata_bytes) return nullptr;
  uint8_t* metadata = fc->NewBuffer(c.sqe.metadata_len, tape);
  if (!null_metadata) c.sqe.metadata = reinterpret_cast<uintptr_t>(metadata);
  return fc;
}

void WriteFuzzCommand(sef::testing::FuzzTapeWriter& w, const Command& c) {
  const auto* data = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(c.sqe.addr));
  const auto* metadata = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(c.sqe.metadata));
  uint8_t mode = 0;
  if (c.queue == QueueType::kIo) mode |= kIoQueue;
  if (c.vectored) mode |= kVectored;
  if (data == nullptr && (c.vectored ? c.sqe.vec_cnt : c.sqe.data_len) != 0) mode |= kNullData;
  if (metadata == nullptr && c.sqe.metadata_len != 0) mode |= kNullMetadata;
  w.U8(mode);
  nvme_passthru_cmd64 sqe = c.sqe;
  sqe.addr = 0;
  sqe.metadata = 0;
  w.Bytes(&sqe, kSqeBytes);
  if (c.vectored) {
    const auto* iov = reinterpret_cast<const iovec*>(data);
    for (uint32_t i = 0; i < c.sqe.vec_cnt; ++i) {
      w.U32(iov == nullptr ? 0 : static_cast<uint32_t>(iov[i].iov_len));
    }
    for (uint32_t i = 0; i < c.sqe.vec_cnt; ++i) {
      if (iov == nullptr) {
        w.U16(0);
      } else {
        WriteContent(w, iov[i].iov_base, iov[i].iov_len);
      }
    }
  } else {
    WriteContent(w, data, c.sqe.data_len);
  }
  WriteContent(w, metadata, c.sqe.metadata_len);
}

}  // namespace sef::cmd::testing
