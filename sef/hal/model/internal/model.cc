// Opening and recovering a unit, command dispatch, the SB state machine, time-driven work.
#include "sef/hal/model/internal/model.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/str_format.h"
#include "sef/base/await.h"
#include "sef/base/status_macros.h"

namespace sef::model {

absl::StatusOr<std::unique_ptr<Controller>> Controller::Open(ControllerOptions options) {
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<internal::Model> model,
                       internal::Model::Create(std::move(options)));
  return std::unique_ptr<Controller>(std::move(model));
}

Completion Controller::Execute(const Command& cmd) {
  return Await<Completion>([&](CompletionCallback done) { Submit(cmd, std::move(done)); });
}

namespace internal {

int64_t SecondsSince(int64_t now, int64_t since) {
  if (since >= now) return 0;
  const uint64_t elapsed = static_cast<uint64_t>(now) - static_cast<uint64_t>(since);
  return static_cast<int64_t>(std::min<uint64_t>(elapsed, std::numeric_limits<int64_t>::max()));
}

Outcome Fail(wire::StatusCodeType sct, uint8_t sc) {
  return {NvmeStatus(static_cast<uint8_t>(sct), sc, /*dnr=*/true), 0};
}
Outcome InvalidField() { return Fail(wire::StatusCodeType::kGeneric, wire::sc::kInvalidField); }
Outcome SequenceError() {
  return Fail(wire::StatusCodeType::kGeneric, wire::sc::kCommandSequenceError);
}
Outcome InvalidNamespace() {
  return Fail(wire::StatusCodeType::kGeneric, wire::sc::kInvalidNamespace);
}

void CopyOut(const cmd::MutableBytes& buf, const void* src, size_t n, uint64_t offset) {
  std::memset(buf.data, 0, buf.size);
  if (offset >= n) return;
  std::memcpy(buf.data, static_cast<const uint8_t*>(src) + offset,
              std::min<uint64_t>(n - offset, buf.size));
}

Model::Model(ControllerOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

Model::~Model() {
  AbortOutstanding();
  WriterMutexLock topology(&topology_mu_);
  if (media_ == nullptr || !powered_.load(std::memory_order_relaxed)) return;
  // A clean close: everything written reaches the media, then the unit is marked not in use,
  // so the next opener keeps every ADU. (Off, the cut already applied the loss rule and the
  // flag stays set; the next opener's rule then has nothing left to take.) media_'s
  // destructor msyncs again.
  media_->SyncAll();
  (void)media_->SetInUse(false);  // a corrupt unit record is reported by the next Open
}

void Model::AbortOutstanding() {
  Completions out;
  {
    WriterMutexLock topology(&topology_mu_);
    AbortParked(Fail(wire::StatusCodeType::kGeneric, wire::sc::kAbortRequested).status, out);
    MutexLock events(&events_mu_);
    // Events already reported are re-armed: the host lost their AERs with the reset.
    sb_event_outstanding_ = vd_event_outstanding_ = false;
  }
  for (auto& [done, completion] : out) std::move(done)(completion);
}

void Model::AbortParked(NvmeStatus status, Completions& out) {
  for (auto& d : domains_) {
    if (d == nullptr) continue;
    MutexLock lock(&d->mu);
    AbortPending(*d, status, out);
  }
  MutexLock events(&events_mu_);
  for (auto& aer : aers_) out.emplace_back(std::move(aer), Completion{0, status});
  aers_.clear();
}

namespace {

// The model keeps state per physical block in memory and builds an SB's ADU list for log
// 0xD4: a unit beyond these sizes is refused rather than left to exhaust memory. (LD2 has
// 632,448 blocks and SBs of at most 2,752,512 ADUs.)
constexpr uint64_t kMaxPhysicalBlocks = uint64_t{1} << 22;
constexpr uint64_t kMaxSuperBlockAdus = uint64_t{1} << 24;

absl::Status CheckEmulatable(const UnitConfig& c) {
  const uint64_t blocks = uint64_t{c.dies()} * c.blocks_per_die;
  if (blocks > kMaxPhysicalBlocks) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unit '%s': %d dies x %d blocks per die = %d physical blocks; the device model "
        "emulates at most %d",
        c.name, c.dies(), c.blocks_per_die, blocks, kMaxPhysicalBlocks));
  }
  const uint64_t sb_adus = c.adus_per_block() * c.dies();
  if (sb_adus > kMaxSuperBlockAdus) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unit '%s': a super block of all %d dies holds %d ADUs; the device model emulates at "
        "most %d",
        c.name, c.dies(), sb_adus, kMaxSuperBlockAdus));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> Model::Create(ControllerOptions options) {
  SEF_RETURN_IF_ERROR(options.config.Validate());
  SEF_RETURN_IF_ERROR(CheckEmulatable(options.config));
  std::unique_ptr<Model> m(new Model(std::move(options)));
  SEF_ASSIGN_OR_RETURN(m->media_, Media::Open(m->options_.config, m->options_.backing_file));
  {
    WriterMutexLock topology(&m->topology_mu_);
    SEF_RETURN_IF_ERROR(m->PowerUp());  // a failure leaves it off: no clean close marked
    m->powered_.store(true, std::memory_order_release);
  }
  return m;
}

// ---- geometry ---------------------------------------------------------------------------------

uint32_t Model::SbCapacity(const Vd& vd, bool pslc) const {
  const uint64_t per_die = options_.config.adus_per_block();
  return static_cast<uint32_t>(vd.dies_per_sb * (pslc ? per_die / 4 : per_die));
}

// SB id = group * blocks_per_die + block; its record lives at the block of the group's first
// die; ADU o lives on the group's die o / per-die-capacity.
uint64_t Model::Slot(const Vd& vd, uint32_t sb) const {
  const uint32_t blocks = options_.config.blocks_per_die;
  const uint32_t group = sb / blocks, block = sb % blocks;
  return uint64_t{vd.dies[group * vd.dies_per_sb]} * blocks + block;
}

uint64_t Model::PhysicalAdu(const Vd& vd, uint32_t sb, uint32_t offset) const {
  const uint32_t blocks = options_.config.blocks_per_die;
  const uint64_t per_block = options_.config.adus_per_block();
  const bool pslc = vd.sbs[sb].rec.flags & kSbFlagPslc;
  const uint64_t per_die = pslc ? per_block / 4 : per_block;
  const uint32_t group = sb / blocks, block = sb % blocks;
  const uint16_t die = vd.dies[group * vd.dies_per_sb + offset / per_die];
  return (uint64_t{die} * blocks + block) * per_block + offset % per_die;
}

void Model::SyncAdus(const Vd& vd, uint32_t sb, uint32_t from, uint32_t to) {
  if (from >= to) return;
  ForEachRun(vd, sb, from, to, [this](uint64_t first, uint32_t n) { media_->WriteBack(first, n); });
  media_->SyncSb(Slot(vd, sb));  // one flush for every run written back
}

// ---- recovery ---------------------------------------------------------------------------------

absl::Status Model::Recover(uint64_t loss_seed) {
  const UnitConfig& config = options_.config;
  fifos_.assign(config.read_fifos, FifoSettings{});
  domains_.resize(config.max_qos_domains);
  SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> unit, media_->ReadUnitState());
  std::vector<VdSettings> settings(config.dies());
  std::vector<uint16_t> owner(config.dies(), 0);
  bool lost_power = false;
  if (!unit.empty()) {
    UnitStateHeader h;
    const uint8_t* p = unit.data();
    std::memcpy(&h, p, sizeof(h));
    p += sizeof(h);
    std::memcpy(settings.data(), p, settings.size() * sizeof(VdSettings));
    p += settings.size() * sizeof(VdSettings);
    std::memcpy(owner.data(), p, owner.size() * sizeof(uint16_t));
    p += owner.size() * sizeof(uint16_t);
    std::memcpy(fifos_.data(), p, fifos_.size() * sizeof(FifoSettings));
    selected_config_ = h.selected_config;
    lost_power = h.flags & kUnitFlagInUse;
  }
  std::mt19937_64 rng(loss_seed);
  // Virtual devices: dies grouped by owner, settings by id.
  cmd::CapacityConfig restored;
  restored.id = selected_config_;
  for (uint32_t die = 0; die < config.dies(); ++die) {
    if (owner[die] == 0) continue;
    auto it = std::find_if(restored.vds.begin(), restored.vds.end(),
                           [&](const cmd::VdDies& v) { return v.vd.value() == owner[die]; });
    if (it == restored.vds.end()) {
      restored.vds.push_back({VirtualDeviceId(owner[die]), {}});
      it = restored.vds.end() - 1;
    }
    it->dies.push_back(cmd::DieId(static_cast<uint16_t>(die)));
  }
  if (!restored.vds.empty()) {
    defined_configs_[restored.id] = restored;
    SEF_RETURN_IF_ERROR(BuildVds(restored));
    for (const VdSettings& s : settings) {
      Vd* vd = FindVd(s.vd);
      if (s.vd == 0 || vd == nullptr) continue;
      if (s.dies_per_sb == 0 || vd->dies.size() % s.dies_per_sb != 0) {
        return absl::DataLossError(absl::StrFormat(
            "%s: the unit state record gives virtual device %u super blocks of %u dies; it has "
            "%u dies",
            options_.backing_file, s.vd, s.dies_per_sb, vd->dies.size()));
      }
      vd->dies_per_sb = s.dies_per_sb;
      vd->pslc_super_blocks = s.pslc_super_blocks;
      vd->default_fifo = ReadFifoId(s.default_read_fifo);
      vd->aen_mask = s.aen_mask;
      vd->suspend_min_time = s.suspend_min_time;
      vd->sbs = std::vector<SuperBlock>(vd->groups() * config.blocks_per_die);
    }
  }
  // QoS domains.
  for (uint32_t i = 0; i < config.max_qos_domains; ++i) {
    SEF_ASSIGN_OR_RETURN(std::optional<DomainRecord> rec, media_->ReadDomain(i));
    if (!rec.has_value() || !rec->in_use) continue;
    Vd* vd = FindVd(rec->vd);
    if (vd == nullptr) {
      return absl::DataLossError(
          absl::StrFormat("%s: QoS domain %u belongs to virtual device %u, which does not exist",
                          options_.backing_file, i + 1, rec->vd));
    }
    auto d = std::make_unique<Domain>();
    d->id = QosDomainId(static_cast<uint16_t>(i + 1));
    d->vd = vd;
    d->rec = *rec;
    d->format = {vd->format, rec->num_placement_ids};
    domains_[i] = std::move(d);
  }
  // Super blocks: state from their records, write pointers from the ADUs present.
  uint64_t max_sequence = 0;
  for (auto& [vd_id, vd] : vds_) {
    // Built without the VD lock, then installed: the lock order is domain before VD.
    std::deque<uint32_t> free_list;
    uint32_t pslc_in_use = 0, erase_serial = 0;
    for (uint32_t id = 0; id < vd->sbs.size(); ++id) {
      SuperBlock& sb = vd->sbs[id];
      SEF_ASSIGN_OR_RETURN(std::optional<SbRecord> rec, media_->ReadSb(Slot(*vd, id)));
      const bool live = rec.has_value() && rec->state != static_cast<uint8_t>(SbState::kFree) &&
                        rec->vd == vd_id && rec->sb_id == id && rec->domain != 0 &&
                        rec->domain <= domains_.size() && domains_[rec->domain - 1] != nullptr &&
                        domains_[rec->domain - 1]->vd == vd.get();
      if (rec.has_value()) erase_serial = std::max(erase_serial, rec->erase_serial);
      if (!live) {
        sb.rec = SbRecord{};
        sb.rec.vd = vd_id;
        sb.rec.sb_id = id;
        if (rec.has_value()) sb.rec.erase_count = rec->erase_count;
        free_list.push_back(id);
        continue;
      }
      sb.rec = *rec;
      const bool pslc = rec->flags & kSbFlagPslc;
      sb.capacity = SbCapacity(*vd, pslc);
      sb.owner.store(rec->domain, std::memory_order_relaxed);
      while (sb.written < sb.capacity) {
        const AduInfo* info = media_->info(PhysicalAdu(*vd, id, sb.written));
        if (info->sequence == 0) break;
        max_sequence = std::max(max_sequence, info->sequence);
        ++sb.written;
      }
      if (sb.state() != SbState::kClosed) {
        // The power-loss rule, the same as a cut applies (Cut: same SB order, same rng use).
        // After it, or after a clean close, every ADU present is durable.
        if (volatile_cache()) {
          if (lost_power) LoseVolatileTail(*vd, id, rng);
          Secure(*vd, id, sb.written);
        }
        // Full but open: the process died between the last ADU of the write that filled the SB
        // and the close that write makes. Close it now, as that write would have, and tell
        // the host as it would have been told.
        if (sb.written == sb.capacity) {
          const uint8_t transition = ClosedTransition(sb);
          sb.rec.state = static_cast<uint8_t>(SbState::kClosed);
          sb.rec.durable = sb.written;
          sb.rec.state_since_seconds = clock_->NowSeconds();
          PersistSb(*vd, id);
          RaiseSbEvent(*vd, id, transition);
        }
      }
      Domain& d = *domains_[rec->domain - 1];
      MutexLock d_lock(&d.mu);
      ++d.owned;
      (pslc ? d.used_pslc_plane_pages : d.used_plane_pages) += PlanePages(sb.capacity);
      if (pslc) ++pslc_in_use;
      if (sb.state() != SbState::kClosed) d.open_sbs.insert(id);
      if (sb.state() == SbState::kOpenByPlacement) {
        d.open_by_placement[{rec->placement_id, pslc}] = id;
      }
    }
    MutexLock vd_lock(&vd->mu);
    vd->free_list = std::move(free_list);
    vd->pslc_in_use = pslc_in_use;
    vd->erase_serial = erase_serial;
  }
  write_sequence_.store(max_sequence, std::memory_order_relaxed);
  for (auto& [vd_id, vd] : vds_) UpdateCriticalWarning(*vd);
  return absl::OkStatus();
}

// ---- dispatch ---------------------------------------------------------------------------------

void Model::Submit(const Command& c, CompletionCallback done) {
  MaybeTick();
  Completions out;
  const bool aer = c.queue == QueueType::kAdmin &&
                   c.opcode() == static_cast<uint8_t>(wire::AdminOpcode::kAsyncEventRequest);
  for (;;) {
    // The gate is passed under the lock the command runs under, so a cut (exclusive) falls
    // between commands, never inside one.
    Gate gate;
    bool parked = false;  // `done` was taken (parked, or completed through `out`)
    Outcome o;
    if (aer) {
      ReaderMutexLock topology(&topology_mu_);
      gate = Admit();
      if (gate == Gate::kRun) {
        ParkAer(std::move(done), out);
        parked = true;
      }
    } else if (c.queue == QueueType::kAdmin) {
      WriterMutexLock topology(&topology_mu_);
      gate = Admit();
      if (gate == Gate::kRun) o = ExecuteAdmin(c, out);
    } else {
      ReaderMutexLock topology(&topology_mu_);
      gate = Admit();
      if (gate == Gate::kRun) o = ExecuteIo(c, done, out, parked);
    }
    if (gate == Gate::kCutFirst) {
      TriggeredCut(out);
      continue;  // now off
    }
    if (gate == Gate::kOff) o = Fail(wire::StatusCodeType::kGeneric, wire::sc::kAbortedPowerLoss);
    if (!parked) out.emplace_back(std::move(done), Completion{o.result, o.status});
    break;
  }
  DeliverEvents(out);
  for (auto& [callback, completion] : out) std::move(callback)(completion);
}

Domain* Model::FindDomain(uint32_t nsid) {
  if (nsid == 0 || nsid > domains_.size()) return nullptr;
  return domains_[nsid - 1].get();
}

Vd* Model::FindVd(uint16_t vd) {
  auto it = vds_.find(vd);
  return it == vds_.end() ? nullptr : it->second.get();
}

// ---- the SB state machine ---------------------------------------------------------------------

Outcome Model::SetSbState(Domain& d, uint32_t id, SbState to, uint8_t transition) {
  Vd& vd = *d.vd;
  SuperBlock& sb = vd.sbs[id];
  const SbState from = sb.state();
  const auto is_open = [](SbState s) {
    return s == SbState::kOpenByErase || s == SbState::kOpenByPlacement;
  };
  const bool legal = (from == SbState::kFree && is_open(to)) ||
                     (is_open(from) && to == SbState::kClosed) ||
                     (from != SbState::kFree && to == SbState::kFree);
  if (!legal) return SequenceError();
  const bool pslc = sb.rec.flags & kSbFlagPslc;
  uint64_t& used = pslc ? d.used_pslc_plane_pages : d.used_plane_pages;
  if (is_open(from)) d.open_sbs.erase(id);
  if (from == SbState::kOpenByPlacement) d.open_by_placement.erase({sb.rec.placement_id, pslc});
  if (is_open(to)) d.open_sbs.insert(id);
  // Closing programs (and pads) the SB's last pages: nothing of a closed SB is lost.
  if (to == SbState::kClosed) sb.rec.durable = sb.written;
  if (from == SbState::kFree) {
    ++d.owned;
    used += PlanePages(sb.capacity);
  }
  sb.rec.state = static_cast<uint8_t>(to);
  sb.rec.state_since_seconds = clock_->NowSeconds();
  if (to == SbState::kFree) {
    --d.owned;
    used -= PlanePages(sb.capacity);
    sb.rec.flags = 0;
    sb.rec.domain = 0;
    sb.rec.durable = 0;
    sb.written = 0;
    sb.synced = 0;
    sb.capacity = 0;
    PersistSb(vd, id);
    sb.owner.store(0, std::memory_order_release);
    {
      MutexLock lock(&vd.mu);
      if (pslc) --vd.pslc_in_use;
      vd.free_list.push_back(id);
    }
    UpdateCriticalWarning(vd);
    return Outcome::Ok();
  }
  PersistSb(vd, id);
  if (to == SbState::kClosed) RaiseSbEvent(vd, id, transition);
  return Outcome::Ok();
}

void Model::PersistSb(const Vd& vd, uint32_t sb) { media_->WriteSb(Slot(vd, sb), vd.sbs[sb].rec); }

// ---- time -------------------------------------------------------------------------------------

void Model::MaybeTick() {
  const int64_t now = clock_->NowNanos();
  int64_t next = next_tick_nanos_.load(std::memory_order_relaxed);
  if (now < next) return;
  if (!next_tick_nanos_.compare_exchange_strong(next, now + 1'000'000'000)) return;
  Tick();
}

void Model::Tick() {
  Completions out;
  {
    ReaderMutexLock topology(&topology_mu_);
    if (!powered_.load(std::memory_order_acquire)) return;
    const int64_t now_s = clock_->NowSeconds();
    const UnitConfig& config = options_.config;
    for (auto& d : domains_) {
      if (d == nullptr) continue;
      MutexLock lock(&d->mu);
      Vd& vd = *d->vd;
      for (uint32_t id = 0; id < vd.sbs.size(); ++id) {
        SuperBlock& sb = vd.sbs[id];
        if (sb.owner.load(std::memory_order_acquire) != d->id.value()) continue;
        const int64_t age = SecondsSince(now_s, sb.rec.state_since_seconds);
        const bool open =
            sb.state() == SbState::kOpenByErase || sb.state() == SbState::kOpenByPlacement;
        // An open SB past the expiration of its open period is closed by the device.
        if (open && config.open_expiration_seconds != 0 && age >= config.open_expiration_seconds) {
          SetSbState(
              *d, id, SbState::kClosed,
              sb.state() == SbState::kOpenByErase ? wire::kStEraseClosed : wire::kStNlwClosed);
        } else if (sb.state() == SbState::kClosed && config.patrol_cycle_minutes != 0 &&
                   !(sb.rec.flags & kSbFlagNeedsPatrol) &&
                   age >= int64_t{config.patrol_cycle_minutes} * 60) {
          // Data integrity is unknown after a patrol cycle without a patrol.
          sb.rec.flags |= kSbFlagNeedsPatrol;
          PersistSb(vd, id);
          RaiseSbEvent(vd, id, wire::kStIntegrityUnknown);
        }
      }
    }
    ExpireUnpaired(out);
  }
  DeliverEvents(out);
  for (auto& [callback, completion] : out) std::move(callback)(completion);
}

void Model::ExpireUnpaired(Completions& out) {
  const int64_t limit = clock_->NowNanos() - options_.unpaired_timeout_ms * 1'000'000;
  for (auto& d : domains_) {
    if (d == nullptr) continue;
    MutexLock lock(&d->mu);
    for (auto* aborted : {&d->aborted_writes, &d->aborted_copies}) {
      std::erase_if(*aborted, [limit](const auto& a) { return a.second.at_nanos < limit; });
    }
    AbortPending(*d, Fail(wire::StatusCodeType::kGeneric, wire::sc::kAbortRequested).status, out,
                 limit);
  }
}

void Model::AbortPending(Domain& d, NvmeStatus status, Completions& out, int64_t since_or_before) {
  for (auto* pending : {&d.pending_writes, &d.pending_copies}) {
    for (auto it = pending->begin(); it != pending->end();) {
      if (it->second.since_nanos > since_or_before) {
        ++it;
        continue;
      }
      auto& aborted = pending == &d.pending_writes ? d.aborted_writes : d.aborted_copies;
      if (aborted.size() >= kMaxAbortedIds) aborted.erase(aborted.begin());
      aborted[it->first] = {clock_->NowNanos(), IsFirstOfPair(it->second.request)};
      out.emplace_back(std::move(it->second.done), Completion{0, status});
      it = pending->erase(it);
    }
  }
}

}  // namespace internal
}  // namespace sef::model
