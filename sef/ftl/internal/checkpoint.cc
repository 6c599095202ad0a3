// Checkpoints: the map and the slot table written to the domain's own flash, anchored by
// root pointer 0. docs/ftl.md ("Checkpoint" and "Recovery") gives the argument in full.
//
//  1. Barrier. New writes, trims and GC copies wait; those in flight finish. Then every
//     update with a sequence number below R = next_seq_ is complete and in the map, and
//     nothing numbered R or above has reached flash. Each open SB's write pointer is taken
//     (scan_mark): what lies beyond it was written after the barrier. The barrier is down
//     again before any page is written.
//  2. Map pages, read from the live map while I/O goes on ("fuzzy"): an entry may show a
//     state after the barrier; recovery's rules make that safe, provided (a) no slot number
//     freed meanwhile is reused before the checkpoint is committed (quarantine) and (b) the
//     data every captured entry points at is durable before the commit (step 4).
//  3. The slot table, taken after the map: every SB a captured entry can name is in it;
//     then (format version 2) the per-slot counts of the map pages written in step 2.
//  4. Flush Super Block of every open data SB.
//  5. The header, FUA, in the last checkpoint SB, which is then closed.
//  6. Root pointer 0 := the header's address. This is the commit.
//  7. Release the previous checkpoint's SBs and the journal SBs retired before the barrier.
// A crash before 6 leaves the previous checkpoint in force; the new checkpoint's SBs are then
// unknown to it and released at the next mount.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/ftl/internal/callbacks.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/ftl/internal/trace.h"

namespace sef::ftl::internal {
namespace {

constexpr uint32_t kPagesPerWrite = 64;

bool IsOpenState(SlotState s) { return s == SlotState::kAllocating || s == SlotState::kOpen; }

}  // namespace

bool Ftl::CheckpointDueLocked() const {
  const uint64_t flash = counters_.flash_adus_written.load(std::memory_order_relaxed);
  return flash - flash_at_last_checkpoint_ >= geo_.checkpoint_interval_adus ||
         !retired_journals_.empty();
}

void Ftl::CheckpointLoop() {
  MutexLock lock(&mu_);
  while (!stopping_) {
    const bool requested = checkpoint_requests_ > checkpoints_done_;
    if (!failed_.ok()) {
      checkpoints_done_ = checkpoint_requests_;
      last_checkpoint_status_ = OwnCopy(failed_);
      checkpoint_done_cv_.SignalAll();
      checkpoint_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(50));
      continue;
    }
    // A checkpoint captures the whole map: not before it is loaded (map_load.cc).
    if ((requested || CheckpointDueLocked()) && map_loaded_) {
      const uint64_t target = checkpoint_requests_;
      mu_.Unlock();
      absl::Status s = WriteCheckpoint();
      DeviceError(s);
      mu_.Lock();
      checkpoints_done_ = std::max(checkpoints_done_, target);
      last_checkpoint_status_ = OwnCopy(s);
      checkpoint_done_cv_.SignalAll();
      if (!s.ok()) checkpoint_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(100));
      continue;
    }
    checkpoint_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(100));
  }
}

absl::Status Ftl::CheckpointNow() {
  SEF_RETURN_IF_ERROR(CheckSynchronousCallAllowed("BlockDevice::Checkpoint"));
  MutexLock lock(&mu_);
  if (!mounted_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("checkpoint: QoS domain %u is not mounted", domain_id_.value()));
  }
  const uint64_t mine = ++checkpoint_requests_;
  checkpoint_cv_.Signal();
  while (checkpoints_done_ < mine) checkpoint_done_cv_.Wait(&mu_);
  return OwnCopy(last_checkpoint_status_);
}

absl::StatusOr<FlashAddress> Ftl::WriteCheckpointPages(const uint8_t* pages, uint32_t count,
                                                       uint32_t first, uint64_t generation,
                                                       bool fua_last, CheckpointSpace* space) {
  FlashAddress last;
  uint32_t done = 0;
  std::vector<CheckpointPageMeta> meta;
  while (done < count) {
    if (space->room == 0) SEF_RETURN_IF_ERROR(NewCheckpointSb(space));
    const uint32_t n = std::min({space->room, count - done, kPagesPerWrite});
    meta.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      meta[i].generation = generation;
      meta[i].page = first + done + i;
      meta[i].crc = Crc32c(pages + uint64_t{done + i} * kAduBytes, kAduBytes);
    }
    iovec iov{const_cast<uint8_t*>(pages) + uint64_t{done} * kAduBytes, size_t{n} * kAduBytes};
    hal::WriteOp w;
    w.target = space->sbs.back();
    w.start =
        UserAddress::FromRaw((uint64_t{kCheckpointTag} << UserAddress::kLbaBits) | (first + done));
    w.data = {&iov, 1};
    w.metadata = {reinterpret_cast<const uint8_t*>(meta.data()), size_t{n} * kMetaBytes};
    w.fua = fua_last && done + n == count;
    absl::StatusOr<hal::WriteResult> r = domain_->Write(w);
    if (!r.ok()) return r.status();
    if (r->addresses.size() != n || r->not_written != 0) {
      return absl::InternalError(
          absl::StrFormat("checkpoint: the device wrote %u of %u pages into super block %u",
                          r->addresses.size(), n, space->sbs.back().value()));
    }
    counters_.metadata_adus_written.fetch_add(n, std::memory_order_relaxed);
    counters_.flash_adus_written.fetch_add(n, std::memory_order_relaxed);
    last = r->addresses.back();
    space->room -= n;
    done += n;
    if (space->room == 0) {
      MutexLock lock(&mu_);
      --open_sbs_;  // it filled: the device closed it
      allocator_cv_.Signal();
    }
  }
  return last;
}

absl::Status Ftl::NewCheckpointSb(CheckpointSpace* space) {
  {
    MutexLock lock(&mu_);
    // Checkpoint SBs come out of their own reserve; the open-SB budget may have to free up.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (open_sbs_ >= geo_.max_open) {
      if (std::chrono::steady_clock::now() >= deadline || stopping_) {
        return absl::ResourceExhaustedError(absl::StrFormat(
            "checkpoint: %u super blocks stay open; no room to open one", open_sbs_));
      }
      checkpoint_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(10));
    }
    ++held_sbs_;
    ++open_sbs_;
  }
  absl::StatusOr<hal::SuperBlockAllocation> a = domain_->AllocateSuperBlock();
  if (!a.ok() || a->capacity_adus != geo_.sb_capacity) {
    if (a.ok()) (void)domain_->ReleaseSuperBlock(a->id);
    MutexLock lock(&mu_);
    --held_sbs_;
    --open_sbs_;
    return a.ok() ? absl::InternalError("checkpoint: a super block of another size") : a.status();
  }
  space->sbs.push_back(a->id);
  space->room = geo_.sb_capacity;
  return absl::OkStatus();
}

absl::Status Ftl::WriteCheckpoint() {
  {
    MutexLock lock(&mu_);
    if (!map_loaded_) {
      return absl::FailedPreconditionError(
          absl::StrFormat("checkpoint: QoS domain %u: the map is not loaded", domain_id_.value()));
    }
  }
  // ---- 1. barrier ----
  uint64_t replay_from = 0;
  uint32_t journal_slot = 0, journal_pages = 0;
  int journal_next = -1;
  uint64_t generation = 0;
  uint64_t flash_at_start = 0;
  uint64_t journal_at_barrier = 0;
  std::vector<uint32_t> retired;
  {
    MutexLock lock(&mu_);
    barrier_ = true;
    while (inflight_ > 0) inflight_cv_.Wait(&mu_);
    checkpointing_ = true;
    replay_from = next_seq_.load(std::memory_order_acquire);
    JournalPosition(&journal_slot, &journal_pages, &journal_next);
    journal_at_barrier = JournalAppended();
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      if (!IsOpenState(s.state)) {
        s.scan_mark = kScanNothing;
      } else if (s.kind == SlotKind::kJournal) {
        s.scan_mark = i == journal_slot ? journal_pages : 0;
      } else {
        // Without failed writes the completed ADUs are exactly a prefix; with a hole
        // somewhere, replay the whole SB (replaying more is always safe).
        s.scan_mark = s.failed == 0 ? s.completed : 0;
      }
    }
    retired = std::move(retired_journals_);
    retired_journals_.clear();
    flash_at_start = counters_.flash_adus_written.load(std::memory_order_relaxed);
    generation = checkpoint_generation_ + 1;
    Trace("checkpoint %u barrier: R %u journal slot %u page %u, records %u", generation,
          replay_from, journal_slot, journal_pages, journal_at_barrier);
    barrier_ = false;
    barrier_cv_.SignalAll();
  }
  ServeWaiters();

  CheckpointSpace space;
  auto fail = [&](absl::Status s) {
    std::vector<SuperBlockId> drop = space.sbs;
    {
      MutexLock lock(&mu_);
      Trace("checkpoint %u failed: %s (open %u held %u)", generation, s.ToString(), open_sbs_,
            held_sbs_);
      checkpointing_ = false;
      free_slots_.insert(free_slots_.end(), quarantine_.begin(), quarantine_.end());
      for (uint32_t q : quarantine_) SetSlotState(q, SlotState::kFree);
      quarantine_.clear();
      retired_journals_.insert(retired_journals_.begin(), retired.begin(), retired.end());
      if (space.room > 0) --open_sbs_;
    }
    for (SuperBlockId sb : drop) {
      if (domain_->ReleaseSuperBlock(sb).ok()) {
        MutexLock lock(&mu_);
        --held_sbs_;
      }
    }
    return s;
  };

  // ---- 2. map pages, streamed from the live map ----
  // Counted per slot as they are captured: the counts describe exactly the pages written
  // (recovery starts its valid counts from them; format version 2).
  const uint32_t map_pages = geo_.map_pages();
  const uint32_t count_pages = geo_.count_pages();
  std::vector<uint8_t> counts_bytes(size_t{count_pages} * kAduBytes, 0);
  auto* counts = reinterpret_cast<uint32_t*>(counts_bytes.data());
  std::vector<uint8_t> buffer(size_t{kPagesPerWrite} * kAduBytes);
  for (uint32_t page = 0; page < map_pages; page += kPagesPerWrite) {
    const uint32_t n = std::min(kPagesPerWrite, map_pages - page);
    auto* entries = reinterpret_cast<uint32_t*>(buffer.data());
    for (uint64_t e = 0; e < uint64_t{n} * kMapEntriesPerPage; ++e) {
      const uint64_t lba = uint64_t{page} * kMapEntriesPerPage + e;
      entries[e] = lba < geo_.block_count ? map_[lba].load(std::memory_order_acquire) : 0;
    }
    CountEntriesPerSlot(entries, uint64_t{n} * kMapEntriesPerPage, geo_.sb_capacity,
                        geo_.slot_count, counts);
    absl::StatusOr<FlashAddress> w =
        WriteCheckpointPages(buffer.data(), n, page, generation, false, &space);
    if (!w.ok()) return fail(w.status());
  }

  // ---- 3. the slot table, after the map ----
  const uint32_t slot_pages = geo_.slot_pages();
  std::vector<uint8_t> table(size_t{slot_pages} * kAduBytes, 0);
  std::vector<SuperBlockId> flush;
  {
    auto* entries = reinterpret_cast<SlotEntry*>(table.data());
    uint32_t current_journal = 0, pages_now = 0;
    int successor = -1;
    MutexLock lock(&mu_);
    JournalPosition(&current_journal, &pages_now, &successor);
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      bool keep = false;
      if (s.kind == SlotKind::kJournal) {
        keep = i == journal_slot || i == current_journal || static_cast<int>(i) == successor;
      } else if (s.kind != SlotKind::kNone) {
        keep = s.state == SlotState::kOpen || s.state == SlotState::kClosed ||
               s.state == SlotState::kVictim || s.state == SlotState::kPendingRelease;
      }
      if (!keep) continue;
      SlotEntry& e = entries[i];
      e.sb = s.sb.value();
      e.serial = s.serial;
      e.scan_from = s.scan_mark;
      e.kind = static_cast<uint8_t>(s.kind);
      e.flags = s.state == SlotState::kPendingRelease ? kSlotPendingRelease : 0;
      e.stream = s.stream;
      // Data SBs being closed too: until the close is done their tail is volatile (as in
      // a flush round, space.cc StartRound).
      if ((s.state == SlotState::kOpen || s.closing) && s.kind != SlotKind::kJournal) {
        flush.push_back(s.sb);
      }
    }
  }
  if (absl::StatusOr<FlashAddress> w =
          WriteCheckpointPages(table.data(), slot_pages, map_pages, generation, false, &space);
      !w.ok()) {
    return fail(w.status());
  }

  if (absl::StatusOr<FlashAddress> w = WriteCheckpointPages(
          counts_bytes.data(), count_pages, map_pages + slot_pages, generation, false, &space);
      !w.ok()) {
    return fail(w.status());
  }

  // ---- 4. everything a captured entry points at is made durable ----
  for (SuperBlockId sb : flush) {
    absl::StatusOr<uint32_t> r = domain_->FlushSuperBlock(sb);
    if (!r.ok()) {
      // An SB that closed meanwhile is durable; a device that lost power is a failure.
      bool fatal = r.status().code() == absl::StatusCode::kUnavailable;
      if (!fatal) {
        MutexLock lock(&mu_);
        for (const Slot& s : slots_) {
          if (s.sb == sb && s.state == SlotState::kOpen) fatal = true;
        }
      }
      if (fatal) return fail(r.status());
    }
  }

  // ---- 5. the header ----
  if (space.room == 0) {
    if (absl::Status s = NewCheckpointSb(&space); !s.ok()) return fail(s);
  }
  if (space.sbs.size() > kMaxCheckpointSbs) {
    return fail(absl::InternalError("checkpoint: too many checkpoint super blocks"));
  }
  std::vector<uint8_t> header_page(kAduBytes, 0);
  auto* h = reinterpret_cast<CheckpointHeader*>(header_page.data());
  h->magic = kCheckpointMagic;
  h->version = kCheckpointVersion;
  h->generation = generation;
  h->block_count = geo_.block_count;
  h->sb_capacity = geo_.sb_capacity;
  h->slot_count = geo_.slot_count;
  h->op_millipercent = geo_.op_millipercent;
  h->reserved_sbs = geo_.reserved_sbs;
  h->checkpoint_interval_adus = format_interval_;
  h->replay_from_seq = replay_from;
  h->journal_slot = journal_slot;
  h->map_pages = map_pages;
  h->slot_pages = slot_pages;
  h->num_sbs = static_cast<uint32_t>(space.sbs.size());
  h->count_pages = count_pages;
  h->placement_id_count = static_cast<uint16_t>(placement_ids_.size());
  for (size_t i = 0; i < placement_ids_.size(); ++i)
    h->placement_ids[i] = placement_ids_[i].value();
  h->host_adus_written = counters_.host_adus_written.load(std::memory_order_relaxed);
  h->flash_adus_written = counters_.flash_adus_written.load(std::memory_order_relaxed) + 1;
  h->gc_copied_adus = counters_.gc_copied_adus.load(std::memory_order_relaxed);
  h->checkpoints = counters_.checkpoints.load(std::memory_order_relaxed) + 1;
  for (size_t i = 0; i < space.sbs.size(); ++i) h->sbs[i] = space.sbs[i].value();
  h->crc = CheckpointHeaderCrc(*h);
  absl::StatusOr<FlashAddress> header = WriteCheckpointPages(
      header_page.data(), 1, map_pages + slot_pages + count_pages, generation, true, &space);
  if (!header.ok()) return fail(header.status());
  if (space.room > 0) {
    if (absl::StatusOr<bool> c = domain_->CloseSuperBlock(space.sbs.back()); !c.ok()) {
      return fail(c.status());
    }
    MutexLock lock(&mu_);
    --open_sbs_;
    space.room = 0;
    allocator_cv_.Signal();
  }

  // ---- 6. commit ----
  if (absl::Status s = domain_->SetRootPointer(hal::RootPointerIndex(0), *header); !s.ok()) {
    return fail(s);
  }

  Trace("checkpoint %u committed at 0x%x", generation, header->raw());
  JournalSubsume(journal_at_barrier);

  // ---- 7. the previous checkpoint and the retired journal SBs go ----
  std::vector<SuperBlockId> old;
  std::vector<SuperBlockId> retired_sbs;
  {
    MutexLock lock(&mu_);
    old = std::move(checkpoint_sbs_);
    checkpoint_sbs_ = space.sbs;
    checkpoint_generation_ = generation;
    checkpointing_ = false;
    for (uint32_t q : quarantine_) {
      SetSlotState(q, SlotState::kFree);
      free_slots_.push_back(q);
    }
    quarantine_.clear();
    flash_at_last_checkpoint_ = flash_at_start;
    counters_.checkpoints.fetch_add(1, std::memory_order_relaxed);
    for (uint32_t slot : retired) retired_sbs.push_back(slots_[slot].sb);
  }
  absl::Status result;
  for (SuperBlockId sb : old) {
    absl::Status s = domain_->ReleaseSuperBlock(sb);
    if (s.ok()) {
      MutexLock lock(&mu_);
      --held_sbs_;
    } else if (result.ok()) {
      result = s;
    }
  }
  for (size_t i = 0; i < retired.size(); ++i) {
    absl::Status s = domain_->ReleaseSuperBlock(retired_sbs[i]);
    MutexLock lock(&mu_);
    if (s.ok()) {
      --held_sbs_;
      --journal_sbs_;
      FreeSlotLocked(retired[i]);
    } else {
      retired_journals_.push_back(retired[i]);
      if (result.ok()) result = s;
    }
  }
  {
    MutexLock lock(&mu_);
    allocator_cv_.Signal();
    gc_cv_.Signal();
  }
  return result;
}

}  // namespace sef::ftl::internal
