// Fuzz target: the device model, stateful. An input is a sequence of up to 200 operations
// (sef/hal/model/testing/fuzz_driver.h: admin and I/O commands built from the input's bytes,
// FAR/NLW and NLC/GCR halves on their own, mutated commands, raw submission entries, time,
// controller resets) run against one fresh RAM unit (FuzzUnitConfig: small, so that SBs fill,
// domains reach their quotas and VDs run out of SBs within a few operations).
//
// Checked beyond "no crash, no sanitizer report, no leak": the model's invariants after every
// operation (testing/invariants.h), every command completing exactly once (also those still
// waiting when the unit closes), and every failure carrying DNR.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "sef/base/clock.h"
#include "sef/base/testing/fuzz.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model/testing/fuzz_driver.h"
#include "sef/hal/model/testing/invariants.h"

namespace {
constexpr int kMaxOperations = 200;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const sef::model::UnitConfig* const config =
      new sef::model::UnitConfig(sef::model::testing::FuzzUnitConfig());
  sef::testing::FuzzTape tape(data, size);
  sef::FakeClock clock;
  absl::StatusOr<std::unique_ptr<sef::model::Controller>> unit =
      sef::model::Controller::Open({.config = *config, .clock = &clock});
  SEF_FUZZ_CHECK(unit.ok(), "%s", unit.status().ToString().c_str());
  sef::model::testing::ModelFuzzDriver driver(**unit, *config, clock);
  for (int i = 0; i < kMaxOperations && !tape.empty(); ++i) {
    driver.Step(tape);
    const absl::Status s = sef::model::testing::CheckModelInvariants(**unit);
    SEF_FUZZ_CHECK(s.ok(), "after operation %d: %s", i, s.ToString().c_str());
  }
  unit->reset();
  driver.CheckCompletions();
  return 0;
}
