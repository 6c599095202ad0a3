// Fuzz target: opening a corrupted or truncated backing file. Each input damages a copy of a
// backing file that a scripted session left behind (2 VDs, 3 QoS domains, SBs open by erase
// and by placement, closed, pSLC and due for patrol, root pointers, read FIFOs, a deleted
// domain), opens a unit on it and, when that succeeds, checks the model's invariants and runs
// the rest of the input as model fuzz driver operations on the recovered unit.
//
// Input:
//   u8 flags: bit 0 recompute the header CRC and every slot's CRC after the damage (so that
//             records that are well formed but wrong reach recovery), bit 1 truncate or
//             extend the file to u32 % (its size * 2) bytes
//   u8 n % 16 damages, each: u8 region % 5 (header, unit record, domain records, SB records,
//             ADU info), u32 offset (% the region's size), u8 length % 16 + 1, the bytes
//   then operations (testing/fuzz_driver.h), when the unit opened
//
// Checked beyond "no crash, no sanitizer report, no leak, no hang" (also while the recovered
// unit runs the operations): a refusal is DataLoss, FailedPrecondition or InvalidArgument with
// a message naming the file; the undamaged file recovers to a unit that satisfies the model's
// invariants, before and after every operation. A damaged file that opens is not held to the
// invariants: recovery trusts a record whose CRC is valid, and the ADU info carries no CRC, so
// a forged file can describe an inconsistent unit (docs/testing.md).
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sef/base/clock.h"
#include "sef/base/crc32c.h"
#include "sef/base/testing/fuzz.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model/internal/format.h"
#include "sef/hal/model/testing/fuzz_driver.h"
#include "sef/hal/model/testing/invariants.h"

namespace sef::model {
namespace {

using internal::FileHeader;
using internal::SlotHeader;
using sef::testing::FuzzTape;
using sef::testing::FuzzTapeWriter;
using testing::FuzzOp;

constexpr int kMaxOperations = 100;

std::string TempPath(const char* what) {
  return sef::testing::FuzzScratchPath(std::string("backing_file_fuzzer.") + what);
}

// The session whose file every input damages.
std::vector<uint8_t> Script() {
  namespace t = testing;
  FuzzTapeWriter w;
  const FuzzOp ops[] = {
      t::CapacityOp{.vd1 = 0, .mask1 = 0x7, .vd2 = 1, .mask2 = 0x8},
      t::VdFeatureOp{.vd = 0, .sel = 0, .value = 0},               // VD 1: one die per SB
      t::VdFeatureOp{.vd = 0, .sel = 4, .value = 3},               // 3 pSLC SBs
      t::VdFeatureOp{.vd = 0, .sel = 1, .value = 3, .weight = 7},  // attach FIFO 3
      t::CreateDomainOp{.vd = 0,
                        .capacity = 12,
                        .quota = 12,
                        .pslc_capacity = 1,
                        .pslc_quota = 1,
                        .placement_ids = 1,
                        .max_open = 2},
      t::CreateDomainOp{.vd = 0, .capacity = 4, .quota = 4, .max_open = 1},
      t::CreateDomainOp{.vd = 1, .capacity = 16, .quota = 16, .max_open = 2, .fifo = 0},
      t::WriteOp{.domain = 0, .target = 0, .adus = 5, .flags = 4, .lba = 100},
      t::WriteOp{.domain = 0, .target = 1, .adus = 1, .lba = 200},
      t::WriteOp{.domain = 0, .target = 0, .adus = 1, .flags = 2, .lba = 300},  // pSLC
      t::SbmOp{.domain = 0, .op = 0, .sb = 0xFF},
      t::DomainOp{.domain = 0, .action = 6, .a = 2, .d = 0x0001000000000021},
      t::WriteOp{.domain = 2, .target = 0, .adus = 7, .lba = 400},
      t::WriteOp{.domain = 2, .target = 0, .adus = 2, .lba = 500},
      t::TimeOp{.seconds = 90},  // open SBs expire, closed ones become due for patrol
      t::SbmOp{.domain = 2, .op = 0, .sb = 0xFF},
      t::DomainOp{.domain = 1, .action = 2},  // delete the second domain
  };
  for (const FuzzOp& op : ops) t::WriteFuzzOp(w, op);
  return w.bytes();
}

struct Template {
  std::vector<uint8_t> bytes;  // header .. ADU info (the data region is left zero)
  uint64_t file_bytes = 0;
  FileHeader header{};
};

const Template& TheTemplate() {
  static const Template* t = [] {
    auto* t = new Template;
    const std::string scratch = TempPath("template.sef");
    unlink(scratch.c_str());
    {
      FakeClock clock;
      const UnitConfig config = testing::FuzzUnitConfig();
      absl::StatusOr<std::unique_ptr<Controller>> unit =
          Controller::Open({.config = config, .backing_file = scratch, .clock = &clock});
      SEF_FUZZ_CHECK(unit.ok(), "%s", unit.status().ToString().c_str());
      testing::ModelFuzzDriver driver(**unit, config, clock);
      const std::vector<uint8_t> script = Script();
      FuzzTape tape(script.data(), script.size());
      while (!tape.empty()) driver.Step(tape);
    }
    const int fd = open(scratch.c_str(), O_RDONLY | O_CLOEXEC);
    SEF_FUZZ_CHECK(fd >= 0, "cannot reopen %s", scratch.c_str());
    SEF_FUZZ_CHECK(pread(fd, &t->header, sizeof(t->header), 0) == sizeof(t->header), "header");
    t->file_bytes = t->header.file_bytes;
    t->bytes.resize(t->header.data_offset);
    SEF_FUZZ_CHECK(
        pread(fd, t->bytes.data(), t->bytes.size(), 0) == static_cast<ssize_t>(t->bytes.size()),
        "read %s", scratch.c_str());
    close(fd);
    unlink(scratch.c_str());
    std::atexit([] { unlink(TempPath("sef").c_str()); });
    return t;
  }();
  return *t;
}

void FixSlots(std::vector<uint8_t>& f, uint64_t offset, uint32_t slot_bytes, uint64_t slots) {
  for (uint64_t i = 0; i < slots; ++i) {
    uint8_t* slot = f.data() + offset + i * slot_bytes;
    SlotHeader h;
    std::memcpy(&h, slot, sizeof(h));
    if (h.generation == 0 || h.bytes > slot_bytes - sizeof(h)) continue;
    uint32_t crc = Crc32c(&h.generation, sizeof(h.generation));
    crc = Crc32c(&h.bytes, sizeof(h.bytes), crc);
    h.crc = Crc32c(slot + sizeof(h), h.bytes, crc);
    std::memcpy(slot, &h, sizeof(h));
  }
}

// Recomputes every CRC the file carries, over what the damage left.
void FixCrcs(std::vector<uint8_t>& f, const FileHeader& layout) {
  FileHeader h;
  std::memcpy(&h, f.data(), sizeof(h));
  h.crc = 0;
  h.crc = Crc32c(&h, sizeof(h));
  std::memcpy(f.data(), &h, sizeof(h));
  const UnitConfig config = testing::FuzzUnitConfig();
  FixSlots(f, layout.unit_record_offset, layout.unit_slot_bytes, 2);
  FixSlots(f, layout.domain_records_offset, layout.domain_slot_bytes,
           2ull * config.max_qos_domains);
  FixSlots(f, layout.sb_records_offset, layout.sb_slot_bytes,
           2ull * config.dies() * config.blocks_per_die);
}

void Fuzz(const uint8_t* data, size_t size) {
  const Template& t = TheTemplate();
  const FileHeader& h = t.header;
  FuzzTape tape(data, size);
  const uint8_t flags = tape.U8();
  uint64_t file_bytes = t.file_bytes;
  if (flags & 2) file_bytes = tape.U32() % (t.file_bytes * 2);

  std::vector<uint8_t> f = t.bytes;
  const uint64_t regions[][2] = {
      {0, sizeof(FileHeader)},
      {h.unit_record_offset, h.domain_records_offset},
      {h.domain_records_offset, h.sb_records_offset},
      {h.sb_records_offset, h.adu_info_offset},
      {h.adu_info_offset, h.data_offset},
  };
  const int damages = tape.U8() % 16;
  for (int i = 0; i < damages; ++i) {
    const auto& r = regions[tape.U8() % 5];
    const uint64_t at = r[0] + tape.U32() % (r[1] - r[0]);
    const uint64_t n = std::min<uint64_t>(tape.U8() % 16 + 1, r[1] - at);
    tape.Read(f.data() + at, n);
  }
  if (flags & 1) FixCrcs(f, h);

  const std::string path = TempPath("sef");  // its directory may have been removed
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SEF_FUZZ_CHECK(fd >= 0, "cannot create %s", path.c_str());
  const uint64_t written = std::min<uint64_t>(f.size(), file_bytes);
  SEF_FUZZ_CHECK(pwrite(fd, f.data(), written, 0) == static_cast<ssize_t>(written), "write");
  SEF_FUZZ_CHECK(ftruncate(fd, static_cast<off_t>(file_bytes)) == 0, "truncate");
  close(fd);

  sef::FakeClock clock(1'000'000'000'000);
  const UnitConfig config = testing::FuzzUnitConfig();
  absl::StatusOr<std::unique_ptr<Controller>> unit =
      Controller::Open({.config = config, .backing_file = path, .clock = &clock});
  if (!unit.ok()) {
    const absl::StatusCode code = unit.status().code();
    SEF_FUZZ_CHECK(code == absl::StatusCode::kDataLoss ||
                       code == absl::StatusCode::kFailedPrecondition ||
                       code == absl::StatusCode::kInvalidArgument,
                   "unexpected refusal: %s", unit.status().ToString().c_str());
    SEF_FUZZ_CHECK(unit.status().message().find(path) != std::string::npos,
                   "the refusal does not name the file: %s", unit.status().ToString().c_str());
    return;
  }
  const bool intact = damages == 0 && file_bytes == t.file_bytes;
  const auto check = [&](const char* when, int i) {
    if (!intact) return;
    const absl::Status s = testing::CheckModelInvariants(**unit);
    SEF_FUZZ_CHECK(s.ok(), "%s %d: %s", when, i, s.ToString().c_str());
  };
  check("after recovery", 0);
  testing::ModelFuzzDriver driver(**unit, config, clock);
  for (int i = 0; i < kMaxOperations && !tape.empty(); ++i) {
    driver.Step(tape);
    check("after operation", i);
  }
  unit->reset();
  driver.CheckCompletions();
}

}  // namespace
}  // namespace sef::model

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sef::model::Fuzz(data, size);
  return 0;
}
