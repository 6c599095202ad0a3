// The backend interface of the HAL: something that carries encoded SEF commands to a unit
// and brings back completions. Two implementations exist: the kernel (libnvme admin ioctls
// on /dev/nvmeN, io_uring URING_CMD on /dev/ngNnM) and the in-process device model. The HAL
// API (hal.h) is written against this interface only; a backend is chosen at open time from
// an explicit table (OpenTransport).
//
// Thread-safety: every method may be called from any number of threads at once.
#ifndef SEF_HAL_TRANSPORT_H_
#define SEF_HAL_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sef/base/mutex.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"

namespace sef::hal {

// How one command ended. The two error channels stay apart: `os` is an operating-system or
// transport failure (the command may not have reached the device); `nvme` is the device's
// completion status, kept as the device sent it.
struct TransportResult {
  absl::Status os;
  NvmeStatus nvme;
  uint64_t result = 0;  // CQE DW1:DW0

  bool ok() const { return os.ok() && nvme.ok(); }
};

using TransportCallback = absl::AnyInvocable<void(TransportResult) &&>;

// One SEF asynchronous event.
struct TransportEvent {
  uint32_t dw0 = 0;  // the AEN completion DW0 (cmd::AsyncEvent: type, info, log id)
  // Set when the backend already knows the event's contents (the in-process model): the
  // entry log 0xD3 would report for an SB event, or the VD and its critical warning bits.
  std::optional<wire::SbInfoLog> sb_info;
  std::optional<std::pair<VirtualDeviceId, uint8_t>> vd_warning;
};

// A one-shot event a synchronous caller waits for (Transport::RunAndWait): Notify once, from
// any thread; Wait blocks until then. Thread-safe.
class SyncWaiter {
 public:
  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
    cv_.SignalAll();  // under the lock: the waiter may destroy *this as soon as it returns
  }
  bool notified() {
    MutexLock lock(&mu_);
    return notified_;
  }
  void Wait() {
    MutexLock lock(&mu_);
    while (!notified_) cv_.Wait(&mu_);
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // A name for messages: "/dev/nvme0" or "model:testdata/units/tiny.json".
  virtual const std::string& name() const = 0;

  // Submits one command. `done` runs exactly once, possibly on a backend thread, possibly
  // before Submit returns. REQUIRES: the buffers `c` references stay valid until `done`.
  virtual void Submit(const Command& c, TransportCallback done) = 0;

  // Submits the two halves of a FAR+NLW or NLC+GCR pair so that they reach the device back
  // to back, `first` first (spec §1.10). Each completes through its own callback.
  virtual void SubmitPair(const Command& first, TransportCallback first_done, const Command& second,
                          TransportCallback second_done) = 0;

  // The synchronous form: runs `start` on the calling thread (it submits commands through
  // this transport, from this thread; their callbacks, directly or through other code,
  // eventually call waiter.Notify()) and returns once `waiter` has been notified and every
  // command submitted from this thread inside the call has completed. A backend may keep
  // those commands to the calling thread and run their callbacks on it while it waits (the
  // kernel backend submits them on a ring of the calling thread and reaps it there, as a
  // synchronous io_uring user does, so a command costs one wake-up of one thread instead of
  // three across two); callbacks they submit from there are kept the same way. The default
  // runs start() and waits. REQUIRES: not called from a completion callback.
  virtual void RunAndWait(absl::FunctionRef<void()> start, SyncWaiter& waiter) {
    start();
    waiter.Wait();
  }

  // Starts delivering SEF asynchronous events to `on_event`, on a backend thread, until the
  // transport is destroyed. At most one watcher. The kernel backend listens for the NVMe
  // driver's NVME_AEN uevents (the HAL then reads the log each names, which consumes the
  // event on the device); the model backend observes the controller in process and hands
  // over each event's contents (nothing is consumed, so other users of the same controller,
  // such as a guest's driver, still get their own AENs). `on_event` must not block.
  virtual absl::Status WatchEvents(absl::AnyInvocable<void(const TransportEvent&)> on_event) = 0;

  // True when events come only as AEN DW0s whose logs the HAL must read, and when events
  // left from an earlier session may be pending on the device (the HAL drains them first).
  virtual bool events_need_log_reads() const { return true; }

  // The most data bytes one command may carry on this path, beyond the device's own limit
  // (Identify MDTS), or 0 for none. The kernel backend: Linux maps a passthrough command's
  // user buffer into at most `max_segments` physically contiguous runs and refuses a longer
  // one with EINVAL, so a buffer of N pages fits only if its pages happen to be contiguous
  // (docs/hal-kernel.md, "Transfer size").
  virtual uint64_t max_data_bytes_per_command() const { return 0; }

  // Called after a QoS domain was created, deleted, attached or detached, so that a backend
  // that reaches namespaces through the OS can refresh its view (kernel: /dev/ngNnM).
  virtual absl::Status NamespacesChanged() { return absl::OkStatus(); }
};

// The backend table. `spec` is one of
//   model:<config.json>                 a device model in RAM
//   model:<config.json>:<backing file>  a device model on a backing file
//   /dev/nvmeN                          the kernel's NVMe driver
// (A transport over a model controller the caller also holds: sef/hal/model_transport.h.)
// Errors: InvalidArgument for a spec no backend accepts (the message lists the forms),
// otherwise the backend's own open error.
// How the model backend hands completions back.
enum class CompletionOrder {
  // On the submitting thread, before Submit returns (a pair's first half on the thread of
  // its second). Fast and deterministic.
  kInline,
  // On one completion thread of the transport, in a seeded random order among those
  // waiting (pairs included): what the kernel's io_uring reaper may do. Upper layers run
  // their tests in this mode too, so that they meet the kernel's behaviour on the model.
  kShuffled,
};

struct TransportOptions {
  // Kernel backend: use NVME_IOCTL_IO64_CMD instead of io_uring URING_CMD for I/O.
  bool force_ioctl = false;
  // Model backend.
  CompletionOrder completion_order = CompletionOrder::kInline;
  uint64_t shuffle_seed = 1;
};
absl::StatusOr<std::unique_ptr<Transport>> OpenTransport(const std::string& spec,
                                                         const TransportOptions& options = {});

}  // namespace sef::hal

#endif  // SEF_HAL_TRANSPORT_H_
