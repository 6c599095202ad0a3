// The data pattern and user addresses the HAL's suites write and verify: block `lba` of a
// write is filled with one byte derived from it, so a block read back from the wrong place
// (or another write's block) does not match.
#ifndef SEF_HAL_TESTING_PATTERN_H_
#define SEF_HAL_TESTING_PATTERN_H_

#include <cstdint>
#include <cstring>
#include <vector>

#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"

namespace sef::hal::testing {

// `adus` blocks of data for the LBAs [lba, lba + adus).
inline std::vector<uint8_t> Pattern(uint64_t lba, uint32_t adus) {
  std::vector<uint8_t> data(uint64_t{adus} * wire::kAduDataBytes);
  for (uint32_t i = 0; i < adus; ++i) {
    std::memset(data.data() + uint64_t{i} * wire::kAduDataBytes,
                static_cast<int>((lba + i) * 131 + 7), wire::kAduDataBytes);
  }
  return data;
}

// The user address written with (and verified against) LBA `lba`.
inline UserAddress Ua(uint64_t lba) { return *UserAddress::Make(Lba(lba), 0xC0F); }

}  // namespace sef::hal::testing

#endif  // SEF_HAL_TESTING_PATTERN_H_
