// CRC-32C (Castagnoli), as used by the on-media formats of this project.
//
// Thread-safety: pure functions.
#ifndef SEF_BASE_CRC32C_H_
#define SEF_BASE_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace sef {

// Extends `crc` (0 for a new computation) over `n` bytes at `data`.
// Uses the CPU's CRC32 instruction when it has one (x86-64 with SSE 4.2), tables otherwise.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

namespace internal {
// The portable implementation (slicing by 8), for its test on CPUs that take the other path.
uint32_t Crc32cTables(const void* data, size_t n, uint32_t crc = 0);
}  // namespace internal

}  // namespace sef

#endif  // SEF_BASE_CRC32C_H_
