// The backend interface of the HAL: something that carries encoded SEF commands to a unit
// and brings back completions. Two implementations exist: the kernel (libnvme admin ioctls
// on /dev/nvmeN, io_uring URING_CMD on /dev/ngNnM) and the in-process device model. The HAL
// API (hal.h) is written against this interface only; a backend is chosen at open time from
// an explicit table (OpenTransport).
//
// Thread-safety: every method may be called from any number of threads at once.
#ifndef SEF_HAL_TRANSPORT_H_
#define SEF_HAL_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sef/hal/cmd/command.h"

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

  // Starts delivering SEF asynchronous events: `on_event` receives each AEN completion
  // DW0 (AET/AEI/LID, see cmd::AsyncEvent), on a backend thread, until the transport is
  // destroyed. The model backend keeps Asynchronous Event Requests outstanding; the kernel
  // backend listens for the NVMe driver's NVME_AEN uevents. At most one watcher.
  virtual absl::Status WatchEvents(absl::AnyInvocable<void(uint32_t)> on_event) = 0;

  // Called after a QoS domain was created, deleted, attached or detached, so that a backend
  // that reaches namespaces through the OS can refresh its view (kernel: /dev/ngNnM).
  virtual absl::Status NamespacesChanged() { return absl::OkStatus(); }
};

// The backend table. `spec` is one of
//   model:<config.json>                 a device model in RAM
//   model:<config.json>:<backing file>  a device model on a backing file
//   /dev/nvmeN                          the kernel's NVMe driver
// Errors: InvalidArgument for a spec no backend accepts (the message lists the forms),
// otherwise the backend's own open error.
struct TransportOptions {
  // Kernel backend: use NVME_IOCTL_IO64_CMD instead of io_uring URING_CMD for I/O.
  bool force_ioctl = false;
};
absl::StatusOr<std::unique_ptr<Transport>> OpenTransport(const std::string& spec,
                                                         const TransportOptions& options = {});

}  // namespace sef::hal

#endif  // SEF_HAL_TRANSPORT_H_
