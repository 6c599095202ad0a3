// Building blocks for fuzz targets (testonly): a byte tape that a fuzz input is read from, the
// writer that seed generators build inputs with, and a check that ends the process.
//
//   FuzzTape tape(data, size);
//   const uint8_t op = tape.U8();          // 0 once the input is used up
//   const uint32_t length = tape.U32();    // little endian
//
// Reading past the end yields zeros, so every input, however short, decodes to something: the
// fuzzer never wastes an execution on a format error. Writers append the same encodings, so a
// seed generator writes exactly what the target reads.
//
// Thread-safety: value types; SEF_FUZZ_CHECK may be used anywhere.
#ifndef SEF_BASE_TESTING_FUZZ_H_
#define SEF_BASE_TESTING_FUZZ_H_

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

// Ends the process (a crash libFuzzer records) when `cond` is false, printing the printf-style
// message that follows it: a broken invariant or contract found by a fuzz target.
#define SEF_FUZZ_CHECK(cond, ...)                                                   \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                            \
      std::fputc('\n', stderr);                                                     \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)

namespace sef::testing {

// The path of this process's scratch file `name`: in $SEF_FUZZ_SCRATCH (scripts/fuzz.sh sets
// /dev/shm, where msync costs nothing), else the test's TEST_TMPDIR, else /tmp. Its directory
// is created again when it has gone (Bazel empties the TEST_TMPDIR of a test started by
// `bazel run` when another Bazel command starts), so ask for the path before every use.
inline std::string FuzzScratchPath(const std::string& name) {
  const char* tmp = std::getenv("SEF_FUZZ_SCRATCH");
  if (tmp == nullptr || *tmp == '\0') tmp = std::getenv("TEST_TMPDIR");
  const std::filesystem::path dir(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  return (dir / (name + "." + std::to_string(getpid()))).string();
}

class FuzzTape {
 public:
  FuzzTape(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  explicit FuzzTape(std::span<const uint8_t> s) : FuzzTape(s.data(), s.size()) {}

  bool empty() const { return at_ >= size_; }
  size_t remaining() const { return empty() ? 0 : size_ - at_; }

  uint8_t U8() { return static_cast<uint8_t>(Int(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Int(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  uint64_t U64() { return Int(8); }
  bool Bool() { return U8() & 1; }

  // Copies up to `n` bytes into `out` and returns how many were there; the rest of `out`
  // (if any) is left untouched.
  size_t Read(void* out, size_t n) {
    const size_t take = std::min(n, remaining());
    if (take != 0) std::memcpy(out, data_ + at_, take);
    at_ += n;
    return take;
  }

  // A sub-tape of the next `n` bytes (fewer at the end of the input).
  FuzzTape Take(size_t n) {
    const size_t take = std::min(n, remaining());
    FuzzTape sub(data_ + at_, take);
    at_ += n;
    return sub;
  }

 private:
  uint64_t Int(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      const uint64_t b = at_ < size_ ? data_[at_] : 0;
      v |= b << (8 * i);
      ++at_;
    }
    return v;
  }

  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

class FuzzTapeWriter {
 public:
  FuzzTapeWriter& U8(uint8_t v) { return Int(v, 1); }
  FuzzTapeWriter& U16(uint16_t v) { return Int(v, 2); }
  FuzzTapeWriter& U32(uint32_t v) { return Int(v, 4); }
  FuzzTapeWriter& U64(uint64_t v) { return Int(v, 8); }
  FuzzTapeWriter& Bool(bool v) { return U8(v ? 1 : 0); }
  FuzzTapeWriter& Bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    return *this;
  }
  FuzzTapeWriter& Append(const std::vector<uint8_t>& more) {
    return Bytes(more.data(), more.size());
  }

  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  FuzzTapeWriter& Int(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

}  // namespace sef::testing

#endif  // SEF_BASE_TESTING_FUZZ_H_
