// The block FTL's engine behind sef::ftl::BlockDevice. docs/ftl.md describes the design; the
// comments here say what each piece of state means and which lock guards it.
//
// Files: lifecycle.cc (format, mount, unmount, threads), io.cc (read, write, trim),
// space.cc (slots, allocation, flush rounds, releases), journal.cc, gc.cc (garbage
// collection, notifications), checkpoint.cc, recovery.cc, map_load.cc (the map loaded after
// Mount returned; requests waiting for their map pages).
//
// Locks, outermost first: mu_ (slots, streams, waiters, flush rounds, threads' work), then
// jmu_ (the journal). range_lock_, load_mu_ and pool_mu_ are leaves. No lock is held across
// a HAL call: the model completes inline, so a callback may run inside the call. Map entries,
// valid counts and pins are atomics, read and updated without locks.
//
// Threads: the allocator (erases SBs for the user streams and the journal, or has the device
// open a placement stream's next SB with its opener write), the garbage collector (victims,
// copies, releases), the checkpointer and, after a mount until the map is loaded, the map
// loader (which also starts the requests that waited for map pages). Each
// may make synchronous HAL calls; none waits for a thread that waits for it (docs/ftl.md,
// "Concurrency"). The loader waits for nothing but its pages' reads.
#ifndef SEF_FTL_INTERNAL_FTL_H_
#define SEF_FTL_INTERNAL_FTL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sef/base/mutex.h"
#include "sef/ftl/ftl.h"
#include "sef/ftl/internal/format.h"
#include "sef/ftl/internal/geometry.h"
#include "sef/ftl/internal/range_lock.h"
#include "sef/hal/hal.h"

namespace sef::ftl::internal {

// The state of one slot (a super block the FTL holds, but checkpoint SBs). SetSlotState is
// the only place that assigns it.
//
//   kFree ─alloc─▶ kAllocating ─record appended─▶ kOpen ─all ADUs done─▶ kClosed
//   kClosed ─GC─▶ kVictim ─copied─▶ kPendingRelease ─flush round + release─▶ kFree
//   kClosed ─valid count 0─▶ kPendingRelease            kVictim ─copy failed─▶ kClosed
//   any released slot ─(checkpoint in progress)─▶ kQuarantined ─checkpoint done─▶ kFree
enum class SlotState : uint8_t {
  kFree,
  kAllocating,
  kOpen,
  kClosed,
  kVictim,
  kPendingRelease,
  kQuarantined,
};
const char* SlotStateName(SlotState s);

struct Slot {
  SuperBlockId sb;
  uint32_t serial = 0;
  SlotKind kind = SlotKind::kNone;
  SlotState state = SlotState::kFree;
  // Open SBs: ADUs handed out to writers, written, failed.
  uint32_t reserved = 0, completed = 0, failed = 0;
  // Set at a checkpoint's barrier: where recovery must start reading this SB (0 for SBs
  // allocated after the barrier, kScanNothing for SBs closed at it).
  uint32_t scan_mark = 0;
  uint64_t empty_epoch = 0;   // kPendingRelease: needs a flush round numbered > this
  uint64_t alloc_record = 0;  // journal append count that covers its allocation record
  bool relocate = false;      // patrol found its data at risk: collect it first
  bool closing = false;       // a Close Super Block is in flight: not released before it ends
  uint8_t stream = 0;         // data SBs: temperature stream, 0 hottest
  uint64_t closed_clock = 0;  // host ADUs written when it closed (GC's age)
};

// A write or trim in progress; pooled, so the data path does not allocate per request.
struct UpdateOp {
  struct Chunk {  // one HAL write: `n` blocks from block `first` of the op into `sb`
    uint32_t slot = 0;
    SuperBlockId sb;
    uint32_t first = 0, n = 0;
    uint64_t seq = 0;  // of the piece the chunk belongs to
    // Set when the slot's SB was opened by the device for `placement`: the write goes by
    // placement id (and must land in `sb`), not into `sb` by name.
    std::optional<PlacementId> placement;
  };
  bool trim = false;
  uint64_t lba = 0, count = 0;
  int wait_stream = 0;  // the stream it waits for room in
  std::span<const iovec> data;
  bool fua = false;
  StatusCallback done;
  RangeLock::Entry range;
  uint64_t next_block = 0;  // writes: blocks [0, next_block) have space and a sequence number
  // The submitter's reference plus one per chunk; the op finishes when it drops to zero.
  std::atomic<uint32_t> outstanding{0};
  Mutex status_mu;
  absl::Status status ABSL_GUARDED_BY(status_mu);
  std::vector<AduMeta> meta;  // one per block (writes)
  std::vector<Chunk> chunks;  // reserved for the whole op up front: never reallocated
};

// A read in progress (pooled).
struct ReadOp {
  uint64_t lba = 0;
  uint32_t count = 0;
  std::span<const iovec> data;
  StatusCallback done;
  std::atomic<uint32_t> outstanding{0};
  Mutex status_mu;
  absl::Status status ABSL_GUARDED_BY(status_mu);
};

// Data streams by temperature (gc.cc): streams [0, num_streams_) write into SBs the FTL erased
// (every write without placement ids; GC copies with them), streams [num_streams_,
// num_streams_ + num_placement_streams_) write by placement id (user writes, when format named
// placement ids). At most this many of each.
inline constexpr int kMaxStreams = 6;
inline constexpr int kMaxPlacementStreams = 4;
// How many placement streams a domain with `max_open` open SBs allows (FormatOptions).
inline int MaxPlacementStreams(uint32_t max_open) {
  return std::clamp<int>((static_cast<int>(max_open) - 2) / 2, 1, kMaxPlacementStreams);
}

// Reads ADUs first .. first+count-1 of `sb` (their 4096-byte data into `data`, unless null,
// and their 16-byte metadata into `meta`), in commands of at most 256 ADUs and at most the
// domain's per-command limit. Shared by recovery and `Check`. Errors: the HAL's.
absl::Status ReadAdus(hal::QosDomain& domain, SuperBlockId sb, uint32_t first, uint32_t count,
                      uint8_t* data, uint8_t* meta);

// Counts, per slot, the entries of `entries` (map values, format.h) that name an ADU of a
// slot below `slot_count`, adding to counts[slot]. Shared by the checkpointer (format
// version 2's per-slot counts), recovery of version 1, the test recount and `Check`.
void CountEntriesPerSlot(const uint32_t* entries, uint64_t n, uint32_t sb_capacity,
                         uint32_t slot_count, uint32_t* counts);

// One update recovery found since the checkpoint: a data ADU (count 0, its map value) or a
// trim of `count` blocks from `lba` (value 0).
struct MapEvent {
  uint64_t seq;
  uint64_t lba;
  uint64_t count;
  uint32_t value;
};

// What the map loader (map_load.cc) needs to load the checkpoint's map after Mount returned:
// where the pages are, which table slots stand, and recovery's updates per map page.
struct MapLoadPlan {
  uint32_t version = 0;  // the checkpoint's format version (1: no per-slot counts)
  uint64_t generation = 0;
  uint64_t replay_from = 0;             // R
  std::vector<SuperBlockId> sbs;        // the checkpoint's SBs
  std::vector<bool> kept;               // per table slot: it stands
  std::vector<MapEvent> overlay;        // replay's updates, by map page, then by seq
  std::vector<uint32_t> overlay_start;  // per map page: its first overlay entry (+1 end)
};

// Unmaps the map's anonymous memory (Ftl::MapMemory).
struct MapFree {
  size_t bytes = 0;
  void operator()(std::atomic<uint32_t>* p) const;
};

class Ftl {
 public:
  // lifecycle.cc
  static absl::StatusOr<std::unique_ptr<Ftl>> Format(hal::Unit* unit, QosDomainId domain,
                                                     const FormatOptions& options);
  static absl::StatusOr<std::unique_ptr<Ftl>> Mount(hal::Unit* unit, QosDomainId domain,
                                                    const MountOptions& options);
  static absl::StatusOr<std::unique_ptr<Ftl>> MountOrFormat(hal::Unit* unit, QosDomainId domain,
                                                            const FormatOptions& format_options,
                                                            const MountOptions& mount_options);
  absl::Status Unmount();
  ~Ftl();
  Ftl(const Ftl&) = delete;
  Ftl& operator=(const Ftl&) = delete;

  QosDomainId domain_id() const { return domain_id_; }
  uint64_t block_count() const { return geo_.block_count; }

  // io.cc
  void ReadAsync(Lba lba, uint32_t count, std::span<const iovec> data, StatusCallback done);
  void WriteAsync(Lba lba, uint32_t count, std::span<const iovec> data, bool fua,
                  StatusCallback done);
  void TrimAsync(Lba lba, uint64_t count, StatusCallback done);
  void FlushAsync(StatusCallback done);
  // checkpoint.cc: a checkpoint now, waited for. Not from a callback.
  absl::Status CheckpointNow();
  Stats GetStats() const;
  // map_load.cc: waits until every map page is loaded (or failed to); returns the first
  // failure (DataLoss or the device's status) or OK. Not from a callback.
  absl::Status WaitMapLoaded();
  void ResumeMapLoad();
  // A test hook: waits for the map, then recounts each slot's valid ADUs from it and compares
  // them with the counts the FTL keeps. Internal error naming each slot that differs.
  // REQUIRES: no update in flight.
  absl::Status DebugCheckValidCounts();
  // debug.cc: the engine's state in text (requests waiting, slots, streams, journal, flush
  // rounds), for diagnosing a hang. Takes mu_ and jmu_.
  std::string DebugState() const;

  // OK, or FailedPrecondition naming `method` on a thread inside an FTL callback.
  static absl::Status CheckSynchronousCallAllowed(const char* method);

 private:
  struct JournalPlan {  // a journal write to submit once jmu_ is dropped
    uint32_t pages = 0;
    SuperBlockId sb;
    uint32_t first_page = 0;
  };
  struct CheckpointSpace {  // the checkpoint SBs being written
    std::vector<SuperBlockId> sbs;
    uint32_t room = 0;  // ADUs left in sbs.back()
  };

  Ftl(hal::Unit* unit, QosDomainId id);

  // ---- lifecycle.cc ----
  absl::Status OpenDomain();
  // Sets num_streams_, num_placement_streams_ and the placement streams from geo_.max_open
  // and placement_ids_ (format, and recovery once the header is read).
  void SetUpStreams();
  void AllocateArrays();
  using MapPtr = std::unique_ptr<std::atomic<uint32_t>[], MapFree>;
  static MapPtr MapMemory(uint64_t entries);  // zero-filled, mmap'd
  absl::Status StartJournal();  // a fresh journal SB (format, or a mount that cannot go on)
  void StartThreads();
  void StopThreads();
  bool BeginOp();  // false once unmounting: the caller fails the request
  void EndOp();
  void WaitIdle();
  // HAL operations the FTL starts by itself, that no user request waits for (journal
  // writes, closes, a flush round's Flush Super Block): each is counted from before its
  // ...Async call until its callback has returned (a callback that starts another counts it
  // first). Unmount and the destructor wait for none to be left before they destroy
  // domain_: a callback that ran during ~QosDomain would find domain_ already null.
  void BeginBackgroundIo();
  void EndBackgroundIo();
  void WaitBackgroundIo();
  // The domain's notifications (gc.cc). They run on the HAL's notification thread, which may
  // deliver one while domain_ is being assigned or destroyed (~QosDomain waits for a delivery
  // in progress): OnNotification acts only between OpenNotifications (domain_ set) and
  // CloseNotifications, which waits for a delivery in progress and is called before
  // domain_ is reset, so no notification touches the domain while it is destroyed.
  void OnNotification(const hal::Notification& n) ABSL_LOCKS_EXCLUDED(notify_mu_, mu_);
  void OpenNotifications() ABSL_LOCKS_EXCLUDED(notify_mu_);
  void CloseNotifications() ABSL_LOCKS_EXCLUDED(notify_mu_, mu_);

  // ---- io.cc ----
  absl::Status CheckRequest(const char* what, uint64_t lba, uint64_t count,
                            std::span<const iovec> data, bool check_bytes) const;
  UpdateOp* NewUpdateOp();
  void FreeUpdateOp(UpdateOp* op);
  ReadOp* NewReadOp();
  void FreeReadOp(ReadOp* op);
  // Gives `op` space and sequence numbers for as many pieces as possible; true when it has
  // all it needs. New chunks are [*first_new, *end_new).
  bool TryAdvanceLocked(UpdateOp* op, size_t* first_new, size_t* end_new, bool* trim_now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Advance(UpdateOp* op);  // range lock held: go on, or wait in waiters_
  void ServeWaiters();         // resumes waiters_ in order while they can go on
  void SubmitChunks(UpdateOp* op, size_t first, size_t end);
  void ChunkDone(UpdateOp* op, size_t chunk, absl::StatusOr<hal::WriteResult> r);
  void RunTrim(UpdateOp* op);
  void OpFailed(UpdateOp* op, absl::Status s);
  void Release(UpdateOp* op);  // drops one outstanding reference; finishes at zero
  void Finish(UpdateOp* op);
  void ReadPartDone(ReadOp* op, uint32_t slot, absl::Status s);
  void ReadRelease(ReadOp* op);

  // Map values (format.h).
  uint32_t Encode(uint32_t slot, uint32_t offset) const {
    return slot * geo_.sb_capacity + offset + 1;
  }
  uint32_t SlotOf(uint32_t v) const { return (v - 1) / geo_.sb_capacity; }
  uint32_t OffsetOf(uint32_t v) const { return (v - 1) % geo_.sb_capacity; }
  // Sets map[lba] to `v` (the new slot's count was raised already); the old slot's valid
  // count goes down. Returns the old value.
  uint32_t MapSet(uint64_t lba, uint32_t v);
  // Moves map[lba] from `from` to `to` only if it still holds `from` (GC).
  bool MapMove(uint64_t lba, uint32_t from, uint32_t to);
  void ValidDown(uint32_t slot);

  // ---- space.cc ----
  void SetSlotState(uint32_t slot, SlotState state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t FreeSbsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return held_sbs_ >= geo_.quota_sbs ? 0 : geo_.quota_sbs - held_sbs_;
  }
  // Free SBs an allocation of `kind` must leave for the classes ranked before it.
  uint32_t ReserveFor(SlotKind kind) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `ahead`: a data SB erased before its stream needs it, which must leave more room.
  bool MayAllocateLocked(SlotKind kind, bool ahead = false) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream a user write of `lba` goes to: one hotter than its current version's (with
  // placement ids: among the placement streams; data GC moved counts as new).
  int StreamForWriteLocked(uint64_t lba) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsPlacementStream(int stream) const { return stream >= num_streams_; }
  // A placement stream may open its next SB: no SB of it still takes writes or is being
  // closed, so the device's current SB for the id is full or closed and the next write by
  // the id opens a new one.
  bool PlacementStreamDrainedLocked(int stream) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Has the device open an SB for placement stream `stream` by writing its opener ADU
  // (format.h, OpenerPage) by placement id; returns it as AllocateSuperBlock would. FTL
  // threads only; REQUIRES: the stream is drained and `allocating`.
  absl::StatusOr<hal::SuperBlockAllocation> OpenByPlacement(int stream);
  // ADUs that can be reserved in `stream` now without erasing an SB.
  uint32_t RoomLocked(int stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RoomLocked for a user write: 0 while the stream's open SB came out of the GC class and
  // the user class may not allocate (that room is the collector's reserve).
  uint32_t UserRoomLocked(int stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reserves n <= RoomLocked(stream) ADUs in the stream's open SB.
  void ReserveLocked(int stream, uint32_t n, uint32_t* slot, SuperBlockId* sb)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Erases an SB for `stream` (FTL threads): its current SB, or the next one ahead of need.
  absl::Status AllocateForStream(int stream, SlotKind kind);
  // Erases an SB for `kind` and returns its slot: kOpen with its allocation record appended
  // (data), or kAllocating until the journal changes over to it (journal). For a placement
  // stream the device opens the SB instead (OpenByPlacement); its opener ADU counts as
  // reserved and written. FTL threads only.
  absl::StatusOr<uint32_t> AllocateSlot(SlotKind kind, int stream = 0);
  absl::StatusOr<uint32_t> TakeFreeSlotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SlotCompletedLocked(uint32_t slot, uint32_t ok, uint32_t failed,
                           std::vector<uint32_t>* to_close) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseSlots(const std::vector<uint32_t>& slots);
  void MaybeEmptyLocked(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkPendingLocked(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeSlotLocked(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AllocatorLoop();
  // Fails every waiting update with `s` (the device refuses to give room).
  void FailWaitersLocked(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A device error seen by background work: Unavailable (the unit lost power, or is gone)
  // puts the FTL in the failed state, where updates fail with it (reads go on).
  void DeviceError(const absl::Status& s);
  // Flush rounds: a journal commit, then Flush Super Block of every open data SB. One runs
  // at a time; `done` runs when a round that started after this call has finished.
  void RequestFlushRound(StatusCallback done);
  void StartRound();
  void RoundDone(absl::Status s, uint64_t number);  // round `number` (rounds_started_) ended
  absl::Status FlushRoundAndWait();
  // A pending SB may be released: a flush round that started after it emptied has
  // finished, and no close of it is in flight.
  bool ReleasableLocked(uint32_t slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Releases the pending SBs whose flush round has finished (GC thread). Returns how many.
  int ReleaseEligible();

  // ---- journal.cc ---- (jmu_ is taken inside; callers may hold mu_)
  uint64_t JournalAppend(JournalRecord r);  // seq taken here when 0; returns the new count
  bool JournalTryAppendTrim(uint64_t lba, uint64_t count);  // false: no room, wait
  uint64_t JournalAppended();
  uint64_t JournalDurable();
  void JournalCommitAsync(uint64_t upto, StatusCallback done);  // records [0, upto) durable
  absl::Status JournalCommit(uint64_t upto);
  bool JournalNeedsSuccessor();
  // The journal changes over to a successor as soon as it has one (its SB is close to the
  // open expiration period), however much room it has left. False: it was asked already.
  bool JournalRetire();
  void JournalSetSuccessor(uint32_t slot, SuperBlockId sb, uint32_t serial);
  void JournalPosition(uint32_t* slot, uint32_t* completed_pages, int* successor);
  void JournalReset(uint32_t slot, SuperBlockId sb, uint32_t used);
  // A checkpoint was committed whose barrier came after the first `upto` records: those not
  // written yet are dropped and count as durable.
  void JournalSubsume(uint64_t upto);
  void JournalKick();
  // Moves the waiters whose records are durable now into `ready`.
  void TakeDurableWaitersLocked(std::vector<StatusCallback>* ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(jmu_);
  void JournalStartLocked(JournalPlan* plan) ABSL_EXCLUSIVE_LOCKS_REQUIRED(jmu_);
  void JournalSubmit(const JournalPlan& plan);
  void JournalWriteDone(absl::StatusOr<hal::WriteResult> r);

  // ---- gc.cc ----
  void GcLoop();
  // The greedy victim: a closed data SB with the fewest valid ADUs (patrol first); -1 none.
  int PickVictimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool GcNeededLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Open-SB expiry (docs/ftl.md, "Open-SB expiry"): asks the device how long each open data
  // SB and the journal SB have left, and leaves those close to the unit's open expiration
  // period before the device closes them under the FTL's writes (RetireEarlyLocked, a
  // journal change-over). GC thread, about once a second; nothing when the unit's SBs never
  // expire.
  void RotateAgingSbs() ABSL_LOCKS_EXCLUDED(mu_);
  // An open data SB takes no more writes: it leaves its stream, its unwritten rest counts as
  // failed, and it closes (explicitly) once the writes in flight into it are done.
  void RetireEarlyLocked(uint32_t slot, std::vector<uint32_t>* to_close)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Collect(uint32_t victim);
  // Reserves up to `n` ADUs in `stream` for a copy, erasing an SB when needed; counts the
  // copy as in flight (checkpoint barrier). Returns the ADUs reserved.
  absl::StatusOr<uint32_t> ReserveForCopy(int stream, uint32_t n, uint32_t* slot, SuperBlockId* sb);
  void EndInternalOpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- checkpoint.cc ----
  void CheckpointLoop();
  absl::Status WriteCheckpoint();
  bool CheckpointDueLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status NewCheckpointSb(CheckpointSpace* space);
  // Writes `count` pages (4096 B each), page indexes from `first`, into checkpoint SBs;
  // returns the flash address of the last.
  absl::StatusOr<FlashAddress> WriteCheckpointPages(const uint8_t* pages, uint32_t count,
                                                    uint32_t first, uint64_t generation,
                                                    bool fua_last, CheckpointSpace* space);

  // ---- map_load.cc ----
  // A request that waits for map pages (or for an earlier waiting request it overlaps).
  struct Parked {
    enum Kind : uint8_t { kRead, kWrite, kTrim } kind = kRead;
    uint64_t lba = 0, count = 0;
    std::span<const iovec> data;
    bool fua = false;
    StatusCallback done;
    bool running = false;  // being started by ServeParked (still orders later requests)
  };
  // Sets up the loader's state from `plan` (Recover); every page starts not loaded.
  void PrepareMapLoad(MapLoadPlan plan);
  // Marks the whole map loaded with exact counts (Format: an empty map).
  void MarkMapLoaded();
  // True when `p` was parked (moved from) or failed at once because a page it needs failed
  // to load; the request's BeginOp reference then goes with it. False: start it now (`p`
  // untouched).
  bool Park(Parked& p) ABSL_LOCKS_EXCLUDED(load_mu_);
  // Starts the parked requests that may go now, in the order they were submitted.
  void ServeParked() ABSL_LOCKS_EXCLUDED(load_mu_);
  bool PagesLoadedLocked(uint64_t lba, uint64_t count, absl::Status* failed) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(load_mu_);
  // Marks every page not loaded yet failed with `s`.
  void FailAllPages(const absl::Status& s);
  // Loads the next batch of pages (wanted ones first); false when none is left.
  bool LoadNextBatch() ABSL_LOCKS_EXCLUDED(load_mu_);
  // Reads pages [first, first+n) (one checkpoint SB), verifies them, applies the stale rule
  // and the overlay, adjusts the valid counts, and marks them loaded or failed.
  void LoadPages(uint32_t first, uint32_t n);
  void LoadAll();  // the mount thread: every page now (version 1, or a new journal)
  // The first thing the loader does (before any map page): lists the SBs the domain holds,
  // drops table slots whose SB is no longer held (released behind the FTL's back: their
  // entries become stale), closes data SBs left open, releases what no rule claims, sets
  // held_sbs_ and lets allocations go on. A failure to list fails the map load.
  void SettleHeldSbs();
  void FinishMapLoad() ABSL_LOCKS_EXCLUDED(load_mu_, mu_);
  void LoaderLoop();
  void StartRead(Lba lba, uint32_t count, std::span<const iovec> data, StatusCallback done);
  void StartWrite(Lba lba, uint32_t count, std::span<const iovec> data, bool fua,
                  StatusCallback done);
  void StartTrim(Lba lba, uint64_t count, StatusCallback done);
  // Sets valid_ of every slot from a count over the whole map (version 1 mounts).
  void RecountValid();

  // ---- recovery.cc ----
  absl::Status Recover(FlashAddress header_address, const MountOptions& options);
  absl::Status ReadAdus(SuperBlockId sb, uint32_t first, uint32_t count, uint8_t* data,
                        uint8_t* meta) {
    return internal::ReadAdus(*domain_, sb, first, count, data, meta);
  }

  // ---- state ----
  hal::Unit* const unit_;
  const QosDomainId domain_id_;
  std::unique_ptr<hal::QosDomain> domain_;
  Geometry geo_;
  uint64_t format_interval_ = 0;            // the checkpoint interval recorded at format
  std::vector<PlacementId> placement_ids_;  // recorded at format: user writes go by them
  bool journal_continues_ = false;          // recovery: the journal goes on in its last SB
  // Open SBs this close to the unit's open expiration period (minutes left, as the device
  // reports them) are left (RotateAgingSbs); -1: the unit's SBs never expire.
  int expiry_margin_minutes_ = -1;

  // block_count entries (format.h), in whole map pages, in anonymous memory (MapMemory).
  std::unique_ptr<std::atomic<uint32_t>[], MapFree> map_;
  std::unique_ptr<std::atomic<uint32_t>[]> valid_;    // per slot: >= map entries into it
  std::unique_ptr<std::atomic<uint32_t>[]> pins_;     // per slot: reads in flight
  std::unique_ptr<std::atomic<uint32_t>[]> slot_sb_;  // per slot: its SuperBlockId (reads)
  std::atomic<uint64_t> next_seq_{1};

  // The map loader (map_load.cc). map_ready_: every page loaded and nothing parked, so a
  // request need not look at page states. Page states: kPageNotLoaded, kPageLoaded,
  // kPageFailed (written under load_mu_, read with or without it).
  static constexpr uint8_t kPageNotLoaded = 0, kPageLoaded = 1, kPageFailed = 2;
  std::atomic<bool> map_ready_{false};
  std::unique_ptr<std::atomic<uint8_t>[]> page_state_;
  MapLoadPlan load_plan_;  // set before the loader starts; read by it only
  mutable Mutex load_mu_;  // a leaf: nothing else is taken while it is held
  std::deque<Parked> parked_ ABSL_GUARDED_BY(load_mu_);
  std::deque<uint32_t> wanted_ ABSL_GUARDED_BY(load_mu_);  // pages parked requests need
  uint32_t next_page_ ABSL_GUARDED_BY(load_mu_) = 0;       // the sequential scan's position
  uint32_t pages_left_ ABSL_GUARDED_BY(load_mu_) = 0;      // not loaded and not being loaded
  std::vector<bool> loading_ ABSL_GUARDED_BY(load_mu_);    // per page: a batch reads it
  bool load_done_ ABSL_GUARDED_BY(load_mu_) = true;
  bool load_paused_ ABSL_GUARDED_BY(load_mu_) = false;
  bool load_stop_ ABSL_GUARDED_BY(load_mu_) = false;
  absl::Status load_status_ ABSL_GUARDED_BY(load_mu_);  // the first page that failed
  absl::flat_hash_map<uint32_t, absl::Status> failed_pages_ ABSL_GUARDED_BY(load_mu_);
  CondVar load_cv_;
  std::thread loader_;
  // Counts exact: every page loaded. Until then no slot is found empty (its count may still
  // miss replayed entries of pages not loaded), GC picks no victim and no checkpoint starts.
  bool map_loaded_ ABSL_GUARDED_BY(mu_) = false;
  // After a mount, false until SettleHeldSbs has listed what the domain holds: held_sbs_
  // counts what recovery claims, and no SB is allocated.
  bool sbs_settled_ ABSL_GUARDED_BY(mu_) = true;

  RangeLock range_lock_;
  std::atomic<bool> accepting_{false};
  std::atomic<int64_t> active_ops_{0};
  std::atomic<int64_t> background_io_{0};  // BeginBackgroundIo
  Mutex idle_mu_;
  CondVar idle_cv_;

  Mutex pool_mu_;
  std::vector<std::unique_ptr<UpdateOp>> update_pool_ ABSL_GUARDED_BY(pool_mu_);
  std::vector<std::unique_ptr<ReadOp>> read_pool_ ABSL_GUARDED_BY(pool_mu_);

  // Outermost: held by OnNotification while it acts (it takes mu_ inside).
  Mutex notify_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool notify_open_ ABSL_GUARDED_BY(notify_mu_) = false;

  mutable Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> quarantine_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> pending_ ABSL_GUARDED_BY(mu_);  // kPendingRelease slots
  uint32_t held_sbs_ ABSL_GUARDED_BY(mu_) = 0;          // every SB the domain holds for the FTL
  uint32_t open_sbs_ ABSL_GUARDED_BY(mu_) = 0;          // open slots + checkpoint SB being written
  uint32_t journal_sbs_ ABSL_GUARDED_BY(mu_) = 0;       // journal SBs held
  uint32_t relocations_wanted_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<SuperBlockId> checkpoint_sbs_ ABSL_GUARDED_BY(mu_);  // the committed one's
  uint64_t checkpoint_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Data streams: `cur` takes reservations; `next` is erased ahead of need; `allocating`
  // while a thread erases one for it.
  struct Stream {
    int cur = -1;
    int next = -1;
    bool allocating = false;
    PlacementId placement;  // placement streams only
  };
  // Placement streams also have `placement` (their id); `next` stays -1 (the device opens
  // their SBs on demand).
  Stream streams_[kMaxStreams + kMaxPlacementStreams] ABSL_GUARDED_BY(mu_);
  int num_streams_ = 1;            // streams into SBs the FTL erased
  int num_placement_streams_ = 0;  // then these, by placement id (placement_ids_ given)
  std::deque<UpdateOp*> waiters_ ABSL_GUARDED_BY(mu_);  // FIFO: space, barrier, journal room
  // Checkpoint barrier: no update starts while it is up; `inflight_` counts chunks, trims
  // and GC copies started and not finished.
  bool barrier_ ABSL_GUARDED_BY(mu_) = false;
  bool checkpointing_ ABSL_GUARDED_BY(mu_) = false;  // barrier to commit: slots quarantined
  uint64_t inflight_ ABSL_GUARDED_BY(mu_) = 0;
  CondVar inflight_cv_, barrier_cv_;
  // Flush rounds.
  uint64_t rounds_started_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rounds_done_ ABSL_GUARDED_BY(mu_) = 0;  // the last round that succeeded
  bool round_active_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<StatusCallback> round_waiters_ ABSL_GUARDED_BY(mu_);  // of the running round
  std::vector<StatusCallback> next_round_ ABSL_GUARDED_BY(mu_);     // for the next one
  // Threads' work.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool mounted_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);  // a journal write failed: updates are refused
  uint64_t checkpoint_requests_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t checkpoints_done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_checkpoint_status_ ABSL_GUARDED_BY(mu_);
  uint64_t flash_at_last_checkpoint_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint32_t> retired_journals_ ABSL_GUARDED_BY(mu_);  // released by a checkpoint
  CondVar allocator_cv_, gc_cv_, checkpoint_cv_, checkpoint_done_cv_, round_cv_;
  std::thread allocator_, gc_, checkpointer_;

  // The journal.
  mutable Mutex jmu_;
  std::vector<JournalRecord> jbuf_ ABSL_GUARDED_BY(jmu_);  // appended, not yet written
  uint64_t j_appended_ ABSL_GUARDED_BY(jmu_) = 0;          // records appended
  uint64_t j_written_ ABSL_GUARDED_BY(jmu_) = 0;           // taken into writes
  uint64_t j_durable_ ABSL_GUARDED_BY(jmu_) = 0;           // durable (a prefix)
  absl::Status j_failed_ ABSL_GUARDED_BY(jmu_);
  bool j_writing_ ABSL_GUARDED_BY(jmu_) = false;
  std::vector<std::pair<uint64_t, StatusCallback>> j_waiters_ ABSL_GUARDED_BY(jmu_);
  uint32_t j_slot_ ABSL_GUARDED_BY(jmu_) = 0;
  SuperBlockId j_sb_ ABSL_GUARDED_BY(jmu_);
  uint32_t j_used_ ABSL_GUARDED_BY(jmu_) = 0;             // pages written or being written
  uint32_t j_completed_pages_ ABSL_GUARDED_BY(jmu_) = 0;  // pages written
  int j_next_slot_ ABSL_GUARDED_BY(jmu_) = -1;            // the successor
  SuperBlockId j_next_sb_ ABSL_GUARDED_BY(jmu_);
  JournalRecord j_chain_ ABSL_GUARDED_BY(jmu_){};  // the successor's allocation record
  bool j_chain_pending_ ABSL_GUARDED_BY(jmu_) = false;
  bool j_retire_ ABSL_GUARDED_BY(jmu_) = false;  // JournalRetire: change over now
  bool j_chain_written_ ABSL_GUARDED_BY(jmu_) = false;
  bool j_write_has_chain_ ABSL_GUARDED_BY(jmu_) = false;
  uint64_t j_write_records_ ABSL_GUARDED_BY(jmu_) = 0;
  // The write in flight (one at a time).
  std::vector<JournalPage> j_pages_;
  std::vector<AduMeta> j_meta_;
  iovec j_iov_{};

  // Counters (Stats).
  struct Counters {
    std::atomic<uint64_t> reads{0}, writes{0}, trims{0}, flushes{0};
    std::atomic<uint64_t> host_adus_read{0}, host_adus_written{0}, trimmed_blocks{0};
    std::atomic<uint64_t> flash_adus_written{0}, gc_copied_adus{0}, metadata_adus_written{0};
    std::atomic<uint64_t> checkpoints{0}, gc_victims{0}, gc_relocations{0};
    std::atomic<uint64_t> internal_flushes{0}, write_waits{0}, placement_sbs_opened{0};
    std::atomic<uint64_t> sbs_retired_early{0};
    std::atomic<uint64_t> capacity_warnings{0}, patrols{0}, address_updates{0};
    std::atomic<uint64_t> recovered_adus{0}, recovered_trims{0};
    std::atomic<uint64_t> map_pages_loaded{0}, map_pages_failed{0};
  };
  Counters counters_;
};

}  // namespace sef::ftl::internal

#endif  // SEF_FTL_INTERNAL_FTL_H_
