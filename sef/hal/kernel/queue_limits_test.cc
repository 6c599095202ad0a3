#include "sef/hal/kernel/queue_limits.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace sef::hal::kernel {
namespace {

namespace fs = std::filesystem;

class QueueLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(std::getenv("TEST_TMPDIR")) /
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(root_ / "class/nvme/nvme3");
  }
  void Queue(const std::string& device, const std::string& max_segments) {
    fs::create_directories(root_ / "class/nvme/nvme3" / device / "queue");
    std::ofstream(root_ / "class/nvme/nvme3" / device / "queue/max_segments") << max_segments;
  }
  fs::path root_;
};

TEST_F(QueueLimitsTest, NoBlockDeviceMeansTheDriversDefault) {
  // A SEF controller: only /dev/ngNnM, no nvmeNnM with a queue.
  fs::create_directories(root_ / "class/nvme/nvme3/ng3n1");
  EXPECT_EQ(MaxSegments(3, root_), kDefaultMaxSegments);
  EXPECT_EQ(MaxSegments(9, root_), kDefaultMaxSegments);  // no such controller
}

TEST_F(QueueLimitsTest, TheSmallestQueueLimitWins) {
  Queue("nvme3n1", "127\n");
  Queue("nvme3n2", "33\n");
  Queue("nvme3n3", "garbage\n");
  Queue("nvme3n4", "0\n");
  EXPECT_EQ(MaxSegments(3, root_), 33u);
}

TEST(MaxPassthruBytesTest, OnePageLessThanTheSegments) {
  // 127 segments: 126 pages fit a buffer of any alignment (a misaligned one spans 127).
  EXPECT_EQ(MaxPassthruBytes(127, 4096), 126u * 4096);
  EXPECT_EQ(MaxPassthruBytes(2, 4096), 4096u);
  EXPECT_EQ(MaxPassthruBytes(1, 4096), 4096u);
  EXPECT_EQ(MaxPassthruBytes(0, 4096), 4096u);
}

}  // namespace
}  // namespace sef::hal::kernel
