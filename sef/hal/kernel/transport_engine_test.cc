// The transport's submission machinery (ring, completion thread, in-flight limit, ioctl
// fallback and pairs, destruction) without an NVMe device: namespaces are mapped to files
// whose drivers answer URING_CMD and the passthrough ioctls in known ways. /dev/null
// implements uring_cmd as a no-op that succeeds (Linux 6.0+) and answers the NVMe ioctls
// with ENOTTY; a regular file answers URING_CMD with EOPNOTSUPP. No SEF semantics are
// tested here.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/requests.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/kernel/kernel_transport_for_testing.h"
#include "sef/hal/transport.h"

namespace sef::hal::kernel {
namespace {

constexpr cmd::DomainFormat kFormat{};
constexpr QosDomainId kDomain{3};

struct Buffers {
  std::vector<uint8_t> arr = std::vector<uint8_t>(sizeof(wire::AddressRequestResponse));
  std::vector<uint8_t> data = std::vector<uint8_t>(wire::kAduDataBytes);
  iovec iov{data.data(), wire::kAduDataBytes};
};

Command Far(Buffers& b, uint32_t nlwid = 1) {
  return *cmd::Encode(
      cmd::FlashAddressRequest{
          .domain = kDomain, .target = PlacementId{0}, .nlwid = nlwid, .arr = {b.arr.data(), 144}},
      kFormat);
}

Command Nlw(Buffers& b, uint32_t nlwid = 1) {
  return *cmd::Encode(
      cmd::NamelessWriteRequest{.domain = kDomain, .nlwid = nlwid, .data = {&b.iov, 1}}, kFormat);
}

std::string RegularFile() {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/namespace3";
  const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  EXPECT_GE(fd, 0);
  close(fd);
  return path;
}

std::unique_ptr<Transport> Open(const std::string& ns_path, bool force_ioctl = false) {
  absl::StatusOr<std::unique_ptr<Transport>> t = OpenKernelTransportForTesting(
      "/dev/null", 900, {{3, ns_path}}, TransportOptions{.force_ioctl = force_ioctl});
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

TransportResult SubmitAndWait(Transport& t, const Command& c) {
  std::promise<TransportResult> p;
  t.Submit(c, [&](TransportResult r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

// One command through RunAndWait, as a synchronous HAL call sends it.
TransportResult RunAndWaitOne(Transport& t, const Command& c) {
  TransportResult result;
  SyncWaiter waiter;
  t.RunAndWait(
      [&] {
        t.Submit(c, [&](TransportResult r) {
          result = std::move(r);
          waiter.Notify();
        });
      },
      waiter);
  return result;
}

std::pair<TransportResult, TransportResult> PairAndWait(Transport& t, const Command& a,
                                                        const Command& b) {
  std::promise<TransportResult> pa, pb;
  t.SubmitPair(
      a, [&](TransportResult r) { pa.set_value(std::move(r)); }, b,
      [&](TransportResult r) { pb.set_value(std::move(r)); });
  return {pa.get_future().get(), pb.get_future().get()};
}

// Counts callbacks and waits for a number of them.
class Counter {
 public:
  void Add(const TransportResult& r) {
    std::lock_guard lock(mu_);
    ++count_;
    if (!r.ok()) ++failed_;
    cv_.notify_all();
  }
  bool WaitFor(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }
  int failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
  int failed_ = 0;
};

TEST(UringEngineTest, CommandAndPairCompleteThroughTheRing) {
  std::unique_ptr<Transport> t = Open("/dev/null");
  ASSERT_NE(t, nullptr);
  Buffers b;
  const TransportResult one = SubmitAndWait(*t, Far(b));
  EXPECT_TRUE(one.ok()) << one.os;  // /dev/null's uring_cmd succeeds: the ring path ran
  auto [far, nlw] = PairAndWait(*t, Far(b, 5), Nlw(b, 5));
  EXPECT_TRUE(far.ok()) << far.os;
  EXPECT_TRUE(nlw.ok()) << nlw.os;
}

TEST(UringEngineTest, ManyThreadsBeyondTheInFlightLimit) {
  std::unique_ptr<Transport> t = Open("/dev/null");
  ASSERT_NE(t, nullptr);
  Buffers b;
  const Command far = Far(b);
  const Command nlw = Nlw(b);
  Counter counter;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 400;  // 1600 single commands + 2 * 400 pair halves
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < kPerThread; ++j) {
        t->Submit(far, [&](TransportResult r) { counter.Add(r); });
        if (j % 4 == 0) {
          t->SubmitPair(
              far, [&](TransportResult r) { counter.Add(r); }, nlw,
              [&](TransportResult r) { counter.Add(r); });
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const int expected = kThreads * (kPerThread + 2 * (kPerThread / 4));
  EXPECT_TRUE(counter.WaitFor(expected));
  EXPECT_EQ(counter.failed(), 0);
  t.reset();
  EXPECT_EQ(counter.count(), expected);  // exactly once each
}

TEST(UringEngineTest, CallbacksMaySubmitFromTheCompletionThread) {
  std::unique_ptr<Transport> t = Open("/dev/null");
  ASSERT_NE(t, nullptr);
  Buffers b;
  const Command far = Far(b);
  std::atomic<int> left{600};
  std::promise<void> done;
  // Each completion submits the next command (what a split write does with FAR/NLW pairs);
  // several chains at once keep the ring busy while the completion thread submits.
  std::function<void(TransportResult)> next = [&](TransportResult r) {
    EXPECT_TRUE(r.ok());
    const int n = --left;
    if (n == 0) done.set_value();
    if (n > 0 && n % 2 == 0) {
      t->SubmitPair(
          far, [&](TransportResult r2) { next(std::move(r2)); }, far,
          [&](TransportResult r2) { next(std::move(r2)); });
    } else if (n > 0) {
      t->Submit(far, [&](TransportResult r2) { next(std::move(r2)); });
    }
  };
  for (int i = 0; i < 4; ++i) t->Submit(far, [&](TransportResult r) { next(std::move(r)); });
  EXPECT_EQ(done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  t.reset();  // the other chains' last callbacks still use `next`
}

TEST(UringEngineTest, DestructionWaitsForEveryCallback) {
  Counter counter;
  Buffers b;
  {
    std::unique_ptr<Transport> t = Open("/dev/null");
    ASSERT_NE(t, nullptr);
    for (int i = 0; i < 300; ++i) t->Submit(Far(b), [&](TransportResult r) { counter.Add(r); });
  }
  EXPECT_EQ(counter.count(), 300);
}

// RunAndWait (the HAL's synchronous calls): the commands a caller submits inside it go to a
// ring of its own and are reaped on its thread, together with the commands their callbacks
// submit (docs/performance.md, finding 2). With the default implementation every callback
// would run on the completion thread instead.
TEST(SyncRingTest, CallbacksRunOnTheWaitingThread) {
  std::unique_ptr<Transport> t = Open("/dev/null");
  ASSERT_NE(t, nullptr);
  Buffers b;
  for (int round = 0; round < 3; ++round) {  // the ring is reused from the second round on
    std::vector<std::thread::id> where;      // only ever touched by this thread if it passes
    SyncWaiter waiter;
    t->RunAndWait(
        [&] {
          t->Submit(Far(b), [&](TransportResult r) {
            EXPECT_TRUE(r.ok()) << r.os;
            where.push_back(std::this_thread::get_id());
            t->SubmitPair(
                Far(b, 5),
                [&](TransportResult r1) {
                  EXPECT_TRUE(r1.ok()) << r1.os;
                  where.push_back(std::this_thread::get_id());
                },
                Nlw(b, 5),
                [&](TransportResult r2) {
                  EXPECT_TRUE(r2.ok()) << r2.os;
                  where.push_back(std::this_thread::get_id());
                  waiter.Notify();
                });
          });
        },
        waiter);
    // Every callback has run when RunAndWait returns, all of them on this thread.
    ASSERT_EQ(where.size(), 3u);
    for (std::thread::id id : where) EXPECT_EQ(id, std::this_thread::get_id());
  }
}

TEST(SyncRingTest, MoreCommandsThanItsRingHoldsUseTheSharedRing) {
  std::unique_ptr<Transport> t = Open("/dev/null");
  ASSERT_NE(t, nullptr);
  Buffers b;
  constexpr int kCommands = 300;
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> done{0}, here{0};
  SyncWaiter waiter;
  t->RunAndWait(
      [&] {
        for (int i = 0; i < kCommands; ++i) {
          t->Submit(Far(b), [&](TransportResult r) {
            EXPECT_TRUE(r.ok()) << r.os;
            if (std::this_thread::get_id() == caller) ++here;
            if (++done == kCommands) waiter.Notify();
          });
        }
      },
      waiter);
  EXPECT_EQ(done.load(), kCommands);
  EXPECT_GT(here.load(), 0);          // the caller's ring took some
  EXPECT_LT(here.load(), kCommands);  // the shared ring the rest
  t.reset();
  EXPECT_EQ(done.load(), kCommands);  // exactly once each
}

TEST(SyncRingTest, ManyThreadsAndDestruction) {
  Counter counter;
  Buffers b;
  constexpr int kThreads = 4;
  constexpr int kCalls = 150;
  {
    std::unique_ptr<Transport> t = Open("/dev/null");
    ASSERT_NE(t, nullptr);
    const Command far = Far(b);
    const Command nlw = Nlw(b);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        for (int j = 0; j < kCalls; ++j) {
          if ((i + j) % 3 == 0) {  // an asynchronous submission between synchronous calls
            t->Submit(far, [&](TransportResult r) { counter.Add(r); });
            continue;
          }
          SyncWaiter waiter;
          std::atomic<int> left{2};
          t->RunAndWait(
              [&] {
                t->SubmitPair(
                    far,
                    [&](TransportResult r) {
                      counter.Add(r);
                      if (--left == 0) waiter.Notify();
                    },
                    nlw,
                    [&](TransportResult r) {
                      counter.Add(r);
                      if (--left == 0) waiter.Notify();
                    });
              },
              waiter);
        }
      });
    }
    for (std::thread& th : threads) th.join();
  }
  int expected = 0;
  for (int i = 0; i < kThreads; ++i) {
    for (int j = 0; j < kCalls; ++j) expected += (i + j) % 3 == 0 ? 1 : 2;
  }
  EXPECT_EQ(counter.count(), expected);  // destruction waited for every callback, once each
  EXPECT_EQ(counter.failed(), 0);
}

// EOPNOTSUPP on the caller's ring takes the same first-use ioctl fallback as the shared ring.
TEST(SyncRingTest, FirstUseEopnotsuppRerunsByIoctl) {
  const std::string path = RegularFile();
  std::unique_ptr<Transport> t = Open(path);
  ASSERT_NE(t, nullptr);
  Buffers b;
  TransportResult far, nlw;
  SyncWaiter waiter;
  std::atomic<int> left{2};
  t->RunAndWait(
      [&] {
        t->SubmitPair(
            Far(b),
            [&](TransportResult r) {
              far = std::move(r);
              if (--left == 0) waiter.Notify();
            },
            Nlw(b),
            [&](TransportResult r) {
              nlw = std::move(r);
              if (--left == 0) waiter.Notify();
            });
      },
      waiter);
  EXPECT_TRUE(absl::StartsWith(far.os.message(), "ioctl NVME_IOCTL_IO64_CMD " + path)) << far.os;
  EXPECT_TRUE(absl::StartsWith(nlw.os.message(), "ioctl NVME_IOCTL_IO64_CMD_VEC " + path))
      << nlw.os;
  // Later synchronous calls go by ioctl from the start.
  const TransportResult one = RunAndWaitOne(*t, Far(b));
  EXPECT_TRUE(absl::StartsWith(one.os.message(), "ioctl NVME_IOCTL_IO64_CMD " + path)) << one.os;
}

TEST(SyncRingTest, ForcedIoctl) {
  std::unique_ptr<Transport> t = Open("/dev/null", /*force_ioctl=*/true);
  ASSERT_NE(t, nullptr);
  Buffers b;
  const TransportResult r = RunAndWaitOne(*t, Far(b));
  EXPECT_TRUE(absl::StartsWith(r.os.message(), "ioctl NVME_IOCTL_IO64_CMD /dev/null: ")) << r.os;
}

// A regular file refuses URING_CMD with EOPNOTSUPP: before any URING_CMD has succeeded, the
// transport re-runs the command through the ioctl and stays on the ioctl path. The caller
// sees one result: the ioctl's (ENOTTY on a regular file).
TEST(FallbackTest, FirstUseEopnotsuppRerunsSingleCommandsByIoctl) {
  const std::string path = RegularFile();
  std::unique_ptr<Transport> t = Open(path);
  ASSERT_NE(t, nullptr);
  Buffers b;
  for (int i = 0; i < 3; ++i) {
    const TransportResult r = SubmitAndWait(*t, Far(b));
    EXPECT_EQ(r.os.code(), absl::StatusCode::kInvalidArgument) << r.os;
    EXPECT_TRUE(absl::StartsWith(r.os.message(), "ioctl NVME_IOCTL_IO64_CMD " + path)) << r.os;
    EXPECT_TRUE(r.nvme.ok());
  }
  auto [far, nlw] = PairAndWait(*t, Far(b), Nlw(b));
  EXPECT_TRUE(absl::StartsWith(far.os.message(), "ioctl NVME_IOCTL_IO64_CMD " + path)) << far.os;
  EXPECT_TRUE(absl::StartsWith(nlw.os.message(), "ioctl NVME_IOCTL_IO64_CMD_VEC " + path))
      << nlw.os;
}

TEST(FallbackTest, FirstUseEopnotsuppRerunsAPairByIoctl) {
  const std::string path = RegularFile();
  std::unique_ptr<Transport> t = Open(path);
  ASSERT_NE(t, nullptr);
  Buffers b;
  auto [far, nlw] = PairAndWait(*t, Far(b), Nlw(b));
  EXPECT_TRUE(absl::StartsWith(far.os.message(), "ioctl NVME_IOCTL_IO64_CMD " + path)) << far.os;
  EXPECT_TRUE(absl::StartsWith(nlw.os.message(), "ioctl NVME_IOCTL_IO64_CMD_VEC " + path))
      << nlw.os;
}

TEST(FallbackTest, ForcedIoctl) {
  std::unique_ptr<Transport> t = Open("/dev/null", /*force_ioctl=*/true);
  ASSERT_NE(t, nullptr);
  Buffers b;
  const TransportResult r = SubmitAndWait(*t, Far(b));
  EXPECT_TRUE(absl::StartsWith(r.os.message(), "ioctl NVME_IOCTL_IO64_CMD /dev/null: ")) << r.os;
  EXPECT_TRUE(absl::StrContains(r.os.message(), "ENOTTY")) << r.os;
  Counter counter;
  for (int i = 0; i < 50; ++i) {
    t->SubmitPair(
        Far(b), [&](TransportResult r1) { counter.Add(r1); }, Nlw(b),
        [&](TransportResult r2) { counter.Add(r2); });
  }
  EXPECT_TRUE(counter.WaitFor(100));
  EXPECT_EQ(counter.failed(), 100);
}

TEST(TransportErrorsTest, UnknownNamespaceIsNotFoundAtOnce) {
  std::unique_ptr<Transport> t = Open("/dev/null");
  ASSERT_NE(t, nullptr);
  Buffers b;
  Command c = Far(b);
  c.sqe.nsid = 9;
  const TransportResult r = SubmitAndWait(*t, c);
  EXPECT_EQ(r.os.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.os.message(),
            "/dev/null: no generic device /dev/ng900n* for namespace (QoS domain) 9");
  // A pair with one unknown half sends neither.
  auto [far, nlw] = PairAndWait(*t, Far(b), c);
  EXPECT_EQ(far.os.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(nlw.os.code(), absl::StatusCode::kNotFound);
}

TEST(TransportErrorsTest, AdminCommands) {
  std::unique_ptr<Transport> t = Open("/dev/null");
  ASSERT_NE(t, nullptr);
  Command aer;
  aer.sqe.opcode = 0x0C;
  const TransportResult refused = SubmitAndWait(*t, aer);
  EXPECT_EQ(refused.os.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.os.message(), "Asynchronous Event Request")) << refused.os;

  uint8_t buffer[4096];
  const Command identify =
      *cmd::Encode(cmd::IdentifyCommandSetVectorRequest{.buffer = {buffer, sizeof(buffer)}});
  const TransportResult r = SubmitAndWait(*t, identify);
  EXPECT_TRUE(absl::StartsWith(r.os.message(), "ioctl NVME_IOCTL_ADMIN64_CMD /dev/null: ")) << r.os;

  auto [a, b] = PairAndWait(*t, identify, identify);
  EXPECT_EQ(a.os.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b.os.code(), absl::StatusCode::kInvalidArgument);
}

TEST(TransportErrorsTest, OneEventWatcher) {
  std::unique_ptr<Transport> t = Open("/dev/null");
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->WatchEvents([](const TransportEvent&) {}).ok());
  const absl::Status again = t->WatchEvents([](const TransportEvent&) {});
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(t->NamespacesChanged().ok());
}

}  // namespace
}  // namespace sef::hal::kernel
