// Turning a callback-style call into a blocking one.
//
//   absl::StatusOr<int> r = Await<absl::StatusOr<int>>(
//       [&](absl::AnyInvocable<void(absl::StatusOr<int>) &&> done) { StartAsync(std::move(done));
//       });
//
// The callback may run on any thread, before or after `start` returns; Await returns its
// argument once it has run. REQUIRES: the callback runs exactly once, and not on a thread
// that waits for this call to return (that would deadlock).
#ifndef SEF_BASE_AWAIT_H_
#define SEF_BASE_AWAIT_H_

#include <future>
#include <utility>

#include "absl/functional/any_invocable.h"

namespace sef {

template <typename T, typename Start>
T Await(Start&& start) {
  std::promise<T> promise;
  std::future<T> future = promise.get_future();
  std::forward<Start>(start)(
      absl::AnyInvocable<void(T) &&>([&promise](T value) { promise.set_value(std::move(value)); }));
  return future.get();
}

}  // namespace sef

#endif  // SEF_BASE_AWAIT_H_
