// Fuzz target: the zoned namespace (//sef/zns) on a model unit with a volatile write cache.
// An input formats a namespace and runs a sequence of zone operations against it (writes at
// and off the write pointer, appends in flight together, reads anywhere, flushes, every Zone
// Management Send action, reports, armed and immediate power cuts with a restart and a Mount,
// clean unmounts and remounts), each checked against testing::ZoneOracle.
//
// Input: testing/zns_fuzz_input.h (flags, then up to 64 operations).
//
// Checked beyond "no crash, no sanitizer report, no leak, no hang", while the power is on:
// after every operation each zone's state, write pointer and attributes are what the oracle
// says; a write succeeds only at the write pointer within the zone capacity, an append lands
// at the write pointer, the appends of a batch fill one contiguous range; a read in range
// succeeds and returns what was acknowledged and zeros elsewhere; data buffers of the wrong
// size are InvalidArgument; every other refusal carries an NVMe status; every callback runs
// once. After a power cut or a clean unmount, a Mount succeeds (limits it refuses are
// InvalidArgument) and ZoneOracle::CheckAfterRestart holds: what was durable survived, nothing
// but what was acknowledged reads back, no super block is left over.
#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sef/base/testing/fuzz.h"
#include "sef/hal/hal.h"
#include "sef/hal/testing/test_unit.h"
#include "sef/zns/test_util.h"
#include "sef/zns/testing/zns_fuzz_input.h"
#include "sef/zns/testing/zone_oracle.h"
#include "sef/zns/zns.h"

namespace sef::zns {
namespace {

using sef::testing::FuzzTape;
using testing::ZoneOracle;

constexpr int kMaxOps = 64;
constexpr uint64_t kFirstKey = uint64_t{1} << 30;  // append contents, apart from any LBA

bool Trace() {
  static const bool trace = std::getenv("SEF_FUZZ_TRACE") != nullptr;
  return trace;
}

std::string Str(const absl::Status& s) { return s.ToString(); }

// `bytes` of data cut into up to 4 iovecs at points read from the tape; with `wrong`, one
// byte more or one block less than asked (never negative).
std::vector<iovec> Shape(FuzzTape& tape, std::vector<uint8_t>& data, bool wrong) {
  if (wrong)
    data.resize(data.size() >= kBlockBytes && tape.Bool() ? data.size() - kBlockBytes
                                                          : data.size() + 1);
  const int pieces = 1 + tape.U8() % 4;
  std::vector<size_t> cuts = {0, data.size()};
  for (int i = 1; i < pieces; ++i) cuts.push_back(data.empty() ? 0 : tape.U32() % data.size());
  std::sort(cuts.begin(), cuts.end());
  std::vector<iovec> iov;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    iov.push_back({data.data() + cuts[i], cuts[i + 1] - cuts[i]});
  }
  return iov;
}

class Session {
 public:
  // Formats a namespace on a fresh unit as the input's flags say; nullptr if the tiny unit
  // cannot be opened (never with a correct checkout).
  static std::unique_ptr<Session> Start(FuzzTape& tape) {
    const uint8_t flags = tape.U8();
    auto s = std::unique_ptr<Session>(new Session());
    absl::StatusOr<std::unique_ptr<hal::testing::TestUnit>> t = hal::testing::TestUnit::Open(
        {.config = "tiny",
         .edit_config =
             [](model::UnitConfig& c) {
               // 4 dies of 8 blocks of 8 ADUs: 32-block zones, a few of them.
               c.blocks_per_die = 8;
               c.pages_per_block = 2;
               c.plane_data_bytes = 8192;
               c.write_cache = model::WriteCache::kVolatile;
             },
         .transport = {.completion_order = (flags & 1) != 0 ? hal::CompletionOrder::kShuffled
                                                            : hal::CompletionOrder::kInline,
                       .shuffle_seed = flags}});
    SEF_FUZZ_CHECK(t.ok(), "TestUnit::Open: %s", Str(t.status()).c_str());
    s->t_ = *std::move(t);
    const uint16_t max_open = 4 - ((flags >> 3) & 3) % 3;
    absl::StatusOr<QosDomainId> id = s->t_->Provision({.max_open_super_blocks = max_open});
    SEF_FUZZ_CHECK(id.ok(), "Provision: %s", Str(id.status()).c_str());
    s->id_ = *id;
    static constexpr uint64_t kZoneSizes[4] = {0, 16, 8, 4};
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns =
        ZonedNamespace::Format(s->t_->unit(), s->id_, {.zone_size = kZoneSizes[(flags >> 1) & 3]});
    SEF_FUZZ_CHECK(ns.ok(), "Format: %s", Str(ns.status()).c_str());
    s->ns_ = *std::move(ns);
    s->oracle_ = std::make_unique<ZoneOracle>(s->ns_->geometry());
    return s;
  }

  ~Session() {
    ns_.reset();  // before the unit
    t_.reset();
  }

  void RunOp(FuzzTape& tape) {
    const uint8_t op = tape.U8() % testing::kOpCount;
    if (!powered() && op != testing::kPowerCut && op != testing::kCleanRestart) {
      return;  // everything fails until a restart
    }
    switch (op) {
      case testing::kWrite:
      case testing::kWriteToo:
        return Write(tape);
      case testing::kAppends:
        return Appends(tape);
      case testing::kRead:
        return Read(tape);
      case testing::kFlush:
        if (absl::Status s = ns_->Flush(); s.ok()) {
          oracle_->Flushed();
        } else {
          Refusal(s, "Flush");
        }
        return;
      case testing::kManage:
        return Manage(tape);
      case testing::kReport:
        return Report(tape);
      case testing::kPowerCut: {
        const uint64_t seed = tape.U32();
        if (Trace()) std::fprintf(stderr, "power cut, restart\n");
        t_->controller().PowerCut(seed);
        return Restart(tape, /*clean=*/false);
      }
      case testing::kCleanRestart:
        return Restart(tape, /*clean=*/true);
      case testing::kArmCut: {
        const uint32_t after = tape.U8() % 48;
        const uint64_t seed = tape.U32();
        if (Trace()) std::fprintf(stderr, "cut power after %u commands\n", after);
        t_->controller().CutPowerAfter(after, seed);
        return;
      }
    }
  }

  // At the end of an input: a cut if one is pending, then the check after a restart.
  void Finish(FuzzTape& tape) {
    if (!powered()) Restart(tape, /*clean=*/false);
  }

  bool powered() { return t_->controller().powered(); }

  // While the power is on, every zone's descriptor is what the oracle says.
  void CheckZones() {
    if (!powered()) return;
    absl::StatusOr<ZoneReport> r = ns_->Report(Lba(0));
    SEF_FUZZ_CHECK(r.ok(), "Report: %s", Str(r.status()).c_str());
    const Geometry& g = ns_->geometry();
    SEF_FUZZ_CHECK(r->zones.size() == g.zones && r->matching == g.zones, "report of %zu zones",
                   r->zones.size());
    for (uint32_t z = 0; z < g.zones; ++z) {
      const ZoneDescriptor& d = r->zones[z];
      const testing::ZoneModel& m = oracle_->zone(z);
      SEF_FUZZ_CHECK(
          d.start == Lba(oracle_->Zslba(z)) && d.capacity == g.zone_capacity && d.attributes == 0,
          "zone %u: start %lu capacity %lu attributes 0x%x", z, d.start.value(), d.capacity,
          d.attributes);
      if (m.full || m.acked == oracle_->Cap()) {
        SEF_FUZZ_CHECK(d.state == ZoneState::kFull && d.write_pointer == kNoWritePointer,
                       "zone %u is %s, wp %lu; %u blocks acknowledged, finished %d", z,
                       ZoneStateName(d.state), d.write_pointer.value(), m.acked, m.full);
        continue;
      }
      const bool active = d.state == ZoneState::kImplicitlyOpen ||
                          d.state == ZoneState::kExplicitlyOpen || d.state == ZoneState::kClosed;
      SEF_FUZZ_CHECK((d.state == ZoneState::kEmpty && m.acked == 0) || active,
                     "zone %u is %s with %u blocks acknowledged", z, ZoneStateName(d.state),
                     m.acked);
      SEF_FUZZ_CHECK(d.write_pointer.value() == oracle_->Zslba(z) + m.acked,
                     "zone %u (%s): write pointer %lu, %u blocks acknowledged", z,
                     ZoneStateName(d.state), d.write_pointer.value(), m.acked);
    }
  }

 private:
  Session() = default;

  // A refusal while the power stays on carries an NVMe status (a cut fails anything).
  void Refusal(const absl::Status& s, const char* what) {
    SEF_FUZZ_CHECK(!powered() || NvmeStatusOf(s).has_value(), "%s refused without a status: %s",
                   what, Str(s).c_str());
  }

  // A zone from the tape, one past the last now and then; its first LBA.
  uint32_t ZoneFrom(FuzzTape& tape) { return tape.U8() % (ns_->geometry().zones + 1); }

  void Write(FuzzTape& tape) {
    const Geometry& g = ns_->geometry();
    const uint32_t chosen = ZoneFrom(tape);
    const uint8_t where = tape.U8();
    const uint32_t n = 1 + tape.U8() % 12;
    const bool fua = tape.Bool();
    const bool wrong = tape.U8() >= 240;
    // Mostly at the write pointer, else anywhere in the zone. The write pointer of a zone
    // full to its size is the next zone's first LBA: the write goes to the zone of `lba`.
    const uint64_t offset = where < 192 ? (chosen < g.zones ? oracle_->zone(chosen).acked : 0)
                                        : (where - 192) % g.zone_size;
    const uint64_t lba = oracle_->Zslba(chosen) + offset;
    const uint32_t zone = static_cast<uint32_t>(lba / g.zone_size);
    const uint64_t at = lba % g.zone_size;
    const bool in_range = zone < g.zones;
    const uint32_t acked = in_range ? oracle_->zone(zone).acked : 0;
    std::vector<uint8_t> data = testing::Blocks(lba, n, 1);
    const std::vector<iovec> iov = Shape(tape, data, wrong);
    absl::Status s = ns_->Write(Lba(lba), n, iov, fua);
    if (Trace()) {
      std::fprintf(stderr, "write zone %u +%lu x%u fua %d wrong %d: %s\n", zone, at, n, fua, wrong,
                   Str(s).c_str());
    }
    if (!s.ok()) {
      SEF_FUZZ_CHECK(!wrong || s.code() == absl::StatusCode::kInvalidArgument, "a wrong buffer: %s",
                     Str(s).c_str());
      return Refusal(s, "Write");
    }
    SEF_FUZZ_CHECK(!wrong, "a write with a buffer of the wrong size succeeded");
    SEF_FUZZ_CHECK(
        in_range && at == acked && acked + n <= oracle_->Cap() && !oracle_->zone(zone).full,
        "a write of %u at +%lu of zone %u succeeded: %u acknowledged, capacity %u, "
        "finished %d",
        n, at, zone, acked, oracle_->Cap(), in_range && oracle_->zone(zone).full);
    oracle_->Acknowledged(zone, acked, n, lba, fua);
  }

  // Up to 6 appends in flight together; each lands at the write pointer, and together they
  // fill one range from it.
  void Appends(FuzzTape& tape) {
    const uint32_t zone = ZoneFrom(tape);
    const bool off_start = tape.U8() >= 240;  // not a zone's first LBA: Invalid Field
    const int count = 1 + tape.U8() % 6;
    const uint64_t zslba = oracle_->Zslba(zone) + (off_start ? 1 : 0);
    struct Append {
      std::vector<uint8_t> data;
      std::vector<iovec> iov;
      uint32_t n = 0;
      uint64_t key = 0;
      bool fua = false;
      int calls = 0;
      std::promise<absl::StatusOr<Lba>> done;
    };
    std::vector<Append> appends(count);
    for (Append& a : appends) {
      a.n = 1 + tape.U8() % 8;
      a.fua = tape.Bool();
      a.key = next_key_;
      next_key_ += a.n;
      a.data = testing::Blocks(a.key, a.n, 1);
      a.iov = Shape(tape, a.data, /*wrong=*/false);
      ns_->AppendAsync(Lba(zslba), a.n, a.iov, a.fua, [&a](absl::StatusOr<Lba> r) {
        if (++a.calls == 1) a.done.set_value(std::move(r));
      });
    }
    const bool in_range = zone < ns_->geometry().zones;
    const uint32_t before = in_range ? oracle_->zone(zone).acked : 0;
    uint32_t appended = 0;
    for (Append& a : appends) {
      absl::StatusOr<Lba> r = a.done.get_future().get();
      if (Trace()) {
        std::fprintf(stderr, "append zone %u x%u fua %d: %s\n", zone, a.n, a.fua,
                     r.ok() ? std::to_string(r->value()).c_str() : Str(r.status()).c_str());
      }
      if (!r.ok()) {
        Refusal(r.status(), "Append");
        continue;
      }
      const uint64_t at = r->value() - oracle_->Zslba(zone);
      SEF_FUZZ_CHECK(in_range && !off_start && !oracle_->zone(zone).full && at >= before &&
                         at + a.n <= oracle_->Cap(),
                     "an append of %u to zone %u (+%d) landed at +%lu: %u acknowledged before", a.n,
                     zone, off_start, at, before);
      oracle_->Acknowledged(zone, static_cast<uint32_t>(at), a.n, a.key, a.fua);
      appended += a.n;
    }
    if (powered()) {
      for (const Append& a : appends) SEF_FUZZ_CHECK(a.calls == 1, "%d callbacks", a.calls);
      SEF_FUZZ_CHECK(!in_range || oracle_->zone(zone).acked == before + appended,
                     "appends of %u blocks moved zone %u from %u to %u", appended, zone, before,
                     oracle_->zone(zone).acked);
    }
  }

  // A read anywhere (in range: it succeeds and returns what the oracle says).
  void Read(FuzzTape& tape) {
    const Geometry& g = ns_->geometry();
    const uint64_t lba = tape.U16() % (g.blocks() + 8);
    const uint32_t n = 1 + tape.U8() % (2 * g.zone_size);
    const bool wrong = tape.U8() >= 240;
    std::vector<uint8_t> data(uint64_t{n} * kBlockBytes, 0xA5);
    const std::vector<iovec> iov = Shape(tape, data, wrong);
    absl::Status s = ns_->Read(Lba(lba), n, iov);
    if (Trace()) std::fprintf(stderr, "read %lu x%u wrong %d: %s\n", lba, n, wrong, Str(s).c_str());
    const bool in_range = lba + n <= g.blocks();
    if (!powered()) return;
    if (wrong || !in_range) {
      SEF_FUZZ_CHECK(!s.ok(), "a read of %u at %lu (wrong buffer %d) succeeded", n, lba, wrong);
      SEF_FUZZ_CHECK(!wrong || s.code() == absl::StatusCode::kInvalidArgument, "a wrong buffer: %s",
                     Str(s).c_str());
      return Refusal(s, "Read");
    }
    SEF_FUZZ_CHECK(s.ok(), "a read of %u at %lu: %s", n, lba, Str(s).c_str());
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t at = lba + i;
      const uint32_t zone = static_cast<uint32_t>(at / g.zone_size);
      const uint64_t offset = at % g.zone_size;
      const testing::ZoneModel& m = oracle_->zone(zone);
      const uint64_t want = offset < m.acked ? m.word[offset] : 0;
      uint64_t got;
      std::memcpy(&got, data.data() + uint64_t{i} * kBlockBytes, 8);
      SEF_FUZZ_CHECK(got == want, "LBA %lu (zone %u +%lu) reads 0x%lx, expected 0x%lx", at, zone,
                     offset, got, want);
    }
  }

  // Zone Management Send: any action (0 is none), on a zone or all of them.
  void Manage(FuzzTape& tape) {
    const auto action = static_cast<ZoneAction>(tape.U8() % 6);
    const uint32_t zone = ZoneFrom(tape);
    const uint8_t bits = tape.U8();
    const bool all = (bits & 1) != 0, off_start = bits >= 240;
    const uint64_t zslba = oracle_->Zslba(zone) + (off_start ? 1 : 0);
    // What `all` applies to (NVMe's selection), for the oracle.
    std::vector<ZoneState> states;
    if (all) {
      absl::StatusOr<ZoneReport> r = ns_->Report(Lba(0));
      SEF_FUZZ_CHECK(r.ok(), "Report: %s", Str(r.status()).c_str());
      for (const ZoneDescriptor& d : r->zones) states.push_back(d.state);
    }
    absl::Status s = ns_->ZoneManagementSend(action, Lba(zslba), all);
    if (Trace()) {
      std::fprintf(stderr, "%s zone %u all %d off %d: %s\n", ZoneActionName(action), zone, all,
                   off_start, Str(s).c_str());
    }
    if (!s.ok()) Refusal(s, "Zone Management Send");
    if (!all) {
      if (zone >= ns_->geometry().zones || off_start) {
        SEF_FUZZ_CHECK(!s.ok(), "%s of LBA %lu succeeded", ZoneActionName(action), zslba);
        return;
      }
      if (!s.ok() && powered()) return;  // a refusal changes nothing
      const absl::Status outcome =
          s.ok() ? s : absl::UnavailableError("power cut during the action");
      if (action == ZoneAction::kFinish) oracle_->Finished(zone, outcome);
      if (action == ZoneAction::kReset) oracle_->Reset(zone, outcome);
      return;
    }
    // With `all`, a refusal stops at some zone: the zones before it were done, as the report
    // tells (only finish and reset change what the oracle knows). After a cut, any selected
    // zone may or may not have been done.
    if (action != ZoneAction::kFinish && action != ZoneAction::kReset) return;
    const bool cut = !powered();
    absl::StatusOr<ZoneReport> r = ns_->Report(Lba(0));
    SEF_FUZZ_CHECK(r.ok(), "Report: %s", Str(r.status()).c_str());
    const absl::Status unsure = absl::UnavailableError("power cut during the action");
    for (uint32_t z = 0; z < states.size(); ++z) {
      const ZoneState now = r->zones[z].state;
      const bool selected = states[z] != ZoneState::kEmpty &&
                            (action == ZoneAction::kReset || states[z] != ZoneState::kFull);
      if (!selected) continue;
      if (action == ZoneAction::kFinish && (cut || now == ZoneState::kFull)) {
        oracle_->Finished(z, cut ? unsure : absl::OkStatus());
      } else if (action == ZoneAction::kReset && (cut || now == ZoneState::kEmpty)) {
        oracle_->Reset(z, cut ? unsure : absl::OkStatus());
      }
    }
  }

  // Zone Management Receive with any filter, start and count.
  void Report(FuzzTape& tape) {
    const Geometry& g = ns_->geometry();
    const uint64_t start = tape.U16() % (g.blocks() + 8);
    const auto filter = static_cast<ReportFilter>(tape.U8() % 9);
    const uint32_t max = tape.U8() % (g.zones + 2);
    const bool partial = tape.Bool();
    absl::StatusOr<ZoneReport> r = ns_->Report(Lba(start), filter, max, partial);
    if (start >= g.blocks() || static_cast<uint8_t>(filter) > 7) {
      SEF_FUZZ_CHECK(!r.ok(), "a report from %lu with filter %u succeeded", start,
                     static_cast<unsigned>(filter));
      return Refusal(r.status(), "Report");
    }
    SEF_FUZZ_CHECK(r.ok(), "Report: %s", Str(r.status()).c_str());
    SEF_FUZZ_CHECK(r->zones.size() <= max && r->zones.size() <= r->matching,
                   "%zu descriptors, %lu matching, at most %u asked", r->zones.size(), r->matching,
                   max);
    SEF_FUZZ_CHECK(!partial || r->matching == r->zones.size(), "partial: %lu matching, %zu listed",
                   r->matching, r->zones.size());
    uint64_t last = 0;
    for (const ZoneDescriptor& d : r->zones) {
      SEF_FUZZ_CHECK(d.start.value() + g.zone_size > start && d.start.value() >= last,
                     "descriptor of zone %lu in a report from %lu", d.start.value(), start);
      last = d.start.value() + 1;
    }
  }

  // A restart: after a cut, the unit is powered on and reopened; a clean one unmounts first.
  // Then a Mount with limits from the tape and the oracle's check.
  void Restart(FuzzTape& tape, bool clean) {
    const ZoneLimits limits{tape.U8() % 6u, tape.U8() % 6u};
    if (clean && powered()) {
      absl::Status s = ns_->Unmount();
      if (Trace()) std::fprintf(stderr, "unmount: %s\n", Str(s).c_str());
      if (s.ok()) oracle_->Flushed();
    }
    // An armed cut may fire during the restart or the Mount: then the host restarts again
    // (a trigger fires once).
    absl::StatusOr<std::unique_ptr<ZonedNamespace>> ns;
    for (int attempt = 0;; ++attempt) {
      ns_.reset();
      if (absl::Status s = t_->Restart(); !s.ok()) {
        SEF_FUZZ_CHECK(!powered() && attempt < 2, "Restart: %s", Str(s).c_str());
        continue;
      }
      ns = ZonedNamespace::Mount(t_->unit(), id_, limits);
      if (!ns.ok() && powered()) {
        SEF_FUZZ_CHECK(ns.status().code() == absl::StatusCode::kInvalidArgument,
                       "Mount with limits %u/%u: %s", limits.max_open_zones,
                       limits.max_active_zones, Str(ns.status()).c_str());
        ns = ZonedNamespace::Mount(t_->unit(), id_);
      }
      if (ns.ok() || powered() || attempt >= 2) break;
      if (Trace()) std::fprintf(stderr, "cut during Mount: %s\n", Str(ns.status()).c_str());
    }
    SEF_FUZZ_CHECK(ns.ok(), "Mount: %s", Str(ns.status()).c_str());
    ns_ = *std::move(ns);
    // The check reads the device: a trigger still armed would fail it.
    t_->controller().CutPowerAfter(~uint64_t{0}, 0);
    const std::string why = oracle_->CheckAfterRestart(*ns_, t_->unit(), id_);
    SEF_FUZZ_CHECK(why.empty(), "after a %s restart: %s", clean ? "clean" : "power-cut",
                   why.c_str());
  }

  std::unique_ptr<hal::testing::TestUnit> t_;
  QosDomainId id_;
  std::unique_ptr<ZonedNamespace> ns_;
  std::unique_ptr<ZoneOracle> oracle_;
  uint64_t next_key_ = kFirstKey;
};

}  // namespace
}  // namespace sef::zns

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sef::testing::FuzzTape tape(data, size);
  std::unique_ptr<sef::zns::Session> session = sef::zns::Session::Start(tape);
  for (int i = 0; i < sef::zns::kMaxOps && !tape.empty(); ++i) {
    session->RunOp(tape);
    session->CheckZones();
  }
  session->Finish(tape);
  session->CheckZones();
  return 0;
}
