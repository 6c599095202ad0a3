// Model::CheckInvariants: what must hold between any two commands, computed from the SB
// records, free lists, domain counters and the records on the media, all in one place. Fuzz
// targets and tests call it through testing/invariants.h; the model itself never does.
#include <algorithm>
#include <cstring>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "sef/hal/model/internal/model.h"

namespace sef::model::internal {
namespace {

template <typename... Args>
absl::Status Broken(const absl::FormatSpec<Args...>& format, const Args&... args) {
  return absl::InternalError(absl::StrCat("model invariant: ", absl::StrFormat(format, args...)));
}

bool IsOpen(SbState s) { return s == SbState::kOpenByErase || s == SbState::kOpenByPlacement; }

}  // namespace

// Every lock is taken (topology, then every domain, every VD, the events) so that the whole
// state is read at one instant; the analysis cannot follow locks held in containers.
absl::Status Model::CheckInvariants() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  const UnitConfig& config = options_.config;
  WriterMutexLock topology(&topology_mu_);
  std::vector<Mutex*> locks;
  for (auto& d : domains_) {
    if (d != nullptr) locks.push_back(&d->mu);
  }
  for (auto& [id, vd] : vds_) locks.push_back(&vd->mu);
  locks.push_back(&events_mu_);
  for (Mutex* mu : locks) mu->Lock();
  absl::Cleanup unlock = [&locks]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (auto it = locks.rbegin(); it != locks.rend(); ++it) (*it)->Unlock();
  };

  // ---- unit ----
  if (domains_.size() != config.max_qos_domains) {
    return Broken("%u domain slots for %u QoS domains", domains_.size(), config.max_qos_domains);
  }
  if (!vds_.empty() && selected_config_ == 0) return Broken("VDs exist with no configuration");
  if (aers_.size() > kMaxOutstandingAers) {
    return Broken("%u AERs parked, at most %u", aers_.size(), kMaxOutstandingAers);
  }
  std::set<uint16_t> dies;
  for (const auto& [id, vd] : vds_) {
    for (uint16_t die : vd->dies) {
      if (die >= config.dies() || !dies.insert(die).second) {
        return Broken("VD %u: die %u is past the unit or in two VDs", id, die);
      }
    }
  }
  for (uint32_t i = 0; i < fifos_.size(); ++i) {
    if (fifos_[i].vd != 0 && FindVd(fifos_[i].vd) == nullptr) {
      return Broken("read FIFO %u is attached to VD %u, which does not exist", i + 1, fifos_[i].vd);
    }
  }
  const auto fifo_of = [&](uint32_t fifo) ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) -> uint16_t {
    return fifo == 0 || fifo > fifos_.size() ? 0 : fifos_[fifo - 1].vd;
  };

  // ---- domains, counted from the SBs below ----
  struct Count {
    uint32_t owned = 0;
    std::set<uint32_t> open;
    uint64_t used = 0, used_pslc = 0;
  };
  std::vector<Count> counts(domains_.size());

  const uint64_t sequence = write_sequence_.load(std::memory_order_relaxed);
  for (const auto& [vd_id, vd_ptr] : vds_) {
    const Vd& vd = *vd_ptr;
    if (vd.id.value() != vd_id) return Broken("VD %u is filed under %u", vd.id.value(), vd_id);
    if (vd.format != config.address) return Broken("VD %u: address format differs", vd_id);
    if (vd.dies.empty() || vd.dies_per_sb == 0 || vd.dies.size() % vd.dies_per_sb != 0) {
      return Broken("VD %u: %u dies in SBs of %u dies", vd_id, vd.dies.size(), vd.dies_per_sb);
    }
    if (vd.sbs.size() != uint64_t{vd.groups()} * config.blocks_per_die) {
      return Broken("VD %u: %u SBs, %u groups of %u blocks", vd_id, vd.sbs.size(), vd.groups(),
                    config.blocks_per_die);
    }
    if (vd.default_fifo.value() != 0 && fifo_of(vd.default_fifo.value()) != vd_id) {
      return Broken("VD %u: default read FIFO %u is not attached to it", vd_id,
                    vd.default_fifo.value());
    }
    // Free list: unique ids of free SBs, and every free SB listed.
    std::vector<bool> listed(vd.sbs.size(), false);
    for (uint32_t id : vd.free_list) {
      if (id >= vd.sbs.size() || listed[id]) {
        return Broken("VD %u: free list holds SB %u twice or past the end", vd_id, id);
      }
      listed[id] = true;
    }
    uint32_t pslc_in_use = 0;
    for (uint32_t id = 0; id < vd.sbs.size(); ++id) {
      const SuperBlock& sb = vd.sbs[id];
      const uint16_t owner = sb.owner.load(std::memory_order_relaxed);
      if (sb.rec.erase_serial > vd.erase_serial) {
        return Broken("VD %u SB %u: erase serial %u above the VD's %u", vd_id, id,
                      sb.rec.erase_serial, vd.erase_serial);
      }
      if (sb.free()) {
        if (!listed[id]) return Broken("VD %u SB %u: free but not in the free list", vd_id, id);
        if (owner != 0 || sb.rec.domain != 0 || sb.written != 0 || sb.capacity != 0 ||
            sb.rec.flags != 0) {
          return Broken("VD %u SB %u: free with owner %u/%u, %u/%u ADUs, flags 0x%x", vd_id, id,
                        owner, sb.rec.domain, sb.written, sb.capacity, sb.rec.flags);
        }
        continue;
      }
      if (listed[id]) return Broken("VD %u SB %u: in the free list but not free", vd_id, id);
      const SbState state = sb.state();
      if (!IsOpen(state) && state != SbState::kClosed) {
        return Broken("VD %u SB %u: state %u", vd_id, id, sb.rec.state);
      }
      Domain* d = FindDomain(owner);
      if (owner == 0 || owner != sb.rec.domain || d == nullptr || d->vd != &vd) {
        return Broken("VD %u SB %u: owner %u, record says %u, not a domain of this VD", vd_id, id,
                      owner, sb.rec.domain);
      }
      if (sb.rec.vd != vd_id || sb.rec.sb_id != id) {
        return Broken("VD %u SB %u: record names VD %u SB %u", vd_id, id, sb.rec.vd, sb.rec.sb_id);
      }
      const bool pslc = sb.rec.flags & kSbFlagPslc;
      if (pslc) ++pslc_in_use;
      if (sb.capacity != SbCapacity(vd, pslc) || sb.capacity == 0) {
        return Broken("VD %u SB %u: capacity %u, expected %u", vd_id, id, sb.capacity,
                      SbCapacity(vd, pslc));
      }
      if (sb.written > sb.capacity || (IsOpen(state) && sb.written == sb.capacity)) {
        return Broken("VD %u SB %u: %u of %u ADUs written in state %u", vd_id, id, sb.written,
                      sb.capacity, sb.rec.state);
      }
      // The write pointer is the number of leading written ADUs (what recovery rebuilds).
      for (uint32_t o = 0; o < sb.capacity; ++o) {
        const uint64_t s = media_->info(PhysicalAdu(vd, id, o))->sequence;
        if ((o < sb.written) != (s != 0) || s > sequence) {
          return Broken("VD %u SB %u: ADU %u has sequence %u with %u ADUs written (last %u)", vd_id,
                        id, o, s, sb.written, sequence);
        }
      }
      if (state == SbState::kOpenByPlacement) {
        auto it = d->open_by_placement.find({sb.rec.placement_id, pslc});
        if (it == d->open_by_placement.end() || it->second != id) {
          return Broken("VD %u SB %u: open for placement %u, not the domain's open SB of it", vd_id,
                        id, sb.rec.placement_id);
        }
      }
      absl::StatusOr<std::optional<SbRecord>> stored = media_->ReadSb(Slot(vd, id));
      if (!stored.ok() || !stored->has_value() || (*stored)->state != sb.rec.state ||
          (*stored)->domain != sb.rec.domain || (*stored)->vd != sb.rec.vd ||
          (*stored)->sb_id != sb.rec.sb_id || (*stored)->flags != sb.rec.flags) {
        return Broken("VD %u SB %u: the stored record differs from the SB's state", vd_id, id);
      }
      Count& c = counts[owner - 1];
      ++c.owned;
      if (IsOpen(state)) c.open.insert(id);
      (pslc ? c.used_pslc : c.used) += PlanePages(sb.capacity);
    }
    const auto free_count = static_cast<size_t>(std::count(listed.begin(), listed.end(), true));
    if (free_count != vd.free_list.size()) return Broken("VD %u: free list size", vd_id);
    if (pslc_in_use != vd.pslc_in_use) {
      return Broken("VD %u: %u pSLC SBs in use, counted %u", vd_id, vd.pslc_in_use, pslc_in_use);
    }
    uint8_t warning = vd.free_list.empty() ? wire::kCritOutOfSuperBlocks : 0;
    if (vd.pslc_super_blocks != 0 && vd.pslc_in_use >= vd.pslc_super_blocks) {
      warning |= wire::kCritOutOfPslcSuperBlocks;
    }
    if (warning != vd.critical_warning) {
      return Broken("VD %u: critical warning 0x%x, the state says 0x%x", vd_id, vd.critical_warning,
                    warning);
    }
    uint64_t allocated = 0;
    for (const auto& d : domains_) {
      if (d != nullptr && d->vd == &vd) allocated += d->rec.capacity;
    }
    if (allocated > PlanePages(SbCapacity(vd, false)) * vd.sbs.size()) {
      return Broken("VD %u: domains hold %u plane pages of capacity, more than the VD", vd_id,
                    allocated);
    }
  }

  for (uint32_t i = 0; i < domains_.size(); ++i) {
    const Domain* d = domains_[i].get();
    if (d == nullptr) continue;
    const uint32_t id = i + 1;
    if (d->id.value() != id || !d->rec.in_use) return Broken("domain slot %u: id or in_use", id);
    if (d->vd == nullptr || FindVd(d->rec.vd) != d->vd) {
      return Broken("domain %u: VD %u does not exist", id, d->rec.vd);
    }
    if (d->format != cmd::DomainFormat{d->vd->format, d->rec.num_placement_ids} ||
        d->rec.num_placement_ids == 0 || d->rec.num_placement_ids > config.max_placement_ids) {
      return Broken("domain %u: format or %u placement ids", id, d->rec.num_placement_ids);
    }
    const Count& c = counts[i];
    if (c.owned != d->owned || c.open != d->open_sbs || c.used != d->used_plane_pages ||
        c.used_pslc != d->used_pslc_plane_pages) {
      return Broken(
          "domain %u: owns %u SBs (%u open, %u+%u plane pages), counted %u (%u open, %u+%u)", id,
          d->owned, d->open_sbs.size(), d->used_plane_pages, d->used_pslc_plane_pages, c.owned,
          c.open.size(), c.used, c.used_pslc);
    }
    if (c.used > d->rec.quota || c.used_pslc > d->rec.pslc_quota) {
      return Broken("domain %u: %u+%u plane pages used, quotas %u+%u", id, c.used, c.used_pslc,
                    d->rec.quota, d->rec.pslc_quota);
    }
    for (const auto& [key, sb] : d->open_by_placement) {
      const SuperBlock* s = sb < d->vd->sbs.size() ? &d->vd->sbs[sb] : nullptr;
      if (s == nullptr || s->rec.domain != id || s->state() != SbState::kOpenByPlacement ||
          s->rec.placement_id != key.first || ((s->rec.flags & kSbFlagPslc) != 0) != key.second) {
        return Broken("domain %u: placement %u (pSLC %d) names SB %u, not its open SB", id,
                      key.first, key.second, sb);
      }
    }
    if (fifo_of(d->rec.default_read_fifo) != d->rec.vd) {
      return Broken("domain %u: default read FIFO %u is not attached to VD %u", id,
                    d->rec.default_read_fifo, d->rec.vd);
    }
    if (d->pending_writes.count(0) != 0 || d->pending_copies.count(0) != 0) {
      return Broken("domain %u: a pair waits under id 0", id);
    }
    absl::StatusOr<std::optional<DomainRecord>> stored = media_->ReadDomain(i);
    if (!stored.ok() || !stored->has_value() ||
        std::memcmp(&**stored, &d->rec, sizeof(DomainRecord)) != 0) {
      return Broken("domain %u: the stored record differs from the domain's state", id);
    }
  }
  return absl::OkStatus();
}

}  // namespace sef::model::internal
