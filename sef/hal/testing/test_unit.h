// A model-backed HAL unit for the tests of the HAL and of the layers above it (FTL, ZNS,
// the QEMU bridge's disks): the real device model with an injected clock, shuffled
// completions when asked, a fault-injecting transport, and power cuts.
//
//   absl::StatusOr<std::unique_ptr<TestUnit>> t = TestUnit::Open({.config = "tiny"});
//   absl::StatusOr<QosDomainId> d = (*t)->Provision({.capacity_adus = 1024});
//   ... (*t)->unit().OpenQosDomain(*d) ...
//   (*t)->controller().CutPowerAfter(100, seed);   // or PowerCut(seed) now
//   ... the workload fails from the cut on; destroy its QosDomains ...
//   (*t)->Restart();                                 // power on, a new Unit
//
// Thread-safety: unit() as Unit; the rest from the test thread.
#ifndef SEF_HAL_TESTING_TEST_UNIT_H_
#define SEF_HAL_TESTING_TEST_UNIT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sef/base/clock.h"
#include "sef/hal/hal.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model/unit_config.h"
#include "sef/hal/testing/fault_transport.h"

namespace sef::hal::testing {

struct TestUnitOptions {
  // testdata/units/<config>.json, relative to the test's working directory (list
  // //testdata:units in the test's data).
  std::string config = "tiny";
  // Changes to the loaded configuration before the unit opens (e.g. its write cache).
  std::function<void(model::UnitConfig&)> edit_config;
  std::string backing_file;  // empty: RAM
  Clock* clock = nullptr;    // nullptr: the real clock
  TransportOptions transport;
  NotificationCallback on_notification;  // given to every Unit opened
};

// One virtual device over all dies, and QoS domains on it.
struct ProvisionOptions {
  uint16_t dies_per_super_block = 0;  // 0: all dies
  uint64_t capacity_adus = 0;         // 0: the whole VD
  uint16_t placement_ids = 2;
  uint16_t max_open_super_blocks = 4;
};

class TestUnit {
 public:
  static absl::StatusOr<std::unique_ptr<TestUnit>> Open(TestUnitOptions options = {});
  // REQUIRES: every QosDomain of unit() is destroyed.
  ~TestUnit();

  Unit& unit() { return *unit_; }
  model::Controller& controller() { return *controller_; }
  const model::UnitConfig& config() const { return controller_->config(); }
  // The fault rule for every command unit() sends (see fault_transport.h).
  void SetFaultRule(FaultRule rule) { faults_->SetRule(std::move(rule)); }

  // Creates the virtual device if there is none yet, then a QoS domain.
  absl::StatusOr<QosDomainId> Provision(const ProvisionOptions& options = {});

  // Replaces unit() by a new Unit over the same controller, as a host that restarts does.
  // If the controller is off after a power cut, powers it on first. REQUIRES: every
  // QosDomain of the old unit() is destroyed.
  absl::Status Restart();

 private:
  TestUnit() = default;
  absl::Status OpenUnit();

  TestUnitOptions options_;
  std::shared_ptr<model::Controller> controller_;
  FaultTransport* faults_ = nullptr;  // owned by unit_
  std::unique_ptr<Unit> unit_;
};

}  // namespace sef::hal::testing

#endif  // SEF_HAL_TESTING_TEST_UNIT_H_
