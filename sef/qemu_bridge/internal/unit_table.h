// The process-wide table of open SEF units: every bridge handle (an emulated controller, a
// disk) that names the same unit shares one open unit, so that several devices of one QEMU
// on one unit see one model controller and one backing file. A second process on a unit in
// use is refused by the backing file's lock (model units) or the device itself.
#ifndef SEF_QEMU_BRIDGE_INTERNAL_UNIT_TABLE_H_
#define SEF_QEMU_BRIDGE_INTERNAL_UNIT_TABLE_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sef/base/mutex.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/hal.h"
#include "sef/hal/model/controller.h"
#include "sef/units/units.h"

namespace sef::qemu_bridge {

// One open unit. Thread-safe.
class SharedUnit {
 public:
  SharedUnit(const SharedUnit&) = delete;
  SharedUnit& operator=(const SharedUnit&) = delete;
  ~SharedUnit();  // closes the HAL unit, then the controller (flushing a backing file)

  // How the name resolved, for messages ("unit 0 (the embedded default unit, ...)").
  const std::string& description() const { return resolved_.description; }
  // The model controller of a model unit; nullptr for a unit on the host.
  const std::shared_ptr<model::Controller>& controller() const { return controller_; }
  hal::Unit& hal() { return *hal_; }
  // False for a model unit in RAM (its state ends with the process).
  bool persistent() const { return key_.rfind("ram:", 0) != 0; }

  // One device per QoS domain: Claim fails with AlreadyExists naming the unit, the domain
  // and who holds it.
  absl::Status ClaimDomain(QosDomainId domain, std::string_view user);
  void ReleaseDomain(QosDomainId domain);

 private:
  friend absl::StatusOr<std::shared_ptr<SharedUnit>> AcquireUnit(std::string_view name);
  SharedUnit() = default;

  units::ResolvedUnit resolved_;
  std::string key_;
  std::shared_ptr<model::Controller> controller_;  // declared before hal_: destroyed after it
  std::unique_ptr<hal::Unit> hal_;
  Mutex mu_;
  std::map<uint16_t, std::string> domains_ ABSL_GUARDED_BY(mu_);
};

// The open unit `name` (a unit number or spec, units.h) names: the one already open in this
// process, or a newly opened one (resolved with the process's environment, prepared, opened
// and, for the embedded default unit, provisioned). It closes when the last pointer goes.
// Errors: units::Resolve's and the unit's open errors, prefixed with how it was found.
absl::StatusOr<std::shared_ptr<SharedUnit>> AcquireUnit(std::string_view name);

}  // namespace sef::qemu_bridge

#endif  // SEF_QEMU_BRIDGE_INTERNAL_UNIT_TABLE_H_
