// A debugging trace of the FTL's decisions (allocations, releases, checkpoints, recovery),
// off unless SEF_FTL_TRACE=1; SEF_FTL_TRACE_LBA=<n> also traces every map change of block n.
// Lines go to stderr.
//
// Thread-safety: Trace may be called from any thread.
#ifndef SEF_FTL_INTERNAL_TRACE_H_
#define SEF_FTL_INTERNAL_TRACE_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_format.h"

namespace sef::ftl::internal {

inline bool TraceOn() {
  static const bool on = [] {
    const char* v = std::getenv("SEF_FTL_TRACE");
    return v != nullptr && v[0] == '1';
  }();
  return on;
}

// SEF_FTL_TRACE_LBA=<n>: block n; =all: every block.
inline bool TracedLba(uint64_t lba) {
  static const uint64_t traced = [] {
    const char* v = std::getenv("SEF_FTL_TRACE_LBA");
    if (v == nullptr) return ~uint64_t{0};
    if (std::string(v) == "all") return ~uint64_t{1};
    return static_cast<uint64_t>(std::strtoull(v, nullptr, 10));
  }();
  return traced == ~uint64_t{1} || lba == traced;
}

template <typename... Args>
void Trace(const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (!TraceOn()) return;
  const std::string line = absl::StrFormat(format, args...);
  std::fprintf(stderr, "ftl: %s\n", line.c_str());
}

}  // namespace sef::ftl::internal

#endif  // SEF_FTL_INTERNAL_TRACE_H_
