// bazel run //sef/zns:zns_fuzzer_seeds: rewrites the seeds of zns_fuzzer in
// testdata/fuzz/zns_fuzzer/ (files named regression-* are kept). Each seed is a short
// session that reaches one kind of state: zones written, appended, finished, reset and read
// back across a power cut, an armed cut in the middle of writes, small zones filled, a clean
// remount with limits, and refusals of every kind.
#include <cstdint>
#include <filesystem>
#include <string>

#include "sef/base/testing/fuzz_seeds.h"
#include "sef/zns/testing/zns_fuzz_input.h"

namespace {

using sef::zns::testing::ZnsFuzzInput;

constexpr uint8_t kShuffled = 1;
constexpr uint8_t kZones16 = 1 << 1, kZones8 = 2 << 1, kZones4 = 3 << 1;
constexpr uint8_t kTwoOpenSuperBlocks = 2 << 3;
enum Action : uint8_t { kNone, kClose, kFinish, kOpen, kReset, kOffline };

}  // namespace

int main() {
  const std::filesystem::path dir = sef::testing::SeedDirectory("zns_fuzzer");
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("regression-", 0) != 0) {
      std::filesystem::remove(e.path());
    }
  }
  auto write = [&](const std::string& name, const ZnsFuzzInput& in) {
    sef::testing::WriteSeed(dir, name, in.bytes());
  };
  write("writes_cut_read", ZnsFuzzInput(0)
                               .Write(0, 4)
                               .Write(0, 3, /*fua=*/true)
                               .Write(1, 8)
                               .Read(0, 12, 3)
                               .Flush()
                               .Write(1, 2)
                               .PowerCut(1)
                               .Read(0, 40));
  write("appends_finish_reset", ZnsFuzzInput(kShuffled)
                                    .Appends(0, {2, 3, 1})
                                    .Appends(1, {4, 4}, /*fua=*/true)
                                    .Manage(kFinish, 0)
                                    .Manage(kReset, 1)
                                    .Report(0, 0, 9, false)
                                    .CleanRestart()
                                    .Read(0, 64));
  // An armed cut fires during the second write: everything up to the restart is skipped.
  write("armed_cut", ZnsFuzzInput(0)
                         .Write(0, 5)
                         .Flush()
                         .ArmCut(3, 7)
                         .Write(0, 6)
                         .Write(1, 6)
                         .CleanRestart()
                         .Appends(2, {3, 3, 3})
                         .Manage(kFinish, 0)
                         .Read(0, 96, 2));
  write("small_zones", ZnsFuzzInput(kZones8)
                           .Write(0, 8)
                           .Write(1, 4)
                           .Manage(kClose, 1, /*all=*/true)
                           .Manage(kOpen, 2)
                           .Manage(kFinish, 0, /*all=*/true)
                           .PowerCut(2)
                           .Manage(kReset, 0, /*all=*/true)
                           .CleanRestart(2, 3));
  write("limits_and_refusals", ZnsFuzzInput(kZones4 | kTwoOpenSuperBlocks)
                                   .Write(0, 2)
                                   .Write(0, 1, false, /*where=*/200)
                                   .Write(1, 1)
                                   .Manage(kNone, 0)
                                   .Manage(kOffline, 0)
                                   .Report(1, 3, 2, true)
                                   .Report(0, 8, 1, false)
                                   .CleanRestart(5, 1));
  write("zones16_shuffled", ZnsFuzzInput(kZones16 | kShuffled)
                                .Appends(0, {8, 8})
                                .Write(1, 12)
                                .ArmCut(2, 11)
                                .Appends(1, {1, 1, 1, 1})
                                .PowerCut(3)
                                .Manage(kFinish, 1)
                                .Read(0, 32, 4));
  return 0;
}
