// Get Log Page: the SEF logs 0xD0-0xD6 (Model::GetLog). Runs under the topology lock held
// exclusively, as every admin command.
#include <algorithm>
#include <cstring>
#include <vector>

#include "sef/hal/model/internal/model.h"

namespace sef::model::internal {

Outcome Model::GetLog(const cmd::AdminRequest& r, Completions& out) {
  if (const auto* v = std::get_if<cmd::VdInfoLogRequest>(&r)) return VdInfoLog(*v, out);
  if (const auto* v = std::get_if<cmd::QosDomainListLogRequest>(&r)) return QosDomainListLog(*v);
  if (const auto* v = std::get_if<cmd::SuperBlockListLogRequest>(&r)) return SuperBlockListLog(*v);
  if (const auto* v = std::get_if<cmd::SuperBlockInfoLogRequest>(&r)) {
    return SuperBlockInfoLog(*v, out);
  }
  if (const auto* v = std::get_if<cmd::UserAddressListLogRequest>(&r)) {
    return UserAddressListLog(*v);
  }
  if (const auto* v = std::get_if<cmd::ReadFifoLogRequest>(&r))
    return ReadFifoList(v->vd, v->buffer);
  // Log 0xD5: with the Perfect defect strategy no write is ever relocated, so no address
  // change order exists to be read.
  return InvalidField();
}

Outcome Model::VdInfoLog(const cmd::VdInfoLogRequest& v, Completions& out) {
  Vd* vd = nullptr;
  if (v.vd == kPendingEventVirtualDevice) {
    std::optional<VirtualDeviceId> id = PendingVdEvent(v.retain_event, out);
    if (!id.has_value()) return InvalidField();
    vd = FindVd(id->value());
  } else {
    vd = FindVd(v.vd.value());
    if (!v.retain_event) ReArmEvents(/*sb_log=*/false, out);
  }
  if (vd == nullptr) return InvalidField();
  std::vector<uint8_t> log(sizeof(wire::VdInfoLogHeader) + 2 * vd->dies.size());
  wire::VdInfoLogHeader h{};
  h.vdid = vd->id.value();
  uint64_t erase_total = 0;
  uint32_t max_pe = 0;
  // Normal and pSLC SBs are counted apart ([1] = pSLC), as the SDK's usage call
  // reads them.
  uint32_t closed[2] = {}, by_erase[2] = {}, by_placement[2] = {};
  const uint64_t normal_pp = PlanePages(SbCapacity(*vd, false));
  for (const SuperBlock& sb : vd->sbs) {
    erase_total += sb.rec.erase_count;
    max_pe = std::max(max_pe, sb.rec.erase_count);
    const int k = (sb.rec.flags & kSbFlagPslc) ? 1 : 0;
    closed[k] += sb.state() == SbState::kClosed;
    by_erase[k] += sb.state() == SbState::kOpenByErase;
    by_placement[k] += sb.state() == SbState::kOpenByPlacement;
  }
  uint64_t allocated = 0, used = 0, pslc_allocated = 0, pslc_used = 0;
  uint16_t domains = 0;
  for (auto& d : domains_) {
    if (d == nullptr || d->vd != vd) continue;
    ++domains;
    allocated += d->rec.capacity;
    pslc_allocated += d->rec.pslc_capacity;
    MutexLock lock(&d->mu);
    used += d->used_plane_pages;
    pslc_used += d->used_pslc_plane_pages;
  }
  {
    MutexLock lock(&vd->mu);
    h.crit_warn = vd->critical_warning;
    h.cesn = vd->erase_serial;
    h.sbsta.nfrsb = static_cast<uint32_t>(vd->free_list.size());
    // pSLC SBs come from the same free pool, up to the VD's pSLC SB count.
    const uint32_t pslc_left =
        vd->pslc_super_blocks > vd->pslc_in_use ? vd->pslc_super_blocks - vd->pslc_in_use : 0;
    h.psbsta.nfrsb = std::min(pslc_left, h.sbsta.nfrsb);
  }
  h.cwc = vd->aen_mask;
  h.max_pe = static_cast<uint8_t>(std::min<uint32_t>(max_pe, 255));
  h.avg_pe = static_cast<uint8_t>(
      std::min<uint64_t>(vd->sbs.empty() ? 0 : erase_total / vd->sbs.size(), 255));
  h.nsbdie = vd->dies_per_sb;
  h.sbbw = static_cast<uint8_t>(vd->format.sb_bits - 1);
  h.aobw = static_cast<uint8_t>(vd->format.adu_offset_bits - 1);
  h.rpc = static_cast<uint16_t>(options_.config.patrol_cycle_minutes);
  h.mxosb = options_.config.max_open_super_blocks;
  h.drfid = vd->default_fifo.value();
  h.nrf = static_cast<uint32_t>(std::count_if(
      fifos_.begin(), fifos_.end(), [&](const FifoSettings& f) { return f.vd == vd->id.value(); }));
  h.npblk = vd->pslc_super_blocks * vd->dies_per_sb;
  h.vdcap = normal_pp * vd->sbs.size();
  h.vdgcap = allocated;
  h.vducap = used;
  h.sbsta.tcap = h.vdcap;
  h.sbsta.tgcap = allocated;
  h.sbsta.ucap = used;
  h.sbsta.nclsb = closed[0];
  h.sbsta.neosb = by_erase[0];
  h.sbsta.nwosb = by_placement[0];
  h.psbsta.tcap = PlanePages(SbCapacity(*vd, true)) * vd->pslc_super_blocks;
  h.psbsta.tgcap = pslc_allocated;
  h.psbsta.ucap = pslc_used;
  h.psbsta.nclsb = closed[1];
  h.psbsta.neosb = by_erase[1];
  h.psbsta.nwosb = by_placement[1];
  h.ass_qosd = domains;
  h.ndie = static_cast<uint16_t>(vd->dies.size() - 1);
  std::memcpy(log.data(), &h, sizeof(h));
  std::memcpy(log.data() + sizeof(h), vd->dies.data(), 2 * vd->dies.size());
  CopyOut(v.buffer, log.data(), log.size());
  return Outcome::Ok();
}

Outcome Model::QosDomainListLog(const cmd::QosDomainListLogRequest& v) {
  Vd* vd = FindVd(v.vd.value());
  if (vd == nullptr) return InvalidField();
  wire::IdList16 list{};
  for (auto& d : domains_) {
    if (d != nullptr && d->vd == vd) list.ids[list.count++] = d->id.value();
  }
  CopyOut(v.buffer, list);
  return Outcome::Ok();
}

Outcome Model::SuperBlockListLog(const cmd::SuperBlockListLogRequest& v) {
  Domain* d = FindDomain(v.domain.value());
  if (d == nullptr) return InvalidNamespace();
  std::vector<std::pair<uint64_t, wire::SbListEntry>> entries;  // (sort key, entry)
  const Vd& vd = *d->vd;
  for (uint32_t id = 0; id < vd.sbs.size(); ++id) {
    const SuperBlock& sb = vd.sbs[id];
    if (sb.owner.load(std::memory_order_acquire) != d->id.value()) continue;
    const bool closed = sb.state() == SbState::kClosed;
    bool listed = false;
    uint64_t key = id;
    switch (v.order) {
      case wire::SbListOrder::kAll:
        listed = true;
        break;
      case wire::SbListOrder::kReuse:  // closed, least-worn first
        listed = closed;
        key = (uint64_t{sb.rec.erase_count} << 32) | id;
        break;
      case wire::SbListOrder::kRefresh:  // the model never loses charge
        break;
      case wire::SbListOrder::kCheck:
        listed = closed && (sb.rec.flags & kSbFlagNeedsPatrol);
        break;
      case wire::SbListOrder::kClosedBySbId:
        listed = closed;
        break;
    }
    if (!listed) continue;
    uint8_t sbs = closed                                ? wire::kSbsClosed
                  : sb.state() == SbState::kOpenByErase ? wire::kSbsOpenByErase
                                                        : wire::kSbsOpenByPlacement;
    if (sb.rec.flags & kSbFlagPslc) sbs |= wire::kSbsPslc;
    entries.push_back(
        {key, wire::SbListEntry{
                  id, static_cast<uint8_t>(std::min<uint32_t>(sb.rec.erase_count, 255)), sbs, 0}});
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<wire::SbListEntry> list;
  for (auto& [key, e] : entries) list.push_back(e);
  list.push_back({wire::kSbListEnd, 0, 0, 0});
  CopyOut(v.buffer, list.data(), list.size() * sizeof(wire::SbListEntry), v.offset);
  return Outcome::Ok();
}

Outcome Model::SuperBlockInfoLog(const cmd::SuperBlockInfoLogRequest& v, Completions& out) {
  wire::SbInfoLog info{};
  if (v.vd == kPendingEventVirtualDevice) {
    std::optional<wire::SbInfoLog> pending = PendingSbEvent(v.retain_event, out);
    if (!pending.has_value()) return InvalidField();
    info = *pending;
  } else {
    Vd* vd = FindVd(v.vd.value());
    if (vd == nullptr || v.sb.value() >= vd->sbs.size()) return InvalidField();
    FillSbInfo(*vd, v.sb.value(), 0, info);
    if (!v.retain_event) ReArmEvents(/*sb_log=*/true, out);
  }
  CopyOut(v.buffer, info);
  return Outcome::Ok();
}

Outcome Model::UserAddressListLog(const cmd::UserAddressListLogRequest& v) {
  Domain* d = FindDomain(v.domain.value());
  if (d == nullptr) return InvalidNamespace();
  const Vd& vd = *d->vd;
  if (v.sb.value() >= vd.sbs.size() ||
      vd.sbs[v.sb.value()].owner.load(std::memory_order_acquire) != d->id.value()) {
    return InvalidField();
  }
  const SuperBlock& sb = vd.sbs[v.sb.value()];
  std::vector<uint64_t> uas(sb.capacity, ~uint64_t{0});
  for (uint32_t i = 0; i < sb.written; ++i) {
    uas[i] = media_->info(PhysicalAdu(vd, v.sb.value(), i))->user_address;
  }
  CopyOut(v.buffer, uas.data(), uas.size() * 8, v.offset);
  return Outcome::Ok();
}

}  // namespace sef::model::internal
