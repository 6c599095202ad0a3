// Garbage collection and the domain's notifications.
//
// The collector runs on its own thread beside user I/O. When free SBs run low it picks the
// closed data SB with the fewest valid ADUs (greedy; SBs a patrol found at risk first),
// reads the SB's user-address list (log 0xD4), keeps the ADUs the map still points at, and
// moves them with Nameless Copy into the GC stream's open SB (cold data, apart from the user
// stream's hot writes). The device returns where each ADU went; the map takes the new
// address only if it still holds the old one (compare-and-set), so a user write that raced
// the copy wins. The copied ADUs keep their user address and metadata, hence their sequence
// number: recovery can tell a moved old version from a newer write.
//
// An emptied victim waits for a flush round before its release (space.cc); the collector
// batches victims so that one round serves several.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_format.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/ftl/internal/trace.h"

namespace sef::ftl::internal {
namespace {

// Victims collected before the collector asks for a flush round to release them, unless
// space is short sooner.
constexpr size_t kReleaseBatch = 8;

bool IsDataKind(SlotKind k) { return k == SlotKind::kUser || k == SlotKind::kGc; }

}  // namespace

bool Ftl::GcNeededLocked() const {
  if (!map_loaded_) return false;  // victim choice needs exact counts (map_load.cc)
  const uint32_t target = ReserveFor(SlotKind::kUser) + 2;
  if (FreeSbsLocked() + pending_.size() < target) return true;
  if (relocations_wanted_ == 0) return false;
  for (const Slot& s : slots_) {
    if (s.relocate && s.state == SlotState::kClosed) return true;
  }
  return false;
}

int Ftl::PickVictimLocked() {
  // Cost-benefit: (1 - u) / (1 + u) * sqrt(age), u the valid fraction, age the host writes
  // since the SB closed. Old, mostly-invalid SBs first; a young SB whose data may still die
  // waits. With the temperature streams this comes within ~1 % of greedy under uniform
  // overwrites and well below it under skewed ones (docs/ftl.md, "Garbage collection").
  const uint64_t now = counters_.host_adus_written.load(std::memory_order_relaxed);
  const double cap = geo_.sb_capacity;
  int best = -1;
  double best_score = -1;
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.state != SlotState::kClosed || !IsDataKind(s.kind)) continue;
    if (s.relocate) return static_cast<int>(i);
    const uint32_t v = valid_[i].load(std::memory_order_acquire);
    if (v >= geo_.sb_capacity) continue;  // nothing to gain
    const double u = v / cap;
    const double age = static_cast<double>(now - std::min(now, s.closed_clock)) + 1;
    const double score = (1 - u) / (1 + u) * std::sqrt(age);
    if (score > best_score) {
      best_score = score;
      best = static_cast<int>(i);
    }
  }
  return best;
}

void Ftl::EndInternalOpLocked() {
  if (--inflight_ == 0 && barrier_) inflight_cv_.SignalAll();
}

void Ftl::RotateAgingSbs() {
  struct Open {
    uint32_t slot;
    SuperBlockId sb;
    bool journal;
  };
  std::vector<Open> open;
  {
    MutexLock lock(&mu_);
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      if (s.state != SlotState::kOpen) continue;
      if (IsDataKind(s.kind) || s.kind == SlotKind::kJournal) {
        open.push_back({i, s.sb, s.kind == SlotKind::kJournal});
      }
    }
  }
  std::vector<Open> aging;
  for (const Open& o : open) {
    absl::StatusOr<hal::SuperBlockDetails> info = domain_->GetSuperBlockInfo(o.sb);
    if (!info.ok()) {
      DeviceError(info.status());
      continue;
    }
    const bool still_open = info->state == hal::SuperBlockState::kOpenByErase ||
                            info->state == hal::SuperBlockState::kOpenByWrite;
    if (still_open && info->minutes_left <= expiry_margin_minutes_) aging.push_back(o);
  }
  if (aging.empty()) return;
  std::vector<uint32_t> to_close;
  {
    MutexLock lock(&mu_);
    for (const Open& o : aging) {
      const Slot& s = slots_[o.slot];
      if (s.sb != o.sb || s.state != SlotState::kOpen) continue;  // it moved on meanwhile
      if (o.journal) {
        if (!JournalRetire()) continue;  // changing over already
        allocator_cv_.Signal();          // it erases the successor the journal changes over to
      } else {
        if (s.reserved == geo_.sb_capacity) continue;  // full: it closes as its writes end
        RetireEarlyLocked(o.slot, &to_close);
      }
      Trace("sb %u (slot %u%s) is close to the open expiration period: left", o.sb.value(),
            o.slot, o.journal ? ", the journal" : "");
      counters_.sbs_retired_early.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!to_close.empty()) CloseSlots(to_close);
  ServeWaiters();  // a writer may wait for the room the retired SBs no longer give
}

void Ftl::GcLoop() {
  bool idle_tick = false;
  auto next_rotation = std::chrono::steady_clock::now();
  MutexLock lock(&mu_);
  while (!stopping_) {
    if (!failed_.ok()) {  // the device is gone: nothing to do until the FTL is destroyed
      gc_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(50));
      continue;
    }
    if (expiry_margin_minutes_ >= 0 && std::chrono::steady_clock::now() >= next_rotation) {
      next_rotation = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      mu_.Unlock();
      RotateAgingSbs();
      mu_.Lock();
      continue;
    }
    const bool eligible = std::any_of(pending_.begin(), pending_.end(), [this](uint32_t slot) {
      mu_.AssertHeld();
      return ReleasableLocked(slot);
    });
    if (eligible) {
      mu_.Unlock();
      ReleaseEligible();
      mu_.Lock();
      continue;
    }
    const bool need = GcNeededLocked();
    const int victim = need ? PickVictimLocked() : -1;
    const bool short_now = FreeSbsLocked() <= ReserveFor(SlotKind::kUser) + 1;
    if (!pending_.empty() &&
        ((need && (victim < 0 || short_now || pending_.size() >= kReleaseBatch)) || idle_tick)) {
      idle_tick = false;
      mu_.Unlock();
      (void)FlushRoundAndWait();
      mu_.Lock();
      continue;
    }
    if (victim >= 0) {
      SetSlotState(static_cast<uint32_t>(victim), SlotState::kVictim);
      mu_.Unlock();
      absl::Status s = Collect(static_cast<uint32_t>(victim));
      DeviceError(s);
      mu_.Lock();
      if (!s.ok()) gc_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(10));
      continue;
    }
    idle_tick = gc_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(50)) && !pending_.empty();
  }
}

absl::StatusOr<uint32_t> Ftl::ReserveForCopy(int stream, uint32_t n, uint32_t* slot,
                                             SuperBlockId* sb) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    bool fallback = false;
    {
      MutexLock lock(&mu_);
      while (barrier_) barrier_cv_.Wait(&mu_);
      if (stopping_) return absl::CancelledError("garbage collection: the FTL is stopping");
      int target = stream;
      if (RoomLocked(stream) == 0 && !MayAllocateLocked(SlotKind::kGc, false) && pending_.empty()) {
        // No SB may be erased and none waits for release: copy into the nearest stream
        // that has room. The data lands a little hotter or colder than it should; the
        // collector goes on, and that is what frees SBs.
        for (int d = 1; d < num_streams_ && target == stream; ++d) {
          if (stream + d < num_streams_ && RoomLocked(stream + d) > 0) target = stream + d;
          if (target == stream && stream - d >= 0 && RoomLocked(stream - d) > 0) {
            target = stream - d;
          }
        }
        fallback = target != stream;
      }
      if (const uint32_t room = RoomLocked(target); room > 0) {
        const uint32_t take = std::min(room, n);
        ReserveLocked(target, take, slot, sb);
        ++inflight_;
        return take;
      }
      if (streams_[stream].allocating) {
        gc_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(1));
        continue;
      }
    }
    (void)fallback;
    if (absl::Status a = AllocateForStream(stream, SlotKind::kGc); a.ok()) {
      continue;
    } else if (a.code() != absl::StatusCode::kResourceExhausted) {
      return a;  // the device refuses: try again later
    }
    // No SB may be erased now: release what waits for a flush round, then try again.
    bool pending = false;
    {
      MutexLock lock(&mu_);
      pending = !pending_.empty();
    }
    if (pending) {
      (void)FlushRoundAndWait();
      ReleaseEligible();
    } else {
      MutexLock lock(&mu_);
      gc_cv_.WaitWithTimeout(&mu_, std::chrono::milliseconds(5));
    }
  }
  MutexLock lock(&mu_);
  return absl::ResourceExhaustedError(absl::StrFormat(
      "garbage collection found no room to copy into (free %u, open %u, pending %u)",
      FreeSbsLocked(), open_sbs_, pending_.size()));
}

absl::Status Ftl::Collect(uint32_t victim) {
  SuperBlockId vsb;
  bool relocation = false;
  int stream = 0;
  {
    MutexLock lock(&mu_);
    vsb = slots_[victim].sb;
    relocation = slots_[victim].relocate;
    // Data that survives a collection is colder than its SB's stream. User data written by
    // placement id moves into the erase streams, placement stream i into erase stream i: GC
    // copies never share an SB with user writes then.
    const int from = slots_[victim].stream;
    stream = IsPlacementStream(from) ? std::min(from - num_streams_, num_streams_ - 1)
                                     : std::min<int>(from + 1, num_streams_ - 1);
  }
  auto give_back = [this, victim](absl::Status s) {
    MutexLock lock(&mu_);
    SetSlotState(victim, SlotState::kClosed);
    MaybeEmptyLocked(victim);
    return s;
  };
  absl::StatusOr<std::vector<UserAddress>> uas = domain_->GetUserAddressList(vsb);
  if (!uas.ok()) return give_back(uas.status());
  std::vector<FlashAddress> sources;
  const uint32_t n_uas = static_cast<uint32_t>(std::min<size_t>(uas->size(), geo_.sb_capacity));
  for (uint32_t i = 0; i < n_uas; ++i) {
    const UserAddress ua = (*uas)[i];
    if (ua.is_ignore() || ua.tag() != kDataTag) continue;
    const uint64_t lba = ua.lba().value();
    if (lba >= geo_.block_count) continue;
    if (map_[lba].load(std::memory_order_acquire) != Encode(victim, i)) continue;
    absl::StatusOr<FlashAddress> a = domain_->AddressOf(vsb, AduOffset(i));
    if (!a.ok()) return give_back(a.status());
    sources.push_back(*a);
  }
  size_t next = 0;
  int stalls = 0;
  while (next < sources.size()) {
    uint32_t dest = 0;
    SuperBlockId dsb;
    absl::StatusOr<uint32_t> n =
        ReserveForCopy(stream, static_cast<uint32_t>(sources.size() - next), &dest, &dsb);
    if (!n.ok()) return give_back(n.status());
    hal::CopyOp op;
    op.destination = dsb;
    op.source = hal::CopyList{
        std::vector<FlashAddress>(sources.begin() + next, sources.begin() + next + *n)};
    op.max_changes = *n;
    absl::StatusOr<hal::CopyResult> r = domain_->Copy(op);
    const uint32_t written =
        r.ok() ? static_cast<uint32_t>(std::min<size_t>(r->changes.size(), *n)) : 0;
    if (r.ok()) {
      for (const hal::AddressChange& c : r->changes) {
        const uint64_t lba = c.user_address.lba().value();
        if (c.user_address.tag() != kDataTag || lba >= geo_.block_count) continue;
        MapMove(lba, Encode(victim, domain_->OffsetOf(c.from).value()),
                Encode(dest, domain_->OffsetOf(c.to).value()));
      }
    }
    std::vector<uint32_t> to_close;
    {
      MutexLock lock(&mu_);
      // What the copy did not use of its reservation counts as failed: the SB is closed
      // explicitly once everything else reserved in it is done.
      SlotCompletedLocked(dest, written, *n - written, &to_close);
      EndInternalOpLocked();
    }
    if (!to_close.empty()) CloseSlots(to_close);
    if (!r.ok()) return give_back(r.status());
    counters_.gc_copied_adus.fetch_add(written, std::memory_order_relaxed);
    counters_.flash_adus_written.fetch_add(written, std::memory_order_relaxed);
    const uint32_t processed = std::min(r->next, *n);
    if (processed == 0) {
      if (++stalls > 3) {
        return give_back(absl::InternalError(absl::StrFormat(
            "garbage collection: copying from super block %u makes no progress (status 0x%02x)",
            vsb.value(), r->copy_status)));
      }
      continue;
    }
    stalls = 0;
    next += processed;
  }
  MutexLock lock(&mu_);
  counters_.gc_victims.fetch_add(1, std::memory_order_relaxed);
  if (relocation) {
    counters_.gc_relocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (slots_[victim].relocate) {
    slots_[victim].relocate = false;
    --relocations_wanted_;
  }
  SetSlotState(victim, SlotState::kClosed);
  MaybeEmptyLocked(victim);
  return absl::OkStatus();
}

// ---- notifications (the unit's notification thread; synchronous calls are allowed) -----------

void Ftl::OpenNotifications() {
  MutexLock lock(&notify_mu_);
  notify_open_ = true;
}

void Ftl::CloseNotifications() {
  // Waits for a delivery in progress: it holds notify_mu_ while it acts.
  MutexLock lock(&notify_mu_);
  notify_open_ = false;
}

void Ftl::OnNotification(const hal::Notification& n) {
  MutexLock notify(&notify_mu_);
  // Before domain_ was set (OpenQosDomain subscribes before it returns) or once the FTL lets
  // go of the domain: nothing to do, and domain_ must not be touched (~QosDomain waits for
  // this delivery, with domain_ already null).
  if (!notify_open_) return;
  switch (n.type) {
    case hal::NotificationType::kSuperBlockClosed:
      return;  // bookkeeping follows the FTL's own completions, not these events
    case hal::NotificationType::kCapacityWarning:
      counters_.capacity_warnings.fetch_add(1, std::memory_order_relaxed);
      return;
    case hal::NotificationType::kRequirePatrol: {
      counters_.patrols.fetch_add(1, std::memory_order_relaxed);
      absl::StatusOr<uint8_t> integrity = domain_->CheckSuperBlock(n.super_block);
      if (integrity.ok() && *integrity == 0) return;
      break;  // at risk, or the patrol failed: move its data
    }
    case hal::NotificationType::kAddressUpdate:
      // Never with the Perfect defect strategy. The event names the SB, not the ADU: collect
      // the SB, whose valid ADUs the map still finds by user address.
      counters_.address_updates.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  MutexLock lock(&mu_);
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.sb == n.super_block && IsDataKind(s.kind) && s.state != SlotState::kFree &&
        s.state != SlotState::kQuarantined && !s.relocate) {
      s.relocate = true;
      ++relocations_wanted_;
      gc_cv_.Signal();
    }
  }
}

}  // namespace sef::ftl::internal
