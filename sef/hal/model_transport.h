// The device-model backend of the HAL: a Transport over an in-process model::Controller.
//
// Unit::Open("model:<config>[:<backing>]") opens one through the backend table. Embedders
// that drive the same controller themselves make one here and open a Unit over it: the QEMU
// bridge (an emulated SEF controller and HAL-based disks on one unit in one process), and
// tests that cut the controller's power between two Units (sef/hal/testing).
//
// Events come from the controller's in-process observers (model::Controller::
// AddEventObserver), never from Asynchronous Event Requests: a HAL unit consumes no event,
// so the controller's other users see theirs.
//
// Thread-safety: as every Transport.
#ifndef SEF_HAL_MODEL_TRANSPORT_H_
#define SEF_HAL_MODEL_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/transport.h"

namespace sef::hal {

// A transport over `controller`, which others may also submit to. `name` is for messages.
// The controller stays alive at least as long as the transport.
std::unique_ptr<Transport> MakeModelTransport(std::shared_ptr<model::Controller> controller,
                                              std::string name,
                                              const TransportOptions& options = {});

// `rest` is what follows "model:": <config.json> or <config.json>:<backing file>.
// Errors: the config's and the backing file's (model::Controller::Open), naming the file.
absl::StatusOr<std::unique_ptr<Transport>> OpenModelTransport(const std::string& rest,
                                                              const TransportOptions& options);

// The controller OpenModelTransport opens for `rest`, for an embedder that drives it too and
// opens Units over it with MakeModelTransport (the QEMU bridge: one controller per unit,
// shared by its emulated controller and its disks). Errors as OpenModelTransport.
absl::StatusOr<std::shared_ptr<model::Controller>> OpenModelController(const std::string& rest);

}  // namespace sef::hal

#endif  // SEF_HAL_MODEL_TRANSPORT_H_
