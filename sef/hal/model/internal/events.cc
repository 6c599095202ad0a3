// Asynchronous events: SB state changes (log 0xD3) and VD critical warnings (log 0xD0),
// reported through parked Asynchronous Event Requests with NVMe's retain semantics: after an
// event of a log is reported, the next one of that log waits until the host reads the log
// with RAE = 0.
#include <algorithm>

#include "sef/hal/cmd/results.h"
#include "sef/hal/model/internal/model.h"

namespace sef::model::internal {
namespace {
constexpr size_t kMaxQueuedEvents = 4096;  // a host that never reads loses the oldest
}  // namespace

void Model::FillSbInfo(const Vd& vd, uint32_t id, uint8_t transition, wire::SbInfoLog& out) const {
  const SuperBlock& sb = vd.sbs[id];
  out = wire::SbInfoLog{};
  out.vdid = vd.id.value();
  out.st = transition;
  switch (sb.state()) {
    case SbState::kFree:
      out.sbs = wire::kSbsFree;
      break;
    case SbState::kClosed:
      out.sbs = wire::kSbsClosed;
      break;
    case SbState::kOpenByPlacement:
      out.sbs = wire::kSbsOpenByPlacement;
      break;
    case SbState::kOpenByErase:
      out.sbs = wire::kSbsOpenByErase;
      break;
  }
  if (sb.rec.flags & kSbFlagPslc) out.sbs |= wire::kSbsPslc;
  out.sbid = id;
  out.pid = sb.rec.placement_id;
  out.qosdid = sb.rec.domain;
  out.peci = static_cast<uint8_t>(std::min<uint32_t>(sb.rec.erase_count, 255));
  const uint32_t eop = options_.config.open_expiration_seconds;
  if (eop != 0 &&
      (sb.state() == SbState::kOpenByErase || sb.state() == SbState::kOpenByPlacement)) {
    const int64_t left = eop - (clock_->NowSeconds() - sb.rec.state_since_seconds);
    out.tl = static_cast<uint16_t>(std::clamp<int64_t>(left / 60, 0, 0xFFFF));
  }
  out.cap = sb.capacity;
  out.aduptr = sb.written;
  out.esn = sb.rec.erase_serial;
  out.dgid = static_cast<uint16_t>(id / options_.config.blocks_per_die);
}

uint64_t Model::AddEventObserver(EventObserver observer) {
  MutexLock lock(&observers_mu_);
  const uint64_t handle = next_observer_++;
  observers_.emplace(handle, std::move(observer));
  return handle;
}

void Model::RemoveEventObserver(uint64_t handle) {
  MutexLock lock(&observers_mu_);  // waits for a running observer
  observers_.erase(handle);
}

void Model::Notify(const ControllerEvent& e) {
  MutexLock lock(&observers_mu_);
  for (auto& [handle, observer] : observers_) observer(e);
}

void Model::RaiseSbEvent(const Vd& vd, uint32_t sb, uint8_t transition) {
  wire::SbInfoLog info;
  FillSbInfo(vd, sb, transition, info);
  {
    MutexLock lock(&events_mu_);
    if (sb_events_.size() >= kMaxQueuedEvents) sb_events_.pop_front();
    sb_events_.push_back(info);
  }
  Notify({.kind = ControllerEvent::Kind::kSuperBlock, .sb = info});
}

void Model::UpdateCriticalWarning(Vd& vd) {
  uint8_t raised = 0, mask = 0, now = 0;
  {
    MutexLock lock(&vd.mu);
    if (vd.free_list.empty()) now |= wire::kCritOutOfSuperBlocks;
    if (vd.pslc_super_blocks != 0 && vd.pslc_in_use >= vd.pslc_super_blocks) {
      now |= wire::kCritOutOfPslcSuperBlocks;
    }
    raised = now & ~vd.critical_warning;
    vd.critical_warning = now;
    mask = vd.aen_mask;
  }
  if ((raised & mask) == 0) return;
  {
    MutexLock lock(&events_mu_);
    if (std::find(vd_events_.begin(), vd_events_.end(), vd.id.value()) == vd_events_.end()) {
      vd_events_.push_back(vd.id.value());
    }
  }
  Notify({.kind = ControllerEvent::Kind::kVirtualDevice, .vd = vd.id, .critical_warning = now});
}

void Model::ParkAer(CompletionCallback done, Completions& out) {
  MutexLock lock(&events_mu_);
  if (aers_.size() >= kMaxOutstandingAers) {
    out.emplace_back(std::move(done),
                     Completion{0, NvmeStatus(1, wire::sc::kAsyncEventLimitExceeded, true)});
    return;
  }
  aers_.push_back(std::move(done));
}

void Model::DeliverEvents(Completions& out) {
  MutexLock lock(&events_mu_);
  const auto deliver = [&](bool& outstanding, bool pending,
                           wire::LogId lid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(events_mu_) {
    if (outstanding || !pending || aers_.empty()) return;
    outstanding = true;
    out.emplace_back(std::move(aers_.front()),
                     Completion{cmd::AsyncEvent::Sef(lid).ToResult(), NvmeStatus::Success()});
    aers_.pop_front();
  };
  deliver(vd_event_outstanding_, !vd_events_.empty(), wire::LogId::kVirtualDeviceInfo);
  deliver(sb_event_outstanding_, !sb_events_.empty(), wire::LogId::kSuperBlockInfo);
}

void Model::ReArmEvents(bool sb_log, Completions& out) {
  {
    MutexLock lock(&events_mu_);
    (sb_log ? sb_event_outstanding_ : vd_event_outstanding_) = false;
  }
  DeliverEvents(out);
}

std::optional<VirtualDeviceId> Model::PendingVdEvent(bool retain, Completions& out) {
  std::optional<VirtualDeviceId> vd;
  {
    MutexLock lock(&events_mu_);
    if (vd_events_.empty()) return std::nullopt;
    vd = VirtualDeviceId(vd_events_.front());
    if (retain) return vd;
    vd_events_.pop_front();
    vd_event_outstanding_ = false;
  }
  DeliverEvents(out);
  return vd;
}

std::optional<wire::SbInfoLog> Model::PendingSbEvent(bool retain, Completions& out) {
  std::optional<wire::SbInfoLog> info;
  {
    MutexLock lock(&events_mu_);
    if (sb_events_.empty()) return std::nullopt;
    info = sb_events_.front();
    if (retain) return info;
    sb_events_.pop_front();
    sb_event_outstanding_ = false;
  }
  DeliverEvents(out);
  return info;
}

}  // namespace sef::model::internal
