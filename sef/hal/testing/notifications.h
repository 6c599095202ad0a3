// Collects HAL notifications for a test thread to wait for.
#ifndef SEF_HAL_TESTING_NOTIFICATIONS_H_
#define SEF_HAL_TESTING_NOTIFICATIONS_H_

#include <chrono>
#include <cstddef>
#include <vector>

#include "sef/base/mutex.h"
#include "sef/hal/hal.h"

namespace sef::hal::testing {

class Notifications {
 public:
  // A callback that records into this collector. REQUIRES: the collector outlives the unit
  // or domain the callback is given to.
  NotificationCallback Callback() {
    return [this](const Notification& n) { Add(n); };
  }
  void Add(const Notification& n) {
    MutexLock lock(&mu_);
    seen_.push_back(n);
    cv_.SignalAll();
  }
  // Waits up to `timeout` for `count` notifications of `type`; returns those seen.
  std::vector<Notification> WaitFor(NotificationType type, size_t count,
                                    std::chrono::seconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(&mu_);
    for (;;) {
      std::vector<Notification> out;
      for (const Notification& n : seen_) {
        if (n.type == type) out.push_back(n);
      }
      const auto now = std::chrono::steady_clock::now();
      if (out.size() >= count || now >= deadline) return out;
      cv_.WaitWithTimeout(&mu_, deadline - now);
    }
  }
  std::vector<Notification> All() {
    MutexLock lock(&mu_);
    return seen_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::vector<Notification> seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sef::hal::testing

#endif  // SEF_HAL_TESTING_NOTIFICATIONS_H_
