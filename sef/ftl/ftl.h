// The block FTL: a durable block device over one SEF QoS domain, written with nameless
// writes, garbage-collected with Nameless Copy, crash-consistent on the domain's own flash.
//
//   SEF_ASSIGN_OR_RETURN(std::unique_ptr<ftl::BlockDevice> disk,
//                        ftl::BlockDevice::MountOrFormat(unit.get(), QosDomainId(1)));
//   disk->WriteAsync(Lba(7), 1, {&iov, 1}, /*fua=*/false, [](absl::Status s) { ... });
//   SEF_RETURN_IF_ERROR(disk->Flush());
//   SEF_RETURN_IF_ERROR(disk->Unmount());
//
// THE CONTRACT (docs/ftl.md says the same at length)
//
// Blocks. A logical block is 4096 bytes (one ADU); blocks are numbered 0 .. block_count()-1.
// A request names `count` >= 1 blocks starting at `lba` and an iovec array whose lengths add
// up to exactly count * 4096 bytes (any split, any alignment).
//
// Semantics.
//  - Read-after-write: a read submitted after a write or trim completed sees it. A block
//    never written, or trimmed, reads zeros.
//  - Overlapping writes and trims run in submission order: one that overlaps a write or trim
//    still in flight waits for it (per-range FIFO), so the last one submitted (and completed)
//    wins. Reads are not ordered against writes in flight (they see the old or the new data).
//  - A completed Flush makes every write and trim that completed before it was submitted
//    durable. A write with `fua` is durable when it completes.
//  - After a power cut, each block reads its last durable content or the content of a later
//    write or trim of it that completed; never older data, never another block's data.
//
// Completions. Every operation has an ...Async form whose callback runs exactly once, on any
// thread: on the submitting thread before the call returns, or on a HAL completion thread,
// or on one of the FTL's own threads. Callbacks run with no FTL lock held, may submit more
// ...Async operations, must not block for long, and must not call a synchronous method (it
// fails at once with FailedPrecondition naming the method, as the HAL's do). The iovec
// array and the memory it points to must stay valid until the callback runs.
//
// Errors. InvalidArgument for a request out of range, with count 0, or whose iovecs do not
// add up to count * 4096 (the message names the value); FailedPrecondition after Unmount.
// A device error keeps the HAL's status (its code and message, and the NVMe status that
// sef::NvmeStatusOf reads). ResourceExhausted only if the FTL cannot find space although
// the live data fits the exported capacity, which garbage collection prevents: writes wait
// for space instead ("back-pressure"), they do not fail.
//
// Lifetime and thread-safety. BlockDevice is thread-safe. It keeps a pointer to the Unit,
// which must outlive it, and opens its own QosDomain handle (the domain's notifications go to
// the FTL). Destroying a BlockDevice that was not unmounted waits for its operations in
// flight and stops without a final checkpoint (the next Mount replays what was written since
// the last one). REQUIRES: not destroyed from one of its own callbacks.
#ifndef SEF_FTL_FTL_H_
#define SEF_FTL_FTL_H_

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/hal.h"

namespace sef::ftl {

namespace internal {
class Ftl;
}  // namespace internal

inline constexpr uint32_t kBlockSize = 4096;

struct FormatOptions {
  // Spare flash as a percentage of the exported capacity (OP = spare / exported), counted
  // over the data area; the FTL's metadata reserve (checkpoints, journal) comes on top.
  double overprovisioning_percent = 7.0;
  // ADUs written (host, GC and metadata) between two checkpoints; bounds the work a recovery
  // replays. 0: automatic (docs/ftl.md). Recorded at format, overridable at mount.
  uint64_t checkpoint_interval_adus = 0;
  // The placement ids user writes go by, hottest first, each below the domain's
  // QosDomain::placement_ids(), no id twice, at most 4 and at most (the domain's max open
  // super blocks - 2) / 2 (InvalidArgument naming the bad id or the count otherwise).
  // Empty (the default): the FTL erases every super block it writes itself. Given: user
  // writes go by placement id (the device opens and chains the SBs; new data by the last id,
  // rewritten data one id hotter than its current SB's), and garbage-collection copies go
  // into SBs the FTL erased, so user and GC data never share an SB (docs/ftl.md, "Writes by
  // placement id"). Recorded in the checkpoint (CheckReport::placement_ids) and kept by
  // every mount.
  std::vector<PlacementId> placement_ids;
};

struct MountOptions {
  // 0: the value recorded at format.
  uint64_t checkpoint_interval_adus = 0;
  // Tests and tools: the background load of the map (docs/ftl.md, "The map loader") does not
  // start before BlockDevice::ResumeMapLoad(), so requests of blocks whose map page is not
  // loaded wait. Unmount and the destructor resume it.
  bool map_load_paused = false;
};

// A snapshot of the FTL's counters. Counters marked (persisted) survive a remount.
struct Stats {
  uint64_t block_count = 0;
  // Host requests.
  uint64_t reads = 0, writes = 0, trims = 0, flushes = 0;
  uint64_t host_adus_read = 0;
  uint64_t host_adus_written = 0;  // (persisted)
  uint64_t trimmed_blocks = 0;
  // Flash: every ADU the FTL wrote: host data, GC copies, journal and checkpoint pages.
  uint64_t flash_adus_written = 0;  // (persisted)
  uint64_t gc_copied_adus = 0;      // (persisted)
  uint64_t metadata_adus_written = 0;
  double write_amplification = 0;  // flash / host ADUs written; 0 before any host write
  // Super blocks of the domain (quota = total), as the FTL accounts for them.
  uint32_t total_sbs = 0, held_sbs = 0, free_sbs = 0;
  uint32_t data_sbs = 0, open_sbs = 0, journal_sbs = 0, checkpoint_sbs = 0;
  uint32_t pending_release_sbs = 0;
  // Background work and events.
  uint64_t checkpoints = 0;  // (persisted)
  uint64_t gc_victims = 0, gc_relocations = 0, internal_flushes = 0;
  uint64_t write_waits = 0;  // writes that waited for free space (back-pressure)
  // Super blocks the device opened for user writes by placement id (FormatOptions), this
  // mount: each cost one opener ADU (counted in metadata_adus_written).
  uint64_t placement_sbs_opened = 0;
  // Open super blocks left before the unit's open expiration period closed them (data SBs
  // closed early, journal change-overs; docs/ftl.md, "Open-SB expiry"), this mount.
  uint64_t sbs_retired_early = 0;
  uint64_t capacity_warnings = 0, patrols = 0, address_updates = 0;
  uint64_t recovered_adus = 0, recovered_trims = 0;  // replayed by the last Mount
  // The map (4 bytes per block, in pages of 1024 entries) is loaded after Mount returns:
  // pages in all, loaded, and failed to load (read error or bad CRC: the requests that need
  // such a page fail with the cause, and the FTL takes no more updates).
  uint32_t map_pages = 0, map_pages_loaded = 0, map_pages_failed = 0;
};

using StatusCallback = absl::AnyInvocable<void(absl::Status) &&>;

class BlockDevice {
 public:
  // Formats QoS domain `domain` of `unit` as a block FTL and mounts it. The domain must be
  // unconfigured (root pointer 1 = 0, no super blocks, no root pointers but the label pair
  // 6/7) or hold a block FTL domain (reformatted: its data is discarded). Errors:
  // FailedPrecondition when it holds something else (a zoned domain, an unknown kind, or
  // data with no kind; the message names the domain and what it holds); InvalidArgument for
  // options out of range or a domain too small or too large for them; the HAL's errors.
  static absl::StatusOr<std::unique_ptr<BlockDevice>> Format(hal::Unit* unit, QosDomainId domain,
                                                             const FormatOptions& options = {});
  // Mounts a formatted domain, recovering after a crash or power cut. It returns before the
  // checkpoint's map is loaded (docs/ftl.md, "The map loader"): requests of blocks whose map
  // page is not loaded yet wait for it; WaitUntilMapLoaded waits for the whole map. Errors:
  // FailedPrecondition when the domain is not a block FTL domain (as Format), its format
  // never finished or its checkpoint has a format version other than 1 or 2 (named);
  // DataLoss when its checkpoint header, slot table or counts are corrupt; the HAL's
  // errors. A map page that fails to load after Mount returned fails the requests that need
  // it (DataLoss, or the device's status), and the device then takes no more updates.
  static absl::StatusOr<std::unique_ptr<BlockDevice>> Mount(hal::Unit* unit, QosDomainId domain,
                                                            const MountOptions& options = {});
  // Mounts the domain, or formats it first when it is unconfigured or its format never
  // finished. A domain holding anything else is refused as by Format.
  static absl::StatusOr<std::unique_ptr<BlockDevice>> MountOrFormat(
      hal::Unit* unit, QosDomainId domain, const FormatOptions& format_options = {},
      const MountOptions& mount_options = {});

  ~BlockDevice();
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;

  // Waits for operations in flight, writes a final checkpoint and stops. Afterwards every
  // operation fails with FailedPrecondition. Errors: the HAL's (the domain then needs a
  // recovery at its next mount, as after a crash).
  absl::Status Unmount();

  QosDomainId domain() const;
  uint64_t block_count() const;

  void ReadAsync(Lba lba, uint32_t count, std::span<const iovec> data, StatusCallback done);
  void WriteAsync(Lba lba, uint32_t count, std::span<const iovec> data, bool fua,
                  StatusCallback done);
  // Deallocates: the blocks read zeros afterwards; durable at the next Flush.
  void TrimAsync(Lba lba, uint64_t count, StatusCallback done);
  void FlushAsync(StatusCallback done);

  absl::Status Read(Lba lba, uint32_t count, std::span<const iovec> data);
  absl::Status Write(Lba lba, uint32_t count, std::span<const iovec> data, bool fua = false);
  absl::Status Trim(Lba lba, uint64_t count);
  absl::Status Flush();
  // Flushes and writes a checkpoint now (tools, tests and benchmarks; the FTL checkpoints by
  // itself after checkpoint_interval_adus).
  absl::Status Checkpoint();

  Stats GetStats() const;
  // Waits until the map is loaded (Mount returns before; requests of blocks whose map page
  // is not loaded yet wait for it). Returns the first page's failure (DataLoss for a bad
  // page, the device's status for a read error) or OK. Not from an FTL callback.
  absl::Status WaitUntilMapLoaded();
  // Starts the map load of a device mounted with MountOptions::map_load_paused.
  void ResumeMapLoad();
  // A test hook: waits for the map, then recounts every slot's valid ADUs from the map and
  // compares them with the counts the FTL keeps (and GC chooses victims by). Internal error
  // naming each slot that differs. REQUIRES: no write, trim or GC copy in flight.
  absl::Status DebugCheckValidCounts();
  // Diagnostics: the FTL's internal state as text (requests waiting for space or for their
  // block range, super blocks, streams, journal, flush rounds). For tests and tools that
  // look into a request that never completes; the format is not an interface.
  std::string DebugState() const;

 private:
  explicit BlockDevice(std::unique_ptr<internal::Ftl> ftl);
  static absl::StatusOr<std::unique_ptr<BlockDevice>> Wrap(
      absl::StatusOr<std::unique_ptr<internal::Ftl>> ftl);
  std::unique_ptr<internal::Ftl> ftl_;
};

// ---- Check: a consistency check of a block FTL domain, for tools (check.cc) ----------------
//
// Without `repair`, Check writes nothing. It reads the committed checkpoint (root pointer 0)
// and what the domain holds, and verifies:
//  - the checkpoint: the header's magic, version (1 or 2), CRC and geometry against the
//    domain; every map, slot-table and (version 2) count page's generation, page index and
//    CRC; the per-slot counts of version 2 against the entries of the map pages;
//  - super-block accounting: the checkpoint's SBs and the journal SB it names are held; no SB
//    is named twice (two slots, or a slot and the checkpoint); slot kinds are known; the
//    domain holds no more SBs than its quota;
//  - the map: every mapped block names an ADU inside a data SB of the slot table, and when
//    that SB still stands (held, the erase serial the table recorded, not pending release)
//    the ADU's user address names the block and its metadata is data metadata (magic, CRC).
// What was written since the checkpoint began (journal pages, data past a slot's scan mark,
// SBs the checkpoint does not name) is not replayed: the report says a recovery is due
// (`needs_recovery`) and counts map entries into SBs released or erased since as `stale`
// (recovery drops or replaces them). A stale entry is a problem only when nothing was written
// since the checkpoint, so that no journal record can account for it.
//
// With `repair`: (1) the check above, kept as `problems_before_repair`; (2) Mount (recovery:
// replay since the checkpoint, release of the SBs no rule claims, close of SBs left open) and
// Unmount (a final checkpoint of what recovery rebuilt); (3) the check again; if it finds
// blocks whose ADU does not name them or cannot be read, Mount, Trim of exactly those blocks
// (they read zeros instead of another block's data; `trimmed_blocks`), Unmount, and the check
// once more. The last check is the report. A checkpoint that fails its CRC is not repaired:
// Mount's DataLoss is returned.
//
// Errors: NotFound (no such domain); FailedPrecondition naming what the domain holds when it
// is not a block FTL domain (as Mount); the HAL's errors; with repair, Mount's, Trim's and
// Unmount's. Problems found are not errors: they are in the report (none = consistent).
// REQUIRES: no BlockDevice has the domain mounted (in any process).
struct CheckOptions {
  bool repair = false;
  // false: the mapped blocks' user addresses and metadata are not read (the header, the
  // pages and the accounting only: a quick look at the format parameters, as `ftl info`).
  bool verify_blocks = true;
};

struct CheckReport {
  // From the checkpoint header that was checked.
  uint64_t checkpoint_generation = 0;
  uint32_t checkpoint_version = 0;         // 2 (per-slot counts, checked against the map) or 1
  std::vector<PlacementId> placement_ids;  // chosen at format (version 2): user writes' ids
  uint64_t block_count = 0;
  double overprovisioning_percent = 0;
  uint64_t checkpoint_interval_adus = 0;
  uint32_t checkpoint_pages = 0;  // pages verified, the header included
  // The map.
  uint64_t mapped_blocks = 0;    // entries that name an ADU
  uint64_t verified_blocks = 0;  // of those, user address and metadata read and right
  uint64_t stale_blocks = 0;     // into SBs released or erased since the checkpoint
  // Super blocks.
  uint32_t quota_sbs = 0, held_sbs = 0, checkpoint_sbs = 0, journal_sbs = 0, data_sbs = 0;
  uint32_t pending_release_sbs = 0;  // in the slot table, flagged empty and to release
  uint32_t unclaimed_sbs = 0;        // held, named by neither the slot table nor the header
  // Standing data SBs the device opened for writes by placement id (each checked: an id the
  // format chose, and the FTL's opener ADU first).
  uint32_t placement_sbs = 0;
  bool needs_recovery = false;       // something was written since the checkpoint began
  // Repair.
  bool repaired = false;
  uint64_t recovered_adus = 0, recovered_trims = 0;  // replayed by the repair's mount
  uint64_t trimmed_blocks = 0;
  // One line each, naming where and what; at most 100 (the last says how many more).
  std::vector<std::string> problems;
  std::vector<std::string> problems_before_repair;
};

absl::StatusOr<CheckReport> Check(hal::Unit* unit, QosDomainId domain,
                                  const CheckOptions& options = {});

}  // namespace sef::ftl

#endif  // SEF_FTL_FTL_H_
