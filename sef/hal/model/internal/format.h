// The backing-file format of the SEF device model (docs/model.md, "Backing file format").
//
//   [FileHeader, 4 KiB] [unit state record pair] [domain record pairs] [SB record pairs]
//   [ADU info array: one AduInfo per physical ADU] [data array: 4 KiB per physical ADU]
//
// Records are written as A/B pairs: a write goes to the slot not holding the newest valid
// copy, generation and CRC-32C last, so a write torn by a crash leaves the previous copy.
// An ADU becomes "written" when its AduInfo::sequence (8-byte aligned) turns non-zero, after
// its data, metadata and user address are in place.
//
// Version 2 added the durable pointer of each super block (SbRecord::durable) and the unit's
// "in use" flag (UnitStateHeader::flags); the layout is the same as version 1's. A version-1
// file is migrated when opened: its header is rewritten as version 2, and since it was made
// with no volatile write cache, every ADU it holds counts as durable (its in-use flag reads 0).
#ifndef SEF_HAL_MODEL_INTERNAL_FORMAT_H_
#define SEF_HAL_MODEL_INTERNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>

#include "sef/hal/cmd/wire.h"

namespace sef::model::internal {

inline constexpr char kMagic[8] = {'S', 'E', 'F', 'M', 'O', 'D', 'E', 'L'};
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kFormatVersionWithoutDurability = 1;  // migrated on open
inline constexpr uint32_t kHeaderBytes = 4096;

#pragma pack(push, 1)

struct FileHeader {
  char magic[8];                   // 0 "SEFMODEL"
  uint32_t version;                // 8
  uint32_t crc;                    // 12 CRC-32C of the 4 KiB header with this field zero
  uint64_t file_bytes;             // 16
  uint64_t unit_record_offset;     // 24 one pair
  uint32_t unit_slot_bytes;        // 32
  uint32_t domain_slot_bytes;      // 36
  uint64_t domain_records_offset;  // 40 max_qos_domains pairs
  uint64_t sb_records_offset;      // 48 one pair per physical block (die * blocks + block)
  uint32_t sb_slot_bytes;          // 56
  uint32_t config_json_bytes;      // 60
  uint64_t adu_info_offset;        // 64
  uint64_t data_offset;            // 72
  uint64_t physical_adus;          // 80
  uint8_t rsvd88[40];
  char config_json[kHeaderBytes - 128];  // 128 the canonical unit configuration
};
static_assert(sizeof(FileHeader) == kHeaderBytes);
static_assert(offsetof(FileHeader, crc) == 12);
static_assert(offsetof(FileHeader, adu_info_offset) == 64);
static_assert(offsetof(FileHeader, config_json) == 128);

// One slot of a record pair; the payload follows, padded to 8 bytes.
struct SlotHeader {
  uint64_t generation;  // 0 = never written
  uint32_t crc;         // CRC-32C of generation, bytes and payload
  uint32_t bytes;       // payload bytes
};
static_assert(sizeof(SlotHeader) == 16);

// Per QoS domain (index = domain id - 1).
struct DomainRecord {
  uint8_t in_use;
  uint8_t attached;
  uint16_t vd;
  uint16_t num_placement_ids;
  uint16_t max_open_super_blocks;
  uint16_t program_weight;
  uint16_t erase_weight;
  uint8_t deadline;
  uint8_t defect;
  uint16_t rsvd;
  uint32_t default_read_fifo;
  uint32_t rsvd2;
  uint64_t capacity;  // plane pages
  uint64_t quota;
  uint64_t pslc_capacity;
  uint64_t pslc_quota;
  uint64_t root_pointers[wire::kNumRootPointers];
};
static_assert(sizeof(DomainRecord) == 120);

enum class SbState : uint8_t {
  kFree = 0,
  kOpenByErase = 1,
  kOpenByPlacement = 2,  // opened by a nameless write to a placement id
  kClosed = 3,
};

inline constexpr uint8_t kSbFlagPslc = 1u << 0;
inline constexpr uint8_t kSbFlagNeedsPatrol = 1u << 1;
inline constexpr uint8_t kSbFlagOpenedByCopy = 1u << 2;  // closed by NLC -> ST 8

// Per super block, stored at the slot of the physical block of its first die.
struct SbRecord {
  uint8_t state;  // SbState
  uint8_t flags;  // kSbFlag*
  uint16_t domain;
  uint16_t vd;
  uint16_t placement_id;  // 0xFFFF when opened by erase
  uint32_t sb_id;
  uint32_t erase_serial;
  uint32_t erase_count;
  // ADUs below this offset survive a power cut (docs/model.md, "Power loss"). Meaningful for
  // open SBs of a unit with a volatile write cache; a closed SB loses nothing. Version 1: 0.
  uint32_t durable;
  int64_t state_since_seconds;  // model clock at the last state change or patrol
};
static_assert(sizeof(SbRecord) == 32);
static_assert(offsetof(SbRecord, durable) == 20);

// Per physical ADU.
struct AduInfo {
  uint64_t user_address;
  uint8_t metadata[wire::kAduMetaBytes];
  uint64_t sequence;  // 0 = unwritten; the write's serial number otherwise
};
static_assert(sizeof(AduInfo) == 32);
static_assert(offsetof(AduInfo, sequence) % 8 == 0);

// Unit state: a header followed by per-VD settings, the die -> VD map and the read FIFO
// table. Variable size (depends on dies and read FIFOs); see UnitStateBytes().
// UnitStateHeader::flags: the unit is open (or powered) and was not closed cleanly since. A
// unit with a volatile write cache that opens with this flag set lost power: it applies the
// power-loss rule to every open SB before recovering.
inline constexpr uint8_t kUnitFlagInUse = 1u << 0;

struct UnitStateHeader {
  uint16_t selected_config;  // 0 = no virtual devices
  uint8_t flags;             // kUnitFlag*; version 1: 0
  uint8_t rsvd;
  uint32_t erase_serial;  // current erase serial number (cesn)
  uint64_t rsvd8;
};
static_assert(sizeof(UnitStateHeader) == 16);
static_assert(offsetof(UnitStateHeader, flags) == 2);

struct VdSettings {
  uint16_t vd;  // 0 = unused entry
  uint16_t dies_per_sb;
  uint32_t pslc_super_blocks;
  uint32_t default_read_fifo;
  uint32_t suspend_min_time;
  uint8_t aen_mask;
  uint8_t rsvd[3];
};
static_assert(sizeof(VdSettings) == 20);

struct FifoSettings {
  uint16_t vd;  // 0 = not attached
  uint16_t weight;
};
static_assert(sizeof(FifoSettings) == 4);

#pragma pack(pop)

}  // namespace sef::model::internal

#endif  // SEF_HAL_MODEL_INTERNAL_FORMAT_H_
