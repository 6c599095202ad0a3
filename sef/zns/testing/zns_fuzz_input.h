// The input format of //sef/zns:zns_fuzzer, shared by the target (which reads it from a
// testing::FuzzTape) and by the seed program zns_fuzzer_seeds (which writes it with these
// encoders). Every field is read with FuzzTape: short inputs read zeros.
//
//   flags: u8  bit 0 shuffled completions (else inline); bits 1-2 the zone size (natural, 16,
//              8, 4 blocks); bits 3-4 the domain's max open super blocks (4, 3, 2, 4)
//   then operations, each a u8 opcode % kOpCount and its fields:
//   kWrite, kWriteToo  u8 zone % (zones + 1), u8 where (< 192: the write pointer, else
//                      (where - 192) % zone size), u8 blocks - 1 (% 12), u8 fua, u8 wrong
//                      buffer size (>= 240), Buffer
//   kAppends           u8 zone, u8 not at the zone start (>= 240), u8 count - 1 (% 6), then
//                      each: u8 blocks - 1 (% 8), u8 fua, Buffer
//   kRead              u16 LBA % (blocks + 8), u8 blocks - 1 (% 2 zone sizes), u8 wrong, Buffer
//   kFlush             -
//   kManage            u8 action % 6 (0: none), u8 zone, u8 bits (bit 0 all, >= 240 not at
//                      the zone start)
//   kReport            u16 start LBA, u8 filter % 9, u8 max zones, u8 partial
//   kPowerCut          u32 seed, Limits        (cut now, restart, Mount)
//   kCleanRestart      Limits                  (Unmount, restart, Mount)
//   kArmCut            u8 commands % 48, u32 seed
//   While the power is off (an armed cut fired), every operation but kPowerCut and
//   kCleanRestart is skipped: only its opcode is read.
//   Buffer: [u8 smaller (only with a wrong size)], u8 pieces - 1 (% 4), u32 cut point per
//           extra piece
//   Limits: u8 max open zones % 6, u8 max active zones % 6 (0: the device's)
#ifndef SEF_ZNS_TESTING_ZNS_FUZZ_INPUT_H_
#define SEF_ZNS_TESTING_ZNS_FUZZ_INPUT_H_

#include <cstdint>
#include <vector>

#include "sef/base/testing/fuzz.h"

namespace sef::zns::testing {

enum ZnsFuzzOp : uint8_t {
  kWrite,
  kWriteToo,  // a second opcode: writes are the most common operation
  kAppends,
  kRead,
  kFlush,
  kManage,
  kReport,
  kPowerCut,
  kCleanRestart,
  kArmCut,
  kOpCount,
};

// Encoders for seeds: the same fields in the same order as zns_fuzzer reads them.
class ZnsFuzzInput {
 public:
  explicit ZnsFuzzInput(uint8_t flags) { w_.U8(flags); }

  ZnsFuzzInput& Write(uint8_t zone, uint8_t blocks, bool fua = false, uint8_t where = 0) {
    w_.U8(kWrite).U8(zone).U8(where).U8(blocks - 1).Bool(fua).U8(0);
    return Buffer(1);
  }
  ZnsFuzzInput& Appends(uint8_t zone, const std::vector<uint8_t>& blocks, bool fua = false) {
    w_.U8(kAppends).U8(zone).U8(0).U8(static_cast<uint8_t>(blocks.size() - 1));
    for (uint8_t n : blocks) {
      w_.U8(n - 1).Bool(fua);
      Buffer(1);
    }
    return *this;
  }
  ZnsFuzzInput& Read(uint16_t lba, uint8_t blocks, uint8_t pieces = 1) {
    w_.U8(kRead).U16(lba).U8(blocks - 1).U8(0);
    return Buffer(pieces);
  }
  ZnsFuzzInput& Flush() {
    w_.U8(kFlush);
    return *this;
  }
  ZnsFuzzInput& Manage(uint8_t action, uint8_t zone, bool all = false) {
    w_.U8(kManage).U8(action).U8(zone).Bool(all);
    return *this;
  }
  ZnsFuzzInput& Report(uint16_t start, uint8_t filter, uint8_t max, bool partial) {
    w_.U8(kReport).U16(start).U8(filter).U8(max).Bool(partial);
    return *this;
  }
  ZnsFuzzInput& PowerCut(uint32_t seed) {
    w_.U8(kPowerCut).U32(seed).U8(0).U8(0);
    return *this;
  }
  ZnsFuzzInput& CleanRestart(uint8_t max_open = 0, uint8_t max_active = 0) {
    w_.U8(kCleanRestart).U8(max_open).U8(max_active);
    return *this;
  }
  ZnsFuzzInput& ArmCut(uint8_t commands, uint32_t seed) {
    w_.U8(kArmCut).U8(commands).U32(seed);
    return *this;
  }

  const std::vector<uint8_t>& bytes() const { return w_.bytes(); }

 private:
  // `pieces` iovecs cut at the buffer's quarter points (cut points are taken modulo its size).
  ZnsFuzzInput& Buffer(uint8_t pieces) {
    w_.U8(pieces - 1);
    for (uint32_t i = 1; i < pieces; ++i) w_.U32(i * 4096 + 512 * i);
    return *this;
  }

  sef::testing::FuzzTapeWriter w_;
};

}  // namespace sef::zns::testing

#endif  // SEF_ZNS_TESTING_ZNS_FUZZ_INPUT_H_
