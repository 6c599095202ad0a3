// sef_bridge.h over sef::model::Controller.
//
// Why it is built this way:
// - The model completes through callbacks on whichever thread submitted the command that
//   finishes another (a FAR on its NLW's thread, an AER on the thread that raised the event).
//   QEMU must never be called from such a place, so every callback only links a
//   pre-allocated record into a lock-protected FIFO and bumps an eventfd; QEMU drains the
//   FIFO from its own event loop. Nothing in a callback allocates or can throw: an exception
//   there would unwind through the model.
// - Each accepted command owns one heap record (Pending) from submit to poll. It holds what
//   must outlive sef_bridge_submit's stack frame: the single iovec a contiguous buffer is
//   wrapped in, or the bounce buffer an iovec list is gathered into.
// - absl::Status becomes a C code in exactly one function (Report); exceptions are caught at
//   every entry point (Run / RunVoid) and never reach C.
#include "sef/qemu_bridge/sef_bridge.h"

#include <linux/nvme_ioctl.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model/unit_config.h"

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
static_assert(sizeof(sef_bridge_info) == 256);
static_assert(offsetof(sef_bridge_info, total_adus) == 64);
static_assert(offsetof(sef_bridge_info, serial) == 72);
static_assert(offsetof(sef_bridge_info, model) == 96);
static_assert(offsetof(sef_bridge_info, name) == 144);
static_assert(offsetof(sef_bridge_info, rsvd) == 208);

namespace sef::qemu_bridge {
namespace {

// One accepted command, from submit until poll hands its completion over.
struct Pending {
  uint64_t tag = 0;
  model::Completion completion;
  iovec wrap{};                    // a contiguous buffer given to an iovec-list command
  std::vector<uint8_t> bounce;     // an iovec list gathered for a contiguous-buffer command
  const iovec* scatter = nullptr;  // where `bounce` goes back at completion, if anywhere
  uint32_t scatter_count = 0;
  Pending* next = nullptr;  // CompletionQueue link

  // Runs in the model's completion callback: must not throw.
  void Finish(model::Completion c) noexcept {
    completion = c;
    size_t offset = 0;
    for (uint32_t i = 0; scatter != nullptr && i < scatter_count; ++i) {
      if (scatter[i].iov_len == 0) continue;
      std::memcpy(scatter[i].iov_base, bounce.data() + offset, scatter[i].iov_len);
      offset += scatter[i].iov_len;
    }
  }
};

// Retries a syscall interrupted by a signal; the result is deliberately unused (an eventfd
// counter cannot overflow in practice, and a read of an empty one just says EAGAIN).
template <typename F>
void Retry(F syscall) noexcept {
  while (syscall() < 0 && errno == EINTR) {
  }
}

// The completions ready for the host, and the eventfd that says so. Invariant (under mu_):
// the eventfd counter is non-zero whenever the list is non-empty, and Pop resets it when it
// empties the list.
class CompletionQueue {
 public:
  static absl::StatusOr<std::unique_ptr<CompletionQueue>> Create() {
    const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      return absl::Status(e == EMFILE || e == ENFILE || e == ENOMEM
                              ? absl::StatusCode::kResourceExhausted
                              : absl::StatusCode::kInternal,
                          absl::StrFormat("cannot create an eventfd: %s", std::strerror(e)));
    }
    return std::unique_ptr<CompletionQueue>(new CompletionQueue(fd));
  }
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  // Discards what was never polled (see sef_bridge_close).
  ~CompletionQueue() {
    Pending* p = head_;
    while (p != nullptr) {
      Pending* next = p->next;
      delete p;
      p = next;
    }
    close(fd_);
  }

  int fd() const { return fd_; }

  void Push(std::unique_ptr<Pending> pending) noexcept {
    Pending* p = pending.release();
    p->next = nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    if (tail_ == nullptr) {
      head_ = p;
    } else {
      tail_->next = p;
    }
    tail_ = p;
    const uint64_t one = 1;
    Retry([&] { return write(fd_, &one, sizeof(one)); });
  }

  size_t Pop(sef_bridge_completion* out, size_t max) noexcept {
    Pending* taken = nullptr;
    size_t n = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Pending** last = &taken;
      while (n < max && head_ != nullptr) {
        Pending* p = head_;
        head_ = p->next;
        p->next = nullptr;
        *last = p;
        last = &p->next;
        ++n;
      }
      if (head_ == nullptr) {
        tail_ = nullptr;
        uint64_t count;
        Retry([&] { return read(fd_, &count, sizeof(count)); });
      }
    }
    // Outside the lock: freeing a large bounce buffer must not stall other threads' pushes.
    for (size_t i = 0; taken != nullptr; ++i) {
      Pending* p = taken;
      taken = p->next;
      out[i] = sef_bridge_completion{};
      out[i].tag = p->tag;
      out[i].result = p->completion.result;
      out[i].status = p->completion.status.raw();
      delete p;
    }
    return n;
  }

 private:
  explicit CompletionQueue(int fd) : fd_(fd) {}

  const int fd_;
  std::mutex mu_;
  Pending* head_ ABSL_GUARDED_BY(mu_) = nullptr;
  Pending* tail_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace
}  // namespace sef::qemu_bridge

// The opaque handle of the C ABI.
struct sef_bridge_unit {
  // Declared first so it is destroyed last: the controller's destructor still completes
  // (aborts) parked commands into it.
  std::unique_ptr<sef::qemu_bridge::CompletionQueue> queue;
  std::unique_ptr<sef::model::Controller> controller;
  bool persistent = false;
};

namespace sef::qemu_bridge {
namespace {

// Copies `text` into a C buffer as one line: control characters become spaces, the result is
// truncated to fit and always NUL-terminated. Allocates nothing.
void WriteLine(char* err, size_t err_len, absl::string_view text, size_t at = 0) noexcept {
  if (err == nullptr || err_len == 0 || at >= err_len) return;
  size_t i = at;
  for (char ch : text) {
    if (i + 1 >= err_len) break;
    err[i++] = (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) ? ' ' : ch;
  }
  err[i] = '\0';
}

// THE conversion of an absl::Status into the C ABI's negative errno-style code and one-line
// message. Every int entry point returns through here.
int Report(const absl::Status& status, char* err, size_t err_len) noexcept {
  WriteLine(err, err_len, status.message());
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return -EINVAL;
    case absl::StatusCode::kNotFound:
      return -ENOENT;
    case absl::StatusCode::kPermissionDenied:
      return -EACCES;
    case absl::StatusCode::kFailedPrecondition:  // a backing file locked or of another config
    case absl::StatusCode::kAlreadyExists:
      return -EBUSY;
    case absl::StatusCode::kOutOfRange:
      return -E2BIG;
    case absl::StatusCode::kResourceExhausted:
      return -ENOMEM;
    case absl::StatusCode::kUnimplemented:
      return -ENOTSUP;
    default:  // DataLoss (corrupt backing file), Internal, Unknown, ...
      return -EIO;
  }
}

// Runs an entry point's body, which returns absl::Status, and converts the outcome. No
// exception escapes: they become -ENOMEM or -EIO with a message.
template <typename Body>
int Run(char* err, size_t err_len, Body&& body) noexcept {
  try {
    return Report(body(), err, err_len);
  } catch (const std::bad_alloc&) {
    WriteLine(err, err_len, "sef_bridge: out of memory");
    return -ENOMEM;
  } catch (const std::exception& e) {
    constexpr absl::string_view kPrefix = "sef_bridge: internal error: ";
    WriteLine(err, err_len, kPrefix);
    WriteLine(err, err_len, e.what(), kPrefix.size());
    return -EIO;
  } catch (...) {
    WriteLine(err, err_len, "sef_bridge: internal error (unknown exception)");
    return -EIO;
  }
}

// For entry points with nothing to return an error through (poll, tick, close): an exception
// is reported on stderr, the only channel left, and swallowed.
template <typename Body>
void RunVoid(const char* what, Body&& body) noexcept {
  try {
    body();
  } catch (...) {
    std::fputs(what, stderr);
    std::fputs(": internal error (exception swallowed at the C ABI)\n", stderr);
  }
}

absl::Status OpenUnit(const char* config_path, const char* backing_file, sef_bridge_unit** out) {
  if (out == nullptr) return absl::InvalidArgumentError("sef_bridge_open: `out` is NULL");
  *out = nullptr;
  if (config_path == nullptr || *config_path == '\0') {
    return absl::InvalidArgumentError("sef_bridge_open: no unit config path");
  }
  SEF_ASSIGN_OR_RETURN(model::UnitConfig config, model::LoadUnitConfig(config_path));
  auto unit = std::make_unique<sef_bridge_unit>();
  SEF_ASSIGN_OR_RETURN(unit->queue, CompletionQueue::Create());
  model::ControllerOptions options;
  options.config = std::move(config);
  if (backing_file != nullptr) options.backing_file = backing_file;
  unit->persistent = !options.backing_file.empty();
  SEF_ASSIGN_OR_RETURN(unit->controller, model::Controller::Open(std::move(options)));
  *out = unit.release();
  return absl::OkStatus();
}

// The commands whose data the model reads as an iovec list (the kernel's _IO_VEC ioctls).
bool ModelWantsIovecs(const Command& c) {
  return c.queue == QueueType::kIo &&
         (c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kNamelessWrite) ||
          c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kRead));
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

  if ((flags & SEF_BRIDGE_VECTORED) != 0) {
    if (in->data_len > SEF_BRIDGE_MAX_IOVECS) {
      return absl::InvalidArgumentError(absl::StrFormat("sef_bridge_submit: %u iovecs, at most %u",
                                                        in->data_len, SEF_BRIDGE_MAX_IOVECS));
    }
    const auto* iov = reinterpret_cast<const iovec*>(static_cast<uintptr_t>(in->addr));
    // Every entry is checked, also those the model reads in place (it would copy from NULL).
    for (uint32_t i = 0; i < in->data_len; ++i) {
      if (iov[i].iov_len != 0 && iov[i].iov_base == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrFormat("sef_bridge_submit: iovec %u has a length and no buffer", i));
      }
    }
    if (wants_iovecs) {
      c.vectored = true;  // sqe.vec_cnt (= data_len) already counts them
    } else {
      // Gather every entry, including for a device-to-host command, so that bytes the device
      // does not write keep their values when the buffer is scattered back.
      uint64_t total = 0;
      for (uint32_t i = 0; i < in->data_len; ++i) {
        total += iov[i].iov_len;
        if (total > SEF_BRIDGE_MAX_DATA_BYTES) {
          return absl::OutOfRangeError(absl::StrFormat(
              "sef_bridge_submit: the iovec list exceeds %u bytes", SEF_BRIDGE_MAX_DATA_BYTES));
        }
      }
      pending->bounce.resize(total);
      size_t offset = 0;
      for (uint32_t i = 0; i < in->data_len; ++i) {
        if (iov[i].iov_len == 0) continue;
        std::memcpy(pending->bounce.data() + offset, iov[i].iov_base, iov[i].iov_len);
        offset += iov[i].iov_len;
      }
      if (c.direction != DataDirection::kHostToDevice) {
        pending->scatter = iov;
        pending->scatter_count = in->data_len;
      }
      c.sqe.addr = total == 0 ? 0 : reinterpret_cast<uintptr_t>(pending->bounce.data());
      c.sqe.data_len = static_cast<uint32_t>(total);
    }
  } else if (wants_iovecs) {
    pending->wrap.iov_base = reinterpret_cast<void*>(static_cast<uintptr_t>(in->addr));
    pending->wrap.iov_len = in->data_len;
    c.sqe.addr = reinterpret_cast<uintptr_t>(&pending->wrap);
    c.sqe.vec_cnt = in->data_len == 0 ? 0 : 1;
    c.vectored = true;
  }

  // The model stores what it needs of `c` (a parked FAR keeps its decoded request, whose
  // buffers point into the host's memory or into `pending`); `pending` lives in the callback
  // until the model completes the command, then in the queue until polled.
  CompletionQueue* queue = unit->queue.get();
  unit->controller->Submit(
      c, [queue, pending = std::move(pending)](model::Completion done) mutable noexcept {
        pending->Finish(done);
        queue->Push(std::move(pending));
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
  const model::UnitConfig& c = unit->controller->config();
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

}  // namespace
}  // namespace sef::qemu_bridge

using sef::qemu_bridge::Run;
using sef::qemu_bridge::RunVoid;

extern "C" {

int sef_bridge_open(const char* unit_config_json_path, const char* backing_file_or_null,
                    sef_bridge_unit** out, char* err, size_t err_len) {
  if (out != nullptr) *out = nullptr;
  return Run(err, err_len, [&] {
    return sef::qemu_bridge::OpenUnit(unit_config_json_path, backing_file_or_null, out);
  });
}

void sef_bridge_close(sef_bridge_unit* unit) {
  RunVoid("sef_bridge_close", [&] {
    if (unit == nullptr) return;
    unit->controller.reset();  // aborts parked commands into the queue, releases the file
    delete unit;               // then the queue discards every unpolled completion
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
    if (unit != nullptr) unit->controller->Tick();
  });
}

void sef_bridge_reset(sef_bridge_unit* unit) {
  RunVoid("sef_bridge_reset", [&] {
    if (unit != nullptr) unit->controller->AbortOutstanding();
  });
}

int sef_bridge_unit_info(sef_bridge_unit* unit, sef_bridge_info* out) {
  return Run(nullptr, 0, [&] { return sef::qemu_bridge::UnitInfo(unit, out); });
}

}  // extern "C"
