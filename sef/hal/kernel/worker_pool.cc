#include "sef/hal/kernel/worker_pool.h"

#include <utility>

namespace sef::hal::kernel {

WorkerPool::~WorkerPool() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // A task may still call Run and add a thread while we join, so join until none is left.
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (threads_.empty()) break;
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
    threads.clear();
  }
}

void WorkerPool::Run(absl::AnyInvocable<void() &&> task) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
    // Invariant: every queued task has a thread that will take it without running another
    // task first.
    if (queue_.size() > available_) {
      ++available_;
      threads_.emplace_back([this] { Loop(); });
    }
  }
  cv_.notify_one();
}

size_t WorkerPool::threads() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

void WorkerPool::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) {  // stopping, nothing left to run
      --available_;
      return;
    }
    absl::AnyInvocable<void()&&> task = std::move(queue_.front());
    queue_.pop_front();
    --available_;
    lock.unlock();
    std::move(task)();
    lock.lock();
    ++available_;
  }
}

}  // namespace sef::hal::kernel
