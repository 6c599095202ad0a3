// Completion results (the 64-bit CQE DW1:DW0) of the SEF commands, and the asynchronous
// event result. Each has FromResult (the host side) and ToResult (the device side).
//
// Thread-safety: value types and pure functions.
#ifndef SEF_HAL_CMD_RESULTS_H_
#define SEF_HAL_CMD_RESULTS_H_

#include <cstdint>
#include <optional>

#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {

// SBM erase / pSLC erase: DW0 = SB id, DW1 = writable ADUs.
struct EraseResult {
  SuperBlockId sb;
  AduCount writable_adus;
  static EraseResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const EraseResult&, const EraseResult&) = default;
};

// SBM close / flush: DW0 = SB id; DW1 bit 31 (result bit 63) = CC, "this command closed the
// SB" (the emulator moved it from DW0 to DW1 in v0.51.3; DW1 is what the SDK reads).
struct CloseResult {
  SuperBlockId sb;
  bool closed_by_this_command = false;
  static CloseResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const CloseResult&, const CloseResult&) = default;
};

// SBM free: DW0 = SB id.
struct FreeResult {
  SuperBlockId sb;
  static FreeResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const FreeResult&, const FreeResult&) = default;
};

// SBM patrol: DW0[7:0] = data integrity index.
struct PatrolResult {
  uint8_t integrity_index = 0;
  static PatrolResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const PatrolResult&, const PatrolResult&) = default;
};

// FAR: DW0 = flash addresses assigned.
struct FarResult {
  uint32_t addresses = 0;
  static FarResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const FarResult&, const FarResult&) = default;
};

// NLW: DW0 = ADUs written (with an ACO: its entries; on a partial write: ADUs not written),
// DW1 = ACO id (0 = no relocation; DW1 since emulator v0.53.5 "to match spec/LD2").
struct NlwResult {
  uint32_t count = 0;
  uint32_t aco_id = 0;
  static NlwResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const NlwResult&, const NlwResult&) = default;
};

// NLC: DW0[23:0] = ADUs left in the destination, DW0[31:24] = copy status (kCopy* bits).
struct NlcResult {
  uint32_t adus_left = 0;  // 24 bits
  uint8_t copy_status = 0;
  static NlcResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const NlcResult&, const NlcResult&) = default;
};

// GCR: DW0 = status (the SDK only logs it).
struct GcrResult {
  uint32_t status = 0;
  static GcrResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const GcrResult&, const GcrResult&) = default;
};

// NS Management create: DW0 = the new NSID = QoS domain id.
struct CreateQosDomainResult {
  QosDomainId domain;
  static CreateQosDomainResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const CreateQosDomainResult&, const CreateQosDomainResult&) = default;
};

// Get Features 0xD1 SEL 0: the 64-bit root pointer.
struct RootPointerResult {
  FlashAddress value;
  static RootPointerResult FromResult(uint64_t r);
  uint64_t ToResult() const;
  friend bool operator==(const RootPointerResult&, const RootPointerResult&) = default;
};

// Asynchronous Event Request completion DW0: AET in bits 2:0, AEI in 15:8, LID in 23:16.
struct AsyncEvent {
  uint8_t type = 0;
  uint8_t info = 0;
  uint8_t log_id = 0;

  static AsyncEvent FromResult(uint32_t dw0);
  uint32_t ToResult() const;
  // AET 6 / AEI 0x40: a SEF event, whose log (0xD0 or 0xD3) names what happened.
  bool is_sef() const {
    return type == wire::kAenTypeCommandSetSpecific && info == wire::kAenInfoSef;
  }
  static AsyncEvent Sef(wire::LogId lid) {
    return {wire::kAenTypeCommandSetSpecific, wire::kAenInfoSef, static_cast<uint8_t>(lid)};
  }
  friend bool operator==(const AsyncEvent&, const AsyncEvent&) = default;
};

}  // namespace sef::cmd

#endif  // SEF_HAL_CMD_RESULTS_H_
