// For the programs that write fuzz targets' seed corpora (testonly), run with `bazel run`.
//
//   const std::filesystem::path dir = SeedDirectory("model_fuzzer");  // testdata/fuzz/...
//   WriteSeed(dir, "setup", writer.bytes());
#ifndef SEF_BASE_TESTING_FUZZ_SEEDS_H_
#define SEF_BASE_TESTING_FUZZ_SEEDS_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace sef::testing {

// testdata/fuzz/<target>/ of the workspace `bazel run` was started in (created if missing).
inline std::filesystem::path SeedDirectory(std::string_view target) {
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  std::filesystem::path dir = std::filesystem::path(workspace != nullptr ? workspace : ".") /
                              "testdata/fuzz" / std::string(target);
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes one seed file; ends the process with a message when it cannot.
inline void WriteSeed(const std::filesystem::path& dir, const std::string& name,
                      const std::vector<uint8_t>& bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

}  // namespace sef::testing

#endif  // SEF_BASE_TESTING_FUZZ_SEEDS_H_
