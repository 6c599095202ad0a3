#include "sef/qemu_bridge/internal/submission_worker.h"

#include <atomic>
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
