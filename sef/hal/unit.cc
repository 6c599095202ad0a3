// Unit: opening, information, virtual devices, QoS domains.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/hal.h"
#include "sef/hal/internal/callbacks.h"
#include "sef/hal/internal/status_of.h"
#include "sef/hal/internal/unit_events.h"

namespace sef::hal {
namespace {

std::string Trimmed(const char* s, size_t n) {
  std::string out(s, strnlen(s, n));
  while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
  return out;
}

template <typename T>
T Parse(const std::vector<uint8_t>& bytes) {
  T value{};
  std::memcpy(&value, bytes.data(), std::min(sizeof(T), bytes.size()));
  return value;
}

}  // namespace

namespace internal {

absl::Status StatusOf(const TransportResult& r, const Command& c) {
  if (!r.os.ok()) {
    return absl::Status(r.os.code(),
                        absl::StrFormat("%s: %s", cmd::DescribeCommand(c), r.os.message()));
  }
  return ToStatus(r.nvme, cmd::DescribeCommand(c));
}

}  // namespace internal

SuperBlockState SuperBlockStateFromBits(uint8_t sbs) {
  if (sbs & wire::kSbsOffline) return SuperBlockState::kOffline;
  if (sbs & wire::kSbsFree) return SuperBlockState::kFree;
  if (sbs & wire::kSbsClosed) return SuperBlockState::kClosed;
  if (sbs & wire::kSbsOpenByPlacement) return SuperBlockState::kOpenByWrite;
  if (sbs & wire::kSbsOpenByErase) return SuperBlockState::kOpenByErase;
  return SuperBlockState::kOffline;
}

const char* SuperBlockStateName(SuperBlockState s) {
  switch (s) {
    case SuperBlockState::kFree:
      return "free";
    case SuperBlockState::kOpenByErase:
      return "open (erased)";
    case SuperBlockState::kOpenByWrite:
      return "open (written)";
    case SuperBlockState::kClosed:
      return "closed";
    case SuperBlockState::kOffline:
      return "offline";
  }
  return "offline";
}

absl::StatusOr<std::unique_ptr<Unit>> Unit::Open(std::unique_ptr<Transport> transport,
                                                 UnitOptions options) {
  std::unique_ptr<Unit> unit(new Unit(std::move(transport)));
  // A unit that cannot answer Identify is not usable: fail at open, not at first use.
  SEF_ASSIGN_OR_RETURN(unit->adus_per_plane_page_, unit->ReadAdusPerPlanePage());
  SEF_ASSIGN_OR_RETURN(unit->max_adus_per_command_, unit->ReadMaxAdusPerCommand());
  unit->events_ = std::make_unique<Events>(unit.get(), std::move(options.on_notification));
  SEF_RETURN_IF_ERROR(unit->events_->StartIfWanted());
  return unit;
}

Unit::Unit(std::unique_ptr<Transport> transport) : transport_(std::move(transport)) {}

Unit::~Unit() {
  // The events thread uses the transport: stop it first. The transport may still post
  // events while it shuts down; the stopped dispatcher drops them.
  if (events_ != nullptr) events_->Stop();
  transport_.reset();
  events_.reset();
}

const std::string& Unit::name() const { return transport_->name(); }

TransportResult Unit::ExecuteRaw(const Command& c) {
  if (absl::Status s = internal::CheckSynchronousCallAllowed("Unit::ExecuteRaw"); !s.ok()) {
    return {std::move(s), NvmeStatus(), 0};
  }
  return internal::AwaitOn<TransportResult>(
      *transport_, [&](TransportCallback done) { transport_->Submit(c, std::move(done)); });
}

absl::StatusOr<TransportResult> Unit::Execute(const Command& c, const char* method) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed(method));
  return internal::AwaitOn<TransportResult>(
      *transport_, [&](TransportCallback done) { transport_->Submit(c, std::move(done)); });
}

absl::StatusOr<std::vector<uint8_t>> Unit::AdminData(const cmd::AdminRequest& r, uint32_t bytes,
                                                     const char* method) {
  std::vector<uint8_t> buffer(bytes);
  cmd::AdminRequest request = r;
  std::visit(
      [&](auto& v) {
        if constexpr (requires { v.buffer; }) v.buffer = cmd::MutableBytes::Of(buffer);
      },
      request);
  SEF_ASSIGN_OR_RETURN(Command c, cmd::Encode(request));
  SEF_ASSIGN_OR_RETURN(TransportResult t, Execute(c, method));
  SEF_RETURN_IF_ERROR(internal::StatusOf(t, c));
  return buffer;
}

absl::Status Unit::AdminStatus(const cmd::AdminRequest& r, const char* method, uint64_t* result) {
  SEF_ASSIGN_OR_RETURN(Command c, cmd::Encode(r));
  SEF_ASSIGN_OR_RETURN(TransportResult t, Execute(c, method));
  if (result != nullptr) *result = t.result;
  return internal::StatusOf(t, c);
}

absl::StatusOr<uint32_t> Unit::ReadAdusPerPlanePage() {
  SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                       AdminData(cmd::IdentifySefControllerRequest{}, 4096, "Unit::Open"));
  const auto id = Parse<wire::IdentifySefController>(bytes);
  if (id.plds < 12 || id.plds > 30) {
    return absl::DataLossError(absl::StrFormat(
        "%s reports a plane data size of 2^%d bytes; SEF needs at least one 4 KiB ADU",
        transport_->name(), id.plds));
  }
  return 1u << (id.plds - 12);
}

// MDTS is a power of two in units of the minimum memory page size (4 KiB on every
// controller this project drives); 0 means no limit.
absl::StatusOr<uint32_t> Unit::ReadMaxAdusPerCommand() {
  SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                       AdminData(cmd::IdentifyControllerRequest{}, 4096, "Unit::Open"));
  const uint8_t mdts = bytes[offsetof(wire::IdentifyController, mdts)];
  uint32_t adus = mdts == 0 || mdts >= 16
                      ? wire::kMaxAdusPerCommand
                      : std::min<uint32_t>(wire::kMaxAdusPerCommand, 1u << mdts);
  // The path to the device may allow less than the device (Linux: max_segments).
  if (const uint64_t bytes_limit = transport_->max_data_bytes_per_command(); bytes_limit != 0) {
    adus = static_cast<uint32_t>(
        std::min<uint64_t>(adus, std::max<uint64_t>(1, bytes_limit / wire::kAduDataBytes)));
  }
  return adus;
}

absl::StatusOr<UnitInfo> Unit::Info() {
  SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> ctrl_bytes,
                       AdminData(cmd::IdentifyControllerRequest{}, 4096, "Unit::Info"));
  SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> sef_bytes,
                       AdminData(cmd::IdentifySefControllerRequest{}, 4096, "Unit::Info"));
  const auto ctrl =
      std::make_unique<wire::IdentifyController>(Parse<wire::IdentifyController>(ctrl_bytes));
  const auto sef = Parse<wire::IdentifySefController>(sef_bytes);
  UnitInfo info;
  info.transport = transport_->name();
  info.serial = Trimmed(ctrl->sn, sizeof(ctrl->sn));
  info.model_number = Trimmed(ctrl->mn, sizeof(ctrl->mn));
  info.firmware = Trimmed(ctrl->fr, sizeof(ctrl->fr));
  info.subsystem_nqn = Trimmed(ctrl->subnqn, sizeof(ctrl->subnqn));
  info.max_qos_domains = ctrl->nn;
  info.volatile_write_cache = ctrl->vwc & 0x1;
  info.capabilities = sef.cap;
  info.channels = sef.nch + 1u;
  info.banks = sef.nbnk + 1u;
  info.planes = sef.npl + 1u;
  info.pages_per_block = sef.npag + 1u;
  info.blocks_per_die = sef.nblk + 1u;
  info.adus_per_plane_page = sef.plds >= 12 ? 1u << (sef.plds - 12) : 0;
  info.open_expiration_seconds = sef.eop;
  info.max_placement_ids = sef.nplid + 1u;
  info.max_open_super_blocks = sef.mxosb;
  info.read_fifos = sef.nrf;
  info.read_fifos_in_use = sef.nurf;
  info.virtual_devices = sef.nvd;
  info.qos_domains = sef.nqosd;
  return info;
}

absl::StatusOr<std::vector<VirtualDeviceId>> Unit::ListVirtualDevices() {
  SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                       AdminData(cmd::IdentifyVirtualDeviceListRequest{VirtualDeviceId(1), {}},
                                 4096, "Unit::ListVirtualDevices"));
  const auto list = std::make_unique<wire::IdList16>(Parse<wire::IdList16>(bytes));
  std::vector<VirtualDeviceId> ids;
  for (uint16_t i = 0; i < list->count && i < 2047; ++i)
    ids.push_back(VirtualDeviceId(list->ids[i]));
  return ids;
}

absl::StatusOr<VirtualDeviceInfo> Unit::GetVirtualDeviceInfo(VirtualDeviceId vd) {
  const uint32_t per_pp = adus_per_plane_page_;
  SEF_ASSIGN_OR_RETURN(
      std::vector<uint8_t> bytes,
      AdminData(cmd::VdInfoLogRequest{vd, false, {}}, sizeof(wire::VdInfoLogHeader) + 2 * 65536,
                "Unit::GetVirtualDeviceInfo"));
  const auto h = Parse<wire::VdInfoLogHeader>(bytes);
  VirtualDeviceInfo info;
  info.id = VirtualDeviceId(h.vdid);
  for (uint32_t i = 0; i <= h.ndie; ++i) {
    uint16_t die;
    std::memcpy(&die, bytes.data() + sizeof(h) + 2 * i, 2);
    info.dies.push_back(die);
  }
  info.dies_per_super_block = h.nsbdie;
  info.format = {static_cast<uint8_t>(h.sbbw + 1), static_cast<uint8_t>(h.aobw + 1)};
  const uint64_t sbs = uint64_t{h.sbsta.nfrsb} + h.sbsta.nclsb + h.sbsta.neosb + h.sbsta.nwosb;
  info.capacity_adus = h.vdcap * per_pp;
  info.super_block_adus = sbs == 0 ? 0 : static_cast<uint32_t>(info.capacity_adus / sbs);
  info.pslc_super_block_adus = info.super_block_adus / 4;
  info.allocated_adus = h.vdgcap * per_pp;
  info.used_adus = h.vducap * per_pp;
  info.free_super_blocks = h.sbsta.nfrsb;
  info.closed_super_blocks = h.sbsta.nclsb;
  info.open_super_blocks = h.sbsta.neosb + h.sbsta.nwosb;
  info.pslc_super_blocks = h.nsbdie == 0 ? 0 : h.npblk / h.nsbdie;
  info.critical_warning = h.crit_warn;
  info.default_read_fifo = ReadFifoId(h.drfid);
  SEF_ASSIGN_OR_RETURN(
      std::vector<uint8_t> list_bytes,
      AdminData(cmd::QosDomainListLogRequest{vd, {}}, 4096, "Unit::GetVirtualDeviceInfo"));
  const auto list = std::make_unique<wire::IdList16>(Parse<wire::IdList16>(list_bytes));
  for (uint16_t i = 0; i < list->count && i < 2047; ++i) {
    info.qos_domains.push_back(QosDomainId(list->ids[i]));
  }
  events_->LearnFormat(info.id, info.format);
  return info;
}

absl::StatusOr<std::vector<QosDomainId>> Unit::ListQosDomains() {
  SEF_ASSIGN_OR_RETURN(std::vector<VirtualDeviceId> vds, ListVirtualDevices());
  std::vector<QosDomainId> ids;
  for (VirtualDeviceId vd : vds) {
    SEF_ASSIGN_OR_RETURN(VirtualDeviceInfo info, GetVirtualDeviceInfo(vd));
    ids.insert(ids.end(), info.qos_domains.begin(), info.qos_domains.end());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::StatusOr<QosDomainInfo> Unit::GetQosDomainInfo(QosDomainId domain) {
  const uint32_t per_pp = adus_per_plane_page_;
  SEF_ASSIGN_OR_RETURN(
      std::vector<uint8_t> bytes,
      AdminData(cmd::IdentifySefNamespaceRequest{domain, {}}, 4096, "Unit::GetQosDomainInfo"));
  const auto ns =
      std::make_unique<wire::IdentifySefNamespace>(Parse<wire::IdentifySefNamespace>(bytes));
  QosDomainInfo info;
  info.id = domain;
  info.vd = VirtualDeviceId(ns->endgid);
  info.capacity_adus = ns->sbsta.gcap * per_pp;
  info.quota_adus = ns->sbsta.quota * per_pp;
  info.used_adus = ns->sbsta.ucap * per_pp;
  info.pslc_capacity_adus = ns->psbsta.gcap * per_pp;
  info.pslc_quota_adus = ns->psbsta.quota * per_pp;
  info.pslc_used_adus = ns->psbsta.ucap * per_pp;
  info.placement_ids = ns->nplid + 1u;
  info.max_open_super_blocks = ns->mxosb;
  info.super_blocks = ns->sbsta.nsb;
  info.program_weight = ns->wwt;
  info.erase_weight = ns->ewt;
  info.deadline = static_cast<ReadDeadline>(ns->qosds & 0x3);
  info.defect = static_cast<DefectStrategy>((ns->qosds >> 2) & 0x3);
  info.default_read_fifo = ReadFifoId(ns->drfid);
  for (uint32_t i = 0; i < wire::kNumRootPointers; ++i) {
    info.root_pointers[i] = FlashAddress::FromRaw(ns->rootptr[i]);
  }
  return info;
}

absl::Status Unit::CreateVirtualDevices(const std::vector<VirtualDeviceConfig>& vds,
                                        uint16_t config_id) {
  constexpr const char* kMethod = "Unit::CreateVirtualDevices";
  cmd::CapacityConfig config;
  config.id = config_id;
  for (const VirtualDeviceConfig& vd : vds) {
    cmd::VdDies dies{vd.id, {}};
    for (uint16_t die : vd.dies) dies.dies.push_back(cmd::DieId(die));
    config.vds.push_back(std::move(dies));
  }
  config.Sort();  // the SDK's order (VDs by id, dies ascending), whatever the caller's
  std::vector<uint8_t> payload(config.payload_bytes());
  SEF_RETURN_IF_ERROR(
      AdminStatus(cmd::SetCapacityConfigRequest{config, cmd::MutableBytes::Of(payload)}, kMethod));
  SEF_RETURN_IF_ERROR(AdminStatus(cmd::SelectCapacityConfigRequest{config_id}, kMethod));
  events_->ForgetFormats();
  for (const VirtualDeviceConfig& vd : vds) {
    if (vd.dies_per_super_block != 0) {
      SEF_RETURN_IF_ERROR(
          AdminStatus(cmd::SetDiesPerSuperBlockRequest{vd.id, vd.dies_per_super_block}, kMethod));
    }
    if (vd.pslc_super_blocks != 0) {
      SEF_RETURN_IF_ERROR(
          AdminStatus(cmd::SetPslcSuperBlocksRequest{vd.id, vd.pslc_super_blocks}, kMethod));
    }
    SEF_RETURN_IF_ERROR(AdminStatus(cmd::SetVdAenControlRequest{vd.id, wire::kCritAll}, kMethod));
  }
  return absl::OkStatus();
}

absl::Status Unit::DeleteVirtualDevices() {
  events_->ForgetFormats();
  return AdminStatus(cmd::SelectCapacityConfigRequest{0}, "Unit::DeleteVirtualDevices");
}

absl::StatusOr<QosDomainId> Unit::CreateQosDomain(const QosDomainConfig& config) {
  constexpr const char* kMethod = "Unit::CreateQosDomain";
  const uint32_t per_pp = adus_per_plane_page_;
  const auto pages = [per_pp](uint64_t adus) { return PlanePageCount(adus / per_pp); };
  cmd::QosDomainSpec spec;
  spec.vd = config.vd;
  spec.capacity = pages(config.capacity_adus);
  spec.quota = pages(config.quota_adus != 0 ? config.quota_adus : config.capacity_adus);
  spec.pslc_capacity = pages(config.pslc_capacity_adus);
  spec.pslc_quota =
      pages(config.pslc_quota_adus != 0 ? config.pslc_quota_adus : config.pslc_capacity_adus);
  spec.num_placement_ids = config.placement_ids;
  spec.max_open_super_blocks = config.max_open_super_blocks;
  spec.program_weight = config.program_weight;
  spec.erase_weight = config.erase_weight;
  spec.default_read_fifo = config.default_read_fifo;
  spec.deadline = config.deadline;
  spec.defect = config.defect;
  std::vector<uint8_t> payload(4096);
  uint64_t result = 0;
  SEF_RETURN_IF_ERROR(AdminStatus(cmd::CreateQosDomainRequest{spec, cmd::MutableBytes::Of(payload)},
                                  kMethod, &result));
  const QosDomainId id = cmd::CreateQosDomainResult::FromResult(result).domain;
  absl::Status attached = AdminStatus(cmd::AttachQosDomainRequest{id, cmd::AttachAction::kAttach, 0,
                                                                  cmd::MutableBytes::Of(payload)},
                                      kMethod);
  if (!attached.ok()) {
    (void)AdminStatus(cmd::DeleteQosDomainRequest{id}, kMethod);  // undo the create
    return attached;
  }
  SEF_RETURN_IF_ERROR(transport_->NamespacesChanged());
  return id;
}

absl::Status Unit::DeleteQosDomain(QosDomainId domain) {
  constexpr const char* kMethod = "Unit::DeleteQosDomain";
  std::vector<uint8_t> payload(4096);
  absl::Status detached =
      AdminStatus(cmd::AttachQosDomainRequest{domain, cmd::AttachAction::kDetach, 0,
                                              cmd::MutableBytes::Of(payload)},
                  kMethod);
  // A domain that is already detached can still be deleted.
  if (!detached.ok() && detached.code() != absl::StatusCode::kFailedPrecondition) return detached;
  SEF_RETURN_IF_ERROR(AdminStatus(cmd::DeleteQosDomainRequest{domain}, kMethod));
  return transport_->NamespacesChanged();
}

absl::Status Unit::SetQosDomainCapacity(QosDomainId domain, bool pslc, uint64_t capacity_adus,
                                        uint64_t quota_adus) {
  const uint64_t per_pp = adus_per_plane_page_;
  const uint64_t capacity = capacity_adus / per_pp;
  if (capacity == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Unit::SetQosDomainCapacity: capacity %u ADUs is below one plane page (%u ADUs)",
        capacity_adus, per_pp));
  }
  // The quota is never below the capacity (SEFSetQoSDomainCapacity raises it the same way).
  const uint64_t quota = std::max(capacity, quota_adus / per_pp);
  return AdminStatus(cmd::SetQosDomainCapacityRequest{domain, pslc, PlanePageCount(capacity),
                                                      PlanePageCount(quota)},
                     "Unit::SetQosDomainCapacity");
}

absl::StatusOr<std::unique_ptr<QosDomain>> Unit::OpenQosDomain(QosDomainId domain,
                                                               QosDomainOptions options) {
  SEF_ASSIGN_OR_RETURN(QosDomainInfo info, GetQosDomainInfo(domain));
  SEF_ASSIGN_OR_RETURN(VirtualDeviceInfo vd, GetVirtualDeviceInfo(info.vd));
  std::unique_ptr<QosDomain> d(
      new QosDomain(this, domain, info.vd, vd.format, info.placement_ids, max_adus_per_command_));
  if (options.on_notification) {
    SEF_RETURN_IF_ERROR(
        events_->Subscribe(d.get(), domain, vd.format, std::move(options.on_notification)));
  }
  return d;
}

}  // namespace sef::hal
