// Test only: drives one device model unit with a sequence of operations read from a fuzz
// input, for model_fuzzer and backing_file_fuzzer (and their seed generators).
//
//   ModelFuzzDriver driver(*unit, config, clock);
//   while (!tape.empty()) { driver.Step(tape); SEF_FUZZ_CHECK(...invariants...); }
//   unit.reset();                 // aborts what still waits
//   driver.CheckCompletions();    // every command completed exactly once
//
// An operation is a byte (its index in FuzzOp, modulo the count) and the fields of its struct,
// little endian (sef/base/testing/fuzz.h). Most build a command with the codec's encoders from
// fuzzed fields, so that deep states are reached (virtual devices, QoS domains, super blocks
// full and open, waiting FAR/NLC halves, AERs); RawOp sends any 64-byte submission entry with
// any buffers (sef/hal/cmd/testing/fuzz_command.h); MutateOp corrupts the next encoded command
// (NSID, a CDW, a buffer length, the queue, the opcode). FAR and NLW, NLC and GCR are separate
// operations too, so pairs are split, reordered and mismatched. Identifiers (domains, super
// blocks, written addresses) are picked from those the unit has returned, or raw.
//
// Every buffer is its own heap allocation of exactly its length and lives until its command
// completes. Checked here: every command completes exactly once, and every failure sets DNR.
// With SEF_FUZZ_TRACE set in the environment, every command and completion is printed.
#ifndef SEF_HAL_MODEL_TESTING_FUZZ_DRIVER_H_
#define SEF_HAL_MODEL_TESTING_FUZZ_DRIVER_H_

#include <sys/uio.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "sef/base/clock.h"
#include "sef/base/testing/fuzz.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/model/controller.h"

namespace sef::model::testing {

// The fields of an operation, in tape order.
#define SEF_FUZZ_FIELDS(...)                   \
  template <typename F>                        \
  void Fields(F&& f) {                         \
    ApplyFields(f __VA_OPT__(, ) __VA_ARGS__); \
  }
template <typename F, typename... T>
void ApplyFields(F& f, T&... fields) {
  (f(fields), ...);
}

// Selectors: a byte that picks a known identifier (those the unit returned) or a raw value.
//   domain: < 0xE0 a known domain, else NSID (sel & 0x1F)
//   sb:     0xFF "device chooses", < 0xC0 a known SB of the domain, else SB id (sel & 0x3F)
//   vd:     VD (sel % 4 + 1)

// A raw command follows on the tape (fuzz_command.h encoding).
struct RawOp {
  SEF_FUZZ_FIELDS()
};
// Set Features 0xD2 (VDs: vd1 on the dies of mask1, vd2 on those of mask2 not in mask1), then
// Capacity Management select. flags: bit 0 select config 0 first, bit 1 do not define,
// bit 2 do not select.
struct CapacityOp {
  uint8_t config_id = 2, vd1 = 0, mask1 = 0xF, vd2 = 1, mask2 = 0, flags = 0;
  SEF_FUZZ_FIELDS(config_id, vd1, mask1, vd2, mask2, flags)
};
// Set Features 0xD0, SEL (sel % 8; 7 = reset scheduler).
struct VdFeatureOp {
  uint8_t vd = 0, sel = 0;
  uint32_t value = 0;
  uint16_t weight = 0;
  uint8_t flag = 0;
  SEF_FUZZ_FIELDS(vd, sel, value, weight, flag)
};
// NS Management create; flags bit 0: then attach.
struct CreateDomainOp {
  uint8_t vd = 0;
  uint16_t capacity = 0, quota = 0;
  uint8_t pslc_capacity = 0, pslc_quota = 0, placement_ids = 1, max_open = 1, fifo = 0, flags = 1;
  SEF_FUZZ_FIELDS(vd, capacity, quota, pslc_capacity, pslc_quota, placement_ids, max_open, fifo,
                  flags)
};
// action % 9: attach, detach, delete, capacity (a: pSLC, b: capacity, c: quota), max open (a),
// default FIFO (a), set root pointer (a: index, d: value), weights (b, c), deadline (a).
struct DomainOp {
  uint8_t domain = 0, action = 0, a = 0;
  uint16_t b = 0, c = 0;
  uint64_t d = 0;
  SEF_FUZZ_FIELDS(domain, action, a, b, c, d)
};
// Super Block Management: op % 6 of erase, close, free, patrol, flush, pSLC erase.
struct SbmOp {
  uint8_t domain = 0, op = 0, sb = 0xFF;
  uint16_t buffer = 0, erase_weight = 0;
  SEF_FUZZ_FIELDS(domain, op, sb, buffer, erase_weight)
};
// target: bit 7 set = into SB selector (target & 0x7F), else placement id (target & 3).
struct FarOp {
  uint8_t domain = 0, target = 0, nlwid = 1;
  SEF_FUZZ_FIELDS(domain, target, nlwid)
};
// adus % 24 + 1; flags: bit 0 FUA, bit 1 pSLC, bit 2 metadata, bit 3 limited retry,
// bit 4 user address "ignore"; split % 4 + 1 iovecs.
struct NlwOp {
  uint8_t domain = 0, target = 0, nlwid = 1, adus = 0, flags = 0;
  uint32_t lba = 0;
  uint8_t split = 0;
  SEF_FUZZ_FIELDS(domain, target, nlwid, adus, flags, lba, split)
};
// A FAR and its NLW, back to back, with a pair id of their own.
struct WriteOp {
  uint8_t domain = 0, target = 0, adus = 0, flags = 0;
  uint32_t lba = 0;
  uint8_t split = 0;
  SEF_FUZZ_FIELDS(domain, target, adus, flags, lba, split)
};
// Read from a written extent (extent: index into those returned, offset within, up to 2
// past). flags: bit 0 verify, bit 1 metadata, bit 2 no data, bit 3 FIFO (fifo % 6).
struct ReadOp {
  uint8_t extent = 0, offset = 0, adus = 0, flags = 0;
  uint32_t verify = 0;
  uint8_t split = 0, fifo = 0;
  SEF_FUZZ_FIELDS(extent, offset, adus, flags, verify, split, fifo)
};
// Nameless Copy into SB selector dest_sb of `domain`. kind bit 0: bitmap (else list);
// count % 16 + 1 sources follow on the tape as u32: list entries (byte 0 extent, byte 1
// offset) or bitmap words (the bitmap starts at extent `start`). filter bit 0: filter on,
// bit 1 exclude.
struct NlcOp {
  uint8_t domain = 0, dest_sb = 0, nlcid = 1, kind = 0, count = 0, start = 0, filter = 0;
  uint32_t filter_start = 0;
  uint16_t filter_length = 1;
  std::vector<uint32_t> tail;
  uint32_t tail_count() const { return count % 16 + 1; }
  SEF_FUZZ_FIELDS(domain, dest_sb, nlcid, kind, count, start, filter, filter_start, filter_length)
};
// Get Copy Result with entries % 32 + 1 ACR entries.
struct GcrOp {
  uint8_t domain = 0, nlcid = 1, entries = 31, fua = 0;
  SEF_FUZZ_FIELDS(domain, nlcid, entries, fua)
};
// An NLC and its GCR, back to back, with a pair id of their own.
struct CopyOp {
  NlcOp nlc;
  uint8_t entries = 31, fua = 0;
  SEF_FUZZ_FIELDS(nlc.domain, nlc.dest_sb, nlc.kind, nlc.count, nlc.start, nlc.filter,
                  nlc.filter_start, nlc.filter_length, entries, fua)
};
// An Asynchronous Event Request.
struct AerOp {
  SEF_FUZZ_FIELDS()
};
// Logs, Identify and Get Features (kind % 16; see fuzz_driver.cc).
struct LogOp {
  uint8_t kind = 0, target = 0, arg = 0;
  uint16_t buffer = 4096;
  uint8_t rae = 0;
  uint32_t offset = 0;
  SEF_FUZZ_FIELDS(kind, target, arg, buffer, rae, offset)
};
// Advances the fake clock by `seconds` and runs the unit's time-driven work. From 0xF000 the
// power instead: 0xF0xx PowerCut(seed xx), 0xF1xx PowerOn, 0xF2xx CutPowerAfter(xx % 16
// commands, seed xx); other values from 0xF300 advance the clock too.
struct TimeOp {
  uint16_t seconds = 0;
  SEF_FUZZ_FIELDS(seconds)
};
// A controller reset: Controller::AbortOutstanding.
struct ResetOp {
  SEF_FUZZ_FIELDS()
};
// Corrupts the next encoded command: field % 8 of NSID, a CDW, the data length, the iovec
// count, the metadata length, the queue, the opcode, vectored <-> contiguous.
struct MutateOp {
  uint8_t field = 0;
  uint32_t value = 0;
  SEF_FUZZ_FIELDS(field, value)
};

using FuzzOp =
    std::variant<RawOp, CapacityOp, VdFeatureOp, CreateDomainOp, DomainOp, SbmOp, FarOp, NlwOp,
                 WriteOp, ReadOp, NlcOp, GcrOp, CopyOp, AerOp, LogOp, TimeOp, ResetOp, MutateOp>;

// The unit the model fuzz targets run: 4 dies (so that VDs can split them), 8 blocks of 4 ADUs
// per die (SBs fill after a few writes, a VD runs out of SBs), 4 QoS domains, 2 placement ids,
// 2 open SBs, 4 read FIFOs, open SBs expire after 60 s, patrol every minute, address widths of
// 6 / 5 bits (just wide enough) and a volatile write cache (power cuts lose ADUs).
UnitConfig FuzzUnitConfig();

// Reads one operation (a RawOp's command is read by Step).
FuzzOp ReadFuzzOp(sef::testing::FuzzTape& tape);
// Appends an operation; a RawOp takes the command that follows it.
void WriteFuzzOp(sef::testing::FuzzTapeWriter& w, const FuzzOp& op);
void WriteRawOp(sef::testing::FuzzTapeWriter& w, const Command& c);

class ModelFuzzDriver {
 public:
  // `unit`, `config` and `clock` (the unit's) must outlive the driver's Step calls.
  ModelFuzzDriver(Controller& unit, const UnitConfig& config, FakeClock& clock);

  // Runs the next operation of the tape.
  void Step(sef::testing::FuzzTape& tape);
  // Checks that every command submitted has completed exactly once. Call after the unit is
  // destroyed (which completes what was still waiting).
  void CheckCompletions() const;

  size_t commands() const { return slots_.size(); }

 private:
  struct Slot;
  struct Extent {
    uint64_t first;  // flash address
    uint32_t adus;
  };

  void Run(const RawOp&, sef::testing::FuzzTape& tape);
  void Run(const CapacityOp& op);
  void Run(const VdFeatureOp& op);
  void Run(const CreateDomainOp& op);
  void Run(const DomainOp& op);
  void Run(const SbmOp& op);
  void Run(const FarOp& op);
  void Run(const NlwOp& op);
  void Run(const WriteOp& op);
  void Run(const ReadOp& op);
  void Run(const NlcOp& op);
  void Run(const GcrOp& op);
  void Run(const CopyOp& op);
  void Run(const AerOp& op);
  void Run(const LogOp& op);
  void Run(const TimeOp& op);
  void Run(const ResetOp& op);
  void Run(const MutateOp& op);

  // Encodes and submits; an encoder's refusal submits nothing.
  void Admin(std::shared_ptr<Slot> slot, const cmd::AdminRequest& r);
  void Io(std::shared_ptr<Slot> slot, const cmd::IoRequest& r);
  void Submit(std::shared_ptr<Slot> slot, Command c);
  void ApplyMutation(Slot& slot, Command& c);
  // Learns identifiers from commands that completed since the last call.
  void Learn();

  QosDomainId PickDomain(uint8_t sel) const;
  SuperBlockId PickSb(QosDomainId d, uint8_t sel) const;
  VirtualDeviceId PickVd(uint8_t sel) const { return VirtualDeviceId(sel % 4 + 1); }
  FlashAddress PickAddress(uint8_t extent, uint8_t offset) const;
  cmd::DomainFormat Format() const;
  cmd::NamelessWriteRequest MakeWrite(Slot& slot, QosDomainId d, uint8_t target, uint8_t adus,
                                      uint8_t flags, uint32_t lba, uint8_t split, uint32_t nlwid);
  cmd::FlashAddressRequest MakeFar(Slot& slot, QosDomainId d, uint8_t target, uint32_t nlwid);
  cmd::NamelessCopyRequest MakeCopy(Slot& slot, const NlcOp& op, uint32_t nlcid);
  // Submits a Get Copy Result of entries % 32 + 1 ACR entries.
  void Gcr(uint8_t domain, uint32_t nlcid, uint8_t entries, uint8_t fua);
  // Makes the command's iovec array the slot's own, so that a mutation can change it.
  void OwnIovecs(Slot& slot, Command& c);
  cmd::IoVecs Split(Slot& slot, uint64_t bytes, uint8_t split, uint8_t fill);

  Controller& unit_;
  const UnitConfig& config_;
  FakeClock& clock_;
  std::vector<std::shared_ptr<Slot>> slots_;      // every command submitted
  std::vector<std::shared_ptr<Slot>> unlearned_;  // not yet looked at by Learn
  std::optional<MutateOp> mutation_;
  std::vector<uint16_t> domains_;                  // ids the unit returned
  std::map<uint16_t, std::vector<uint32_t>> sbs_;  // per domain
  std::vector<Extent> extents_;                    // written, from ARRs
  uint32_t next_pair_id_ = 0x1000;
  const bool trace_;
};

}  // namespace sef::model::testing

#endif  // SEF_HAL_MODEL_TESTING_FUZZ_DRIVER_H_
