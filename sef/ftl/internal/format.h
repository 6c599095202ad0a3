// The block FTL's on-media formats: one header for every structure the FTL writes to flash,
// shared by the writer and the reader. docs/ftl.md ("On-media format") is the prose spec.
// All integers are little endian (the only byte order this project builds for).
//
// What lives where:
//   Root pointer 0  flash address of the newest committed checkpoint header (0 = none).
//   Root pointer 1  hal::kDomainKindBlockFtl (sef/hal/domain_kind.h), written first.
//   Data ADUs       user address (LBA, kDataTag), metadata AduMeta{seq, kDataMetaMagic}.
//   Opener ADUs     user address (stream, kOpenerTag), data OpenerPage, metadata
//                   AduMeta{seq, kOpenerMetaMagic}: the first ADU of a data SB the device
//                   opened for a write by placement id (FormatOptions::placement_ids).
//   Journal ADUs    user address (page number, kJournalTag), data JournalPage.
//   Checkpoint      user address (page index, kCheckpointTag): map pages, slot-table pages,
//                   (version 2) per-slot count pages, then the CheckpointHeader, written in
//                   that order into checkpoint SBs.
//
// Thread-safety: plain data.
#ifndef SEF_FTL_INTERNAL_FORMAT_H_
#define SEF_FTL_INTERNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sef/base/crc32c.h"

namespace sef::ftl::internal {

inline constexpr uint32_t kAduBytes = 4096;
inline constexpr uint32_t kMetaBytes = 16;

// User-address tags (bits 63:40 of a user address) of the four kinds of ADU the FTL writes.
inline constexpr uint32_t kDataTag = 0xF7DA7A;
inline constexpr uint32_t kJournalTag = 0xF7104A;
inline constexpr uint32_t kCheckpointTag = 0xF7C4B7;
inline constexpr uint32_t kOpenerTag = 0xF70BE1;

// ---- per-ADU metadata (16 bytes, kept by the device with every ADU, and by Nameless Copy) ----

inline constexpr uint32_t kDataMetaMagic = 0x44465453;     // "STFD"
inline constexpr uint32_t kJournalMetaMagic = 0x4A465453;  // "STFJ"
inline constexpr uint32_t kOpenerMetaMagic = 0x4F465453;   // "STFO"

// Data and journal ADUs. `seq` is the FTL's write sequence number: one per write piece, trim
// or journal commit, increasing across the life of the domain. A GC copy keeps it.
struct AduMeta {
  uint64_t seq;
  uint32_t magic;
  uint32_t crc;  // CRC-32C of the 12 bytes above
};
static_assert(sizeof(AduMeta) == kMetaBytes);

inline AduMeta MakeAduMeta(uint64_t seq, uint32_t magic) {
  AduMeta m{seq, magic, 0};
  m.crc = Crc32c(&m, offsetof(AduMeta, crc));
  return m;
}
inline bool AduMetaValid(const AduMeta& m, uint32_t magic) {
  return m.magic == magic && m.crc == Crc32c(&m, offsetof(AduMeta, crc));
}

// Checkpoint pages (slot table, map and header).
struct CheckpointPageMeta {
  uint64_t generation;  // the checkpoint's generation
  uint32_t page;        // index of the page in the checkpoint
  uint32_t crc;         // CRC-32C of the page's 4096 data bytes
};
static_assert(sizeof(CheckpointPageMeta) == kMetaBytes);

// ---- map entries ------------------------------------------------------------------------------
// One 32-bit value per logical block, in RAM and in checkpoint map pages:
//   0                          unmapped (never written or trimmed): reads zeros
//   slot * sb_capacity + off + 1  ADU `off` of the super block in slot `slot`
// so slots * sb_capacity + 1 must stay below kMapStale.
inline constexpr uint32_t kMapUnmapped = 0;
// Above every map value (geometry.cc keeps slots * sb_capacity + 1 below it); never stored.
inline constexpr uint32_t kMapStale = 0xFFFFFFFF;
inline constexpr uint32_t kMapEntriesPerPage = kAduBytes / sizeof(uint32_t);

// ---- the slot table (checkpoint) --------------------------------------------------------------
// The FTL numbers the super blocks it holds densely ("slots"); map entries name slots, so the
// map stays 4 bytes per block. Checkpoint SBs have no slot (the header lists them).

enum class SlotKind : uint8_t {
  kNone = 0,     // unused slot
  kUser = 1,     // user writes (the hot stream)
  kGc = 2,       // garbage-collection copies (the cold stream)
  kJournal = 3,  // journal pages
};

inline constexpr uint32_t kScanNothing = 0xFFFFFFFF;  // SlotEntry::scan_from of a closed SB

inline constexpr uint8_t kSlotPendingRelease = 0x01;  // SlotEntry::flags: empty, to release

struct SlotEntry {
  uint32_t sb;         // SuperBlockId
  uint32_t serial;     // erase serial when allocated (SB information `erase_serial`)
  uint32_t scan_from;  // ADUs from this offset on were written after the checkpoint began
  uint8_t kind;        // SlotKind
  uint8_t flags;       // kSlotPendingRelease
  uint8_t stream;      // data SBs: the temperature stream (0 hottest)
  uint8_t rsvd;
};
static_assert(sizeof(SlotEntry) == 16);
inline constexpr uint32_t kSlotEntriesPerPage = kAduBytes / sizeof(SlotEntry);

// ---- per-slot counts (checkpoint version 2) ---------------------------------------------------
// One u32 per slot: how many entries of this checkpoint's map pages (exactly the pages
// written, fuzzy as they are) name an ADU of the slot. Mount takes the valid counts of the
// slots that stand from here instead of a walk over the map (docs/ftl.md, "Recovery").
inline constexpr uint32_t kCountsPerPage = kAduBytes / sizeof(uint32_t);

// ---- the checkpoint header (one ADU; root pointer 0 holds its flash address) -----------------

inline constexpr uint64_t kCheckpointMagic = 0x31504B434C544653;  // "SFTLCKP1"
// Version 2 (written): adds the per-slot count pages (`count_pages`). Version 1 (read: its
// map is loaded at mount and walked to count, as before version 2) has none.
inline constexpr uint32_t kCheckpointVersion = 2;
inline constexpr uint32_t kCheckpointVersion1 = 1;
// SBs a checkpoint may span (header included); bounds the domain size (docs/ftl.md).
inline constexpr uint32_t kMaxCheckpointSbs = 896;
// Placement ids a header records (FormatOptions::placement_ids; user writes go by them).
inline constexpr uint32_t kMaxPlacementIds = 64;
inline constexpr uint32_t kPlacementIdsOffset = 128 + 4 * kMaxCheckpointSbs;

struct CheckpointHeader {
  uint64_t magic;       // 0   kCheckpointMagic
  uint32_t version;     // 8   kCheckpointVersion
  uint32_t crc;         // 12  CRC-32C of the 4096 bytes with this field 0
  uint64_t generation;  // 16  1 at format, +1 per checkpoint
  // Format parameters (fixed at format time).
  uint64_t block_count;               // 24
  uint32_t sb_capacity;               // 32  ADUs per super block
  uint32_t slot_count;                // 36  slot-table entries
  uint32_t op_millipercent;           // 40  overprovisioning, 1/1000 %
  uint32_t reserved_sbs;              // 44  SBs kept out of the data area (metadata)
  uint64_t checkpoint_interval_adus;  // 48
  // Replay.
  uint64_t replay_from_seq;  // 56  R: writes and trims with seq < R are in this checkpoint
  uint32_t journal_slot;     // 64  the journal SB open at the checkpoint (a slot)
  uint32_t rsvd0;            // 68
  // Layout: pages [0, map_pages) hold the map, [map_pages, map_pages + slot_pages) the slot
  // table, then count_pages pages of per-slot counts (version 2; 0 in version 1); page i is
  // ADU i % sb_capacity of checkpoint SB sbs[i / sb_capacity]; the header is page
  // map_pages + slot_pages + count_pages.
  uint32_t map_pages;    // 72
  uint32_t slot_pages;   // 76
  uint32_t num_sbs;      // 80  entries used in sbs[]
  uint32_t count_pages;  // 84  version 2: ceil(slot_count / kCountsPerPage); version 1: 0
  // Counters carried across mounts (Stats).
  uint64_t host_adus_written;   // 88
  uint64_t flash_adus_written;  // 96
  uint64_t gc_copied_adus;      // 104
  uint64_t checkpoints;         // 112
  // Version 2: the placement ids chosen at format (FormatOptions::placement_ids), carried by
  // every checkpoint; user writes go by them (docs/ftl.md). Version 1: 0 (reserved, zero).
  uint16_t placement_id_count;               // 120
  uint8_t rsvd2[6];                          // 122
  uint32_t sbs[kMaxCheckpointSbs];           // 128  SuperBlockIds
  uint16_t placement_ids[kMaxPlacementIds];  // 3712
  uint8_t rsvd3[kAduBytes - kPlacementIdsOffset - 2 * kMaxPlacementIds];
};
static_assert(sizeof(CheckpointHeader) == kAduBytes);
static_assert(offsetof(CheckpointHeader, placement_id_count) == 120);
static_assert(offsetof(CheckpointHeader, placement_ids) == kPlacementIdsOffset);
static_assert(offsetof(CheckpointHeader, sbs) == 128);
static_assert(offsetof(CheckpointHeader, count_pages) == 84);

inline uint32_t CountPagesFor(uint32_t slot_count) {
  return (slot_count + kCountsPerPage - 1) / kCountsPerPage;
}

inline uint32_t CheckpointHeaderCrc(const CheckpointHeader& h) {
  CheckpointHeader copy;
  std::memcpy(&copy, &h, sizeof(copy));
  copy.crc = 0;
  return Crc32c(&copy, sizeof(copy));
}

// ---- opener pages (one ADU: the first of an SB opened by a write by placement id) ------------
// With placement ids (FormatOptions::placement_ids) user writes go by placement id: the
// device opens the SB. The FTL itself writes its first ADU, this page, to learn which SB it
// is before any user data goes there; it journals the SB's allocation next (docs/ftl.md,
// "Writes by placement id"). Recovery and GC skip it (its tag is not kDataTag); an SB that
// holds an opener and no allocation record is released at mount like any unclaimed SB.
// The rest of the ADU is zero.
inline constexpr uint64_t kOpenerMagic = 0x31524E504F4C5446;  // "FTLOPNR1"
inline constexpr uint32_t kOpenerVersion = 1;

struct OpenerPage {
  uint64_t magic;         // 0   kOpenerMagic
  uint32_t version;       // 8   kOpenerVersion
  uint16_t placement_id;  // 12  the placement id written by
  uint8_t stream;         // 14  the FTL's stream (SlotEntry::stream)
  uint8_t rsvd0;          // 15
  uint64_t seq;           // 16  as in the ADU's metadata
  uint32_t crc;           // 24  CRC-32C of bytes 0..23
  uint32_t rsvd1;         // 28
};
static_assert(sizeof(OpenerPage) == 32);
static_assert(offsetof(OpenerPage, seq) == 16 && offsetof(OpenerPage, crc) == 24);

inline OpenerPage MakeOpenerPage(uint16_t placement_id, uint8_t stream, uint64_t seq) {
  OpenerPage p{kOpenerMagic, kOpenerVersion, placement_id, stream, 0, seq, 0, 0};
  p.crc = Crc32c(&p, offsetof(OpenerPage, crc));
  return p;
}
inline bool OpenerPageValid(const OpenerPage& p) {
  return p.magic == kOpenerMagic && p.version == kOpenerVersion &&
         p.crc == Crc32c(&p, offsetof(OpenerPage, crc));
}

// ---- journal pages (one ADU each) -------------------------------------------------------------

inline constexpr uint32_t kJournalPageMagic = 0x4C4E524A;  // "JRNL"
inline constexpr uint16_t kJournalVersion = 1;

enum class JournalRecordType : uint8_t {
  kTrim = 1,      // a = first LBA, b = count
  kAllocate = 2,  // sb, a = erase serial, kind = SlotKind: an SB the FTL took
  kRelease = 3,   // sb, a = erase serial: an empty data SB the FTL is about to release
};

struct JournalRecord {
  uint8_t type;    // JournalRecordType
  uint8_t kind;    // SlotKind (allocations)
  uint8_t stream;  // allocations of data SBs: the temperature stream
  uint8_t rsvd;
  uint32_t sb;
  uint64_t seq;
  uint64_t a;
  uint64_t b;
};
static_assert(sizeof(JournalRecord) == 32);

struct JournalPageHeader {
  uint32_t magic;    // kJournalPageMagic
  uint16_t version;  // kJournalVersion
  uint16_t count;    // records in this page
  uint32_t crc;      // CRC-32C of the whole page with this field 0
  uint32_t rsvd;
  uint64_t seq;  // the commit's sequence number (also in the ADU metadata)
  uint64_t rsvd2;
};
static_assert(sizeof(JournalPageHeader) == 32);
inline constexpr uint32_t kJournalRecordsPerPage =
    (kAduBytes - sizeof(JournalPageHeader)) / sizeof(JournalRecord);
static_assert(kJournalRecordsPerPage == 127);

struct JournalPage {
  JournalPageHeader header;
  JournalRecord records[kJournalRecordsPerPage];
};
static_assert(sizeof(JournalPage) == kAduBytes);

inline uint32_t JournalPageCrc(const JournalPage& p) {
  JournalPage copy;
  std::memcpy(&copy, &p, sizeof(copy));
  copy.header.crc = 0;
  return Crc32c(&copy, sizeof(copy));
}

}  // namespace sef::ftl::internal

#endif  // SEF_FTL_INTERNAL_FORMAT_H_
