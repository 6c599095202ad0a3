// Test support for the block FTL: a model unit set up with one virtual device and one QoS
// domain, and block contents that name their block and version so that a test can tell
// exactly which write a block holds.
//
// Thread-safety: Pattern functions are pure; ModelDomain is used from one test thread.
#ifndef SEF_FTL_TESTING_FTL_TESTING_H_
#define SEF_FTL_TESTING_FTL_TESTING_H_

#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/ftl/ftl.h"
#include "sef/hal/hal.h"

namespace sef::ftl::testing {

// Block contents for (lba, version): version 0 is all zeros (never written / trimmed).
inline void FillBlock(uint64_t lba, uint64_t version, uint8_t* out) {
  if (version == 0) {
    std::memset(out, 0, kBlockSize);
    return;
  }
  uint64_t x = lba * 0x9E3779B97F4A7C15ull ^ (version + 0x632BE59BD9B4E019ull);
  for (uint32_t i = 0; i < kBlockSize; i += 8) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    std::memcpy(out + i, &x, 8);
  }
  std::memcpy(out, &lba, 8);
  std::memcpy(out + 8, &version, 8);
}

// Which version of `lba` a block holds: 0 for zeros, the version when it matches FillBlock,
// and ~0 for anything else (another block's data, garbage).
inline uint64_t VersionOf(uint64_t lba, const uint8_t* block) {
  static const std::vector<uint8_t> zeros(kBlockSize, 0);
  if (std::memcmp(block, zeros.data(), kBlockSize) == 0) return 0;
  uint64_t stored_lba = 0, version = 0;
  std::memcpy(&stored_lba, block, 8);
  std::memcpy(&version, block + 8, 8);
  if (stored_lba != lba || version == 0) return ~uint64_t{0};
  std::vector<uint8_t> expect(kBlockSize);
  FillBlock(lba, version, expect.data());
  return std::memcmp(expect.data(), block, kBlockSize) == 0 ? version : ~uint64_t{0};
}

struct DomainSetup {
  uint16_t dies_per_super_block = 1;   // 0 = all the VD's dies
  double capacity_fraction = 1.0;      // of the VD's capacity
  uint16_t max_open_super_blocks = 0;  // 0 = the unit's limit, at most 8
  uint16_t placement_ids = 2;
};

// Replaces the unit's VDs and domains by one VD over every die and one domain.
inline absl::StatusOr<QosDomainId> SetUpDomain(hal::Unit& unit, const DomainSetup& setup = {}) {
  SEF_ASSIGN_OR_RETURN(std::vector<QosDomainId> domains, unit.ListQosDomains());
  for (QosDomainId d : domains) SEF_RETURN_IF_ERROR(unit.DeleteQosDomain(d));
  SEF_RETURN_IF_ERROR(unit.DeleteVirtualDevices());
  SEF_ASSIGN_OR_RETURN(hal::UnitInfo info, unit.Info());
  hal::VirtualDeviceConfig vd{VirtualDeviceId(1), {}, setup.dies_per_super_block, 0};
  for (uint16_t d = 0; d < info.dies(); ++d) vd.dies.push_back(d);
  SEF_RETURN_IF_ERROR(unit.CreateVirtualDevices({vd}));
  SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vinfo, unit.GetVirtualDeviceInfo(VirtualDeviceId(1)));
  hal::QosDomainConfig config;
  config.vd = VirtualDeviceId(1);
  config.capacity_adus =
      static_cast<uint64_t>(static_cast<double>(vinfo.capacity_adus) * setup.capacity_fraction);
  config.placement_ids = setup.placement_ids;
  config.max_open_super_blocks =
      setup.max_open_super_blocks != 0
          ? setup.max_open_super_blocks
          : static_cast<uint16_t>(std::min<uint32_t>(8, info.max_open_super_blocks));
  return unit.CreateQosDomain(config);
}

// A block buffer with its iovec.
struct Buffer {
  explicit Buffer(uint32_t blocks = 1)
      : bytes(size_t{blocks} * kBlockSize), iov{bytes.data(), bytes.size()} {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  std::span<const iovec> span() const { return {&iov, 1}; }
  uint8_t* block(uint32_t i) { return bytes.data() + size_t{i} * kBlockSize; }
  std::vector<uint8_t> bytes;
  iovec iov;
};

}  // namespace sef::ftl::testing

#endif  // SEF_FTL_TESTING_FTL_TESTING_H_
