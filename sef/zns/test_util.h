// Helpers for the ZNS tests: a model unit with one virtual device and one QoS domain, and
// block patterns that say which LBA and which write they belong to.
#ifndef SEF_ZNS_TEST_UTIL_H_
#define SEF_ZNS_TEST_UTIL_H_

#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/hal.h"
#include "sef/hal/transport.h"
#include "sef/zns/zns.h"

namespace sef::zns::testing {

struct DomainShape {
  std::vector<uint16_t> dies = {0, 1, 2, 3};
  uint16_t dies_per_super_block = 0;  // 0: all of them
  uint64_t capacity_adus = 0;         // 0: the VD's capacity
  uint16_t max_open_super_blocks = 4;
};

// Creates the virtual device and the domain on a unit that has none.
inline absl::StatusOr<QosDomainId> MakeDomain(hal::Unit& unit, const DomainShape& shape = {}) {
  SEF_RETURN_IF_ERROR(
      unit.CreateVirtualDevices({{VirtualDeviceId(1), shape.dies, shape.dies_per_super_block, 0}}));
  SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vd, unit.GetVirtualDeviceInfo(VirtualDeviceId(1)));
  return unit.CreateQosDomain(
      {.vd = VirtualDeviceId(1),
       .capacity_adus = shape.capacity_adus != 0 ? shape.capacity_adus : vd.capacity_adus,
       .max_open_super_blocks = shape.max_open_super_blocks});
}

// Opens `spec` (default: the tiny unit in RAM) with `transport` options.
inline absl::StatusOr<std::unique_ptr<hal::Unit>> OpenUnit(
    const std::string& spec = "model:testdata/units/tiny.json",
    hal::TransportOptions transport = {}) {
  return hal::Unit::Open(spec, {.transport = transport});
}

// The content of block `lba` as written by write number `version`: every 8 bytes hold
// (lba << 20 | version), so a block read back names where and when it was written.
inline void FillBlock(uint8_t* block, uint64_t lba, uint32_t version) {
  const uint64_t word = (lba << 20) | (version & 0xFFFFF);
  for (size_t i = 0; i < kBlockBytes; i += 8) std::memcpy(block + i, &word, 8);
}
inline std::vector<uint8_t> Blocks(uint64_t lba, uint32_t count, uint32_t version) {
  std::vector<uint8_t> out(uint64_t{count} * kBlockBytes);
  for (uint32_t i = 0; i < count; ++i)
    FillBlock(out.data() + uint64_t{i} * kBlockBytes, lba + i, version);
  return out;
}
// (lba, version) of a block read back; (0, 0) for a block of zeros.
inline std::pair<uint64_t, uint32_t> BlockTag(const uint8_t* block) {
  uint64_t word = 0;
  std::memcpy(&word, block, 8);
  return {word >> 20, static_cast<uint32_t>(word & 0xFFFFF)};
}
inline bool IsZero(const uint8_t* block) {
  for (size_t i = 0; i < kBlockBytes; ++i) {
    if (block[i] != 0) return false;
  }
  return true;
}

inline iovec Iov(std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

}  // namespace sef::zns::testing

#endif  // SEF_ZNS_TEST_UTIL_H_
