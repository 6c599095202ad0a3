// Unit::Events: the unit's notification thread. It receives the transport's events, turns
// each into a Notification (reading the event's log when the backend did not bring its
// contents, which also consumes it on the device), and hands it to the QosDomains that
// subscribed to its domain, or else to the unit's own callback.
#ifndef SEF_HAL_INTERNAL_UNIT_EVENTS_H_
#define SEF_HAL_INTERNAL_UNIT_EVENTS_H_

#include <deque>
#include <map>
#include <thread>
#include <vector>

#include "sef/base/mutex.h"
#include "sef/hal/hal.h"

namespace sef::hal {

class Unit::Events {
 public:
  Events(Unit* unit, NotificationCallback unit_callback);
  ~Events() { Stop(); }

  // Starts the thread and the transport's event watch when the unit has a callback.
  absl::Status StartIfWanted();
  // `owner` (a QosDomain of `domain`) receives the domain's SB events from now on; starts
  // watching if nothing did yet.
  absl::Status Subscribe(const QosDomain* owner, QosDomainId domain, AddressFormat format,
                         NotificationCallback callback);
  // After it returns, `owner`'s callback is not running (unless this is called from it) and
  // will not run again.
  void Unsubscribe(const QosDomain* owner);
  // Joins the thread; events posted afterwards are dropped.
  void Stop();

  // The address formats of VDs, for SB events of domains nobody subscribed to.
  void LearnFormat(VirtualDeviceId vd, AddressFormat format);
  void ForgetFormats();

 private:
  struct Subscriber {
    QosDomainId domain;
    AddressFormat format;
    NotificationCallback callback;
  };

  absl::Status Start();
  void DrainPendingEvents();
  void Post(const TransportEvent& event);
  void Run();
  void Handle(const TransportEvent& event);
  void HandleSuperBlockEvent(const wire::SbInfoLog& info);
  void Deliver(const QosDomain* owner, const NotificationCallback& callback, const Notification& n);

  Unit* const unit_;
  const NotificationCallback unit_callback_;

  Mutex start_mu_;  // serialises Start (never held while events are posted)
  bool started_ ABSL_GUARDED_BY(start_mu_) = false;

  Mutex mu_;
  CondVar cv_;
  std::deque<TransportEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::map<const QosDomain*, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
  const QosDomain* delivering_to_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<VirtualDeviceId, AddressFormat> formats_ ABSL_GUARDED_BY(mu_);
  std::thread::id thread_id_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace sef::hal

#endif  // SEF_HAL_INTERNAL_UNIT_EVENTS_H_
