// Test access to the kernel backend without an NVMe device. Not for production code.
#ifndef SEF_HAL_KERNEL_KERNEL_TRANSPORT_FOR_TESTING_H_
#define SEF_HAL_KERNEL_KERNEL_TRANSPORT_FOR_TESTING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sef/hal/transport.h"

namespace sef::hal::kernel {

// A kernel transport whose "controller" is `controller_path` and whose namespaces are the
// files in `namespaces` (NSID -> path), all opened O_RDWR, with none of OpenKernelTransport's
// device checks. The namespace map is fixed: NamespacesChanged and lookups never rescan
// /dev. `controller_instance` names the controller "nvme<instance>" for event filtering.
// Errors: the open failures, as ErrnoStatus.
absl::StatusOr<std::unique_ptr<Transport>> OpenKernelTransportForTesting(
    const std::string& controller_path, int controller_instance,
    const std::map<uint32_t, std::string>& namespaces, const TransportOptions& options);

}  // namespace sef::hal::kernel

#endif  // SEF_HAL_KERNEL_KERNEL_TRANSPORT_FOR_TESTING_H_
