// The map loader: Mount returns before the checkpoint's map pages are read; a background
// thread (the loader) reads them afterwards. docs/ftl.md ("Recovery" and "The map loader")
// gives the argument in full; in short:
//
//  - Recover leaves, per map page, recovery's updates of its blocks (the overlay: data ADUs
//    and trims found since the checkpoint, by sequence number) and which table slots stand.
//    The valid count of a standing slot starts at the count the checkpoint recorded for it:
//    the entries of exactly the map pages it wrote (format version 2).
//  - Loading a page: read it, check its generation, index and CRC, apply its overlay updates
//    in sequence order with recovery's rule (from R on always; below R only into an entry
//    that is stale or that replay set), then clear the entries still stale. An applied update
//    takes one from the old entry's slot (when that entry was counted: its slot stands or
//    replay set it) and adds one to the new entry's slot. So once every page is loaded, each
//    slot's count is what a walk over the map would find (DebugCheckValidCounts checks it).
//  - Until every page is loaded a count may still miss the overlay entries of pages not yet
//    loaded: no slot is found empty (MaybeEmptyLocked), GC picks no victim and no checkpoint
//    starts before then (map_loaded_).
//  - A read, write or trim of a block whose page is not loaded waits in parked_ (the loader
//    loads the pages parked requests need first); so does one that overlaps an earlier
//    parked request, which keeps overlapping updates in submission order. The loader starts
//    parked requests in the order they came, one at a time.
//  - A page that fails to load fails every request that needs it with the cause (the
//    device's status, or DataLoss for a bad page), never reads zeros; it shows in Stats and
//    on stderr, and the FTL takes no more updates (no checkpoint could be written without the
//    page, and GC needs exact counts): a later mount tries again from the same checkpoint.
#include <algorithm>
#include <bitset>
#include <cstdio>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/ftl/internal/callbacks.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/ftl/internal/trace.h"

namespace sef::ftl::internal {
namespace {

constexpr uint32_t kLoadBatch = 32;  // map pages per read

}  // namespace

void CountEntriesPerSlot(const uint32_t* entries, uint64_t n, uint32_t sb_capacity,
                         uint32_t slot_count, uint32_t* counts) {
  // Neighbouring entries mostly name one slot (blocks written together): count runs, and
  // divide only when an entry leaves the run's slot.
  uint32_t run_first = 0, run_slot = 0, run = 0;
  bool in_run = false;
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t v = entries[i];
    if (v == kMapUnmapped) continue;
    if (in_run && v - run_first < sb_capacity) {
      ++run;
      continue;
    }
    if (in_run) counts[run_slot] += run;
    const uint32_t slot = (v - 1) / sb_capacity;
    in_run = slot < slot_count;
    run = 0;
    if (!in_run) continue;
    run_slot = slot;
    run_first = slot * sb_capacity + 1;
    run = 1;
  }
  if (in_run) counts[run_slot] += run;
}

void Ftl::PrepareMapLoad(MapLoadPlan plan) {
  const uint32_t pages = geo_.map_pages();
  page_state_.reset(new std::atomic<uint8_t>[pages]());
  load_plan_ = std::move(plan);
  map_ready_.store(false, std::memory_order_release);
  {
    MutexLock lock(&load_mu_);
    next_page_ = 0;
    pages_left_ = pages;
    load_done_ = false;
    load_stop_ = false;
    load_status_ = absl::OkStatus();
  }
  MutexLock lock(&mu_);
  map_loaded_ = false;
}

void Ftl::MarkMapLoaded() {
  const uint32_t pages = geo_.map_pages();
  page_state_.reset(new std::atomic<uint8_t>[pages]);
  for (uint32_t p = 0; p < pages; ++p) page_state_[p].store(kPageLoaded, std::memory_order_relaxed);
  {
    MutexLock lock(&load_mu_);
    pages_left_ = 0;
    load_done_ = true;
  }
  map_ready_.store(true, std::memory_order_release);
  counters_.map_pages_loaded.store(pages, std::memory_order_relaxed);
  MutexLock lock(&mu_);
  map_loaded_ = true;
}

bool Ftl::PagesLoadedLocked(uint64_t lba, uint64_t count, absl::Status* failed) const {
  bool loaded = true;
  const uint64_t last = (lba + count - 1) / kMapEntriesPerPage;
  for (uint64_t p = lba / kMapEntriesPerPage; p <= last; ++p) {
    const uint8_t st = page_state_[p].load(std::memory_order_acquire);
    if (st == kPageFailed) {
      // The cause (its code and payloads: the device's NVMe status) with the page named.
      const absl::Status& cause = failed_pages_.at(static_cast<uint32_t>(p));
      absl::Status s(cause.code(),
                     absl::StrFormat("QoS domain %u: map page %u (blocks %u..%u) did not load: %s",
                                     domain_id_.value(), p, p * kMapEntriesPerPage,
                                     (p + 1) * kMapEntriesPerPage - 1, cause.message()));
      cause.ForEachPayload(
          [&s](absl::string_view url, const absl::Cord& payload) { s.SetPayload(url, payload); });
      *failed = std::move(s);
      return false;
    }
    if (st != kPageLoaded) loaded = false;
  }
  return loaded;
}

namespace {
bool Overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; }
}  // namespace

bool Ftl::Park(Parked& p) {
  absl::Status failed;
  {
    MutexLock lock(&load_mu_);
    if (map_ready_.load(std::memory_order_acquire)) return false;
    const bool loaded = PagesLoadedLocked(p.lba, p.count, &failed);
    if (failed.ok()) {
      bool behind = false;  // an earlier request it overlaps still waits
      for (const Parked& q : parked_) behind = behind || Overlap(p.lba, p.count, q.lba, q.count);
      if (loaded && !behind) return false;
      if (!loaded) {
        const uint64_t last = (p.lba + p.count - 1) / kMapEntriesPerPage;
        for (uint64_t pg = p.lba / kMapEntriesPerPage; pg <= last; ++pg) {
          if (page_state_[pg].load(std::memory_order_acquire) == kPageNotLoaded) {
            wanted_.push_back(static_cast<uint32_t>(pg));
            break;
          }
        }
        load_cv_.SignalAll();
      }
      parked_.push_back(std::move(p));
      return true;
    }
  }
  RunUserCallback(std::move(p.done), std::move(failed));
  EndOp();
  return true;
}

void Ftl::ServeParked() {
  // Only the loader thread serves (and erases); Park only appends, so an entry's index stays
  // put while it runs.
  for (;;) {
    Parked go;
    size_t index = 0;
    bool found = false;
    absl::Status failed;
    {
      MutexLock lock(&load_mu_);
      for (size_t i = 0; i < parked_.size() && !found; ++i) {
        Parked& q = parked_[i];
        if (q.running) continue;
        bool behind = false;
        for (size_t j = 0; j < i && !behind; ++j) {
          behind = Overlap(q.lba, q.count, parked_[j].lba, parked_[j].count);
        }
        if (behind) continue;
        failed = absl::OkStatus();
        const bool loaded = PagesLoadedLocked(q.lba, q.count, &failed);
        if (!loaded && failed.ok()) continue;
        found = true;
        index = i;
      }
      if (!found) return;
      Parked& q = parked_[index];
      go.kind = q.kind;
      go.lba = q.lba;
      go.count = q.count;
      go.data = q.data;
      go.fua = q.fua;
      go.done = std::move(q.done);
      // Still in the list while it starts: a later request it overlaps waits behind it
      // until it holds its range (taken inside Start...).
      q.running = true;
    }
    if (!failed.ok()) {
      RunUserCallback(std::move(go.done), std::move(failed));
      EndOp();
    } else if (go.kind == Parked::kRead) {
      StartRead(Lba(go.lba), static_cast<uint32_t>(go.count), go.data, std::move(go.done));
    } else if (go.kind == Parked::kWrite) {
      StartWrite(Lba(go.lba), static_cast<uint32_t>(go.count), go.data, go.fua, std::move(go.done));
    } else {
      StartTrim(Lba(go.lba), go.count, std::move(go.done));
    }
    MutexLock lock(&load_mu_);
    parked_.erase(parked_.begin() + static_cast<std::ptrdiff_t>(index));
  }
}

bool Ftl::LoadNextBatch() {
  const uint32_t pages = geo_.map_pages();
  uint32_t first = 0, n = 0;
  {
    MutexLock lock(&load_mu_);
    while (load_paused_ && !load_stop_) load_cv_.Wait(&load_mu_);
    if (load_stop_) return false;
    auto pending = [this](uint32_t p) {
      return page_state_[p].load(std::memory_order_relaxed) == kPageNotLoaded;
    };
    while (!wanted_.empty() && !pending(wanted_.front())) wanted_.pop_front();
    if (!wanted_.empty()) {
      first = wanted_.front();
      wanted_.pop_front();
    } else {
      while (next_page_ < pages && !pending(next_page_)) ++next_page_;
      if (next_page_ >= pages) return false;
      first = next_page_;
    }
    // A run of pages not loaded, inside one checkpoint SB.
    const uint32_t cap = geo_.sb_capacity;
    n = 1;
    while (n < kLoadBatch && first + n < pages && (first + n) / cap == first / cap &&
           pending(first + n)) {
      ++n;
    }
    pages_left_ -= n;
  }
  LoadPages(first, n);
  return true;
}

void Ftl::LoadPages(uint32_t first, uint32_t n) {
  const MapLoadPlan& plan = load_plan_;
  const uint32_t cap = geo_.sb_capacity;
  const bool adjust = plan.version >= 2;  // version 1: RecountValid after the whole map
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                std::atomic<uint32_t>::is_always_lock_free);
  auto* map_bytes = reinterpret_cast<uint8_t*>(map_.get());
  std::vector<CheckpointPageMeta> metas(n);
  // Read straight into the map (its layout is the pages'; AllocateArrays sizes it in whole
  // pages). Nobody else touches these entries before the pages are marked loaded.
  absl::Status read =
      ReadAdus(plan.sbs[first / cap], first % cap, n, map_bytes + uint64_t{first} * kAduBytes,
               reinterpret_cast<uint8_t*>(metas.data()));
  std::vector<absl::Status> result(n);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t page = first + i;
    uint8_t* data = map_bytes + uint64_t{page} * kAduBytes;
    if (!read.ok()) {
      result[i] = read;
    } else if (metas[i].generation != plan.generation || metas[i].page != page ||
               metas[i].crc != Crc32c(data, kAduBytes)) {
      result[i] = absl::DataLossError(absl::StrFormat(
          "QoS domain %u: checkpoint map page %u fails its CRC", domain_id_.value(), page));
    }
    if (!result[i].ok()) {
      std::memset(data, 0, kAduBytes);  // never read: the page is marked failed
      continue;
    }
    // Recovery's updates of this page's blocks, in sequence order.
    const uint64_t base = uint64_t{page} * kMapEntriesPerPage;
    std::atomic<uint32_t>* entries = map_.get() + base;
    std::bitset<kMapEntriesPerPage> touched;  // entries replay set: never stale
    auto stale = [&plan, cap](uint32_t v) {
      if (v == kMapUnmapped) return false;
      const uint32_t slot = (v - 1) / cap;
      return slot >= plan.kept.size() || !plan.kept[slot];
    };
    for (uint32_t k = plan.overlay_start[page]; k < plan.overlay_start[page + 1]; ++k) {
      const MapEvent& e = plan.overlay[k];
      const bool below_r = e.seq < plan.replay_from;
      const uint64_t end = e.count == 0 ? e.lba + 1 : e.lba + e.count;
      for (uint64_t lba = e.lba; lba < end; ++lba) {
        const uint32_t idx = static_cast<uint32_t>(lba - base);
        const uint32_t old = entries[idx].load(std::memory_order_relaxed);
        if (TracedLba(lba)) {
          Trace("map load: apply lba %u value %u below_r %d (map %u)", lba, e.value, below_r, old);
        }
        if (below_r && !stale(old) && !touched[idx]) continue;
        if (adjust) {
          if (old != kMapUnmapped && (touched[idx] || !stale(old))) {
            valid_[SlotOf(old)].fetch_sub(1, std::memory_order_acq_rel);
          }
          if (e.value != kMapUnmapped) {
            valid_[SlotOf(e.value)].fetch_add(1, std::memory_order_acq_rel);
          }
        }
        touched[idx] = true;
        entries[idx].store(e.value, std::memory_order_relaxed);
      }
    }
    // Entries still stale read zeros: what superseded them has replayed (hazards 2 and 3).
    // They were never counted (their slots do not stand).
    const uint32_t limit =
        static_cast<uint32_t>(std::min<uint64_t>(kMapEntriesPerPage, geo_.block_count - base));
    uint32_t run_first = 0;
    bool run_kept = false;
    for (uint32_t idx = 0; idx < limit; ++idx) {
      const uint32_t v = entries[idx].load(std::memory_order_relaxed);
      if (v == kMapUnmapped || (run_kept && v - run_first < cap)) continue;
      if (touched[idx] || !stale(v)) {
        run_kept = !touched[idx];
        run_first = SlotOf(v) * cap + 1;
        continue;
      }
      run_kept = false;
      if (TracedLba(base + idx)) Trace("map load: map[%u] %u stale", base + idx, v);
      entries[idx].store(kMapUnmapped, std::memory_order_relaxed);
    }
  }
  absl::Status first_failure;
  {
    MutexLock lock(&load_mu_);
    for (uint32_t i = 0; i < n; ++i) {
      if (result[i].ok()) {
        page_state_[first + i].store(kPageLoaded, std::memory_order_release);
        counters_.map_pages_loaded.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (load_status_.ok()) load_status_ = OwnCopy(result[i]);
      failed_pages_[first + i] = OwnCopy(result[i]);
      if (first_failure.ok()) first_failure = OwnCopy(result[i]);
      page_state_[first + i].store(kPageFailed, std::memory_order_release);
      counters_.map_pages_failed.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (first_failure.ok()) return;
  std::fprintf(stderr, "ftl: QoS domain %u: map pages %u..%u did not load: %s\n",
               domain_id_.value(), first, first + n - 1, first_failure.ToString().c_str());
  // No checkpoint can be written without the page, and GC needs exact counts: the FTL takes
  // no more updates (reads of loaded pages go on). The checkpoint in force stays; a later
  // mount tries the page again.
  MutexLock lock(&mu_);
  if (failed_.ok()) failed_ = OwnCopy(first_failure);
  FailWaitersLocked(first_failure);
}

void Ftl::SettleHeldSbs() {
  {
    MutexLock lock(&mu_);
    if (sbs_settled_) return;
  }
  absl::StatusOr<std::vector<hal::SuperBlockEntry>> listed = domain_->ListSuperBlocks();
  if (!listed.ok()) return FailAllPages(listed.status());
  absl::flat_hash_map<uint32_t, hal::SuperBlockState> held;
  held.reserve(listed->size());
  for (const hal::SuperBlockEntry& e : *listed) held[e.id.value()] = e.state;
  std::vector<SuperBlockId> to_close, to_release;
  {
    MutexLock lock(&mu_);
    absl::flat_hash_set<uint32_t> claimed;
    for (SuperBlockId sb : checkpoint_sbs_) claimed.insert(sb.value());
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      if (s.state == SlotState::kFree) continue;
      const bool data = s.kind == SlotKind::kUser || s.kind == SlotKind::kGc;
      auto it = held.find(s.sb.value());
      if (it == held.end()) {
        if (!data) continue;
        // Released without a record: its checkpoint entries are stale (no page is loaded
        // yet), and the slot is free.
        Trace("map load: slot %u sb %u is not held", i, s.sb.value());
        if (i < load_plan_.kept.size()) load_plan_.kept[i] = false;
        valid_[i].store(0, std::memory_order_relaxed);
        SetSlotState(i, SlotState::kFree);
        free_slots_.push_back(i);
        --held_sbs_;
        continue;
      }
      claimed.insert(s.sb.value());
      if (data && it->second != hal::SuperBlockState::kClosed) to_close.push_back(s.sb);
    }
    for (const auto& [id, state] : held) {
      if (!claimed.contains(id)) to_release.push_back(SuperBlockId(id));
    }
  }
  for (SuperBlockId sb : to_close) {
    absl::StatusOr<bool> c = domain_->CloseSuperBlock(sb);
    if (!c.ok()) DeviceError(c.status());
  }
  for (SuperBlockId sb : to_release) {
    Trace("map load: release unclaimed sb %u", sb.value());
    if (absl::Status s = domain_->ReleaseSuperBlock(sb); !s.ok()) {
      DeviceError(s);
      MutexLock lock(&mu_);
      ++held_sbs_;  // still held
    }
  }
  MutexLock lock(&mu_);
  sbs_settled_ = true;
  allocator_cv_.SignalAll();
}

void Ftl::FailAllPages(const absl::Status& s) {
  std::fprintf(stderr, "ftl: QoS domain %u: the map cannot load: %s\n", domain_id_.value(),
               s.ToString().c_str());
  {
    MutexLock lock(&load_mu_);
    if (load_status_.ok()) load_status_ = OwnCopy(s);
    for (uint32_t p = 0; p < geo_.map_pages(); ++p) {
      if (page_state_[p].load(std::memory_order_relaxed) != kPageNotLoaded) continue;
      failed_pages_[p] = OwnCopy(s);
      page_state_[p].store(kPageFailed, std::memory_order_release);
      counters_.map_pages_failed.fetch_add(1, std::memory_order_relaxed);
      --pages_left_;
    }
    next_page_ = geo_.map_pages();
  }
  MutexLock lock(&mu_);
  if (failed_.ok()) failed_ = OwnCopy(s);
  FailWaitersLocked(s);
}

void Ftl::LoadAll() {
  ResumeMapLoad();  // Mount needs it now, whatever MountOptions::map_load_paused says
  SettleHeldSbs();
  while (LoadNextBatch()) {
  }
  if (load_plan_.version < 2) RecountValid();
  FinishMapLoad();
}

void Ftl::FinishMapLoad() {
  bool ok = false;
  {
    MutexLock lock(&load_mu_);
    ok = load_status_.ok() && pages_left_ == 0;
  }
  if (ok) {
    MutexLock lock(&mu_);
    map_loaded_ = true;
    // Counts are exact now: SBs left empty by the replay go through the normal release path
    // (a release record, then a flush round).
    for (uint32_t i = 0; i < slots_.size(); ++i) MaybeEmptyLocked(i);
    gc_cv_.Signal();
    checkpoint_cv_.Signal();
  }
  for (;;) {
    ServeParked();
    MutexLock lock(&load_mu_);
    if (!parked_.empty()) continue;
    load_done_ = true;
    if (ok) map_ready_.store(true, std::memory_order_release);
    load_cv_.SignalAll();
    break;
  }
  load_plan_ = MapLoadPlan{};  // the overlay is applied
}

void Ftl::LoaderLoop() {
  SettleHeldSbs();
  while (LoadNextBatch()) ServeParked();
  bool stopped = false;
  {
    MutexLock lock(&load_mu_);
    stopped = load_stop_;
  }
  if (!stopped) FinishMapLoad();
}

absl::Status Ftl::WaitMapLoaded() {
  MutexLock lock(&load_mu_);
  while (!load_done_ && !load_stop_) load_cv_.Wait(&load_mu_);
  if (!load_done_) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "QoS domain %u: the map load was stopped before it finished", domain_id_.value()));
  }
  return OwnCopy(load_status_);
}

void Ftl::ResumeMapLoad() {
  MutexLock lock(&load_mu_);
  load_paused_ = false;
  load_cv_.SignalAll();
}

void Ftl::RecountValid() {
  std::vector<uint32_t> counts(geo_.slot_count, 0);
  CountEntriesPerSlot(reinterpret_cast<const uint32_t*>(map_.get()), geo_.block_count,
                      geo_.sb_capacity, geo_.slot_count, counts.data());
  for (uint32_t i = 0; i < geo_.slot_count; ++i) {
    valid_[i].store(counts[i], std::memory_order_relaxed);
  }
}

absl::Status Ftl::DebugCheckValidCounts() {
  SEF_RETURN_IF_ERROR(WaitMapLoaded());
  std::vector<uint32_t> counts(geo_.slot_count, 0);
  std::string bad;
  {
    // Under a barrier (no write chunk, trim or GC copy in flight, none starting: each
    // updates the map and the counts before it ends) and mu_, so the counts hold still.
    MutexLock lock(&mu_);
    while (barrier_) barrier_cv_.Wait(&mu_);
    barrier_ = true;
    while (inflight_ > 0) {
      inflight_cv_.Wait(&mu_);
      barrier_ = true;  // a checkpoint's barrier may have come and gone meanwhile
    }
    CountEntriesPerSlot(reinterpret_cast<const uint32_t*>(map_.get()), geo_.block_count,
                        geo_.sb_capacity, geo_.slot_count, counts.data());
    for (uint32_t i = 0; i < geo_.slot_count; ++i) {
      const uint32_t kept = valid_[i].load(std::memory_order_acquire);
      if (kept != counts[i]) {
        absl::StrAppendFormat(&bad, " slot %u (%s): %u kept, %u in the map;", i,
                              SlotStateName(slots_[i].state), kept, counts[i]);
      }
    }
    barrier_ = false;
    barrier_cv_.SignalAll();
  }
  ServeWaiters();
  if (bad.empty()) return absl::OkStatus();
  return absl::InternalError("valid counts differ from a recount:" + bad);
}

}  // namespace sef::ftl::internal
