// The SEF HAL: the C++ API every layer above (block FTL, ZNS, the QEMU bridge, tools) and
// every user program calls. It hides whether the unit is SEF hardware behind the Linux NVMe
// driver or the software device model.
//
//   SEF_ASSIGN_OR_RETURN(std::unique_ptr<hal::Unit> unit,
//                        hal::Unit::Open("model:testdata/units/default.json"));
//   SEF_ASSIGN_OR_RETURN(std::unique_ptr<hal::QosDomain> domain,
//                        unit->OpenQosDomain(QosDomainId(1)));
//   domain->WriteAsync({.target = hal::ByPlacement{PlacementId(0)}, .start = ua, .data = iov},
//                      [](absl::StatusOr<hal::WriteResult> r) { ... });
//
// THE CONTRACT (docs/hal.md says the same at length)
//
// Completions. Every operation on a QoS domain has an ...Async form taking a callback that
// runs exactly once, and a synchronous form built on it. A callback may run on any thread:
// on the submitting thread before the ...Async call returns (the model backend's default),
// or later on a backend thread (the kernel's completion reaper, the model's shuffled mode;
// for the commands of a synchronous call on the kernel backend: the calling thread, while
// it waits), in any order relative to other operations' callbacks. Callbacks never run while the HAL
// holds one of its locks, so they may submit more ...Async operations. They must not block
// for long (on the kernel backend they hold up every other completion) and must not call a
// synchronous HAL method: such a call fails at once with FailedPrecondition naming the
// method (it would deadlock the kernel's reaper), on every backend.
//
// Notifications (NotificationCallback) run on the unit's notification thread, one at a
// time, never inside a completion callback; they may call synchronous methods.
//
// Errors. An OS or transport failure keeps its absl::Status (the code of its errno). A device
// completion is mapped once to a canonical code (sef::ToStatus; table in docs/hal.md) whose
// message names the command, and the exact NVMe status rides along: sef::NvmeStatusOf(s).
// Invalid arguments are refused before anything is sent: InvalidArgument naming the field
// and its value. Each method lists the codes it adds to these.
//
// Buffers. The data, metadata and iovec memory an ...Async call references must stay valid
// until its callback runs (the HAL copies the iovec array and the op, not the data).
//
// Lifetime and thread-safety. Unit and QosDomain are thread-safe. A QosDomain must be
// destroyed before its Unit. Destroying a QosDomain waits for its operations in flight to
// complete (their callbacks run first) and for a notification of it being delivered.
// REQUIRES: a QosDomain is not destroyed from one of its own callbacks.
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
#include "sef/base/mutex.h"
#include "sef/base/strong_int.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/requests.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/transport.h"

namespace sef::hal {

using cmd::ByPlacement;
using cmd::CopyBitmap;
using cmd::CopyList;
using cmd::CopySource;
using cmd::UserAddressFilter;
using wire::DefectStrategy;
using wire::ReadDeadline;
using wire::SbListOrder;

// One of a QoS domain's root pointers (0 .. wire::kNumRootPointers - 1).
using RootPointerIndex = StrongInt<struct RootPointerIndexTag, uint8_t>;

// The state of a super block, as the device reports it (SB list log, SB information log).
enum class SuperBlockState : uint8_t {
  kFree,
  kOpenByErase,  // allocated by the host (AllocateSuperBlock); written by writes into it
  kOpenByWrite,  // opened by the device for a write by placement id
  kClosed,
  kOffline,
};
// The state the device's state bits (wire::kSbs*) encode. Unknown bits read as kOffline.
SuperBlockState SuperBlockStateFromBits(uint8_t sbs);
const char* SuperBlockStateName(SuperBlockState s);

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
  bool volatile_write_cache = false;  // Identify Controller VWC: unflushed writes may be lost
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
  // Packed and Fragmented need a unit that has them (UnitInfo::capabilities, wire::kCap*);
  // the device model has Perfect only and refuses the others (InvalidArgument).
  DefectStrategy defect = DefectStrategy::kPerfect;
};

// ---- super blocks -----------------------------------------------------------------------------
// A super block is named by its SuperBlockId in every super-block call; the ADUs inside it by
// FlashAddress (QosDomain::AddressOf converts).

struct AllocateOp {
  bool pslc = false;
  // A given free SB to erase and open; unset: the device chooses.
  std::optional<SuperBlockId> id;
};

struct SuperBlockAllocation {
  SuperBlockId id;
  FlashAddress address;  // ADU offset 0
  uint32_t capacity_adus = 0;
};

struct SuperBlockEntry {
  SuperBlockId id;
  SuperBlockState state = SuperBlockState::kFree;
  bool pslc = false;
  uint8_t erase_count_index = 0;
};

struct SuperBlockDetails {
  SuperBlockId id;
  FlashAddress address;  // ADU offset 0
  SuperBlockState state = SuperBlockState::kFree;
  bool pslc = false;
  PlacementId placement;  // 0xFFFF when opened by erase
  uint32_t capacity_adus = 0, written_adus = 0;
  uint32_t erase_serial = 0;
  uint8_t erase_count_index = 0, integrity = 0;
  uint16_t minutes_left = 0;
};

// ---- the data path ----------------------------------------------------------------------------

// Where a nameless write goes: by placement id (the device allocates and chains super
// blocks), or appended to a super block the caller allocated.
using WriteTarget = cmd::WriteTarget;  // std::variant<ByPlacement, SuperBlockId>

struct WriteOp {
  WriteTarget target;
  UserAddress start;                       // increments per ADU (unless Ignore())
  std::span<const iovec> data;             // a whole number of 4096-byte ADUs, at least one
  std::span<const uint8_t> metadata = {};  // empty, or 16 bytes per ADU
  bool fua = false;                        // durable when the callback runs
};

struct WriteResult {
  std::vector<FlashAddress> addresses;  // one per ADU written, in order
  // For writes into a given SB: ADUs that did not fit (the SB filled and closed).
  uint32_t not_written = 0;
};

struct ReadOp {
  FlashAddress address;
  AduCount adus{1};
  UserAddress verify = UserAddress::Ignore();  // else: each ADU's user address must match
  std::span<const iovec> data;                 // adus * 4096 bytes, or empty: metadata only
  std::span<uint8_t> metadata = {};            // empty, or 16 bytes per ADU
  ReadFifoId fifo = kDefaultReadFifo;
};

struct CopyOp {
  SuperBlockId destination;  // an SB of this domain, allocated and open
  CopySource source;
  std::optional<UserAddressFilter> filter;
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

// ---- notifications ----------------------------------------------------------------------------

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
  SuperBlockId super_block;      // SB events
  FlashAddress address;          // the SB's address (ADU offset 0), SB events
  uint32_t written_adus = 0;     // SB events
  uint8_t critical_warning = 0;  // capacity warnings: wire::kCrit* bits
};
using NotificationCallback = std::function<void(const Notification&)>;

template <typename T>
using Callback = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;
using StatusCallback = absl::AnyInvocable<void(absl::Status) &&>;

class Unit;

struct QosDomainOptions {
  // Receives this domain's SB events (closed, patrol required, address update) while the
  // QosDomain lives. The unit's callback no longer sees them meanwhile.
  NotificationCallback on_notification;
};

class QosDomain {
 public:
  ~QosDomain();  // waits for operations in flight (see the contract above)
  QosDomain(const QosDomain&) = delete;
  QosDomain& operator=(const QosDomain&) = delete;

  QosDomainId id() const { return id_; }
  VirtualDeviceId virtual_device() const { return vd_; }
  const AddressFormat& format() const { return format_; }
  uint32_t placement_ids() const { return placement_ids_; }
  // The most ADUs one FAR+NLW pair (or one Read command) carries: the SEF limit, the
  // controller's maximum transfer (Identify MDTS) and the transport's own limit
  // (Transport::max_data_bytes_per_command; Linux: 126 ADUs). A write into a given SB of at most this
  // many ADUs is exactly one pair, submitted before WriteAsync returns; a longer one is
  // continued from its first pair's completion (so a layer that keeps several writes into one
  // SB in order, such as ZNS, splits its writes at this size itself).
  uint32_t max_adus_per_command() const { return max_adus_; }

  // Addresses. AddressOf errors: InvalidArgument when `sb` or `offset` is wider than the
  // format allows. The other two REQUIRE an address of this domain.
  absl::StatusOr<FlashAddress> AddressOf(SuperBlockId sb, AduOffset offset = AduOffset(0)) const;
  SuperBlockId SuperBlockOf(FlashAddress a) const { return a.super_block(format_); }
  AduOffset OffsetOf(FlashAddress a) const { return a.adu_offset(format_); }

  // Root pointers: eight flash addresses the device keeps for the host (e.g. where its
  // metadata starts). Errors: InvalidArgument for an index of 8 or more.
  void SetRootPointerAsync(RootPointerIndex index, FlashAddress value, StatusCallback done);
  absl::Status SetRootPointer(RootPointerIndex index, FlashAddress value);
  void GetRootPointerAsync(RootPointerIndex index, Callback<FlashAddress> done);
  absl::StatusOr<FlashAddress> GetRootPointer(RootPointerIndex index);

  // Erases a free SB and gives it to this domain, open for writes into it. Errors:
  // ResourceExhausted (quota reached, no free SB, pSLC limit; or too many open SBs),
  // FailedPrecondition (a given `id` is not free), InvalidArgument (a given `id` out of range,
  // pSLC on a unit without it).
  void AllocateSuperBlockAsync(const AllocateOp& op, Callback<SuperBlockAllocation> done);
  absl::StatusOr<SuperBlockAllocation> AllocateSuperBlock(const AllocateOp& op = {});
  // Closes an open SB (its unwritten rest is padded and never written). Returns true when
  // this call closed it, false when it was closed already.
  void CloseSuperBlockAsync(SuperBlockId sb, Callback<bool> done);
  absl::StatusOr<bool> CloseSuperBlock(SuperBlockId sb);
  // Makes every ADU written to the SB durable; returns the ADUs still free in it.
  void FlushSuperBlockAsync(SuperBlockId sb, Callback<uint32_t> done);
  absl::StatusOr<uint32_t> FlushSuperBlock(SuperBlockId sb);
  // Frees the SB: its data is gone, its capacity returns to the domain.
  void ReleaseSuperBlockAsync(SuperBlockId sb, StatusCallback done);
  absl::Status ReleaseSuperBlock(SuperBlockId sb);
  // Patrol: returns the data integrity index (0 = fine).
  void CheckSuperBlockAsync(SuperBlockId sb, Callback<uint8_t> done);
  absl::StatusOr<uint8_t> CheckSuperBlock(SuperBlockId sb);
  // For each of the four above, an SB this domain does not hold: InvalidArgument.

  // Admin reads (synchronous only). ListSuperBlocks: every SB the domain holds, in the order
  // asked. GetSuperBlockInfo: NotFound when the domain does not hold `sb`.
  // GetUserAddressList: one user address per ADU of the SB; UserAddress::Ignore() where
  // nothing was written.
  absl::StatusOr<std::vector<SuperBlockEntry>> ListSuperBlocks(
      SbListOrder order = SbListOrder::kAll);
  absl::StatusOr<SuperBlockDetails> GetSuperBlockInfo(SuperBlockId sb);
  absl::StatusOr<std::vector<UserAddress>> GetUserAddressList(SuperBlockId sb);

  // Nameless write. Writes may span several FAR+NLW pairs (more than the controller's
  // maximum transfer, 0x10000 ADUs, or 8 super blocks): the HAL continues them and returns
  // every address. Errors: ResourceExhausted (quota or free SBs exhausted, too many open
  // SBs; nothing written, or an error after some ADUs: the addresses written so far are
  // lost to the caller, as with any failed write), FailedPrecondition (writing a closed SB).
  void WriteAsync(const WriteOp& op, Callback<WriteResult> done);
  absl::StatusOr<WriteResult> Write(const WriteOp& op);
  // Reads above the maximum transfer are split and run together; the first error wins.
  // Errors: NotFound (ADUs not written, or lost at a power cut: NVMe SCT 2 / 0x87),
  // FailedPrecondition (user-address verify mismatch: SCT 2 / 0x85), PermissionDenied
  // (an SB of another domain), OutOfRange (beyond the VD's super blocks).
  void ReadAsync(const ReadOp& op, StatusCallback done);
  absl::Status Read(const ReadOp& op);
  // Nameless copy (NLC+GCR): valid ADUs of closed SBs into `destination`, user addresses
  // and metadata kept; the result says where each moved. Errors: FailedPrecondition
  // (destination closed), InvalidArgument (destination not this domain's).
  void CopyAsync(const CopyOp& op, Callback<CopyResult> done);
  absl::StatusOr<CopyResult> Copy(const CopyOp& op);

 private:
  friend class Unit;
  QosDomain(Unit* unit, QosDomainId id, VirtualDeviceId vd, AddressFormat format,
            uint32_t placement_ids, uint32_t max_adus_per_command);
  cmd::DomainFormat domain_format() const { return {format_, placement_ids_}; }
  absl::Status CheckOwn(SuperBlockId sb, const char* what) const;
  void SuperBlockCommandAsync(
      wire::SbOperation op, SuperBlockId sb, const char* what,
      absl::AnyInvocable<void(absl::StatusOr<uint64_t>, const std::vector<uint8_t>& info) &&> done);
  // Counts an operation in flight until its callback has returned; wraps `done` so that it
  // runs as a HAL callback (see internal/callbacks.h).
  template <typename T>
  Callback<T> Track(Callback<T> done);
  StatusCallback Track(StatusCallback done);
  void Finished();

  uint32_t NextPairId();
  struct WriteState;
  void WriteStep(std::shared_ptr<WriteState> state);
  void WritePairDone(std::shared_ptr<WriteState> state);

  Unit* unit_;
  QosDomainId id_;
  VirtualDeviceId vd_;  // a domain never changes virtual device
  AddressFormat format_;
  uint32_t placement_ids_;
  uint32_t max_adus_;  // per FAR+NLW or Read: the SEF limit and the controller's MDTS
  std::atomic<uint32_t> next_pair_id_{1};  // NLWIDs and NLCIDs; never 0

  Mutex mu_;
  CondVar idle_;
  uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

struct UnitOptions {
  TransportOptions transport;
  // Receives VD capacity warnings, and SB events of domains that no open QosDomain
  // subscribes to (QosDomainOptions), on the unit's notification thread.
  NotificationCallback on_notification;
};

class Unit {
 public:
  // `spec`: model:<config.json>[:<backing file>] or /dev/nvmeN (see OpenTransport).
  // Errors: the transport's open errors; Unavailable/DataLoss when the unit does not answer
  // Identify sensibly.
  static absl::StatusOr<std::unique_ptr<Unit>> Open(const std::string& spec,
                                                    UnitOptions options = {});
  // For embedders and tests that already hold a transport (e.g. over a model controller
  // they also drive: sef/hal/model_transport.h).
  static absl::StatusOr<std::unique_ptr<Unit>> Open(std::unique_ptr<Transport> transport,
                                                    UnitOptions options = {});
  // REQUIRES: every QosDomain opened from this unit is destroyed.
  ~Unit();
  Unit(const Unit&) = delete;
  Unit& operator=(const Unit&) = delete;

  const std::string& name() const;  // the transport's name: "/dev/nvme0", "model:..."

  // Admin: synchronous only.
  absl::StatusOr<UnitInfo> Info();
  absl::StatusOr<std::vector<VirtualDeviceId>> ListVirtualDevices();
  absl::StatusOr<VirtualDeviceInfo> GetVirtualDeviceInfo(VirtualDeviceId vd);
  absl::StatusOr<std::vector<QosDomainId>> ListQosDomains();
  absl::StatusOr<QosDomainInfo> GetQosDomainInfo(QosDomainId domain);  // NotFound: no such

  // Replaces "no virtual devices" by `vds` (capacity configuration `config_id`). Dies are
  // sent sorted (VDs by id, each VD's dies ascending), as the SDK sends them. Errors:
  // FailedPrecondition when VDs exist, InvalidArgument for a die out of range or used twice.
  absl::Status CreateVirtualDevices(const std::vector<VirtualDeviceConfig>& vds,
                                    uint16_t config_id = 2);
  // FailedPrecondition while a QoS domain exists.
  absl::Status DeleteVirtualDevices();
  // Creates and attaches a QoS domain. Errors: ResourceExhausted (capacity above the VD's,
  // no free domain id), InvalidArgument (a field out of range).
  absl::StatusOr<QosDomainId> CreateQosDomain(const QosDomainConfig& config);
  // Detaches and deletes; every SB the domain holds is released. NotFound: no such domain.
  absl::Status DeleteQosDomain(QosDomainId domain);
  // Resizes a domain's normal (or, with `pslc`, pSLC) capacity and quota, in ADUs rounded
  // down to whole plane pages; `quota_adus` 0 = the capacity, and a quota below the capacity
  // is raised to it (as the SDK does). Errors: InvalidArgument (a capacity below one plane
  // page), ResourceExhausted (more than the VD has free, or below what the domain holds),
  // NotFound (no such domain).
  absl::Status SetQosDomainCapacity(QosDomainId domain, bool pslc, uint64_t capacity_adus,
                                    uint64_t quota_adus = 0);
  // NotFound: no such domain.
  absl::StatusOr<std::unique_ptr<QosDomain>> OpenQosDomain(QosDomainId domain,
                                                           QosDomainOptions options = {});

  // The escape hatch for tools (raw admin or I/O commands the API does not cover, e.g. a
  // probe of Identify fields): sends `c` as is and waits. The HAL's own state (event
  // routing, cached formats) does not see what the command changes.
  TransportResult ExecuteRaw(const Command& c);

 private:
  friend class QosDomain;
  class Events;
  explicit Unit(std::unique_ptr<Transport> transport);
  // Sends `c` and waits. FailedPrecondition from inside a HAL callback (see the contract).
  absl::StatusOr<TransportResult> Execute(const Command& c, const char* method);
  absl::StatusOr<std::vector<uint8_t>> AdminData(const cmd::AdminRequest& r, uint32_t bytes,
                                                 const char* method);
  absl::Status AdminStatus(const cmd::AdminRequest& r, const char* method,
                           uint64_t* result = nullptr);
  absl::StatusOr<uint32_t> ReadAdusPerPlanePage();
  absl::StatusOr<uint32_t> ReadMaxAdusPerCommand();

  std::unique_ptr<Transport> transport_;
  uint32_t adus_per_plane_page_ = 0;   // from Identify 06h at open
  uint32_t max_adus_per_command_ = 0;  // Identify 01h MDTS and the transport, at open
  std::unique_ptr<Events> events_;
};

}  // namespace sef::hal

#endif  // SEF_HAL_HAL_H_
