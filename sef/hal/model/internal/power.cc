// The volatile write cache: durable pointers of open SBs, power cuts, power-on
// (docs/model.md, "Power loss").
#include <algorithm>
#include <atomic>
#include <limits>
#include <random>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/model/internal/model.h"

namespace sef::model::internal {

// ---- durability of open SBs -------------------------------------------------------------------

// ADU o of an SB lives on die o / per-die of its group, so the SB's pages in offset order are
// die 0's pages, then die 1's, ...; a die's last page is short when a pSLC block's ADUs do
// not fill it. Page j (counting from 0) is durable once pages j .. j + npsi - 1 are complete.
uint32_t Model::ProgrammedDurable(const Vd& vd, uint32_t id) const {
  const SuperBlock& sb = vd.sbs[id];
  const uint64_t page = options_.config.adus_per_page();
  const uint64_t per_die = sb.capacity / vd.dies_per_sb;
  const uint64_t pages_per_die = (per_die + page - 1) / page;
  const uint64_t complete = sb.written / per_die * pages_per_die + sb.written % per_die / page;
  const uint64_t npsi = options_.config.pages_to_secure_integrity;
  if (complete < npsi) return 0;
  const uint64_t last = complete - npsi;
  return static_cast<uint32_t>(last / pages_per_die * per_die +
                               std::min((last % pages_per_die + 1) * page, per_die));
}

void Model::Secure(Vd& vd, uint32_t id, uint32_t to) {
  SuperBlock& sb = vd.sbs[id];
  if (!volatile_cache() || to <= sb.rec.durable) return;
  sb.rec.durable = to;
  PersistSb(vd, id);
}

void Model::Commit(Vd& vd, uint32_t id) {
  SuperBlock& sb = vd.sbs[id];
  // Nothing written since the last commit: it is all durable already (a flush of several
  // SBs, most of them unchanged, costs no file sync for those).
  if (sb.synced >= sb.written) return;
  // From the last commit on, not from the command's first ADU: the durable pointer below
  // vouches for every ADU under it, a FUA write's earlier neighbours too.
  SyncAdus(vd, id, sb.synced, sb.written);  // the data first, then the pointer for it
  if (volatile_cache()) {
    Secure(vd, id, sb.written);
    media_->SyncSb(Slot(vd, id));
  }
  sb.synced = sb.written;
}

// ---- power ------------------------------------------------------------------------------------

absl::Status Model::PowerUp() {
  // Unset: a seed from the OS, so that repeated crashes of a VM do not lose the same way.
  const uint64_t seed = options_.power_cut_seed.has_value()
                            ? *options_.power_cut_seed
                            : (uint64_t{std::random_device()()} << 32) | std::random_device()();
  SEF_RETURN_IF_ERROR(Recover(seed));
  // Only now: a crash during recovery finds the flag as it was and recovers the same way.
  return media_->SetInUse(true);
}

void Model::ForgetState() {
  selected_config_ = 0;
  defined_configs_.clear();
  domains_.clear();  // before the VDs they point to
  vds_.clear();
  fifos_.clear();
  MutexLock events(&events_mu_);
  aers_.clear();
  sb_events_.clear();
  vd_events_.clear();
  sb_event_outstanding_ = vd_event_outstanding_ = false;
}

absl::Status Model::PowerOn() {
  WriterMutexLock topology(&topology_mu_);
  if (powered_.load(std::memory_order_relaxed)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("unit '%s' is already powered on", options_.config.name));
  }
  ForgetState();
  SEF_RETURN_IF_ERROR(PowerUp());
  next_tick_nanos_.store(0, std::memory_order_relaxed);
  powered_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void Model::PowerCut(uint64_t seed) {
  Completions out;
  {
    WriterMutexLock topology(&topology_mu_);
    Cut(seed, out);
  }
  for (auto& [done, completion] : out) std::move(done)(completion);
}

void Model::CutPowerAfter(uint64_t commands, uint64_t seed) {
  WriterMutexLock topology(&topology_mu_);
  cut_seed_ = seed;
  cut_after_.store(
      static_cast<int64_t>(std::min<uint64_t>(commands, std::numeric_limits<int64_t>::max())),
      std::memory_order_release);
}

void Model::Cut(uint64_t seed, Completions& out) {
  cut_after_.store(-1, std::memory_order_relaxed);
  if (!powered_.load(std::memory_order_relaxed)) return;
  AbortParked(Fail(wire::StatusCodeType::kGeneric, wire::sc::kAbortedPowerLoss).status, out);
  if (volatile_cache()) {
    std::mt19937_64 rng(seed);
    for (auto& [vd_id, vd] : vds_) {
      for (uint32_t id = 0; id < vd->sbs.size(); ++id) {
        const SbState state = vd->sbs[id].state();
        if (state == SbState::kOpenByErase || state == SbState::kOpenByPlacement) {
          LoseVolatileTail(*vd, id, rng);
        }
      }
    }
  }
  powered_.store(false, std::memory_order_release);
}

void Model::LoseVolatileTail(Vd& vd, uint32_t id, std::mt19937_64& rng) {
  SuperBlock& sb = vd.sbs[id];
  const uint32_t durable = std::min(sb.rec.durable, sb.written);
  uint32_t keep = sb.written;
  if (sb.written > durable) {
    // Both ends are likely, so that tests meet "lost nothing" and "lost everything" often.
    const uint64_t pick = rng();
    keep = pick % 4 == 0 ? durable
           : pick % 4 == 1
               ? sb.written
               : durable + static_cast<uint32_t>((pick >> 2) % (sb.written - durable + 1));
  }
  for (uint32_t o = sb.written; o > keep; --o) {
    media_->info(PhysicalAdu(vd, id, o - 1))->sequence = 0;
    std::atomic_signal_fence(std::memory_order_release);  // last ADU first, for the compiler too
  }
  sb.written = keep;
  sb.synced = std::min(sb.synced, keep);
  if (sb.rec.durable != keep) {
    sb.rec.durable = keep;  // what survived a cut is on the media: it survives the next one
    PersistSb(vd, id);
  }
}

Model::Gate Model::Admit() {
  if (!powered_.load(std::memory_order_acquire)) return Gate::kOff;
  int64_t left = cut_after_.load(std::memory_order_acquire);
  while (left > 0) {
    if (cut_after_.compare_exchange_weak(left, left - 1, std::memory_order_acq_rel)) {
      return Gate::kRun;
    }
  }
  return left == 0 ? Gate::kCutFirst : Gate::kRun;
}

void Model::TriggeredCut(Completions& out) {
  WriterMutexLock topology(&topology_mu_);
  if (cut_after_.load(std::memory_order_relaxed) == 0) Cut(cut_seed_, out);
}

}  // namespace sef::model::internal
