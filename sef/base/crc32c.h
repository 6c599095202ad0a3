// CRC-32C (Castagnoli), as used by the on-media formats of this project.
//
// Thread-safety: pure functions.
#ifndef SEF_BASE_CRC32C_H_
#define SEF_BASE_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace sef {

// Extends `crc` (0 for a new computation) over `n` bytes at `data`.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace sef

#endif  // SEF_BASE_CRC32C_H_
