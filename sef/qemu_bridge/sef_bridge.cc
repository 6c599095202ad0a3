// sef_bridge.h: the emulated controller handle (sef_bridge_unit) over the model controller of
// a shared unit (internal/unit_table.h), and sef_bridge_transfer_of.
//
// Why it is built this way:
// - The model completes through callbacks on whichever thread submitted the command that
//   finishes another (a FAR on its NLW's thread, an AER on the thread that raised the event).
//   QEMU must never be called from such a place, so every callback only finishes a
//   pre-allocated record and links it into the handle's CompletionQueue, whose eventfd QEMU
//   watches. Nothing in a callback allocates or can throw: an exception there would unwind
//   through the model.
// - Each accepted command owns one record (Pending) from submit to poll. It holds what must
//   outlive sef_bridge_submit's stack frame: the single iovec a contiguous buffer is wrapped
//   in, or the bounce buffer an iovec list is gathered into.
// - The unit may be shared with other handles (disks), so a command of this handle can still
//   be parked in the model after the handle closed. The commands that park (FAR, NLC, AER)
//   therefore never hand the model a host buffer: they work on the record's bounce, and
//   the copy back to the host happens only while the queue is open (CompletionQueue::
//   DeliverIfOpen), never after close returned.
// - absl::Status becomes a C code in exactly one function (internal/c_abi.h).
#include "sef/qemu_bridge/sef_bridge.h"

#include <linux/nvme_ioctl.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model/unit_config.h"
#include "sef/qemu_bridge/internal/c_abi.h"
#include "sef/qemu_bridge/internal/completion_queue.h"
#include "sef/qemu_bridge/internal/unit_table.h"

// The C structs are copied byte for byte into the kernel's layout.
static_assert(sizeof(sef_bridge_cmd) == 72);
static_assert(sizeof(sef_bridge_cmd) == offsetof(nvme_passthru_cmd64, result));
static_assert(offsetof(sef_bridge_cmd, nsid) == offsetof(nvme_passthru_cmd64, nsid));
static_assert(offsetof(sef_bridge_cmd, metadata) == offsetof(nvme_passthru_cmd64, metadata));
static_assert(offsetof(sef_bridge_cmd, addr) == offsetof(nvme_passthru_cmd64, addr));
static_assert(offsetof(sef_bridge_cmd, metadata_len) ==
              offsetof(nvme_passthru_cmd64, metadata_len));
static_assert(offsetof(sef_bridge_cmd, data_len) == offsetof(nvme_passthru_cmd64, data_len));
static_assert(offsetof(sef_bridge_cmd, cdw10) == offsetof(nvme_passthru_cmd64, cdw10));
static_assert(offsetof(sef_bridge_cmd, cdw15) == offsetof(nvme_passthru_cmd64, cdw15));
static_assert(offsetof(sef_bridge_cmd, timeout_ms) == offsetof(nvme_passthru_cmd64, timeout_ms));
static_assert(sizeof(sef_bridge_completion) == 24);
static_assert(sizeof(sef_bridge_transfer) == 24);
static_assert(sizeof(sef_bridge_info) == 256);
static_assert(offsetof(sef_bridge_info, total_adus) == 64);
static_assert(offsetof(sef_bridge_info, serial) == 72);
static_assert(offsetof(sef_bridge_info, model) == 96);
static_assert(offsetof(sef_bridge_info, name) == 144);
static_assert(offsetof(sef_bridge_info, rsvd) == 208);

// The opaque handle of the C ABI: an emulated controller.
struct sef_bridge_unit {
  std::shared_ptr<sef::qemu_bridge::SharedUnit> unit;
  std::shared_ptr<sef::qemu_bridge::CompletionQueue> queue;
  bool persistent = false;
};

namespace sef::qemu_bridge {
namespace {

// One accepted command, from submit until poll hands its completion over.
struct Pending final : QueuedCompletion {
  iovec wrap{};                    // a contiguous buffer given to an iovec-list command
  std::vector<uint8_t> bounce;     // the data the model works on, when not the host's
  const iovec* scatter = nullptr;  // where `bounce` goes back at completion, if anywhere
  uint32_t scatter_count = 0;

  // Runs in the model's completion callback, only while the handle is open: must not throw.
  void CopyBack() noexcept {
    size_t offset = 0;
    for (uint32_t i = 0; scatter != nullptr && i < scatter_count; ++i) {
      if (scatter[i].iov_len == 0) continue;
      std::memcpy(scatter[i].iov_base, bounce.data() + offset, scatter[i].iov_len);
      offset += scatter[i].iov_len;
    }
  }
};

absl::Status OpenUnit(const char* name, sef_bridge_unit** out) {
  if (out == nullptr) return absl::InvalidArgumentError("sef_bridge_open: `out` is NULL");
  *out = nullptr;
  if (name == nullptr || *name == '\0') {
    return absl::InvalidArgumentError("sef_bridge_open: no unit name");
  }
  auto handle = std::make_unique<sef_bridge_unit>();
  SEF_ASSIGN_OR_RETURN(handle->unit, AcquireUnit(name));
  if (handle->unit->controller() == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s is a SEF unit on the host: an emulated controller needs a model unit "
                        "(a unit number configured as model:... or a model: spec)",
                        handle->unit->description()));
  }
  SEF_ASSIGN_OR_RETURN(handle->queue, CompletionQueue::Create());
  handle->persistent = handle->unit->persistent();
  *out = handle.release();
  return absl::OkStatus();
}

// The commands whose data the model reads as an iovec list (the kernel's _IO_VEC ioctls).
bool ModelWantsIovecs(const Command& c) {
  return c.queue == QueueType::kIo &&
         (c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kNamelessWrite) ||
          c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kRead));
}

// The commands that may stay parked in the model after they were submitted (waiting for a
// partner): the model must never hold a host buffer of theirs.
bool MayPark(const Command& c) {
  return c.queue == QueueType::kIo &&
         (c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kFlashAddressRequest) ||
          c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kNamelessCopy));
}

absl::Status SubmitCommand(sef_bridge_unit* unit, int admin, const sef_bridge_cmd* in,
                           uint32_t flags, uint64_t tag) {
  if (unit == nullptr || in == nullptr) {
    return absl::InvalidArgumentError("sef_bridge_submit: NULL unit or command");
  }
  if (admin != SEF_BRIDGE_QUEUE_ADMIN && admin != SEF_BRIDGE_QUEUE_IO) {
    return absl::InvalidArgumentError(
        absl::StrFormat("sef_bridge_submit: queue %d is neither admin (1) nor I/O (0)", admin));
  }
  if ((flags & ~SEF_BRIDGE_VECTORED) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("sef_bridge_submit: unknown flags 0x%x", flags));
  }
  if (in->metadata_len != 0 && in->metadata == 0) {
    return absl::InvalidArgumentError("sef_bridge_submit: metadata_len without a buffer");
  }
  if (in->data_len != 0 && in->addr == 0) {
    return absl::InvalidArgumentError("sef_bridge_submit: data_len without a buffer");
  }

  Command c;
  std::memcpy(&c.sqe, in, sizeof(*in));  // the kernel layout minus `result` (static_asserts)
  c.sqe.result = 0;
  c.queue = admin == SEF_BRIDGE_QUEUE_ADMIN ? QueueType::kAdmin : QueueType::kIo;
  c.direction = DirectionOfOpcode(in->opcode);
  auto pending = std::make_unique<Pending>();
  pending->tag = tag;
  const bool wants_iovecs = ModelWantsIovecs(c);

  // The host's data as an iovec list (a contiguous buffer is one entry).
  iovec one{reinterpret_cast<void*>(static_cast<uintptr_t>(in->addr)), in->data_len};
  const iovec* iov = &one;
  uint32_t count = in->data_len == 0 ? 0 : 1;
  if ((flags & SEF_BRIDGE_VECTORED) != 0) {
    if (in->data_len > SEF_BRIDGE_MAX_IOVECS) {
      return absl::InvalidArgumentError(absl::StrFormat("sef_bridge_submit: %u iovecs, at most %u",
                                                        in->data_len, SEF_BRIDGE_MAX_IOVECS));
    }
    iov = reinterpret_cast<const iovec*>(static_cast<uintptr_t>(in->addr));
    count = in->data_len;
  }

  if (wants_iovecs) {
    if ((flags & SEF_BRIDGE_VECTORED) != 0) {
      c.vectored = true;  // sqe.vec_cnt (= data_len) already counts them
    } else {
      pending->wrap = one;
      c.sqe.addr = reinterpret_cast<uintptr_t>(&pending->wrap);
      c.sqe.vec_cnt = count;
      c.vectored = true;
    }
  } else if ((flags & SEF_BRIDGE_VECTORED) != 0 || MayPark(c)) {
    // Gather every entry, including for a device-to-host command, so that bytes the device
    // does not write keep their values when the buffer is scattered back.
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; ++i) {
      if (iov[i].iov_len != 0 && iov[i].iov_base == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrFormat("sef_bridge_submit: iovec %u has a length and no buffer", i));
      }
      total += iov[i].iov_len;
      if (total > SEF_BRIDGE_MAX_DATA_BYTES) {
        return absl::OutOfRangeError(absl::StrFormat(
            "sef_bridge_submit: the iovec list exceeds %u bytes", SEF_BRIDGE_MAX_DATA_BYTES));
      }
    }
    pending->bounce.resize(total);
    size_t offset = 0;
    for (uint32_t i = 0; i < count; ++i) {
      if (iov[i].iov_len == 0) continue;
      std::memcpy(pending->bounce.data() + offset, iov[i].iov_base, iov[i].iov_len);
      offset += iov[i].iov_len;
    }
    if (c.direction != DataDirection::kHostToDevice) {
      if ((flags & SEF_BRIDGE_VECTORED) == 0) {
        pending->wrap = one;  // `one` lives on this stack frame
        iov = &pending->wrap;
      }
      pending->scatter = iov;
      pending->scatter_count = count;
    }
    c.sqe.addr = total == 0 ? 0 : reinterpret_cast<uintptr_t>(pending->bounce.data());
    c.sqe.data_len = static_cast<uint32_t>(total);
  }

  // The model stores what it needs of `c` (a parked FAR keeps its decoded request, whose
  // buffers point into `pending`); `pending` lives in the callback until the model
  // completes the command, then in the queue until polled.
  unit->unit->controller()->Submit(
      c, [queue = unit->queue, pending = std::move(pending)](model::Completion done) mutable {
        pending->result = done.result;
        pending->status = done.status.raw();
        Pending* p = pending.get();
        queue->DeliverIfOpen(std::move(pending), [p]() noexcept { p->CopyBack(); });
      });
  return absl::OkStatus();
}

void CopyString(char* out, size_t size, const std::string& s) {
  const size_t n = std::min(s.size(), size - 1);
  std::memcpy(out, s.data(), n);
  out[n] = '\0';
}

absl::Status UnitInfo(sef_bridge_unit* unit, sef_bridge_info* out) {
  if (unit == nullptr || out == nullptr) {
    return absl::InvalidArgumentError("sef_bridge_unit_info: NULL argument");
  }
  const model::UnitConfig& c = unit->unit->controller()->config();
  sef_bridge_info info{};
  info.abi_version = SEF_BRIDGE_ABI_VERSION;
  info.max_qos_domains = c.max_qos_domains;
  info.capabilities = c.capabilities;
  info.max_outstanding_aers = model::kMaxOutstandingAers;
  info.channels = c.channels;
  info.banks_per_channel = c.banks;
  info.planes = c.planes;
  info.pages_per_block = c.pages_per_block;
  info.blocks_per_die = c.blocks_per_die;
  info.plane_data_bytes = c.plane_data_bytes;
  info.max_placement_ids = c.max_placement_ids;
  info.max_open_super_blocks = c.max_open_super_blocks;
  info.read_fifos = c.read_fifos;
  info.adu_data_bytes = wire::kAduDataBytes;
  info.adu_metadata_bytes = wire::kAduMetaBytes;
  info.super_block_id_bits = c.address.sb_bits;
  info.adu_offset_bits = c.address.adu_offset_bits;
  info.pslc = c.pslc ? 1 : 0;
  info.persistent = unit->persistent ? 1 : 0;
  info.total_adus = c.total_adus();
  CopyString(info.serial, sizeof(info.serial), c.serial);
  CopyString(info.model, sizeof(info.model), c.model_number);
  CopyString(info.name, sizeof(info.name), c.name);
  *out = info;
  return absl::OkStatus();
}

absl::Status TransferOfCommand(int admin, const sef_bridge_cmd* in, sef_bridge_transfer* out) {
  if (in == nullptr || out == nullptr) {
    return absl::InvalidArgumentError("sef_bridge_transfer_of: NULL argument");
  }
  if (admin != SEF_BRIDGE_QUEUE_ADMIN && admin != SEF_BRIDGE_QUEUE_IO) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "sef_bridge_transfer_of: queue %d is neither admin (1) nor I/O (0)", admin));
  }
  nvme_passthru_cmd64 sqe{};
  std::memcpy(&sqe, in, sizeof(*in));
  const cmd::Transfer t =
      cmd::TransferOf(sqe, admin == SEF_BRIDGE_QUEUE_ADMIN ? QueueType::kAdmin : QueueType::kIo);
  *out = sef_bridge_transfer{};
  out->data_bytes = t.data_bytes;
  out->metadata_bytes = t.metadata_bytes;
  out->direction = t.direction == DataDirection::kHostToDevice   ? 1
                   : t.direction == DataDirection::kDeviceToHost ? 2
                                                                 : 0;
  out->from_fields = t.from_fields ? 1 : 0;
  return absl::OkStatus();
}

}  // namespace
}  // namespace sef::qemu_bridge

using sef::qemu_bridge::Run;
using sef::qemu_bridge::RunVoid;

extern "C" {

int sef_bridge_open(const char* unit, sef_bridge_unit** out, char* err, size_t err_len) {
  if (out != nullptr) *out = nullptr;
  return Run(err, err_len, [&] { return sef::qemu_bridge::OpenUnit(unit, out); });
}

void sef_bridge_close(sef_bridge_unit* unit) {
  RunVoid("sef_bridge_close", [&] {
    if (unit == nullptr) return;
    unit->queue->Close();  // nothing reaches the host from now on
    delete unit;           // the unit closes with its last handle (aborting what is parked)
  });
}

int sef_bridge_event_fd(sef_bridge_unit* unit) {
  int fd = -1;
  const int rc = Run(nullptr, 0, [&] {
    if (unit == nullptr) return absl::InvalidArgumentError("sef_bridge_event_fd: NULL unit");
    fd = unit->queue->fd();
    return absl::OkStatus();
  });
  return rc < 0 ? rc : fd;
}

size_t sef_bridge_poll(sef_bridge_unit* unit, sef_bridge_completion* out, size_t max) {
  size_t n = 0;
  RunVoid("sef_bridge_poll", [&] {
    if (unit != nullptr && out != nullptr) n = unit->queue->Pop(out, max);
  });
  return n;
}

int sef_bridge_submit(sef_bridge_unit* unit, int admin, const sef_bridge_cmd* cmd, uint32_t flags,
                      uint64_t tag) {
  return Run(nullptr, 0,
             [&] { return sef::qemu_bridge::SubmitCommand(unit, admin, cmd, flags, tag); });
}

void sef_bridge_tick(sef_bridge_unit* unit) {
  RunVoid("sef_bridge_tick", [&] {
    if (unit != nullptr) unit->unit->controller()->Tick();
  });
}

void sef_bridge_reset(sef_bridge_unit* unit) {
  RunVoid("sef_bridge_reset", [&] {
    // Shared with another handle: its parked commands are not this guest's to abort.
    if (unit != nullptr && unit->unit.use_count() == 1) {
      unit->unit->controller()->AbortOutstanding();
    }
  });
}

int sef_bridge_unit_info(sef_bridge_unit* unit, sef_bridge_info* out) {
  return Run(nullptr, 0, [&] { return sef::qemu_bridge::UnitInfo(unit, out); });
}

int sef_bridge_transfer_of(int admin, const sef_bridge_cmd* cmd, sef_bridge_transfer* out) {
  return Run(nullptr, 0, [&] { return sef::qemu_bridge::TransferOfCommand(admin, cmd, out); });
}

}  // extern "C"
