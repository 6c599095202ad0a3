// Writes the seed corpus of bridge_fuzzer (testdata/fuzz/bridge_fuzzer/): a VD and an attached
// QoS domain set up through the C ABI, then writes, reads, copies, logs and AERs with their
// buffers contiguous and as iovec lists of several shapes, raw commands the bridge must refuse,
// polls, resets and unit info.
//
//   bazel run //sef/qemu_bridge:bridge_fuzzer_seeds     # rewrites the directory's seeds
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

#include "sef/base/testing/fuzz.h"
#include "sef/base/testing/fuzz_seeds.h"
#include "sef/hal/model/testing/fuzz_driver.h"
#include "sef/qemu_bridge/sef_bridge.h"

namespace sef::qemu_bridge {
namespace {

using model::testing::FuzzOp;

class Script {
 public:
  // A driver operation; `forms` gives one buffer-form byte per command it submits.
  Script& Op(const FuzzOp& op, std::initializer_list<uint8_t> forms) {
    w_.U8(2);
    model::testing::WriteFuzzOp(w_, op);
    for (uint8_t f : forms) w_.U8(f);
    return *this;
  }
  Script& Setup() {
    Op(model::testing::CapacityOp{}, {0, 0});
    return Op(model::testing::CreateDomainOp{.capacity = 32, .quota = 32, .max_open = 2}, {0, 3});
  }
  // A raw command: admin, flags, the 72-byte entry, buffer mode, iovec lengths, contents.
  Script& Raw(uint8_t admin, uint8_t flags, const sef_bridge_cmd& cmd, uint8_t mode,
              std::initializer_list<uint16_t> iov_lengths = {}) {
    w_.U8(0).U8(admin).U8(flags).Bytes(&cmd, sizeof(cmd)).U8(mode);
    for (uint16_t len : iov_lengths) w_.U16(len);
    for (size_t i = 0; i < iov_lengths.size() + 2; ++i) w_.U16(0);  // empty contents
    return *this;
  }
  Script& Poll(uint8_t max) {
    w_.U8(1).U8(max);
    return *this;
  }
  Script& Misc(uint8_t what) {
    w_.U8(3).U8(what);
    return *this;
  }
  void Save(const std::filesystem::path& dir, const std::string& name, bool drain = true) {
    w_.U8(drain ? 0 : 1);
    sef::testing::WriteSeed(dir, name, w_.bytes());
  }

 private:
  sef::testing::FuzzTapeWriter w_;
};

void WriteAll(const std::filesystem::path& dir) {
  namespace t = model::testing;
  Script().Setup().Misc(2).Save(dir, "setup");

  // Contiguous (0), the same bytes in 2..5 pieces (odd forms), NLW/Read gathered (odd).
  Script()
      .Setup()
      .Op(t::WriteOp{.adus = 3, .lba = 10, .split = 2}, {0, 0})
      .Op(t::WriteOp{.adus = 5, .lba = 20, .split = 3}, {0x23, 1})
      .Op(t::ReadOp{.extent = 0, .adus = 2, .flags = 3, .verify = 10}, {0})
      .Op(t::ReadOp{.extent = 1, .adus = 4, .flags = 2, .split = 1}, {1})
      .Op(t::LogOp{.kind = 0, .buffer = 256}, {0x45})
      .Op(t::LogOp{.kind = 2, .arg = 3, .buffer = 64}, {0x07})
      .Op(t::LogOp{.kind = 8}, {0xE9})
      .Op(t::SbmOp{.op = 0, .sb = 0xFF, .buffer = 256}, {0x25})
      .Save(dir, "writes_reads_logs_both_forms");

  Script()
      .Setup()
      .Op(t::AerOp{}, {0})
      .Op(t::WriteOp{.adus = 15, .lba = 0}, {0, 0})
      .Op(t::WriteOp{.adus = 15, .lba = 16}, {0x11, 0})
      .Op(t::SbmOp{.op = 0, .sb = 0xFF}, {0})
      .Op(t::CopyOp{.nlc = {.dest_sb = 2, .count = 1, .tail = {0x0000, 0x0301}}}, {0x13, 0x27})
      .Op(t::LogOp{.kind = 3, .arg = 0x80}, {0x0B})
      .Op(t::FarOp{.nlwid = 1}, {0})
      .Misc(1)
      .Poll(8)
      .Save(dir, "copy_aer_reset");

  Script()
      .Setup()
      .Op(t::FarOp{.nlwid = 2}, {0})
      .Op(t::AerOp{}, {0})
      .Save(dir, "close_with_parked",
            /*drain=*/false);

  sef_bridge_cmd identify{};
  identify.opcode = 0x06;
  identify.cdw10 = 1;
  identify.data_len = 4096;
  Script()
      .Raw(1, 0, identify, 0)
      .Raw(1, 1, sef_bridge_cmd{.opcode = 0x06, .data_len = 3, .cdw10 = 1}, 0, {1000, 3000, 96})
      .Raw(7, 0, identify, 0)                   // neither queue
      .Raw(1, 0, identify, 1)                   // NULL data with a length
      .Raw(1, 1, identify, 4, {0x8000 | 4096})  // an iovec with a length and no base
      .Raw(0, 1, sef_bridge_cmd{.opcode = 0xD1, .nsid = 1, .data_len = 0xF9}, 0)  // 1025 iovecs
      .Misc(3)
      .Misc(0)
      .Poll(1)
      .Save(dir, "raw_commands");
}

}  // namespace
}  // namespace sef::qemu_bridge

int main() {
  const std::filesystem::path dir = sef::testing::SeedDirectory("bridge_fuzzer");
  sef::qemu_bridge::WriteAll(dir);
  std::printf("wrote the seeds to %s\n", dir.c_str());
  return 0;
}
