// How the HAL runs its users' completion callbacks, and the rule that a synchronous HAL call
// must not be made from one (hal.h, "Completions"): on the kernel backend the callback runs
// on the one completion reaper, which a synchronous call would wait for forever. The model
// backend would not deadlock, but the rule is enforced on every backend so that code tested
// on the model behaves the same on a device.
#ifndef SEF_HAL_INTERNAL_CALLBACKS_H_
#define SEF_HAL_INTERNAL_CALLBACKS_H_

#include <optional>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "sef/hal/transport.h"

namespace sef::hal::internal {

// Marks the current thread as running a HAL completion callback for its lifetime.
class CallbackScope {
 public:
  CallbackScope();
  ~CallbackScope();
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
};

// OK, or FailedPrecondition naming `method` when called from inside a HAL completion
// callback.
absl::Status CheckSynchronousCallAllowed(const char* method);

// A synchronous HAL call: runs `start` (an ...Async call handed its callback) through
// Transport::RunAndWait and returns the callback's argument. The kernel backend then reaps
// the call's commands on the calling thread (transport.h). REQUIRES: the callback runs
// exactly once.
template <typename T, typename Start>
T AwaitOn(Transport& transport, Start&& start) {
  std::optional<T> value;
  SyncWaiter waiter;
  transport.RunAndWait(
      [&] {
        std::forward<Start>(start)(absl::AnyInvocable<void(T) &&>([&](T v) {
          value.emplace(std::move(v));
          waiter.Notify();
        }));
      },
      waiter);
  return *std::move(value);
}

}  // namespace sef::hal::internal

#endif  // SEF_HAL_INTERNAL_CALLBACKS_H_
