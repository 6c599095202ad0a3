// How much data one NVMe passthrough command may carry through Linux's NVMe driver.
//
// The driver maps a passthrough command's user buffer page by page and merges physically
// adjacent pages into segments; a command needing more segments than the namespace queue's
// `max_segments` fails with EINVAL before it reaches the device. Whether N pages need N
// segments depends on where the kernel happened to put them (transparent huge pages make
// them contiguous; a fragmented guest does not), so a command of max_segments pages or more
// fails only sometimes. For a Nameless Write that means its Flash Address Request, already
// sent, waits on the device for a partner that never comes (30 s on the emulated unit).
// libsef caps a command at page_size x (max_segments - 1) bytes, which fits any buffer, page
// aligned or not; so do we.
#ifndef SEF_HAL_KERNEL_QUEUE_LIMITS_H_
#define SEF_HAL_KERNEL_QUEUE_LIMITS_H_

#include <cstdint>
#include <string>

namespace sef::hal::kernel {

// Linux's NVMe PCIe driver's cap on segments per command (NVME_MAX_SEGS, 127 in 6.1; 128 in
// later kernels). Used when sysfs shows no queue of the controller: a namespace of a command
// set the kernel does not know (SEF, CSI 0x30) has only its generic /dev/ngNnM, no block
// device and so no queue attributes.
inline constexpr uint32_t kDefaultMaxSegments = 127;

// The smallest `queue/max_segments` of the controller's block devices under
// `<sysfs>/class/nvme/nvme<instance>/`, or kDefaultMaxSegments when there is none (or none
// is readable). Never fails.
uint32_t MaxSegments(int controller_instance, const std::string& sysfs = "/sys");

// The most data bytes one passthrough command may carry: page_size x (max_segments - 1),
// at least one page.
uint64_t MaxPassthruBytes(uint32_t max_segments, uint64_t page_size);

}  // namespace sef::hal::kernel

#endif  // SEF_HAL_KERNEL_QUEUE_LIMITS_H_
