// Where a disk's submissions run: a thread of the disk's own, or the caller's thread.
//
// The layers under a disk (the block FTL, the zoned namespace) run a command on the thread
// that submits it down to the device model, which copies the data in that thread. For QEMU
// that thread is its AioContext thread (the main loop), which also emulates the device and
// takes the guest's doorbells: a 128 KiB write copied there holds up every other command
// (docs/performance.md, finding 3). Stock QEMU copies in its thread pool. So a disk hands
// large transfers and slow operations to its worker thread; small ones still run inline in
// the caller's thread (a thread hop costs more than a 4 KiB copy), but only when nothing is
// queued or running, so that every job starts in the order it was submitted (zoned writes
// at the write pointer depend on it).
//
// A worker has one thread (zoned disks: jobs also run one at a time, so a zone's writes
// reach the layer in order) or several (block disks: up to that many data transfers start
// at once, as stock QEMU's pool threads copy in parallel). A `barrier` job (a flush) starts
// only once every job submitted before it has ended, and no job submitted after it starts
// before it has ended; with one thread every job is a barrier.
//
// Thread-safety: Submit from any threads; Stop once, when no Submit is running or follows.
#ifndef SEF_QEMU_BRIDGE_INTERNAL_SUBMISSION_WORKER_H_
#define SEF_QEMU_BRIDGE_INTERNAL_SUBMISSION_WORKER_H_

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "sef/base/mutex.h"

namespace sef::qemu_bridge {

class SubmissionWorker {
 public:
  using Job = absl::AnyInvocable<void() &&>;

  // Data transfers below this many bytes are cheap enough to run inline (4 KiB random I/O);
  // 128 KiB sequential writes go to the worker.
  static constexpr uint64_t kInlineBytes = 32 * 1024;

  // Starts `threads` (>= 1) threads.
  explicit SubmissionWorker(int threads = 1);
  ~SubmissionWorker();  // Stop()
  SubmissionWorker(const SubmissionWorker&) = delete;
  SubmissionWorker& operator=(const SubmissionWorker&) = delete;

  // Runs `job` after every job submitted before it has started, and after every barrier
  // submitted before it has ended; a `barrier` job (and with one thread, every job) also
  // after every job submitted before it has ended. A `cheap` job runs here, before Submit
  // returns, when no job is queued or running; any other runs on a worker thread. A job must
  // not throw and must not call Submit; one that throws is reported on stderr and ends there
  // (what it captured is destroyed: a disk's jobs own a PendingCompletion, which then still
  // completes their operation).
  void Submit(bool cheap, Job job, bool barrier = false);

  // Runs the jobs still queued, then ends the thread. Idempotent.
  void Stop();

 private:
  struct Queued {
    Job job;
    bool barrier;
  };

  void Loop();
  // Whether the front job may start now.
  bool FrontMayStartLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void RunJob(Job job) noexcept;

  const int threads_;
  Mutex mu_;
  CondVar wake_;
  std::deque<Queued> jobs_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;  // jobs running (here or inline)
  bool barrier_running_ ABSL_GUARDED_BY(mu_) = false;
  int sleeping_ ABSL_GUARDED_BY(mu_) = 0;  // worker threads waiting in wake_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_running_;  // last: start once the members above exist
};

}  // namespace sef::qemu_bridge

#endif  // SEF_QEMU_BRIDGE_INTERNAL_SUBMISSION_WORKER_H_
