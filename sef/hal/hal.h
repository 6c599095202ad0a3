// The SEF HAL: the C++ API every layer above (block FTL, ZNS, the QEMU bridge, tools) and
// every user program calls. It hides whether the unit is SEF hardware behind the Linux NVMe
// driver or the software device model.
//
//   ASSIGN_OR_RETURN(auto unit, hal::Unit::Open("model:testdata/units/default.json"));
//   ASSIGN_OR_RETURN(auto domain, unit->OpenQosDomain(QosDomainId(1)));
//   domain->WriteAsync({.target = hal::ByPlacement{PlacementId(0)}, .start = ua, .data = iov},
//                      [](absl::StatusOr<hal::WriteResult> r) { ... });
//
// Asynchronous first: every data-path call has an ...Async form whose callback may run on a
// HAL or backend thread (never while the caller's submission call holds a HAL lock), and a
// synchronous form built on it. Many commands may be in flight per QoS domain from several
// threads. Errors: an OS or transport failure keeps its absl::Status; a device completion is
// mapped once to a canonical code whose message names the command and keeps SCT/SC/DNR
// (sef::ToStatus). Invalid arguments are refused before anything is sent (InvalidArgument
// naming the field and value).
//
// Buffers: the data, metadata and iovec memory an ...Async call references must stay valid
// until its callback runs (the HAL copies the iovec array, not the data).
//
// Thread-safety: Unit and QosDomain are thread-safe. A QosDomain must not outlive its Unit.
#ifndef SEF_HAL_HAL_H_
#define SEF_HAL_HAL_H_

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/requests.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/transport.h"

namespace sef::hal {

using cmd::ByPlacement;
using wire::DefectStrategy;
using wire::ReadDeadline;
using wire::SbListOrder;

struct UnitInfo {
  std::string transport;  // "/dev/nvme0", "model:..."
  std::string serial, model_number, firmware, subsystem_nqn;
  uint32_t capabilities = 0;  // wire::SefCapability bits
  uint32_t channels = 0, banks = 0, planes = 0, pages_per_block = 0, blocks_per_die = 0;
  uint32_t adus_per_plane_page = 0;
  uint32_t adu_data_bytes = wire::kAduDataBytes, adu_metadata_bytes = wire::kAduMetaBytes;
  uint32_t open_expiration_seconds = 0;
  uint32_t max_qos_domains = 0, max_placement_ids = 0, max_open_super_blocks = 0;
  uint32_t read_fifos = 0, read_fifos_in_use = 0, root_pointers = wire::kNumRootPointers;
  uint32_t virtual_devices = 0, qos_domains = 0;
  uint32_t dies() const { return channels * banks; }
};

struct VirtualDeviceInfo {
  VirtualDeviceId id;
  std::vector<uint16_t> dies;
  uint16_t dies_per_super_block = 0;
  AddressFormat format;
  uint32_t super_block_adus = 0, pslc_super_block_adus = 0;
  uint64_t capacity_adus = 0, allocated_adus = 0, used_adus = 0;
  uint32_t free_super_blocks = 0, closed_super_blocks = 0, open_super_blocks = 0;
  uint32_t pslc_super_blocks = 0;
  uint8_t critical_warning = 0;
  ReadFifoId default_read_fifo;
  std::vector<QosDomainId> qos_domains;
};

struct QosDomainInfo {
  QosDomainId id;
  VirtualDeviceId vd;
  uint64_t capacity_adus = 0, quota_adus = 0, used_adus = 0;
  uint64_t pslc_capacity_adus = 0, pslc_quota_adus = 0, pslc_used_adus = 0;
  uint32_t placement_ids = 0, max_open_super_blocks = 0, super_blocks = 0;
  uint16_t program_weight = 0, erase_weight = 0;
  ReadDeadline deadline = ReadDeadline::kTypical;
  DefectStrategy defect = DefectStrategy::kPerfect;
  ReadFifoId default_read_fifo;
  std::array<FlashAddress, wire::kNumRootPointers> root_pointers{};
};

struct VirtualDeviceConfig {
  VirtualDeviceId id;
  std::vector<uint16_t> dies;         // die id = channel + bank * channels
  uint16_t dies_per_super_block = 0;  // 0 = all of the VD's dies
  uint32_t pslc_super_blocks = 0;
};

struct QosDomainConfig {
  VirtualDeviceId vd;
  uint64_t capacity_adus = 0;  // rounded down to whole plane pages
  uint64_t quota_adus = 0;     // 0 = the capacity
  uint64_t pslc_capacity_adus = 0, pslc_quota_adus = 0;
  uint16_t placement_ids = 1;
  uint16_t max_open_super_blocks = 1;
  uint16_t program_weight = 0, erase_weight = 0;
  ReadFifoId default_read_fifo;  // 0 = the VD's default
  ReadDeadline deadline = ReadDeadline::kTypical;
};

struct SuperBlockAllocation {
  FlashAddress address;  // the SB's address (ADU offset 0)
  uint32_t capacity_adus = 0;
};

struct SuperBlockEntry {
  SuperBlockId id;
  uint8_t state_bits = 0;  // wire::kSbs*
  uint8_t erase_count_index = 0;
};

struct SuperBlockDetails {
  FlashAddress address;
  uint8_t state_bits = 0;
  PlacementId placement;
  uint32_t capacity_adus = 0, written_adus = 0;
  uint32_t erase_serial = 0;
  uint8_t erase_count_index = 0, integrity = 0;
  uint16_t minutes_left = 0;
};

// Where a nameless write goes: by placement id (the device allocates and chains super
// blocks), or appended to a super block the caller allocated (its address).
using WriteTarget = std::variant<ByPlacement, FlashAddress>;

struct WriteOp {
  WriteTarget target;
  UserAddress start;                  // increments per ADU
  std::span<const iovec> data;        // a whole number of 4096-byte ADUs, at least one
  const uint8_t* metadata = nullptr;  // optional: 16 bytes per ADU
  bool fua = false;
};

struct WriteResult {
  std::vector<FlashAddress> addresses;  // one per ADU, in order
  // For writes into a given SB: ADUs that did not fit (the SB filled and closed).
  uint32_t not_written = 0;
};

struct ReadOp {
  FlashAddress address;
  uint32_t adus = 1;
  UserAddress verify = UserAddress::Ignore();
  std::span<const iovec> data;  // adus * 4096 bytes, or empty for a metadata-only read
  uint8_t* metadata = nullptr;  // optional: 16 bytes per ADU
  ReadFifoId fifo = kDefaultReadFifo;
};

struct CopyOp {
  FlashAddress destination;  // an SB of this domain, allocated and open
  cmd::CopySource source;
  std::optional<cmd::UserAddressFilter> filter;
  uint32_t max_changes = 1024;  // size of the address-change record
};

struct AddressChange {
  UserAddress user_address;
  FlashAddress from, to;
};

struct CopyResult {
  std::vector<AddressChange> changes;
  uint32_t processed_adus = 0, read_errors = 0, next = 0, destination_adus_left = 0;
  uint8_t copy_status = 0;  // wire::kCopy*
};

enum class NotificationType {
  kSuperBlockClosed,  // SB state change to closed (by fill, close, copy or expiry)
  kRequirePatrol,     // data integrity unknown: patrol the SB
  kCapacityWarning,   // VD critical warning (out of SBs, out of pSLC SBs, capacity reduced)
  kAddressUpdate,     // an ADU moved (never with the Perfect defect strategy)
};

struct Notification {
  NotificationType type;
  VirtualDeviceId vd;
  QosDomainId domain;            // 0 for VD warnings
  FlashAddress super_block;      // the SB's address
  uint32_t written_adus = 0;     // SB events
  uint8_t critical_warning = 0;  // capacity warnings: wire::kCrit* bits
};
using NotificationCallback = std::function<void(const Notification&)>;

template <typename T>
using Callback = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;
using StatusCallback = absl::AnyInvocable<void(absl::Status) &&>;

class Unit;

class QosDomain {
 public:
  ~QosDomain();
  QosDomainId id() const { return id_; }
  const AddressFormat& format() const { return format_; }
  uint32_t placement_ids() const { return placement_ids_; }

  absl::Status SetRootPointer(int index, FlashAddress value);
  absl::StatusOr<FlashAddress> GetRootPointer(int index);

  void AllocateSuperBlockAsync(bool pslc, Callback<SuperBlockAllocation> done);
  absl::StatusOr<SuperBlockAllocation> AllocateSuperBlock(bool pslc = false);
  // True when this call closed it (false: it was closed already).
  absl::StatusOr<bool> CloseSuperBlock(FlashAddress sb);
  // Makes the SB's written data durable; returns the ADUs still free in it.
  absl::StatusOr<uint32_t> FlushSuperBlock(FlashAddress sb);
  absl::Status ReleaseSuperBlock(FlashAddress sb);
  // Patrol: returns the data integrity index (0 = fine).
  absl::StatusOr<uint8_t> CheckSuperBlock(FlashAddress sb);
  absl::StatusOr<std::vector<SuperBlockEntry>> ListSuperBlocks(
      SbListOrder order = SbListOrder::kAll);
  absl::StatusOr<SuperBlockDetails> GetSuperBlockInfo(FlashAddress sb);
  // One user address per ADU of the SB; UserAddress::Ignore() where unwritten.
  absl::StatusOr<std::vector<UserAddress>> GetUserAddressList(FlashAddress sb);

  // Writes may span several FAR+NLW pairs (more than the controller's maximum transfer,
  // 0x10000 ADUs, or 8 super blocks): the HAL continues them and returns every address.
  // Reads above the maximum transfer are split likewise.
  void WriteAsync(const WriteOp& op, Callback<WriteResult> done);
  absl::StatusOr<WriteResult> Write(const WriteOp& op);
  void ReadAsync(const ReadOp& op, StatusCallback done);
  absl::Status Read(const ReadOp& op);
  void CopyAsync(const CopyOp& op, Callback<CopyResult> done);
  absl::StatusOr<CopyResult> Copy(const CopyOp& op);

 private:
  friend class Unit;
  QosDomain(Unit* unit, QosDomainId id, VirtualDeviceId vd, AddressFormat format,
            uint32_t placement_ids, uint32_t max_adus_per_command)
      : unit_(unit),
        id_(id),
        vd_(vd),
        format_(format),
        placement_ids_(placement_ids),
        max_adus_(max_adus_per_command) {}
  cmd::DomainFormat domain_format() const { return {format_, placement_ids_}; }
  absl::StatusOr<SuperBlockId> OwnSuperBlock(FlashAddress sb, const char* what) const;
  absl::StatusOr<uint64_t> SuperBlockCommand(wire::SbOperation op, FlashAddress sb,
                                             std::vector<uint8_t>* info);

  uint32_t NextPairId();
  struct WriteState;
  struct CopyState;
  void WriteStep(std::shared_ptr<WriteState> state);
  void WritePairDone(std::shared_ptr<WriteState> state);

  Unit* unit_;
  QosDomainId id_;
  VirtualDeviceId vd_;  // a domain never changes virtual device
  AddressFormat format_;
  uint32_t placement_ids_;
  uint32_t max_adus_;  // per FAR+NLW or Read: the SEF limit and the controller's MDTS
  std::atomic<uint32_t> next_pair_id_{1};  // NLWIDs and NLCIDs; never 0
};

struct UnitOptions {
  TransportOptions transport;
  // Receives SEF asynchronous events, on the HAL's notification thread.
  NotificationCallback on_notification;
};

class Unit {
 public:
  // `spec`: model:<config.json>[:<backing file>] or /dev/nvmeN (see OpenTransport).
  static absl::StatusOr<std::unique_ptr<Unit>> Open(const std::string& spec,
                                                    UnitOptions options = {});
  // For tests and embedders that already hold a transport.
  static absl::StatusOr<std::unique_ptr<Unit>> Open(std::unique_ptr<Transport> transport,
                                                    UnitOptions options = {});
  ~Unit();

  absl::StatusOr<UnitInfo> Info();
  absl::StatusOr<std::vector<VirtualDeviceId>> ListVirtualDevices();
  absl::StatusOr<VirtualDeviceInfo> GetVirtualDeviceInfo(VirtualDeviceId vd);
  absl::StatusOr<std::vector<QosDomainId>> ListQosDomains();
  absl::StatusOr<QosDomainInfo> GetQosDomainInfo(QosDomainId domain);

  // Replaces "no virtual devices" by `vds` (capacity configuration `config_id`).
  absl::Status CreateVirtualDevices(const std::vector<VirtualDeviceConfig>& vds,
                                    uint16_t config_id = 2);
  // Requires that no QoS domain exists.
  absl::Status DeleteVirtualDevices();
  // Creates and attaches a QoS domain.
  absl::StatusOr<QosDomainId> CreateQosDomain(const QosDomainConfig& config);
  // Detaches and deletes; every SB the domain holds is released.
  absl::Status DeleteQosDomain(QosDomainId domain);
  absl::StatusOr<std::unique_ptr<QosDomain>> OpenQosDomain(QosDomainId domain);

  Transport& transport() { return *transport_; }

  // Sends one encoded command and waits (any thread but a HAL callback).
  TransportResult Execute(const Command& c);

 private:
  friend class QosDomain;
  struct Notifier;
  explicit Unit(std::unique_ptr<Transport> transport);
  absl::StatusOr<std::vector<uint8_t>> AdminData(const cmd::AdminRequest& r, uint32_t bytes);
  absl::Status AdminStatus(const cmd::AdminRequest& r, uint64_t* result = nullptr);
  absl::StatusOr<uint32_t> ReadAdusPerPlanePage();
  absl::StatusOr<uint32_t> ReadMaxAdusPerCommand();
  void DrainPendingEvents();
  absl::StatusOr<uint32_t> AdusPerPlanePage() const { return adus_per_plane_page_; }
  void HandleEvent(uint32_t dw0);

  std::unique_ptr<Transport> transport_;
  uint32_t adus_per_plane_page_ = 0;   // from Identify 06h at open
  uint32_t max_adus_per_command_ = 0;  // from Identify 01h MDTS at open
  std::unique_ptr<Notifier> notifier_;
};

// The canonical status of a transport result for command `c`.
absl::Status StatusOf(const TransportResult& r, const Command& c);

}  // namespace sef::hal

#endif  // SEF_HAL_HAL_H_
