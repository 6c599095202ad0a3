#include "sef/ftl/internal/geometry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace sef::ftl::internal {

uint64_t DefaultCheckpointInterval(const Geometry& g) {
  return std::max<uint64_t>(uint64_t{128} * g.checkpoint_pages(), uint64_t{32} * g.sb_capacity);
}

absl::StatusOr<Geometry> ComputeGeometry(uint64_t quota_adus, uint32_t sb_capacity,
                                         uint32_t max_open, double overprovisioning_percent,
                                         uint64_t checkpoint_interval_adus) {
  if (!(overprovisioning_percent >= 0.5 && overprovisioning_percent <= 400)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "overprovisioning_percent %g is outside 0.5..400", overprovisioning_percent));
  }
  if (sb_capacity < 16) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "super blocks of %u ADUs are too small for the FTL (at least 16)", sb_capacity));
  }
  if (max_open < kMinOpenSbs) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the domain allows %u open super blocks; the FTL needs at least %u",
                        max_open, kMinOpenSbs));
  }
  Geometry g;
  g.sb_capacity = sb_capacity;
  g.max_open = max_open;
  g.quota_sbs = static_cast<uint32_t>(std::min<uint64_t>(quota_adus / sb_capacity, 0x7FFFFFFF));
  g.slot_count = g.quota_sbs + std::max<uint32_t>(8, g.quota_sbs / 8);
  g.op_millipercent = static_cast<uint32_t>(std::lround(overprovisioning_percent * 1000));
  if (uint64_t{g.slot_count} * sb_capacity + 1 >= kMapStale) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a domain of %u super blocks of %u ADUs is too large for 32-bit map entries", g.quota_sbs,
        sb_capacity));
  }
  // The checkpoint's size depends on the block count and the block count on the reserve the
  // checkpoints take: start from the upper bound and shrink until it settles.
  const double factor = 1.0 + g.op_millipercent / 100000.0;
  g.block_count = uint64_t{g.quota_sbs} * sb_capacity;
  for (int round = 0; round < 8; ++round) {
    g.checkpoint_sbs = (g.checkpoint_pages() + sb_capacity - 1) / sb_capacity;
    g.reserved_sbs = 2 * g.checkpoint_sbs + kJournalMaxSbs + kGcReserveSbs;
    if (g.quota_sbs < g.reserved_sbs + kMinSpareSbs + 1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "a domain of %u super blocks is too small: the FTL keeps %u for metadata and needs "
          "%u spare ones",
          g.quota_sbs, g.reserved_sbs, kMinSpareSbs));
    }
    const uint64_t data_adus = uint64_t{g.data_sbs()} * sb_capacity;
    const uint64_t exported = static_cast<uint64_t>(std::floor(data_adus / factor));
    if (exported == g.block_count) break;
    g.block_count = exported;
  }
  const uint64_t used_sbs = (g.block_count + sb_capacity - 1) / sb_capacity;
  if (g.block_count == 0 || g.data_sbs() < used_sbs + kMinSpareSbs) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "overprovisioning %g %% leaves %d spare super blocks in a data area of %u; the FTL "
        "needs at least %u",
        overprovisioning_percent, static_cast<int64_t>(g.data_sbs()) - int64_t(used_sbs),
        g.data_sbs(), kMinSpareSbs));
  }
  if (g.checkpoint_sbs > kMaxCheckpointSbs) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a checkpoint of %u pages would span %u super blocks (at most %u): the domain is too "
        "large for its super-block size",
        g.checkpoint_pages(), g.checkpoint_sbs, kMaxCheckpointSbs));
  }
  g.checkpoint_interval_adus =
      checkpoint_interval_adus != 0 ? checkpoint_interval_adus : DefaultCheckpointInterval(g);
  return g;
}

}  // namespace sef::ftl::internal
