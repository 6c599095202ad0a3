#include "sef/hal/kernel/worker_pool.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "gtest/gtest.h"

namespace sef::hal::kernel {
namespace {

TEST(WorkerPoolTest, RunsTasks) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool;
    for (int i = 0; i < 20; ++i) pool.Run([&] { ++ran; });
  }  // the destructor runs whatever is queued
  EXPECT_EQ(ran.load(), 20);
}

// The shape of an ioctl pair: the first task blocks until the second has started. A
// fixed-size pool with one thread would deadlock here.
TEST(WorkerPoolTest, ABlockedTaskDoesNotHoldUpALaterOne) {
  WorkerPool pool;
  std::promise<void> second_started;
  std::shared_future<void> started = second_started.get_future().share();
  std::promise<void> first_done;
  pool.Run([&, started] {
    started.wait();
    first_done.set_value();
  });
  pool.Run([&] { second_started.set_value(); });
  EXPECT_EQ(first_done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_GE(pool.threads(), 2u);
}

TEST(WorkerPoolTest, ReusesIdleThreads) {
  WorkerPool pool;
  for (int i = 0; i < 10; ++i) {
    std::promise<void> done;
    pool.Run([&] { done.set_value(); });
    done.get_future().wait();
    // Let the thread go back to waiting before the next Run.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_LE(pool.threads(), 2u);
}

TEST(WorkerPoolTest, RunFromATask) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool;
    pool.Run([&] {
      ++ran;
      pool.Run([&] { ++ran; });
    });
  }
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace sef::hal::kernel
