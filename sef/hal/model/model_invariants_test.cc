// The invariant checker (testing/invariants.h) on the states the model suites reach: it holds
// through writes, copies, closes, frees and deletes, and after a backing file is reopened.
// The fuzz targets check it after every operation; here it is checked on known scenarios, so
// that a checker that disagrees with the model fails here first.
#include <string>

#include "gtest/gtest.h"
#include "sef/hal/model/testing/invariants.h"
#include "sef/hal/model/testing/io_fixture.h"

namespace sef::model {
namespace {

using testing::CheckModelInvariants;
using testing::IoTest;
using testing::kVd;
using testing::ModelHarness;

class InvariantsTest : public IoTest {
 protected:
  void ExpectHolds(const char* when) {
    const absl::Status s = CheckModelInvariants(h_.unit());
    EXPECT_TRUE(s.ok()) << when << ": " << s;
  }
};

TEST_F(InvariantsTest, HoldThroughWritesCopiesClosesFreesAndDeletes) {
  ExpectHolds("after setup");
  const ModelHarness::Written w = h_.Write(d_, cmd::ByPlacement{PlacementId(0)}, Lba(0), 70);
  ASSERT_TRUE(w.nlw.status.ok()) << w.nlw.status;
  ExpectHolds("after a write across two SBs");
  const ModelHarness::Erased e = h_.Erase(d_);
  ASSERT_TRUE(e.completion.status.ok());
  const ModelHarness::Copied c =
      h_.Copy(d_, e.sb, cmd::CopyList{{w.addresses[0], w.addresses[1], w.addresses[69]}});
  ASSERT_TRUE(c.gcr.status.ok()) << c.gcr.status;
  ExpectHolds("after a copy");
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kClose, e.sb).status.ok());
  ExpectHolds("after a close");
  ASSERT_TRUE(h_.SuperBlockOp(d_, wire::SbOperation::kFree, e.sb).status.ok());
  ExpectHolds("after a free");
  const QosDomainId other = Domain(64, 64);
  ASSERT_TRUE(h_.Write(other, cmd::ByPlacement{PlacementId(1)}, Lba(5), 3).nlw.status.ok());
  ASSERT_TRUE(h_.Admin(cmd::DeleteQosDomainRequest{d_}).status.ok());
  ExpectHolds("after deleting a domain");
}

TEST(InvariantsReopenTest, HoldAfterABackingFileIsReopened) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/unit.sef";
  {
    ModelHarness h = ModelHarness::Open("tiny", path);
    ASSERT_TRUE(h.ok());
    h.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
    const QosDomainId d = h.CreateDomain(h.DefaultSpec(kVd));
    ASSERT_TRUE(h.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(0), 80).nlw.status.ok());
    ASSERT_TRUE(h.Erase(d).completion.status.ok());  // an SB open by erase
  }
  ModelHarness h = ModelHarness::Open("tiny", path);
  ASSERT_TRUE(h.ok());
  const absl::Status s = CheckModelInvariants(h.unit());
  EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace sef::model
