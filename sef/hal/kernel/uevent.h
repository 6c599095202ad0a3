// The NVMe driver's asynchronous-event uevents. When a controller completes an Asynchronous
// Event Request the kernel does not handle itself, it sends a kobject "change" uevent for
// the controller device with NVME_AEN=<completion DW0> (printf "%#08x"), e.g.
//
//   change@/devices/pci0000:00/0000:00:04.0/nvme/nvme0\0ACTION=change\0
//   DEVPATH=/devices/pci0000:00/0000:00:04.0/nvme/nvme0\0SUBSYSTEM=nvme\0NVME_AEN=0xd34006\0
//   MAJOR=241\0MINOR=0\0DEVNAME=nvme0\0SEQNUM=4242\0
//
// Thread-safety: ParseAenUevent is pure. UeventWatcher: see the class.
#ifndef SEF_HAL_KERNEL_UEVENT_H_
#define SEF_HAL_KERNEL_UEVENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace sef::hal::kernel {

// Parses one NETLINK_KOBJECT_UEVENT datagram (NUL-separated KEY=VALUE fields, optionally
// after an "action@devpath" header). Returns the NVME_AEN value when the message has
// ACTION=change, SUBSYSTEM=nvme (when present), belongs to `controller` ("nvme0": DEVNAME
// equals it, or, when DEVNAME is absent, DEVPATH ends in "/nvme0") and carries an NVME_AEN that is
// a hexadecimal 32-bit number ("0x" optional). Anything else, including malformed input, is
// nullopt.
std::optional<uint32_t> ParseAenUevent(std::string_view message, std::string_view controller);

// A thread that receives every kernel uevent (a NETLINK_KOBJECT_UEVENT socket bound to the
// kernel's multicast group 1; messages from any other sender are dropped) and passes each
// datagram to `on_message` on that thread. Receiving needs no privilege; a process outside
// the initial network namespace receives no device uevents. Messages the socket dropped
// because its buffer was full (ENOBUFS) are lost.
//
// Thread-safety: the destructor wakes the thread (eventfd), joins it and returns after
// `on_message` has run for the last time. REQUIRES: not destroyed from `on_message`.
class UeventWatcher {
 public:
  // Errors: the socket, bind or eventfd failure as ErrnoStatus naming `what` (e.g. the
  // controller's path).
  static absl::StatusOr<std::unique_ptr<UeventWatcher>> Start(
      absl::AnyInvocable<void(std::string_view message)> on_message, std::string_view what);
  UeventWatcher(const UeventWatcher&) = delete;
  UeventWatcher& operator=(const UeventWatcher&) = delete;
  ~UeventWatcher();

 private:
  UeventWatcher(int socket, int wake);
  void Loop(absl::AnyInvocable<void(std::string_view message)> on_message);

  const int socket_;
  const int wake_;  // eventfd
  std::thread thread_;
};

}  // namespace sef::hal::kernel

#endif  // SEF_HAL_KERNEL_UEVENT_H_
