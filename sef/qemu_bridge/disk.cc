// sef_bridge.h, disks: one QoS domain of a shared unit, used through the block FTL or the
// zoned namespace layer.
//
// Why it is built this way:
// - Every I/O call allocates one completion record at submit and hands it to the layer's
//   callback, which only fills it and pushes it into the disk's CompletionQueue: the layers
//   call back on their own threads (HAL completion threads, the FTL's), where QEMU must
//   never be called, and the callback must not allocate or throw.
// - The NVMe status a completion carries is chosen in one place (NvmeStatusFor,
//   internal/c_abi.h): the layer's own status when it has one (ZNS answers every refusal with
//   the status NVMe defines), else one derived from the code. The host maps it to what its
//   front end needs (QEMU's NVMe namespace hands it to the guest as it is; sef-aio turns any
//   error into -EIO).
// - A block disk is the block FTL (sef/ftl) mounted on the domain (MountOrFormat: the seed's
//   auto-configuration). Write Zeroes is a trim: the FTL's contract is that a trimmed block
//   reads zeros, so the guest sees exactly what zeros written would give, without writing
//   flash (and a whole-disk zeroing costs nothing); like a trim it is durable at the next
//   flush, so with FUA the bridge follows it with an FTL flush before completing.
// - Operations start on the disk's SubmissionWorker: large transfers, flushes and zone
//   actions on its thread, small transfers and trims inline when nothing is queued, in
//   submission order either way. The layers run a command down to the device model in the
//   thread that starts it, and the model copies the data there; for QEMU that thread is the
//   one emulating the device (docs/performance.md, finding 3). Arguments are checked before
//   the hand-over, so a refusal is still the submit call's return value.
// - Each disk counts the operations it hands to its layer by kind: submitted, started (by the
//   worker or inline) and completed (DiskCounters). Close reports on stderr when they disagree
//   once everything has ended (a completion the layer never gave); in a live or dumped QEMU
//   they are `disk->counters` (docs/performance.md, finding 3, the guest hang).
// - The disk claims its QoS domain in the shared unit for its lifetime, so two devices of one
//   QEMU on one domain are refused at open instead of corrupting each other.
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/ftl/ftl.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"
#include "sef/qemu_bridge/internal/c_abi.h"
#include "sef/qemu_bridge/internal/completion_queue.h"
#include "sef/qemu_bridge/internal/submission_worker.h"
#include "sef/qemu_bridge/internal/unit_table.h"
#include "sef/qemu_bridge/sef_bridge.h"
#include "sef/zns/zns.h"

static_assert(sizeof(sef_bridge_disk_info) == 256);
static_assert(sizeof(sef_bridge_zone) == 32);
static_assert(static_cast<uint32_t>(sef::zns::ZoneAction::kClose) == SEF_BRIDGE_ZONE_CLOSE);
static_assert(static_cast<uint32_t>(sef::zns::ZoneAction::kFinish) == SEF_BRIDGE_ZONE_FINISH);
static_assert(static_cast<uint32_t>(sef::zns::ZoneAction::kOpen) == SEF_BRIDGE_ZONE_OPEN);
static_assert(static_cast<uint32_t>(sef::zns::ZoneAction::kReset) == SEF_BRIDGE_ZONE_RESET);
static_assert(static_cast<uint32_t>(sef::zns::ZoneAction::kOffline) == SEF_BRIDGE_ZONE_OFFLINE);

namespace sef::qemu_bridge {

// What a disk hands to its layer, counted by kind (a debugging aid; relaxed atomics: the
// counts are read when everything has ended, or by a debugger).
enum class OpKind { kRead, kWrite, kAppend, kTrim, kWriteZeroes, kFlush, kZoneSend };
inline constexpr int kOpKinds = 7;
inline constexpr const char* kOpKindNames[kOpKinds] = {"read",         "write", "append",   "trim",
                                                       "write zeroes", "flush", "zone send"};

struct DiskCounters {
  std::atomic<uint64_t> submitted[kOpKinds] = {};  // accepted by the submit call
  std::atomic<uint64_t> started[kOpKinds] = {};    // handed to the layer (worker or inline)
  std::atomic<uint64_t> completed[kOpKinds] = {};  // the layer's callback ran
  void Add(std::atomic<uint64_t>* of, OpKind kind) {
    of[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace sef::qemu_bridge

// The opaque disk handle of the C ABI.
struct sef_bridge_disk {
  std::shared_ptr<sef::qemu_bridge::SharedUnit> unit;
  sef::QosDomainId domain;
  std::shared_ptr<sef::qemu_bridge::CompletionQueue> queue;
  // Shared with the completion callbacks, which may run after close.
  std::shared_ptr<sef::qemu_bridge::DiskCounters> counters =
      std::make_shared<sef::qemu_bridge::DiskCounters>();
  std::unique_ptr<sef::zns::ZonedNamespace> zoned;  // SEF_BRIDGE_DISK_ZONED
  std::unique_ptr<sef::ftl::BlockDevice> block;     // SEF_BRIDGE_DISK_BLOCK
  sef_bridge_disk_info info{};
  // Where operations start (internal/submission_worker.h). Declared last: destroyed (its
  // thread stopped) before the layer it calls into.
  std::unique_ptr<sef::qemu_bridge::SubmissionWorker> worker;

  ~sef_bridge_disk() {
    if (unit != nullptr) unit->ReleaseDomain(domain);
  }
};

namespace sef::qemu_bridge {
namespace {

constexpr NvmeStatus kInvalidOpcode(0, wire::sc::kInvalidOpcode, true);
constexpr NvmeStatus kLbaOutOfRange(0, wire::sc::kLbaOutOfRange, true);
// Worker threads of a block disk. Several let up to that many large transfers start at once
// (flushes stay barriers), but the model copies a domain's writes under the domain's mutex,
// so four measured no faster than one, host and guest (docs/performance.md, finding 4).
constexpr int kBlockDiskWorkerThreads = 1;

// `status` with "<prefix>: " before its message; payloads kept.
absl::Status WithPrefix(const absl::Status& status, const std::string& prefix) {
  absl::Status out(status.code(), absl::StrFormat("%s: %s", prefix, status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

void CopyString(char* out, size_t size, const std::string& s) {
  const size_t n = std::min(s.size(), size - 1);
  std::memcpy(out, s.data(), n);
  out[n] = '\0';
}

// A layer's refusal to open `domain`, named: the layers name the domain in what they refuse
// for its content, but a domain the unit does not have fails at the device (Identify).
absl::Status NameTheDomain(const absl::Status& status, uint32_t domain) {
  const std::string named = absl::StrFormat("QoS domain %u", domain);
  if (absl::StrContains(status.message(), named)) return status;
  if (status.code() == absl::StatusCode::kNotFound) {
    return WithPrefix(status, named + ": no such QoS domain on the unit");
  }
  return WithPrefix(status, named);
}

absl::Status OpenZoned(sef_bridge_disk& disk, const sef_bridge_disk_options& o) {
  zns::FormatOptions format;
  format.zone_size = o.zone_size;
  format.limits = {.max_open_zones = o.max_open_zones, .max_active_zones = o.max_active_zones};
  absl::StatusOr<std::unique_ptr<zns::ZonedNamespace>> mounted =
      zns::ZonedNamespace::MountOrFormat(disk.unit->hal(), disk.domain, format);
  if (!mounted.ok()) return NameTheDomain(mounted.status(), o.domain);
  disk.zoned = *std::move(mounted);
  const zns::Geometry& g = disk.zoned->geometry();
  if (o.zone_size != 0 && g.zone_size != o.zone_size) {
    const uint64_t have = g.zone_size;
    (void)disk.zoned->Unmount();
    disk.zoned.reset();
    return absl::InvalidArgumentError(absl::StrFormat(
        "QoS domain %u: zone size %u blocks asked, but the domain was formatted with zones of %u "
        "blocks",
        o.domain, o.zone_size, have));
  }
  disk.info.blocks = g.blocks();
  disk.info.zone_size = g.zone_size;
  disk.info.zone_capacity = g.zone_capacity;
  disk.info.zones = g.zones;
  disk.info.max_open_zones = g.max_open_zones;
  disk.info.max_active_zones = g.max_active_zones;
  disk.info.max_transfer_blocks = g.max_transfer_blocks;
  return absl::OkStatus();
}

absl::Status OpenBlock(sef_bridge_disk& disk, const sef_bridge_disk_options& o) {
  absl::StatusOr<std::unique_ptr<ftl::BlockDevice>> mounted =
      ftl::BlockDevice::MountOrFormat(&disk.unit->hal(), disk.domain);
  if (!mounted.ok()) return NameTheDomain(mounted.status(), o.domain);
  disk.block = *std::move(mounted);
  disk.info.blocks = disk.block->block_count();
  return absl::OkStatus();
}

absl::Status OpenDisk(const char* name, const sef_bridge_disk_options* o, sef_bridge_disk** out) {
  if (out == nullptr || o == nullptr) {
    return absl::InvalidArgumentError("sef_bridge_disk_open: NULL options or `out`");
  }
  *out = nullptr;
  if (name == nullptr || *name == '\0') {
    return absl::InvalidArgumentError("sef_bridge_disk_open: no unit name");
  }
  if (o->kind != SEF_BRIDGE_DISK_BLOCK && o->kind != SEF_BRIDGE_DISK_ZONED) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "sef_bridge_disk_open: kind %u is neither block (1) nor zoned (2)", o->kind));
  }
  if (o->domain == 0 || o->domain > 0xFFFF) {
    return absl::InvalidArgumentError(
        absl::StrFormat("QoS domain %u: a QoS domain id is 1..65535", o->domain));
  }
  auto disk = std::make_unique<sef_bridge_disk>();
  disk->domain = QosDomainId(static_cast<uint16_t>(o->domain));
  SEF_ASSIGN_OR_RETURN(std::shared_ptr<SharedUnit> unit, AcquireUnit(name));
  const std::string where = absl::StrFormat("%s: QoS domain %u", unit->description(), o->domain);
  SEF_RETURN_IF_ERROR(unit->ClaimDomain(disk->domain, o->user != nullptr && *o->user != '\0'
                                                          ? o->user
                                                          : "another device of this process"));
  disk->unit = std::move(unit);  // from here on the destructor releases the domain
  SEF_ASSIGN_OR_RETURN(disk->queue, CompletionQueue::Create());

  disk->info.abi_version = SEF_BRIDGE_ABI_VERSION;
  disk->info.kind = o->kind;
  disk->info.block_bytes = wire::kAduDataBytes;
  absl::StatusOr<hal::UnitInfo> unit_info = disk->unit->hal().Info();
  if (!unit_info.ok()) return WithPrefix(unit_info.status(), where);
  disk->info.volatile_write_cache = unit_info->volatile_write_cache ? 1 : 0;
  // The domain first: a long backing file path is what truncation cuts.
  CopyString(disk->info.description, sizeof(disk->info.description),
             absl::StrFormat("QoS domain %u of %s", o->domain, disk->unit->description()));

  absl::Status opened;
  if (o->kind == SEF_BRIDGE_DISK_ZONED) {
    opened = OpenZoned(*disk, *o);
  } else {
    opened = OpenBlock(*disk, *o);
  }
  if (!opened.ok()) {
    // The layers say "QoS domain N: ..." themselves; the unit is what they cannot name.
    return WithPrefix(opened, disk->unit->description());
  }
  // Zoned disks: one thread (a zone's writes reach the layer in submission order). Block
  // disks may have several: the FTL takes writes in any order (flushes are barriers).
  disk->worker = std::make_unique<SubmissionWorker>(
      o->kind == SEF_BRIDGE_DISK_ZONED ? 1 : kBlockDiskWorkerThreads);
  *out = disk.release();
  return absl::OkStatus();
}

// One accepted operation: filled by the layer's callback, then queued.
struct DiskCompletion final : QueuedCompletion {};

// The completion of `tag`, an operation of `kind`, counted as submitted. Made when the
// operation is accepted; a start that throws still completes it (Internal Error).
PendingCompletion Pending(sef_bridge_disk* disk, uint64_t tag, OpKind kind) {
  auto record = std::make_unique<DiskCompletion>();
  record->tag = tag;
  disk->counters->Add(disk->counters->submitted, kind);
  static const uint16_t kDropped =
      NvmeStatusFor(absl::InternalError("the operation ended without a completion"));
  return PendingCompletion(disk->queue, std::move(record), kDropped,
                           std::shared_ptr<std::atomic<uint64_t>>(
                               disk->counters, &disk->counters->completed[static_cast<int>(kind)]));
}

// A callback for the layer that completes `tag`, an operation of `kind`, into the disk's
// queue.
auto Completer(sef_bridge_disk* disk, uint64_t tag, OpKind kind) {
  return [pending = Pending(disk, tag, kind)](absl::Status status) mutable {
    pending.Finish(NvmeStatusFor(status));
  };
}

// Starts an operation moving `bytes` of data through the disk's worker: inline when it is
// small and nothing waits, else on the worker's thread. `start` calls the layer.
constexpr uint64_t kNeverInline = ~uint64_t{0};  // flushes, zone actions: they may sync files
// A flush starts once every operation submitted before it has started, and nothing
// submitted after it starts first (the worker's barrier).
template <typename Start>
void Dispatch(sef_bridge_disk* disk, OpKind kind, uint64_t bytes, Start&& start) {
  disk->worker->Submit(
      bytes < SubmissionWorker::kInlineBytes,
      [counters = disk->counters.get(), kind, start = std::forward<Start>(start)]() mutable {
        counters->Add(counters->started, kind);
        std::move(start)();
      },
      /*barrier=*/kind == OpKind::kFlush);
}

// Completes `tag` at once with `status` (a call the disk's kind does not offer).
void CompleteNow(sef_bridge_disk* disk, uint64_t tag, NvmeStatus status) {
  auto record = std::make_unique<DiskCompletion>();
  record->tag = tag;
  record->status = status.raw();
  disk->queue->Push(std::move(record));
}

absl::Status CheckIo(sef_bridge_disk* disk, const iovec* iov, uint32_t iovcnt) {
  if (disk == nullptr) return absl::InvalidArgumentError("sef_bridge_disk: NULL disk");
  if (iovcnt != 0 && iov == nullptr) {
    return absl::InvalidArgumentError("sef_bridge_disk: a count of iovecs and no array");
  }
  if (iovcnt > SEF_BRIDGE_MAX_IOVECS) {
    return absl::InvalidArgumentError(
        absl::StrFormat("sef_bridge_disk: %u iovecs, at most %u", iovcnt, SEF_BRIDGE_MAX_IOVECS));
  }
  return absl::OkStatus();
}

// CheckIo for a write or an append, whose only flag is FUA.
absl::Status CheckWrite(sef_bridge_disk* disk, const iovec* iov, uint32_t iovcnt, uint32_t flags) {
  SEF_RETURN_IF_ERROR(CheckIo(disk, iov, iovcnt));
  if ((flags & ~SEF_BRIDGE_FUA) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("sef_bridge_disk: unknown flags 0x%x", flags));
  }
  return absl::OkStatus();
}

// Block disks: a range past the end completes with LBA Out of Range (the FTL would call it
// InvalidArgument, which a guest would see as Invalid Field). True when it did.
bool CompletedOutOfRange(sef_bridge_disk* disk, uint64_t lba, uint64_t blocks, uint64_t tag) {
  if (lba < disk->info.blocks && blocks <= disk->info.blocks - lba) return false;
  CompleteNow(disk, tag, kLbaOutOfRange);
  return true;
}

absl::Status Read(sef_bridge_disk* disk, uint64_t lba, uint32_t blocks, const iovec* iov,
                  uint32_t iovcnt, uint64_t tag) {
  SEF_RETURN_IF_ERROR(CheckIo(disk, iov, iovcnt));
  const std::span<const iovec> data(iov, iovcnt);
  if (disk->block != nullptr && CompletedOutOfRange(disk, lba, blocks, tag)) {
    return absl::OkStatus();
  }
  Dispatch(disk, OpKind::kRead, uint64_t{blocks} * wire::kAduDataBytes,
           [disk, lba, blocks, data, done = Completer(disk, tag, OpKind::kRead)]() mutable {
             if (disk->zoned != nullptr) {
               disk->zoned->ReadAsync(Lba(lba), blocks, data, std::move(done));
             } else {
               disk->block->ReadAsync(Lba(lba), blocks, data, std::move(done));
             }
           });
  return absl::OkStatus();
}

absl::Status Write(sef_bridge_disk* disk, uint64_t lba, uint32_t blocks, const iovec* iov,
                   uint32_t iovcnt, uint32_t flags, uint64_t tag) {
  SEF_RETURN_IF_ERROR(CheckWrite(disk, iov, iovcnt, flags));
  const std::span<const iovec> data(iov, iovcnt);
  const bool fua = (flags & SEF_BRIDGE_FUA) != 0;
  if (disk->block != nullptr && CompletedOutOfRange(disk, lba, blocks, tag)) {
    return absl::OkStatus();
  }
  Dispatch(disk, OpKind::kWrite, uint64_t{blocks} * wire::kAduDataBytes,
           [disk, lba, blocks, data, fua, done = Completer(disk, tag, OpKind::kWrite)]() mutable {
             if (disk->zoned != nullptr) {
               disk->zoned->WriteAsync(Lba(lba), blocks, data, fua, std::move(done));
             } else {
               disk->block->WriteAsync(Lba(lba), blocks, data, fua, std::move(done));
             }
           });
  return absl::OkStatus();
}

absl::Status Append(sef_bridge_disk* disk, uint64_t zslba, uint32_t blocks, const iovec* iov,
                    uint32_t iovcnt, uint32_t flags, uint64_t tag) {
  SEF_RETURN_IF_ERROR(CheckWrite(disk, iov, iovcnt, flags));
  if (disk->zoned == nullptr) {
    CompleteNow(disk, tag, kInvalidOpcode);
    return absl::OkStatus();
  }
  auto done = [pending = Pending(disk, tag, OpKind::kAppend)](absl::StatusOr<Lba> where) mutable {
    pending.Finish(NvmeStatusFor(where.status()), where.ok() ? where->value() : 0);
  };
  Dispatch(disk, OpKind::kAppend, uint64_t{blocks} * wire::kAduDataBytes,
           [disk, zslba, blocks, data = std::span<const iovec>(iov, iovcnt),
            fua = (flags & SEF_BRIDGE_FUA) != 0, done = std::move(done)]() mutable {
             disk->zoned->AppendAsync(Lba(zslba), blocks, data, fua, std::move(done));
           });
  return absl::OkStatus();
}

absl::Status Trim(sef_bridge_disk* disk, uint64_t lba, uint64_t blocks, uint64_t tag) {
  if (disk == nullptr) return absl::InvalidArgumentError("sef_bridge_disk: NULL disk");
  if (disk->block == nullptr) {
    CompleteNow(disk, tag, kInvalidOpcode);
    return absl::OkStatus();
  }
  if (CompletedOutOfRange(disk, lba, blocks, tag)) return absl::OkStatus();
  Dispatch(disk, OpKind::kTrim, 0,
           [disk, lba, blocks, done = Completer(disk, tag, OpKind::kTrim)]() mutable {
             disk->block->TrimAsync(Lba(lba), blocks, std::move(done));
           });
  return absl::OkStatus();
}

// A trim (see the file comment); with FUA, the trim then an FTL flush, completing once.
absl::Status WriteZeroes(sef_bridge_disk* disk, uint64_t lba, uint64_t blocks, uint32_t flags,
                         uint64_t tag) {
  if (disk == nullptr) return absl::InvalidArgumentError("sef_bridge_disk: NULL disk");
  if ((flags & ~SEF_BRIDGE_FUA) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("sef_bridge_disk: unknown flags 0x%x", flags));
  }
  if (disk->block == nullptr) {
    CompleteNow(disk, tag, kInvalidOpcode);
    return absl::OkStatus();
  }
  if (CompletedOutOfRange(disk, lba, blocks, tag)) return absl::OkStatus();
  if ((flags & SEF_BRIDGE_FUA) == 0) {
    Dispatch(disk, OpKind::kWriteZeroes, 0,
             [disk, lba, blocks, done = Completer(disk, tag, OpKind::kWriteZeroes)]() mutable {
               disk->block->TrimAsync(Lba(lba), blocks, std::move(done));
             });
    return absl::OkStatus();
  }
  // The flush is submitted from the trim's callback, which the FTL allows (it runs with no
  // FTL lock held). The disk outlives the callback: close waits for operations in flight.
  Dispatch(disk, OpKind::kWriteZeroes, kNeverInline,
           [disk, lba, blocks, done = Completer(disk, tag, OpKind::kWriteZeroes)]() mutable {
             disk->block->TrimAsync(
                 Lba(lba), blocks,
                 [block = disk->block.get(), done = std::move(done)](absl::Status trimmed) mutable {
                   if (!trimmed.ok()) {
                     std::move(done)(std::move(trimmed));
                     return;
                   }
                   block->FlushAsync(std::move(done));
                 });
           });
  return absl::OkStatus();
}

absl::Status Flush(sef_bridge_disk* disk, uint64_t tag) {
  if (disk == nullptr) return absl::InvalidArgumentError("sef_bridge_disk: NULL disk");
  Dispatch(disk, OpKind::kFlush, kNeverInline,
           [disk, done = Completer(disk, tag, OpKind::kFlush)]() mutable {
             if (disk->zoned != nullptr) {
               disk->zoned->FlushAsync(std::move(done));
             } else {
               disk->block->FlushAsync(std::move(done));
             }
           });
  return absl::OkStatus();
}

absl::Status ZoneSend(sef_bridge_disk* disk, uint32_t action, uint64_t zslba, int all,
                      uint64_t tag) {
  if (disk == nullptr) return absl::InvalidArgumentError("sef_bridge_disk: NULL disk");
  if (disk->zoned == nullptr) {
    CompleteNow(disk, tag, kInvalidOpcode);
    return absl::OkStatus();
  }
  // An action out of range reaches the layer, which answers it with Invalid Field.
  Dispatch(disk, OpKind::kZoneSend, kNeverInline,
           [disk, action, zslba, all, done = Completer(disk, tag, OpKind::kZoneSend)]() mutable {
             disk->zoned->ZoneManagementSendAsync(static_cast<zns::ZoneAction>(action & 0xFF),
                                                  Lba(zslba), all != 0, std::move(done));
           });
  return absl::OkStatus();
}

absl::Status ZoneReport(sef_bridge_disk* disk, uint64_t start, uint32_t filter, int partial,
                        sef_bridge_zone* out, uint32_t max, uint64_t* matching, uint16_t* status,
                        int* written) {
  if (disk == nullptr || matching == nullptr || status == nullptr || (max != 0 && out == nullptr)) {
    return absl::InvalidArgumentError("sef_bridge_disk_zone_report: NULL argument");
  }
  *matching = 0;
  *written = 0;
  if (disk->zoned == nullptr) {
    *status = kInvalidOpcode.raw();
    return absl::OkStatus();
  }
  absl::StatusOr<zns::ZoneReport> r = disk->zoned->Report(
      Lba(start), static_cast<zns::ReportFilter>(filter > 0xFF ? 0xFF : filter), max, partial != 0);
  *status = NvmeStatusFor(r.status());
  if (!r.ok()) return absl::OkStatus();
  *matching = r->matching;
  for (const zns::ZoneDescriptor& z : r->zones) {
    if (static_cast<uint32_t>(*written) == max) break;
    sef_bridge_zone& o = out[(*written)++];
    o = sef_bridge_zone{};
    o.start = z.start.value();
    o.capacity = z.capacity;
    o.write_pointer = z.write_pointer.value();
    o.type = z.type;
    o.state = static_cast<uint8_t>(z.state);
    o.attributes = z.attributes;
  }
  return absl::OkStatus();
}

// After unmount every operation has ended: one submitted but not completed is a completion
// the layer lost (or a start the worker lost), reported by kind.
void ReportLostOperations(const sef_bridge_disk& disk) {
  const DiskCounters& c = *disk.counters;
  for (int k = 0; k < kOpKinds; ++k) {
    const uint64_t submitted = c.submitted[k].load(std::memory_order_relaxed);
    const uint64_t started = c.started[k].load(std::memory_order_relaxed);
    const uint64_t completed = c.completed[k].load(std::memory_order_relaxed);
    if (submitted != completed || submitted != started) {
      std::fprintf(
          stderr,
          "sef_bridge_disk_close: %s: %s operations: %llu submitted, %llu started, "
          "%llu completed\n",
          disk.info.description, kOpKindNames[k], static_cast<unsigned long long>(submitted),
          static_cast<unsigned long long>(started), static_cast<unsigned long long>(completed));
    }
  }
}

void CloseDisk(sef_bridge_disk* disk) {
  disk->queue->Close();  // nothing reaches the host from now on
  // Operations handed to the worker start (and complete into the closed queue) before the
  // layer is unmounted: unmount then waits for them like for any in flight.
  disk->worker->Stop();
  if (disk->zoned != nullptr || disk->block != nullptr) {
    absl::Status s = disk->zoned != nullptr ? disk->zoned->Unmount() : disk->block->Unmount();
    if (!s.ok()) {
      std::fprintf(stderr, "sef_bridge_disk_close: %s: unmount failed: %s\n",
                   disk->info.description, std::string(s.message()).c_str());
    }
  }
  ReportLostOperations(*disk);
  delete disk;  // releases the domain, then (with its last user) the unit
}

}  // namespace
}  // namespace sef::qemu_bridge

using sef::qemu_bridge::Run;
using sef::qemu_bridge::RunVoid;

extern "C" {

int sef_bridge_disk_open(const char* unit, const sef_bridge_disk_options* options,
                         sef_bridge_disk** out, char* err, size_t err_len) {
  if (out != nullptr) *out = nullptr;
  return Run(err, err_len, [&] { return sef::qemu_bridge::OpenDisk(unit, options, out); });
}

void sef_bridge_disk_close(sef_bridge_disk* disk) {
  RunVoid("sef_bridge_disk_close", [&] {
    if (disk != nullptr) sef::qemu_bridge::CloseDisk(disk);
  });
}

int sef_bridge_disk_get_info(sef_bridge_disk* disk, sef_bridge_disk_info* out) {
  return Run(nullptr, 0, [&] {
    if (disk == nullptr || out == nullptr) {
      return absl::InvalidArgumentError("sef_bridge_disk_get_info: NULL argument");
    }
    *out = disk->info;
    return absl::OkStatus();
  });
}

int sef_bridge_disk_event_fd(sef_bridge_disk* disk) {
  int fd = -1;
  const int rc = Run(nullptr, 0, [&] {
    if (disk == nullptr) return absl::InvalidArgumentError("sef_bridge_disk_event_fd: NULL disk");
    fd = disk->queue->fd();
    return absl::OkStatus();
  });
  return rc < 0 ? rc : fd;
}

size_t sef_bridge_disk_poll(sef_bridge_disk* disk, sef_bridge_completion* out, size_t max) {
  size_t n = 0;
  RunVoid("sef_bridge_disk_poll", [&] {
    if (disk != nullptr && out != nullptr) n = disk->queue->Pop(out, max);
  });
  return n;
}

int sef_bridge_disk_read(sef_bridge_disk* disk, uint64_t lba, uint32_t blocks,
                         const struct iovec* iov, uint32_t iovcnt, uint64_t tag) {
  return Run(nullptr, 0,
             [&] { return sef::qemu_bridge::Read(disk, lba, blocks, iov, iovcnt, tag); });
}

int sef_bridge_disk_write(sef_bridge_disk* disk, uint64_t lba, uint32_t blocks,
                          const struct iovec* iov, uint32_t iovcnt, uint32_t flags, uint64_t tag) {
  return Run(nullptr, 0,
             [&] { return sef::qemu_bridge::Write(disk, lba, blocks, iov, iovcnt, flags, tag); });
}

int sef_bridge_disk_append(sef_bridge_disk* disk, uint64_t zslba, uint32_t blocks,
                           const struct iovec* iov, uint32_t iovcnt, uint32_t flags, uint64_t tag) {
  return Run(nullptr, 0, [&] {
    return sef::qemu_bridge::Append(disk, zslba, blocks, iov, iovcnt, flags, tag);
  });
}

int sef_bridge_disk_trim(sef_bridge_disk* disk, uint64_t lba, uint64_t blocks, uint64_t tag) {
  return Run(nullptr, 0, [&] { return sef::qemu_bridge::Trim(disk, lba, blocks, tag); });
}

int sef_bridge_disk_write_zeroes(sef_bridge_disk* disk, uint64_t lba, uint64_t blocks,
                                 uint32_t flags, uint64_t tag) {
  return Run(nullptr, 0,
             [&] { return sef::qemu_bridge::WriteZeroes(disk, lba, blocks, flags, tag); });
}

int sef_bridge_disk_flush(sef_bridge_disk* disk, uint64_t tag) {
  return Run(nullptr, 0, [&] { return sef::qemu_bridge::Flush(disk, tag); });
}

int sef_bridge_disk_zone_send(sef_bridge_disk* disk, uint32_t action, uint64_t zslba, int all,
                              uint64_t tag) {
  return Run(nullptr, 0, [&] { return sef::qemu_bridge::ZoneSend(disk, action, zslba, all, tag); });
}

int sef_bridge_disk_zone_report(sef_bridge_disk* disk, uint64_t start, uint32_t filter, int partial,
                                sef_bridge_zone* out, uint32_t max, uint64_t* matching,
                                uint16_t* status) {
  int written = 0;
  const int rc = Run(nullptr, 0, [&] {
    return sef::qemu_bridge::ZoneReport(disk, start, filter, partial, out, max, matching, status,
                                        &written);
  });
  return rc < 0 ? rc : written;
}

}  // extern "C"
