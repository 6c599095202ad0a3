#include "sef/hal/internal/callbacks.h"

#include "absl/strings/str_format.h"

namespace sef::hal::internal {
namespace {
thread_local int callback_depth = 0;  // nested: a callback may complete another inline
}  // namespace

CallbackScope::CallbackScope() { ++callback_depth; }
CallbackScope::~CallbackScope() { --callback_depth; }

absl::Status CheckSynchronousCallAllowed(const char* method) {
  if (callback_depth == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s: a synchronous HAL call from inside a HAL completion callback (it would deadlock "
      "the kernel backend's completion thread); use the ...Async form",
      method));
}

}  // namespace sef::hal::internal
