// Admin commands: Identify, Get Log Page, Set/Get Features, capacity configuration, QoS
// domains. Every admin command runs with the topology lock held exclusively, so no I/O runs
// meanwhile and unit-wide state can be read without the per-domain locks.
#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>
#include <set>

#include "sef/hal/cmd/results.h"
#include "sef/hal/model/internal/model.h"

namespace sef::model::internal {
namespace {

using wire::StatusCodeType;
namespace sc = wire::sc;

void CopyString(char* dst, size_t width, const std::string& s) {
  std::memset(dst, ' ', width);  // NVMe ASCII fields are space padded
  std::memcpy(dst, s.data(), std::min(width, s.size()));
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

Outcome Model::ExecuteAdmin(const Command& c, Completions& out) {
  absl::StatusOr<cmd::AdminRequest> decoded = cmd::DecodeAdmin(c);
  if (!decoded.ok()) {
    const auto op = static_cast<wire::AdminOpcode>(c.opcode());
    if (decoded.status().code() != absl::StatusCode::kUnimplemented) return InvalidField();
    switch (op) {
      case wire::AdminOpcode::kGetLogPage:
        return Fail(StatusCodeType::kCommandSpecific, sc::kInvalidLogPage);
      case wire::AdminOpcode::kIdentify:
      case wire::AdminOpcode::kSetFeatures:
      case wire::AdminOpcode::kGetFeatures:
      case wire::AdminOpcode::kNamespaceManagement:
      case wire::AdminOpcode::kNamespaceAttachment:
      case wire::AdminOpcode::kCapacityManagement:
        return InvalidField();
      default:
        return Fail(StatusCodeType::kGeneric, sc::kInvalidOpcode);
    }
  }
  const cmd::AdminRequest& r = *decoded;
  return std::visit(
      Overloaded{
          [&](const cmd::IdentifyControllerRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return Identify(r); },
          [&](const cmd::IdentifySefControllerRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return Identify(r); },
          [&](const cmd::IdentifySefNamespaceRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return Identify(r); },
          [&](const cmd::IdentifyVirtualDeviceListRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return Identify(r); },
          [&](const cmd::IdentifyCommandSetVectorRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return Identify(r); },
          [&](const cmd::VdInfoLogRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return GetLog(r, out); },
          [&](const cmd::QosDomainListLogRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return GetLog(r, out); },
          [&](const cmd::SuperBlockListLogRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return GetLog(r, out); },
          [&](const cmd::SuperBlockInfoLogRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return GetLog(r, out); },
          [&](const cmd::UserAddressListLogRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return GetLog(r, out); },
          [&](const cmd::AddressChangeOrderLogRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return GetLog(r, out); },
          [&](const cmd::ReadFifoLogRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return GetLog(r, out); },
          [&](const cmd::GetReadFifoListRequest& v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
              topology_mu_) -> Outcome { return ReadFifoList(v.vd, v.buffer); },
          [&](const cmd::SetDiesPerSuperBlockRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetVdFeature(r); },
          [&](const cmd::SetReadFifoRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetVdFeature(r); },
          [&](const cmd::DetachReadFifoRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetVdFeature(r); },
          [&](const cmd::SetPslcSuperBlocksRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetVdFeature(r); },
          [&](const cmd::SetVdAenControlRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetVdFeature(r); },
          [&](const cmd::SetSuspendConfigRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetVdFeature(r); },
          [&](const cmd::ResetSchedulerRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetVdFeature(r); },
          [&](const cmd::SetRootPointerRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetDomainFeature(r); },
          [&](const cmd::GetRootPointerRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetDomainFeature(r); },
          [&](const cmd::SetQosDomainCapacityRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetDomainFeature(r); },
          [&](const cmd::SetWeightsRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetDomainFeature(r); },
          [&](const cmd::SetReadDeadlineRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetDomainFeature(r); },
          [&](const cmd::SetMaxOpenSuperBlocksRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetDomainFeature(r); },
          [&](const cmd::SetDefaultReadFifoRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return SetDomainFeature(r); },
          [&](const cmd::SetCapacityConfigRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return CapacityAdmin(r); },
          [&](const cmd::GetCapacityConfigRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return CapacityAdmin(r); },
          [&](const cmd::SelectCapacityConfigRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return CapacityAdmin(r); },
          [&](const cmd::CreateQosDomainRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return DomainAdmin(r, out); },
          [&](const cmd::DeleteQosDomainRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return DomainAdmin(r, out); },
          [&](const cmd::AttachQosDomainRequest&)
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(topology_mu_) { return DomainAdmin(r, out); },
      },
      r);
}

Outcome Model::ReadFifoList(VirtualDeviceId vd_id, const cmd::MutableBytes& buffer) {
  Vd* vd = FindVd(vd_id.value());
  if (vd == nullptr) return InvalidField();
  std::vector<wire::ReadFifoEntry> list;
  for (uint32_t i = 0; i < fifos_.size(); ++i) {
    if (fifos_[i].vd == vd->id.value()) list.push_back({i + 1, fifos_[i].vd, fifos_[i].weight});
  }
  list.push_back({0, 0, 0});
  CopyOut(buffer, list.data(), list.size() * sizeof(wire::ReadFifoEntry));
  return Outcome::Ok();
}

Outcome Model::Identify(const cmd::AdminRequest& r) {
  const UnitConfig& config = options_.config;
  if (const auto* v = std::get_if<cmd::IdentifyControllerRequest>(&r)) {
    wire::IdentifyController id{};
    CopyString(id.sn, sizeof(id.sn), config.serial);
    CopyString(id.mn, sizeof(id.mn), config.model_number);
    CopyString(id.fr, sizeof(id.fr), "SEFM1");
    id.ver = 0x00020000;  // NVMe 2.0
    id.ctratt = wire::kCtrattDeleteEnduranceGroup;
    id.oacs = 1u << 3;  // namespace management
    id.aerl = kMaxOutstandingAers - 1;
    id.lpa = 1u << 1;  // extended data for Get Log Page (NUMDU, LPO)
    id.sqes = 0x66;
    id.cqes = 0x44;
    id.nn = config.max_qos_domains;
    id.vwc = config.write_cache == WriteCache::kVolatile
                 ? wire::kVwcPresent | wire::kVwcFlushBroadcast
                 : 0;
    const std::string nqn = "nqn.2026-11.org.sef-stack:model:" + config.serial;
    std::memcpy(id.subnqn, nqn.data(), std::min(nqn.size(), sizeof(id.subnqn) - 1));
    CopyOut(v->buffer, id);
    return Outcome::Ok();
  }
  if (const auto* v = std::get_if<cmd::IdentifySefControllerRequest>(&r)) {
    wire::IdentifySefController id{};
    id.cap = config.capabilities;
    id.nch = static_cast<uint8_t>(config.channels - 1);
    id.nbnk = static_cast<uint8_t>(config.banks - 1);
    id.nblk = static_cast<uint16_t>(config.blocks_per_die - 1);
    id.npag = static_cast<uint16_t>(config.pages_per_block - 1);
    id.npl = static_cast<uint8_t>(config.planes - 1);
    id.plds = static_cast<uint8_t>(std::countr_zero(config.plane_data_bytes));
    id.eop = static_cast<uint16_t>(config.open_expiration_seconds);
    id.nplid = static_cast<uint16_t>(config.max_placement_ids - 1);
    id.mxosb = config.max_open_super_blocks;
    id.nrf = config.read_fifos;
    id.npsi = static_cast<uint8_t>(config.pages_to_secure_integrity);
    id.nurf = static_cast<uint32_t>(std::count_if(fifos_.begin(), fifos_.end(),
                                                  [](const FifoSettings& f) { return f.vd != 0; }));
    id.nvd = static_cast<uint16_t>(vds_.size());
    id.nqosd = static_cast<uint16_t>(std::count_if(domains_.begin(), domains_.end(),
                                                   [](const auto& d) { return d != nullptr; }));
    CopyOut(v->buffer, id);
    return Outcome::Ok();
  }
  if (const auto* v = std::get_if<cmd::IdentifySefNamespaceRequest>(&r)) {
    Domain* d = FindDomain(v->domain.value());
    if (d == nullptr) return InvalidNamespace();
    const uint64_t per_pp = config.adus_per_plane_page();
    wire::IdentifySefNamespace ns{};
    MutexLock lock(&d->mu);
    ns.nsze = ns.ncap = d->rec.capacity * per_pp;
    ns.nuse = d->used_plane_pages * per_pp;
    ns.lbaf[0] = {.ms = wire::kAduMetaBytes, .lbads = 12, .rp = 0};
    ns.endgid = d->rec.vd;
    ns.qosds = d->rec.deadline | (uint32_t{d->rec.defect} << 2);
    ns.nplid = static_cast<uint16_t>(d->rec.num_placement_ids - 1);
    ns.mxosb = d->rec.max_open_super_blocks;
    ns.wwt = d->rec.program_weight;
    ns.ewt = d->rec.erase_weight;
    ns.drfid = d->rec.default_read_fifo;
    ns.sbsta.quota = d->rec.quota;
    ns.sbsta.gcap = d->rec.capacity;
    ns.sbsta.ucap = d->used_plane_pages;
    ns.psbsta.quota = d->rec.pslc_quota;
    ns.psbsta.gcap = d->rec.pslc_capacity;
    ns.psbsta.ucap = d->used_pslc_plane_pages;
    // Normal and pSLC SBs are counted apart ([1] = pSLC).
    uint32_t owned[2] = {}, by_erase[2] = {}, by_placement[2] = {};
    for (const SuperBlock& sb : d->vd->sbs) {
      if (sb.owner.load(std::memory_order_acquire) != d->id.value()) continue;
      const int k = (sb.rec.flags & kSbFlagPslc) ? 1 : 0;
      ++owned[k];
      by_erase[k] += sb.state() == SbState::kOpenByErase;
      by_placement[k] += sb.state() == SbState::kOpenByPlacement;
    }
    for (int k = 0; k < 2; ++k) {
      wire::NamespaceSbStats& stats = k == 0 ? ns.sbsta : ns.psbsta;
      stats.nsb = owned[k];
      stats.nwosb = static_cast<uint16_t>(by_placement[k]);
      stats.neosb = static_cast<uint8_t>(std::min<uint32_t>(by_erase[k], 255));
    }
    std::memcpy(ns.rootptr, d->rec.root_pointers, sizeof(ns.rootptr));
    CopyOut(v->buffer, ns);
    return Outcome::Ok();
  }
  if (const auto* v = std::get_if<cmd::IdentifyVirtualDeviceListRequest>(&r)) {
    wire::IdList16 list{};
    for (const auto& [id, vd] : vds_) {
      if (id >= v->first.value()) list.ids[list.count++] = id;
    }
    CopyOut(v->buffer, list);
    return Outcome::Ok();
  }
  const auto& v = std::get<cmd::IdentifyCommandSetVectorRequest>(r);
  wire::CommandSetVectors vectors{};
  vectors.vector[0] = 1u | wire::kCommandSetVectorSefBit;  // NVM and SEF
  CopyOut(v.buffer, vectors);
  return Outcome::Ok();
}

Outcome Model::SetVdFeature(const cmd::AdminRequest& r) {
  const VirtualDeviceId id = std::visit(
      [](const auto& v) -> VirtualDeviceId {
        if constexpr (requires { v.vd; }) {
          return v.vd;
        } else {
          return VirtualDeviceId();
        }
      },
      r);
  Vd* vd = FindVd(id.value());
  if (vd == nullptr) return InvalidField();
  if (const auto* v = std::get_if<cmd::SetDiesPerSuperBlockRequest>(&r)) {
    if (vd->dies.size() % v->dies != 0) return InvalidField();
    const bool empty = std::none_of(domains_.begin(), domains_.end(),
                                    [&](const auto& d) { return d != nullptr && d->vd == vd; });
    if (!empty) return SequenceError();  // SBs are sized when a domain may hold them
    vd->dies_per_sb = v->dies;
    vd->sbs = std::vector<SuperBlock>(vd->groups() * options_.config.blocks_per_die);
    MutexLock lock(&vd->mu);
    vd->free_list.clear();
    for (uint32_t sb = 0; sb < vd->sbs.size(); ++sb) {
      vd->sbs[sb].rec.vd = vd->id.value();
      vd->sbs[sb].rec.sb_id = sb;
      vd->free_list.push_back(sb);
    }
  } else if (const auto* v = std::get_if<cmd::SetReadFifoRequest>(&r)) {
    const uint32_t fifo = v->fifo.value();
    if (fifo == 0 || fifo > fifos_.size()) return InvalidField();
    FifoSettings& f = fifos_[fifo - 1];
    if (v->action == cmd::ReadFifoAction::kAttach && f.vd != 0) return InvalidField();
    if (v->action == cmd::ReadFifoAction::kChange && f.vd != vd->id.value()) return InvalidField();
    f = {vd->id.value(), v->weight};
    if (v->vd_default) vd->default_fifo = v->fifo;
  } else if (const auto* v = std::get_if<cmd::DetachReadFifoRequest>(&r)) {
    const uint32_t fifo = v->fifo.value();
    if (fifo == 0 || fifo > fifos_.size() || fifos_[fifo - 1].vd != vd->id.value()) {
      return InvalidField();
    }
    const bool in_use = vd->default_fifo == v->fifo ||
                        std::any_of(domains_.begin(), domains_.end(), [&](const auto& d) {
                          return d != nullptr && d->rec.default_read_fifo == fifo;
                        });
    if (in_use) return SequenceError();
    fifos_[fifo - 1] = {};
  } else if (const auto* v = std::get_if<cmd::SetPslcSuperBlocksRequest>(&r)) {
    if (!options_.config.pslc || v->count > vd->sbs.size()) return InvalidField();
    MutexLock lock(&vd->mu);
    if (v->count < vd->pslc_in_use) return SequenceError();
    vd->pslc_super_blocks = v->count;
  } else if (const auto* v = std::get_if<cmd::SetVdAenControlRequest>(&r)) {
    vd->aen_mask = v->critical_warning_mask;
  } else if (const auto* v = std::get_if<cmd::SetSuspendConfigRequest>(&r)) {
    vd->suspend_min_time = v->min_time_until_suspend;
  }
  // ResetScheduler: the model schedules nothing; accepted as a no-op.
  PersistUnit();
  UpdateCriticalWarning(*vd);
  return Outcome::Ok();
}

Outcome Model::SetDomainFeature(const cmd::AdminRequest& r) {
  const QosDomainId id = std::visit(
      [](const auto& v) -> QosDomainId {
        if constexpr (requires { v.domain; }) {
          return v.domain;
        } else {
          return QosDomainId();
        }
      },
      r);
  Domain* d = FindDomain(id.value());
  if (d == nullptr) return InvalidNamespace();
  if (const auto* v = std::get_if<cmd::GetRootPointerRequest>(&r)) {
    return Outcome::Ok(d->rec.root_pointers[v->index]);
  }
  MutexLock lock(&d->mu);
  DomainRecord& rec = d->rec;
  if (const auto* v = std::get_if<cmd::SetRootPointerRequest>(&r)) {
    rec.root_pointers[v->index] = v->value.raw();
  } else if (const auto* v = std::get_if<cmd::SetQosDomainCapacityRequest>(&r)) {
    if (v->pslc && !options_.config.pslc) return InvalidField();
    if (v->quota.value() < (v->pslc ? d->used_pslc_plane_pages : d->used_plane_pages)) {
      return InvalidField();  // the domain already holds more than the new quota
    }
    if (!v->pslc) {
      uint64_t others = 0;
      for (auto& o : domains_) {
        if (o != nullptr && o.get() != d && o->vd == d->vd) others += o->rec.capacity;
      }
      const uint64_t total = PlanePages(SbCapacity(*d->vd, false)) * d->vd->sbs.size();
      if (others + v->capacity.value() > total) {
        return Fail(StatusCodeType::kCommandSpecific, sc::kNamespaceInsufficientCapacity);
      }
      rec.capacity = v->capacity.value();
      rec.quota = v->quota.value();
    } else {
      rec.pslc_capacity = v->capacity.value();
      rec.pslc_quota = v->quota.value();
    }
  } else if (const auto* v = std::get_if<cmd::SetWeightsRequest>(&r)) {
    rec.program_weight = v->program_weight;
    rec.erase_weight = v->erase_weight;
  } else if (const auto* v = std::get_if<cmd::SetReadDeadlineRequest>(&r)) {
    rec.deadline = static_cast<uint8_t>(v->deadline);
  } else if (const auto* v = std::get_if<cmd::SetMaxOpenSuperBlocksRequest>(&r)) {
    if (v->max_open > options_.config.max_open_super_blocks) return InvalidField();
    rec.max_open_super_blocks = v->max_open;
  } else if (const auto* v = std::get_if<cmd::SetDefaultReadFifoRequest>(&r)) {
    const uint32_t fifo = v->fifo.value();
    if (fifo == 0 || fifo > fifos_.size() || fifos_[fifo - 1].vd != d->vd->id.value()) {
      return InvalidField();
    }
    rec.default_read_fifo = fifo;
  }
  PersistDomain(*d);
  return Outcome::Ok();
}

Outcome Model::CapacityAdmin(const cmd::AdminRequest& r) {
  const uint32_t dies = options_.config.dies();
  if (const auto* v = std::get_if<cmd::SetCapacityConfigRequest>(&r)) {
    for (const cmd::VdDies& vd : v->config.vds) {
      for (cmd::DieId die : vd.dies) {
        if (die.value() >= dies) return InvalidField();
      }
    }
    // The selected configuration describes the VDs that exist: it is not redefined under them.
    if (v->config.id == selected_config_ && selected_config_ != 0) return SequenceError();
    // Order carries no meaning here: a descriptor in any order is kept in the SDK's (VDs by id,
    // dies ascending), which Get Features 0xD2 returns; SBs group dies in ascending order.
    cmd::CapacityConfig config = v->config;
    config.Sort();
    defined_configs_[config.id] = std::move(config);
    return Outcome::Ok();
  }
  if (const auto* v = std::get_if<cmd::GetCapacityConfigRequest>(&r)) {
    auto it = defined_configs_.find(selected_config_);
    if (selected_config_ == 0 || it == defined_configs_.end()) {
      CopyOut(v->buffer, nullptr, 0);
      return Outcome::Ok();
    }
    const std::vector<uint8_t> bytes = cmd::SerializeCapacityConfig(it->second);
    CopyOut(v->buffer, bytes.data(), bytes.size());
    return Outcome::Ok();
  }
  const auto& v = std::get<cmd::SelectCapacityConfigRequest>(r);
  const bool has_domains =
      std::any_of(domains_.begin(), domains_.end(), [](const auto& d) { return d != nullptr; });
  if (has_domains) return SequenceError();  // delete the QoS domains first
  if (v.config_id == 0) {
    vds_.clear();
    for (FifoSettings& f : fifos_) f = {};
    selected_config_ = 0;
    PersistUnit();
    return Outcome::Ok();
  }
  auto it = defined_configs_.find(v.config_id);
  if (it == defined_configs_.end()) return InvalidField();
  if (!vds_.empty()) return SequenceError();  // select configuration 0 first
  if (!BuildVds(it->second).ok()) return InvalidField();
  selected_config_ = v.config_id;
  // Each VD gets a default read FIFO with RFID = VD id, as the SEF emulator does.
  for (auto& [id, vd] : vds_) {
    if (id <= fifos_.size() && fifos_[id - 1].vd == 0) {
      fifos_[id - 1] = {id, 1};
      vd->default_fifo = ReadFifoId(id);
    }
  }
  PersistUnit();
  for (auto& [id, vd] : vds_) UpdateCriticalWarning(*vd);
  return Outcome::Ok();
}

absl::Status Model::BuildVds(const cmd::CapacityConfig& config) {
  std::set<uint16_t> used;
  for (const cmd::VdDies& spec : config.vds) {
    for (cmd::DieId die : spec.dies) {
      if (die.value() >= options_.config.dies() || !used.insert(die.value()).second) {
        vds_.clear();
        return absl::InvalidArgumentError(
            "capacity configuration names a die twice or past the unit");
      }
    }
    auto vd = std::make_unique<Vd>();
    vd->id = spec.vd;
    for (cmd::DieId die : spec.dies) vd->dies.push_back(die.value());
    std::sort(vd->dies.begin(), vd->dies.end());
    vd->dies_per_sb = static_cast<uint16_t>(vd->dies.size());
    vd->format = options_.config.address;
    vd->sbs = std::vector<SuperBlock>(vd->groups() * options_.config.blocks_per_die);
    {
      MutexLock lock(&vd->mu);
      for (uint32_t sb = 0; sb < vd->sbs.size(); ++sb) {
        vd->sbs[sb].rec.vd = vd->id.value();
        vd->sbs[sb].rec.sb_id = sb;
        vd->free_list.push_back(sb);
      }
    }
    vds_[spec.vd.value()] = std::move(vd);
  }
  return absl::OkStatus();
}

Outcome Model::DomainAdmin(const cmd::AdminRequest& r, Completions& out) {
  if (const auto* v = std::get_if<cmd::CreateQosDomainRequest>(&r)) {
    const cmd::QosDomainSpec& s = v->spec;
    // The SEF API's defaults, applied by the device: max open SBs below the placement ids
    // become placement ids + 2 (within the unit's limit), a quota below its capacity becomes
    // the capacity. Identify 05h reports the values in force.
    const uint32_t max_open =
        s.max_open_super_blocks >= s.num_placement_ids
            ? s.max_open_super_blocks
            : std::min<uint32_t>(s.num_placement_ids + 2, options_.config.max_open_super_blocks);
    Vd* vd = FindVd(s.vd.value());
    if (vd == nullptr || s.defect != wire::DefectStrategy::kPerfect ||
        s.num_placement_ids > options_.config.max_placement_ids ||
        max_open > options_.config.max_open_super_blocks ||
        (!options_.config.pslc && s.pslc_capacity.value() != 0)) {
      return InvalidField();
    }
    uint32_t fifo = s.default_read_fifo.value();
    if (fifo == 0) fifo = vd->default_fifo.value();
    if (fifo == 0 || fifo > fifos_.size() || fifos_[fifo - 1].vd != vd->id.value()) {
      return InvalidField();
    }
    uint64_t allocated = 0;
    for (auto& d : domains_) {
      if (d != nullptr && d->vd == vd) allocated += d->rec.capacity;
    }
    const uint64_t total = PlanePages(SbCapacity(*vd, false)) * vd->sbs.size();
    if (allocated + s.capacity.value() > total) {
      return Fail(StatusCodeType::kCommandSpecific, sc::kNamespaceInsufficientCapacity);
    }
    auto slot = std::find(domains_.begin(), domains_.end(), nullptr);
    if (slot == domains_.end()) {
      return Fail(StatusCodeType::kCommandSpecific, sc::kNamespaceIdUnavailable);
    }
    auto d = std::make_unique<Domain>();
    d->id = QosDomainId(static_cast<uint16_t>(slot - domains_.begin() + 1));
    d->vd = vd;
    DomainRecord& rec = d->rec;
    rec.in_use = 1;
    rec.attached = 0;  // created detached, as NVMe namespaces are
    rec.vd = vd->id.value();
    rec.num_placement_ids = s.num_placement_ids;
    rec.max_open_super_blocks = static_cast<uint16_t>(max_open);
    rec.program_weight = s.program_weight;
    rec.erase_weight = s.erase_weight;
    rec.deadline = static_cast<uint8_t>(s.deadline);
    rec.defect = static_cast<uint8_t>(s.defect);
    rec.default_read_fifo = fifo;
    rec.capacity = s.capacity.value();
    rec.quota = std::max(s.quota, s.capacity).value();
    rec.pslc_capacity = s.pslc_capacity.value();
    rec.pslc_quota = std::max(s.pslc_quota, s.pslc_capacity).value();
    d->format = {vd->format, s.num_placement_ids};
    const uint16_t id = d->id.value();
    *slot = std::move(d);
    PersistDomain(**slot);
    return Outcome::Ok(cmd::CreateQosDomainResult{QosDomainId(id)}.ToResult());
  }
  if (const auto* v = std::get_if<cmd::DeleteQosDomainRequest>(&r)) {
    Domain* d = FindDomain(v->domain.value());
    if (d == nullptr) return InvalidNamespace();
    DeleteDomainState(*d, out);
    const uint32_t index = d->id.value() - 1;
    media_->WriteDomain(index, DomainRecord{});
    domains_[index].reset();
    return Outcome::Ok();
  }
  const auto& v = std::get<cmd::AttachQosDomainRequest>(r);
  Domain* d = FindDomain(v.domain.value());
  if (d == nullptr) return InvalidNamespace();
  if (v.controller != 0) return Fail(StatusCodeType::kCommandSpecific, sc::kInvalidControllerList);
  const bool attach = v.action == cmd::AttachAction::kAttach;
  if (attach && d->rec.attached) {
    return Fail(StatusCodeType::kCommandSpecific, sc::kNamespaceAlreadyAttached);
  }
  if (!attach && !d->rec.attached) {
    return Fail(StatusCodeType::kCommandSpecific, sc::kNamespaceNotAttached);
  }
  d->rec.attached = attach;
  PersistDomain(*d);
  return Outcome::Ok();
}

void Model::DeleteDomainState(Domain& d, Completions& out) {
  MutexLock lock(&d.mu);
  AbortPending(d, Fail(StatusCodeType::kGeneric, sc::kAbortRequested).status, out);
  for (uint32_t id = 0; id < d.vd->sbs.size(); ++id) {
    if (d.vd->sbs[id].owner.load(std::memory_order_acquire) == d.id.value()) {
      SetSbState(d, id, SbState::kFree, 0);
    }
  }
}

void Model::PersistUnit() {
  const UnitConfig& config = options_.config;
  std::vector<uint8_t> payload(UnitStateBytes(config), 0);
  UnitStateHeader h{};
  h.selected_config = selected_config_;
  std::vector<VdSettings> settings(config.dies());
  std::vector<uint16_t> owner(config.dies(), 0);
  size_t i = 0;
  for (const auto& [id, vd] : vds_) {
    MutexLock lock(&vd->mu);
    h.erase_serial = std::max(h.erase_serial, vd->erase_serial);
    settings[i++] = {id,
                     vd->dies_per_sb,
                     vd->pslc_super_blocks,
                     vd->default_fifo.value(),
                     vd->suspend_min_time,
                     vd->aen_mask,
                     {}};
    for (uint16_t die : vd->dies) owner[die] = id;
  }
  uint8_t* p = payload.data();
  std::memcpy(p, &h, sizeof(h));
  p += sizeof(h);
  std::memcpy(p, settings.data(), settings.size() * sizeof(VdSettings));
  p += settings.size() * sizeof(VdSettings);
  std::memcpy(p, owner.data(), owner.size() * sizeof(uint16_t));
  p += owner.size() * sizeof(uint16_t);
  std::memcpy(p, fifos_.data(), fifos_.size() * sizeof(FifoSettings));
  media_->WriteUnitState(payload);
}

void Model::PersistDomain(const Domain& d) { media_->WriteDomain(d.id.value() - 1, d.rec); }

}  // namespace sef::model::internal
