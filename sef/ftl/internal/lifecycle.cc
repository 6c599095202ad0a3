// Format, mount, unmount; the FTL's threads; statistics.
//
// What a domain holds is read from its root pointers (sef/hal/domain_kind.h): root pointer 1
// is the kind, root pointer 0 the FTL's checkpoint. Format writes the kind first, then
// invalidates an older checkpoint, releases every SB, starts a journal, writes the first
// checkpoint and only then sets root pointer 0: a crash anywhere before leaves "a block FTL
// domain whose format did not finish", which MountOrFormat formats again and Mount refuses
// with a clear message; never a domain that looks foreign.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/hal/domain_kind.h"

namespace sef::ftl::internal {
namespace {

enum class Holding {
  kUnconfigured,       // kind 0, no SBs, no root pointers but the label
  kFtl,                // kind block FTL with a checkpoint
  kInterruptedFormat,  // kind block FTL, no checkpoint yet
  kOther,              // another kind (ZNS, unknown): never touched
  kForeign,            // kind 0 but data or root pointers: never touched
};

struct DomainContents {
  Holding holding = Holding::kUnconfigured;
  uint64_t kind = 0;
  FlashAddress checkpoint;
  size_t super_blocks = 0;
  int root_pointer = -1;  // a root pointer that makes the domain foreign
};

absl::StatusOr<DomainContents> Inspect(hal::QosDomain& d) {
  DomainContents c;
  SEF_ASSIGN_OR_RETURN(FlashAddress kind, d.GetRootPointer(hal::kKindRootPointer));
  SEF_ASSIGN_OR_RETURN(c.checkpoint, d.GetRootPointer(hal::RootPointerIndex(0)));
  c.kind = kind.raw();
  if (c.kind == hal::kDomainKindBlockFtl) {
    // No list of the SBs here: recovery takes one, and a mount should not pay twice for
    // something that grows with the domain.
    c.holding = c.checkpoint == FlashAddress::Null() ? Holding::kInterruptedFormat : Holding::kFtl;
    return c;
  }
  if (c.kind != hal::kDomainKindNone) {
    c.holding = Holding::kOther;
    return c;
  }
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> sbs, d.ListSuperBlocks());
  c.super_blocks = sbs.size();
  // Root pointers 6 and 7 are a label (the SDK's sef-cli convention): labelling a domain
  // does not make it hold data.
  for (uint8_t i = 0; i < wire::kNumRootPointers; ++i) {
    if (i == hal::kKindRootPointer.value() || i == hal::kLabelRootPointers[0].value() ||
        i == hal::kLabelRootPointers[1].value()) {
      continue;
    }
    SEF_ASSIGN_OR_RETURN(FlashAddress rp, d.GetRootPointer(hal::RootPointerIndex(i)));
    if (rp != FlashAddress::Null()) c.root_pointer = i;
  }
  c.holding =
      (c.super_blocks == 0 && c.root_pointer < 0) ? Holding::kUnconfigured : Holding::kForeign;
  return c;
}

absl::Status Refuse(QosDomainId id, const DomainContents& c) {
  if (c.holding == Holding::kOther) {
    return absl::FailedPreconditionError(
        absl::StrFormat("QoS domain %u holds %s; the block FTL does not format or mount over it",
                        id.value(), hal::DescribeDomainKind(c.kind)));
  }
  return absl::FailedPreconditionError(absl::StrFormat(
      "QoS domain %u holds data of no known kind (root pointer 1 is 0, but it holds %u super "
      "blocks%s); the block FTL does not format or mount over it",
      id.value(), c.super_blocks,
      c.root_pointer >= 0 ? absl::StrFormat(" and root pointer %d is set", c.root_pointer)
                          : std::string()));
}

}  // namespace

Ftl::Ftl(hal::Unit* unit, QosDomainId id) : unit_(unit), domain_id_(id) {}

Ftl::~Ftl() {
  bool mounted = false;
  {
    MutexLock lock(&mu_);
    mounted = mounted_;
    mounted_ = false;
  }
  if (mounted) {
    accepting_.store(false, std::memory_order_seq_cst);
    ResumeMapLoad();  // requests waiting for map pages finish first
    WaitIdle();
    StopThreads();
  }
  // The journal write, closes and flushes still in flight run their callbacks, which may
  // use domain_, first; then ~QosDomain waits for what is left of the HAL's own.
  WaitBackgroundIo();
  CloseNotifications();
  domain_.reset();
}

absl::Status Ftl::OpenDomain() {
  if (unit_ == nullptr) return absl::InvalidArgumentError("the unit is null");
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo info, unit_->GetQosDomainInfo(domain_id_));
  SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vd, unit_->GetVirtualDeviceInfo(info.vd));
  hal::QosDomainOptions options;
  options.on_notification = [this](const hal::Notification& n) { OnNotification(n); };
  SEF_ASSIGN_OR_RETURN(domain_, unit_->OpenQosDomain(domain_id_, std::move(options)));
  OpenNotifications();
  geo_.sb_capacity = vd.super_block_adus;
  const uint64_t quota = info.quota_adus != 0 ? info.quota_adus : info.capacity_adus;
  geo_.quota_sbs =
      vd.super_block_adus == 0
          ? 0
          : static_cast<uint32_t>(std::min<uint64_t>(quota / vd.super_block_adus, 0x7FFFFFFF));
  geo_.max_open = info.max_open_super_blocks;
  SEF_ASSIGN_OR_RETURN(hal::UnitInfo unit_info, unit_->Info());
  // Leave an open SB with a quarter of the period left (at least a minute's notice); a period
  // under 8 minutes leaves no such margin: SBs are left in their last minute.
  const uint32_t eop = unit_info.open_expiration_seconds;
  expiry_margin_minutes_ = eop == 0 ? -1 : static_cast<int>(eop >= 480 ? eop / 240 : 0);
  SetUpStreams();
  return absl::OkStatus();
}

void Ftl::SetUpStreams() {
  // Each erase stream keeps an open SB and sometimes its successor, a placement stream one
  // open SB (the device opens the next when it fills); the journal and a checkpoint need one
  // each. Streams beyond the budget only wait for room more often (MayAllocateLocked).
  const int open = static_cast<int>(geo_.max_open);
  MutexLock lock(&mu_);
  num_placement_streams_ =
      std::min<int>(static_cast<int>(placement_ids_.size()), MaxPlacementStreams(geo_.max_open));
  if (num_placement_streams_ == 0) {
    num_streams_ = std::clamp<int>((open - 2) / 2, 2, kMaxStreams);
  } else {
    // Only GC copies use the erase streams.
    num_streams_ = std::clamp<int>((open - 2 - num_placement_streams_) / 2, 1, kMaxStreams);
  }
  for (Stream& st : streams_) st = Stream{};
  for (int i = 0; i < num_placement_streams_; ++i) {
    streams_[num_streams_ + i].placement = placement_ids_[i];
  }
}

void MapFree::operator()(std::atomic<uint32_t>* p) const {
  if (p != nullptr) munmap(p, bytes);
}

Ftl::MapPtr Ftl::MapMemory(uint64_t entries) {
  const size_t bytes = std::max<size_t>(1, entries * sizeof(std::atomic<uint32_t>));
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "ftl: cannot map %zu bytes for the map\n", bytes);
    std::abort();  // as a failed operator new does
  }
  return MapPtr(static_cast<std::atomic<uint32_t>*>(p), MapFree{bytes});
}

void Ftl::AllocateArrays() {
  // Whole map pages: recovery reads checkpoint map pages straight into the map. The entries
  // past block_count stay 0 (the checkpoint writes 0 there) and are never used.
  // Anonymous memory: its pages are zero until written, so a large map costs nothing until
  // its pages are loaded (a zeroing `new T[]()`, or calloc from the heap, touched every
  // page at every mount: a cost that grows with the domain).
  static_assert(std::is_trivially_destructible_v<std::atomic<uint32_t>>);
  map_ = MapMemory(uint64_t{geo_.map_pages()} * kMapEntriesPerPage);
  valid_.reset(new std::atomic<uint32_t>[geo_.slot_count]());
  pins_.reset(new std::atomic<uint32_t>[geo_.slot_count]());
  slot_sb_.reset(new std::atomic<uint32_t>[geo_.slot_count]());
  MutexLock lock(&mu_);
  slots_.assign(geo_.slot_count, Slot{});
  free_slots_.clear();
  for (uint32_t i = geo_.slot_count; i-- > 0;) free_slots_.push_back(i);
}

absl::Status Ftl::StartJournal() {
  SEF_ASSIGN_OR_RETURN(uint32_t slot, AllocateSlot(SlotKind::kJournal));
  SuperBlockId sb;
  {
    MutexLock lock(&mu_);
    sb = slots_[slot].sb;
    SetSlotState(slot, SlotState::kOpen);
  }
  JournalReset(slot, sb, 0);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Ftl>> Ftl::Format(hal::Unit* unit, QosDomainId domain,
                                                 const FormatOptions& options) {
  std::unique_ptr<Ftl> ftl(new Ftl(unit, domain));
  SEF_RETURN_IF_ERROR(ftl->OpenDomain());
  SEF_ASSIGN_OR_RETURN(DomainContents c, Inspect(*ftl->domain_));
  if (c.holding == Holding::kOther || c.holding == Holding::kForeign) return Refuse(domain, c);
  // Placement ids: user writes go by them (docs/ftl.md, "Writes by placement id").
  const uint32_t available = ftl->domain_->placement_ids();
  const int usable = MaxPlacementStreams(ftl->geo_.max_open);
  for (size_t i = 0; i < options.placement_ids.size(); ++i) {
    const PlacementId id = options.placement_ids[i];
    if (id.value() >= available) {
      return absl::InvalidArgumentError(
          absl::StrFormat("format: placement id %u: QoS domain %u has %u placement id%s (0..%u)",
                          id.value(), domain.value(), available, available == 1 ? "" : "s",
                          available == 0 ? 0 : available - 1));
    }
    for (size_t j = 0; j < i; ++j) {
      if (options.placement_ids[j] == id) {
        return absl::InvalidArgumentError(
            absl::StrFormat("format: placement id %u is named twice", id.value()));
      }
    }
  }
  if (options.placement_ids.size() > static_cast<size_t>(usable)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "format: %u placement ids; with %u open super blocks QoS domain %u takes at most %d "
        "(one per two open SBs beyond two, at most %d)",
        options.placement_ids.size(), ftl->geo_.max_open, domain.value(), usable,
        kMaxPlacementStreams));
  }
  SEF_ASSIGN_OR_RETURN(
      Geometry g,
      ComputeGeometry(uint64_t{ftl->geo_.quota_sbs} * ftl->geo_.sb_capacity, ftl->geo_.sb_capacity,
                      ftl->geo_.max_open, options.overprovisioning_percent,
                      options.checkpoint_interval_adus));
  hal::QosDomain& d = *ftl->domain_;
  // The kind first: from here on a crash leaves an FTL domain whose format did not finish.
  if (c.kind != hal::kDomainKindBlockFtl) {
    SEF_RETURN_IF_ERROR(
        d.SetRootPointer(hal::kKindRootPointer, FlashAddress::FromRaw(hal::kDomainKindBlockFtl)));
  }
  if (c.checkpoint != FlashAddress::Null()) {
    SEF_RETURN_IF_ERROR(d.SetRootPointer(hal::RootPointerIndex(0), FlashAddress::Null()));
  }
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> sbs, d.ListSuperBlocks());
  for (const hal::SuperBlockEntry& e : sbs) SEF_RETURN_IF_ERROR(d.ReleaseSuperBlock(e.id));
  ftl->geo_ = g;
  ftl->format_interval_ = g.checkpoint_interval_adus;
  ftl->placement_ids_ = options.placement_ids;
  ftl->SetUpStreams();
  ftl->AllocateArrays();
  ftl->MarkMapLoaded();  // an empty map
  SEF_RETURN_IF_ERROR(ftl->StartJournal());
  SEF_RETURN_IF_ERROR(ftl->WriteCheckpoint());  // sets root pointer 0: the format is done
  ftl->StartThreads();
  return ftl;
}

absl::StatusOr<std::unique_ptr<Ftl>> Ftl::Mount(hal::Unit* unit, QosDomainId domain,
                                                const MountOptions& options) {
  std::unique_ptr<Ftl> ftl(new Ftl(unit, domain));
  SEF_RETURN_IF_ERROR(ftl->OpenDomain());
  SEF_ASSIGN_OR_RETURN(DomainContents c, Inspect(*ftl->domain_));
  switch (c.holding) {
    case Holding::kFtl:
      break;
    case Holding::kUnconfigured:
      return absl::FailedPreconditionError(absl::StrFormat(
          "QoS domain %u is unconfigured: format it first (or use MountOrFormat)", domain.value()));
    case Holding::kInterruptedFormat:
      return absl::FailedPreconditionError(absl::StrFormat(
          "QoS domain %u holds a block FTL domain whose format did not finish; format it again",
          domain.value()));
    case Holding::kOther:
    case Holding::kForeign:
      return Refuse(domain, c);
  }
  SEF_RETURN_IF_ERROR(ftl->Recover(c.checkpoint, options));
  // The map loads after Mount returns (map_load.cc), but for a version 1 checkpoint (no
  // per-slot counts: the whole map is walked to count) and when a new checkpoint must be
  // written now; a page that fails then fails the mount, as it did before version 2.
  if (ftl->load_plan_.version < 2 || !ftl->journal_continues_) {
    ftl->LoadAll();
    SEF_RETURN_IF_ERROR(ftl->WaitMapLoaded());
  }
  if (!ftl->journal_continues_) {
    // The journal cannot go on where it stopped: a new one, anchored by a checkpoint.
    SEF_RETURN_IF_ERROR(ftl->StartJournal());
    SEF_RETURN_IF_ERROR(ftl->WriteCheckpoint());
  }
  ftl->StartThreads();
  return ftl;
}

absl::StatusOr<std::unique_ptr<Ftl>> Ftl::MountOrFormat(hal::Unit* unit, QosDomainId domain,
                                                        const FormatOptions& format_options,
                                                        const MountOptions& mount_options) {
  if (unit == nullptr) return absl::InvalidArgumentError("the unit is null");
  DomainContents c;
  {
    SEF_ASSIGN_OR_RETURN(std::unique_ptr<hal::QosDomain> d, unit->OpenQosDomain(domain));
    SEF_ASSIGN_OR_RETURN(c, Inspect(*d));
  }
  switch (c.holding) {
    case Holding::kFtl:
      return Mount(unit, domain, mount_options);
    case Holding::kUnconfigured:
    case Holding::kInterruptedFormat:
      return Format(unit, domain, format_options);
    case Holding::kOther:
    case Holding::kForeign:
      break;
  }
  return Refuse(domain, c);
}

absl::Status Ftl::Unmount() {
  SEF_RETURN_IF_ERROR(CheckSynchronousCallAllowed("BlockDevice::Unmount"));
  {
    MutexLock lock(&mu_);
    if (!mounted_) {
      return absl::FailedPreconditionError(
          absl::StrFormat("unmount: QoS domain %u is not mounted", domain_id_.value()));
    }
    mounted_ = false;
  }
  accepting_.store(false, std::memory_order_seq_cst);
  ResumeMapLoad();
  WaitIdle();
  // A final checkpoint needs the whole map: wait for the loader. If a page failed to load
  // there is none (the checkpoint in force stays; the next mount replays from it).
  absl::Status loaded = WaitMapLoaded();
  StopThreads();
  absl::Status s = loaded.ok() ? WriteCheckpoint() : loaded;
  WaitBackgroundIo();
  CloseNotifications();
  domain_.reset();
  return s;
}

void Ftl::StartThreads() {
  {
    MutexLock lock(&mu_);
    stopping_ = false;
    mounted_ = true;
  }
  accepting_.store(true, std::memory_order_seq_cst);
  allocator_ = std::thread([this] { AllocatorLoop(); });
  gc_ = std::thread([this] { GcLoop(); });
  checkpointer_ = std::thread([this] { CheckpointLoop(); });
  bool load = false;
  {
    MutexLock lock(&load_mu_);
    load = !load_done_;
  }
  if (load) loader_ = std::thread([this] { LoaderLoop(); });
}

void Ftl::StopThreads() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    allocator_cv_.SignalAll();
    gc_cv_.SignalAll();
    checkpoint_cv_.SignalAll();
    checkpoint_done_cv_.SignalAll();
  }
  {
    MutexLock lock(&load_mu_);
    load_stop_ = true;
    load_cv_.SignalAll();
  }
  if (loader_.joinable()) loader_.join();
  if (allocator_.joinable()) allocator_.join();
  if (gc_.joinable()) gc_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  MutexLock lock(&mu_);
  stopping_ = false;  // Unmount's final checkpoint runs on this thread
}

bool Ftl::BeginOp() {
  active_ops_.fetch_add(1, std::memory_order_seq_cst);
  if (accepting_.load(std::memory_order_seq_cst)) return true;
  EndOp();
  return false;
}

void Ftl::EndOp() {
  if (active_ops_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    MutexLock lock(&idle_mu_);
    idle_cv_.SignalAll();
  }
}

void Ftl::BeginBackgroundIo() { background_io_.fetch_add(1, std::memory_order_seq_cst); }

void Ftl::EndBackgroundIo() {
  if (background_io_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    MutexLock lock(&idle_mu_);
    idle_cv_.SignalAll();
  }
}

void Ftl::WaitBackgroundIo() {
  MutexLock lock(&idle_mu_);
  while (background_io_.load(std::memory_order_acquire) != 0) {
    idle_cv_.WaitWithTimeout(&idle_mu_, std::chrono::milliseconds(1));
  }
}

void Ftl::WaitIdle() {
  MutexLock lock(&idle_mu_);
  while (active_ops_.load(std::memory_order_acquire) != 0) {
    idle_cv_.WaitWithTimeout(&idle_mu_, std::chrono::milliseconds(1));
  }
}

Stats Ftl::GetStats() const {
  Stats st;
  st.block_count = geo_.block_count;
  st.reads = counters_.reads.load(std::memory_order_relaxed);
  st.writes = counters_.writes.load(std::memory_order_relaxed);
  st.trims = counters_.trims.load(std::memory_order_relaxed);
  st.flushes = counters_.flushes.load(std::memory_order_relaxed);
  st.host_adus_read = counters_.host_adus_read.load(std::memory_order_relaxed);
  st.host_adus_written = counters_.host_adus_written.load(std::memory_order_relaxed);
  st.trimmed_blocks = counters_.trimmed_blocks.load(std::memory_order_relaxed);
  st.flash_adus_written = counters_.flash_adus_written.load(std::memory_order_relaxed);
  st.gc_copied_adus = counters_.gc_copied_adus.load(std::memory_order_relaxed);
  st.metadata_adus_written = counters_.metadata_adus_written.load(std::memory_order_relaxed);
  st.write_amplification =
      st.host_adus_written == 0
          ? 0
          : static_cast<double>(st.flash_adus_written) / static_cast<double>(st.host_adus_written);
  st.checkpoints = counters_.checkpoints.load(std::memory_order_relaxed);
  st.gc_victims = counters_.gc_victims.load(std::memory_order_relaxed);
  st.gc_relocations = counters_.gc_relocations.load(std::memory_order_relaxed);
  st.internal_flushes = counters_.internal_flushes.load(std::memory_order_relaxed);
  st.write_waits = counters_.write_waits.load(std::memory_order_relaxed);
  st.placement_sbs_opened = counters_.placement_sbs_opened.load(std::memory_order_relaxed);
  st.sbs_retired_early = counters_.sbs_retired_early.load(std::memory_order_relaxed);
  st.capacity_warnings = counters_.capacity_warnings.load(std::memory_order_relaxed);
  st.patrols = counters_.patrols.load(std::memory_order_relaxed);
  st.address_updates = counters_.address_updates.load(std::memory_order_relaxed);
  st.recovered_adus = counters_.recovered_adus.load(std::memory_order_relaxed);
  st.recovered_trims = counters_.recovered_trims.load(std::memory_order_relaxed);
  st.map_pages = geo_.map_pages();
  st.map_pages_loaded = counters_.map_pages_loaded.load(std::memory_order_relaxed);
  st.map_pages_failed = counters_.map_pages_failed.load(std::memory_order_relaxed);
  MutexLock lock(&mu_);
  st.total_sbs = geo_.quota_sbs;
  st.held_sbs = held_sbs_;
  st.free_sbs = FreeSbsLocked();
  st.open_sbs = open_sbs_;
  st.journal_sbs = journal_sbs_;
  st.checkpoint_sbs = static_cast<uint32_t>(checkpoint_sbs_.size());
  st.pending_release_sbs = static_cast<uint32_t>(pending_.size());
  for (const Slot& s : slots_) {
    if ((s.kind == SlotKind::kUser || s.kind == SlotKind::kGc) && s.state != SlotState::kFree &&
        s.state != SlotState::kQuarantined) {
      ++st.data_sbs;
    }
  }
  return st;
}

}  // namespace sef::ftl::internal
