// Scatter-gather buffers (struct iovec): their size, and the part of them that covers a byte
// range.
//
// Thread-safety: pure functions.
#ifndef SEF_BASE_IOVEC_H_
#define SEF_BASE_IOVEC_H_

#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <span>

namespace sef {

// The bytes `data` holds.
inline uint64_t IovecBytes(std::span<const iovec> data) {
  uint64_t n = 0;
  for (const iovec& v : data) n += v.iov_len;
  return n;
}

// Appends to `out` (a vector of iovec) the iovecs that cover bytes [offset, offset + length)
// of `data`; fewer bytes when `data` ends first.
template <typename Out>
void SliceIovecs(std::span<const iovec> data, uint64_t offset, uint64_t length, Out& out) {
  for (const iovec& v : data) {
    if (length == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    const uint64_t take = std::min<uint64_t>(v.iov_len - offset, length);
    out.push_back({static_cast<uint8_t*>(v.iov_base) + offset, take});
    length -= take;
    offset = 0;
  }
}

}  // namespace sef

#endif  // SEF_BASE_IOVEC_H_
