#include "sef/hal/model/testing/power_loss_workload.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "gtest/gtest.h"

namespace sef::model::testing {

NvmeStatus PowerLoss() { return Generic(wire::sc::kAbortedPowerLoss); }

namespace power_loss {
namespace {

constexpr uint32_t kDiesPerSb = 2;
constexpr uint32_t kPageAdus = 8;          // tiny: 2 planes x 4 ADUs per plane page
constexpr uint64_t kSbPlanePages = 16;     // 64 ADUs / 4 per plane page
constexpr uint64_t kPslcSbPlanePages = 4;  // 16 ADUs
constexpr uint16_t kTag = 0x5EF;           // the harness's user-address tag
constexpr uint32_t kMaxOpen = 8;

UserAddress Ua(uint64_t lba) { return *UserAddress::Make(Lba(lba), kTag); }

bool IsWrite(OpKind k) { return k == OpKind::kWritePlacement || k == OpKind::kWriteSb; }

// An operation that cannot fail on the state the oracle chose it from.
bool MustSucceed(OpKind k) { return k != OpKind::kWritePlacement && k != OpKind::kErase; }

template <typename T>
T Pick(const std::vector<T>& v, std::mt19937_64& rng) {
  return v[rng() % v.size()];
}

}  // namespace

UnitConfig Unit(WriteCache cache, uint32_t npsi) {
  UnitConfig c = LoadTestUnit("tiny");
  c.write_cache = cache;
  c.pages_to_secure_integrity = npsi;
  c.max_open_super_blocks = kMaxOpen;
  return c;
}

std::vector<QosDomainId> Provision(ModelHarness& h, int domains) {
  h.CreateVirtualDevice(kVd, {0, 1, 2, 3}, kDiesPerSb);
  EXPECT_TRUE(h.Admin(cmd::SetPslcSuperBlocksRequest{kVd, 3}).status.ok());
  std::vector<QosDomainId> out;
  for (int i = 0; i < domains; ++i) {
    cmd::QosDomainSpec spec = h.DefaultSpec(kVd);
    spec.capacity = spec.quota = PlanePageCount(9 * kSbPlanePages);
    spec.pslc_capacity = spec.pslc_quota = PlanePageCount(kPslcSbPlanePages);
    spec.num_placement_ids = 2;
    spec.max_open_super_blocks = kMaxOpen;
    const QosDomainId d = h.CreateDomain(spec);
    h.PinFormat(d, h.FormatOf(d));
    out.push_back(d);
  }
  return out;
}

uint32_t DurableByPages(uint32_t written, uint32_t capacity, uint32_t npsi) {
  std::vector<uint32_t> page_ends;  // in offset order: die 0's pages, then die 1's
  const uint32_t per_die = capacity / kDiesPerSb;
  for (uint32_t die = 0; die < kDiesPerSb; ++die) {
    for (uint32_t start = 0; start < per_die; start += kPageAdus) {
      page_ends.push_back(die * per_die + std::min(start + kPageAdus, per_die));
    }
  }
  uint32_t durable = 0;
  for (size_t j = 0; j + npsi - 1 < page_ends.size(); ++j) {
    if (page_ends[j + npsi - 1] <= written) durable = page_ends[j];
  }
  return durable;
}

// ---- the oracle -------------------------------------------------------------------------------

void Oracle::Settle(SbModel& sb, bool fua) const {
  const uint32_t size = static_cast<uint32_t>(sb.lbas.size());
  sb.durable = fua ? size : std::max(sb.durable, DurableByPages(size, sb.capacity, npsi_));
  if (size == sb.capacity) {
    sb.closed = true;
    sb.durable = size;
  }
}

std::string Stats::ToString() const {
  static constexpr const char* kNames[] = {"write-placement", "write-sb", "erase", "sb-flush",
                                           "close",           "copy",     "free",  "nvm-flush",
                                           "set-root"};
  std::string out = "cuts " + std::to_string(cuts) + ", ADUs lost " + std::to_string(lost) +
                    ", volatile ADUs kept " + std::to_string(kept) + ", in-flight ADUs found " +
                    std::to_string(in_flight) + "; operations:";
  for (int k = 0; k < 9; ++k) out += std::string(" ") + kNames[k] + " " + std::to_string(ops[k]);
  return out;
}

void Oracle::Apply(const Op& op, const Effect& e) {
  const uint16_t d = domains_[op.domain_index].value();
  ++stats_.ops[static_cast<int>(op.kind)];
  if (MustSucceed(op.kind) && !e.ok) {
    ADD_FAILURE() << "operation " << static_cast<int>(op.kind) << " on SB " << op.sb
                  << " of domain " << d << " failed";
  }
  if (IsWrite(op.kind)) next_lba_ = std::max(next_lba_, op.lba + op.adus);
  std::set<uint32_t> touched;
  for (uint32_t i = 0; i < e.placed; ++i) {
    auto [it, fresh] = sbs_.try_emplace(e.placed_sb[i]);
    SbModel& sb = it->second;
    if (fresh) {  // allocated by a write to a placement id
      EXPECT_EQ(op.kind, OpKind::kWritePlacement) << "SB " << e.placed_sb[i];
      sb.domain = d;
      sb.capacity = op.pslc ? kPslcSbAdus : kSbAdus;
    }
    EXPECT_EQ(sb.domain, d) << "SB " << e.placed_sb[i];
    EXPECT_FALSE(sb.closed) << "SB " << e.placed_sb[i];
    EXPECT_EQ(e.placed_offset[i], sb.lbas.size()) << "SB " << e.placed_sb[i];
    sb.lbas.push_back(e.placed_lba[i]);
    touched.insert(e.placed_sb[i]);
  }
  for (uint32_t id : touched) Settle(sbs_[id], op.fua);
  if (!e.ok) return;
  switch (op.kind) {
    case OpKind::kErase: {
      const bool fresh = sbs_.try_emplace(e.erased_sb, SbModel{d, e.erased_capacity}).second;
      EXPECT_TRUE(fresh) << "erase gave SB " << e.erased_sb << ", which is not free";
      break;
    }
    case OpKind::kFlush:
      sbs_[op.sb].durable = static_cast<uint32_t>(sbs_[op.sb].lbas.size());
      break;
    case OpKind::kClose:
      sbs_[op.sb].closed = true;
      sbs_[op.sb].durable = static_cast<uint32_t>(sbs_[op.sb].lbas.size());
      break;
    case OpKind::kFree:
      sbs_.erase(op.sb);
      break;
    case OpKind::kNvmFlush:
      for (auto& [id, sb] : sbs_) {
        if (sb.domain == d) sb.durable = static_cast<uint32_t>(sb.lbas.size());
      }
      break;
    case OpKind::kSetRoot:
      roots_[{d, op.root_index}] = op.lba;
      break;
    default:
      break;
  }
}

// ---- the workload -----------------------------------------------------------------------------

Op Choose(const Oracle& o, std::mt19937_64& rng) {
  Op op;
  op.domain_index = static_cast<uint8_t>(rng() % o.domains_.size());
  const uint16_t d = o.domains_[op.domain_index].value();
  std::vector<uint32_t> open, owned, closed_owned, sources;
  uint32_t normal = 0;
  for (const auto& [id, sb] : o.sbs_) {
    if (sb.closed && !sb.lbas.empty()) sources.push_back(id);
    if (sb.domain != d) continue;
    owned.push_back(id);
    (sb.closed ? closed_owned : open).push_back(id);
    normal += sb.capacity == kSbAdus;
  }
  // Keep the domain from filling up: free more, open less, when it is crowded.
  const bool crowded = normal >= 7 || open.size() >= kMaxOpen - 2;
  const std::pair<OpKind, uint32_t> weights[] = {
      {OpKind::kWritePlacement, 30},
      {OpKind::kWriteSb, open.empty() ? 0u : 12u},
      {OpKind::kErase, crowded ? 1u : 6u},
      {OpKind::kFlush, open.empty() ? 0u : 6u},
      {OpKind::kClose, open.empty() ? 0u : (crowded ? 12u : 5u)},
      {OpKind::kCopy, open.empty() || sources.empty() ? 0u : 8u},
      {OpKind::kFree, owned.empty() ? 0u : (crowded ? 30u : 5u)},
      {OpKind::kNvmFlush, 4},
      {OpKind::kSetRoot, 3},
  };
  uint32_t total = 0;
  for (const auto& [kind, w] : weights) total += w;
  uint32_t at = static_cast<uint32_t>(rng() % total);
  for (const auto& [kind, w] : weights) {
    if (at < w) {
      op.kind = kind;
      break;
    }
    at -= w;
  }
  op.fua = rng() % 4 == 0;
  switch (op.kind) {
    case OpKind::kWritePlacement:
      op.placement = static_cast<uint8_t>(rng() % 2);
      op.pslc = rng() % 8 == 0;
      op.adus = 1 + static_cast<uint32_t>(rng() % kMaxAdus);
      op.lba = o.next_lba_;
      break;
    case OpKind::kWriteSb:
      op.sb = Pick(open, rng);
      op.adus = 1 + static_cast<uint32_t>(rng() % 10);
      op.lba = o.next_lba_;
      break;
    case OpKind::kErase:
      op.pslc = rng() % 6 == 0;
      break;
    case OpKind::kFlush:
    case OpKind::kClose:
      op.sb = Pick(open, rng);
      break;
    case OpKind::kFree:
      op.sb = !closed_owned.empty() && rng() % 3 != 0 ? Pick(closed_owned, rng) : Pick(owned, rng);
      break;
    case OpKind::kCopy:
      op.sb = Pick(open, rng);
      op.sources = 1 + static_cast<uint32_t>(rng() % kMaxSources);
      for (uint32_t i = 0; i < op.sources; ++i) {
        const uint32_t id = Pick(sources, rng);
        const SbModel& sb = o.sbs_.at(id);
        op.source_domain[i] = sb.domain;
        op.source_sb[i] = id;
        op.source_offset[i] = static_cast<uint32_t>(rng() % sb.lbas.size());
        op.source_lba[i] = sb.lbas[op.source_offset[i]];
      }
      break;
    case OpKind::kSetRoot:
      op.root_index = static_cast<uint8_t>(rng() % wire::kNumRootPointers);
      op.lba = rng() & 0xFFFFFFFFFFFF;
      break;
    case OpKind::kNvmFlush:
      break;
  }
  return op;
}

Effect Execute(ModelHarness& h, const Oracle& o, const Op& op) {
  Effect e;
  const QosDomainId d = o.domains()[op.domain_index];
  const AddressFormat format = h.FormatOf(d).address;
  const auto finish = [&](const Completion& c) {
    e.power_lost = c.status == PowerLoss();
    e.ok = c.status.ok();
  };
  const auto place = [&](FlashAddress a, uint64_t lba) {
    e.placed_sb[e.placed] = a.super_block(format).value();
    e.placed_offset[e.placed] = a.adu_offset(format).value();
    e.placed_lba[e.placed] = lba;
    ++e.placed;
  };
  switch (op.kind) {
    case OpKind::kWritePlacement:
    case OpKind::kWriteSb: {
      const cmd::WriteTarget target =
          op.kind == OpKind::kWriteSb
              ? cmd::WriteTarget(SuperBlockId(op.sb))
              : cmd::WriteTarget(cmd::ByPlacement{PlacementId(op.placement), op.pslc});
      const ModelHarness::Written w = h.Write(d, target, Lba(op.lba), op.adus, op.fua);
      finish(w.nlw);
      e.power_lost = e.power_lost || w.far.status == PowerLoss();
      e.ok = e.ok || w.nlw.status == Vendor(wire::sc::kPartialWrite);
      if (e.power_lost || !w.far.status.ok()) break;
      for (size_t i = 0; i < w.addresses.size() && i < kMaxAdus; ++i)
        place(w.addresses[i], op.lba + i);
      break;
    }
    case OpKind::kErase: {
      const ModelHarness::Erased erased = h.Erase(d, kDeviceChoosesSuperBlock, op.pslc);
      finish(erased.completion);
      e.erased_sb = erased.sb.value();
      e.erased_capacity = erased.capacity;
      break;
    }
    case OpKind::kFlush:
    case OpKind::kClose:
    case OpKind::kFree: {
      const wire::SbOperation sbm = op.kind == OpKind::kFlush   ? wire::SbOperation::kFlush
                                    : op.kind == OpKind::kClose ? wire::SbOperation::kClose
                                                                : wire::SbOperation::kFree;
      finish(h.SuperBlockOp(d, sbm, SuperBlockId(op.sb)));
      break;
    }
    case OpKind::kCopy: {
      cmd::CopyList list;
      for (uint32_t i = 0; i < op.sources; ++i) {
        list.addresses.push_back(*FlashAddress::Make(QosDomainId(op.source_domain[i]),
                                                     SuperBlockId(op.source_sb[i]),
                                                     AduOffset(op.source_offset[i]), format));
      }
      const ModelHarness::Copied copied =
          h.Copy(d, SuperBlockId(op.sb), list, std::nullopt, 256, op.fua);
      finish(copied.gcr);
      e.power_lost = e.power_lost || copied.nlc.status == PowerLoss();
      if (e.power_lost || !e.ok) break;
      for (const wire::AddressChange& c : copied.changes) {
        place(FlashAddress::FromRaw(c.nfa), UserAddress::FromRaw(c.ua).lba().value());
      }
      break;
    }
    case OpKind::kNvmFlush: {
      Command c;
      c.queue = QueueType::kIo;
      c.sqe.opcode = wire::kNvmFlushOpcode;
      c.sqe.nsid = d.value();
      finish(h.Raw(c));
      break;
    }
    case OpKind::kSetRoot:
      finish(h.Admin(cmd::SetRootPointerRequest{d, op.root_index, FlashAddress::FromRaw(op.lba)}));
      break;
  }
  return e;
}

// ---- the check after a cut --------------------------------------------------------------------

namespace {

// Whether an ADU the oracle does not know (the `extra`-th past the acknowledged ones of `sb`,
// holding `lba`, after one holding `previous`) may come from the operation a killed process
// had started.
bool MayHold(const Op* in_flight, uint16_t domain, uint16_t op_domain, uint32_t sb, uint32_t extra,
             uint64_t lba, std::optional<uint64_t> previous) {
  if (in_flight == nullptr || domain != op_domain) return false;
  switch (in_flight->kind) {
    case OpKind::kWritePlacement:
    case OpKind::kWriteSb:
      if (in_flight->kind == OpKind::kWriteSb && sb != in_flight->sb) return false;
      if (lba < in_flight->lba || lba >= in_flight->lba + in_flight->adus) return false;
      return !previous.has_value() || lba == *previous + 1;  // in order within an SB
    case OpKind::kCopy:
      return sb == in_flight->sb && extra < in_flight->sources &&
             lba == in_flight->source_lba[extra];
    default:
      return false;
  }
}

}  // namespace

bool Check(ModelHarness& h, Oracle& o, const Op* in_flight, const std::string& where) {
  SCOPED_TRACE(where);
  const uint16_t op_domain = in_flight != nullptr ? o.domains_[in_flight->domain_index].value() : 0;
  // The unit's SBs, by domain.
  std::map<uint32_t, std::pair<uint16_t, uint8_t>> unit;  // SB -> (domain, SBS bits)
  for (QosDomainId d : o.domains_) {
    std::vector<uint8_t> buf(4096);
    EXPECT_TRUE(h.Admin(cmd::SuperBlockListLogRequest{d, wire::SbListOrder::kAll, 0,
                                                      cmd::MutableBytes::Of(buf)})
                    .status.ok());
    uint32_t normal = 0, pslc = 0;
    for (size_t at = 0; at + sizeof(wire::SbListEntry) <= buf.size(); at += 8) {
      wire::SbListEntry e;
      std::memcpy(&e, buf.data() + at, sizeof(e));
      if (e.sbid == wire::kSbListEnd) break;
      unit[e.sbid] = {d.value(), e.sbs};
      ++((e.sbs & wire::kSbsPslc) ? pslc : normal);
    }
    // Capacity accounting matches the SBs held: none leaked, none counted twice.
    const wire::IdentifySefNamespace ns = h.NamespaceInfo(d);
    EXPECT_EQ(ns.sbsta.ucap, normal * kSbPlanePages) << "domain " << d;
    EXPECT_EQ(ns.psbsta.ucap, pslc * kPslcSbPlanePages) << "domain " << d;
    EXPECT_EQ(ns.sbsta.nsb, normal) << "domain " << d;
    EXPECT_EQ(ns.psbsta.nsb, pslc) << "domain " << d;
  }
  EXPECT_EQ(h.VdInfo(kVd).sbsta.nfrsb + unit.size(), kSuperBlocks) << "free list";

  std::set<uint32_t> ids;
  for (const auto& [id, sb] : o.sbs_) ids.insert(id);
  for (const auto& [id, sb] : unit) ids.insert(id);
  std::set<uint64_t> extras;  // LBAs of the in-flight op found on the unit
  for (uint32_t id : ids) {
    auto known = o.sbs_.find(id);
    const auto found = unit.find(id);
    if (found == unit.end()) {
      const bool freed_in_flight =
          in_flight != nullptr && in_flight->kind == OpKind::kFree && in_flight->sb == id;
      EXPECT_TRUE(freed_in_flight) << "SB " << id << " of domain " << known->second.domain
                                   << " is free, but no free of it completed";
      o.sbs_.erase(known);
      continue;
    }
    const auto [domain, sbs] = found->second;
    const wire::SbInfoLog info = h.SbInfo(kVd, SuperBlockId(id));
    const bool closed = (sbs & 0x0F) == wire::kSbsClosed;
    if (known == o.sbs_.end()) {
      const bool allocated_in_flight =
          in_flight != nullptr && domain == op_domain &&
          (in_flight->kind == OpKind::kWritePlacement || in_flight->kind == OpKind::kErase);
      EXPECT_TRUE(allocated_in_flight) << "SB " << id << " of domain " << domain
                                       << " is allocated, but no erase or write allocated it";
      known = o.sbs_.emplace(id, SbModel{domain, info.cap}).first;
    }
    SbModel& m = known->second;
    EXPECT_EQ(m.domain, domain) << "SB " << id;
    EXPECT_EQ(m.capacity, info.cap) << "SB " << id;
    const uint32_t acked = static_cast<uint32_t>(m.lbas.size());
    const uint32_t wp = info.aduptr;
    if (!m.closed) {
      o.stats_.lost += acked > wp ? acked - wp : 0;
      o.stats_.kept += std::min(acked, wp) > m.durable ? std::min(acked, wp) - m.durable : 0;
    }
    if (m.closed) {
      EXPECT_TRUE(closed) << "closed SB " << id << " reopened";
      EXPECT_EQ(wp, acked) << "closed SB " << id << " lost ADUs";
    } else {
      EXPECT_GE(wp, m.durable) << "SB " << id << " lost durable ADUs";
      const bool closed_in_flight =
          in_flight != nullptr && in_flight->kind == OpKind::kClose && in_flight->sb == id;
      EXPECT_TRUE(!closed || wp == info.cap || (closed_in_flight && wp == acked))
          << "SB " << id << " closed with " << wp << " of " << info.cap << " ADUs";
    }
    // Contents: the acknowledged prefix, then only what the in-flight op may have written.
    std::vector<uint64_t> uas(info.cap);
    EXPECT_TRUE(h.Admin(cmd::UserAddressListLogRequest{QosDomainId(domain),
                                                       SuperBlockId(id),
                                                       0,
                                                       {reinterpret_cast<uint8_t*>(uas.data()),
                                                        static_cast<uint32_t>(uas.size() * 8)}})
                    .status.ok());
    std::optional<uint64_t> previous;
    for (uint32_t i = 0; i < info.cap; ++i) {
      if (i >= wp) {
        EXPECT_EQ(uas[i], ~uint64_t{0}) << "SB " << id << " ADU " << i << " past the pointer";
        continue;
      }
      const uint64_t lba = UserAddress::FromRaw(uas[i]).lba().value();
      if (i < acked) {
        EXPECT_EQ(uas[i], Ua(m.lbas[i]).raw()) << "SB " << id << " ADU " << i;
        continue;
      }
      EXPECT_TRUE(MayHold(in_flight, domain, op_domain, id, i - acked, lba, previous))
          << "SB " << id << " ADU " << i << " holds LBA " << lba << ", never acknowledged there";
      // A write puts each of its LBAs in one place (a copy may copy an ADU twice).
      EXPECT_TRUE(in_flight == nullptr || !IsWrite(in_flight->kind) || extras.insert(lba).second)
          << "LBA " << lba << " written twice";
      ++o.stats_.in_flight;
      m.lbas.push_back(lba);
      previous = lba;
    }
    // Data and metadata of the ADUs around the durable pointer and of the tail that survived.
    const uint32_t from = std::min(m.durable, wp) >= 2 ? std::min(m.durable, wp) - 2 : 0;
    for (uint32_t i = from; i < wp; ++i) {
      std::vector<uint8_t> data, meta;
      const FlashAddress a =
          *FlashAddress::Make(QosDomainId(domain), SuperBlockId(id), AduOffset(i),
                              h.FormatOf(QosDomainId(domain)).address);
      const Completion c = h.Read(a, 1, &data, Ua(m.lbas[i]), &meta);
      EXPECT_TRUE(c.status.ok()) << "SB " << id << " ADU " << i << ": " << c.status;
      EXPECT_TRUE(HoldsPattern(data, m.lbas[i])) << "SB " << id << " ADU " << i;
      EXPECT_EQ(meta[0], ModelHarness::Pattern(m.lbas[i]) ^ 0xFF) << "SB " << id << " ADU " << i;
    }
    if (wp < info.cap) {
      const FlashAddress a =
          *FlashAddress::Make(QosDomainId(domain), SuperBlockId(id), AduOffset(wp),
                              h.FormatOf(QosDomainId(domain)).address);
      // A vanished ADU reads as one never written: zeros, user address all ones, so a
      // verified read of what was written there is Compare Failure.
      const uint64_t lost_lba = wp < m.lbas.size() ? m.lbas[wp] : 0;
      EXPECT_EQ(h.Read(a, 1, nullptr, Ua(lost_lba)).status, Media(wire::sc::kCompareFailure))
          << "SB " << id << " past the pointer";
      std::vector<uint8_t> lost;
      const Completion zeros = h.Read(a, 1, &lost);
      EXPECT_TRUE(zeros.status.ok()) << "SB " << id << " past the pointer: " << zeros.status;
      EXPECT_TRUE(std::all_of(lost.begin(), lost.end(), [](uint8_t b) { return b == 0; }))
          << "SB " << id << " past the pointer";
    }
    // What survived is durable now.
    m.lbas.resize(wp);
    m.durable = wp;
    m.closed = closed;
  }
  // Root pointers: admin state changes that completed are durable.
  for (QosDomainId d : o.domains_) {
    for (uint8_t i = 0; i < wire::kNumRootPointers; ++i) {
      const uint64_t value = h.Admin(cmd::GetRootPointerRequest{d, i}).result;
      uint64_t& expected = o.roots_[{d.value(), i}];
      const bool set_in_flight = in_flight != nullptr && in_flight->kind == OpKind::kSetRoot &&
                                 d.value() == op_domain && in_flight->root_index == i &&
                                 value == in_flight->lba;
      EXPECT_TRUE(value == expected || set_in_flight)
          << "root pointer " << int{i} << " of domain " << d << " is " << value;
      expected = value;
    }
  }
  ++o.stats_.cuts;
  if (in_flight != nullptr && IsWrite(in_flight->kind)) {
    o.next_lba_ = std::max(o.next_lba_, in_flight->lba + in_flight->adus);
  }
  return !::testing::Test::HasFailure();
}

}  // namespace power_loss
}  // namespace sef::model::testing
