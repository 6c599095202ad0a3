// Bit-field and validation helpers shared by the command encoders and decoders. Internal to
// sef/hal/cmd: call sites elsewhere never touch command dwords.
#ifndef SEF_HAL_CMD_INTERNAL_FIELDS_H_
#define SEF_HAL_CMD_INTERNAL_FIELDS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/requests.h"

namespace sef::cmd::internal {

// Bits hi..lo of v (inclusive), shifted down.
constexpr uint32_t Get(uint32_t v, int hi, int lo) {
  const uint32_t width = static_cast<uint32_t>(hi - lo + 1);
  const uint32_t mask = width >= 32 ? 0xFFFFFFFFu : ((1u << width) - 1);
  return (v >> lo) & mask;
}

// value placed at bits hi..lo. REQUIRES: value fits (checked by the encoder beforehand).
constexpr uint32_t Put(uint64_t value, int hi, int lo) {
  return static_cast<uint32_t>(value << lo) & (Get(0xFFFFFFFFu, hi - lo, 0) << lo);
}

constexpr uint32_t Lo32(uint64_t v) { return static_cast<uint32_t>(v); }
constexpr uint32_t Hi32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
constexpr uint64_t Join64(uint32_t lo, uint32_t hi) { return (uint64_t{hi} << 32) | lo; }

template <typename... Args>
absl::Status Invalid(const absl::FormatSpec<Args...>& format, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrFormat(format, args...));
}

template <typename... Args>
absl::Status Unimplemented(const absl::FormatSpec<Args...>& format, const Args&... args) {
  return absl::UnimplementedError(absl::StrFormat(format, args...));
}

// The command shell: opcode, nsid, queue and the direction NVMe implies for the opcode.
Command NewCommand(QueueType queue, uint8_t opcode, uint32_t nsid);

// Attaches a contiguous data buffer.
void SetData(Command& c, const void* data, uint32_t size);
void SetMetadata(Command& c, const void* data, uint32_t size);
void SetVectoredData(Command& c, const IoVecs& v);

// The data buffer of a decoded command.
MutableBytes DataOf(const Command& c);
IoVecs VecsOf(const Command& c);

// A buffer the device fills: non-empty, whole dwords, and at least `min` bytes.
absl::Status CheckDataIn(const MutableBytes& b, std::string_view what, uint32_t min = 4);
// A buffer of exactly `size` bytes.
absl::Status CheckExactly(const MutableBytes& b, std::string_view what, uint32_t size);

absl::Status CheckDomain(QosDomainId d, std::string_view what);
absl::Status CheckVd(VirtualDeviceId vd, std::string_view what);
absl::Status CheckRootPointerIndex(uint32_t index);
absl::Status CheckSuperBlock(SuperBlockId sb, const AddressFormat& f, std::string_view what);
absl::Status CheckPairId(uint32_t id, std::string_view what);

}  // namespace sef::cmd::internal

#endif  // SEF_HAL_CMD_INTERNAL_FIELDS_H_
