// The completion queue (order, the eventfd's state, Close) and PendingCompletion: exactly one
// completion per accepted operation, also when its callback is dropped unfinished.
#include "sef/qemu_bridge/internal/completion_queue.h"

#include <poll.h>

#include <atomic>
#include <memory>
#include <optional>
#include <utility>

#include "gtest/gtest.h"

namespace sef::qemu_bridge {
namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

std::unique_ptr<QueuedCompletion> Record(uint64_t tag) {
  auto r = std::make_unique<QueuedCompletion>();
  r->tag = tag;
  return r;
}

class CompletionQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto q = CompletionQueue::Create();
    ASSERT_TRUE(q.ok()) << q.status();
    queue_ = *std::move(q);
  }
  // Every completion queued now.
  std::vector<sef_bridge_completion> PopAll() {
    std::vector<sef_bridge_completion> out(16);
    out.resize(queue_->Pop(out.data(), out.size()));
    return out;
  }
  std::shared_ptr<CompletionQueue> queue_;
};

TEST_F(CompletionQueueTest, PopsInOrderAndTheFdSaysWhetherAnythingWaits) {
  EXPECT_FALSE(Readable(queue_->fd()));
  queue_->Push(Record(1));
  queue_->Push(Record(2));
  EXPECT_TRUE(Readable(queue_->fd()));
  const auto got = PopAll();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].tag, 1u);
  EXPECT_EQ(got[1].tag, 2u);
  EXPECT_FALSE(Readable(queue_->fd()));
}

TEST_F(CompletionQueueTest, PushAfterCloseIsDiscarded) {
  queue_->Push(Record(1));
  queue_->Close();
  queue_->Push(Record(2));
  EXPECT_TRUE(PopAll().empty());
}

TEST_F(CompletionQueueTest, AFinishedPendingCompletionPushesOnce) {
  auto completed = std::make_shared<std::atomic<uint64_t>>(0);
  {
    PendingCompletion p(queue_, Record(7), /*status_if_dropped=*/0x6, completed);
    PendingCompletion moved = std::move(p);  // the source is empty now
    moved.Finish(0x0, 42);
  }
  const auto got = PopAll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].tag, 7u);
  EXPECT_EQ(got[0].status, 0u);
  EXPECT_EQ(got[0].result, 42u);
  EXPECT_EQ(completed->load(), 1u);
}

// Regression: a disk operation whose start threw (std::bad_alloc in the layer) used to be
// dropped with its callback, and the guest waited for it forever.
TEST_F(CompletionQueueTest, ADroppedPendingCompletionStillCompletesWithItsStatus) {
  auto completed = std::make_shared<std::atomic<uint64_t>>(0);
  {
    std::optional<PendingCompletion> p;
    p.emplace(queue_, Record(9), /*status_if_dropped=*/0x6, completed);
    auto callback = [pending = std::move(*p)](int) mutable { pending.Finish(0); };
    p.reset();  // the moved-from one pushes nothing
    EXPECT_TRUE(PopAll().empty());
    // `callback` goes out of scope without having run.
  }
  const auto got = PopAll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].tag, 9u);
  EXPECT_EQ(got[0].status, 0x6u);
  EXPECT_EQ(completed->load(), 1u);
}

}  // namespace
}  // namespace sef::qemu_bridge
