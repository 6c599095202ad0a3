// Super blocks: the slot state machine, allocation (the allocator thread), flush rounds and
// releases.
//
// Space classes. The domain may hold quota_sbs SBs. Allocations are ranked: checkpoint,
// journal, GC, user. Each class may allocate only while the free SBs exceed what the classes
// before it may still need (ReserveFor), so the checkpointer can always write the next
// checkpoint, the journal can always continue, and the garbage collector can always move
// data even when user writes have taken every other SB. User writes then wait ("back-
// pressure") until GC has released SBs; they never fail for space.
//
// Releases (docs/ftl.md, HAZARDS 1 to 3). An SB whose valid count reached zero is not
// released at once: the writes and trims that emptied it, and the GC copies that moved its
// data, may not be durable yet, and after a power cut the old data would be needed again. It
// waits (kPendingRelease) for a flush round that *started* after it emptied: the round
// commits the journal (trims, allocation records) and flushes every open data SB. Then its
// release record is made durable, and only then is it released: after a power cut recovery
// knows its checkpointed contents are gone even if the device erased its id again.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "sef/base/await.h"
#include "sef/ftl/internal/callbacks.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/ftl/internal/trace.h"

namespace sef::ftl::internal {

const char* SlotStateName(SlotState s) {
  switch (s) {
    case SlotState::kFree:
      return "free";
    case SlotState::kAllocating:
      return "allocating";
    case SlotState::kOpen:
      return "open";
    case SlotState::kClosed:
      return "closed";
    case SlotState::kVictim:
      return "victim";
    case SlotState::kPendingRelease:
      return "pending release";
    case SlotState::kQuarantined:
      return "quarantined";
  }
  return "?";
}

namespace {
bool IsOpen(SlotState s) { return s == SlotState::kAllocating || s == SlotState::kOpen; }
bool IsData(SlotKind k) { return k == SlotKind::kUser || k == SlotKind::kGc; }
}  // namespace

void Ftl::SetSlotState(uint32_t slot, SlotState state) {
  Slot& s = slots_[slot];
  const bool was_open = IsOpen(s.state);
  s.state = state;
  const bool now_open = IsOpen(state);
  if (state == SlotState::kClosed) {
    s.closed_clock = counters_.host_adus_written.load(std::memory_order_relaxed);
  }
  if (was_open && !now_open) {
    --open_sbs_;
    checkpoint_cv_.SignalAll();  // a checkpoint may wait for an open-SB budget
    allocator_cv_.Signal();
  } else if (!was_open && now_open) {
    ++open_sbs_;
  }
}

uint32_t Ftl::ReserveFor(SlotKind kind) const {
  // The next checkpoint, written while the current one is still held.
  uint32_t r = geo_.checkpoint_sbs;
  if (kind == SlotKind::kJournal) return r;
  // The journal's successor, unless it holds all it may.
  if (journal_sbs_ < kJournalMaxSbs) r += 1;
  if (kind == SlotKind::kGc) return r;
  // Room for the collector to copy a victim out before it gets an SB back.
  return r + kGcReserveSbs;
}

bool Ftl::MayAllocateLocked(SlotKind kind, bool ahead) const {
  // After a mount, not before the list of what the domain holds has been taken (map_load.cc,
  // SettleHeldSbs): an SB erased meanwhile could be taken for an unclaimed one and released.
  if (free_slots_.empty() || !sbs_settled_) return false;
  if (kind == SlotKind::kJournal && journal_sbs_ >= kJournalMaxSbs) return false;
  if (FreeSbsLocked() <= ReserveFor(kind)) return false;
  // Open SBs: the journal may take the last one; data streams leave one for a checkpoint,
  // and an SB erased ahead of need leaves one more.
  uint32_t leave = 0;
  if (kind != SlotKind::kJournal) leave = ahead ? 2 : 1;
  return open_sbs_ + leave < geo_.max_open;
}

int Ftl::StreamForWriteLocked(uint64_t lba) const {
  const uint32_t v = map_[lba].load(std::memory_order_acquire);
  if (num_placement_streams_ > 0) {
    // User writes go by placement id only. New data, and data GC moved, start in the
    // coldest placement stream; rewritten data goes one hotter.
    const int coldest = num_streams_ + num_placement_streams_ - 1;
    if (v == kMapUnmapped) return coldest;
    const int s = slots_[SlotOf(v)].stream;
    if (!IsPlacementStream(s)) return coldest;
    return std::max(num_streams_, std::min(s, coldest) - 1);
  }
  if (v == kMapUnmapped) return num_streams_ - 1;  // new data starts cold
  const int s = std::min(static_cast<int>(slots_[SlotOf(v)].stream), num_streams_ - 1);
  return s > 0 ? s - 1 : 0;
}

bool Ftl::PlacementStreamDrainedLocked(int stream) const {
  for (const Slot& s : slots_) {
    if (s.stream == stream && s.kind == SlotKind::kUser &&
        (s.state == SlotState::kOpen || s.closing)) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<hal::SuperBlockAllocation> Ftl::OpenByPlacement(int stream) {
  PlacementId placement;
  {
    MutexLock lock(&mu_);
    placement = streams_[stream].placement;
  }
  const uint64_t seq = next_seq_.fetch_add(1, std::memory_order_acq_rel);
  std::vector<uint8_t> page(kAduBytes, 0);
  const OpenerPage opener =
      MakeOpenerPage(placement.value(), static_cast<uint8_t>(stream), seq);
  std::memcpy(page.data(), &opener, sizeof(opener));
  const AduMeta meta = MakeAduMeta(seq, kOpenerMetaMagic);
  iovec iov{page.data(), page.size()};
  hal::WriteOp w;
  w.target = hal::ByPlacement{placement};
  w.start = UserAddress::FromRaw((uint64_t{kOpenerTag} << UserAddress::kLbaBits) |
                                 static_cast<uint64_t>(stream));
  w.data = {&iov, 1};
  w.metadata = {reinterpret_cast<const uint8_t*>(&meta), kMetaBytes};
  absl::StatusOr<hal::WriteResult> r = domain_->Write(w);
  if (!r.ok()) return r.status();
  if (r->addresses.size() != 1) {
    return absl::InternalError(absl::StrFormat(
        "opening a super block by placement id %u: the device returned %u addresses for one ADU",
        placement.value(), r->addresses.size()));
  }
  counters_.metadata_adus_written.fetch_add(1, std::memory_order_relaxed);
  counters_.flash_adus_written.fetch_add(1, std::memory_order_relaxed);
  counters_.placement_sbs_opened.fetch_add(1, std::memory_order_relaxed);
  const FlashAddress a = r->addresses[0];
  hal::SuperBlockAllocation out;
  out.id = domain_->SuperBlockOf(a);
  if (domain_->OffsetOf(a).value() != 0) {
    // The device's SB for this id was not full or closed: it is one the FTL holds (or one it
    // lost track of). Never released here: it may hold data.
    return absl::InternalError(absl::StrFormat(
        "opening a super block by placement id %u: the opener landed at ADU %u of super block "
        "%u, not at the start of a new one",
        placement.value(), domain_->OffsetOf(a).value(), out.id.value()));
  }
  out.address = a;
  out.capacity_adus = geo_.sb_capacity;  // checked against the SB's information by the caller
  Trace("opened sb %u by placement id %u for stream %d", out.id.value(), placement.value(),
        stream);
  return out;
}

uint32_t Ftl::RoomLocked(int stream) {
  Stream& st = streams_[stream];
  if ((st.cur < 0 || slots_[st.cur].reserved == geo_.sb_capacity) && st.next >= 0) {
    st.cur = st.next;
    st.next = -1;
    allocator_cv_.Signal();
  }
  if (st.cur < 0) return 0;
  return geo_.sb_capacity - slots_[st.cur].reserved;
}

uint32_t Ftl::UserRoomLocked(int stream) {
  const uint32_t room = RoomLocked(stream);
  // Streams are shared by user writes (new data starts in the coldest stream) and GC copies
  // (which go colder). An SB the collector erased out of its reserve must stay the
  // collector's while space is short: if user writes filled it, the collector could be left
  // with a victim half copied, no room and no SB it may erase, and nothing would ever be
  // released again (FtlPowerLossTest hung so under TSAN).
  if (room > 0 && slots_[streams_[stream].cur].kind == SlotKind::kGc &&
      FreeSbsLocked() <= ReserveFor(SlotKind::kUser)) {
    return 0;
  }
  return room;
}

void Ftl::ReserveLocked(int stream, uint32_t n, uint32_t* slot, SuperBlockId* sb) {
  Stream& st = streams_[stream];
  Slot& s = slots_[st.cur];
  *slot = static_cast<uint32_t>(st.cur);
  *sb = s.sb;
  s.reserved += n;
  if (s.reserved == geo_.sb_capacity) {
    // Full: it closes once its writes are done.
    st.cur = st.next;
    st.next = -1;
    allocator_cv_.Signal();
  } else if (st.next < 0 && s.reserved >= geo_.sb_capacity - geo_.sb_capacity / 8) {
    allocator_cv_.Signal();  // time to erase its successor
  }
}

absl::Status Ftl::AllocateForStream(int stream, SlotKind kind) {
  {
    MutexLock lock(&mu_);
    Stream& st = streams_[stream];
    if (st.allocating || st.next >= 0) return absl::ResourceExhaustedError("not now");
    if (IsPlacementStream(stream)) {
      // Never ahead of need: the device opens the next SB only once the current one is full.
      if ((st.cur >= 0 && slots_[st.cur].reserved < geo_.sb_capacity) ||
          !PlacementStreamDrainedLocked(stream) || !MayAllocateLocked(kind, false)) {
        return absl::ResourceExhaustedError("not now");
      }
    } else if (!MayAllocateLocked(kind, st.cur >= 0)) {
      return absl::ResourceExhaustedError("not now");
    }
    st.allocating = true;
  }
  absl::StatusOr<uint32_t> slot = AllocateSlot(kind, stream);
  MutexLock lock(&mu_);
  Stream& st = streams_[stream];
  st.allocating = false;
  if (!slot.ok()) return slot.status();
  if (st.cur < 0 || slots_[st.cur].reserved == geo_.sb_capacity) {
    st.cur = static_cast<int>(*slot);
  } else {
    st.next = static_cast<int>(*slot);
  }
  gc_cv_.SignalAll();
  mu_.Unlock();
  ServeWaiters();  // writers may wait for this stream, whoever erased the SB
  mu_.Lock();
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> Ftl::TakeFreeSlotLocked() {
  if (free_slots_.empty()) {
    return absl::ResourceExhaustedError("no free slot (checkpoint in progress)");
  }
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void Ftl::FreeSlotLocked(uint32_t slot) {
  Slot& s = slots_[slot];
  SetSlotState(slot, checkpointing_ ? SlotState::kQuarantined : SlotState::kFree);
  s.kind = SlotKind::kNone;
  s.reserved = s.completed = s.failed = 0;
  if (s.relocate) --relocations_wanted_;
  s.relocate = false;
  s.closing = false;
  s.alloc_record = 0;
  s.scan_mark = 0;
  valid_[slot].store(0, std::memory_order_relaxed);
  // A slot freed while a checkpoint is being written keeps its number until the checkpoint
  // is committed: map entries it captured may still name the slot (docs/ftl.md).
  if (checkpointing_) {
    quarantine_.push_back(slot);
  } else {
    free_slots_.push_back(slot);
  }
}

absl::StatusOr<uint32_t> Ftl::AllocateSlot(SlotKind kind, int stream) {
  uint32_t slot = 0;
  {
    MutexLock lock(&mu_);
    if (!MayAllocateLocked(kind)) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "no super block may be allocated now (free %u, open %u)", FreeSbsLocked(), open_sbs_));
    }
    absl::StatusOr<uint32_t> taken = TakeFreeSlotLocked();
    if (!taken.ok()) return taken.status();
    slot = *taken;  // kFree, out of the free list: invisible to checkpoints until set up
    ++held_sbs_;
    ++open_sbs_;
    if (kind == SlotKind::kJournal) ++journal_sbs_;
  }
  auto undo = [this, slot, kind] {
    MutexLock lock(&mu_);
    --held_sbs_;
    --open_sbs_;
    if (kind == SlotKind::kJournal) --journal_sbs_;
    free_slots_.push_back(slot);
    allocator_cv_.Signal();
  };
  const bool by_placement = kind == SlotKind::kUser && IsPlacementStream(stream);
  absl::StatusOr<hal::SuperBlockAllocation> a =
      by_placement ? OpenByPlacement(stream) : domain_->AllocateSuperBlock();
  if (!a.ok()) {
    undo();
    return a.status();
  }
  absl::StatusOr<hal::SuperBlockDetails> info = domain_->GetSuperBlockInfo(a->id);
  absl::Status problem;
  if (!info.ok()) {
    problem = info.status();
  } else if (a->capacity_adus != geo_.sb_capacity || info->capacity_adus != geo_.sb_capacity) {
    problem = absl::InternalError(
        absl::StrFormat("super block %u holds %u ADUs; the FTL was formatted for %u", a->id.value(),
                        a->capacity_adus != geo_.sb_capacity ? a->capacity_adus
                                                             : info->capacity_adus,
                        geo_.sb_capacity));
  }
  if (!problem.ok()) {
    (void)domain_->ReleaseSuperBlock(a->id);
    undo();
    return problem;
  }
  MutexLock lock(&mu_);
  --open_sbs_;  // SetSlotState counts it again
  Slot& s = slots_[slot];
  s = Slot{};
  s.sb = a->id;
  s.serial = info->erase_serial;
  s.kind = kind;
  s.stream = static_cast<uint8_t>(stream);
  s.scan_mark = 0;  // allocated after any barrier in progress: replayed from its start
  if (by_placement) s.reserved = s.completed = 1;  // the opener ADU
  slot_sb_[slot].store(a->id.value(), std::memory_order_release);
  valid_[slot].store(0, std::memory_order_relaxed);
  if (kind != SlotKind::kJournal) {
    // Journal SBs are recorded by the journal's change-over record instead.
    JournalRecord r{};
    r.type = static_cast<uint8_t>(JournalRecordType::kAllocate);
    r.kind = static_cast<uint8_t>(kind);
    r.stream = static_cast<uint8_t>(stream);
    r.sb = a->id.value();
    r.a = info->erase_serial;
    s.alloc_record = JournalAppend(r);
  }
  SetSlotState(slot, kind == SlotKind::kJournal ? SlotState::kAllocating : SlotState::kOpen);
  Trace("allocate slot %u sb %u serial %u kind %d stream %d record %u", slot, a->id.value(),
        info->erase_serial, static_cast<int>(kind), stream, s.alloc_record);
  return slot;
}

void Ftl::SlotCompletedLocked(uint32_t slot, uint32_t ok, uint32_t failed,
                              std::vector<uint32_t>* to_close) {
  Slot& s = slots_[slot];
  s.completed += ok;
  s.failed += failed;
  if (s.reserved == geo_.sb_capacity && s.completed + s.failed == geo_.sb_capacity &&
      s.state == SlotState::kOpen) {
    // The device closed it when it filled; after a failed write it did not fill: close it.
    if (s.failed > 0) {
      s.closing = true;
      to_close->push_back(slot);
    }
    SetSlotState(slot, SlotState::kClosed);
    MaybeEmptyLocked(slot);
  }
}

void Ftl::RetireEarlyLocked(uint32_t slot, std::vector<uint32_t>* to_close) {
  Slot& s = slots_[slot];
  for (Stream& st : streams_) {
    if (st.cur == static_cast<int>(slot)) {
      st.cur = st.next;
      st.next = -1;
    } else if (st.next == static_cast<int>(slot)) {
      st.next = -1;
    }
  }
  // The rest is never written: counted as failed, so the SB closes (explicitly, being short
  // of full) when the writes in flight into it are done, now if there are none.
  s.failed += geo_.sb_capacity - s.reserved;
  s.reserved = geo_.sb_capacity;
  SlotCompletedLocked(slot, 0, 0, to_close);
  allocator_cv_.Signal();  // its stream needs another SB
}

void Ftl::CloseSlots(const std::vector<uint32_t>& slots) {
  for (uint32_t slot : slots) {
    SuperBlockId sb;
    {
      MutexLock lock(&mu_);
      sb = slots_[slot].sb;
    }
    Trace("close slot %u sb %u (a hole: failed writes or unused copy room)", slot, sb.value());
    // Until the close is done the slot is not released (ReleasableLocked): released first,
    // its id could be erased again and this close would close the new owner's SB.
    BeginBackgroundIo();
    domain_->CloseSuperBlockAsync(sb, [this, slot](absl::StatusOr<bool>) {
      {
        MutexLock lock(&mu_);
        slots_[slot].closing = false;
        gc_cv_.Signal();
        allocator_cv_.Signal();  // a placement stream may open its next SB now
      }
      EndBackgroundIo();
    });
  }
}

void Ftl::MaybeEmptyLocked(uint32_t slot) {
  // While the map loads a count may still miss replayed entries of pages not loaded: no slot
  // is empty before FinishMapLoad (map_load.cc), which looks at every slot.
  if (!map_loaded_) return;
  Slot& s = slots_[slot];
  if (s.state == SlotState::kClosed && IsData(s.kind) &&
      valid_[slot].load(std::memory_order_acquire) == 0) {
    MarkPendingLocked(slot);
  }
}

void Ftl::MarkPendingLocked(uint32_t slot) {
  Slot& s = slots_[slot];
  SetSlotState(slot, SlotState::kPendingRelease);
  s.empty_epoch = rounds_started_;
  Trace("pending slot %u sb %u epoch %u", slot, s.sb.value(), s.empty_epoch);
  pending_.push_back(slot);
  gc_cv_.Signal();
}

// ---- the allocator thread ---------------------------------------------------------------------

void Ftl::AllocatorLoop() {
  int failures = 0;
  // After a failed allocation (mu_ held): a device that lost power fails the FTL
  // (DeviceError); a device that refuses three times in a row fails what waits for room;
  // "not now" (ResourceExhausted) waits a little.
  auto allocation_failed = [this,
                            &failures](const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.Unlock();
    DeviceError(s);
    mu_.Lock();
    if (s.code() != absl::StatusCode::kResourceExhausted && ++failures >= 3) {
      failures = 0;
      FailWaitersLocked(s);
    } else {
      allocator_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(10));
    }
  };
  MutexLock lock(&mu_);
  while (!stopping_) {
    if (!failed_.ok()) {  // the device is gone: nothing to do until the FTL is destroyed
      allocator_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(50));
      continue;
    }
    // 1. The journal's next SB, before anything else: everything else records into it.
    if (JournalNeedsSuccessor() && MayAllocateLocked(SlotKind::kJournal)) {
      mu_.Unlock();
      absl::StatusOr<uint32_t> slot = AllocateSlot(SlotKind::kJournal);
      if (slot.ok()) {
        SuperBlockId sb;
        uint32_t serial = 0;
        {
          MutexLock relock(&mu_);
          sb = slots_[*slot].sb;
          serial = slots_[*slot].serial;
        }
        JournalSetSuccessor(*slot, sb, serial);
      }
      mu_.Lock();
      // Before, a failure here only waited and tried again: after a power cut the allocator
      // asked for the journal's successor forever, never reached the DeviceError below, and
      // the writes waiting for room were never failed (the ShuffledOpen8 hang; regression
      // test PowerCutWhileTheJournalNeedsItsSuccessorFailsWaitingWrites).
      if (slot.ok()) {
        failures = 0;
      } else {
        allocation_failed(slot.status());
      }
      continue;
    }
    // 2. Room for the first waiting writer's stream, then successors for streams whose
    //    open SB is nearly full.
    int want = -1;
    bool ahead = false;
    if (!waiters_.empty() && !waiters_.front()->trim && !barrier_) {
      const int s = waiters_.front()->wait_stream;
      if (UserRoomLocked(s) > 0 ||
          StreamForWriteLocked(waiters_.front()->lba + waiters_.front()->next_block) != s) {
        // Its stream has room again (or it now goes elsewhere): let it try.
        mu_.Unlock();
        ServeWaiters();
        mu_.Lock();
        continue;
      }
      if (!streams_[s].allocating &&
          (!IsPlacementStream(s) || PlacementStreamDrainedLocked(s))) {
        want = s;
      }
    }
    // Successors ahead of need: erase streams only (a placement stream's next SB is opened
    // by the device when its current one is full).
    for (int s = 0; want < 0 && s < num_streams_; ++s) {
      const Stream& st = streams_[s];
      if (st.cur >= 0 && st.next < 0 && !st.allocating &&
          slots_[st.cur].reserved >= geo_.sb_capacity - geo_.sb_capacity / 8) {
        want = s;
        ahead = true;
      }
    }
    if (want >= 0 && MayAllocateLocked(SlotKind::kUser, ahead || (streams_[want].cur >= 0 &&
                                                                 !IsPlacementStream(want)))) {
      mu_.Unlock();
      absl::Status s = AllocateForStream(want, SlotKind::kUser);
      mu_.Lock();
      if (s.ok()) {
        failures = 0;
      } else {
        allocation_failed(s);
      }
      continue;
    }
    if (want >= 0 && !ahead) gc_cv_.Signal();  // no room: the collector must free some
    allocator_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(100));
  }
}

void Ftl::FailWaitersLocked(const absl::Status& s) {
  std::deque<UpdateOp*> failing = std::move(waiters_);
  waiters_.clear();
  mu_.Unlock();
  for (UpdateOp* op : failing) {
    OpFailed(op, s);
    op->next_block = op->count;
    Release(op);
  }
  mu_.Lock();
}

void Ftl::DeviceError(const absl::Status& s) {
  if (s.code() != absl::StatusCode::kUnavailable) return;
  MutexLock lock(&mu_);
  if (failed_.ok()) {
    failed_ = OwnCopy(s);
    Trace("failed: %s", s.ToString());
  }
  FailWaitersLocked(s);
}

// ---- flush rounds -----------------------------------------------------------------------------

void Ftl::RequestFlushRound(StatusCallback done) {
  std::vector<StatusCallback> none;
  {
    MutexLock lock(&mu_);
    if (round_active_) {
      next_round_.push_back(std::move(done));
      return;
    }
    round_waiters_.push_back(std::move(done));
  }
  StartRound();
}

void Ftl::StartRound() {
  std::vector<SuperBlockId> sbs;
  uint64_t journal_upto = 0;
  uint64_t number = 0;
  {
    MutexLock lock(&mu_);
    round_active_ = true;
    number = ++rounds_started_;
    counters_.internal_flushes.fetch_add(1, std::memory_order_relaxed);
    // Open data SBs, and data SBs the FTL counts as closed whose Close Super Block is still
    // in flight (a GC destination the copy did not fill, an SB with a failed write): until
    // that close is done their tail is as volatile as an open SB's. Skipping them let a
    // victim whose data had been copied there be released before the copies were durable,
    // and a power cut then lost blocks made durable long before (found by FtlPowerLossTest,
    // ShuffledOpen8; regression test FlushRoundCoversSuperBlocksBeingClosed).
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      if ((s.state == SlotState::kOpen || s.closing) && IsData(s.kind) && s.completed > 0) {
        sbs.push_back(s.sb);
      }
    }
    journal_upto = JournalAppended();
  }
  JournalCommitAsync(journal_upto, [this, number, sbs = std::move(sbs)](absl::Status s) {
    if (!s.ok() || sbs.empty()) return RoundDone(std::move(s), number);
    auto left = std::make_shared<std::atomic<size_t>>(sbs.size());
    auto first_error = std::make_shared<Mutex>();
    auto error = std::make_shared<absl::Status>();
    for (SuperBlockId sb : sbs) {
      BeginBackgroundIo();
      domain_->FlushSuperBlockAsync(
          sb, [this, sb, number, left, first_error, error](absl::StatusOr<uint32_t> r) {
            if (!r.ok()) {
              // An SB that closed meanwhile (it filled, or its close ran first) is durable:
              // not an error. A device that lost power is one, closed or not: the close
              // may have been cut short too.
              bool closed = false;
              if (r.status().code() != absl::StatusCode::kUnavailable) {
                MutexLock lock(&mu_);
                for (const Slot& s : slots_) {
                  if (s.sb == sb && s.state != SlotState::kOpen) closed = true;
                }
              }
              if (!closed) {
                MutexLock lock(first_error.get());
                if (error->ok()) *error = OwnCopy(r.status());
              }
            }
            if (left->fetch_sub(1, std::memory_order_acq_rel) == 1) {
              absl::Status e;
              {
                MutexLock lock(first_error.get());
                e = std::move(*error);
              }
              RoundDone(std::move(e), number);
            }
            EndBackgroundIo();
          });
    }
  });
}

void Ftl::RoundDone(absl::Status s, uint64_t number) {
  DeviceError(s);
  std::vector<StatusCallback> done;
  bool again = false;
  {
    MutexLock lock(&mu_);
    if (s.ok()) rounds_done_ = std::max(rounds_done_, number);
    done = std::move(round_waiters_);
    round_waiters_.clear();
    // With requests waiting, the round stays active and goes straight on to the next one.
    // It was marked inactive here before the next one started (after the callbacks below):
    // a flush requested in between started a round of its own, two rounds ran at once,
    // and the first to finish set rounds_done_ to the other's number, so an SB that emptied
    // after the first had started was released before any round that started after it had
    // made its superseding data durable (HAZARDS 1 and 2; FtlPowerLossTest, ShuffledOpen8).
    again = !next_round_.empty();
    round_active_ = again;
    if (again) {
      round_waiters_ = std::move(next_round_);
      next_round_.clear();
    }
    round_cv_.SignalAll();
    gc_cv_.Signal();
  }
  for (StatusCallback& cb : done) std::move(cb)(OwnCopy(s));
  if (again) Defer([this] { StartRound(); });
}

absl::Status Ftl::FlushRoundAndWait() {
  return Await<absl::Status>([this](absl::AnyInvocable<void(absl::Status) &&> done) {
    RequestFlushRound(std::move(done));
  });
}

bool Ftl::ReleasableLocked(uint32_t slot) const {
  return slots_[slot].empty_epoch < rounds_done_ && !slots_[slot].closing;
}

int Ftl::ReleaseEligible() {
  std::vector<uint32_t> eligible;
  {
    MutexLock lock(&mu_);
    auto it = std::partition(pending_.begin(), pending_.end(), [this](uint32_t slot) {
      mu_.AssertHeld();
      return !ReleasableLocked(slot);
    });
    eligible.assign(it, pending_.end());
    pending_.erase(it, pending_.end());
  }
  if (eligible.empty()) return 0;
  // The flush round made everything that superseded these SBs durable. Now their release
  // records, durable before the releases: recovery must know an SB's checkpointed contents
  // are gone once the device may erase it for something else (docs/ftl.md, HAZARD 3). Not
  // earlier: a release record on flash before the data that superseded the SB would make
  // recovery drop that SB while it is the only copy.
  uint64_t upto = 0;
  {
    MutexLock lock(&mu_);
    for (uint32_t slot : eligible) {
      const Slot& s = slots_[slot];
      JournalRecord r{};
      r.type = static_cast<uint8_t>(JournalRecordType::kRelease);
      r.kind = static_cast<uint8_t>(s.kind);
      r.sb = s.sb.value();
      r.a = s.serial;
      upto = JournalAppend(r);
    }
  }
  if (absl::Status s = JournalCommit(upto); !s.ok()) {
    DeviceError(s);
    MutexLock lock(&mu_);
    pending_.insert(pending_.end(), eligible.begin(), eligible.end());
    return 0;
  }
  for (uint32_t slot : eligible) {
    // Reads that pinned the slot before it emptied finish first.
    while (pins_[slot].load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    SuperBlockId sb;
    {
      MutexLock lock(&mu_);
      sb = slots_[slot].sb;
    }
    Trace("release start slot %u sb %u", slot, sb.value());
    absl::Status s = domain_->ReleaseSuperBlock(sb);
    Trace("release done slot %u sb %u: %s", slot, sb.value(), s.ToString());
    if (!s.ok()) {
      // Keep it (and the rest); try again later, unless the device is gone.
      DeviceError(s);
      MutexLock lock(&mu_);
      pending_.insert(pending_.end(), std::find(eligible.begin(), eligible.end(), slot),
                      eligible.end());
      break;
    }
    MutexLock lock(&mu_);
    --held_sbs_;
    Trace("released slot %u sb %u (rounds done %u)", slot, sb.value(), rounds_done_);
    FreeSlotLocked(slot);
    allocator_cv_.Signal();
  }
  return static_cast<int>(eligible.size());
}

}  // namespace sef::ftl::internal
