#include "sef/hal/model/testing/invariants.h"

#include "sef/hal/model/internal/model.h"

namespace sef::model::testing {

absl::Status CheckModelInvariants(Controller& unit) {
  auto* model = dynamic_cast<internal::Model*>(&unit);
  if (model == nullptr) return absl::InvalidArgumentError("not a device model unit");
  return model->CheckInvariants();
}

}  // namespace sef::model::testing
