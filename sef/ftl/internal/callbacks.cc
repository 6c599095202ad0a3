#include "sef/ftl/internal/callbacks.h"

#include <deque>
#include <utility>

namespace sef::ftl::internal {
namespace {

thread_local int callback_depth = 0;
thread_local bool deferring = false;
thread_local std::deque<absl::AnyInvocable<void()&&>>* deferred = nullptr;

}  // namespace

void RunUserCallback(StatusCallback done, absl::Status status) {
  ++callback_depth;
  std::move(done)(std::move(status));
  --callback_depth;
}

bool InUserCallback() { return callback_depth > 0; }

void Defer(absl::AnyInvocable<void() &&> work) {
  if (deferring) {
    deferred->push_back(std::move(work));
    return;
  }
  std::deque<absl::AnyInvocable<void() &&>> queue;
  deferring = true;
  deferred = &queue;
  std::move(work)();
  while (!queue.empty()) {
    absl::AnyInvocable<void()&&> next = std::move(queue.front());
    queue.pop_front();
    std::move(next)();
  }
  deferring = false;
  deferred = nullptr;
}

}  // namespace sef::ftl::internal
