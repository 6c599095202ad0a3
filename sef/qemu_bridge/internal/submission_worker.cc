#include "sef/qemu_bridge/internal/submission_worker.h"

#include <cstdio>
#include <exception>
#include <utility>

namespace sef::qemu_bridge {

SubmissionWorker::SubmissionWorker(int threads) : threads_(threads < 1 ? 1 : threads) {
  threads_running_.reserve(threads_);
  for (int i = 0; i < threads_; ++i) threads_running_.emplace_back([this] { Loop(); });
}

SubmissionWorker::~SubmissionWorker() { Stop(); }

void SubmissionWorker::Submit(bool cheap, Job job, bool barrier) {
  {
    MutexLock lock(&mu_);
    if (!cheap || running_ != 0 || !jobs_.empty()) {
      jobs_.push_back({std::move(job), barrier || threads_ == 1});
      // Only a sleeping thread needs the wake-up: one that is awake looks at the queue before
      // it sleeps again (a burst of submissions costs one futex wake, not one each).
      if (sleeping_ != 0 && FrontMayStartLocked()) wake_.Signal();
      return;
    }
    // Runs alone, as a barrier: nothing starts until this job has ended.
    ++running_;
    barrier_running_ = true;
  }
  RunJob(std::move(job));
  MutexLock lock(&mu_);
  --running_;
  barrier_running_ = false;
  if (sleeping_ != 0 && !jobs_.empty()) wake_.SignalAll();
}

bool SubmissionWorker::FrontMayStartLocked() const {
  if (jobs_.empty() || barrier_running_ || running_ >= threads_) return false;
  return !jobs_.front().barrier || running_ == 0;
}

void SubmissionWorker::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.SignalAll();
  for (std::thread& t : threads_running_) t.join();
}

void SubmissionWorker::RunJob(Job job) noexcept {
  try {
    std::move(job)();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sef_bridge: a disk operation failed to start: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "sef_bridge: a disk operation failed to start\n");
  }
}

void SubmissionWorker::Loop() {
  mu_.Lock();
  for (;;) {
    while (!FrontMayStartLocked() && !(stopping_ && jobs_.empty())) {
      ++sleeping_;
      wake_.Wait(&mu_);
      --sleeping_;
    }
    if (jobs_.empty()) break;  // stopping, and nothing left (Stop: no inline job)
    Queued q = std::move(jobs_.front());
    jobs_.pop_front();
    ++running_;
    barrier_running_ = q.barrier;
    // Another thread may start the next job at once (it is not a barrier, this is not one).
    if (sleeping_ != 0 && FrontMayStartLocked()) wake_.Signal();
    mu_.Unlock();
    RunJob(std::move(q.job));
    mu_.Lock();
    --running_;
    if (q.barrier) barrier_running_ = false;
    // What waited for this job (a barrier waits for all; with one thread, the next job).
    if (sleeping_ != 0 && FrontMayStartLocked()) wake_.Signal();
  }
  // Let the other threads see the end too.
  wake_.SignalAll();
  mu_.Unlock();
}

}  // namespace sef::qemu_bridge
