// ModelPowerLossTest: the volatile write cache and power cuts of the device model (docs/model.md,
// "Power loss"). Focused tests pin each durability point, the off state, the trigger and the
// backing-file format; the crash suites run a mixed workload on three QoS domains and check the
// loss rule against an oracle after every cut: in-process cuts (PowerCut and CutPowerAfter, then
// PowerOn) and kill -9 of a child process working on a backing file, reopened by the test with a
// known seed. The workload and its oracle are in testing/power_loss_workload.h.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/base/crc32c.h"
#include "sef/hal/model/testing/harness.h"
#include "sef/hal/model/testing/power_loss_workload.h"

namespace sef::model {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::HoldsPattern;
using testing::ModelHarness;
using testing::PowerLoss;
using testing::power_loss::Check;
using testing::power_loss::Choose;
using testing::power_loss::Effect;
using testing::power_loss::Execute;
using testing::power_loss::kVd;
using testing::power_loss::Op;
using testing::power_loss::Oracle;
using testing::power_loss::Provision;
using testing::power_loss::Unit;

std::string TempFile(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::remove(path.c_str());
  return path;
}

ControllerOptions Options(const UnitConfig& config, const std::string& path = "",
                          std::optional<uint64_t> seed = std::nullopt) {
  ControllerOptions o;
  o.config = config;
  o.backing_file = path;
  o.power_cut_seed = seed;
  return o;
}

Completion NvmFlush(ModelHarness& h, uint32_t nsid) {
  Command c;
  c.queue = QueueType::kIo;
  c.sqe.opcode = wire::kNvmFlushOpcode;
  c.sqe.nsid = nsid;
  return h.Raw(c);
}

uint32_t WritePointer(ModelHarness& h, SuperBlockId sb) { return h.SbInfo(kVd, sb).aduptr; }

// ---- durability points ----------------------------------------------------------------------

// One SB per durability point (VD of 4 dies, 2 per SB: 64-ADU SBs of 8-ADU die pages, 16-ADU
// pSLC SBs of one page per die), each with what must survive and what was written.
struct Expect {
  SuperBlockId sb;
  uint32_t durable = 0;
  uint32_t written = 0;
};

std::vector<Expect> BuildDurabilityPoints(ModelHarness& h, uint32_t npsi) {
  const std::vector<QosDomainId> d = Provision(h, 2);
  const auto erase = [&](QosDomainId domain) { return h.Erase(domain).sb; };
  uint64_t lba = 1000;
  const auto write = [&](QosDomainId domain, cmd::WriteTarget target, uint32_t adus,
                         bool fua = false) {
    ModelHarness::Written w = h.Write(domain, target, Lba(lba), adus, fua);
    EXPECT_TRUE(w.nlw.status.ok()) << w.nlw.status;
    lba += adus;
    return w;
  };
  std::vector<Expect> out;
  // By placement, less than a page: nothing is durable.
  ModelHarness::Written w = write(d[0], cmd::ByPlacement{PlacementId(0)}, 5);
  out.push_back({w.addresses[0].super_block(h.FormatOf(d[0]).address), 0, 5});
  // Page boundary: 11 ADUs complete page 0; with npsi 2 page 0 waits for page 1.
  SuperBlockId sb = erase(d[0]);
  write(d[0], sb, 11);
  out.push_back({sb, npsi == 1 ? 8u : 0u, 11});
  // FUA: its ADUs and everything before them.
  sb = erase(d[0]);
  write(d[0], sb, 3);
  write(d[0], sb, 2, /*fua=*/true);
  write(d[0], sb, 2);
  out.push_back({sb, 5, 7});
  // Super Block Flush.
  sb = erase(d[0]);
  write(d[0], sb, 6);
  EXPECT_TRUE(h.SuperBlockOp(d[0], wire::SbOperation::kFlush, sb).status.ok());
  write(d[0], sb, 1);
  out.push_back({sb, 6, 7});
  // Close: nothing of a closed SB is lost.
  const SuperBlockId closed = erase(d[0]);
  w = write(d[0], closed, 4);
  EXPECT_TRUE(h.SuperBlockOp(d[0], wire::SbOperation::kClose, closed).status.ok());
  out.push_back({closed, 4, 4});
  // FUA copy.
  sb = erase(d[0]);
  write(d[0], sb, 3);
  EXPECT_TRUE(h.Copy(d[0], sb, cmd::CopyList{{w.addresses[0], w.addresses[1]}}, std::nullopt, 256,
                     /*fua=*/true)
                  .gcr.status.ok());
  write(d[0], sb, 1);
  out.push_back({sb, 5, 6});
  // Across the die boundary at 32: die 0's four pages are complete.
  sb = erase(d[0]);
  write(d[0], sb, 12);
  write(d[0], sb, 12);
  write(d[0], sb, 11);
  out.push_back({sb, npsi == 1 ? 32u : 24u, 35});
  // pSLC: one 8-ADU page per die.
  w = write(d[0], cmd::ByPlacement{PlacementId(1), true}, 9);
  out.push_back({w.addresses[0].super_block(h.FormatOf(d[0]).address), npsi == 1 ? 8u : 0u, 9});
  // NVM Flush on the second domain: every open SB of it.
  w = write(d[1], cmd::ByPlacement{PlacementId(0)}, 3);
  const SuperBlockId flushed = erase(d[1]);
  write(d[1], flushed, 2);
  EXPECT_TRUE(NvmFlush(h, d[1].value()).status.ok());
  write(d[1], w.addresses[0].super_block(h.FormatOf(d[1]).address), 1);
  out.push_back({w.addresses[0].super_block(h.FormatOf(d[1]).address), 3, 4});
  out.push_back({flushed, 2, 2});
  return out;
}

// Over many seeds, each SB keeps at least its durable ADUs and at most what was written, and
// both ends occur: the rule's bounds are tight.
void ExpectBoundsOverSeeds(uint32_t npsi) {
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> seen;  // SB -> (min, max) write pointer
  std::vector<Expect> expected;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kVolatile, npsi)));
    ASSERT_TRUE(h.ok());
    expected = BuildDurabilityPoints(h, npsi);
    h.unit().PowerCut(seed);
    ASSERT_FALSE(h.unit().powered());
    ASSERT_TRUE(h.unit().PowerOn().ok());
    for (const Expect& e : expected) {
      const uint32_t wp = WritePointer(h, e.sb);
      EXPECT_GE(wp, e.durable) << "SB " << e.sb << " seed " << seed;
      EXPECT_LE(wp, e.written) << "SB " << e.sb << " seed " << seed;
      auto [it, fresh] = seen.try_emplace(e.sb.value(), wp, wp);
      it->second = {std::min(it->second.first, wp), std::max(it->second.second, wp)};
    }
  }
  for (const Expect& e : expected) {
    EXPECT_EQ(seen[e.sb.value()].first, e.durable) << "SB " << e.sb << ": least kept";
    EXPECT_EQ(seen[e.sb.value()].second, e.written) << "SB " << e.sb << ": most kept";
  }
}

TEST(ModelPowerLossTest, DurabilityPointsBoundTheLoss) { ExpectBoundsOverSeeds(1); }

TEST(ModelPowerLossTest, PagesToSecureIntegrityDelaysThePageBoundary) { ExpectBoundsOverSeeds(2); }

TEST(ModelPowerLossTest, UnitWithoutCacheLosesNothing) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kNone)));
    ASSERT_TRUE(h.ok());
    const std::vector<Expect> expected = BuildDurabilityPoints(h, 1);
    h.unit().PowerCut(seed);
    EXPECT_FALSE(h.unit().powered());
    std::vector<uint8_t> buf(4096);
    EXPECT_EQ(h.Admin(cmd::IdentifyControllerRequest{cmd::MutableBytes::Of(buf)}).status,
              PowerLoss());
    ASSERT_TRUE(h.unit().PowerOn().ok());
    for (const Expect& e : expected) EXPECT_EQ(WritePointer(h, e.sb), e.written) << e.sb;
  }
}

TEST(ModelPowerLossTest, VanishedAdusReadAsUnwritten) {
  // An SB written 20 ADUs deep (16 durable by pages): after each cut, the ADUs kept read back
  // with their user address, data and metadata, and the first lost one reads as never written.
  // Seeds are tried until one loses something.
  ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kVolatile)));
  const QosDomainId d = Provision(h, 1)[0];
  const SuperBlockId sb = h.Erase(d).sb;
  ASSERT_TRUE(h.Write(d, sb, Lba(500), 20).nlw.status.ok());
  bool lost_some = false;
  for (uint64_t seed = 0; seed < 8 && !lost_some; ++seed) {
    h.unit().PowerCut(seed);
    ASSERT_TRUE(h.unit().PowerOn().ok());
    const wire::SbInfoLog info = h.SbInfo(kVd, sb);
    ASSERT_GE(info.aduptr, 16u);
    lost_some = info.aduptr < 20;
    const FlashAddress first_lost =
        *FlashAddress::Make(d, sb, AduOffset(info.aduptr), h.FormatOf(d).address);
    if (lost_some) {
      // As an ADU never written: zeros with user address all ones (docs/model.md).
      EXPECT_EQ(
          h.Read(first_lost, 1, nullptr, *UserAddress::Make(Lba(500 + info.aduptr), 0x5EF)).status,
          testing::Media(wire::sc::kCompareFailure));
      std::vector<uint8_t> lost;
      ASSERT_TRUE(h.Read(first_lost, 1, &lost).status.ok());
      EXPECT_EQ(lost, std::vector<uint8_t>(wire::kAduDataBytes, 0));
    }
    std::vector<uint8_t> data, meta;
    const FlashAddress start = *FlashAddress::Make(d, sb, AduOffset(0), h.FormatOf(d).address);
    ASSERT_TRUE(
        h.Read(start, info.aduptr, &data, *UserAddress::Make(Lba(500), 0x5EF), &meta).status.ok());
    EXPECT_TRUE(HoldsPattern(data, 500));
    EXPECT_EQ(meta[16 * (info.aduptr - 1)], ModelHarness::Pattern(500 + info.aduptr - 1) ^ 0xFF);
    // What survived a cut is durable: write the rest again for the next seed.
    if (info.aduptr < 20) {
      ASSERT_TRUE(h.Write(d, sb, Lba(500 + info.aduptr), 20 - info.aduptr).nlw.status.ok());
    }
  }
  EXPECT_TRUE(lost_some) << "no seed of 0..7 lost anything";
}

// ---- the off state, parked commands, the trigger --------------------------------------------

TEST(ModelPowerLossTest, IdentifyReportsTheWriteCache) {
  for (WriteCache cache : {WriteCache::kNone, WriteCache::kVolatile}) {
    ModelHarness h = ModelHarness::OpenWith(Options(Unit(cache)));
    std::vector<uint8_t> buf(4096);
    ASSERT_TRUE(h.Admin(cmd::IdentifyControllerRequest{cmd::MutableBytes::Of(buf)}).status.ok());
    // VWC: present, and Flush takes the broadcast NSID (bits 2:1 = 11b), as QEMU says too.
    EXPECT_EQ(buf[525], cache == WriteCache::kVolatile ? 0x07 : 0);
  }
}

TEST(ModelPowerLossTest, OffUnitAnswersPowerLossWithoutEffect) {
  ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kVolatile)));
  const QosDomainId d = Provision(h, 1)[0];
  const SuperBlockId sb = h.Erase(d).sb;
  EXPECT_FALSE(h.unit().PowerOn().ok());  // already on
  EXPECT_EQ(h.unit().PowerOn().code(), absl::StatusCode::kFailedPrecondition);
  const cmd::QosDomainSpec spec = h.DefaultSpec(kVd);
  h.unit().PowerCut(1);
  h.unit().PowerCut(2);  // off already: nothing
  ASSERT_FALSE(h.unit().powered());
  std::vector<uint8_t> payload(4096);
  EXPECT_EQ(h.Admin(cmd::CreateQosDomainRequest{spec, cmd::MutableBytes::Of(payload)}).status,
            PowerLoss());
  const ModelHarness::Written w = h.Write(d, sb, Lba(1), 2, /*fua=*/true);
  EXPECT_EQ(w.far.status, PowerLoss());
  EXPECT_EQ(w.nlw.status, PowerLoss());
  EXPECT_EQ(h.SuperBlockOp(d, wire::SbOperation::kFree, sb).status, PowerLoss());
  EXPECT_EQ(NvmFlush(h, d.value()).status, PowerLoss());
  const ModelHarness::Slot aer = h.SubmitAer();
  ASSERT_TRUE(aer->has_value());
  EXPECT_EQ((*aer)->status, PowerLoss());
  ASSERT_TRUE(h.unit().PowerOn().ok());
  EXPECT_TRUE(h.unit().powered());
  // None of it happened: one domain, the SB still open by erase and empty.
  std::vector<uint8_t> list(4096);
  ASSERT_TRUE(h.Admin(cmd::QosDomainListLogRequest{kVd, cmd::MutableBytes::Of(list)}).status.ok());
  EXPECT_EQ(list[0], 1);
  const wire::SbInfoLog info = h.SbInfo(kVd, sb);
  EXPECT_EQ(info.sbs & 0x0F, wire::kSbsOpenByErase);
  EXPECT_EQ(info.aduptr, 0u);
}

TEST(ModelPowerLossTest, CutCompletesParkedCommandsWithPowerLoss) {
  ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kVolatile)));
  const QosDomainId d = Provision(h, 1)[0];
  const SuperBlockId sb = h.Erase(d).sb;
  const ModelHarness::Slot aer = h.SubmitAer();
  std::vector<uint8_t> arr(sizeof(wire::AddressRequestResponse)), payload(4096);
  const ModelHarness::Slot far = h.SubmitAsync(
      cmd::FlashAddressRequest{d, sb, 7, 0, cmd::MutableBytes::Of(arr)}, h.FormatOf(d));
  const ModelHarness::Slot nlc = h.SubmitAsync(
      cmd::NamelessCopyRequest{
          d, sb, cmd::CopyList{{*FlashAddress::Make(d, sb, AduOffset(0), h.FormatOf(d).address)}},
          std::nullopt, 9, 0, cmd::MutableBytes::Of(payload)},
      h.FormatOf(d));
  EXPECT_FALSE(aer->has_value());
  EXPECT_FALSE(far->has_value());
  EXPECT_FALSE(nlc->has_value());
  h.unit().PowerCut(5);
  for (const ModelHarness::Slot& slot : {aer, far, nlc}) {
    ASSERT_TRUE(slot->has_value());
    EXPECT_EQ((*slot)->status, PowerLoss());
  }
}

TEST(ModelPowerLossTest, CutPowerAfterCountsEveryCommand) {
  ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kVolatile)));
  const QosDomainId d = Provision(h, 1)[0];
  std::vector<uint8_t> buf(4096);
  const cmd::IdentifyControllerRequest identify{cmd::MutableBytes::Of(buf)};
  // Three commands run, the fourth meets the cut.
  h.unit().CutPowerAfter(3, 1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(h.Admin(identify).status.ok()) << i;
  EXPECT_TRUE(h.unit().powered());
  EXPECT_EQ(h.Admin(identify).status, PowerLoss());
  EXPECT_FALSE(h.unit().powered());
  ASSERT_TRUE(h.unit().PowerOn().ok());
  // 0: the very next command.
  h.unit().CutPowerAfter(0, 1);
  EXPECT_EQ(h.Admin(identify).status, PowerLoss());
  ASSERT_TRUE(h.unit().PowerOn().ok());
  // Each half of a pair counts: the FAR runs (parks), the cut falls before its NLW.
  h.unit().CutPowerAfter(1, 1);
  const ModelHarness::Written w = h.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(1), 3, true);
  EXPECT_EQ(w.far.status, PowerLoss());
  EXPECT_EQ(w.nlw.status, PowerLoss());
  ASSERT_TRUE(h.unit().PowerOn().ok());
  EXPECT_EQ(h.NamespaceInfo(d).sbsta.nsb, 0u);  // nothing was allocated or written
  // An AER counts and parks; the cut completes it.
  h.unit().CutPowerAfter(1, 1);
  const ModelHarness::Slot aer = h.SubmitAer();
  EXPECT_FALSE(aer->has_value());
  EXPECT_EQ(h.Admin(identify).status, PowerLoss());
  ASSERT_TRUE(aer->has_value());
  EXPECT_EQ((*aer)->status, PowerLoss());
  ASSERT_TRUE(h.unit().PowerOn().ok());
  // A direct cut disarms the trigger; so does arming another.
  h.unit().CutPowerAfter(2, 1);
  h.unit().PowerCut(1);
  ASSERT_TRUE(h.unit().PowerOn().ok());
  h.unit().CutPowerAfter(1, 1);
  h.unit().CutPowerAfter(10, 1);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(h.Admin(identify).status.ok()) << i;
  EXPECT_EQ(h.Admin(identify).status, PowerLoss());
}

TEST(ModelPowerLossTest, NvmFlushNeedsAnAttachedDomain) {
  for (WriteCache cache : {WriteCache::kNone, WriteCache::kVolatile}) {
    ModelHarness h = ModelHarness::OpenWith(Options(Unit(cache)));
    const QosDomainId d = Provision(h, 1)[0];
    EXPECT_TRUE(NvmFlush(h, d.value()).status.ok());
    EXPECT_EQ(NvmFlush(h, 7).status, testing::Generic(wire::sc::kInvalidNamespace));
    EXPECT_TRUE(NvmFlush(h, 0xFFFFFFFF).status.ok());  // every attached domain
    std::vector<uint8_t> list(4096);
    ASSERT_TRUE(h.Admin(cmd::AttachQosDomainRequest{d, cmd::AttachAction::kDetach, 0,
                                                    cmd::MutableBytes::Of(list)})
                    .status.ok());
    EXPECT_EQ(NvmFlush(h, d.value()).status, testing::Generic(wire::sc::kInvalidNamespace));
  }
}

TEST(ModelPowerLossTest, BroadcastNvmFlushFlushesEveryAttachedDomain) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kVolatile)));
    const std::vector<QosDomainId> d = Provision(h, 2);
    std::vector<SuperBlockId> sbs;
    for (QosDomainId domain : d) {
      sbs.push_back(h.Erase(domain).sb);
      ASSERT_TRUE(h.Write(domain, sbs.back(), Lba(1), 3).nlw.status.ok());
    }
    EXPECT_TRUE(NvmFlush(h, 0xFFFFFFFF).status.ok());
    ASSERT_TRUE(h.Write(d[0], sbs[0], Lba(4), 2).nlw.status.ok());  // not flushed
    h.unit().PowerCut(seed);
    ASSERT_TRUE(h.unit().PowerOn().ok());
    EXPECT_GE(WritePointer(h, sbs[0]), 3u);
    EXPECT_EQ(WritePointer(h, sbs[1]), 3u);
  }
}

// ---- backing files ----------------------------------------------------------------------------

TEST(ModelPowerLossTest, CleanCloseKeepsTheVolatileTail) {
  const std::string path = TempFile("clean_volatile.sef");
  const UnitConfig config = Unit(WriteCache::kVolatile);
  QosDomainId d;
  SuperBlockId sb;
  {
    ModelHarness h = ModelHarness::OpenWith(Options(config, path));
    d = Provision(h, 1)[0];
    sb = h.Erase(d).sb;
  }
  for (uint64_t seed = 0; seed < 6; ++seed) {
    ModelHarness h = ModelHarness::OpenWith(Options(config, path, seed));
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(WritePointer(h, sb), 5 * seed);
    ASSERT_TRUE(h.Write(d, sb, Lba(100 + 5 * seed), 5).nlw.status.ok());  // never durable alone
  }
}

// A process that ends without closing its unit (here: _exit, as a kill -9) is a power cut for
// the next opener, who applies the rule with its seed: the same seed on the same file state
// gives the same result, and over the seeds both ends of the tail occur.
TEST(ModelPowerLossTest, UnitNotClosedIsCutAtTheNextOpen) {
  const UnitConfig config = Unit(WriteCache::kVolatile);
  std::map<uint32_t, int> seen;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    uint32_t kept[2] = {};
    for (int twin = 0; twin < 2; ++twin) {
      const std::string path = TempFile("unclean" + std::to_string(twin) + ".sef");
      QosDomainId d;
      SuperBlockId sb;
      {
        ModelHarness h = ModelHarness::OpenWith(Options(config, path));
        d = Provision(h, 1)[0];
        sb = h.Erase(d).sb;
      }
      const pid_t child = fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        ModelHarness h = ModelHarness::OpenWith(Options(config, path));
        h.PinFormat(d, h.FormatOf(d));
        const bool ok = h.Write(d, sb, Lba(1), 3, /*fua=*/true).nlw.status.ok() &&
                        h.Write(d, sb, Lba(4), 4).nlw.status.ok();
        _exit(ok ? 0 : 1);  // no destructor: the unit stays "in use"
      }
      int status = 0;
      ASSERT_EQ(waitpid(child, &status, 0), child);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      {
        ModelHarness h = ModelHarness::OpenWith(Options(config, path, seed));
        ASSERT_TRUE(h.ok());
        kept[twin] = WritePointer(h, sb);
        EXPECT_GE(kept[twin], 3u);
        EXPECT_LE(kept[twin], 7u);
      }
      // Reopening again loses nothing more: what survived is durable.
      ModelHarness h = ModelHarness::OpenWith(Options(config, path, seed + 100));
      EXPECT_EQ(WritePointer(h, sb), kept[twin]);
    }
    EXPECT_EQ(kept[0], kept[1]) << "seed " << seed;
    ++seen[kept[0]];
  }
  EXPECT_GT(seen[3], 0) << "no seed lost the whole tail";
  EXPECT_GT(seen[7], 0) << "no seed kept the whole tail";
}

TEST(ModelPowerLossTest, UnitClosedWhileOffKeepsTheCutsResult) {
  const UnitConfig config = Unit(WriteCache::kVolatile);
  uint32_t kept[2] = {};
  for (int twin = 0; twin < 2; ++twin) {
    const std::string path = TempFile("off" + std::to_string(twin) + ".sef");
    SuperBlockId sb;
    {
      ModelHarness h = ModelHarness::OpenWith(Options(config, path, /*seed=*/77));
      const QosDomainId d = Provision(h, 1)[0];
      sb = h.Erase(d).sb;
      ASSERT_TRUE(h.Write(d, sb, Lba(1), 30).nlw.status.ok());
      h.unit().PowerCut(12);
      if (twin == 0) {
        ASSERT_TRUE(h.unit().PowerOn().ok());
        kept[twin] = WritePointer(h, sb);
        continue;
      }
    }  // closed while off; the next opener uses another seed
    ModelHarness h = ModelHarness::OpenWith(Options(config, path, /*seed=*/78));
    kept[twin] = WritePointer(h, sb);
  }
  EXPECT_EQ(kept[0], kept[1]);
}

// Version 1 files (no durable pointers, no in-use flag) are migrated on open: every ADU they
// hold is durable, whichever write cache the unit now has. Other versions are refused.
TEST(ModelPowerLossTest, Version1FilesAreMigrated) {
  const std::string path = TempFile("v1.sef");
  QosDomainId d;
  SuperBlockId sb;
  {
    ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kNone), path));
    d = Provision(h, 1)[0];
    sb = h.Erase(d).sb;
    ASSERT_TRUE(h.Write(d, sb, Lba(1), 10).nlw.status.ok());
  }
  // Turn the header into what version 1 wrote: no "write_cache" in the configuration.
  const auto set_header = [&](uint32_t version) {
    std::vector<char> header(4096);
    const int fd = open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pread(fd, header.data(), header.size(), 0), 4096);
    uint32_t json_bytes;
    std::memcpy(&json_bytes, header.data() + 60, 4);
    std::string json(header.data() + 128, json_bytes);
    const std::string key = ",\n  \"write_cache\": \"none\"";
    if (const size_t at = json.find(key); at != std::string::npos) json.erase(at, key.size());
    std::memset(header.data() + 128, 0, header.size() - 128);
    std::memcpy(header.data() + 128, json.data(), json.size());
    json_bytes = static_cast<uint32_t>(json.size());
    std::memcpy(header.data() + 60, &json_bytes, 4);
    std::memcpy(header.data() + 8, &version, 4);
    std::memset(header.data() + 12, 0, 4);
    const uint32_t crc = Crc32c(header.data(), header.size());
    std::memcpy(header.data() + 12, &crc, 4);
    ASSERT_EQ(pwrite(fd, header.data(), header.size(), 0), 4096);
    close(fd);
  };
  const auto version = [&] {
    uint32_t v = 0;
    const int fd = open(path.c_str(), O_RDONLY);
    EXPECT_EQ(pread(fd, &v, 4, 8), 4);
    close(fd);
    return v;
  };
  set_header(3);
  absl::StatusOr<std::unique_ptr<Controller>> refused =
      Controller::Open(Options(Unit(WriteCache::kNone), path));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              AllOf(HasSubstr(path), HasSubstr("format version 3"), HasSubstr("version 2"),
                    HasSubstr("version 1")));
  for (WriteCache cache : {WriteCache::kNone, WriteCache::kVolatile}) {
    set_header(1);
    ASSERT_EQ(version(), 1u);
    ModelHarness h = ModelHarness::OpenWith(Options(Unit(cache), path));
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(version(), 2u);
    h.unit().PowerCut(0);
    ASSERT_TRUE(h.unit().PowerOn().ok());
    std::vector<uint8_t> data;
    ASSERT_TRUE(h.Read(*FlashAddress::Make(d, sb, AduOffset(0), h.FormatOf(d).address), 10, &data,
                       *UserAddress::Make(Lba(1), 0x5EF))
                    .status.ok());
    EXPECT_TRUE(HoldsPattern(data, 1));
    EXPECT_EQ(WritePointer(h, sb), 10u);
  }
  // A version 1 file of another geometry is still another configuration.
  set_header(1);
  UnitConfig other = Unit(WriteCache::kVolatile);
  other.pages_to_secure_integrity = 3;
  refused = Controller::Open(Options(other, path));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("another unit configuration"));
}

// ---- crash suites -----------------------------------------------------------------------------

// In-process cuts at random points of the workload: by the trigger (a random number of commands
// ahead, so cuts fall between the halves of pairs too) or directly between operations.
void RunInProcessCuts(uint32_t npsi, int cuts, uint64_t seed) {
  ModelHarness h = ModelHarness::OpenWith(Options(Unit(WriteCache::kVolatile, npsi), "", seed));
  ASSERT_TRUE(h.ok());
  Oracle oracle(npsi, Provision(h, 3));
  std::mt19937_64 rng(seed);
  for (int cut = 0; cut < cuts; ++cut) {
    const bool triggered = rng() % 4 != 0;
    const uint64_t ops_before_cut = rng() % 24;
    if (triggered) h.unit().CutPowerAfter(rng() % 48, rng());
    for (uint64_t i = 0; h.unit().powered(); ++i) {
      if (!triggered && i == ops_before_cut) {
        h.unit().PowerCut(rng());
        break;
      }
      const Op op = Choose(oracle, rng);
      const Effect effect = Execute(h, oracle, op);
      if (effect.power_lost) break;  // the op met the cut and did nothing
      oracle.Apply(op, effect);
    }
    ASSERT_FALSE(h.unit().powered());
    ASSERT_TRUE(h.unit().PowerOn().ok()) << "cut " << cut;
    ASSERT_TRUE(
        Check(h, oracle, nullptr, "npsi " + std::to_string(npsi) + " cut " + std::to_string(cut)))
        << "stopping at the first cut that breaks the rule";
  }
  // The cuts took volatile ADUs and left some: the rule was exercised, not only obeyed.
  std::cout << oracle.stats().ToString() << "\n";
  EXPECT_GT(oracle.stats().lost, 0u);
  EXPECT_GT(oracle.stats().kept, 0u);
}

TEST(ModelPowerLossTest, InProcessCutsKeepTheRule) { RunInProcessCuts(1, 120, 0x5EF0001); }

TEST(ModelPowerLossTest, InProcessCutsKeepTheRuleTwoPagesToSecure) {
  RunInProcessCuts(2, 100, 0x5EF0002);
}

// One record from the child: an operation it is about to run, or the effect of the one it ran.
struct Record {
  bool done = false;
  Op op;
  Effect effect;
};
static_assert(sizeof(Record) <= PIPE_BUF, "one write() per record keeps records whole");

[[noreturn]] void WorkloadChild(const UnitConfig& config, const std::string& path, Oracle oracle,
                                uint64_t seed, int fd) {
  ModelHarness h = ModelHarness::OpenWith(Options(config, path));
  if (!h.ok()) _exit(2);
  for (QosDomainId d : oracle.domains()) h.PinFormat(d, h.FormatOf(d));
  std::mt19937_64 rng(seed);
  for (;;) {
    Record r;
    r.op = Choose(oracle, rng);
    if (write(fd, &r, sizeof(r)) != sizeof(r)) _exit(3);
    r.effect = Execute(h, oracle, r.op);
    r.done = true;
    if (write(fd, &r, sizeof(r)) != sizeof(r)) _exit(3);
    oracle.Apply(r.op, r.effect);
  }
}

TEST(ModelPowerLossTest, KilledProcessesKeepTheRule) {
  const std::string path = TempFile("killed.sef");
  const UnitConfig config = Unit(WriteCache::kVolatile, 2);
  std::optional<Oracle> oracle;
  {
    ModelHarness h = ModelHarness::OpenWith(Options(config, path));
    ASSERT_TRUE(h.ok());
    oracle.emplace(2, Provision(h, 3));
  }
  std::mt19937_64 rng(0x5EF0003);
  constexpr int kKills = 200;
  for (int kill_round = 0; kill_round < kKills; ++kill_round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const uint64_t child_seed = rng();
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      WorkloadChild(config, path, *oracle, child_seed, fds[1]);
    }
    close(fds[1]);
    // Kill it after a random number of records, then take what it wrote before dying.
    const size_t kill_after = 1 + rng() % 160;
    std::vector<Record> records;
    Record r;
    while (records.size() < kill_after && read(fds[0], &r, sizeof(r)) == sizeof(r)) {
      records.push_back(r);
    }
    ASSERT_EQ(kill(child, SIGKILL), 0);
    while (read(fds[0], &r, sizeof(r)) == sizeof(r)) records.push_back(r);
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the workload child ended by itself with " << WEXITSTATUS(status);
    // Completed operations are acknowledged; the last one announced may have run in part.
    const Op* in_flight = nullptr;
    for (const Record& rec : records) {
      if (rec.done) {
        oracle->Apply(rec.op, rec.effect);
        in_flight = nullptr;
      } else {
        in_flight = &rec.op;
      }
    }
    ModelHarness h = ModelHarness::OpenWith(Options(config, path, rng()));
    ASSERT_TRUE(h.ok()) << "reopen after kill " << kill_round;
    for (QosDomainId d : oracle->domains()) h.PinFormat(d, h.FormatOf(d));
    ASSERT_TRUE(Check(h, *oracle, in_flight, "kill " + std::to_string(kill_round)))
        << "stopping at the first kill that breaks the rule";
  }
  std::cout << oracle->stats().ToString() << "\n";
  EXPECT_GT(oracle->stats().lost, 0u);
  EXPECT_GT(oracle->stats().kept, 0u);
}

}  // namespace
}  // namespace sef::model
