// Test helper. A request whose encoder fills a payload buffer (capacity configuration, copy
// source) may hand over a buffer larger than the structure; the command transfers only the
// structure, so the request the device decodes names exactly those bytes. TransferredPart
// returns the request as the decoder will see it.
#ifndef SEF_HAL_CMD_TESTING_TRANSFERRED_PART_H_
#define SEF_HAL_CMD_TESTING_TRANSFERRED_PART_H_

#include "sef/hal/cmd/codec.h"

namespace sef::cmd {

inline AdminRequest TransferredPart(AdminRequest r, const Command& c) {
  if (auto* s = std::get_if<SetCapacityConfigRequest>(&r)) s->payload.size = c.sqe.data_len;
  return r;
}

inline IoRequest TransferredPart(IoRequest r, const Command& c) {
  if (auto* n = std::get_if<NamelessCopyRequest>(&r)) n->payload.size = c.sqe.data_len;
  return r;
}

}  // namespace sef::cmd

#endif  // SEF_HAL_CMD_TESTING_TRANSFERRED_PART_H_
