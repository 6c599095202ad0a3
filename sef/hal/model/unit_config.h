// The configuration of an emulated SEF unit: geometry, limits, capabilities, address widths.
// Loaded from JSON (testdata/units/*.json); see docs/model.md for every field.
//
// Thread-safety: a value type.
#ifndef SEF_HAL_MODEL_UNIT_CONFIG_H_
#define SEF_HAL_MODEL_UNIT_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"

namespace sef::model {

// Whether the unit buffers written ADUs in a volatile cache (docs/model.md, "Power loss").
//   kNone      every write that completed survives a power cut (a drive with full power-loss
//              protection); Identify Controller VWC = 0.
//   kVolatile  ADUs of an open super block above its durable pointer may be lost at a power cut,
//              always as a suffix; FUA, Super Block Flush, NVM Flush, close and the page-program
//              boundary make them durable. Identify Controller VWC = 1.
enum class WriteCache : uint8_t { kNone = 0, kVolatile = 1 };

struct UnitConfig {
  std::string name;  // free text, shown by probes
  std::string serial = "SEFMODEL0001";
  std::string model_number = "SEF software model";

  // Geometry (all one-based counts).
  uint32_t channels = 1;
  uint32_t banks = 1;  // per channel; dies = channels * banks
  uint32_t planes = 1;
  uint32_t pages_per_block = 1;
  uint32_t blocks_per_die = 1;
  uint32_t plane_data_bytes = 16384;  // power of two >= 4096; ADUs per plane page = /4096

  // Limits.
  uint32_t max_qos_domains = 8;          // Identify NN: QoS domain ids 1..max
  uint32_t max_placement_ids = 4;        // per domain
  uint32_t max_open_super_blocks = 8;    // per domain, at most
  uint32_t read_fifos = 8;               // unit-wide; FIFO ids 1..read_fifos
  uint32_t open_expiration_seconds = 0;  // EOP; 0 = open SBs never expire
  uint32_t patrol_cycle_minutes = 0;     // 0 = no patrol required by time
  uint32_t pages_to_secure_integrity = 1;

  // Address widths of every virtual device (log 0xD0 sbbw + 1, aobw + 1).
  AddressFormat address{24, 24};

  // Identify 06h capability bits (wire::SefCapability). Validated against what the model
  // implements: perfect defect strategy, UA-range and FLA-list copies, pSLC.
  uint32_t capabilities =
      wire::kCapPerfect | wire::kCapCopyUaRange | wire::kCapCopyFlaList | wire::kCapPslc;
  bool pslc = true;

  // JSON "write_cache": "none" | "volatile"; absent = "none".
  WriteCache write_cache = WriteCache::kNone;

  uint32_t dies() const { return channels * banks; }
  uint32_t adus_per_plane_page() const { return plane_data_bytes / 4096; }
  uint32_t adus_per_page() const { return planes * adus_per_plane_page(); }  // one die
  uint64_t adus_per_block() const { return uint64_t{pages_per_block} * adus_per_page(); }
  uint64_t total_adus() const { return adus_per_block() * blocks_per_die * dies(); }

  // OK, or InvalidArgument naming the field, its value and the allowed range.
  absl::Status Validate() const;
};

// Parses and validates. Errors name the JSON field ("geometry.planes: ...").
absl::StatusOr<UnitConfig> ParseUnitConfig(std::string_view json_text);
absl::StatusOr<UnitConfig> LoadUnitConfig(const std::string& path);

// The canonical JSON of a config (what the backing file records to refuse another config).
std::string UnitConfigToJson(const UnitConfig& config);

}  // namespace sef::model

#endif  // SEF_HAL_MODEL_UNIT_CONFIG_H_
