// Recovery from backing files whose records carry a valid CRC but were not written by the
// model: wrong lengths, impossible values. Each is refused with DataLoss naming the file, or
// recovered without reading past a record. (Found by backing_file_fuzzer; its inputs are in
// testdata/fuzz/backing_file_fuzzer/regression-*.)
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/base/clock.h"
#include "sef/base/crc32c.h"
#include "sef/hal/model/internal/format.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model {
namespace {

using ::testing::HasSubstr;
using testing::ModelHarness;

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::string(std::getenv("TEST_TMPDIR")) + "/unit.sef";
    std::remove(path_.c_str());
    ModelHarness h = ModelHarness::Open("tiny", path_);
    ASSERT_TRUE(h.ok());
    h.CreateVirtualDevice(VirtualDeviceId(1), {0, 1, 2, 3}, 2);
    const QosDomainId d = h.CreateDomain(h.DefaultSpec(VirtualDeviceId(1)));
    ASSERT_TRUE(h.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(0), 3).nlw.status.ok());
    fd_ = open(path_.c_str(), O_RDWR);
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(pread(fd_, &header_, sizeof(header_), 0), static_cast<ssize_t>(sizeof(header_)));
  }
  void TearDown() override { close(fd_); }

  // Rewrites both slots of the record pair at `offset` with `payload`, under a valid CRC.
  void Forge(uint64_t offset, uint32_t slot_bytes, const std::vector<uint8_t>& payload) {
    for (uint64_t generation : {1, 2}) {
      internal::SlotHeader h{generation, 0, static_cast<uint32_t>(payload.size())};
      uint32_t crc = Crc32c(&h.generation, sizeof(h.generation));
      crc = Crc32c(&h.bytes, sizeof(h.bytes), crc);
      h.crc = Crc32c(payload.data(), payload.size(), crc);
      const uint64_t at = offset + (generation - 1) * slot_bytes;
      ASSERT_EQ(pwrite(fd_, &h, sizeof(h), at), static_cast<ssize_t>(sizeof(h)));
      ASSERT_EQ(pwrite(fd_, payload.data(), payload.size(), at + sizeof(h)),
                static_cast<ssize_t>(payload.size()));
    }
  }

  // The payload of the newest slot of the record pair at `offset`.
  std::vector<uint8_t> Newest(uint64_t offset, uint32_t slot_bytes) {
    std::vector<uint8_t> payload;
    uint64_t newest = 0;
    for (uint64_t slot = 0; slot < 2; ++slot) {
      internal::SlotHeader h;
      const uint64_t at = offset + slot * slot_bytes;
      EXPECT_EQ(pread(fd_, &h, sizeof(h), at), static_cast<ssize_t>(sizeof(h)));
      if (h.generation <= newest) continue;
      newest = h.generation;
      payload.resize(h.bytes);
      EXPECT_EQ(pread(fd_, payload.data(), payload.size(), at + sizeof(h)),
                static_cast<ssize_t>(payload.size()));
    }
    return payload;
  }

  absl::Status Reopen() {
    return Controller::Open({.config = testing::LoadTestUnit("tiny"), .backing_file = path_})
        .status();
  }

  std::string path_;
  int fd_ = -1;
  internal::FileHeader header_{};
};

TEST_F(RecoveryTest, RecordsOfAnotherLengthAreNotRead) {
  // A unit state record of 8 bytes: recovery used to copy a whole unit state out of it.
  Forge(header_.unit_record_offset, header_.unit_slot_bytes, std::vector<uint8_t>(8, 0x11));
  absl::Status s = Reopen();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(path_));
  EXPECT_THAT(std::string(s.message()), HasSubstr("unit state record"));
}

TEST_F(RecoveryTest, EmptySuperBlockRecordIsCorrupt) {
  Forge(header_.sb_records_offset, header_.sb_slot_bytes, {});
  const absl::Status s = Reopen();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("super block record"));
}

TEST_F(RecoveryTest, SuperBlocksOfZeroDiesAreCorrupt) {
  // The unit state as the model wrote it, with VD 1's dies per SB set to 0 (a division by
  // zero when the VD's SBs were counted).
  std::vector<uint8_t> unit = Newest(header_.unit_record_offset, header_.unit_slot_bytes);
  internal::VdSettings vd;
  ASSERT_GE(unit.size(), sizeof(internal::UnitStateHeader) + sizeof(vd));
  std::memcpy(&vd, unit.data() + sizeof(internal::UnitStateHeader), sizeof(vd));
  ASSERT_EQ(vd.vd, 1);
  vd.dies_per_sb = 0;
  std::memcpy(unit.data() + sizeof(internal::UnitStateHeader), &vd, sizeof(vd));
  Forge(header_.unit_record_offset, header_.unit_slot_bytes, unit);
  const absl::Status s = Reopen();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("super blocks of 0 dies"));
}

// A stored state-change time far in the past (INT64_MIN in a damaged record) made the open
// SB's age overflow; it is now simply old: the SB expires at the next tick.
TEST(RecoveryTimeTest, AStoredTimeFarInThePastDoesNotOverflow) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/expiry.sef";
  std::remove(path.c_str());
  UnitConfig config = testing::LoadTestUnit("tiny");
  config.open_expiration_seconds = 60;
  FakeClock clock;
  SuperBlockId sb;
  {
    ModelHarness h =
        ModelHarness::OpenWith({.config = config, .backing_file = path, .clock = &clock});
    ASSERT_TRUE(h.ok());
    h.CreateVirtualDevice(VirtualDeviceId(1), {0, 1, 2, 3}, 2);
    const QosDomainId d = h.CreateDomain(h.DefaultSpec(VirtualDeviceId(1)));
    const ModelHarness::Erased e = h.Erase(d);
    ASSERT_TRUE(e.completion.status.ok());
    sb = e.sb;
  }
  // The SB's record: at the block slot of its group's first die (dies 0-3, 2 per SB).
  const int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  internal::FileHeader header;
  ASSERT_EQ(pread(fd, &header, sizeof(header), 0), static_cast<ssize_t>(sizeof(header)));
  const uint32_t blocks = config.blocks_per_die;
  const uint64_t slot = uint64_t{sb.value() / blocks * 2} * blocks + sb.value() % blocks;
  for (uint64_t copy = 0; copy < 2; ++copy) {
    const uint64_t at = header.sb_records_offset + (2 * slot + copy) * header.sb_slot_bytes;
    internal::SlotHeader h;
    internal::SbRecord rec;
    ASSERT_EQ(pread(fd, &h, sizeof(h), at), static_cast<ssize_t>(sizeof(h)));
    if (h.generation == 0) continue;
    ASSERT_EQ(pread(fd, &rec, sizeof(rec), at + sizeof(h)), static_cast<ssize_t>(sizeof(rec)));
    rec.state_since_seconds = std::numeric_limits<int64_t>::min();
    uint32_t crc = Crc32c(&h.generation, sizeof(h.generation));
    crc = Crc32c(&h.bytes, sizeof(h.bytes), crc);
    h.crc = Crc32c(&rec, sizeof(rec), crc);
    ASSERT_EQ(pwrite(fd, &rec, sizeof(rec), at + sizeof(h)), static_cast<ssize_t>(sizeof(rec)));
    ASSERT_EQ(pwrite(fd, &h, sizeof(h), at), static_cast<ssize_t>(sizeof(h)));
  }
  close(fd);
  ModelHarness h =
      ModelHarness::OpenWith({.config = config, .backing_file = path, .clock = &clock});
  ASSERT_TRUE(h.ok());
  h.unit().Tick();
  EXPECT_EQ(h.SbInfo(VirtualDeviceId(1), sb).sbs, wire::kSbsClosed);
}

}  // namespace
}  // namespace sef::model
