#include "sef/hal/kernel/worker_pool.h"

#include <utility>

namespace sef::hal::kernel {

WorkerPool::~WorkerPool() {
  std::vector<std::thread> threads;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  // A task may still call Run and add a thread while we join, so join until none is left.
  while (true) {
    {
      MutexLock lock(&mu_);
      if (threads_.empty()) break;
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
    threads.clear();
  }
}

void WorkerPool::Run(absl::AnyInvocable<void() &&> task) {
  {
    MutexLock lock(&mu_);
    queue_.push_back(std::move(task));
    // Invariant: every queued task has a thread that will take it without running another
    // task first.
    if (queue_.size() > available_) {
      ++available_;
      threads_.emplace_back([this] { Loop(); });
    }
  }
  cv_.Signal();
}

size_t WorkerPool::threads() const {
  MutexLock lock(&mu_);
  return threads_.size();
}

void WorkerPool::Loop() {
  MutexLock lock(&mu_);
  while (true) {
    while (queue_.empty() && !stopping_) cv_.Wait(&mu_);
    if (queue_.empty()) {  // stopping, nothing left to run
      --available_;
      return;
    }
    absl::AnyInvocable<void()&&> task = std::move(queue_.front());
    queue_.pop_front();
    --available_;
    mu_.Unlock();
    std::move(task)();
    mu_.Lock();
    ++available_;
  }
}

}  // namespace sef::hal::kernel
