// The FTL's capacity model: from a domain's quota, super-block size and the format options,
// how many blocks it exports and how many super blocks it keeps back for metadata and GC.
// docs/ftl.md ("Capacity") explains the numbers.
//
// Thread-safety: plain data and pure functions.
#ifndef SEF_FTL_INTERNAL_GEOMETRY_H_
#define SEF_FTL_INTERNAL_GEOMETRY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "sef/ftl/internal/format.h"

namespace sef::ftl::internal {

// Journal SBs the FTL may hold at once (the current one, its successor, one being retired).
inline constexpr uint32_t kJournalMaxSbs = 3;
// Free SBs kept for the garbage collector's destinations, outside the data area: a copy may
// span two SBs before its victim is released.
inline constexpr uint32_t kGcReserveSbs = 2;
// Spare SBs the data area needs at least (user stream, GC stream, one to collect into).
inline constexpr uint32_t kMinSpareSbs = 3;
// Open SBs the FTL needs: user stream, GC stream, journal, and one for changing over.
inline constexpr uint32_t kMinOpenSbs = 4;

struct Geometry {
  uint64_t block_count = 0;
  uint32_t sb_capacity = 0;     // ADUs per super block
  uint32_t quota_sbs = 0;       // SBs the domain may hold
  uint32_t slot_count = 0;      // quota_sbs plus slots quarantined during a checkpoint
  uint32_t max_open = 0;        // the domain's max open SBs
  uint32_t checkpoint_sbs = 0;  // SBs one checkpoint needs
  uint32_t reserved_sbs = 0;    // outside the data area: 2 checkpoints, journal, GC reserve
  uint32_t op_millipercent = 0;
  uint64_t checkpoint_interval_adus = 0;

  uint32_t slot_pages() const {
    return (slot_count + kSlotEntriesPerPage - 1) / kSlotEntriesPerPage;
  }
  uint32_t map_pages() const {
    return static_cast<uint32_t>((block_count + kMapEntriesPerPage - 1) / kMapEntriesPerPage);
  }
  uint32_t count_pages() const { return CountPagesFor(slot_count); }
  // Map pages, slot pages, count pages and the header.
  uint32_t checkpoint_pages() const { return slot_pages() + map_pages() + count_pages() + 1; }
  uint32_t data_sbs() const { return quota_sbs - reserved_sbs; }
};

// Errors (InvalidArgument naming the value): overprovisioning outside 0.5..400 %; a super
// block of fewer than 16 ADUs; fewer than kMinOpenSbs open SBs allowed; a domain too small
// for the reserve plus kMinSpareSbs spare SBs, or too large for 32-bit map entries or for
// kMaxCheckpointSbs checkpoint SBs.
absl::StatusOr<Geometry> ComputeGeometry(uint64_t quota_adus, uint32_t sb_capacity,
                                         uint32_t max_open, double overprovisioning_percent,
                                         uint64_t checkpoint_interval_adus);

// The automatic checkpoint interval: 128 checkpoints' worth of pages, at least 32 SBs.
uint64_t DefaultCheckpointInterval(const Geometry& g);

}  // namespace sef::ftl::internal

#endif  // SEF_FTL_INTERNAL_GEOMETRY_H_
