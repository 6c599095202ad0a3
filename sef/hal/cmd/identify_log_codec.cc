// Identify (0x06) and Get Log Page (0x02): encoders and decoders.
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
using wire::IdentifyCns;
using wire::LogId;

constexpr uint32_t kIdentifyBytes = 4096;
constexpr uint32_t kCsiField = uint32_t{wire::kCsiSef} << 24;  // CDW11[31:24]

// ---- Identify -------------------------------------------------------------------------------

Command IdentifyCommand(IdentifyCns cns, uint32_t nsid, uint32_t cdw10_high, uint32_t cdw11,
                        const MutableBytes& buffer) {
  Command c =
      internal::NewCommand(QueueType::kAdmin, static_cast<uint8_t>(AdminOpcode::kIdentify), nsid);
  c.sqe.cdw10 = Put(static_cast<uint8_t>(cns), 7, 0) | Put(cdw10_high, 31, 16);
  c.sqe.cdw11 = cdw11;
  internal::SetData(c, buffer.data, buffer.size);
  return c;
}

absl::Status Validate(const IdentifyControllerRequest& r) {
  return internal::CheckExactly(r.buffer, "Identify controller", kIdentifyBytes);
}
absl::Status Validate(const IdentifySefControllerRequest& r) {
  return internal::CheckExactly(r.buffer, "Identify SEF controller", kIdentifyBytes);
}
absl::Status Validate(const IdentifySefNamespaceRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "Identify SEF namespace"));
  return internal::CheckExactly(r.buffer, "Identify SEF namespace", kIdentifyBytes);
}
absl::Status Validate(const IdentifyVirtualDeviceListRequest& r) {
  return internal::CheckExactly(r.buffer, "Identify endurance group list", kIdentifyBytes);
}
absl::Status Validate(const IdentifyCommandSetVectorRequest& r) {
  return internal::CheckExactly(r.buffer, "Identify I/O command set vector", kIdentifyBytes);
}

// ---- Get Log Page ---------------------------------------------------------------------------

struct LogFields {
  LogId lid;
  uint32_t nsid = 0;
  uint8_t lsp = 0;  // 7 bits
  bool rae = false;
  uint16_t lsi = 0;
  uint32_t cdw12 = 0;  // LPOL, or the ACO id for LID 0xD5
  uint32_t cdw13 = 0;  // LPOU, or the SB id for LID 0xD4
};

// NUMD (0-based dwords) spans NUMDL = CDW10[31:16] and NUMDU = CDW11[15:0]. The SDK writes
// CDW11 = LSI << 16 and so clobbers NUMDU; both halves are encoded here as NVMe defines them.
Command LogCommand(const LogFields& f, const MutableBytes& buffer) {
  Command c = internal::NewCommand(QueueType::kAdmin,
                                   static_cast<uint8_t>(AdminOpcode::kGetLogPage), f.nsid);
  const uint32_t numd = buffer.size / 4 - 1;
  c.sqe.cdw10 = Put(static_cast<uint8_t>(f.lid), 7, 0) | Put(f.lsp, 14, 8) | Put(f.rae, 15, 15) |
                Put(numd & 0xFFFF, 31, 16);
  c.sqe.cdw11 = Put(numd >> 16, 15, 0) | Put(f.lsi, 31, 16);
  c.sqe.cdw12 = f.cdw12;
  c.sqe.cdw13 = f.cdw13;
  internal::SetData(c, buffer.data, buffer.size);
  return c;
}

LogFields LogFieldsOf(const Command& c) {
  LogFields f;
  f.lid = static_cast<LogId>(Get(c.sqe.cdw10, 7, 0));
  f.nsid = c.sqe.nsid;
  f.lsp = static_cast<uint8_t>(Get(c.sqe.cdw10, 14, 8));
  f.rae = Get(c.sqe.cdw10, 15, 15);
  f.lsi = static_cast<uint16_t>(Get(c.sqe.cdw11, 31, 16));
  f.cdw12 = c.sqe.cdw12;
  f.cdw13 = c.sqe.cdw13;
  return f;
}

// The decoder's cross-check: NUMD must describe the buffer actually attached.
absl::Status CheckNumd(const Command& c) {
  const uint64_t numd = Get(c.sqe.cdw10, 31, 16) | (uint64_t{Get(c.sqe.cdw11, 15, 0)} << 16);
  if ((numd + 1) * 4 != c.sqe.data_len) {
    return Invalid("Get Log Page: NUMD %u dwords does not match the %u-byte buffer", numd + 1,
                   c.sqe.data_len);
  }
  return absl::OkStatus();
}

absl::Status CheckNsidZero(const LogFields& f, std::string_view what) {
  if (f.nsid != 0) return Invalid("%s: NSID must be 0, not %u", what, f.nsid);
  return absl::OkStatus();
}

absl::Status Validate(const VdInfoLogRequest& r) {
  if (r.vd != kPendingEventVirtualDevice) {
    SEF_RETURN_IF_ERROR(internal::CheckVd(r.vd, "VD information log"));
  }
  // Any whole number of dwords: NVMe allows a partial log read, and the device returns what
  // fits. The SDK reads the 196-byte header alone (no die list) to learn the die count.
  return internal::CheckDataIn(r.buffer, "VD information log");
}
absl::Status Validate(const QosDomainListLogRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckVd(r.vd, "QoS domain list log"));
  return internal::CheckDataIn(r.buffer, "QoS domain list log");
}
absl::Status Validate(const SuperBlockListLogRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "super block list log"));
  if (static_cast<uint8_t>(r.order) > static_cast<uint8_t>(SbListOrder::kClosedBySbId)) {
    return Invalid("super block list log: list order %d is not 0..4", static_cast<int>(r.order));
  }
  if (r.offset % 4 != 0) {
    return Invalid("super block list log: offset %u is not dword aligned", r.offset);
  }
  return internal::CheckDataIn(r.buffer, "super block list log", sizeof(wire::SbListEntry));
}
// The SB id of the two SB logs is checked by the device: the log names a VD or domain whose
// address format the encoder is not given.
absl::Status Validate(const SuperBlockInfoLogRequest& r) {
  if (r.vd != kPendingEventVirtualDevice) {
    SEF_RETURN_IF_ERROR(internal::CheckVd(r.vd, "super block information log"));
  }
  return internal::CheckDataIn(r.buffer, "super block information log", sizeof(wire::SbInfoLog));
}
absl::Status Validate(const UserAddressListLogRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "user address list log"));
  if (r.offset % 4 != 0) {
    return Invalid("user address list log: offset %u is not dword aligned", r.offset);
  }
  return internal::CheckDataIn(r.buffer, "user address list log", 8);
}
absl::Status Validate(const AddressChangeOrderLogRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, "address change order log"));
  if (r.aco_id == 0) return Invalid("address change order log: ACO id 0 names no change order");
  return internal::CheckDataIn(r.buffer, "address change order log",
                               sizeof(wire::AcoLogHeader) + sizeof(wire::AddressChange));
}
absl::Status Validate(const ReadFifoLogRequest& r) {
  SEF_RETURN_IF_ERROR(internal::CheckVd(r.vd, "read FIFO log"));
  return internal::CheckDataIn(r.buffer, "read FIFO log", sizeof(wire::ReadFifoEntry));
}

template <typename Request>
absl::StatusOr<AdminRequest> Checked(Request r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return AdminRequest(std::move(r));
}

}  // namespace

absl::StatusOr<Command> Encode(const IdentifyControllerRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return IdentifyCommand(IdentifyCns::kController, 0, 0, 0, r.buffer);
}

absl::StatusOr<Command> Encode(const IdentifySefControllerRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return IdentifyCommand(IdentifyCns::kSefController, 0, 0, kCsiField, r.buffer);
}

absl::StatusOr<Command> Encode(const IdentifySefNamespaceRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return IdentifyCommand(IdentifyCns::kSefNamespace, r.domain.value(), 0, kCsiField, r.buffer);
}

absl::StatusOr<Command> Encode(const IdentifyVirtualDeviceListRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return IdentifyCommand(IdentifyCns::kEnduranceGroupList, 0, 0, Put(r.first.value(), 15, 0),
                         r.buffer);
}

absl::StatusOr<Command> Encode(const IdentifyCommandSetVectorRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return IdentifyCommand(IdentifyCns::kCommandSetVector, 0, wire::kCntidAll, 0, r.buffer);
}

absl::StatusOr<Command> Encode(const VdInfoLogRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return LogCommand({.lid = LogId::kVirtualDeviceInfo, .rae = r.retain_event, .lsi = r.vd.value()},
                    r.buffer);
}

absl::StatusOr<Command> Encode(const QosDomainListLogRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return LogCommand({.lid = LogId::kQosDomainList, .lsi = r.vd.value()}, r.buffer);
}

absl::StatusOr<Command> Encode(const SuperBlockListLogRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return LogCommand({.lid = LogId::kSuperBlockList,
                     .nsid = r.domain.value(),
                     .lsp = static_cast<uint8_t>(static_cast<uint8_t>(r.order) << 4),
                     .cdw12 = internal::Lo32(r.offset),
                     .cdw13 = internal::Hi32(r.offset)},
                    r.buffer);
}

absl::StatusOr<Command> Encode(const SuperBlockInfoLogRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return LogCommand({.lid = LogId::kSuperBlockInfo,
                     .rae = r.retain_event,
                     .lsi = r.vd.value(),
                     .cdw12 = r.sb.value()},
                    r.buffer);
}

absl::StatusOr<Command> Encode(const UserAddressListLogRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return LogCommand({.lid = LogId::kUserAddressList,
                     .nsid = r.domain.value(),
                     .cdw12 = r.offset,
                     .cdw13 = r.sb.value()},
                    r.buffer);
}

absl::StatusOr<Command> Encode(const AddressChangeOrderLogRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return LogCommand(
      {.lid = LogId::kAddressChangeOrder, .nsid = r.domain.value(), .cdw12 = r.aco_id}, r.buffer);
}

absl::StatusOr<Command> Encode(const ReadFifoLogRequest& r) {
  SEF_RETURN_IF_ERROR(Validate(r));
  return LogCommand({.lid = LogId::kReadFifoList, .lsi = r.vd.value()}, r.buffer);
}

namespace internal {

absl::StatusOr<AdminRequest> DecodeIdentify(const Command& c) {
  const auto cns = static_cast<IdentifyCns>(Get(c.sqe.cdw10, 7, 0));
  const uint32_t csi = Get(c.sqe.cdw11, 31, 24);
  const MutableBytes buffer = DataOf(c);
  const auto require_csi = [&](const char* what) -> absl::Status {
    if (csi != wire::kCsiSef) {
      return Unimplemented("Identify %s for CSI 0x%02x is not part of the SEF command set", what,
                           csi);
    }
    return absl::OkStatus();
  };
  switch (cns) {
    case IdentifyCns::kController:
      return Checked(IdentifyControllerRequest{buffer});
    case IdentifyCns::kSefController:
      SEF_RETURN_IF_ERROR(require_csi("CNS 06h"));
      return Checked(IdentifySefControllerRequest{buffer});
    case IdentifyCns::kSefNamespace:
      SEF_RETURN_IF_ERROR(require_csi("CNS 05h"));
      return Checked(
          IdentifySefNamespaceRequest{QosDomainId(static_cast<uint16_t>(c.sqe.nsid)), buffer});
    case IdentifyCns::kEnduranceGroupList:
      return Checked(IdentifyVirtualDeviceListRequest{
          VirtualDeviceId(static_cast<uint16_t>(Get(c.sqe.cdw11, 15, 0))), buffer});
    case IdentifyCns::kCommandSetVector:
      return Checked(IdentifyCommandSetVectorRequest{buffer});
  }
  return Unimplemented("Identify CNS 0x%02x is not decoded by the SEF command set",
                       static_cast<int>(cns));
}

absl::StatusOr<AdminRequest> DecodeGetLogPage(const Command& c) {
  const LogFields f = LogFieldsOf(c);
  if (static_cast<uint8_t>(f.lid) < static_cast<uint8_t>(LogId::kVirtualDeviceInfo) ||
      static_cast<uint8_t>(f.lid) > static_cast<uint8_t>(LogId::kReadFifoList)) {
    return Unimplemented("Get Log Page LID 0x%02x is not part of the SEF command set",
                         static_cast<int>(f.lid));
  }
  SEF_RETURN_IF_ERROR(CheckNumd(c));
  const MutableBytes buffer = DataOf(c);
  const VirtualDeviceId lsi_vd(f.lsi);
  if (f.nsid > 0xFFFF && f.nsid != 0xFFFFFFFF) {
    return Invalid("Get Log Page 0x%02x: NSID %u is above the 16-bit QoS domain range",
                   static_cast<int>(f.lid), f.nsid);
  }
  const QosDomainId domain(static_cast<uint16_t>(f.nsid));
  switch (f.lid) {
    case LogId::kVirtualDeviceInfo:
      SEF_RETURN_IF_ERROR(CheckNsidZero(f, "VD information log"));
      return Checked(VdInfoLogRequest{lsi_vd, f.rae, buffer});
    case LogId::kQosDomainList:
      SEF_RETURN_IF_ERROR(CheckNsidZero(f, "QoS domain list log"));
      return Checked(QosDomainListLogRequest{lsi_vd, buffer});
    case LogId::kSuperBlockList:
      if ((f.lsp & 0xF) != 0) {
        return Invalid("super block list log: LSP bits 3:0 are reserved, got 0x%x", f.lsp);
      }
      return Checked(SuperBlockListLogRequest{domain, static_cast<SbListOrder>(f.lsp >> 4),
                                              internal::Join64(f.cdw12, f.cdw13), buffer});
    case LogId::kSuperBlockInfo:
      SEF_RETURN_IF_ERROR(CheckNsidZero(f, "super block information log"));
      return Checked(SuperBlockInfoLogRequest{lsi_vd, SuperBlockId(f.cdw12), f.rae, buffer});
    case LogId::kUserAddressList:
      return Checked(UserAddressListLogRequest{domain, SuperBlockId(f.cdw13), f.cdw12, buffer});
    case LogId::kAddressChangeOrder:
      return Checked(AddressChangeOrderLogRequest{domain, f.cdw12, buffer});
    case LogId::kReadFifoList:
      SEF_RETURN_IF_ERROR(CheckNsidZero(f, "read FIFO log"));
      return Checked(ReadFifoLogRequest{lsi_vd, buffer});
  }
  return Unimplemented("Get Log Page LID 0x%02x is not part of the SEF command set",
                       static_cast<int>(f.lid));
}

}  // namespace internal
}  // namespace sef::cmd
