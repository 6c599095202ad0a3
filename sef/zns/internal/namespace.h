// The zoned namespace's machinery behind ZonedNamespace (zns.h): the zone table, the
// per-zone command pipeline, and the device operations that follow from it.
//
// One mutex (mu_) guards every zone and counter. It is held only to decide and to record;
// never across a HAL call or a user callback. Work that needs the device is decided under
// the lock and started after it is released (Kick), and callbacks are collected while the
// lock is held (Acks) and run after it is released.
//
// Per zone, commands move through:
//   deferred  commands that arrived while a barrier (a Finish or Reset waiting for the
//             zone's writes to drain, or running on the device) was pending: accepted later,
//             in arrival order;
//   ios       accepted writes and appends in the order their blocks were reserved; the last
//             `unsubmitted` of them wait to be submitted (for the zone's super block to be
//             allocated, or for the thread that is submitting); an entry leaves from the
//             front once it and everything before it completed (so acknowledgements and the
//             write pointer follow the reservation order).
// One thread at a time submits a zone's writes (`draining`), in reservation order, so that
// the device appends them to the super block in that order.
#ifndef SEF_ZNS_INTERNAL_NAMESPACE_H_
#define SEF_ZNS_INTERNAL_NAMESPACE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "sef/base/mutex.h"
#include "sef/hal/hal.h"
#include "sef/zns/internal/zone_state.h"
#include "sef/zns/zns.h"

namespace sef::zns::internal {

// A Zone Management Send, or the part of a "select all" one that concerns one zone: the
// group completes when every zone's part has.
struct OpGroup {
  ZoneAction action;
  bool all = false;
  StatusCallback done;
  // Under Namespace::mu_.
  uint32_t pending = 0;
  absl::Status status;
  bool stopped = false;  // "all": a zone refused; the others are left as they are
};

// One write or append, from acceptance to its callback.
struct WriteIo {
  // Set before acceptance, read-only afterwards.
  uint32_t zone = 0;
  uint64_t lba = 0;  // the LBA asked (appends: the zone's first LBA)
  uint32_t count = 0;
  std::span<const iovec> data;
  bool fua = false, append = false;
  StatusCallback done;     // writes
  Callback<Lba> done_lba;  // appends
  // Under Namespace::mu_.
  uint64_t gen = 0;      // the zone's generation (bumped by Reset) it was accepted in
  uint32_t start = 0;    // the first zone offset reserved for it
  uint64_t sb_base = 0;  // raw flash address of ADU 0 of the super block it goes to
  uint32_t chunks_left = 0;
  bool landed = false;  // some chunk's data reached the device (wherever it went)
  bool finished = false;
  absl::Status status;
  WriteIo* next_free = nullptr;  // in Namespace::free_ios_
};

struct Deferred {
  WriteIo* io = nullptr;  // or:
  OpGroup* op = nullptr;
};

// Where a zone's super block stands on the device.
enum class SbState : uint8_t {
  kNone,        // the zone has no super block
  kAllocating,  // AllocateSuperBlock in flight
  kOpen,        // allocated, open for writes
  kClosing,     // CloseSuperBlock in flight
  kClosed,      // closed (by Finish, by filling, or by the device)
  kReleasing,   // ReleaseSuperBlock in flight
};

enum class Barrier : uint8_t { kNone, kFinish, kReset };

struct Zone {
  // The host's view.
  ZoneState state = ZoneState::kEmpty;
  uint8_t attributes = 0;
  uint32_t wp = 0;   // blocks written and completed: the write pointer, and what reads see
  uint32_t swp = 0;  // blocks reserved by accepted writes: where the next write must start
  uint64_t gen = 0;  // bumped by every Reset
  // A write of this generation failed after later ones were reserved, or landed in the
  // wrong place: nothing from broken_at on is acknowledged, and the zone is finished.
  bool broken = false;
  uint32_t broken_at = 0;

  // The device's view.
  SbState sb_state = SbState::kNone;
  SuperBlockId sb;
  uint64_t sb_base = 0;         // raw flash address of ADU 0
  uint64_t sb_gen = 0;          // the generation the super block belongs to (stale after a Reset)
  bool waiting_budget = false;  // queued for an open super block
  bool release_frees_budget = false;  // the super block being released was open

  std::deque<WriteIo*> ios;
  uint32_t unsubmitted = 0;
  std::deque<Deferred> deferred;

  Barrier barrier = Barrier::kNone;
  bool barrier_started = false;  // its device operation is running
  bool marker_wanted = false;    // Finish of a zone with no data: allocate, write the marker
  absl::Status barrier_status;
  std::vector<OpGroup*> barrier_waiters;  // Finish/Reset commands acknowledged at its end
};

// Callbacks and follow-up work collected under the lock, run after it is released.
struct Acks {
  absl::InlinedVector<WriteIo*, 4> ios;  // finished: their callbacks, then reuse
  absl::InlinedVector<OpGroup*, 2> groups;
  absl::InlinedVector<uint32_t, 2> kick;  // zones to Kick

  bool empty() const { return ios.empty() && groups.empty() && kick.empty(); }
};

// A device operation decided under the lock, started after it (Namespace::Perform).
struct Step {
  enum class Kind : uint8_t { kNone, kSubmit, kAllocate, kClose, kRelease, kMarker };
  Kind kind = Kind::kNone;
  uint32_t zone = 0;
  WriteIo* io = nullptr;  // kSubmit
  SuperBlockId sb;
  uint64_t sb_base = 0;
};

class Namespace {
 public:
  // Hands the domain's notifications to the namespace while it lives.
  struct Router {
    Mutex mu;
    Namespace* target ABSL_GUARDED_BY(mu) = nullptr;
    void Deliver(const hal::Notification& n) {
      MutexLock lock(&mu);
      if (target != nullptr) target->OnNotification(n);
    }
  };

  // A namespace over `domain`, opened with its notifications going to `router`, with every
  // zone Empty (Recover fills the table from the device).
  Namespace(std::unique_ptr<hal::QosDomain> domain, std::shared_ptr<Router> router,
            const Geometry& geometry);
  ~Namespace();

  const Geometry& geometry() const { return geometry_; }
  QosDomainId domain_id() const { return domain_id_; }
  hal::QosDomain& domain() { return *domain_; }

  // Builds the zone table from the device (Mount). Not thread-safe: before any I/O.
  absl::Status Recover();
  absl::Status Unmount();

  void Read(Lba lba, uint32_t blocks, std::span<const iovec> data, StatusCallback done);
  // A write (`append`: a Zone Append, answered through `done_lba`) of `count` blocks at
  // `lba` of `zone`. REQUIRES: the range is in the namespace, `data` holds count blocks.
  void Write(uint32_t zone, uint64_t lba, uint32_t count, std::span<const iovec> data, bool fua,
             bool append, StatusCallback done, Callback<Lba> done_lba);
  void Flush(StatusCallback done);
  void ZoneManagementSend(ZoneAction action, Lba zslba, bool all, StatusCallback done);
  absl::StatusOr<ZoneReport> Report(Lba start, ReportFilter filter, uint32_t max_zones,
                                    bool partial) const;
  void OnNotification(const hal::Notification& n);

  // A refusal with its NVMe status; the message names the command and the values.
  static absl::Status Refusal(NvmeStatus nvme, const std::string& message);

 private:
  uint64_t Zslba(uint32_t zone) const { return uint64_t{zone} << shift_; }
  ZoneResources Resources() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The one state-assignment function: every zone state change goes through it, and it
  // keeps the open and active counts and the order of implicitly open zones.
  void SetZoneState(uint32_t zone, ZoneState to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AutoClose() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Acceptance: validation, state transition, reservation. True when the caller must run
  // NextStep (accepted, and no thread is submitting the zone's writes); false when refused
  // (the refusal is in `acks`), deferred, or queued for the submitting thread.
  bool AcceptWrite(WriteIo* io, bool from_deferred, Acks& acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptOp(uint32_t zone, OpGroup* op, bool from_deferred, Acks& acks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OpDone(OpGroup* op, const absl::Status& s, Acks& acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Refuse(WriteIo* io, absl::Status s, Acks& acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The zone pipeline: decides the next device operation of `zone` (or none), doing every
  // bookkeeping step that needs no device on the way.
  Step NextStep(uint32_t zone, Acks& acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the zone pipeline until it has nothing more to start (Continue: from `step`, which
  // NextStep returned, with the callbacks `acks` collected so far), then returns `tokens`
  // busy tokens (and those of the commands it acknowledged) in its last critical section.
  void Kick(uint32_t zone);
  void Continue(uint32_t zone, Step step, Acks& acks, uint32_t tokens);
  void Perform(const Step& step);

  void PopCompleted(uint32_t zone, Acks& acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteFailed(uint32_t zone, WriteIo* io) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Break(uint32_t zone, uint32_t at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Filled(uint32_t zone, Acks& acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CompleteBarrier(uint32_t zone, Acks& acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeBudget(Acks& acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailUnsubmitted(uint32_t zone, uint64_t gen, const absl::Status& s, Acks& acks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Device completions.
  struct ReadIo;
  void ReadDone(ReadIo* io, size_t part, absl::Status s);
  void SubmitIo(WriteIo* io, SuperBlockId sb);
  void ChunkDone(WriteIo* io, uint32_t offset, absl::StatusOr<hal::WriteResult> r);
  // A device operation of `zone` completed: `record` notes it (under the lock), then the
  // zone's pipeline goes on and the operation's busy token goes back.
  void Completed(uint32_t zone, absl::FunctionRef<void(Zone&, Acks&)> record);
  void AllocateDone(uint32_t zone, absl::StatusOr<hal::SuperBlockAllocation> r);
  void CloseDone(uint32_t zone, absl::Status s);
  void ReleaseDone(uint32_t zone, absl::Status s);
  void MarkerDone(uint32_t zone, SuperBlockId sb, absl::Status s);

  // Runs the callbacks of `acks` and the kicks; returns how many commands it acknowledged
  // (their busy tokens are still taken).
  uint32_t RunCallbacks(Acks& acks);

  // RunCallbacks, then returns their tokens and `tokens` more.
  void Finish(Acks& acks, uint32_t tokens);
  void Take(uint32_t tokens) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { taken_ += tokens; }
  void Release(uint32_t tokens) { released_.fetch_add(tokens, std::memory_order_release); }
  WriteIo* NewWriteIo() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeWriteIo(WriteIo* io);
  // Takes a busy token for an operation about to start; false after Unmount.
  absl::Status Admit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<hal::QosDomain> domain_;  // reset by the destructor, before the rest
  const std::shared_ptr<Router> router_;
  const QosDomainId domain_id_;
  const Geometry geometry_;
  const uint32_t shift_;  // log2(zone size)
  const uint32_t zcap_;   // zone capacity in blocks

  mutable Mutex mu_;
  std::vector<Zone> zones_ ABSL_GUARDED_BY(mu_);
  uint32_t open_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t active_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint32_t> implicitly_open_ ABSL_GUARDED_BY(mu_);  // oldest first
  // Super blocks allocated (or being allocated) and not yet closed or released, at most
  // the domain's max open super blocks; zones wait in budget_waiters_ for one.
  uint32_t open_sbs_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<uint32_t> budget_waiters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint32_t, uint32_t> zone_of_sb_ ABSL_GUARDED_BY(mu_);
  // Busy tokens: one per operation started and not yet finished (a user command until its
  // callback returned, a device operation until its own did, a call until it returns).
  // Taken under the lock, given back without it (the last thing a call or a completion does:
  // released_ is atomic). Unmount waits until everything taken was given back.
  uint64_t taken_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> released_{0};
  // Per zone: kDraining while a thread submits the zone's writes (one at a time, in
  // reservation order), plus a count of what was queued for it meanwhile. The submitting
  // thread lets go with one compare-and-swap when nothing was (Continue).
  static constexpr uint32_t kDraining = 1u << 31;
  std::unique_ptr<std::atomic<uint32_t>[]> drain_;
  // Spent WriteIos for reuse: a stack pushed without the lock (after a callback ran) and
  // popped under it (one popper at a time, so no ABA).
  std::atomic<WriteIo*> free_ios_{nullptr};
  bool unmounted_ ABSL_GUARDED_BY(mu_) = false;
  bool flushed_at_unmount_ ABSL_GUARDED_BY(mu_) = false;
};

// A copy of `s` that shares no representation with it (see zones.cc).
absl::Status Detached(const absl::Status& s);

// Marks the current thread as running a ZNS callback (sync calls refuse to run there).
class CallbackScope {
 public:
  CallbackScope();
  ~CallbackScope();
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
  static bool Inside();
  // OK, or FailedPrecondition naming `method` when called from inside a ZNS callback.
  static absl::Status CheckSynchronous(const char* method);
};

}  // namespace sef::zns::internal

#endif  // SEF_ZNS_INTERNAL_NAMESPACE_H_
