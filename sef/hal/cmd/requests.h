// Typed requests: one struct per SEF command (and per SEL / operation where the command set
// multiplexes several meanings onto one opcode). codec.h turns each into a Command and back.
//
// Conventions:
// - Counts are one-based here (AduCount, number of placement ids); the encoder alone makes
//   the wire's zero-based fields.
// - Buffers are referenced, not owned (MutableBytes, ConstBytes, IoVecs). Equality compares
//   the reference (address and size), not the bytes, so decode(encode(x)) == x is exact.
// - A "payload" buffer is caller memory the encoder fills with a data-out structure
//   (NS create, controller list, capacity config, NLC source); the decoder parses it back.
#ifndef SEF_HAL_CMD_REQUESTS_H_
#define SEF_HAL_CMD_REQUESTS_H_

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {

using wire::DefectStrategy;
using wire::ReadDeadline;
using wire::SbListOrder;
using wire::SbOperation;

// Memory the device writes (data-in), or a payload the encoder fills.
struct MutableBytes {
  uint8_t* data = nullptr;
  uint32_t size = 0;
  static MutableBytes Of(std::span<uint8_t> s) {
    return {s.data(), static_cast<uint32_t>(s.size())};
  }
  friend bool operator==(const MutableBytes&, const MutableBytes&) = default;
};

// Memory the device reads (data-out).
struct ConstBytes {
  const uint8_t* data = nullptr;
  uint32_t size = 0;
  static ConstBytes Of(std::span<const uint8_t> s) {
    return {s.data(), static_cast<uint32_t>(s.size())};
  }
  friend bool operator==(const ConstBytes&, const ConstBytes&) = default;
};

// A scatter list for the vectored data of Nameless Write and Read.
struct IoVecs {
  const iovec* iov = nullptr;
  uint32_t count = 0;
  uint64_t total_bytes() const;
  friend bool operator==(const IoVecs&, const IoVecs&) = default;
};

using DieId = StrongInt<struct DieIdTag, uint16_t>;

// ============================================================================================
// Admin: Identify (opcode 0x06)

struct IdentifyControllerRequest {  // CNS 01h
  MutableBytes buffer;              // 4096 B wire::IdentifyController
  friend bool operator==(const IdentifyControllerRequest&,
                         const IdentifyControllerRequest&) = default;
};

struct IdentifySefControllerRequest {  // CNS 06h, CSI 30h
  MutableBytes buffer;                 // 4096 B wire::IdentifySefController
  friend bool operator==(const IdentifySefControllerRequest&,
                         const IdentifySefControllerRequest&) = default;
};

struct IdentifySefNamespaceRequest {  // CNS 05h, CSI 30h
  QosDomainId domain;
  MutableBytes buffer;  // 4096 B wire::IdentifySefNamespace
  friend bool operator==(const IdentifySefNamespaceRequest&,
                         const IdentifySefNamespaceRequest&) = default;
};

struct IdentifyVirtualDeviceListRequest {  // CNS 19h: endurance groups = VDs, from `first`
  VirtualDeviceId first{1};
  MutableBytes buffer;  // 4096 B wire::IdList16
  friend bool operator==(const IdentifyVirtualDeviceListRequest&,
                         const IdentifyVirtualDeviceListRequest&) = default;
};

struct IdentifyCommandSetVectorRequest {  // CNS 1Ch, CNTID 0xFFFF
  MutableBytes buffer;                    // 4096 B wire::CommandSetVectors
  friend bool operator==(const IdentifyCommandSetVectorRequest&,
                         const IdentifyCommandSetVectorRequest&) = default;
};

// ============================================================================================
// Admin: Get Log Page (opcode 0x02). The buffer length sets NUMD; it must be a non-zero
// multiple of 4 bytes.

struct VdInfoLogRequest {  // LID 0xD0, NSID 0, LSI = VD (kPendingEventVirtualDevice for AENs)
  VirtualDeviceId vd;
  bool retain_event = false;  // RAE
  MutableBytes buffer;        // VdInfoLogHeader + die ids
  friend bool operator==(const VdInfoLogRequest&, const VdInfoLogRequest&) = default;
};

// LID 0xD1, NSID 0, LSI = VD. The SDK defines this LID but never reads it and documents no
// layout. Decision: a wire::IdList16 of the VD's QoS domain ids, like Identify CNS 19h.
struct QosDomainListLogRequest {
  VirtualDeviceId vd;
  MutableBytes buffer;
  friend bool operator==(const QosDomainListLogRequest&, const QosDomainListLogRequest&) = default;
};

struct SuperBlockListLogRequest {  // LID 0xD2, NSID = domain, LSP[6:4] = order, LPO = offset
  QosDomainId domain;
  SbListOrder order = SbListOrder::kAll;
  uint64_t offset = 0;  // bytes, multiple of 4
  MutableBytes buffer;  // SbListEntry[], ended by sbid 0xFFFFFFFF
  friend bool operator==(const SuperBlockListLogRequest&,
                         const SuperBlockListLogRequest&) = default;
};

// LID 0xD3, NSID 0, LSI = VD, LPOL = SB id. With vd = kPendingEventVirtualDevice it reads
// the SB whose state change raised the pending AEN (sb is then ignored by the device).
struct SuperBlockInfoLogRequest {
  VirtualDeviceId vd;
  SuperBlockId sb;
  bool retain_event = false;
  MutableBytes buffer;  // 256 B wire::SbInfoLog
  friend bool operator==(const SuperBlockInfoLogRequest&,
                         const SuperBlockInfoLogRequest&) = default;
};

// LID 0xD4, NSID = domain, LPOL = byte offset, CDW13 (LPOU) = SB id: the SB id takes the
// upper offset dword, so the offset is 32 bits.
struct UserAddressListLogRequest {
  QosDomainId domain;
  SuperBlockId sb;
  uint32_t offset = 0;  // bytes, multiple of 4
  MutableBytes buffer;  // uint64_t user addresses, one per ADU
  friend bool operator==(const UserAddressListLogRequest&,
                         const UserAddressListLogRequest&) = default;
};

struct AddressChangeOrderLogRequest {  // LID 0xD5, NSID = domain, CDW12 = ACO id
  QosDomainId domain;
  uint32_t aco_id = 0;  // from the NLW completion; non-zero
  MutableBytes buffer;  // AcoLogHeader + AddressChange[]
  friend bool operator==(const AddressChangeOrderLogRequest&,
                         const AddressChangeOrderLogRequest&) = default;
};

struct ReadFifoLogRequest {  // LID 0xD6, NSID 0, LSI = VD
  VirtualDeviceId vd;
  MutableBytes buffer;  // ReadFifoEntry[], ended by rfid 0
  friend bool operator==(const ReadFifoLogRequest&, const ReadFifoLogRequest&) = default;
};

// ============================================================================================
// Admin: Set / Get Features 0xD0, virtual device management (NSID = VD id)

struct SetDiesPerSuperBlockRequest {  // SEL 0
  VirtualDeviceId vd;
  uint16_t dies = 1;  // 1..256 (8-bit zero-based field)
  friend bool operator==(const SetDiesPerSuperBlockRequest&,
                         const SetDiesPerSuperBlockRequest&) = default;
};

enum class ReadFifoAction : uint8_t { kAttach = 1, kChange = 2 };
struct SetReadFifoRequest {  // SEL 1 (attach) / SEL 2 (change)
  VirtualDeviceId vd;
  ReadFifoAction action = ReadFifoAction::kAttach;
  ReadFifoId fifo;      // 31 bits
  uint16_t weight = 0;  // default weight
  bool vd_default = false;
  friend bool operator==(const SetReadFifoRequest&, const SetReadFifoRequest&) = default;
};

struct DetachReadFifoRequest {  // SEL 3
  VirtualDeviceId vd;
  ReadFifoId fifo;
  friend bool operator==(const DetachReadFifoRequest&, const DetachReadFifoRequest&) = default;
};

struct SetPslcSuperBlocksRequest {  // SEL 4
  VirtualDeviceId vd;
  uint32_t count = 0;
  friend bool operator==(const SetPslcSuperBlocksRequest&,
                         const SetPslcSuperBlocksRequest&) = default;
};

struct SetVdAenControlRequest {  // SEL 5: which critical warnings raise an AEN
  VirtualDeviceId vd;
  uint8_t critical_warning_mask = wire::kCritAll;  // bits 0..2
  friend bool operator==(const SetVdAenControlRequest&, const SetVdAenControlRequest&) = default;
};

// SEL 6. The SDK encodes only this one field (its API refuses the call before sending); the
// other two suspend parameters have no published bits and are not invented here.
struct SetSuspendConfigRequest {
  VirtualDeviceId vd;
  uint32_t min_time_until_suspend = 0;
  friend bool operator==(const SetSuspendConfigRequest&, const SetSuspendConfigRequest&) = default;
};

struct ResetSchedulerRequest {  // SEL 0xF
  VirtualDeviceId vd;
  friend bool operator==(const ResetSchedulerRequest&, const ResetSchedulerRequest&) = default;
};

struct GetReadFifoListRequest {  // Get Features 0xD0 SEL 1
  VirtualDeviceId vd;
  MutableBytes buffer;  // ReadFifoEntry[]
  friend bool operator==(const GetReadFifoListRequest&, const GetReadFifoListRequest&) = default;
};

// ============================================================================================
// Admin: Set / Get Features 0xD1, QoS domain management (NSID = domain)

struct SetRootPointerRequest {  // SEL 0
  QosDomainId domain;
  uint8_t index = 0;  // 0..7
  FlashAddress value;
  friend bool operator==(const SetRootPointerRequest&, const SetRootPointerRequest&) = default;
};

struct GetRootPointerRequest {  // Get SEL 0, SSEL = index; the value comes in the result
  QosDomainId domain;
  uint8_t index = 0;  // 0..7
  friend bool operator==(const GetRootPointerRequest&, const GetRootPointerRequest&) = default;
};

struct SetQosDomainCapacityRequest {  // SEL 1
  QosDomainId domain;
  bool pslc = false;
  PlanePageCount capacity{1};  // >= 1
  PlanePageCount quota{1};     // >= 1
  friend bool operator==(const SetQosDomainCapacityRequest&,
                         const SetQosDomainCapacityRequest&) = default;
};

struct SetWeightsRequest {  // SEL 2
  QosDomainId domain;
  uint16_t program_weight = 0;
  uint16_t erase_weight = 0;
  friend bool operator==(const SetWeightsRequest&, const SetWeightsRequest&) = default;
};

struct SetReadDeadlineRequest {  // SEL 3
  QosDomainId domain;
  ReadDeadline deadline = ReadDeadline::kTypical;
  friend bool operator==(const SetReadDeadlineRequest&, const SetReadDeadlineRequest&) = default;
};

struct SetMaxOpenSuperBlocksRequest {  // SEL 4
  QosDomainId domain;
  uint16_t max_open = 1;
  friend bool operator==(const SetMaxOpenSuperBlocksRequest&,
                         const SetMaxOpenSuperBlocksRequest&) = default;
};

struct SetDefaultReadFifoRequest {  // SEL 5
  QosDomainId domain;
  ReadFifoId fifo;
  friend bool operator==(const SetDefaultReadFifoRequest&,
                         const SetDefaultReadFifoRequest&) = default;
};

// ============================================================================================
// Admin: capacity configuration (Set/Get Features 0xD2, Capacity Management 0x20)

struct VdDies {
  VirtualDeviceId vd;
  std::vector<DieId> dies;  // die id = channel + bank * channels
  friend bool operator==(const VdDies&, const VdDies&) = default;
};

struct CapacityConfig {
  uint16_t id = 2;  // the SDK builds config 2 and then selects it
  std::vector<VdDies> vds;
  uint32_t total_dies() const;
  // Bytes of its Set Features 0xD2 descriptor: 0x20 + vds * 0x58 + dies * 8.
  uint32_t payload_bytes() const;
  // Puts the virtual devices in ascending id order and each one's dies ascending: the order
  // the SDK sends (the encoder keeps the caller's order; the HAL sorts before it encodes).
  void Sort();
  friend bool operator==(const CapacityConfig&, const CapacityConfig&) = default;
};

struct SetCapacityConfigRequest {  // Set Features 0xD2, NSID 0
  CapacityConfig config;
  MutableBytes payload;  // >= config.payload_bytes()
  friend bool operator==(const SetCapacityConfigRequest&,
                         const SetCapacityConfigRequest&) = default;
};

// Get Features 0xD2. The SDK never reads the register back. Decision: the device returns
// the descriptor of the selected configuration in the same layout as Set Features 0xD2.
struct GetCapacityConfigRequest {
  MutableBytes buffer;
  friend bool operator==(const GetCapacityConfigRequest&,
                         const GetCapacityConfigRequest&) = default;
};

struct SelectCapacityConfigRequest {  // Capacity Management 0x20, operation 0
  uint16_t config_id = 0;             // 0 = no virtual devices
  friend bool operator==(const SelectCapacityConfigRequest&,
                         const SelectCapacityConfigRequest&) = default;
};

// ============================================================================================
// Admin: QoS domains (NS Management 0x0D, NS Attachment 0x15)

struct QosDomainSpec {
  VirtualDeviceId vd;
  // One of the two capacities must be > 0. A quota below its capacity is raised to the
  // capacity by the device.
  PlanePageCount capacity{0};
  PlanePageCount quota{0};
  PlanePageCount pslc_capacity{0};
  PlanePageCount pslc_quota{0};
  uint16_t num_placement_ids = 1;  // >= 1 (the wire field is 0-based)
  // Below num_placement_ids (0 included): the device raises it to num_placement_ids + 2, at
  // most the unit's maximum.
  uint16_t max_open_super_blocks = 1;
  uint16_t program_weight = 0;
  uint16_t erase_weight = 0;
  ReadFifoId default_read_fifo;
  ReadDeadline deadline = ReadDeadline::kTypical;
  DefectStrategy defect = DefectStrategy::kPerfect;
  friend bool operator==(const QosDomainSpec&, const QosDomainSpec&) = default;
};

struct CreateQosDomainRequest {  // NS Management SEL 0 (create), CSI 30h; result = new id
  QosDomainSpec spec;
  MutableBytes payload;  // 4096 B, filled with a wire::IdentifySefNamespace
  friend bool operator==(const CreateQosDomainRequest&, const CreateQosDomainRequest&) = default;
};

struct DeleteQosDomainRequest {  // NS Management SEL 1 (delete)
  QosDomainId domain;
  friend bool operator==(const DeleteQosDomainRequest&, const DeleteQosDomainRequest&) = default;
};

enum class AttachAction : uint8_t { kAttach = 0, kDetach = 1 };
struct AttachQosDomainRequest {  // NS Attachment
  QosDomainId domain;
  AttachAction action = AttachAction::kAttach;
  uint16_t controller = 0;
  MutableBytes payload;  // 4096 B, filled with a one-entry wire::IdList16
  friend bool operator==(const AttachQosDomainRequest&, const AttachQosDomainRequest&) = default;
};

// ============================================================================================
// I/O commands (NSID = QoS domain)

// Super Block Management 0xDA. `sb` = kDeviceChoosesSuperBlock lets the device pick (erase
// and pSLC erase only). The device may return the 256 B SbInfoLog in `buffer` (close and
// flush do); NUMD is the buffer's dword count.
struct SuperBlockManagementRequest {
  QosDomainId domain;
  SbOperation op = SbOperation::kErase;
  SuperBlockId sb = kDeviceChoosesSuperBlock;
  uint16_t erase_weight = 0;  // 0 = domain default; not allowed with kFree
  MutableBytes buffer;
  friend bool operator==(const SuperBlockManagementRequest&,
                         const SuperBlockManagementRequest&) = default;
};

// Where a nameless write goes: auto-allocated by placement id (optionally into pSLC), or
// appended to a given super block.
struct ByPlacement {
  PlacementId placement;
  bool pslc = false;
  friend bool operator==(const ByPlacement&, const ByPlacement&) = default;
};
using WriteTarget = std::variant<ByPlacement, SuperBlockId>;
// The FAR half of a pair carries no pSLC flag (CDW14 = 0 in the SDK); its NLW does.
using FarTarget = std::variant<PlacementId, SuperBlockId>;

struct FlashAddressRequest {  // 0xD2, first of a FAR+NLW pair
  QosDomainId domain;
  FarTarget target = PlacementId{0};
  uint32_t nlwid = 1;  // pairs with the NLW; non-zero
  uint16_t erase_weight = 0;
  MutableBytes arr;  // 144 B wire::AddressRequestResponse
  friend bool operator==(const FlashAddressRequest&, const FlashAddressRequest&) = default;
};

struct NamelessWriteRequest {  // 0xD1, second of a FAR+NLW pair
  QosDomainId domain;
  WriteTarget target = ByPlacement{};
  UserAddress start;  // auto-increments per ADU on the device
  AduCount adus{1};   // 1..0x10000
  bool fua = false;
  bool limited_retry = false;
  uint32_t nlwid = 1;
  uint16_t program_weight = 0;
  IoVecs data;          // exactly adus * 4096 bytes
  ConstBytes metadata;  // empty, or exactly adus * 16 bytes
  friend bool operator==(const NamelessWriteRequest&, const NamelessWriteRequest&) = default;
};

struct ReadRequest {  // 0xD6; NSID = address.domain()
  FlashAddress address;
  AduCount adus{1};  // 1..0x10000
  UserAddress verify = UserAddress::Ignore();
  ReadFifoId fifo = kDefaultReadFifo;
  uint16_t read_weight = 0;
  IoVecs data;            // empty (metadata-only read), or exactly adus * 4096 bytes
  MutableBytes metadata;  // empty, or exactly adus * 16 bytes
  friend bool operator==(const ReadRequest&, const ReadRequest&) = default;
};

struct CopyBitmap {
  FlashAddress start;           // bit 0 <-> ADU offset start & ~0x3F
  std::vector<uint32_t> words;  // 1..0x10000 words
  friend bool operator==(const CopyBitmap&, const CopyBitmap&) = default;
};
struct CopyList {
  std::vector<FlashAddress> addresses;  // 1..0x10000 entries
  friend bool operator==(const CopyList&, const CopyList&) = default;
};
using CopySource = std::variant<CopyBitmap, CopyList>;

struct UserAddressFilter {
  UserAddress start;
  uint64_t length = 1;   // ADUs, >= 1
  bool exclude = false;  // true: copy only ADUs whose user address is outside the range
  friend bool operator==(const UserAddressFilter&, const UserAddressFilter&) = default;
};

struct NamelessCopyRequest {  // 0xDD, first of an NLC+GCR pair; NSID = destination
  QosDomainId destination;
  SuperBlockId destination_sb;
  CopySource source = CopyList{};
  std::optional<UserAddressFilter> filter;
  uint32_t nlcid = 1;  // pairs with the GCR; non-zero
  uint16_t program_weight = 0;
  MutableBytes payload;  // filled with the source descriptor
  friend bool operator==(const NamelessCopyRequest&, const NamelessCopyRequest&) = default;
};

struct GetCopyResultRequest {  // 0xDE, second of an NLC+GCR pair
  QosDomainId destination;
  uint32_t nlcid = 1;
  bool fua = false;
  MutableBytes acr;  // AcrHeader + at least one AddressChange
  friend bool operator==(const GetCopyResultRequest&, const GetCopyResultRequest&) = default;
};

// ============================================================================================

using AdminRequest =
    std::variant<IdentifyControllerRequest, IdentifySefControllerRequest,
                 IdentifySefNamespaceRequest, IdentifyVirtualDeviceListRequest,
                 IdentifyCommandSetVectorRequest, VdInfoLogRequest, QosDomainListLogRequest,
                 SuperBlockListLogRequest, SuperBlockInfoLogRequest, UserAddressListLogRequest,
                 AddressChangeOrderLogRequest, ReadFifoLogRequest, SetDiesPerSuperBlockRequest,
                 SetReadFifoRequest, DetachReadFifoRequest, SetPslcSuperBlocksRequest,
                 SetVdAenControlRequest, SetSuspendConfigRequest, ResetSchedulerRequest,
                 GetReadFifoListRequest, SetRootPointerRequest, GetRootPointerRequest,
                 SetQosDomainCapacityRequest, SetWeightsRequest, SetReadDeadlineRequest,
                 SetMaxOpenSuperBlocksRequest, SetDefaultReadFifoRequest, SetCapacityConfigRequest,
                 GetCapacityConfigRequest, SelectCapacityConfigRequest, CreateQosDomainRequest,
                 DeleteQosDomainRequest, AttachQosDomainRequest>;

using IoRequest =
    std::variant<SuperBlockManagementRequest, FlashAddressRequest, NamelessWriteRequest,
                 ReadRequest, NamelessCopyRequest, GetCopyResultRequest>;

}  // namespace sef::cmd

#endif  // SEF_HAL_CMD_REQUESTS_H_
