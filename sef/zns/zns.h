// A zoned namespace (NVMe ZNS) on one SEF QoS domain: zone = super block.
//
//   SEF_ASSIGN_OR_RETURN(std::unique_ptr<zns::ZonedNamespace> ns,
//                        zns::ZonedNamespace::MountOrFormat(*unit, QosDomainId(1)));
//   ns->WriteAsync(Lba(0), 8, iov, /*fua=*/false, [](absl::Status s) { ... });
//   ns->AppendAsync(zslba, 8, iov, false, [](absl::StatusOr<Lba> where) { ... });
//
// THE CONTRACT (docs/zns.md says the same at length)
//
// Mapping. A zone is one super block of the domain, allocated when the zone gets its first
// data, written by nameless writes into it (each ADU's user address is (LBA, a ZNS tag)),
// closed by Finish (the device pads the rest) and released by Reset. Zone states, write
// pointers and the zone of each super block are derived from the device at Mount (super
// block list, user addresses): nothing but the configuration (root pointers 0 and 1) is
// written as metadata.
//
// Completions. Every operation has an ...Async form whose callback runs exactly once and a
// synchronous form built on it. A callback may run on any thread: on the calling thread
// before the call returns (rejections, the model's inline completions) or on a HAL thread
// later. Callbacks never run while the namespace holds a lock: they may submit more ...Async
// calls. They must not block, and must not call a synchronous method of this class (it fails
// at once with FailedPrecondition). Writes and appends to one zone complete in the order in
// which they were accepted, and a write's callback runs only once every block before it in
// its zone is written, so a completed write is always readable.
//
// Errors. Every refusal that NVMe ZNS defines carries its exact NVMe status
// (sef::NvmeStatusOf(status)), e.g. Zone Is Full (SCT 1 / 0xB9) with code FailedPrecondition,
// LBA Out of Range (0 / 0x80) with OutOfRange; the codes follow the HAL's table
// (docs/hal.md). A device failure keeps the device's status. An invalid argument of the C++
// API (data buffers of the wrong size) is InvalidArgument with Invalid Field (0 / 0x02).
// After Unmount every call fails with Unavailable (Namespace Not Ready, 0 / 0x82).
//
// Buffers. The data and iovec memory an ...Async call references must stay valid until its
// callback runs.
//
// Thread-safety. ZonedNamespace is thread-safe: any number of threads may call at once.
// REQUIRES: the hal::Unit outlives the namespace; nothing else writes to the QoS domain.
#ifndef SEF_ZNS_ZNS_H_
#define SEF_ZNS_ZNS_H_

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/hal.h"

namespace sef::zns {

// The logical block: one ADU.
inline constexpr uint32_t kBlockBytes = 4096;

// Zone states, with the values of the zone descriptor's ZS field (bits 7:4 of byte 1).
enum class ZoneState : uint8_t {
  kEmpty = 0x1,
  kImplicitlyOpen = 0x2,
  kExplicitlyOpen = 0x3,
  kClosed = 0x4,
  kReadOnly = 0xD,
  kFull = 0xE,
  kOffline = 0xF,
};
const char* ZoneStateName(ZoneState s);

// Zone Send Actions (Zone Management Send CDW13 ZSA).
enum class ZoneAction : uint8_t {
  kClose = 0x1,
  kFinish = 0x2,
  kOpen = 0x3,
  kReset = 0x4,
  kOffline = 0x5,
};
const char* ZoneActionName(ZoneAction a);

// Zone Receive Action Specific Field of a report (which zones it lists).
enum class ReportFilter : uint8_t {
  kAll = 0,
  kEmpty = 1,
  kImplicitlyOpen = 2,
  kExplicitlyOpen = 3,
  kClosed = 4,
  kFull = 5,
  kReadOnly = 6,
  kOffline = 7,
};

inline constexpr uint8_t kZoneTypeSequentialWriteRequired = 0x2;
// Zone attribute ZFC: the namespace finished the zone by itself (a write to it failed or was
// placed where it should not be, or the device closed its super block).
inline constexpr uint8_t kZoneAttributeFinishedByController = 0x01;
// The write pointer a descriptor reports for a full, read-only or offline zone.
inline constexpr Lba kNoWritePointer{~uint64_t{0}};

// Everything a namespace reports about its zones. Block counts are in 4096-byte blocks.
struct Geometry {
  uint64_t zone_size = 0;      // ZSZE: a power of two
  uint64_t zone_capacity = 0;  // ZCAP: min(zone size, super block capacity)
  uint32_t zones = 0;          // number of zones
  // One-based limits (NVMe reports MOR and MAR zero-based: nvme_mor(), nvme_mar()).
  uint32_t max_open_zones = 0, max_active_zones = 0;
  // What the namespace is made of.
  uint32_t super_block_adus = 0;       // capacity of the domain's super blocks
  uint32_t max_open_super_blocks = 0;  // the domain's limit (one is kept for Finish markers)
  uint32_t max_transfer_blocks = 0;    // per device command; longer writes are split

  uint64_t blocks() const { return zone_size * zones; }  // NSZE = NCAP = NUSE
  uint32_t nvme_mor() const { return max_open_zones - 1; }
  uint32_t nvme_mar() const { return max_active_zones - 1; }
  uint32_t zone_size_log2() const;
};

// One zone descriptor of a report.
struct ZoneDescriptor {
  uint8_t type = kZoneTypeSequentialWriteRequired;
  ZoneState state = ZoneState::kEmpty;
  uint8_t attributes = 0;  // kZoneAttribute* bits
  uint64_t capacity = 0;   // blocks
  Lba start;
  Lba write_pointer;  // kNoWritePointer when full, read-only or offline

  friend bool operator==(const ZoneDescriptor&, const ZoneDescriptor&) = default;
};

struct ZoneReport {
  // Zones matching the filter from the starting zone on; with `partial`, at most the number
  // of descriptors returned (the NVMe report header's "number of zones").
  uint64_t matching = 0;
  std::vector<ZoneDescriptor> zones;
};

// Limits a host may ask for below what the device allows (QEMU's zoned.max_open and
// zoned.max_active). They are not stored on the device: give them at every Mount.
// 0: the device's limit (its max open super blocks, less one kept for finish markers).
struct ZoneLimits {
  uint32_t max_open_zones = 0;
  uint32_t max_active_zones = 0;
};

struct FormatOptions {
  // 0: the next power of two at or above the super block capacity (zone capacity = super
  // block capacity). Otherwise a power of two at most the super block capacity: zone
  // capacity = zone size and the rest of each super block stays unused.
  uint64_t zone_size = 0;
  // Format a domain that already holds a zoned namespace: every zone's data is released.
  bool reformat = false;
  ZoneLimits limits;
};

using StatusCallback = absl::AnyInvocable<void(absl::Status) &&>;
template <typename T>
using Callback = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;

namespace internal {
class Namespace;
}  // namespace internal

class ZonedNamespace {
 public:
  // Lifecycle (synchronous; not from inside a HAL or ZNS callback). Each opens the QoS
  // domain `domain` of `unit` and returns the mounted namespace.
  //
  // Format: makes an unconfigured domain (root pointer 1 = 0, no super blocks, no root
  // pointers but the label) a zoned namespace with every zone empty. Also completes a
  // format that a crash interrupted. Errors: FailedPrecondition when the domain holds a
  // block FTL, an unknown kind, foreign data or (without `reformat`) a zoned namespace, each
  // named (hal::DescribeDomainKind); InvalidArgument for a zone size that is not a power of
  // two at most the super block capacity; FailedPrecondition when the domain holds no super
  // block or allows fewer than 2 open super blocks; InvalidArgument for limits above the
  // device's or more open than active zones.
  static absl::StatusOr<std::unique_ptr<ZonedNamespace>> Format(hal::Unit& unit, QosDomainId domain,
                                                                const FormatOptions& options = {});
  // Mount: rebuilds every zone from the device. Open super blocks come back as Closed zones
  // (write pointer at the data that survived), closed ones as Full; super blocks with no
  // data of a zone are released. Errors: FailedPrecondition naming what the domain holds
  // when it is not a zoned namespace (or its format was interrupted); DataLoss when root
  // pointer 0 or a super block's user addresses are not what ZNS writes.
  static absl::StatusOr<std::unique_ptr<ZonedNamespace>> Mount(hal::Unit& unit, QosDomainId domain,
                                                               const ZoneLimits& limits = {});
  // Mount (with options.limits), or Format when the domain is unconfigured (or its format
  // was interrupted).
  static absl::StatusOr<std::unique_ptr<ZonedNamespace>> MountOrFormat(
      hal::Unit& unit, QosDomainId domain, const FormatOptions& options = {});

  // Unmounts if not done yet (errors are dropped: call Unmount to see them).
  ~ZonedNamespace();
  ZonedNamespace(const ZonedNamespace&) = delete;
  ZonedNamespace& operator=(const ZonedNamespace&) = delete;

  // Refuses new calls, waits for every operation in flight, and makes every written block
  // durable (a flush of each open super block). Open zones come back Closed at the next
  // Mount. Idempotent.
  absl::Status Unmount();

  const Geometry& geometry() const;
  QosDomainId domain() const;

  // Reads `blocks` blocks from `lba` into `data` (blocks * 4096 bytes), within and across
  // zones. Blocks at or above a zone's write pointer (and in the gap between zone capacity
  // and zone size) read as zeros. Errors: LBA Out of Range; Zone Is Offline.
  void ReadAsync(Lba lba, uint32_t blocks, std::span<const iovec> data, StatusCallback done);
  absl::Status Read(Lba lba, uint32_t blocks, std::span<const iovec> data);

  // Writes at the zone's write pointer (implicitly opening the zone). With `fua` the blocks
  // are durable when the callback runs. Errors: LBA Out of Range; Zone Is Full / Read Only /
  // Offline; Zone Invalid Write (not at the write pointer, counting writes in flight); Zone
  // Boundary Error (past the zone capacity); Too Many Active / Open Zones.
  void WriteAsync(Lba lba, uint32_t blocks, std::span<const iovec> data, bool fua,
                  StatusCallback done);
  absl::Status Write(Lba lba, uint32_t blocks, std::span<const iovec> data, bool fua = false);

  // Zone Append: writes at the zone's write pointer (after every write and append accepted
  // before it) and returns the first LBA written. Errors: as Write, but Invalid Field when
  // `zslba` is not a zone's first LBA, and Zone Boundary Error when the zone has less room.
  void AppendAsync(Lba zslba, uint32_t blocks, std::span<const iovec> data, bool fua,
                   Callback<Lba> done);
  absl::StatusOr<Lba> Append(Lba zslba, uint32_t blocks, std::span<const iovec> data,
                             bool fua = false);

  // Makes every write completed before the call durable.
  void FlushAsync(StatusCallback done);
  absl::Status Flush();

  // Zone Management Send: `action` on the zone starting at `zslba`, or with `all` on every
  // zone in the states NVMe selects for it (open: closed zones; close: open ones; finish:
  // open and closed; reset: open, closed and full; offline: read-only), stopping at the
  // first refusal. Finish and Reset complete once the super block is closed or released.
  // Errors: LBA Out of Range; Invalid Field (not a zone start, unknown action); Invalid Zone
  // State Transition; Too Many Active / Open Zones.
  void ZoneManagementSendAsync(ZoneAction action, Lba zslba, bool all, StatusCallback done);
  absl::Status ZoneManagementSend(ZoneAction action, Lba zslba, bool all = false);

  // Zone Management Receive (report): descriptors of up to `max_zones` zones matching
  // `filter`, from the zone holding `start` on. Answers from memory without device I/O,
  // so it may be called from anywhere, callbacks included. Errors: LBA Out of Range;
  // Invalid Field (filter out of range).
  absl::StatusOr<ZoneReport> Report(Lba start, ReportFilter filter = ReportFilter::kAll,
                                    uint32_t max_zones = ~0u, bool partial = false) const;

 private:
  explicit ZonedNamespace(std::unique_ptr<internal::Namespace> impl);
  std::unique_ptr<internal::Namespace> impl_;
};

}  // namespace sef::zns

#endif  // SEF_ZNS_ZNS_H_
