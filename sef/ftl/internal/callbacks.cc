#include "sef/ftl/internal/callbacks.h"

#include <deque>
#include <string>
#include <utility>

#include "absl/strings/cord.h"

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

absl::Status OwnCopy(const absl::Status& s) {
  if (s.ok()) return absl::OkStatus();
  absl::Status copy(s.code(), std::string(s.message()));
  s.ForEachPayload([&copy](absl::string_view url, const absl::Cord& payload) {
    copy.SetPayload(url, absl::Cord(std::string(payload)));
  });
  return copy;
}

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
