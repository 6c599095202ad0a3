#include "sef/qemu_bridge/internal/submission_worker.h"

#include <cstdio>
#include <exception>
#include <utility>

namespace sef::qemu_bridge {

SubmissionWorker::SubmissionWorker() : thread_([this] { Loop(); }) {}

SubmissionWorker::~SubmissionWorker() { Stop(); }

void SubmissionWorker::Submit(bool cheap, Job job) {
  {
    MutexLock lock(&mu_);
    if (!cheap || running_ || !jobs_.empty()) {
      jobs_.push_back(std::move(job));
      // Only a sleeping worker needs the wake-up: one that is awake takes the job before it
      // sleeps again (a burst of submissions costs one futex wake, not one each).
      if (sleeping_) wake_.Signal();
      return;
    }
    running_ = true;  // the worker starts nothing until this job has ended
  }
  RunJob(std::move(job));
  MutexLock lock(&mu_);
  running_ = false;
  if (sleeping_ && !jobs_.empty()) wake_.Signal();
}

void SubmissionWorker::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.SignalAll();
  thread_.join();
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
    while (!stopping_ && (jobs_.empty() || running_)) {
      sleeping_ = true;
      wake_.Wait(&mu_);
      sleeping_ = false;
    }
    if (jobs_.empty() || running_) break;  // stopping, and nothing left (Stop: no inline job)
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    running_ = true;
    mu_.Unlock();
    RunJob(std::move(job));
    mu_.Lock();
    running_ = false;
  }
  mu_.Unlock();
}

}  // namespace sef::qemu_bridge
