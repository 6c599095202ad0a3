// The canonical status of one transport result (hal.h, "Errors").
#ifndef SEF_HAL_INTERNAL_STATUS_OF_H_
#define SEF_HAL_INTERNAL_STATUS_OF_H_

#include "absl/status/status.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/transport.h"

namespace sef::hal::internal {

// OK; the OS error with the command named; or ToStatus of the device's status (which then
// carries it as a payload: NvmeStatusOf).
absl::Status StatusOf(const TransportResult& r, const Command& c);

}  // namespace sef::hal::internal

#endif  // SEF_HAL_INTERNAL_STATUS_OF_H_
