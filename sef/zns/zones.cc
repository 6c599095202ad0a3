// The zone pipeline: state assignment, acceptance of writes and zone management commands,
// and the sequence of device operations each zone goes through (allocate its super block,
// submit its writes in order, close or release the super block, write a finish marker).
//
// Everything is decided under mu_ by NextStep and started by Kick after the lock is
// released; each device completion records its result under the lock and kicks the zone
// again. A zone's pipeline may be kicked from several threads at once: the flags in Zone
// (draining, sb_state, barrier_started, waiting_budget) make sure each step starts once.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sef/hal/cmd/wire.h"
#include "sef/zns/internal/format.h"
#include "sef/zns/internal/namespace.h"

namespace sef::zns::internal {

namespace sc = wire::sc;

namespace {

thread_local int callback_depth = 0;

ZoneEvent EventOf(ZoneAction a) {
  switch (a) {
    case ZoneAction::kOpen:
      return ZoneEvent::kOpen;
    case ZoneAction::kClose:
      return ZoneEvent::kClose;
    case ZoneAction::kFinish:
      return ZoneEvent::kFinish;
    case ZoneAction::kReset:
      return ZoneEvent::kReset;
    case ZoneAction::kOffline:
      return ZoneEvent::kOffline;
  }
  return ZoneEvent::kOpen;
}

// The one block a finish marker writes (never written to: the HAL only reads it).
alignas(4096) uint8_t zero_block[kBlockBytes];

}  // namespace

CallbackScope::CallbackScope() { ++callback_depth; }
CallbackScope::~CallbackScope() { --callback_depth; }
bool CallbackScope::Inside() { return callback_depth > 0; }

absl::Status CallbackScope::CheckSynchronous(const char* method) {
  if (!Inside()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s: a synchronous call from inside a ZNS callback (it would wait for the thread it "
      "runs on); use the ...Async form",
      method));
}

// A copy that shares nothing with `s`: statuses with payloads share a reference-counted
// representation whose counts Debian's libabsl keeps without ThreadSanitizer's annotations,
// and the copies here end up on other threads.
absl::Status Detached(const absl::Status& s) {
  absl::Status copy(s.code(), s.message());
  s.ForEachPayload([&copy](absl::string_view url, const absl::Cord& payload) {
    copy.SetPayload(url, absl::Cord(std::string(payload)));
  });
  return copy;
}

absl::Status Namespace::Refusal(NvmeStatus nvme, const std::string& message) {
  absl::Status s(ToStatus(nvme, "").code(),
                 absl::StrFormat("%s (%s)", message, absl::FormatStreamed(nvme)));
  SetNvmeStatus(s, nvme);
  return s;
}

ZoneResources Namespace::Resources() const {
  return {open_, active_, geometry_.max_open_zones, geometry_.max_active_zones,
          !implicitly_open_.empty()};
}

void Namespace::SetZoneState(uint32_t zone, ZoneState to) {
  Zone& z = zones_[zone];
  const ZoneState from = z.state;
  if (from == to) return;
  open_ += IsOpen(to) - IsOpen(from);
  active_ += IsActive(to) - IsActive(from);
  if (from == ZoneState::kImplicitlyOpen) {
    implicitly_open_.erase(std::find(implicitly_open_.begin(), implicitly_open_.end(), zone));
  }
  if (to == ZoneState::kImplicitlyOpen) implicitly_open_.push_back(zone);
  z.state = to;
}

void Namespace::AutoClose() { SetZoneState(implicitly_open_.front(), ZoneState::kClosed); }

// ---- acceptance ------------------------------------------------------------------------------

void Namespace::Refuse(WriteIo* io, absl::Status s, Acks& acks) {
  io->status = std::move(s);
  acks.ios.push_back(io);
}

// The order of the checks is QEMU's nvme_do_write: the zone's state, the write pointer, the
// zone boundary, then the open and active resources.
bool Namespace::AcceptWrite(WriteIo* io, bool from_deferred, Acks& acks) {
  Zone& z = zones_[io->zone];
  if (!from_deferred && (z.barrier != Barrier::kNone || !z.deferred.empty())) {
    z.deferred.push_back({.io = io});
    return false;
  }
  const char* what = io->append ? "Zone Append" : "Write";
  const uint64_t zslba = Zslba(io->zone);
  if (NvmeStatus s = WriteStateStatus(z.state); !s.ok()) {
    Refuse(io,
           Refusal(s, absl::StrFormat("%s at LBA %u: zone %u (LBA %u) is %s", what, io->lba,
                                      io->zone, zslba, ZoneStateName(z.state))),
           acks);
    return false;
  }
  const uint32_t start = z.swp;
  if (!io->append && io->lba - zslba != start) {
    Refuse(io,
           Refusal(ZoneStatus(sc::kZoneInvalidWrite),
                   absl::StrFormat("Write at LBA %u: the write pointer of zone %u (counting the "
                                   "writes in flight) is LBA %u",
                                   io->lba, io->zone, zslba + start)),
           acks);
    return false;
  }
  if (uint64_t{start} + io->count > zcap_) {
    Refuse(io,
           Refusal(ZoneStatus(sc::kZoneBoundaryError),
                   absl::StrFormat("%s of %u blocks at LBA %u: zone %u's capacity ends at LBA %u",
                                   what, io->count, zslba + start, io->zone, zslba + zcap_)),
           acks);
    return false;
  }
  // (An open zone stays as it is: the common case needs no decision.)
  const ZoneDecision d = IsOpen(z.state) ? ZoneDecision{.next = z.state}
                                         : Decide(z.state, ZoneEvent::kWrite, Resources());
  if (d.auto_close) AutoClose();
  if (!d.status.ok()) {
    Refuse(io,
           Refusal(d.status, absl::StrFormat("%s at LBA %u: opening zone %u would exceed the %u "
                                             "open and %u active zones (%u open, %u active)",
                                             what, io->lba, io->zone, geometry_.max_open_zones,
                                             geometry_.max_active_zones, open_, active_)),
           acks);
    return false;
  }
  SetZoneState(io->zone, d.next);
  io->gen = z.gen;
  io->start = start;
  z.swp += io->count;
  z.ios.push_back(io);
  ++z.unsubmitted;
  // Queued for the thread submitting this zone's writes, if there is one (its compare-and-
  // swap then fails and it takes this one too). Only that thread's compare-and-swap changes
  // the word without the lock, so when it shows no such thread there is none.
  std::atomic<uint32_t>& drain = drain_[io->zone];
  if ((drain.load(std::memory_order_acquire) & kDraining) == 0) return true;
  return (drain.fetch_add(1, std::memory_order_acq_rel) & kDraining) == 0;
}

void Namespace::OpDone(OpGroup* op, const absl::Status& s, Acks& acks) {
  if (!s.ok() && op->status.ok()) op->status = Detached(s);
  if (--op->pending == 0) acks.groups.push_back(op);
}

void Namespace::AcceptOp(uint32_t zone, OpGroup* op, bool from_deferred, Acks& acks) {
  Zone& z = zones_[zone];
  if (!from_deferred && (z.barrier != Barrier::kNone || !z.deferred.empty())) {
    z.deferred.push_back({.op = op});
    return;
  }
  if (op->stopped || (op->all && !SelectedByAll(op->action, z.state))) {
    return OpDone(op, absl::OkStatus(), acks);
  }
  const ZoneDecision d = Decide(z.state, EventOf(op->action), Resources());
  if (d.auto_close) AutoClose();
  if (!d.status.ok()) {
    op->stopped = true;
    return OpDone(
        op,
        Refusal(d.status, absl::StrFormat("Zone Management Send %s of zone %u (LBA %u, %s)",
                                          ZoneActionName(op->action), zone, Zslba(zone),
                                          ZoneStateName(z.state))),
        acks);
  }
  const ZoneState from = z.state;
  SetZoneState(zone, d.next);
  if (op->action == ZoneAction::kFinish && from != ZoneState::kFull) {
    // Acknowledged once the super block is closed (or the zone's finish marker written).
    z.barrier = Barrier::kFinish;
    z.barrier_started = false;
    z.barrier_waiters.push_back(op);
    acks.kick.push_back(zone);
    return;
  }
  if (op->action == ZoneAction::kReset &&
      (from != ZoneState::kEmpty || z.sb_state != SbState::kNone || !z.ios.empty())) {
    // A new generation: writes still in flight belong to the old one and no longer move the
    // write pointer. Acknowledged once the old super block is released.
    ++z.gen;
    z.wp = z.swp = 0;
    z.broken = false;
    z.attributes = 0;
    if (z.sb_state != SbState::kNone || !z.ios.empty()) {
      z.barrier = Barrier::kReset;
      z.barrier_started = false;
      z.barrier_waiters.push_back(op);
      acks.kick.push_back(zone);
      return;
    }
  }
  OpDone(op, absl::OkStatus(), acks);
}

// ---- completion bookkeeping ------------------------------------------------------------------

void Namespace::PopCompleted(uint32_t zone, Acks& acks) {
  Zone& z = zones_[zone];
  while (!z.ios.empty() && z.ios.front()->finished) {
    WriteIo* io = z.ios.front();
    z.ios.pop_front();
    if (io->gen == z.gen && io->status.ok()) {
      if (z.broken && io->start >= z.broken_at) {
        io->status = Refusal(GenericStatus(sc::kInternalError),
                             absl::StrFormat("Write at LBA %u: an earlier write to zone %u failed, "
                                             "so this one was not kept (the zone is finished)",
                                             Zslba(zone) + io->start, zone));
      } else {
        z.wp = io->start + io->count;
        if (z.wp == zcap_) Filled(zone, acks);
      }
    }
    acks.ios.push_back(io);
  }
}

// A write of the zone's current generation failed. When nothing of it reached the device and
// nothing was reserved after it, the zone goes on as if it had not been accepted; otherwise
// later writes are (or will be) misplaced, and the zone is finished at what completed before.
void Namespace::WriteFailed(uint32_t zone, WriteIo* io) {
  Zone& z = zones_[zone];
  if (!z.broken && !io->landed && z.unsubmitted == 0 && !z.ios.empty() && z.ios.back() == io &&
      z.swp == io->start + io->count) {
    z.swp = io->start;
    return;
  }
  Break(zone, io->start);
}

void Namespace::Break(uint32_t zone, uint32_t at) {
  Zone& z = zones_[zone];
  if (z.broken) {
    z.broken_at = std::min(z.broken_at, at);
    return;
  }
  z.broken = true;
  z.broken_at = at;
  if (IsActive(z.state)) {
    SetZoneState(zone, ZoneState::kFull);
    z.attributes |= kZoneAttributeFinishedByController;
  }
  if (z.barrier == Barrier::kNone) {
    z.barrier = Barrier::kFinish;
    z.barrier_started = false;
  }
}

// The write pointer reached the zone capacity: the zone is Full (at completion, as QEMU).
void Namespace::Filled(uint32_t zone, Acks& acks) {
  Zone& z = zones_[zone];
  if (IsActive(z.state)) SetZoneState(zone, ZoneState::kFull);
  if (z.sb_state != SbState::kOpen || z.sb_gen != z.gen) return;
  if (zcap_ == geometry_.super_block_adus) {
    z.sb_state = SbState::kClosed;  // the device closed the super block when it filled
    FreeBudget(acks);
  } else if (z.barrier == Barrier::kNone) {
    z.barrier = Barrier::kFinish;  // close the super block: the rest of it stays unused
    z.barrier_started = false;
  }
}

void Namespace::CompleteBarrier(uint32_t zone, Acks& acks) {
  Zone& z = zones_[zone];
  for (OpGroup* op : z.barrier_waiters) OpDone(op, z.barrier_status, acks);
  z.barrier_waiters.clear();
  z.barrier = Barrier::kNone;
  z.barrier_started = false;
  z.marker_wanted = false;
  z.barrier_status = absl::OkStatus();
}

void Namespace::FreeBudget(Acks& acks) {
  --open_sbs_;
  if (!budget_waiters_.empty()) {
    const uint32_t waiter = budget_waiters_.front();
    budget_waiters_.pop_front();
    zones_[waiter].waiting_budget = false;
    acks.kick.push_back(waiter);
  }
}

void Namespace::FailUnsubmitted(uint32_t zone, uint64_t gen, const absl::Status& s, Acks& acks) {
  Zone& z = zones_[zone];
  uint32_t failed = 0;
  for (size_t i = z.ios.size() - z.unsubmitted; i < z.ios.size(); ++i) {
    WriteIo* io = z.ios[i];
    if (io->gen != gen) break;
    io->status = Detached(s);
    io->finished = true;
    ++failed;
    if (io->gen == z.gen) z.swp = std::min(z.swp, io->start);
  }
  z.unsubmitted -= failed;
  PopCompleted(zone, acks);
}

// ---- the pipeline ----------------------------------------------------------------------------

Step Namespace::NextStep(uint32_t zone, Acks& acks) {
  Zone& z = zones_[zone];
  // The common case, after a write completed: nothing below applies.
  if (z.unsubmitted == 0 && z.barrier == Barrier::kNone && z.deferred.empty() && !z.marker_wanted &&
      (z.sb_state == SbState::kNone || z.sb_gen == z.gen)) {
    return {};
  }
  for (;;) {
    // 1. The next accepted write, in reservation order, by one thread at a time.
    if (z.unsubmitted > 0 && (drain_[zone].load(std::memory_order_acquire) & kDraining) == 0) {
      WriteIo* io = z.ios[z.ios.size() - z.unsubmitted];
      const bool its_sb =
          z.sb_gen == io->gen && z.sb_state != SbState::kNone && z.sb_state != SbState::kReleasing;
      if (io->gen == z.gen && z.broken) {
        --z.unsubmitted;
        io->finished = true;  // PopCompleted refuses it (it is past broken_at)
        PopCompleted(zone, acks);
        continue;
      }
      if (io->gen != z.gen && !its_sb) {
        // Accepted before a Reset and never written: the reset supersedes it, as if it had
        // been written and then reset.
        --z.unsubmitted;
        io->finished = true;
        PopCompleted(zone, acks);
        continue;
      }
      if (its_sb && z.sb_state == SbState::kOpen) {
        --z.unsubmitted;
        drain_[zone].store(kDraining | z.unsubmitted, std::memory_order_release);
        const uint32_t max = geometry_.max_transfer_blocks;
        io->chunks_left = (io->count + max - 1) / max;
        io->sb_base = z.sb_base;
        Take(io->chunks_left);
        return {
            .kind = Step::Kind::kSubmit, .zone = zone, .io = io, .sb = z.sb, .sb_base = z.sb_base};
      }
      if (its_sb && (z.sb_state == SbState::kClosed || z.sb_state == SbState::kClosing)) {
        --z.unsubmitted;
        io->status = Refusal(GenericStatus(sc::kInternalError),
                             absl::StrFormat("Write at LBA %u: the super block of zone %u was "
                                             "closed by the device before the write reached it",
                                             Zslba(zone) + io->start, zone));
        io->finished = true;
        if (io->gen == z.gen) WriteFailed(zone, io);
        PopCompleted(zone, acks);
        continue;
      }
      // Otherwise it waits for its super block (allocation below).
    }
    // 2. A super block left from before a Reset: released once its writes are done.
    if ((z.sb_state == SbState::kOpen || z.sb_state == SbState::kClosed) && z.sb_gen != z.gen &&
        (z.ios.empty() || z.ios.front()->gen == z.gen)) {
      z.release_frees_budget = z.sb_state == SbState::kOpen;
      z.sb_state = SbState::kReleasing;
      Take(1);
      return {.kind = Step::Kind::kRelease, .zone = zone, .sb = z.sb};
    }
    // 3. A super block for the writes of this generation, or for a finish marker.
    const bool wanted =
        (z.unsubmitted > 0 && z.ios[z.ios.size() - z.unsubmitted]->gen == z.gen) || z.marker_wanted;
    if (z.sb_state == SbState::kNone && !z.waiting_budget && wanted) {
      if (open_sbs_ >= geometry_.max_open_super_blocks) {
        z.waiting_budget = true;
        budget_waiters_.push_back(zone);
      } else {
        ++open_sbs_;
        z.sb_state = SbState::kAllocating;
        z.sb_gen = z.gen;
        Take(1);
        return {.kind = Step::Kind::kAllocate, .zone = zone};
      }
    }
    // 4. The barrier's device work, once the zone's writes have drained.
    const bool sb_settled = z.sb_state == SbState::kNone || z.sb_state == SbState::kOpen ||
                            z.sb_state == SbState::kClosed;
    if (z.barrier != Barrier::kNone && !z.barrier_started && z.ios.empty() && sb_settled &&
        !z.waiting_budget) {
      const bool own_sb = z.sb_state != SbState::kNone && z.sb_gen == z.gen;
      if (z.barrier == Barrier::kReset) {
        if (z.sb_state == SbState::kNone || own_sb) {
          CompleteBarrier(zone, acks);
          continue;
        }
      } else if (z.wp > 0 || z.barrier_waiters.empty()) {
        // Finish of a zone with data (or by the namespace itself): close the super block.
        if (own_sb && z.sb_state == SbState::kOpen) {
          z.sb_state = SbState::kClosing;
          z.barrier_started = true;
          Take(1);
          return {.kind = Step::Kind::kClose, .zone = zone, .sb = z.sb};
        }
        CompleteBarrier(zone, acks);
        continue;
      } else if (own_sb && z.sb_state == SbState::kOpen) {
        // Finish of a zone with no data: a marker ADU keeps it Full across a restart.
        z.barrier_started = true;
        z.marker_wanted = false;
        Take(1);
        return {.kind = Step::Kind::kMarker, .zone = zone, .sb = z.sb};
      } else if (own_sb) {
        z.sb_gen = ~uint64_t{0};  // closed with no data of ours: release it (2), then allocate
        continue;
      } else if (z.sb_state == SbState::kNone && !z.marker_wanted) {
        z.marker_wanted = true;  // allocate one (3)
        continue;
      }
    }
    // 5. Commands that waited for the barrier, in arrival order.
    if (z.barrier == Barrier::kNone && !z.deferred.empty()) {
      const Deferred d = z.deferred.front();
      z.deferred.pop_front();
      if (d.io != nullptr) {
        AcceptWrite(d.io, true, acks);
      } else {
        AcceptOp(zone, d.op, true, acks);
      }
      continue;
    }
    return {};
  }
}

void Namespace::Kick(uint32_t zone) {
  Acks acks;
  Step step;
  {
    MutexLock lock(&mu_);
    step = NextStep(zone, acks);
    if (step.kind == Step::Kind::kNone && acks.empty()) return;
  }
  Continue(zone, step, acks, 0);
}

void Namespace::Continue(uint32_t zone, Step step, Acks& acks, uint32_t tokens) {
  for (;;) {
    if (step.kind != Step::Kind::kNone) Perform(step);
    tokens += RunCallbacks(acks);
    if (step.kind == Step::Kind::kNone) return Release(tokens);
    if (step.kind == Step::Kind::kSubmit) {
      // Nothing queued for this thread meanwhile: let go without the lock.
      uint32_t alone = kDraining;
      if (drain_[zone].compare_exchange_strong(alone, 0, std::memory_order_acq_rel)) {
        return Release(tokens);
      }
    }
    MutexLock lock(&mu_);
    if (step.kind == Step::Kind::kSubmit) drain_[zone].store(0, std::memory_order_release);
    step = NextStep(zone, acks);
  }
}

void Namespace::Perform(const Step& step) {
  const uint32_t zone = step.zone;
  switch (step.kind) {
    case Step::Kind::kNone:
      return;
    case Step::Kind::kSubmit:
      return SubmitIo(step.io, step.sb);
    case Step::Kind::kAllocate:
      return domain_->AllocateSuperBlockAsync(
          {}, [this, zone](absl::StatusOr<hal::SuperBlockAllocation> r) {
            AllocateDone(zone, std::move(r));
          });
    case Step::Kind::kClose:
      return domain_->CloseSuperBlockAsync(
          step.sb, [this, zone](absl::StatusOr<bool> r) { CloseDone(zone, r.status()); });
    case Step::Kind::kRelease:
      return domain_->ReleaseSuperBlockAsync(
          step.sb, [this, zone](absl::Status s) { ReleaseDone(zone, std::move(s)); });
    case Step::Kind::kMarker: {
      static const iovec kZeroIov{zero_block, sizeof(zero_block)};
      const SuperBlockId sb = step.sb;
      return domain_->WriteAsync(
          {.target = sb, .start = FinishMarkerAddress(Zslba(zone)), .data = {&kZeroIov, 1}},
          [this, zone, sb](absl::StatusOr<hal::WriteResult> r) {
            MarkerDone(zone, sb, r.status());
          });
    }
  }
}

// ---- device completions of the pipeline ------------------------------------------------------

void Namespace::Completed(uint32_t zone, absl::FunctionRef<void(Zone&, Acks&)> record) {
  Acks acks;
  Step step;
  {
    MutexLock lock(&mu_);
    record(zones_[zone], acks);
    step = NextStep(zone, acks);
  }
  Continue(zone, step, acks, 1);
}

void Namespace::AllocateDone(uint32_t zone, absl::StatusOr<hal::SuperBlockAllocation> r) {
  Completed(zone, [&](Zone& z, Acks& acks) {
    mu_.AssertHeld();
    if (r.ok()) {
      z.sb = r->id;
      z.sb_base = r->address.raw();
      z.sb_state = SbState::kOpen;
      zone_of_sb_[r->id.value()] = zone;
      if (r->capacity_adus >= zcap_) return;
      // Never with the Perfect defect strategy. The super block goes back (NextStep, 2).
      r = Refusal(GenericStatus(sc::kInternalError),
                  absl::StrFormat("zone %u: super block %u holds %u ADUs, fewer than the zone "
                                  "capacity %u",
                                  zone, z.sb.value(), r->capacity_adus, zcap_));
    } else {
      z.sb_state = SbState::kNone;
      FreeBudget(acks);
    }
    FailUnsubmitted(zone, z.sb_gen, r.status(), acks);
    if (z.marker_wanted && z.sb_gen == z.gen) {
      z.barrier_status = Detached(r.status());
      CompleteBarrier(zone, acks);
    }
    if (z.sb_state == SbState::kOpen) z.sb_gen = ~uint64_t{0};
  });
}

void Namespace::CloseDone(uint32_t zone, absl::Status s) {
  Completed(zone, [&](Zone& z, Acks& acks) {
    mu_.AssertHeld();
    if (s.ok()) {
      z.sb_state = SbState::kClosed;
      FreeBudget(acks);
    } else {
      z.sb_state = SbState::kOpen;  // still open on the device: a Reset releases it
    }
    if (z.barrier == Barrier::kFinish && z.barrier_started) {
      if (!s.ok() && z.barrier_status.ok()) z.barrier_status = std::move(s);
      CompleteBarrier(zone, acks);
    }
  });
}

void Namespace::ReleaseDone(uint32_t zone, absl::Status s) {
  Completed(zone, [&](Zone& z, Acks& acks) {
    mu_.AssertHeld();
    // Forgotten even when the release failed: Mount finds such a super block again (and
    // keeps the newer of two for one zone).
    zone_of_sb_.erase(z.sb.value());
    z.sb_state = SbState::kNone;
    if (z.release_frees_budget) FreeBudget(acks);
    if (!s.ok() && z.barrier != Barrier::kNone && z.barrier_status.ok()) {
      z.barrier_status = std::move(s);
    }
  });
}

void Namespace::MarkerDone(uint32_t zone, SuperBlockId sb, absl::Status s) {
  {
    MutexLock lock(&mu_);
    Zone& z = zones_[zone];
    // Closed even when the marker failed: whatever reached the super block stays readable
    // as written, and an SB with nothing in it is released at the next Mount.
    if (!s.ok() && z.barrier_status.ok()) z.barrier_status = std::move(s);
    z.sb_state = SbState::kClosing;
    Take(1);
  }
  domain_->CloseSuperBlockAsync(
      sb, [this, zone](absl::StatusOr<bool> r) { CloseDone(zone, r.status()); });
  Release(1);
}

void Namespace::OnNotification(const hal::Notification& n) {
  if (n.type != hal::NotificationType::kSuperBlockClosed) return;
  Acks acks;
  Step step;
  uint32_t zone = 0;
  {
    MutexLock lock(&mu_);
    if (unmounted_) return;
    const auto it = zone_of_sb_.find(n.super_block.value());
    if (it == zone_of_sb_.end()) return;
    zone = it->second;
    Zone& z = zones_[zone];
    // Our own closes are kClosing until they complete; a fill is expected.
    if (z.sb != n.super_block || z.sb_state != SbState::kOpen) return;
    z.sb_state = SbState::kClosed;
    FreeBudget(acks);
    if (n.written_adus < geometry_.super_block_adus && z.sb_gen == z.gen && IsActive(z.state)) {
      // The device closed it before it was full (an open super block expired): the zone
      // takes no more writes. Writes in flight fail and finish it (WriteFailed).
      SetZoneState(zone, ZoneState::kFull);
      z.attributes |= kZoneAttributeFinishedByController;
    }
    Take(1);
    step = NextStep(zone, acks);
  }
  Continue(zone, step, acks, 1);
}

// ---- tokens and callbacks --------------------------------------------------------------------

absl::Status Namespace::Admit() {
  if (!unmounted_) return absl::OkStatus();
  return Refusal(
      GenericStatus(sc::kNamespaceNotReady),
      absl::StrFormat("zoned namespace on QoS domain %u is unmounted", domain_id_.value()));
}

uint32_t Namespace::RunCallbacks(Acks& acks) {
  if (acks.empty()) return 0;
  const uint32_t done = static_cast<uint32_t>(acks.ios.size() + acks.groups.size());
  {
    CallbackScope scope;
    for (WriteIo* io : acks.ios) {
      if (io->append) {
        if (io->status.ok()) {
          std::move(io->done_lba)(Lba(Zslba(io->zone) + io->start));
        } else {
          std::move(io->done_lba)(std::move(io->status));
        }
      } else {
        std::move(io->done)(std::move(io->status));
      }
      FreeWriteIo(io);
    }
    for (OpGroup* op : acks.groups) {
      std::move(op->done)(std::move(op->status));
      delete op;
    }
  }
  acks.ios.clear();
  acks.groups.clear();
  if (!acks.kick.empty()) {
    // Zones whose turn came (a super block freed): their pipelines run before this call's
    // tokens go back.
    const absl::InlinedVector<uint32_t, 2> kick = acks.kick;
    acks.kick.clear();
    for (uint32_t zone : kick) Kick(zone);
  }
  return done;
}

void Namespace::Finish(Acks& acks, uint32_t tokens) { Release(tokens + RunCallbacks(acks)); }

WriteIo* Namespace::NewWriteIo() {
  WriteIo* io = free_ios_.load(std::memory_order_acquire);
  // Pushes may race with this pop; pops do not (the lock): `io` cannot be popped and pushed
  // back meanwhile.
  while (io != nullptr &&
         !free_ios_.compare_exchange_weak(io, io->next_free, std::memory_order_acquire)) {
  }
  if (io == nullptr) return new WriteIo();
  io->status = absl::OkStatus();
  io->finished = io->landed = false;
  io->next_free = nullptr;
  return io;
}

void Namespace::FreeWriteIo(WriteIo* io) {
  io->next_free = free_ios_.load(std::memory_order_relaxed);
  while (!free_ios_.compare_exchange_weak(io->next_free, io, std::memory_order_release)) {
  }
}

// ---- zone management -------------------------------------------------------------------------

void Namespace::ZoneManagementSend(ZoneAction action, Lba zslba, bool all, StatusCallback done) {
  auto op = std::make_unique<OpGroup>();
  op->action = action;
  op->all = all;
  op->done = std::move(done);
  const uint32_t zone = all ? 0 : static_cast<uint32_t>(zslba.value() >> shift_);
  Acks acks;
  absl::Status refused;
  {
    MutexLock lock(&mu_);
    refused = Admit();
    if (refused.ok()) {
      Take(2);  // the command, and this call
      OpGroup* raw = op.release();
      raw->pending = all ? geometry_.zones : 1;
      if (all) {
        for (uint32_t zi = 0; zi < geometry_.zones; ++zi) AcceptOp(zi, raw, false, acks);
      } else {
        AcceptOp(zone, raw, false, acks);
      }
    }
  }
  if (!refused.ok()) {
    CallbackScope scope;
    return std::move(op->done)(std::move(refused));
  }
  Finish(acks, 1);
}

absl::StatusOr<ZoneReport> Namespace::Report(Lba start, ReportFilter filter, uint32_t max_zones,
                                             bool partial) const {
  if (start.value() >= geometry_.blocks()) {
    return Refusal(GenericStatus(sc::kLbaOutOfRange),
                   absl::StrFormat("Zone Management Receive: LBA %u is beyond the namespace's %u "
                                   "blocks",
                                   start.value(), geometry_.blocks()));
  }
  if (static_cast<uint8_t>(filter) > static_cast<uint8_t>(ReportFilter::kOffline)) {
    return Refusal(GenericStatus(sc::kInvalidField),
                   absl::StrFormat("Zone Management Receive: reporting option %u is not 0-7",
                                   static_cast<unsigned>(filter)));
  }
  ZoneReport report;
  MutexLock lock(&mu_);
  for (uint32_t zi = static_cast<uint32_t>(start.value() >> shift_); zi < geometry_.zones; ++zi) {
    const Zone& z = zones_[zi];
    if (!MatchesFilter(filter, z.state)) continue;
    if (partial && report.matching >= max_zones) break;
    ++report.matching;
    if (report.zones.size() >= max_zones) continue;
    const bool has_wp = z.state != ZoneState::kFull && z.state != ZoneState::kReadOnly &&
                        z.state != ZoneState::kOffline;
    report.zones.push_back({.state = z.state,
                            .attributes = z.attributes,
                            .capacity = zcap_,
                            .start = Lba(Zslba(zi)),
                            .write_pointer = has_wp ? Lba(Zslba(zi) + z.wp) : kNoWritePointer});
  }
  return report;
}

}  // namespace sef::zns::internal
