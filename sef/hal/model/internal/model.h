// The device model's implementation class, shared by model.cc (open, recovery, dispatch,
// pairing, time), admin.cc (admin commands), io.cc (I/O commands), events.cc (AENs) and
// power.cc (the write cache's durable pointers, power cuts, power-on).
//
// Locking (outermost first):
//   topology_mu_  exclusive for every admin command, a power cut and PowerOn; shared for I/O,
//                 AERs and Tick (so a cut never falls inside a command);
//   Domain::mu    the domain's open SBs, pending pairs, and the SBs it owns (records + ADUs);
//                 a copy between two domains takes both, in id order;
//   Vd::mu        the VD's free list and allocation counters;
//   events_mu_    the AEN queues and parked AERs.
// Completion callbacks run after every lock is released.
#ifndef SEF_HAL_MODEL_INTERNAL_MODEL_H_
#define SEF_HAL_MODEL_INTERNAL_MODEL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "sef/base/mutex.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model/internal/format.h"
#include "sef/hal/model/internal/media.h"

namespace sef::model::internal {

// An outcome of one command: a status and the 64-bit result.
struct Outcome {
  NvmeStatus status;
  uint64_t result = 0;
  static Outcome Ok(uint64_t result = 0) { return {NvmeStatus::Success(), result}; }
};
// Seconds from `since` to `now`: 0 when `since` is later (a time stored by another boot or a
// damaged record), and never an overflow, whatever a record holds.
int64_t SecondsSince(int64_t now, int64_t since);

Outcome Fail(wire::StatusCodeType sct, uint8_t sc);
Outcome InvalidField();
Outcome SequenceError();
Outcome InvalidNamespace();

// Copies `n` bytes of `src` from `offset` into `buf`, zero-filling the rest of `buf`.
void CopyOut(const cmd::MutableBytes& buf, const void* src, size_t n, uint64_t offset = 0);
template <typename T>
void CopyOut(const cmd::MutableBytes& buf, const T& value) {
  CopyOut(buf, &value, sizeof(value));
}

// Deferred completions, run once locks are released.
using Completions = std::vector<std::pair<CompletionCallback, Completion>>;

struct SuperBlock {
  // The owning domain's id (0 = free). Written under the owner's lock; read by any domain to
  // learn whether an SB is its own before touching the other fields.
  std::atomic<uint16_t> owner{0};
  // Mirror of the persisted record (rec.durable: see Secure). Records are packed (format.h);
  // aligned here so that their fields sit at their natural alignment and may be bound to
  // references (std::max, StrFormat).
  alignas(8) SbRecord rec{};
  uint32_t written = 0;   // write pointer, ADUs
  uint32_t synced = 0;    // ADUs [0, synced) were made durable by a Commit (RAM state)
  uint32_t capacity = 0;  // ADUs, fixed at allocation (pSLC = 1/4)
  bool free() const { return rec.state == static_cast<uint8_t>(SbState::kFree); }
  SbState state() const { return static_cast<SbState>(rec.state); }
};
static_assert(alignof(SuperBlock) >= 8, "SuperBlock::rec must stay aligned");

// The SB state-change event type (log 0xD3 ST) of closing an open SB.
inline uint8_t ClosedTransition(const SuperBlock& sb) {
  if (sb.state() == SbState::kOpenByErase) {
    return (sb.rec.flags & kSbFlagOpenedByCopy) ? wire::kStNlcClosed : wire::kStEraseClosed;
  }
  return wire::kStNlwClosed;
}

struct Vd {
  VirtualDeviceId id;
  std::vector<uint16_t> dies;
  uint16_t dies_per_sb = 1;
  uint32_t pslc_super_blocks = 0;  // how many SBs may be open or closed in pSLC mode
  ReadFifoId default_fifo;
  uint8_t aen_mask = wire::kCritAll;
  uint32_t suspend_min_time = 0;
  AddressFormat format;
  std::vector<SuperBlock> sbs;  // index = SB id; fields guarded by the owner domain's mu

  Mutex mu;
  std::deque<uint32_t> free_list ABSL_GUARDED_BY(mu);
  uint32_t pslc_in_use ABSL_GUARDED_BY(mu) = 0;
  uint32_t erase_serial ABSL_GUARDED_BY(mu) = 0;  // current erase serial number
  uint8_t critical_warning ABSL_GUARDED_BY(mu) = 0;

  uint32_t groups() const { return static_cast<uint32_t>(dies.size() / dies_per_sb); }
};

struct PendingCommand {
  int64_t since_nanos = 0;
  CompletionCallback done;
  cmd::IoRequest request;
};

// Whether `r` is the first half of a pair (FAR, NLC).
inline bool IsFirstOfPair(const cmd::IoRequest& r) {
  return std::holds_alternative<cmd::FlashAddressRequest>(r) ||
         std::holds_alternative<cmd::NamelessCopyRequest>(r);
}

// Aborted pair ids a domain remembers at most (Domain::aborted_writes / _copies); the one
// with the lowest id goes first. A host has at most a few hundred pairs in flight.
inline constexpr size_t kMaxAbortedIds = 4096;

struct Domain {
  QosDomainId id;
  Vd* vd = nullptr;
  alignas(8) DomainRecord rec{};  // packed: aligned as SuperBlock::rec
  cmd::DomainFormat format;

  Mutex mu;
  std::map<std::pair<uint16_t, bool>, uint32_t> open_by_placement ABSL_GUARDED_BY(mu);
  std::set<uint32_t> open_sbs ABSL_GUARDED_BY(mu);  // open by erase or by placement
  uint64_t used_plane_pages ABSL_GUARDED_BY(mu) = 0;
  uint64_t used_pslc_plane_pages ABSL_GUARDED_BY(mu) = 0;
  uint32_t owned ABSL_GUARDED_BY(mu) = 0;
  // The half of a pair that arrived first (FAR or NLW; NLC or GCR), by NLWID / NLCID.
  std::map<uint32_t, PendingCommand> pending_writes ABSL_GUARDED_BY(mu);
  std::map<uint32_t, PendingCommand> pending_copies ABSL_GUARDED_BY(mu);
  // Ids whose waiting half was aborted (unpaired timeout, AbortOutstanding), for one more
  // timeout: its partner, if it still comes, fails at once instead of waiting for a command
  // that has completed.
  struct Aborted {
    int64_t at_nanos = 0;
    bool first = false;  // the aborted half was the FAR / NLC
  };
  std::map<uint32_t, Aborted> aborted_writes ABSL_GUARDED_BY(mu);
  std::map<uint32_t, Aborted> aborted_copies ABSL_GUARDED_BY(mu);
};

// The capacity configurations the host defined with Set Features 0xD2.
using CapacityConfigs = std::map<uint16_t, cmd::CapacityConfig>;

class Model final : public Controller {
 public:
  static absl::StatusOr<std::unique_ptr<Model>> Create(ControllerOptions options);
  ~Model() override;

  void Submit(const Command& cmd, CompletionCallback done) override;
  uint64_t AddEventObserver(EventObserver observer) override;
  void RemoveEventObserver(uint64_t handle) override;
  void Tick() override;
  void AbortOutstanding() override;
  const UnitConfig& config() const override { return options_.config; }

  void PowerCut(uint64_t seed) override;
  absl::Status PowerOn() override;
  void CutPowerAfter(uint64_t commands, uint64_t seed) override;
  bool powered() const override { return powered_.load(std::memory_order_acquire); }

  // Test only (testing/invariants.h; defined in internal/invariants.cc, which only test
  // targets link): OK, or Internal naming the first broken invariant of the unit's state.
  // REQUIRES: no command runs concurrently.
  absl::Status CheckInvariants();

 private:
  explicit Model(ControllerOptions options);

  // ---- power (power.cc) ----
  // Recovers the state from the media (applying the loss rule when the unit lost power) and
  // marks the unit in use. The one path of Open and PowerOn.
  absl::Status PowerUp() ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  // Rebuilds every RAM structure from the records and ADUs on the media. When the unit state
  // says the unit was in use (not closed cleanly) and the cache is volatile, first applies the
  // loss rule with `loss_seed`. Leaves every open SB's durable pointer at its write pointer.
  absl::Status Recover(uint64_t loss_seed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  // Forgets everything Recover rebuilds (a restart's RAM).
  void ForgetState() ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  // Whether a command may run now (the caller holds topology_mu_ shared or exclusive): takes one
  // command of an armed CutPowerAfter trigger.
  enum class Gate { kRun, kOff, kCutFirst };
  Gate Admit();
  // The cut of an armed trigger that reached zero (nothing if another thread cut first).
  void TriggeredCut(Completions& out);
  void Cut(uint64_t seed, Completions& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  // The loss rule for one open SB: keeps [0, durable) and a `rng`-chosen part of the rest;
  // the lost ADUs become unwritten (last first, so a crash meanwhile leaves a prefix).
  void LoseVolatileTail(Vd& vd, uint32_t sb, std::mt19937_64& rng)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  // Completes every parked command (AERs, FAR/NLC waiting for a partner) with `status`.
  void AbortParked(NvmeStatus status, Completions& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  bool volatile_cache() const { return options_.config.write_cache == WriteCache::kVolatile; }

  // ---- geometry ----
  uint32_t SbCapacity(const Vd& vd, bool pslc) const;
  uint64_t PlanePages(uint64_t adus) const { return adus / options_.config.adus_per_plane_page(); }
  uint64_t Slot(const Vd& vd, uint32_t sb) const;  // physical block slot of the SB's record
  uint64_t PhysicalAdu(const Vd& vd, uint32_t sb, uint32_t offset) const;
  // Calls fn(first physical ADU, count) for each physically contiguous run of the SB's ADUs
  // [from, to) (one run per die).
  template <typename Fn>
  void ForEachRun(const Vd& vd, uint32_t sb, uint32_t from, uint32_t to, Fn fn) const;
  // Makes the SB's ADUs [from, to) durable (FUA, flush): each run written back, then one
  // flush (the SB record's msync).
  void SyncAdus(const Vd& vd, uint32_t sb, uint32_t from, uint32_t to);

  // ---- durability of open SBs (power.cc; docs/model.md, "Power loss") ----
  // The durable pointer the page-program rule gives the SB at its write pointer: the end of
  // the last die page followed by pages_to_secure_integrity - 1 further written pages.
  uint32_t ProgrammedDurable(const Vd& vd, uint32_t sb) const;
  // Raises the SB's durable pointer to `to` and stores its record (volatile cache only; with
  // none every written ADU is durable and the pointer is not kept).
  void Secure(Vd& vd, uint32_t sb, uint32_t to);
  // FUA, Super Block Flush, NVM Flush: the SB's ADUs [synced, written) and its durable
  // pointer (= written) reach the media (a backing file: written back, then two flushes,
  // data before pointer); nothing when no ADU was written since the last commit.
  void Commit(Vd& vd, uint32_t sb);

  // ---- admin (admin.cc) ----
  Outcome ExecuteAdmin(const Command& c, Completions& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome Identify(const cmd::AdminRequest& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  // ---- logs (logs.cc) ----
  Outcome GetLog(const cmd::AdminRequest& r, Completions& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome VdInfoLog(const cmd::VdInfoLogRequest& v, Completions& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome QosDomainListLog(const cmd::QosDomainListLogRequest& v)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome SuperBlockListLog(const cmd::SuperBlockListLogRequest& v)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome SuperBlockInfoLog(const cmd::SuperBlockInfoLogRequest& v, Completions& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome UserAddressListLog(const cmd::UserAddressListLogRequest& v)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome SetVdFeature(const cmd::AdminRequest& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome ReadFifoList(VirtualDeviceId vd, const cmd::MutableBytes& buffer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome SetDomainFeature(const cmd::AdminRequest& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome CapacityAdmin(const cmd::AdminRequest& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  Outcome DomainAdmin(const cmd::AdminRequest& r, Completions& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  void PersistUnit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  void PersistDomain(const Domain& d);
  absl::Status BuildVds(const cmd::CapacityConfig& config)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);
  void DeleteDomainState(Domain& d, Completions& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_);

  // ---- I/O (io.cc) ----
  Outcome ExecuteIo(const Command& c, CompletionCallback& done, Completions& out, bool& parked)
      ABSL_SHARED_LOCKS_REQUIRED(topology_mu_);
  Outcome SuperBlockManagement(Domain& d, const cmd::SuperBlockManagementRequest& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  Outcome NvmFlush(Domain& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  Outcome Write(Domain& d, const cmd::FlashAddressRequest& far,
                const cmd::NamelessWriteRequest& nlw, Outcome& far_outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  Outcome Read(Domain& d, const cmd::ReadRequest& r) ABSL_SHARED_LOCKS_REQUIRED(topology_mu_);
  Outcome Copy(Domain& dest, const cmd::NamelessCopyRequest& nlc,
               const cmd::GetCopyResultRequest& gcr, Outcome& nlc_outcome)
      ABSL_SHARED_LOCKS_REQUIRED(topology_mu_) ABSL_EXCLUSIVE_LOCKS_REQUIRED(dest.mu);
  // Copy with every domain it reads locked. REQUIRES: `locks` (dest.mu among them) in domain-id
  // order, none held. The analysis cannot follow a set of locks chosen at run time.
  Outcome CopyLocked(const std::vector<Mutex*>& locks, Domain& dest,
                     const cmd::NamelessCopyRequest& nlc, const cmd::GetCopyResultRequest& gcr,
                     Outcome& nlc_outcome)
      ABSL_SHARED_LOCKS_REQUIRED(topology_mu_) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // Allocates a free SB of d's VD to d. Errors are the NVMe statuses the spec names.
  std::optional<Outcome> Allocate(Domain& d, bool pslc, std::optional<uint32_t> sb, SbState state,
                                  uint16_t placement, uint32_t& out_sb)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  // Stores one ADU's data and record at the SB's write pointer and advances it.
  void AppendAdu(Domain& d, uint32_t sb, uint64_t ua, const uint8_t* data, const uint8_t* meta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  // The record half of AppendAdu: the data at the write pointer is already stored.
  void RecordAdu(Domain& d, uint32_t sb, uint64_t ua, const uint8_t* meta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  void FillSbInfo(const Vd& vd, uint32_t sb, uint8_t transition, wire::SbInfoLog& out) const;

  // ---- the SB state machine: the one place an SB changes state ----
  // Legal: Free -> OpenByErase | OpenByPlacement; Open* -> Closed; any but Free -> Free.
  // Closing raises an SB state-change event; freeing returns the SB to the VD's free list.
  Outcome SetSbState(Domain& d, uint32_t sb, SbState to, uint8_t transition)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);
  void PersistSb(const Vd& vd, uint32_t sb);

  // ---- events (events.cc) ----
  void RaiseSbEvent(const Vd& vd, uint32_t sb, uint8_t transition);
  void UpdateCriticalWarning(Vd& vd);
  void ParkAer(CompletionCallback done, Completions& out);
  void DeliverEvents(Completions& out);
  // A log read with RAE = 0 by id: the log's event is re-armed; the queued event stays (only
  // LSI 0xFFFF consumes it), so a waiting AER reports it again.
  void ReArmEvents(bool sb_log, Completions& out);
  // Log 0xD0 / 0xD3 with LSI 0xFFFF: the pending event's VD / SB, consumed unless `retain`.
  std::optional<VirtualDeviceId> PendingVdEvent(bool retain, Completions& out);
  std::optional<wire::SbInfoLog> PendingSbEvent(bool retain, Completions& out);

  // ---- time ----
  void MaybeTick();
  void ExpireUnpaired(Completions& out) ABSL_SHARED_LOCKS_REQUIRED(topology_mu_);
  // Completes d's waiting FAR/NLC commands that have waited since `since_or_before` (all of
  // them by default) with `status`.
  void AbortPending(Domain& d, NvmeStatus status, Completions& out,
                    int64_t since_or_before = std::numeric_limits<int64_t>::max())
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(d.mu);

  Domain* FindDomain(uint32_t nsid) ABSL_SHARED_LOCKS_REQUIRED(topology_mu_);
  Vd* FindVd(uint16_t vd) ABSL_SHARED_LOCKS_REQUIRED(topology_mu_);

  ControllerOptions options_;
  Clock* clock_;
  std::unique_ptr<Media> media_;
  std::atomic<uint64_t> write_sequence_{0};
  std::atomic<int64_t> next_tick_nanos_{0};
  // Written with topology_mu_ held exclusively; read under it (shared) by every command. On
  // once Open recovered the unit.
  std::atomic<bool> powered_{false};
  // Commands left before an armed CutPowerAfter trigger fires; -1 = none armed. Taken with a
  // compare-and-swap under topology_mu_ (shared): exactly that many commands run.
  std::atomic<int64_t> cut_after_{-1};

  SharedMutex topology_mu_;
  uint16_t selected_config_ ABSL_GUARDED_BY(topology_mu_) = 0;
  CapacityConfigs defined_configs_ ABSL_GUARDED_BY(topology_mu_);
  std::map<uint16_t, std::unique_ptr<Vd>> vds_ ABSL_GUARDED_BY(topology_mu_);
  std::vector<std::unique_ptr<Domain>> domains_ ABSL_GUARDED_BY(topology_mu_);  // [id - 1]
  std::vector<FifoSettings> fifos_ ABSL_GUARDED_BY(topology_mu_);               // [rfid - 1]
  uint64_t cut_seed_ ABSL_GUARDED_BY(topology_mu_) = 0;  // of the armed trigger

  // Innermost: taken while observers run, under any of the locks above.
  Mutex observers_mu_;
  std::map<uint64_t, EventObserver> observers_ ABSL_GUARDED_BY(observers_mu_);
  uint64_t next_observer_ ABSL_GUARDED_BY(observers_mu_) = 1;
  void Notify(const ControllerEvent& e);

  Mutex events_mu_;
  std::deque<CompletionCallback> aers_ ABSL_GUARDED_BY(events_mu_);
  std::deque<wire::SbInfoLog> sb_events_ ABSL_GUARDED_BY(events_mu_);
  std::deque<uint16_t> vd_events_ ABSL_GUARDED_BY(events_mu_);
  bool sb_event_outstanding_ ABSL_GUARDED_BY(events_mu_) = false;
  bool vd_event_outstanding_ ABSL_GUARDED_BY(events_mu_) = false;

  friend class Controller;
};

template <typename Fn>
inline void Model::ForEachRun(const Vd& vd, uint32_t sb, uint32_t from, uint32_t to, Fn fn) const {
  const uint64_t per_block = options_.config.adus_per_block();
  const uint64_t per_die = (vd.sbs[sb].rec.flags & kSbFlagPslc) ? per_block / 4 : per_block;
  for (uint32_t o = from; o < to;) {
    const uint32_t run = static_cast<uint32_t>(std::min<uint64_t>(per_die - o % per_die, to - o));
    fn(PhysicalAdu(vd, sb, o), run);
    o += run;
  }
}

}  // namespace sef::model::internal

#endif  // SEF_HAL_MODEL_INTERNAL_MODEL_H_
