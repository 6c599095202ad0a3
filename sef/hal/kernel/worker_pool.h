// A thread pool for blocking ioctls that never makes a task wait for a busy thread: Run hands
// the task to an idle thread or starts a new one. A task may therefore block until a task
// run after it has started (the first command of a FAR+NLW pair blocks in the kernel until
// the device has seen the second) without deadlock. Threads stay for reuse; the pool is as
// large as the most tasks that were ever running at once.
//
// Thread-safety: Run may be called from any thread, including from inside a task.
#ifndef SEF_HAL_KERNEL_WORKER_POOL_H_
#define SEF_HAL_KERNEL_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "sef/base/mutex.h"

namespace sef::hal::kernel {

class WorkerPool {
 public:
  WorkerPool() = default;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  // Runs every task already handed to Run, then joins the threads. REQUIRES: no Run after
  // the destructor started, other than from a task still running.
  ~WorkerPool();

  // Starts `task` on a thread that is not running another task.
  void Run(absl::AnyInvocable<void() &&> task);

  // Threads started so far (for tests).
  size_t threads() const;

 private:
  void Loop();

  mutable Mutex mu_;
  CondVar cv_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  // Threads that are waiting for a task or starting up: each will take one queued task.
  size_t available_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sef::hal::kernel

#endif  // SEF_HAL_KERNEL_WORKER_POOL_H_
