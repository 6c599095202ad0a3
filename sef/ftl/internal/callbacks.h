// How the FTL runs its users' callbacks and its own continuations.
//
// RunUserCallback marks the thread as inside an FTL callback while the callback runs, so
// that a synchronous FTL call made from it fails fast (Ftl::CheckSynchronousCallAllowed).
//
// Defer bounds recursion: with the model completing inline, finishing one write can start
// the next write queued behind it, whose completion starts the next, and so on. Inside a
// Defer scope further deferred work queues on the thread and runs when the outermost scope
// unwinds, so the stack depth stays constant however long the chain.
//
// OwnCopy gives a status its own representation. absl::Status shares it by a reference
// count that Debian's libabsl updates without TSAN instrumentation, so a status copied to a
// thread that waits, while the thread that made it drops the last reference later, looks
// like a race to TSAN (the HAL's completion threads do exactly that). A status handed to
// several waiters, or kept to fail later requests with, is copied with OwnCopy.
//
// Thread-safety: thread-local state only.
#ifndef SEF_FTL_INTERNAL_CALLBACKS_H_
#define SEF_FTL_INTERNAL_CALLBACKS_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "sef/ftl/ftl.h"

namespace sef::ftl::internal {

void RunUserCallback(StatusCallback done, absl::Status status);
bool InUserCallback();
// A status equal to `s` (code, message, payloads) sharing no memory with it.
absl::Status OwnCopy(const absl::Status& s);
// Runs `work` now, or after the work already running on this thread when called from inside
// deferred work.
void Defer(absl::AnyInvocable<void() &&> work);

}  // namespace sef::ftl::internal

#endif  // SEF_FTL_INTERNAL_CALLBACKS_H_
