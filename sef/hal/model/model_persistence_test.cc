// Backing-file persistence: a clean close and reopen keeps data, metadata and the whole
// device state; a second opener and a file of another configuration are refused; a corrupt
// header is reported. The crash suite kills a writer with SIGKILL mid-stream and checks that
// every completed write reads back and the device state is consistent.
#include <fcntl.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model {
namespace {

using ::testing::HasSubstr;
using testing::HoldsPattern;
using testing::ModelHarness;

std::string TempFile(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::remove(path.c_str());
  return path;
}

// A VD of all four dies (2 per SB) and one attached QoS domain, on `path`.
QosDomainId Provision(ModelHarness& h) {
  h.CreateVirtualDevice(VirtualDeviceId(1), {0, 1, 2, 3}, 2);
  return h.CreateDomain(h.DefaultSpec(VirtualDeviceId(1)));
}

std::vector<uint32_t> SuperBlockList(ModelHarness& h, QosDomainId d) {
  std::vector<uint8_t> buf(4096);
  EXPECT_TRUE(h.Admin(cmd::SuperBlockListLogRequest{d, wire::SbListOrder::kAll, 0,
                                                    cmd::MutableBytes::Of(buf)})
                  .status.ok());
  std::vector<uint32_t> ids;
  for (size_t at = 0; at + 8 <= buf.size(); at += 8) {
    wire::SbListEntry e;
    std::memcpy(&e, buf.data() + at, sizeof(e));
    if (e.sbid == wire::kSbListEnd) break;
    ids.push_back(e.sbid);
  }
  return ids;
}

std::vector<uint64_t> UserAddresses(ModelHarness& h, QosDomainId d, uint32_t sb, uint32_t n) {
  std::vector<uint64_t> uas(n);
  const Completion c = h.Admin(cmd::UserAddressListLogRequest{
      d,
      SuperBlockId(sb),
      0,
      {reinterpret_cast<uint8_t*>(uas.data()), static_cast<uint32_t>(n * 8)}});
  EXPECT_TRUE(c.status.ok()) << c.status;
  return uas;
}

// A write's data reaches the media from a scatter list cut at odd places (pieces of a few
// bytes, pieces spanning ADUs and die runs, empty pieces), on a RAM unit and on a file (the
// model writes a die's run of ADUs with one pwritev); a file unit reopened reads it again.
TEST(ModelPersistenceTest, ScatteredWriteBuffersLandInOrder) {
  for (const bool file : {false, true}) {
    SCOPED_TRACE(file ? "file" : "RAM");
    const std::string path = file ? TempFile("scattered.sef") : "";
    constexpr uint32_t kAdus = 70;  // two 64-ADU SBs of two 32-ADU die runs each
    std::vector<uint8_t> data(uint64_t{kAdus} * wire::kAduDataBytes);
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = static_cast<uint8_t>((i / wire::kAduDataBytes) * 131 + i * 7 + (i >> 13));
    }
    std::vector<iovec> iov;
    const size_t cuts[] = {1, 4095, 0, 4096 * 3 + 7, 13, 0, 4096 * 40 + 1, 2, 4096 * 20};
    size_t at = 0;
    for (size_t i = 0; at < data.size(); ++i) {
      const size_t n = std::min(cuts[i % std::size(cuts)], data.size() - at);
      iov.push_back({data.data() + at, n});
      at += n;
    }
    QosDomainId d;
    std::vector<wire::SbExtent> extents;
    const auto read_back = [&](ModelHarness& h) {
      std::vector<uint8_t> got;
      size_t offset = 0;
      for (const wire::SbExtent& e : extents) {
        ASSERT_TRUE(h.Read(FlashAddress::FromRaw(e.sfla), e.nfla, &got).status.ok());
        ASSERT_EQ(std::memcmp(got.data(), data.data() + offset, got.size()), 0)
            << "the extent at ADU " << offset / wire::kAduDataBytes;
        offset += got.size();
      }
      EXPECT_EQ(offset, data.size());
    };
    {
      ModelHarness h = ModelHarness::Open("tiny", path);
      ASSERT_TRUE(h.ok());
      d = Provision(h);
      const cmd::DomainFormat f = h.FormatOf(d);
      std::vector<uint8_t> arr_buf(sizeof(wire::AddressRequestResponse));
      const uint32_t id = h.NextPairId();
      ModelHarness::Slot far = h.SubmitAsync(
          cmd::FlashAddressRequest{d, PlacementId(0), id, 0, cmd::MutableBytes::Of(arr_buf)}, f);
      cmd::NamelessWriteRequest nlw;
      nlw.domain = d;
      nlw.target = cmd::ByPlacement{PlacementId(0)};
      nlw.start = *UserAddress::Make(Lba(500), 0x5EF);
      nlw.adus = AduCount(kAdus);
      nlw.nlwid = id;
      nlw.data = {iov.data(), static_cast<uint32_t>(iov.size())};
      const Completion c = h.Io(nlw, f);
      ASSERT_TRUE(c.status.ok()) << c.status;
      ASSERT_TRUE(far->has_value() && (*far)->status.ok());
      wire::AddressRequestResponse arr;
      std::memcpy(&arr, arr_buf.data(), sizeof(arr));
      ASSERT_EQ(arr.nsb, 2);
      extents.assign(arr.sbis, arr.sbis + arr.nsb);
      read_back(h);
    }
    if (file) {
      ModelHarness h = ModelHarness::Open("tiny", path);
      ASSERT_TRUE(h.ok());
      read_back(h);
    }
  }
}

TEST(ModelPersistenceTest, CleanCloseKeepsDataAndState) {
  const std::string path = TempFile("clean.sef");
  QosDomainId d;
  ModelHarness::Written w;
  SuperBlockId erased;
  {
    ModelHarness h = ModelHarness::Open("tiny", path);
    ASSERT_TRUE(h.ok());
    d = Provision(h);
    ASSERT_TRUE(
        h.Admin(cmd::SetRootPointerRequest{d, 3, FlashAddress::FromRaw(0xABCDEF)}).status.ok());
    w = h.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(1000), 70);
    ASSERT_TRUE(w.nlw.status.ok()) << w.nlw.status;
    ModelHarness::Erased e = h.Erase(d);
    ASSERT_TRUE(e.completion.status.ok());
    erased = e.sb;
    ASSERT_TRUE(h.Write(d, erased, Lba(5000), 5).nlw.status.ok());
  }
  ModelHarness h = ModelHarness::Open("tiny", path);
  ASSERT_TRUE(h.ok());
  const cmd::DomainFormat f = h.FormatOf(d);
  EXPECT_EQ(f.address.sb_bits, 16);
  // Root pointer, domain and VD settings.
  EXPECT_EQ(h.Admin(cmd::GetRootPointerRequest{d, 3}).result, 0xABCDEFu);
  EXPECT_EQ(h.NamespaceInfo(d).endgid, 1);
  EXPECT_EQ(h.VdInfo(VirtualDeviceId(1)).nsbdie, 2);
  // Data, metadata and user addresses.
  std::vector<uint8_t> data, meta;
  ASSERT_TRUE(
      h.Read(w.addresses[0], 64, &data, *UserAddress::Make(Lba(1000), 0x5EF), &meta).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 1000));
  EXPECT_EQ(meta[16 * 5], ModelHarness::Pattern(1005) ^ 0xFF);
  ASSERT_TRUE(h.Read(w.addresses[64], 6, &data).status.ok());
  EXPECT_TRUE(HoldsPattern(data, 1064));
  // SB states and write pointers: the first SB closed full, the second open by placement
  // with 6 ADUs, the erased one open by erase with 5.
  const SuperBlockId first = w.addresses[0].super_block(f.address);
  const SuperBlockId second = w.addresses[64].super_block(f.address);
  wire::SbInfoLog info = h.SbInfo(VirtualDeviceId(1), first);
  EXPECT_EQ(info.sbs & 0x0F, wire::kSbsClosed);
  EXPECT_EQ(info.aduptr, 64u);
  info = h.SbInfo(VirtualDeviceId(1), second);
  EXPECT_EQ(info.sbs & 0x0F, wire::kSbsOpenByPlacement);
  EXPECT_EQ(info.aduptr, 6u);
  info = h.SbInfo(VirtualDeviceId(1), erased);
  EXPECT_EQ(info.sbs & 0x0F, wire::kSbsOpenByErase);
  EXPECT_EQ(info.aduptr, 5u);
  // The placement id's open SB is still the one it appends to.
  ModelHarness::Written more = h.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(1070), 1);
  ASSERT_TRUE(more.nlw.status.ok());
  EXPECT_EQ(more.addresses[0].super_block(f.address), second);
  EXPECT_EQ(more.addresses[0].adu_offset(f.address), AduOffset(6));
}

TEST(ModelPersistenceTest, SecondOpenerIsRefused) {
  const std::string path = TempFile("locked.sef");
  ModelHarness first = ModelHarness::Open("tiny", path);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::unique_ptr<Controller>> second =
      Controller::Open({.config = testing::LoadTestUnit("tiny"), .backing_file = path});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use by another SEF model"));
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(path));
}

TEST(ModelPersistenceTest, FileOfAnotherConfigurationIsRefused) {
  const std::string path = TempFile("other.sef");
  { ASSERT_TRUE(ModelHarness::Open("tiny", path).ok()); }
  UnitConfig config = testing::LoadTestUnit("tiny");
  config.blocks_per_die *= 2;
  absl::StatusOr<std::unique_ptr<Controller>> unit =
      Controller::Open({.config = config, .backing_file = path});
  EXPECT_EQ(unit.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(unit.status().message()), HasSubstr("another unit configuration"));
}

TEST(ModelPersistenceTest, ForeignAndCorruptFilesAreReported) {
  const std::string foreign = TempFile("foreign.sef");
  std::ofstream(foreign) << "this is not a SEF model file, but it is long enough to be read";
  absl::StatusOr<std::unique_ptr<Controller>> unit =
      Controller::Open({.config = testing::LoadTestUnit("tiny"), .backing_file = foreign});
  EXPECT_EQ(unit.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(unit.status().message()), HasSubstr("not a SEF model backing file"));

  const std::string corrupt = TempFile("corrupt.sef");
  { ASSERT_TRUE(ModelHarness::Open("tiny", corrupt).ok()); }
  const int fd = open(corrupt.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const char junk = 'X';
  ASSERT_EQ(pwrite(fd, &junk, 1, 200), 1);  // inside the header's config JSON
  close(fd);
  unit = Controller::Open({.config = testing::LoadTestUnit("tiny"), .backing_file = corrupt});
  EXPECT_EQ(unit.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(unit.status().message()), HasSubstr("header CRC mismatch"));

  unit = Controller::Open(
      {.config = testing::LoadTestUnit("tiny"), .backing_file = "/nonexistent-dir/unit.sef"});
  EXPECT_EQ(unit.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unit.status().message()), HasSubstr("/nonexistent-dir/unit.sef"));
}

// ---- crash ----------------------------------------------------------------------------------

struct Report {  // one completed write, sent from the writer to the test through a pipe
  uint64_t lba;
  uint32_t adus;
  uint64_t first_address;  // writes never straddle SBs in this test (1-ADU writes)
};

[[noreturn]] void WriterChild(const std::string& path, QosDomainId d, int pipe_fd) {
  ModelHarness h = ModelHarness::Open("tiny", path);
  if (!h.ok()) _exit(2);
  // Write forever, alternating two placement ids and single-ADU writes into erased SBs, and
  // freeing the oldest closed SB now and then so the unit never fills.
  for (uint64_t lba = 0;; ++lba) {
    ModelHarness::Written w =
        h.Write(d, cmd::ByPlacement{PlacementId(static_cast<uint16_t>(lba % 2))}, Lba(lba), 1);
    if (!w.nlw.status.ok()) {
      // Out of space: free every closed SB and go on (their writes are no longer reported
      // as live; the test tolerates reads of freed data failing with "unwritten").
      std::vector<uint8_t> buf(4096);
      h.Admin(cmd::SuperBlockListLogRequest{d, wire::SbListOrder::kClosedBySbId, 0,
                                            cmd::MutableBytes::Of(buf)});
      wire::SbListEntry e;
      std::memcpy(&e, buf.data(), sizeof(e));
      if (e.sbid != wire::kSbListEnd)
        h.SuperBlockOp(d, wire::SbOperation::kFree, SuperBlockId(e.sbid));
      const Report freed{~uint64_t{0}, e.sbid, 0};
      if (write(pipe_fd, &freed, sizeof(freed)) != sizeof(freed)) _exit(3);
      continue;
    }
    const Report r{lba, 1, w.addresses[0].raw()};
    if (write(pipe_fd, &r, sizeof(r)) != sizeof(r)) _exit(3);
  }
}

TEST(ModelCrashTest, KilledWriterLosesNoCompletedWrite) {
  const std::string path = TempFile("crash.sef");
  QosDomainId d;
  {
    ModelHarness h = ModelHarness::Open("tiny", path);
    ASSERT_TRUE(h.ok());
    d = Provision(h);
  }
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      WriterChild(path, d, fds[1]);
    }
    close(fds[1]);
    // Let it complete a varying number of writes, then kill it mid-stream.
    std::vector<Report> reports;
    const size_t kill_after = 150 + 97 * round;
    Report r;
    while (reports.size() < kill_after && read(fds[0], &r, sizeof(r)) == sizeof(r)) {
      reports.push_back(r);
    }
    ASSERT_EQ(kill(child, SIGKILL), 0);
    while (read(fds[0], &r, sizeof(r)) == sizeof(r)) reports.push_back(r);  // sent before death
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited with " << WEXITSTATUS(status);
    ASSERT_GE(reports.size(), kill_after);

    ModelHarness h = ModelHarness::Open("tiny", path);
    ASSERT_TRUE(h.ok()) << "reopen after SIGKILL, round " << round;
    const cmd::DomainFormat f = h.FormatOf(d);
    // Every write that completed, and whose SB was not freed later, reads back.
    std::vector<uint32_t> freed_since;
    size_t checked = 0;
    for (size_t i = reports.size(); i-- > 0;) {
      const Report& rep = reports[i];
      if (rep.lba == ~uint64_t{0}) {
        freed_since.push_back(rep.adus);
        continue;
      }
      const FlashAddress a = FlashAddress::FromRaw(rep.first_address);
      if (std::find(freed_since.begin(), freed_since.end(), a.super_block(f.address).value()) !=
          freed_since.end()) {
        continue;
      }
      std::vector<uint8_t> data;
      const Completion c = h.Read(a, 1, &data, *UserAddress::Make(Lba(rep.lba), 0x5EF));
      ASSERT_TRUE(c.status.ok()) << "round " << round << " lost LBA " << rep.lba << " at " << a
                                 << ": " << c.status;
      ASSERT_TRUE(HoldsPattern(data, rep.lba)) << "LBA " << rep.lba;
      ++checked;
    }
    EXPECT_GT(checked, 0u);
    // Consistency: SB counts add up, and each listed SB's write pointer equals the user
    // addresses present in it, with nothing written past it.
    const wire::VdInfoLogHeader vd = h.VdInfo(VirtualDeviceId(1));
    const std::vector<uint32_t> owned = SuperBlockList(h, d);
    EXPECT_EQ(vd.sbsta.nfrsb + owned.size(), 32u);  // 4 dies / 2 per SB * 16 blocks
    EXPECT_EQ(vd.sbsta.nclsb + vd.sbsta.neosb + vd.sbsta.nwosb, owned.size());
    for (uint32_t sb : owned) {
      const wire::SbInfoLog info = h.SbInfo(VirtualDeviceId(1), SuperBlockId(sb));
      const std::vector<uint64_t> uas = UserAddresses(h, d, sb, info.cap);
      uint32_t present = 0;
      while (present < uas.size() && uas[present] != ~uint64_t{0}) ++present;
      EXPECT_EQ(present, info.aduptr) << "SB " << sb;
      for (uint32_t i = present; i < uas.size(); ++i) EXPECT_EQ(uas[i], ~uint64_t{0});
    }
    // A free SB holds no data a read could return.
    std::vector<uint8_t> one;
    for (uint32_t sb = 0; sb < 32; ++sb) {
      if (std::find(owned.begin(), owned.end(), sb) != owned.end()) continue;
      const FlashAddress a = *FlashAddress::Make(d, SuperBlockId(sb), AduOffset(0), f.address);
      EXPECT_EQ(h.Read(a, 1, &one).status, testing::Media(0x87)) << "free SB " << sb;
    }
  }
}

// Regression (found by ModelPowerLossTest's kill suite): a process killed after the last ADU of
// the write that filled an SB and before that write closed it left an open SB with no room,
// which a write into it then refused with Command Sequence Error. Recovery closes it, with the
// state-change event the write would have raised. The crash is made by hand: 63 of 64 ADUs
// written, then the 64th ADU's sequence number stored in the file.
TEST(ModelCrashTest, SuperBlockFilledByAnInterruptedWriteIsClosedAtRecovery) {
  const std::string path = TempFile("filled.sef");
  QosDomainId d;
  SuperBlockId sb;
  {
    ModelHarness h = ModelHarness::Open("tiny", path);
    d = Provision(h);  // 2 dies per SB: ADU 63 of SB 0 is die 1's last ADU of block 0
    sb = h.Erase(d, SuperBlockId(0)).sb;
    ASSERT_EQ(sb, SuperBlockId(0));
    ASSERT_TRUE(h.Write(d, sb, Lba(1), 63).nlw.status.ok());
  }
  {
    const int fd = open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint64_t adu_info_offset = 0;
    ASSERT_EQ(pread(fd, &adu_info_offset, 8, 64), 8);  // FileHeader::adu_info_offset
    const uint64_t physical = (1 * 16 + 0) * 32 + 31;  // (die * blocks + block) * 32 + 31
    const uint64_t sequence = 1000;                    // AduInfo::sequence is at byte 24
    ASSERT_EQ(pwrite(fd, &sequence, 8, adu_info_offset + physical * 32 + 24), 8);
    close(fd);
  }
  ModelHarness h = ModelHarness::Open("tiny", path);
  ASSERT_TRUE(h.ok());
  const wire::SbInfoLog info = h.SbInfo(VirtualDeviceId(1), sb);
  EXPECT_EQ(info.sbs & 0x0F, wire::kSbsClosed);
  EXPECT_EQ(info.aduptr, 64u);
  EXPECT_EQ(h.VdInfo(VirtualDeviceId(1)).sbsta.neosb, 0u);
  const ModelHarness::Slot aer = h.SubmitAer();
  ASSERT_TRUE(aer->has_value());  // the SB state-change event
  EXPECT_EQ((*aer)->result, cmd::AsyncEvent::Sef(wire::LogId::kSuperBlockInfo).ToResult());
  std::vector<uint8_t> buf(sizeof(wire::SbInfoLog));
  ASSERT_TRUE(h.Admin(cmd::SuperBlockInfoLogRequest{kPendingEventVirtualDevice, SuperBlockId(0),
                                                    false, cmd::MutableBytes::Of(buf)})
                  .status.ok());
  wire::SbInfoLog event;
  std::memcpy(&event, buf.data(), sizeof(event));
  EXPECT_EQ(event.sbid, sb.value());
  EXPECT_EQ(event.st, wire::kStEraseClosed);
  // A write into it is refused as into any closed SB.
  EXPECT_EQ(h.Write(d, sb, Lba(100), 1).nlw.status,
            testing::Generic(wire::sc::kCommandSequenceError));
}

}  // namespace
}  // namespace sef::model
