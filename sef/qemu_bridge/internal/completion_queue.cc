#include "sef/qemu_bridge/internal/completion_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_format.h"

namespace sef::qemu_bridge {
namespace {

// Retries a syscall interrupted by a signal; the result is deliberately unused (an eventfd
// counter cannot overflow in practice, and a read of an empty one just says EAGAIN).
template <typename F>
void Retry(F syscall) noexcept {
  while (syscall() < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<CompletionQueue>> CompletionQueue::Create() {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return absl::Status(e == EMFILE || e == ENFILE || e == ENOMEM
                            ? absl::StatusCode::kResourceExhausted
                            : absl::StatusCode::kInternal,
                        absl::StrFormat("cannot create an eventfd: %s", std::strerror(e)));
  }
  return std::shared_ptr<CompletionQueue>(new CompletionQueue(fd));
}

CompletionQueue::~CompletionQueue() {
  Close();
  close(fd_);
}

void CompletionQueue::Discard(QueuedCompletion* list) noexcept {
  while (list != nullptr) {
    QueuedCompletion* next = list->next;
    delete list;
    list = next;
  }
}

void CompletionQueue::Push(std::unique_ptr<QueuedCompletion> c) noexcept {
  QueuedCompletion* p = c.release();
  p->next = nullptr;
  {
    MutexLock lock(&mu_);
    if (!closed_) {
      if (tail_ == nullptr) {
        head_ = p;
      } else {
        tail_->next = p;
      }
      tail_ = p;
      const uint64_t one = 1;
      Retry([&] { return write(fd_, &one, sizeof(one)); });
      return;
    }
  }
  delete p;  // outside the lock: it may free a large buffer
}

size_t CompletionQueue::Pop(sef_bridge_completion* out, size_t max) noexcept {
  QueuedCompletion* taken = nullptr;
  size_t n = 0;
  {
    MutexLock lock(&mu_);
    QueuedCompletion** last = &taken;
    while (n < max && head_ != nullptr) {
      QueuedCompletion* p = head_;
      head_ = p->next;
      p->next = nullptr;
      *last = p;
      last = &p->next;
      ++n;
    }
    if (head_ == nullptr) {
      tail_ = nullptr;
      uint64_t count;
      Retry([&] { return read(fd_, &count, sizeof(count)); });
    }
  }
  // Outside the lock: freeing a large bounce buffer must not stall other threads' pushes.
  for (size_t i = 0; taken != nullptr; ++i) {
    QueuedCompletion* p = taken;
    taken = p->next;
    out[i] = sef_bridge_completion{};
    out[i].tag = p->tag;
    out[i].result = p->result;
    out[i].status = p->status;
    delete p;
  }
  return n;
}

void CompletionQueue::Close() noexcept {
  QueuedCompletion* list = nullptr;
  {
    MutexLock delivery(&delivery_mu_);
    delivery_closed_ = true;
    MutexLock lock(&mu_);
    closed_ = true;
    list = head_;
    head_ = tail_ = nullptr;
    uint64_t count;
    Retry([&] { return read(fd_, &count, sizeof(count)); });
  }
  Discard(list);
}

PendingCompletion::PendingCompletion(std::shared_ptr<CompletionQueue> queue,
                                     std::unique_ptr<QueuedCompletion> record,
                                     uint16_t status_if_dropped,
                                     std::shared_ptr<std::atomic<uint64_t>> completed)
    : queue_(std::move(queue)),
      record_(std::move(record)),
      status_if_dropped_(status_if_dropped),
      completed_(std::move(completed)) {}

PendingCompletion::~PendingCompletion() {
  if (record_ == nullptr) return;
  std::fprintf(stderr,
               "sef_bridge: operation %llu ended without a completion from its layer; "
               "completing it with status 0x%x\n",
               static_cast<unsigned long long>(record_->tag), status_if_dropped_);
  Finish(status_if_dropped_);
}

void PendingCompletion::Finish(uint16_t status, uint64_t result) noexcept {
  record_->status = status;
  record_->result = result;
  if (completed_ != nullptr) completed_->fetch_add(1, std::memory_order_relaxed);
  queue_->Push(std::move(record_));
}

}  // namespace sef::qemu_bridge
