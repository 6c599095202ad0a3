// iovec helpers for the FTL's data path.
//
// Thread-safety: pure functions over caller-owned memory.
#ifndef SEF_FTL_INTERNAL_IOV_H_
#define SEF_FTL_INTERNAL_IOV_H_

#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace sef::ftl::internal {

inline uint64_t IovBytes(std::span<const iovec> data) {
  uint64_t n = 0;
  for (const iovec& v : data) n += v.iov_len;
  return n;
}

// Replaces `out` by the iovecs covering bytes [offset, offset + length) of `data`.
inline void IovSlice(std::span<const iovec> data, uint64_t offset, uint64_t length,
                     std::vector<iovec>* out) {
  out->clear();
  for (const iovec& v : data) {
    if (length == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    const uint64_t take = std::min<uint64_t>(v.iov_len - offset, length);
    out->push_back({static_cast<uint8_t*>(v.iov_base) + offset, take});
    length -= take;
    offset = 0;
  }
}

// Zeroes bytes [offset, offset + length) of `data`.
inline void IovZero(std::span<const iovec> data, uint64_t offset, uint64_t length) {
  for (const iovec& v : data) {
    if (length == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    const uint64_t take = std::min<uint64_t>(v.iov_len - offset, length);
    std::memset(static_cast<uint8_t*>(v.iov_base) + offset, 0, take);
    length -= take;
    offset = 0;
  }
}

}  // namespace sef::ftl::internal

#endif  // SEF_FTL_INTERNAL_IOV_H_
