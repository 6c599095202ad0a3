// Set/Get Features 0xD0-0xD2, Capacity Management, NS Management and NS Attachment.
#include <algorithm>
#include <cstring>
#include <set>

#include "absl/status/status.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/internal/decoders.h"
#include "sef/hal/cmd/internal/fields.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {
namespace {

using internal::Get;
using internal::Invalid;
using internal::Put;
using wire::AdminOpcode;
using wire::FeatureId;
using wire::QosdSelect;
using wire::VdSelect;

constexpr uint32_t kSaveBit = 1u << 31;  // Set Features CDW10[31] SV: the SDK always sets it
constexpr uint32_t kMaxReadFifoId = 0x7FFFFFFF;  // CDW12[30:0]

Command SetFeature(FeatureId fid, uint32_t nsid, uint32_t cdw11, uint32_t cdw12 = 0,
                   uint32_t cdw13 = 0, uint32_t cdw14 = 0, uint32_t cdw15 = 0) {
  Command c = internal::NewCommand(QueueType::kAdmin,
                                   static_cast<uint8_t>(AdminOpcode::kSetFeatures), nsid);
  c.sqe.cdw10 = static_cast<uint8_t>(fid) | kSaveBit;
  c.sqe.cdw11 = cdw11;
  c.sqe.cdw12 = cdw12;
  c.sqe.cdw13 = cdw13;
  c.sqe.cdw14 = cdw14;
  c.sqe.cdw15 = cdw15;
  return c;
}

Command GetFeature(FeatureId fid, uint32_t nsid, uint32_t cdw11) {
  Command c = internal::NewCommand(QueueType::kAdmin,
                                   static_cast<uint8_t>(AdminOpcode::kGetFeatures), nsid);
  c.sqe.cdw10 = static_cast<uint8_t>(fid);  // SEL (NVMe's CDW10[10:8]) = current
  c.sqe.cdw11 = cdw11;
  return c;
}

uint32_t VdSel(VdSelect s) { return static_cast<uint32_t>(s); }
uint32_t QosdSel(QosdSelect s) { return static_cast<uint32_t>(s); }

// ---- validation (shared by encoders and decoders) -------------------------------------------

absl::Status Validate(const SetDiesPerSuperBlockRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckVd(r.vd, "set dies per super block"));
  if (r.dies < 1 || r.dies > 256) {
    return Invalid("set dies per super block: %u dies is outside 1..256", r.dies);
  }
  return absl::OkStatus();
}
absl::Status Validate(const SetReadFifoRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckVd(r.vd, "set read FIFO"));
  if (r.action != ReadFifoAction::kAttach && r.action != ReadFifoAction::kChange) {
    return Invalid("set read FIFO: action %d is neither attach nor change",
                   static_cast<int>(r.action));
  }
  if (r.fifo.value() > kMaxReadFifoId) {
    return Invalid("set read FIFO: read FIFO id 0x%x does not fit in 31 bits", r.fifo.value());
  }
  return absl::OkStatus();
}
absl::Status Validate(const DetachReadFifoRequest& r) {
  return internal::CheckVd(r.vd, "detach read FIFO");
}
absl::Status Validate(const SetPslcSuperBlocksRequest& r) {
  return internal::CheckVd(r.vd, "set pSLC super blocks");
}
absl::Status Validate(const SetVdAenControlRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckVd(r.vd, "VD AEN control"));
  if ((r.critical_warning_mask & ~wire::kCritAll) != 0) {
    return Invalid("VD AEN control: critical warning mask 0x%x has bits beyond 0x7",
                   r.critical_warning_mask);
  }
  return absl::OkStatus();
}
absl::Status Validate(const SetSuspendConfigRequest& r) {
  return internal::CheckVd(r.vd, "set suspend config");
}
absl::Status Validate(const ResetSchedulerRequest& r) {
  return internal::CheckVd(r.vd, "reset scheduler");
}
// CDW11[31:16] of Get Features 0xD0 SEL 1: the transfer's dword count minus one.
constexpr uint32_t kMaxFeatureDwords = 0x10000;

absl::Status Validate(const GetReadFifoListRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckVd(r.vd, "get read FIFO list"));
  SEF_RETURN_IF_ERROR(
      internal::CheckDataIn(r.buffer, "get read FIFO list", sizeof(wire::ReadFifoEntry)));
  if (r.buffer.size / 4 > kMaxFeatureDwords) {
    return Invalid("get read FIFO list: buffer of %u bytes exceeds the 16-bit dword count",
                   r.buffer.size);
  }
  return absl::OkStatus();
}
absl::Status Validate(const SetRootPointerRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "set root pointer"));
  return internal::CheckRootPointerIndex(r.index);
}
absl::Status Validate(const GetRootPointerRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "get root pointer"));
  return internal::CheckRootPointerIndex(r.index);
}
absl::Status Validate(const SetQosDomainCapacityRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "set QoS domain capacity"));
  // The wire fields are zero-based (as the SDK encodes them), so 0 cannot be expressed.
  if (r.capacity.value() == 0) return Invalid("set QoS domain capacity: capacity 0 plane pages");
  if (r.quota.value() == 0) return Invalid("set QoS domain capacity: quota 0 plane pages");
  if (r.quota < r.capacity) {
    return Invalid("set QoS domain capacity: quota %u is below capacity %u plane pages",
                   r.quota.value(), r.capacity.value());
  }
  return absl::OkStatus();
}
absl::Status Validate(const SetWeightsRequest& r) {
  return internal::CheckDomain(r.domain, "set weights");
}
absl::Status Validate(const SetReadDeadlineRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "set read deadline"));
  if (static_cast<uint8_t>(r.deadline) > 3) {
    return Invalid("set read deadline: deadline code %d is not 0..3", static_cast<int>(r.deadline));
  }
  return absl::OkStatus();
}
absl::Status Validate(const SetMaxOpenSuperBlocksRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "set max open super blocks"));
  if (r.max_open == 0) return Invalid("set max open super blocks: 0 would forbid every write");
  return absl::OkStatus();
}
absl::Status Validate(const SetDefaultReadFifoRequest& r) {
  return internal::CheckDomain(r.domain, "set default read FIFO");
}

absl::Status Validate(const CapacityConfig& config) {
  if (config.id == 0) {
    return Invalid("capacity configuration: id 0 is the empty configuration, not a descriptor");
  }
  if (config.vds.empty())
    return Invalid("capacity configuration %u: no virtual devices", config.id);
  std::set<uint16_t> vds, dies;
  for (const VdDies& vd : config.vds) {
    SEF_RETURN_IF_ERROR(internal::CheckVd(vd.vd, "capacity configuration"));
    if (!vds.insert(vd.vd.value()).second) {
      return Invalid("capacity configuration: virtual device %u appears twice", vd.vd.value());
    }
    if (vd.dies.empty() || vd.dies.size() > 0xFFFF) {
      return Invalid("capacity configuration: virtual device %u has %u dies", vd.vd.value(),
                     vd.dies.size());
    }
    for (DieId die : vd.dies) {
      if (!dies.insert(die.value()).second) {
        return Invalid("capacity configuration: die %u is given to two virtual devices",
                       die.value());
      }
    }
  }
  if (dies.size() > 0xFFFF) return Invalid("capacity configuration: %u dies", dies.size());
  return absl::OkStatus();
}

absl::Status Validate(const SetCapacityConfigRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r.config));
  if (r.payload.data == nullptr || r.payload.size < r.config.payload_bytes()) {
    return Invalid("capacity configuration: payload buffer of %u bytes, the descriptor needs %u",
                   r.payload.size, r.config.payload_bytes());
  }
  return absl::OkStatus();
}
absl::Status Validate(const GetCapacityConfigRequest& r) {
  return internal::CheckDataIn(r.buffer, "get capacity configuration",
                               sizeof(wire::CapacityConfigHeader));
}
absl::Status Validate(const SelectCapacityConfigRequest&) { return absl::OkStatus(); }

absl::Status Validate(const QosDomainSpec& s) {
  SEF_RETURN_IF_ERROR(internal::CheckVd(s.vd, "create QoS domain"));
  if (s.capacity.value() == 0 && s.pslc_capacity.value() == 0) {
    return Invalid("create QoS domain: both capacity and pSLC capacity are 0 plane pages");
  }
  // A quota below its capacity and max open SBs below the placement ids (0 included) are
  // valid: the device raises them (SEF API, SEFCreateQoSDomain), and sef-cli's defaults send
  // exactly that (quota 1 ADU = 0 plane pages, max open SBs 0).
  if (s.num_placement_ids == 0) return Invalid("create QoS domain: 0 placement ids");
  if (static_cast<uint8_t>(s.deadline) > 3) {
    return Invalid("create QoS domain: read deadline code %d is not 0..3",
                   static_cast<int>(s.deadline));
  }
  if (static_cast<uint8_t>(s.defect) > 2) {
    return Invalid("create QoS domain: defect strategy code %d is not 0..2",
                   static_cast<int>(s.defect));
  }
  return absl::OkStatus();
}

absl::Status Validate(const CreateQosDomainRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r.spec));
  return internal::CheckExactly(r.payload, "create QoS domain", sizeof(wire::IdentifySefNamespace));
}
absl::Status Validate(const DeleteQosDomainRequest& r) {
  return internal::CheckDomain(r.domain, "delete QoS domain");
}
absl::Status Validate(const AttachQosDomainRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "attach QoS domain"));
  if (r.action != AttachAction::kAttach && r.action != AttachAction::kDetach) {
    return Invalid("attach QoS domain: action %d is neither attach nor detach",
                   static_cast<int>(r.action));
  }
  return internal::CheckExactly(r.payload, "attach QoS domain", sizeof(wire::IdList16));
}

template <typename Request>
absl::StatusOr<AdminRequest> Checked(Request r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return AdminRequest(std::move(r));
}

// ---- payload serialisation ------------------------------------------------------------------

void WriteCapacityConfig(const CapacityConfig& config, uint8_t* out) {
  std::memset(out, 0, config.payload_bytes());
  wire::CapacityConfigHeader header{};
  header.cci = config.id;
  header.egcn = static_cast<uint16_t>(config.vds.size());
  std::memcpy(out, &header, sizeof(header));
  uint8_t* p = out + sizeof(header);
  for (const VdDies& vd : config.vds) {
    wire::EnduranceGroupConfig eg{};
    eg.endgid = vd.vd.value();
    eg.egchans = 1;
    eg.ch_id = wire::kAnyChannel;
    eg.chmus = static_cast<uint16_t>(vd.dies.size());
    std::memcpy(p, &eg, sizeof(eg));
    p += sizeof(eg);
    for (DieId die : vd.dies) {
      wire::MediaUnitConfig mu{};
      mu.mu_id = die.value();
      std::memcpy(p, &mu, sizeof(mu));
      p += sizeof(mu);
    }
  }
}

absl::StatusOr<CapacityConfig> ReadCapacityConfig(const uint8_t* in, uint32_t size) {
  wire::CapacityConfigHeader header;
  if (in == nullptr || size < sizeof(header)) {
    return Invalid("capacity configuration: %u bytes is shorter than its header", size);
  }
  std::memcpy(&header, in, sizeof(header));
  CapacityConfig config;
  config.id = header.cci;
  uint32_t at = sizeof(header);
  for (uint16_t i = 0; i < header.egcn; ++i) {
    wire::EnduranceGroupConfig eg;
    if (size - at < sizeof(eg)) {
      return Invalid("capacity configuration: descriptor %u of %u runs past %u bytes", i,
                     header.egcn, size);
    }
    std::memcpy(&eg, in + at, sizeof(eg));
    at += sizeof(eg);
    if (eg.egchans != 1) {
      return Invalid(
          "capacity configuration: virtual device %u has %u channel descriptors; "
          "one (channel 0xFFFF) is supported",
          eg.endgid, eg.egchans);
    }
    VdDies vd{VirtualDeviceId(eg.endgid), {}};
    if ((size - at) / sizeof(wire::MediaUnitConfig) < eg.chmus) {
      return Invalid("capacity configuration: virtual device %u's %u dies run past %u bytes",
                     eg.endgid, eg.chmus, size);
    }
    for (uint16_t m = 0; m < eg.chmus; ++m) {
      wire::MediaUnitConfig mu;
      std::memcpy(&mu, in + at, sizeof(mu));
      at += sizeof(mu);
      vd.dies.push_back(DieId(mu.mu_id));
    }
    config.vds.push_back(std::move(vd));
  }
  return config;
}

void WriteNamespaceCreate(const QosDomainSpec& s, uint8_t* out) {
  wire::IdentifySefNamespace ns{};
  ns.nlbaf = 0;  // one LBA format: the 4096 + 16 byte ADU
  ns.flbas = 0;
  ns.lbaf[0] = {.ms = wire::kAduMetaBytes, .lbads = 12, .rp = 0};
  ns.endgid = s.vd.value();
  // Decision: create carries one-based plane-page counts (as the SDK sends them), while
  // SetF 0xD1 SEL1 carries zero-based ones; both follow the SDK's wire behaviour.
  ns.sbsta.gcap = s.capacity.value();
  ns.sbsta.quota = s.quota.value();
  ns.psbsta.gcap = s.pslc_capacity.value();
  ns.psbsta.quota = s.pslc_quota.value();
  ns.nplid = static_cast<uint16_t>(s.num_placement_ids - 1);
  ns.mxosb = s.max_open_super_blocks;
  ns.wwt = s.program_weight;
  ns.ewt = s.erase_weight;
  ns.drfid = s.default_read_fifo.value();
  ns.qosds = static_cast<uint32_t>(s.deadline) | (static_cast<uint32_t>(s.defect) << 2);
  std::memcpy(out, &ns, sizeof(ns));
}

// The create payload's LBA format. The SDK leaves FLBAS and LBA format 0 zero; we write the
// unit's one format, {ms 16, lbads 12}. Both mean the 4096 + 16 byte ADU; any other format
// (or FLBAS naming another format, or metadata at the end of the data) asks for what no SEF
// unit offers.
absl::Status CheckNamespaceCreateFormat(const uint8_t* in) {
  wire::IdentifySefNamespace ns;
  std::memcpy(&ns, in, sizeof(ns));
  if (ns.flbas != 0) {
    return Invalid(
        "create QoS domain: FLBAS 0x%x; the unit has one LBA format (0), with metadata in a "
        "separate buffer",
        ns.flbas);
  }
  const wire::LbaFormat& f = ns.lbaf[0];
  const bool unset = f.ms == 0 && f.lbads == 0;
  const bool adu = f.ms == wire::kAduMetaBytes && f.lbads == 12;
  if (!unset && !adu) {
    return Invalid(
        "create QoS domain: LBA format 0 {ms %u, lbads %u}; only the ADU's {ms 16, lbads 12} "
        "(or zeros) is offered",
        f.ms, f.lbads);
  }
  return absl::OkStatus();
}

QosDomainSpec ReadNamespaceCreate(const uint8_t* in) {
  wire::IdentifySefNamespace ns;
  std::memcpy(&ns, in, sizeof(ns));
  QosDomainSpec s;
  s.vd = VirtualDeviceId(ns.endgid);
  s.capacity = PlanePageCount(ns.sbsta.gcap);
  s.quota = PlanePageCount(ns.sbsta.quota);
  s.pslc_capacity = PlanePageCount(ns.psbsta.gcap);
  s.pslc_quota = PlanePageCount(ns.psbsta.quota);
  s.num_placement_ids = static_cast<uint16_t>(ns.nplid + 1);
  s.max_open_super_blocks = ns.mxosb;
  s.program_weight = ns.wwt;
  s.erase_weight = ns.ewt;
  s.default_read_fifo = ReadFifoId(ns.drfid);
  s.deadline = static_cast<ReadDeadline>(ns.qosds & 0x3);
  s.defect = static_cast<DefectStrategy>((ns.qosds >> 2) & 0x3);
  return s;
}

}  // namespace

// ---- encoders -------------------------------------------------------------------------------

absl::StatusOr<Command> Encode(const SetDiesPerSuperBlockRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  // CDW11[15:8] = dies - 1: 8 bits, "truncated per v1.11 CS" in the SDK.
  return SetFeature(FeatureId::kVirtualDeviceManagement, r.vd.value(),
                    VdSel(VdSelect::kDiesPerSuperBlock) | Put(r.dies - 1, 15, 8));
}

absl::StatusOr<Command> Encode(const SetReadFifoRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kVirtualDeviceManagement, r.vd.value(),
                    static_cast<uint32_t>(r.action) | Put(r.weight, 31, 16),
                    Put(r.vd_default, 31, 31) | Put(r.fifo.value(), 30, 0));
}

absl::StatusOr<Command> Encode(const DetachReadFifoRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kVirtualDeviceManagement, r.vd.value(),
                    VdSel(VdSelect::kDetachReadFifo), r.fifo.value());
}

absl::StatusOr<Command> Encode(const SetPslcSuperBlocksRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kVirtualDeviceManagement, r.vd.value(),
                    VdSel(VdSelect::kPslcSuperBlocks), r.count);
}

absl::StatusOr<Command> Encode(const SetVdAenControlRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kVirtualDeviceManagement, r.vd.value(),
                    VdSel(VdSelect::kAenControl) | Put(r.critical_warning_mask, 23, 16));
}

absl::StatusOr<Command> Encode(const SetSuspendConfigRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kVirtualDeviceManagement, r.vd.value(),
                    VdSel(VdSelect::kSuspendConfig), r.min_time_until_suspend);
}

absl::StatusOr<Command> Encode(const ResetSchedulerRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kVirtualDeviceManagement, r.vd.value(),
                    VdSel(VdSelect::kResetScheduler));
}

absl::StatusOr<Command> Encode(const GetReadFifoListRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  // CDW11[31:16] = dwords - 1, as the SDK and nvme-cli's plugin send it.
  Command c = GetFeature(FeatureId::kVirtualDeviceManagement, r.vd.value(),
                         VdSel(VdSelect::kAttachReadFifo) | Put(r.buffer.size / 4 - 1, 31, 16));
  internal::SetData(c, r.buffer.data, r.buffer.size);
  return c;
}

absl::StatusOr<Command> Encode(const SetRootPointerRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kQosDomainManagement, r.domain.value(),
                    QosdSel(QosdSelect::kRootPointer) | Put(r.index, 7, 4),
                    internal::Lo32(r.value.raw()), internal::Hi32(r.value.raw()));
}

absl::StatusOr<Command> Encode(const GetRootPointerRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  // CDW11[31:16] is NUMD in the SDK's table; the value travels in the completion result,
  // so no data is transferred and NUMD is 0.
  return GetFeature(FeatureId::kQosDomainManagement, r.domain.value(),
                    QosdSel(QosdSelect::kRootPointer) | Put(r.index, 7, 4));
}

absl::StatusOr<Command> Encode(const SetQosDomainCapacityRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  const uint64_t gcap = r.capacity.value() - 1;  // zero-based, as the SDK sends it
  const uint64_t quota = r.quota.value() - 1;
  return SetFeature(FeatureId::kQosDomainManagement, r.domain.value(),
                    QosdSel(QosdSelect::kCapacity) | Put(r.pslc, 16, 16), internal::Lo32(gcap),
                    internal::Hi32(gcap), internal::Lo32(quota), internal::Hi32(quota));
}

absl::StatusOr<Command> Encode(const SetWeightsRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kQosDomainManagement, r.domain.value(),
                    QosdSel(QosdSelect::kWeights),
                    Put(r.program_weight, 15, 0) | Put(r.erase_weight, 31, 16));
}

absl::StatusOr<Command> Encode(const SetReadDeadlineRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(
      FeatureId::kQosDomainManagement, r.domain.value(),
      QosdSel(QosdSelect::kReadDeadline) | Put(static_cast<uint8_t>(r.deadline), 15, 8));
}

absl::StatusOr<Command> Encode(const SetMaxOpenSuperBlocksRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  // The SDK writes "CDW11[...:8]"; the namespace field it lands in (mxosb) is 16 bits, so
  // CDW11[23:8] carries it and CDW11[31:24] stays zero.
  return SetFeature(FeatureId::kQosDomainManagement, r.domain.value(),
                    QosdSel(QosdSelect::kMaxOpenSuperBlocks) | Put(r.max_open, 23, 8));
}

absl::StatusOr<Command> Encode(const SetDefaultReadFifoRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return SetFeature(FeatureId::kQosDomainManagement, r.domain.value(),
                    QosdSel(QosdSelect::kDefaultReadFifo), r.fifo.value());
}

absl::StatusOr<Command> Encode(const SetCapacityConfigRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  WriteCapacityConfig(r.config, r.payload.data);
  Command c = SetFeature(FeatureId::kCapacityConfiguration, 0,
                         Put(r.config.total_dies(), 15, 0) | Put(r.config.vds.size(), 31, 16));
  internal::SetData(c, r.payload.data, r.config.payload_bytes());
  return c;
}

absl::StatusOr<Command> Encode(const GetCapacityConfigRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  Command c = GetFeature(FeatureId::kCapacityConfiguration, 0, 0);
  internal::SetData(c, r.buffer.data, r.buffer.size);
  return c;
}

absl::StatusOr<Command> Encode(const SelectCapacityConfigRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  Command c = internal::NewCommand(QueueType::kAdmin,
                                   static_cast<uint8_t>(AdminOpcode::kCapacityManagement), 0);
  c.sqe.cdw10 = Put(0, 3, 0) | Put(r.config_id, 31, 16);  // operation 0: select
  return c;
}

absl::StatusOr<Command> Encode(const CreateQosDomainRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  WriteNamespaceCreate(r.spec, r.payload.data);
  Command c = internal::NewCommand(QueueType::kAdmin,
                                   static_cast<uint8_t>(AdminOpcode::kNamespaceManagement), 0);
  c.sqe.cdw10 = 0;  // SEL 0: create
  c.sqe.cdw11 = uint32_t{wire::kCsiSef} << 24;
  internal::SetData(c, r.payload.data, r.payload.size);
  return c;
}

absl::StatusOr<Command> Encode(const DeleteQosDomainRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  Command c = internal::NewCommand(
      QueueType::kAdmin, static_cast<uint8_t>(AdminOpcode::kNamespaceManagement), r.domain.value());
  c.sqe.cdw10 = 1;  // SEL 1: delete
  return c;
}

absl::StatusOr<Command> Encode(const AttachQosDomainRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  wire::IdList16 list{};
  list.count = 1;
  list.ids[0] = r.controller;
  std::memcpy(r.payload.data, &list, sizeof(list));
  Command c = internal::NewCommand(
      QueueType::kAdmin, static_cast<uint8_t>(AdminOpcode::kNamespaceAttachment), r.domain.value());
  c.sqe.cdw10 = static_cast<uint32_t>(r.action);
  internal::SetData(c, r.payload.data, r.payload.size);
  return c;
}

// ---- decoders -------------------------------------------------------------------------------

namespace internal {
namespace {

absl::Status CheckNsid16(const Command& c, std::string_view what) {
  if (c.sqe.nsid > 0xFFFF) return Invalid("%s: NSID %u is above 16 bits", what, c.sqe.nsid);
  return absl::OkStatus();
}

absl::StatusOr<AdminRequest> DecodeVdFeature(const Command& c, bool set) {
  SEF_RETURN_IF_ERROR(CheckNsid16(c, "virtual device management"));
  const VirtualDeviceId vd(static_cast<uint16_t>(c.sqe.nsid));
  const uint32_t cdw11 = c.sqe.cdw11, cdw12 = c.sqe.cdw12;
  const auto sel = static_cast<VdSelect>(Get(cdw11, 3, 0));
  if (!set) {
    if (sel != VdSelect::kAttachReadFifo) {
      return Unimplemented("Get Features 0xD0 SEL %d is not defined", static_cast<int>(sel));
    }
    // The dword count must describe the buffer; 0 (the form this codec once sent, and no
    // valid count: an entry is two dwords) leaves the length to the buffer.
    const uint32_t numd = Get(cdw11, 31, 16);
    if (numd != 0 && (uint64_t{numd} + 1) * 4 != c.sqe.data_len) {
      return Invalid(
          "get read FIFO list: %u dwords in CDW11[31:16] do not match the %u-byte buffer", numd + 1,
          c.sqe.data_len);
    }
    return Checked(GetReadFifoListRequest{vd, DataOf(c)});
  }
  switch (sel) {
    case VdSelect::kDiesPerSuperBlock:
      return Checked(SetDiesPerSuperBlockRequest{vd, static_cast<uint16_t>(Get(cdw11, 15, 8) + 1)});
    case VdSelect::kAttachReadFifo:
    case VdSelect::kChangeReadFifo:
      return Checked(
          SetReadFifoRequest{vd, static_cast<ReadFifoAction>(sel), ReadFifoId(Get(cdw12, 30, 0)),
                             static_cast<uint16_t>(Get(cdw11, 31, 16)), Get(cdw12, 31, 31) != 0});
    case VdSelect::kDetachReadFifo:
      return Checked(DetachReadFifoRequest{vd, ReadFifoId(cdw12)});
    case VdSelect::kPslcSuperBlocks:
      return Checked(SetPslcSuperBlocksRequest{vd, cdw12});
    case VdSelect::kAenControl:
      return Checked(SetVdAenControlRequest{vd, static_cast<uint8_t>(Get(cdw11, 23, 16))});
    case VdSelect::kSuspendConfig:
      return Checked(SetSuspendConfigRequest{vd, cdw12});
    case VdSelect::kResetScheduler:
      return Checked(ResetSchedulerRequest{vd});
  }
  return Unimplemented("Set Features 0xD0 SEL %d is not defined", static_cast<int>(sel));
}

absl::StatusOr<AdminRequest> DecodeQosdFeature(const Command& c, bool set) {
  SEF_RETURN_IF_ERROR(CheckNsid16(c, "QoS domain management"));
  const QosDomainId domain(static_cast<uint16_t>(c.sqe.nsid));
  const uint32_t cdw11 = c.sqe.cdw11;
  const auto sel = static_cast<QosdSelect>(Get(cdw11, 3, 0));
  const auto index = static_cast<uint8_t>(Get(cdw11, 7, 4));
  if (!set) {
    if (sel != QosdSelect::kRootPointer) {
      return Unimplemented("Get Features 0xD1 SEL %d is not defined", static_cast<int>(sel));
    }
    return Checked(GetRootPointerRequest{domain, index});
  }
  switch (sel) {
    case QosdSelect::kRootPointer:
      return Checked(SetRootPointerRequest{
          domain, index, FlashAddress::FromRaw(Join64(c.sqe.cdw12, c.sqe.cdw13))});
    case QosdSelect::kCapacity:
      return Checked(SetQosDomainCapacityRequest{
          domain, Get(cdw11, 16, 16) != 0, PlanePageCount(Join64(c.sqe.cdw12, c.sqe.cdw13) + 1),
          PlanePageCount(Join64(c.sqe.cdw14, c.sqe.cdw15) + 1)});
    case QosdSelect::kWeights:
      return Checked(SetWeightsRequest{domain, static_cast<uint16_t>(Get(c.sqe.cdw12, 15, 0)),
                                       static_cast<uint16_t>(Get(c.sqe.cdw12, 31, 16))});
    case QosdSelect::kReadDeadline:
      return Checked(SetReadDeadlineRequest{domain, static_cast<ReadDeadline>(Get(cdw11, 15, 8))});
    case QosdSelect::kMaxOpenSuperBlocks:
      return Checked(
          SetMaxOpenSuperBlocksRequest{domain, static_cast<uint16_t>(Get(cdw11, 23, 8))});
    case QosdSelect::kDefaultReadFifo:
      return Checked(SetDefaultReadFifoRequest{domain, ReadFifoId(c.sqe.cdw12)});
  }
  return Unimplemented("Set Features 0xD1 SEL %d is not defined", static_cast<int>(sel));
}

absl::StatusOr<AdminRequest> DecodeFeature(const Command& c, bool set) {
  const auto fid = static_cast<FeatureId>(Get(c.sqe.cdw10, 7, 0));
  switch (fid) {
    case FeatureId::kVirtualDeviceManagement:
      return DecodeVdFeature(c, set);
    case FeatureId::kQosDomainManagement:
      return DecodeQosdFeature(c, set);
    case FeatureId::kCapacityConfiguration: {
      if (!set) return Checked(GetCapacityConfigRequest{DataOf(c)});
      SEF_ASSIGN_OR_RETURN(CapacityConfig config,
                           ReadCapacityConfig(DataOf(c).data, c.sqe.data_len));
      if (Get(c.sqe.cdw11, 15, 0) != config.total_dies() ||
          Get(c.sqe.cdw11, 31, 16) != config.vds.size()) {
        return Invalid(
            "capacity configuration: CDW11 says %u dies in %u groups, the "
            "descriptor holds %u in %u",
            Get(c.sqe.cdw11, 15, 0), Get(c.sqe.cdw11, 31, 16), config.total_dies(),
            config.vds.size());
      }
      return Checked(SetCapacityConfigRequest{std::move(config), DataOf(c)});
    }
  }
  return Unimplemented("%s Features FID 0x%02x is not part of the SEF command set",
                       set ? "Set" : "Get", static_cast<int>(fid));
}

}  // namespace

absl::StatusOr<AdminRequest> DecodeSetFeatures(const Command& c) { return DecodeFeature(c, true); }
absl::StatusOr<AdminRequest> DecodeGetFeatures(const Command& c) { return DecodeFeature(c, false); }

absl::StatusOr<AdminRequest> DecodeNamespaceManagement(const Command& c) {
  switch (Get(c.sqe.cdw10, 3, 0)) {
    case 0: {
      if (Get(c.sqe.cdw11, 31, 24) != wire::kCsiSef) {
        return Unimplemented("NS Management create for CSI 0x%02x: only CSI 0x30 is supported",
                             Get(c.sqe.cdw11, 31, 24));
      }
      const MutableBytes payload = DataOf(c);
      SEF_RETURN_IF_ERROR(
          CheckExactly(payload, "create QoS domain", sizeof(wire::IdentifySefNamespace)));
      SEF_RETURN_IF_ERROR(CheckNamespaceCreateFormat(payload.data));
      return Checked(CreateQosDomainRequest{ReadNamespaceCreate(payload.data), payload});
    }
    case 1:
      SEF_RETURN_IF_ERROR(CheckNsid16(c, "delete QoS domain"));
      return Checked(DeleteQosDomainRequest{QosDomainId(static_cast<uint16_t>(c.sqe.nsid))});
    default:
      return Invalid("NS Management SEL %u is neither create (0) nor delete (1)",
                     Get(c.sqe.cdw10, 3, 0));
  }
}

absl::StatusOr<AdminRequest> DecodeNamespaceAttachment(const Command& c) {
  SEF_RETURN_IF_ERROR(CheckNsid16(c, "attach QoS domain"));
  const uint32_t sel = Get(c.sqe.cdw10, 3, 0);
  if (sel > 1) return Invalid("NS Attachment SEL %u is neither attach (0) nor detach (1)", sel);
  const MutableBytes payload = DataOf(c);
  SEF_RETURN_IF_ERROR(CheckExactly(payload, "attach QoS domain", sizeof(wire::IdList16)));
  wire::IdList16 list;
  std::memcpy(&list, payload.data, sizeof(list));
  if (list.count != 1) {
    return Invalid("attach QoS domain: controller list of %u entries; exactly one is supported",
                   list.count);
  }
  return Checked(AttachQosDomainRequest{QosDomainId(static_cast<uint16_t>(c.sqe.nsid)),
                                        static_cast<AttachAction>(sel), list.ids[0], payload});
}

absl::StatusOr<AdminRequest> DecodeCapacityManagement(const Command& c) {
  const uint32_t operation = Get(c.sqe.cdw10, 3, 0);
  if (operation != 0) {
    return Invalid(
        "Capacity Management operation %u: only 0 (select configuration) is "
        "part of the SEF command set",
        operation);
  }
  return Checked(SelectCapacityConfigRequest{static_cast<uint16_t>(Get(c.sqe.cdw10, 31, 16))});
}

}  // namespace internal

std::vector<uint8_t> SerializeCapacityConfig(const CapacityConfig& config) {
  std::vector<uint8_t> out(config.payload_bytes());
  WriteCapacityConfig(config, out.data());
  return out;
}

uint32_t CapacityConfig::total_dies() const {
  uint32_t n = 0;
  for (const VdDies& vd : vds) n += static_cast<uint32_t>(vd.dies.size());
  return n;
}

uint32_t CapacityConfig::payload_bytes() const {
  return sizeof(wire::CapacityConfigHeader) +
         static_cast<uint32_t>(vds.size()) * sizeof(wire::EnduranceGroupConfig) +
         total_dies() * sizeof(wire::MediaUnitConfig);
}

void CapacityConfig::Sort() {
  for (VdDies& vd : vds) std::sort(vd.dies.begin(), vd.dies.end());
  std::sort(vds.begin(), vds.end(), [](const VdDies& a, const VdDies& b) { return a.vd < b.vd; });
}

}  // namespace sef::cmd
