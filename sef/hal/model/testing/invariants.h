// Test only: the device model's own invariants, for fuzz targets and tests.
//
//   SEF_FUZZ_CHECK(CheckModelInvariants(*unit).ok(), ...);
//
// Checked: free lists (exactly the free SBs, once each), SB records (owner, VD, id, state,
// capacity, write pointer = leading written ADUs, the copy stored on the media), the open SB of
// each placement id, per-domain counters (SBs owned and open, plane pages used, within quota),
// capacity handed to domains within the VD's, pSLC SBs in use, critical warnings, read FIFO
// attachments and the stored domain records.
#ifndef SEF_HAL_MODEL_TESTING_INVARIANTS_H_
#define SEF_HAL_MODEL_TESTING_INVARIANTS_H_

#include "absl/status/status.h"
#include "sef/hal/model/controller.h"

namespace sef::model::testing {

// OK, or Internal naming the first broken invariant. REQUIRES: `unit` came from
// Controller::Open and no command runs on it concurrently.
absl::Status CheckModelInvariants(Controller& unit);

}  // namespace sef::model::testing

#endif  // SEF_HAL_MODEL_TESTING_INVARIANTS_H_
