// Fuzz target: the unit configuration parser (ParseUnitConfig) on any text, and a RAM unit
// opened on every configuration it accepts.
//
// Checked beyond "no crash, no sanitizer report, no leak": a rejection is InvalidArgument with
// a message; an accepted config validates, its canonical JSON (UnitConfigToJson) parses back
// to the same JSON, and Controller::Open either opens a unit on it or returns an error (a
// configuration too large to emulate is an error, not an allocation failure).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sef/base/testing/fuzz.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model/unit_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<sef::model::UnitConfig> config = sef::model::ParseUnitConfig(text);
  if (!config.ok()) {
    SEF_FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument &&
                       !config.status().message().empty(),
                   "unexpected rejection: %s", config.status().ToString().c_str());
    return 0;
  }
  SEF_FUZZ_CHECK(config->Validate().ok(), "parsed but invalid: %s",
                 config->Validate().ToString().c_str());
  const std::string canonical = sef::model::UnitConfigToJson(*config);
  absl::StatusOr<sef::model::UnitConfig> again = sef::model::ParseUnitConfig(canonical);
  SEF_FUZZ_CHECK(again.ok(), "the canonical JSON does not parse: %s\n%s",
                 again.status().ToString().c_str(), canonical.c_str());
  SEF_FUZZ_CHECK(sef::model::UnitConfigToJson(*again) == canonical,
                 "the canonical JSON changes when parsed again:\n%s", canonical.c_str());
  absl::StatusOr<std::unique_ptr<sef::model::Controller>> unit =
      sef::model::Controller::Open({.config = *config});
  SEF_FUZZ_CHECK(unit.ok() || !unit.status().message().empty(), "Open failed without a message");
  return 0;
}
