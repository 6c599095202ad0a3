// The completions a bridge handle has ready for the host, and the eventfd that says so.
// Shared by every handle type (the emulated controller, disks): library threads push, the
// host's event loop pops; the host never gets a call from the library.
#ifndef SEF_QEMU_BRIDGE_INTERNAL_COMPLETION_QUEUE_H_
#define SEF_QEMU_BRIDGE_INTERNAL_COMPLETION_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "sef/base/mutex.h"
#include "sef/qemu_bridge/sef_bridge.h"

namespace sef::qemu_bridge {

// One completion waiting in the queue. A handle type derives from it to keep what must live
// until the host has polled the completion (a bounce buffer, an iovec array); the queue owns
// it from Push until Pop (or its own destruction) deletes it.
struct QueuedCompletion {
  virtual ~QueuedCompletion() = default;
  uint64_t tag = 0;
  uint64_t result = 0;
  uint16_t status = 0;  // the 15-bit NVMe status
  QueuedCompletion* next = nullptr;
};

// Invariant (under mu_): the eventfd counter is non-zero exactly while the list is
// non-empty (Pop resets it when it empties the list).
//
// Thread-safety: Push and Pop from any threads; Push is called from completion callbacks
// (HAL, FTL, ZNS or model threads) and neither allocates nor throws. After Close, Push
// discards what it gets, so a completion that arrives after its handle was closed (a
// command parked in a shared model) touches nothing of the handle.
class CompletionQueue {
 public:
  // Errors: ResourceExhausted / Internal when no eventfd can be made.
  static absl::StatusOr<std::shared_ptr<CompletionQueue>> Create();
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;
  ~CompletionQueue();  // discards what was never polled; closes the eventfd

  int fd() const { return fd_; }

  void Push(std::unique_ptr<QueuedCompletion> c) noexcept;
  // Runs `deliver` (which copies a result into host memory) and pushes `c`, only while the
  // queue is open: once Close has returned, neither happens; Close waits for a delivery in
  // progress. `deliver` must not throw.
  template <typename Deliver>
  void DeliverIfOpen(std::unique_ptr<QueuedCompletion> c, Deliver&& deliver) noexcept {
    {
      MutexLock lock(&delivery_mu_);
      if (!delivery_closed_) {
        deliver();
        Push(std::move(c));
        return;
      }
    }
    c.reset();  // outside the lock: it may free a large buffer
  }
  // Moves up to `max` completions, oldest first, into out[0..n) and returns n.
  size_t Pop(sef_bridge_completion* out, size_t max) noexcept;
  // Discards every completion queued now or pushed later.
  void Close() noexcept;

 private:
  explicit CompletionQueue(int fd) : fd_(fd) {}
  static void Discard(QueuedCompletion* list) noexcept;

  const int fd_;
  Mutex delivery_mu_;  // taken before mu_
  bool delivery_closed_ ABSL_GUARDED_BY(delivery_mu_) = false;
  Mutex mu_;
  QueuedCompletion* head_ ABSL_GUARDED_BY(mu_) = nullptr;
  QueuedCompletion* tail_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// One accepted operation's completion, owned by the callback its layer gets: Finish pushes
// it. A PendingCompletion destroyed unfinished (a start that threw before handing the
// callback on, a layer that dropped it) still pushes it, with `status_if_dropped`, and says
// so on stderr: the host never waits forever for an operation it was told was accepted.
// Moving leaves the source empty (its destruction pushes nothing).
//
// Thread-safety: one owner at a time; Finish and the destructor push from any thread.
class PendingCompletion {
 public:
  // `completed` (optional) counts the push.
  PendingCompletion(std::shared_ptr<CompletionQueue> queue,
                    std::unique_ptr<QueuedCompletion> record, uint16_t status_if_dropped,
                    std::shared_ptr<std::atomic<uint64_t>> completed = nullptr);
  PendingCompletion(PendingCompletion&&) noexcept = default;
  PendingCompletion& operator=(PendingCompletion&&) = delete;
  ~PendingCompletion();

  // Pushes the completion with `status` (15-bit NVMe) and `result`. REQUIRES: the first
  // call on a non-empty object.
  void Finish(uint16_t status, uint64_t result = 0) noexcept;

 private:
  std::shared_ptr<CompletionQueue> queue_;
  std::unique_ptr<QueuedCompletion> record_;
  uint16_t status_if_dropped_;
  std::shared_ptr<std::atomic<uint64_t>> completed_;
};

}  // namespace sef::qemu_bridge

#endif  // SEF_QEMU_BRIDGE_INTERNAL_COMPLETION_QUEUE_H_
