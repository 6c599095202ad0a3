// Format, Mount (recovery from the device), MountOrFormat and Unmount.
#include <bit>
#include <chrono>
#include <thread>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/domain_kind.h"
#include "sef/zns/internal/format.h"
#include "sef/zns/internal/namespace.h"
#include "sef/zns/zns.h"

namespace sef::zns {

using internal::Namespace;

namespace {

// A domain opened for ZNS, its notifications routed to the namespace made from it.
struct Opened {
  std::unique_ptr<hal::QosDomain> domain;
  std::shared_ptr<Namespace::Router> router;
};

absl::StatusOr<Opened> Open(hal::Unit& unit, QosDomainId id) {
  auto router = std::make_shared<Namespace::Router>();
  SEF_ASSIGN_OR_RETURN(
      std::unique_ptr<hal::QosDomain> domain,
      unit.OpenQosDomain(
          id, {.on_notification = [router](const hal::Notification& n) { router->Deliver(n); }}));
  return Opened{std::move(domain), std::move(router)};
}

// What a domain holds, as far as telling ZNS, other kinds and foreign data apart goes.
struct Contents {
  uint64_t kind = hal::kDomainKindNone;
  uint64_t config = 0;  // root pointer 0
  size_t super_blocks = 0;
  int other_pointer = -1;  // a root pointer other than 0, 1 and the label that is set
  uint64_t other_value = 0;

  bool unconfigured() const {
    return kind == hal::kDomainKindNone && config == 0 && super_blocks == 0 && other_pointer < 0;
  }
  // A format that stopped after writing the kind (docs/zns.md, "Lifecycle").
  bool interrupted_format() const {
    return kind == hal::kDomainKindZoned && config == 0 && super_blocks == 0;
  }
};

absl::StatusOr<Contents> Inspect(hal::QosDomain& d) {
  Contents c;
  SEF_ASSIGN_OR_RETURN(FlashAddress kind, d.GetRootPointer(hal::kKindRootPointer));
  SEF_ASSIGN_OR_RETURN(FlashAddress config, d.GetRootPointer(hal::RootPointerIndex(0)));
  c.kind = kind.raw();
  c.config = config.raw();
  for (uint8_t i = 2; i < hal::kLabelRootPointers[0].value(); ++i) {
    SEF_ASSIGN_OR_RETURN(FlashAddress v, d.GetRootPointer(hal::RootPointerIndex(i)));
    if (v.raw() != 0 && c.other_pointer < 0) {
      c.other_pointer = i;
      c.other_value = v.raw();
    }
  }
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> sbs, d.ListSuperBlocks());
  c.super_blocks = sbs.size();
  return c;
}

// FailedPrecondition naming what a domain that is not a (complete) zoned namespace holds.
absl::Status NotZoned(QosDomainId id, const Contents& c, const char* doing) {
  if (c.kind == hal::kDomainKindNone) {
    if (c.unconfigured()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s QoS domain %u: it is unconfigured (Format it, or use MountOrFormat)",
                          doing, id.value()));
    }
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s QoS domain %u: it holds data of a user that follows no domain-kind convention "
        "(%u super blocks, root pointer 0 = 0x%016x%s); refusing to touch it",
        doing, id.value(), c.super_blocks, c.config,
        c.other_pointer < 0
            ? ""
            : absl::StrFormat(", root pointer %d = 0x%016x", c.other_pointer, c.other_value)));
  }
  return absl::FailedPreconditionError(
      absl::StrFormat("%s QoS domain %u: it holds %s, not a zoned (ZNS) namespace", doing,
                      id.value(), hal::DescribeDomainKind(c.kind)));
}

absl::StatusOr<Geometry> ComputeGeometry(hal::Unit& unit, hal::QosDomain& d, uint64_t zone_size,
                                         const ZoneLimits& limits) {
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo info, unit.GetQosDomainInfo(d.id()));
  SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vd, unit.GetVirtualDeviceInfo(info.vd));
  Geometry g;
  g.super_block_adus = vd.super_block_adus;
  if (g.super_block_adus == 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("QoS domain %u: virtual device %u reports super blocks of 0 ADUs",
                        d.id().value(), vd.id.value()));
  }
  const uint64_t natural = std::bit_ceil(uint64_t{g.super_block_adus});
  if (zone_size == 0) zone_size = natural;
  if (!std::has_single_bit(zone_size) || (zone_size > g.super_block_adus && zone_size != natural)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "zone size %u blocks: must be a power of two at most the super block capacity %u, or "
        "%u (the next power of two above it)",
        zone_size, g.super_block_adus, natural));
  }
  g.zone_size = zone_size;
  g.zone_capacity = std::min<uint64_t>(zone_size, g.super_block_adus);
  const uint64_t quota = info.quota_adus != 0 ? info.quota_adus : info.capacity_adus;
  const uint64_t zones = quota / g.super_block_adus;
  if (zones == 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "QoS domain %u: its quota of %u ADUs holds no super block of %u ADUs, so no zone",
        d.id().value(), quota, g.super_block_adus));
  }
  if (zones * zone_size > UserAddress::kMaxLba + 1 || zones > 0xFFFFFFFFull) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "QoS domain %u: %u zones of %u blocks do not fit in the 40-bit LBA of a user address",
        d.id().value(), zones, zone_size));
  }
  g.zones = static_cast<uint32_t>(zones);
  g.max_open_super_blocks = info.max_open_super_blocks;
  if (g.max_open_super_blocks < 2) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "QoS domain %u allows %u open super blocks; a zoned namespace needs at least 2 (one "
        "is kept for the marker of a zone finished while empty)",
        d.id().value(), g.max_open_super_blocks));
  }
  g.max_active_zones = std::min<uint32_t>(g.max_open_super_blocks - 1, g.zones);
  if (limits.max_active_zones > g.max_active_zones) {
    return absl::InvalidArgumentError(
        absl::StrFormat("max active zones %u: QoS domain %u allows at most %u",
                        limits.max_active_zones, d.id().value(), g.max_active_zones));
  }
  if (limits.max_active_zones != 0) g.max_active_zones = limits.max_active_zones;
  g.max_open_zones = limits.max_open_zones != 0 ? limits.max_open_zones : g.max_active_zones;
  if (g.max_open_zones > g.max_active_zones) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "max open zones %u: more than the %u active zones", g.max_open_zones, g.max_active_zones));
  }
  g.max_transfer_blocks = d.max_adus_per_command();
  return g;
}

absl::StatusOr<std::unique_ptr<Namespace>> FormatOpened(hal::Unit& unit, Opened opened,
                                                        const Contents& c,
                                                        const FormatOptions& options) {
  hal::QosDomain& d = *opened.domain;
  if (c.kind == hal::kDomainKindZoned && !c.interrupted_format()) {
    if (!options.reformat) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "Format QoS domain %u: it holds a zoned (ZNS) namespace already (Mount it, or "
          "Format with reformat to erase every zone)",
          d.id().value()));
    }
    SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> sbs, d.ListSuperBlocks());
    for (const hal::SuperBlockEntry& e : sbs) SEF_RETURN_IF_ERROR(d.ReleaseSuperBlock(e.id));
  } else if (c.kind != hal::kDomainKindZoned && !c.unconfigured()) {
    return NotZoned(d.id(), c, "Format");
  }
  SEF_ASSIGN_OR_RETURN(Geometry g, ComputeGeometry(unit, d, options.zone_size, options.limits));
  // The kind first, then the configuration: a crash between them leaves an interrupted
  // format, which Format and MountOrFormat complete.
  SEF_RETURN_IF_ERROR(
      d.SetRootPointer(hal::kKindRootPointer, FlashAddress::FromRaw(hal::kDomainKindZoned)));
  SEF_RETURN_IF_ERROR(d.SetRootPointer(
      hal::RootPointerIndex(0),
      FlashAddress::FromRaw(internal::EncodeConfig(static_cast<uint8_t>(g.zone_size_log2())))));
  return std::make_unique<Namespace>(std::move(opened.domain), std::move(opened.router), g);
}

absl::StatusOr<std::unique_ptr<Namespace>> MountOpened(hal::Unit& unit, Opened opened,
                                                       const Contents& c,
                                                       const ZoneLimits& limits) {
  hal::QosDomain& d = *opened.domain;
  if (c.kind != hal::kDomainKindZoned) return NotZoned(d.id(), c, "Mount");
  if (c.interrupted_format()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "Mount QoS domain %u: its zoned-namespace format was interrupted (root pointer 0 is "
        "0); Format or MountOrFormat completes it",
        d.id().value()));
  }
  internal::ConfigProblem problem;
  const std::optional<internal::ConfigPointer> config = internal::DecodeConfig(c.config, problem);
  if (!config.has_value()) {
    const char* why = problem == internal::ConfigProblem::kBadMagic ? "its magic is not 'ZC'"
                      : problem == internal::ConfigProblem::kBadCrc ? "its CRC does not match"
                                                                    : "its version is unknown";
    return absl::DataLossError(
        absl::StrFormat("Mount QoS domain %u: root pointer 0 = 0x%016x is not a zoned-namespace "
                        "configuration: %s",
                        d.id().value(), c.config, why));
  }
  if (config->zone_size_log2 >= 40) {
    return absl::DataLossError(
        absl::StrFormat("Mount QoS domain %u: root pointer 0 names a zone size of 2^%u blocks",
                        d.id().value(), config->zone_size_log2));
  }
  SEF_ASSIGN_OR_RETURN(Geometry g,
                       ComputeGeometry(unit, d, uint64_t{1} << config->zone_size_log2, limits));
  auto ns = std::make_unique<Namespace>(std::move(opened.domain), std::move(opened.router), g);
  SEF_RETURN_IF_ERROR(ns->Recover());
  return ns;
}

}  // namespace

uint32_t Geometry::zone_size_log2() const {
  return static_cast<uint32_t>(std::countr_zero(zone_size));
}

absl::StatusOr<std::unique_ptr<ZonedNamespace>> ZonedNamespace::Format(
    hal::Unit& unit, QosDomainId domain, const FormatOptions& options) {
  SEF_RETURN_IF_ERROR(internal::CallbackScope::CheckSynchronous("ZonedNamespace::Format"));
  SEF_ASSIGN_OR_RETURN(Opened opened, Open(unit, domain));
  SEF_ASSIGN_OR_RETURN(Contents c, Inspect(*opened.domain));
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<Namespace> ns,
                       FormatOpened(unit, std::move(opened), c, options));
  return std::unique_ptr<ZonedNamespace>(new ZonedNamespace(std::move(ns)));
}

absl::StatusOr<std::unique_ptr<ZonedNamespace>> ZonedNamespace::Mount(hal::Unit& unit,
                                                                      QosDomainId domain,
                                                                      const ZoneLimits& limits) {
  SEF_RETURN_IF_ERROR(internal::CallbackScope::CheckSynchronous("ZonedNamespace::Mount"));
  SEF_ASSIGN_OR_RETURN(Opened opened, Open(unit, domain));
  SEF_ASSIGN_OR_RETURN(Contents c, Inspect(*opened.domain));
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<Namespace> ns,
                       MountOpened(unit, std::move(opened), c, limits));
  return std::unique_ptr<ZonedNamespace>(new ZonedNamespace(std::move(ns)));
}

absl::StatusOr<std::unique_ptr<ZonedNamespace>> ZonedNamespace::MountOrFormat(
    hal::Unit& unit, QosDomainId domain, const FormatOptions& options) {
  SEF_RETURN_IF_ERROR(internal::CallbackScope::CheckSynchronous("ZonedNamespace::MountOrFormat"));
  SEF_ASSIGN_OR_RETURN(Opened opened, Open(unit, domain));
  SEF_ASSIGN_OR_RETURN(Contents c, Inspect(*opened.domain));
  std::unique_ptr<Namespace> ns;
  if (c.unconfigured() || c.interrupted_format()) {
    FormatOptions fresh = options;
    fresh.reformat = false;
    SEF_ASSIGN_OR_RETURN(ns, FormatOpened(unit, std::move(opened), c, fresh));
  } else {
    SEF_ASSIGN_OR_RETURN(ns, MountOpened(unit, std::move(opened), c, options.limits));
  }
  return std::unique_ptr<ZonedNamespace>(new ZonedNamespace(std::move(ns)));
}

absl::Status ZonedNamespace::Unmount() {
  SEF_RETURN_IF_ERROR(internal::CallbackScope::CheckSynchronous("ZonedNamespace::Unmount"));
  return impl_->Unmount();
}

ZonedNamespace::ZonedNamespace(std::unique_ptr<internal::Namespace> impl)
    : impl_(std::move(impl)) {}

ZonedNamespace::~ZonedNamespace() = default;

namespace internal {

Namespace::Namespace(std::unique_ptr<hal::QosDomain> domain, std::shared_ptr<Router> router,
                     const Geometry& geometry)
    : domain_(std::move(domain)),
      router_(std::move(router)),
      domain_id_(domain_->id()),
      geometry_(geometry),
      shift_(geometry.zone_size_log2()),
      zcap_(static_cast<uint32_t>(geometry.zone_capacity)) {
  {
    MutexLock lock(&mu_);
    zones_.resize(geometry_.zones);
  }
  drain_ = std::make_unique<std::atomic<uint32_t>[]>(geometry_.zones);
  MutexLock route(&router_->mu);
  router_->target = this;
}

Namespace::~Namespace() {
  Unmount().IgnoreError();
  {
    MutexLock route(&router_->mu);
    router_->target = nullptr;
  }
  domain_.reset();  // waits for the HAL's callbacks to return
  for (WriteIo* io = free_ios_.load(); io != nullptr;) {
    WriteIo* next = io->next_free;
    delete io;
    io = next;
  }
}

absl::Status Namespace::Unmount() {
  {
    MutexLock lock(&mu_);
    if (flushed_at_unmount_) return absl::OkStatus();
    unmounted_ = true;  // new calls are refused from now on
  }
  // Operations in flight finish by themselves; giving their tokens back takes no lock, so
  // this polls (Unmount is rare, and the wait short).
  // (Released first: equal counts then mean that nothing was in flight at that moment, and
  // only operations in flight start new ones.)
  for (;;) {
    const uint64_t released = released_.load(std::memory_order_acquire);
    {
      MutexLock lock(&mu_);
      if (taken_ == released) break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  std::vector<SuperBlockId> open;
  {
    MutexLock lock(&mu_);
    flushed_at_unmount_ = true;
    for (const Zone& z : zones_) {
      if (z.sb_state == SbState::kOpen) open.push_back(z.sb);
    }
  }
  // A clean shutdown leaves nothing that a power cut could take.
  absl::Status status;
  for (SuperBlockId sb : open) {
    absl::StatusOr<uint32_t> r = domain_->FlushSuperBlock(sb);
    if (!r.ok() && status.ok()) status = r.status();
  }
  return status;
}

// Every super block the domain holds names its zone in the user address of its ADU 0. What
// became of each is read from its state and the run of user addresses ZNS wrote into it:
//   nothing written (or all of it lost)       released: the zone is Empty
//   a finish marker, super block closed       Full, no data
//   a finish marker, super block still open   released (the Finish never completed): Empty
//   data, super block closed                  Full, write pointer at the data
//   data, open, room left, nothing misplaced  Closed, write pointer at the data that survived
//   data, open, full or something misplaced   Full (the super block is closed now)
//   any, super block offline                  Offline
// Two super blocks naming one zone (a Reset whose release failed): the newer one wins.
absl::Status Namespace::Recover() {
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> entries, domain_->ListSuperBlocks());
  struct Claim {
    SuperBlockId sb;
    bool found = false, closed = false, marker = false, misplaced = false, offline = false;
    uint32_t prefix = 0;
  };
  std::vector<Claim> claims(geometry_.zones);
  std::vector<SuperBlockId> to_release, to_close;
  for (const hal::SuperBlockEntry& e : entries) {
    if (e.state == hal::SuperBlockState::kFree) continue;
    SEF_ASSIGN_OR_RETURN(std::vector<UserAddress> uas, domain_->GetUserAddressList(e.id));
    if (uas.empty() || uas[0].is_ignore()) {
      to_release.push_back(e.id);
      continue;
    }
    const uint32_t tag = uas[0].tag();
    const uint64_t lba = uas[0].lba().value();
    if ((tag != kDataTag && tag != kFinishMarkerTag) || lba % geometry_.zone_size != 0 ||
        (lba >> shift_) >= geometry_.zones) {
      return absl::DataLossError(absl::StrFormat(
          "Mount QoS domain %u: super block %u starts with user address 0x%016x, which is not "
          "the first block of one of its %u zones as ZNS writes it: the domain holds data ZNS "
          "did not write",
          domain_id_.value(), e.id.value(), uas[0].raw(), geometry_.zones));
    }
    Claim c{.sb = e.id,
            .found = true,
            .closed = e.state == hal::SuperBlockState::kClosed,
            .marker = tag == kFinishMarkerTag,
            .offline = e.state == hal::SuperBlockState::kOffline};
    if (!c.marker) {
      const size_t limit = std::min<size_t>(zcap_, uas.size());
      while (c.prefix < limit && uas[c.prefix] == DataAddress(lba + c.prefix)) ++c.prefix;
    }
    for (size_t i = c.marker ? 1 : c.prefix; i < uas.size(); ++i) {
      c.misplaced |= !uas[i].is_ignore();
    }
    if (c.marker && !c.closed && !c.offline) {
      to_release.push_back(e.id);
      continue;
    }
    Claim& held = claims[lba >> shift_];
    if (held.found) {
      SEF_ASSIGN_OR_RETURN(hal::SuperBlockDetails a, domain_->GetSuperBlockInfo(held.sb));
      SEF_ASSIGN_OR_RETURN(hal::SuperBlockDetails b, domain_->GetSuperBlockInfo(c.sb));
      if (a.erase_serial > b.erase_serial) {
        to_release.push_back(c.sb);
        continue;
      }
      to_release.push_back(held.sb);
    }
    held = c;
  }
  for (SuperBlockId sb : to_release) SEF_RETURN_IF_ERROR(domain_->ReleaseSuperBlock(sb));
  for (uint32_t zone = 0; zone < geometry_.zones; ++zone) {
    const Claim& c = claims[zone];
    if (!c.found) continue;
    SEF_ASSIGN_OR_RETURN(FlashAddress base, domain_->AddressOf(c.sb));
    MutexLock lock(&mu_);
    Zone& z = zones_[zone];
    z.sb = c.sb;
    z.sb_base = base.raw();
    z.sb_gen = z.gen;
    zone_of_sb_[c.sb.value()] = zone;
    z.wp = z.swp = c.prefix;
    if (c.offline) {
      z.sb_state = SbState::kClosed;  // nothing more reaches it
      SetZoneState(zone, ZoneState::kOffline);
    } else if (c.closed || c.marker) {
      z.sb_state = SbState::kClosed;
      SetZoneState(zone, ZoneState::kFull);
    } else if (c.prefix >= zcap_ || c.misplaced) {
      to_close.push_back(c.sb);
      z.sb_state = SbState::kClosed;
      if (c.misplaced) z.attributes |= kZoneAttributeFinishedByController;
      SetZoneState(zone, ZoneState::kFull);
    } else {
      z.sb_state = SbState::kOpen;
      ++open_sbs_;
      SetZoneState(zone, ZoneState::kClosed);
    }
  }
  for (SuperBlockId sb : to_close) SEF_RETURN_IF_ERROR(domain_->CloseSuperBlock(sb).status());
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace sef::zns
