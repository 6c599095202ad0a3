// The device-model backend of the HAL: a Transport over an in-process model::Controller.
// Internal to //sef/hal; reached through OpenTransport("model:...").
#ifndef SEF_HAL_INTERNAL_MODEL_TRANSPORT_H_
#define SEF_HAL_INTERNAL_MODEL_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sef/hal/transport.h"

namespace sef::hal::internal {

// `rest` is what follows "model:": <config.json> or <config.json>:<backing file>.
absl::StatusOr<std::unique_ptr<Transport>> OpenModelTransport(const std::string& rest);

}  // namespace sef::hal::internal

#endif  // SEF_HAL_INTERNAL_MODEL_TRANSPORT_H_
