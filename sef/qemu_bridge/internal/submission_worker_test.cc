#include "sef/qemu_bridge/internal/submission_worker.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sef/base/mutex.h"

namespace sef::qemu_bridge {
namespace {

TEST(SubmissionWorkerTest, CheapJobsRunInlineWhenIdleOthersOnTheWorker) {
  SubmissionWorker w;
  const std::thread::id self = std::this_thread::get_id();
  std::thread::id cheap_on, costly_on;
  w.Submit(true, [&] { cheap_on = std::this_thread::get_id(); });
  EXPECT_EQ(cheap_on, self);  // ran before Submit returned
  std::atomic<bool> ran{false};
  w.Submit(false, [&] {
    costly_on = std::this_thread::get_id();
    ran = true;
  });
  w.Stop();  // runs what is queued
  EXPECT_TRUE(ran);
  EXPECT_NE(costly_on, self);
}

// Jobs start in submission order whatever mix of cheap and costly, and never two at once.
TEST(SubmissionWorkerTest, KeepsOrderAndRunsOneAtATime) {
  SubmissionWorker w;
  Mutex mu;
  std::vector<int> order;
  std::atomic<int> running{0};
  std::atomic<bool> overlap{false};
  constexpr int kJobs = 2000;
  for (int i = 0; i < kJobs; ++i) {
    w.Submit(i % 3 == 0, [&, i] {
      if (running.fetch_add(1) != 0) overlap = true;
      {
        MutexLock lock(&mu);
        order.push_back(i);
      }
      if (i % 97 == 0) std::this_thread::yield();
      running.fetch_sub(1);
    });
  }
  w.Stop();
  EXPECT_FALSE(overlap);
  MutexLock lock(&mu);
  ASSERT_EQ(order.size(), size_t{kJobs});
  for (int i = 0; i < kJobs; ++i) ASSERT_EQ(order[i], i) << "job " << i << " out of order";
}

// Submitters on several threads (QEMU's main loop and iothreads): every job runs exactly once,
// one at a time; each thread's jobs in its order.
TEST(SubmissionWorkerTest, ManySubmitters) {
  SubmissionWorker w;
  constexpr int kThreads = 4, kJobs = 500;
  Mutex mu;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> running{0};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kJobs; ++i) {
        w.Submit(i % 2 == 0, [&, t, i] {
          if (running.fetch_add(1) != 0) overlap = true;
          {
            MutexLock lock(&mu);
            seen[t].push_back(i);
          }
          running.fetch_sub(1);
        });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  w.Stop();
  EXPECT_FALSE(overlap);
  MutexLock lock(&mu);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), size_t{kJobs});
    for (int i = 0; i < kJobs; ++i) ASSERT_EQ(seen[t][i], i);
  }
}

// Several threads (block disks): jobs start in submission order, up to `threads` at once, and
// a barrier runs alone: after every job before it has ended, before any job after it starts.
TEST(SubmissionWorkerTest, SeveralThreadsKeepStartOrderAndBarriers) {
  constexpr int kThreads = 4, kJobs = 3000;
  SubmissionWorker w(kThreads);
  Mutex mu;
  std::vector<int> started;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::atomic<int> ended_before_barrier{0};
  std::atomic<bool> barrier_not_alone{false};
  std::atomic<bool> started_before_barrier_ended{false};
  std::atomic<int> ended{0};
  for (int i = 0; i < kJobs; ++i) {
    const bool barrier = i % 100 == 50;
    w.Submit(
        i % 5 == 0,
        [&, i, barrier] {
          const int now = running.fetch_add(1) + 1;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          {
            MutexLock lock(&mu);
            started.push_back(i);
          }
          if (barrier) {
            if (now != 1) barrier_not_alone = true;
            // Every job submitted before it has ended.
            if (ended.load() != i) ended_before_barrier.fetch_add(1);
          } else if (i > 50) {
            // The last barrier before this job (and so every job before it) has ended.
            const int last_barrier = (i - 50 - 1) / 100 * 100 + 50;
            if (ended.load() < last_barrier + 1) started_before_barrier_ended = true;
          }
          if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
          running.fetch_sub(1);
          ended.fetch_add(1);
        },
        barrier);
  }
  w.Stop();
  EXPECT_FALSE(barrier_not_alone);
  EXPECT_EQ(ended_before_barrier.load(), 0) << "a barrier started before the jobs ahead ended";
  EXPECT_FALSE(started_before_barrier_ended);
  EXPECT_LE(most.load(), kThreads);
  EXPECT_GT(most.load(), 1) << "never two jobs at once: the threads do not run in parallel";
  // Start order between non-barrier jobs is not observable from inside them (two threads
  // take jobs i and i+1 in order, then race): each ran exactly once.
  MutexLock lock(&mu);
  std::sort(started.begin(), started.end());
  ASSERT_EQ(started.size(), size_t{kJobs});
  for (int i = 0; i < kJobs; ++i) ASSERT_EQ(started[i], i);
}

TEST(SubmissionWorkerTest, AThrowingJobIsDroppedAndTheNextRuns) {
  SubmissionWorker w;
  w.Submit(false, [] { throw std::runtime_error("boom"); });
  std::atomic<bool> ran{false};
  w.Submit(false, [&] { ran = true; });
  w.Stop();
  w.Stop();  // idempotent
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace sef::qemu_bridge
