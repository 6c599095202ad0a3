// The unit's notification thread (internal/unit_events.h).
#include "sef/hal/internal/unit_events.h"

#include <cstring>

#include "sef/base/status_macros.h"
#include "sef/hal/cmd/results.h"

namespace sef::hal {

Unit::Events::Events(Unit* unit, NotificationCallback unit_callback)
    : unit_(unit), unit_callback_(std::move(unit_callback)) {}

absl::Status Unit::Events::StartIfWanted() {
  if (!unit_callback_) return absl::OkStatus();
  return Start();
}

absl::Status Unit::Events::Start() {
  MutexLock start(&start_mu_);
  if (started_) return absl::OkStatus();
  // Events left pending by an earlier user of the unit describe a past nobody listened to;
  // reading their logs with RAE = 0 consumes them, so that notifications start from now.
  if (unit_->transport_->events_need_log_reads()) DrainPendingEvents();
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  SEF_RETURN_IF_ERROR(unit_->transport_->WatchEvents([this](const TransportEvent& e) { Post(e); }));
  started_ = true;
  return absl::OkStatus();
}

void Unit::Events::DrainPendingEvents() {
  constexpr int kMaxEvents = 4096;
  for (int i = 0; i < kMaxEvents; ++i) {
    if (!unit_
             ->AdminData(
                 cmd::SuperBlockInfoLogRequest{
                     kPendingEventVirtualDevice, SuperBlockId(0), false, {}},
                 sizeof(wire::SbInfoLog), "Unit::Open")
             .ok()) {
      break;
    }
  }
  for (int i = 0; i < kMaxEvents; ++i) {
    if (!unit_
             ->AdminData(cmd::VdInfoLogRequest{kPendingEventVirtualDevice, false, {}},
                         sizeof(wire::VdInfoLogHeader) + 2 * 65536, "Unit::Open")
             .ok()) {
      break;
    }
  }
}

absl::Status Unit::Events::Subscribe(const QosDomain* owner, QosDomainId domain,
                                     AddressFormat format, NotificationCallback callback) {
  {
    MutexLock lock(&mu_);
    subscribers_[owner] = Subscriber{domain, format, std::move(callback)};
  }
  absl::Status started = Start();
  if (!started.ok()) Unsubscribe(owner);
  return started;
}

void Unit::Events::Unsubscribe(const QosDomain* owner) {
  MutexLock lock(&mu_);
  subscribers_.erase(owner);
  if (std::this_thread::get_id() == thread_id_) return;  // from its own callback
  while (delivering_to_ == owner) cv_.Wait(&mu_);
}

void Unit::Events::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void Unit::Events::LearnFormat(VirtualDeviceId vd, AddressFormat format) {
  MutexLock lock(&mu_);
  formats_[vd] = format;
}

void Unit::Events::ForgetFormats() {
  MutexLock lock(&mu_);
  formats_.clear();
}

void Unit::Events::Post(const TransportEvent& event) {
  {
    MutexLock lock(&mu_);
    if (stop_) return;
    queue_.push_back(event);
  }
  cv_.SignalAll();
}

void Unit::Events::Run() {
  {
    MutexLock lock(&mu_);
    thread_id_ = std::this_thread::get_id();
  }
  for (;;) {
    TransportEvent event;
    {
      MutexLock lock(&mu_);
      while (!stop_ && queue_.empty()) cv_.Wait(&mu_);
      if (stop_) return;
      event = queue_.front();
      queue_.pop_front();
    }
    Handle(event);
  }
}

void Unit::Events::Handle(const TransportEvent& event) {
  const cmd::AsyncEvent aen = cmd::AsyncEvent::FromResult(event.dw0);
  if (!aen.is_sef()) return;
  if (aen.log_id == static_cast<uint8_t>(wire::LogId::kSuperBlockInfo)) {
    if (event.sb_info.has_value()) return HandleSuperBlockEvent(*event.sb_info);
    // Reading with RAE = 0 consumes the event and lets the device report the next one.
    absl::StatusOr<std::vector<uint8_t>> bytes = unit_->AdminData(
        cmd::SuperBlockInfoLogRequest{kPendingEventVirtualDevice, SuperBlockId(0), false, {}},
        sizeof(wire::SbInfoLog), "notification");
    if (!bytes.ok()) return;
    wire::SbInfoLog info;
    std::memcpy(&info, bytes->data(), sizeof(info));
    return HandleSuperBlockEvent(info);
  }
  if (aen.log_id != static_cast<uint8_t>(wire::LogId::kVirtualDeviceInfo)) return;
  Notification n;
  n.type = NotificationType::kCapacityWarning;
  if (event.vd_warning.has_value()) {
    n.vd = event.vd_warning->first;
    n.critical_warning = event.vd_warning->second;
  } else {
    absl::StatusOr<std::vector<uint8_t>> bytes =
        unit_->AdminData(cmd::VdInfoLogRequest{kPendingEventVirtualDevice, false, {}},
                         sizeof(wire::VdInfoLogHeader) + 2 * 65536, "notification");
    if (!bytes.ok()) return;
    wire::VdInfoLogHeader h;
    std::memcpy(&h, bytes->data(), sizeof(h));
    n.vd = VirtualDeviceId(h.vdid);
    n.critical_warning = h.crit_warn;
  }
  if (unit_callback_) Deliver(nullptr, unit_callback_, n);
}

void Unit::Events::HandleSuperBlockEvent(const wire::SbInfoLog& info) {
  Notification n;
  n.type = info.st == wire::kStIntegrityUnknown ? NotificationType::kRequirePatrol
                                                : NotificationType::kSuperBlockClosed;
  n.vd = VirtualDeviceId(info.vdid);
  n.domain = QosDomainId(info.qosdid);
  n.super_block = SuperBlockId(info.sbid);
  n.written_adus = info.aduptr;
  std::vector<std::pair<const QosDomain*, Subscriber>> targets;
  std::optional<AddressFormat> format;
  {
    MutexLock lock(&mu_);
    for (const auto& [owner, s] : subscribers_) {
      if (s.domain == n.domain) targets.emplace_back(owner, s);
    }
    if (auto it = formats_.find(n.vd); it != formats_.end()) format = it->second;
  }
  if (targets.empty()) {
    if (!unit_callback_) return;
    if (!format.has_value()) {
      // Learns the format for the next events of this VD.
      absl::StatusOr<VirtualDeviceInfo> vd = unit_->GetVirtualDeviceInfo(n.vd);
      if (vd.ok()) format = vd->format;
    }
    if (format.has_value()) {
      n.address = FlashAddress::Make(n.domain, n.super_block, AduOffset(0), *format)
                      .value_or(FlashAddress::Null());
    }
    return Deliver(nullptr, unit_callback_, n);
  }
  for (const auto& [owner, s] : targets) {
    n.address = FlashAddress::Make(n.domain, n.super_block, AduOffset(0), s.format)
                    .value_or(FlashAddress::Null());
    Deliver(owner, s.callback, n);
  }
}

void Unit::Events::Deliver(const QosDomain* owner, const NotificationCallback& callback,
                           const Notification& n) {
  {
    MutexLock lock(&mu_);
    // Unsubscribed since the targets were chosen: not delivered.
    if (owner != nullptr && subscribers_.count(owner) == 0) return;
    delivering_to_ = owner;
  }
  callback(n);
  {
    MutexLock lock(&mu_);
    delivering_to_ = nullptr;
  }
  cv_.SignalAll();
}

}  // namespace sef::hal
