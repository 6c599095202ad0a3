// Writes the seed corpora of the model's fuzz targets:
// - testdata/fuzz/model_fuzzer/: the scenarios of the model and HAL conformance suites as
//   operation sequences (testing/fuzz_driver.h) on the fuzz unit: super block lifecycle,
//   writes across many SBs and into one SB until it fills, reads with verify and metadata,
//   copies by list and bitmap across domains and VDs, pSLC, AERs with SB and capacity events,
//   expiry and patrol, split and orphaned pairs, resets, deletes under load, mutated and raw
//   commands;
// - testdata/fuzz/backing_file_fuzzer/: the file intact, truncated and extended, and damaged
//   in each region with and without its CRCs recomputed, followed by operations.
//
//   bazel run //sef/hal/model:fuzz_seeds       # rewrites both directories' seeds
#include "sef/base/testing/fuzz_seeds.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sef/base/testing/fuzz.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/model/testing/fuzz_driver.h"

namespace sef::model::testing {
namespace {

class Script {
 public:
  Script& Op(const FuzzOp& op) {
    WriteFuzzOp(w_, op);
    return *this;
  }
  Script& Raw(const Command& c) {
    WriteRawOp(w_, c);
    return *this;
  }
  // VD 1 on all four dies (SBs of 16 ADUs, 8 of them) and an attached domain holding half.
  Script& Setup(uint16_t capacity = 32, uint8_t placement_ids = 1) {
    Op(CapacityOp{});
    return Op(CreateDomainOp{.capacity = capacity,
                             .quota = capacity,
                             .placement_ids = static_cast<uint8_t>(placement_ids - 1),
                             .max_open = 2});
  }
  void Save(const std::filesystem::path& dir, const std::string& name) const {
    sef::testing::WriteSeed(dir, name, w_.bytes());
  }

 private:
  sef::testing::FuzzTapeWriter w_;
};

constexpr uint8_t kDeviceChooses = 0xFF;
constexpr uint8_t kSbTarget = 0x80;  // FarOp/NlwOp/WriteOp target: the first known SB
enum Sbm : uint8_t { kErase, kClose, kFree, kPatrol, kFlush, kPslcErase };

// backing_file_fuzzer: flags, damages (region, offset, length, bytes), then operations.
void WriteBackingFileSeeds(const std::filesystem::path& dir) {
  struct Damage {
    uint8_t region;
    uint32_t offset;
    std::vector<uint8_t> bytes;
  };
  const auto save = [&](const std::string& name, uint8_t flags, uint32_t size,
                        const std::vector<Damage>& damages, bool operations) {
    sef::testing::FuzzTapeWriter w;
    w.U8(flags);
    if (flags & 2) w.U32(size);
    w.U8(static_cast<uint8_t>(damages.size()));
    for (const Damage& d : damages) {
      w.U8(d.region).U32(d.offset).U8(static_cast<uint8_t>(d.bytes.size() - 1));
      w.Bytes(d.bytes.data(), d.bytes.size());
    }
    if (operations) {
      WriteFuzzOp(w, LogOp{.kind = 0, .buffer = 256});
      WriteFuzzOp(w, WriteOp{.adus = 2, .lba = 9});
      WriteFuzzOp(w, SbmOp{.op = kErase, .sb = kDeviceChooses});
      WriteFuzzOp(w, ReadOp{.adus = 1, .flags = 2});
    }
    sef::testing::WriteSeed(dir, name, w.bytes());
  };
  enum Region : uint8_t { kHeader, kUnit, kDomains, kSbs, kAduInfo };
  save("intact_then_operations", 0, 0, {}, true);
  save("truncated", 2, 100000, {}, false);
  save("extended", 2, 0xFFFFFFFF, {}, false);
  save("header_damaged", 0, 0, {{kHeader, 60, {0x10}}}, false);
  save("unit_record_torn", 0, 0, {{kUnit, 20, {0xFF, 0xFF}}}, true);
  // With CRCs recomputed: the unit state's VD settings, a domain record's VD and placement
  // ids, an SB record's state and owner, an ADU's sequence number.
  save("unit_record_rewritten", 1, 0, {{kUnit, 32, {2, 0}}, {kUnit, 36, {0, 0, 0, 9}}}, true);
  save("domain_record_rewritten", 1, 0, {{kDomains, 18, {7, 0}}, {kDomains, 20, {0}}}, true);
  save("sb_record_rewritten", 1, 0, {{kSbs, 16, {3, 1, 2, 0}}, {kSbs, 64, {9}}}, true);
  save("adu_info_rewritten", 1, 0, {{kAduInfo, 24, {1}}, {kAduInfo, 56, {0}}}, true);
}

void WriteAll(const std::filesystem::path& dir) {
  Script().Setup().Save(dir, "setup");

  Script()
      .Setup()
      .Op(SbmOp{.op = kErase, .sb = kDeviceChooses, .buffer = 256})
      .Op(WriteOp{.target = kSbTarget, .adus = 5, .lba = 100, .split = 2})
      .Op(SbmOp{.op = kFlush, .sb = 0, .buffer = 256})
      .Op(ReadOp{.extent = 0, .offset = 0, .adus = 4, .flags = 3, .verify = 100})
      .Op(SbmOp{.op = kClose, .sb = 0, .buffer = 256})
      .Op(LogOp{.kind = 2, .arg = 4, .buffer = 64})
      .Op(LogOp{.kind = 4, .arg = 0, .buffer = 128})
      .Op(SbmOp{.op = kPatrol, .sb = 0})
      .Op(SbmOp{.op = kFree, .sb = 0})
      .Save(dir, "sb_lifecycle");

  Script s;
  s.Setup(64, 2);
  for (int i = 0; i < 6; ++i) {
    s.Op(WriteOp{.target = static_cast<uint8_t>(i % 2),
                 .adus = 19,
                 .flags = 4,
                 .lba = static_cast<uint32_t>(i * 20),
                 .split = static_cast<uint8_t>(i)});
  }
  s.Op(LogOp{.kind = 0, .buffer = 256}).Save(dir, "writes_across_sbs");

  Script()
      .Setup()
      .Op(SbmOp{.op = kErase, .sb = kDeviceChooses})
      .Op(WriteOp{.target = kSbTarget, .adus = 10, .lba = 7})
      .Op(WriteOp{.target = kSbTarget, .adus = 10, .lba = 17})
      .Op(WriteOp{.target = kSbTarget, .adus = 1, .lba = 27})
      .Save(dir, "write_sb_until_full");

  Script()
      .Setup()
      .Op(WriteOp{.adus = 6, .flags = 5, .lba = 1000, .split = 3})
      .Op(ReadOp{.offset = 1, .adus = 2, .flags = 1, .verify = 1001})
      .Op(ReadOp{.offset = 1, .adus = 2, .flags = 1, .verify = 5})
      .Op(ReadOp{.offset = 3, .adus = 7, .flags = 6})
      .Op(ReadOp{.offset = 0, .adus = 1, .flags = 8, .fifo = 1})
      .Op(ReadOp{.offset = 0, .adus = 1, .flags = 8, .fifo = 3})
      .Save(dir, "read_verify_metadata_errors");

  NlcOp list{.dest_sb = 2, .kind = 0, .count = 3, .tail = {0x0000, 0x0100, 0x0301, 0x0501}};
  NlcOp bitmap{.dest_sb = 2, .kind = 1, .count = 1, .start = 1, .tail = {0xFFFF, 0x1}};
  Script()
      .Setup(48)
      .Op(WriteOp{.adus = 15, .lba = 0})
      .Op(WriteOp{.adus = 15, .lba = 16})
      .Op(SbmOp{.op = kErase, .sb = kDeviceChooses})
      .Op(CopyOp{.nlc = list, .entries = 3})
      .Op(CopyOp{.nlc = bitmap})
      .Op(NlcOp{.dest_sb = 2,
                .nlcid = 1,
                .kind = 0,
                .count = 0,
                .filter = 3,
                .filter_start = 4,
                .filter_length = 8,
                .tail = {0x0200}})
      .Op(GcrOp{.nlcid = 1, .entries = 0, .fua = 1})
      .Save(dir, "copy_list_and_bitmap");

  Script()
      .Op(CapacityOp{.vd1 = 0, .mask1 = 0x3, .vd2 = 1, .mask2 = 0xC})
      .Op(VdFeatureOp{.vd = 0, .sel = 0, .value = 0})  // one die per SB
      .Op(CreateDomainOp{.vd = 0, .capacity = 8, .quota = 8, .max_open = 2})
      .Op(CreateDomainOp{.vd = 1, .capacity = 16, .quota = 16, .max_open = 2})
      .Op(WriteOp{.domain = 0, .adus = 3, .lba = 1})
      .Op(WriteOp{.domain = 1, .adus = 7, .lba = 2})
      .Op(SbmOp{.domain = 1, .op = kErase, .sb = kDeviceChooses})
      .Op(CopyOp{.nlc = {.domain = 1, .dest_sb = 1, .kind = 0, .count = 1, .tail = {0, 1}}})
      .Op(LogOp{.kind = 1, .target = 0})
      .Op(LogOp{.kind = 6, .target = 1})
      .Save(dir, "two_vds_copy_across_domains");

  Script()
      .Op(CapacityOp{})
      .Op(VdFeatureOp{.sel = 4, .value = 2})
      .Op(CreateDomainOp{
          .capacity = 16, .quota = 16, .pslc_capacity = 4, .pslc_quota = 4, .max_open = 2})
      .Op(WriteOp{.adus = 3, .flags = 2, .lba = 9})
      .Op(SbmOp{.op = kPslcErase, .sb = kDeviceChooses})
      .Op(SbmOp{.op = kPslcErase, .sb = kDeviceChooses})
      .Op(LogOp{.kind = 0, .buffer = 256})
      .Op(LogOp{.kind = 10})
      .Save(dir, "pslc");

  Script()
      .Setup(64)
      .Op(AerOp{})
      .Op(AerOp{})
      .Op(WriteOp{.adus = 23, .lba = 0})
      .Op(WriteOp{.adus = 23, .lba = 23})
      .Op(WriteOp{.adus = 23, .lba = 46})
      .Op(LogOp{.kind = 3, .arg = 0x80, .rae = 0})
      .Op(SbmOp{.op = kErase, .sb = kDeviceChooses})
      .Op(SbmOp{.op = kErase, .sb = kDeviceChooses})
      .Op(SbmOp{.op = kErase, .sb = kDeviceChooses})
      .Op(SbmOp{.op = kErase, .sb = kDeviceChooses})
      .Op(LogOp{.kind = 0, .arg = 0x80, .rae = 0})
      .Op(AerOp{})
      .Op(AerOp{})
      .Op(AerOp{})
      .Save(dir, "aer_sb_and_capacity_events");

  Script()
      .Setup()
      .Op(AerOp{})
      .Op(SbmOp{.op = kErase, .sb = kDeviceChooses})
      .Op(WriteOp{.adus = 2})
      .Op(TimeOp{.seconds = 61})
      .Op(LogOp{.kind = 3, .arg = 0x80})
      .Op(TimeOp{.seconds = 120})
      .Op(LogOp{.kind = 2, .arg = 2, .buffer = 64})
      .Op(SbmOp{.op = kPatrol, .sb = 0})
      .Save(dir, "expiry_and_patrol");

  Script()
      .Setup()
      .Op(FarOp{.nlwid = 0})
      .Op(FarOp{.nlwid = 0})
      .Op(NlwOp{.nlwid = 1, .adus = 1})
      .Op(NlwOp{.target = 1, .nlwid = 0, .adus = 1})
      .Op(FarOp{.target = kSbTarget, .nlwid = 2})
      .Op(NlcOp{.nlcid = 2, .tail = {0}})
      .Op(TimeOp{.seconds = 31})
      .Op(FarOp{.nlwid = 3})
      .Op(AerOp{})
      .Op(ResetOp{})
      .Op(NlwOp{.nlwid = 3, .adus = 1})
      .Op(GcrOp{.nlcid = 2})
      .Save(dir, "split_and_orphaned_pairs");

  Script()
      .Setup()
      .Op(FarOp{.nlwid = 0})
      .Op(NlcOp{.nlcid = 0, .tail = {0}})
      .Op(AerOp{})
      .Op(DomainOp{.action = 1})  // detach
      .Op(WriteOp{.adus = 1})
      .Op(DomainOp{.action = 0})        // attach
      .Op(DomainOp{.action = 2})        // delete
      .Op(LogOp{.kind = 15, .arg = 0})  // select config 0
      .Op(CapacityOp{.config_id = 3, .mask1 = 0x5, .mask2 = 0xA})
      .Save(dir, "delete_under_load");

  Script()
      .Setup()
      .Op(DomainOp{.action = 3, .a = 0, .b = 40, .c = 40})
      .Op(DomainOp{.action = 4, .a = 1})
      .Op(DomainOp{.action = 5, .a = 1})
      .Op(DomainOp{.action = 6, .a = 3, .d = 0x0001000000000042})
      .Op(DomainOp{.action = 7, .b = 3, .c = 4})
      .Op(DomainOp{.action = 8, .a = 2})
      .Op(LogOp{.kind = 14, .arg = 3})
      .Op(VdFeatureOp{.sel = 1, .value = 2, .weight = 5, .flag = 1})
      .Op(VdFeatureOp{.sel = 2, .value = 2, .weight = 6})
      .Op(VdFeatureOp{.sel = 3, .value = 2})
      .Op(VdFeatureOp{.sel = 5, .value = 3})
      .Op(VdFeatureOp{.sel = 6, .value = 1000})
      .Op(VdFeatureOp{.sel = 7})
      .Op(LogOp{.kind = 7})
      .Op(LogOp{.kind = 13})
      .Save(dir, "features");

  // Power: cut with writes in the volatile cache, power on, read back; a cut armed to fire in
  // the middle of a write pair, then power on and continue.
  Script()
      .Setup()
      .Op(WriteOp{.adus = 2, .lba = 40})
      .Op(WriteOp{.adus = 5, .flags = 1, .lba = 50})
      .Op(AerOp{})
      .Op(FarOp{.nlwid = 1})
      .Op(TimeOp{.seconds = 0xF007})  // cut, seed 7
      .Op(WriteOp{.adus = 1})
      .Op(TimeOp{.seconds = 0xF100})  // power on
      .Op(ReadOp{.extent = 0, .adus = 1, .flags = 1, .verify = 40})
      .Op(ReadOp{.extent = 1, .adus = 5, .flags = 2})
      .Op(TimeOp{.seconds = 0xF100})  // power on while on
      .Save(dir, "power_cut_and_on");
  Script()
      .Setup()
      .Op(TimeOp{.seconds = 0xF203})  // cut after 3 commands, seed 3
      .Op(WriteOp{.adus = 3, .lba = 1})
      .Op(WriteOp{.adus = 3, .lba = 4})
      .Op(TimeOp{.seconds = 0xF100})
      .Op(WriteOp{.adus = 3, .lba = 7})
      .Op(SbmOp{.op = kFlush, .sb = 0})
      .Save(dir, "power_cut_armed");

  Script l;
  l.Setup();
  for (uint8_t kind = 0; kind < 15; ++kind) l.Op(LogOp{.kind = kind, .buffer = 512});
  l.Save(dir, "logs_and_identify");

  Script()
      .Setup()
      .Op(MutateOp{.field = 0, .value = 9})
      .Op(WriteOp{.adus = 1})
      .Op(MutateOp{.field = 2, .value = 4095})
      .Op(WriteOp{.adus = 2})
      .Op(MutateOp{.field = 3, .value = 1})
      .Op(ReadOp{.adus = 1})
      .Op(MutateOp{.field = 4, .value = 17})
      .Op(WriteOp{.adus = 1})
      .Op(MutateOp{.field = 5})
      .Op(SbmOp{.op = kErase})
      .Op(MutateOp{.field = 7})
      .Op(WriteOp{.adus = 1})
      .Op(MutateOp{.field = 1, .value = 0x100})
      .Op(LogOp{.kind = 0})
      .Save(dir, "mutated_commands");

  // Raw submission entries: an Identify, and an I/O command on a namespace of no domain.
  Command identify;
  identify.sqe.opcode = static_cast<uint8_t>(wire::AdminOpcode::kIdentify);
  identify.sqe.cdw10 = 1;
  Command sbm;
  sbm.queue = QueueType::kIo;
  sbm.sqe.opcode = static_cast<uint8_t>(wire::IoOpcode::kSuperBlockManagement);
  sbm.sqe.nsid = 1;
  sbm.sqe.cdw10 = 0xFFFFFFFF;
  Script().Setup().Raw(identify).Raw(sbm).Save(dir, "raw_commands");
}

}  // namespace
}  // namespace sef::model::testing

int main() {
  sef::model::testing::WriteAll(sef::testing::SeedDirectory("model_fuzzer"));
  sef::model::testing::WriteBackingFileSeeds(sef::testing::SeedDirectory("backing_file_fuzzer"));
  std::printf("wrote the seeds of model_fuzzer and backing_file_fuzzer\n");
  return 0;
}
