// Dispatch: variant encoders, the two decoders the device side runs, command names.
#include "sef/hal/cmd/codec.h"

#include <variant>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/internal/decoders.h"
#include "sef/hal/cmd/internal/fields.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {

using internal::Get;
using wire::AdminOpcode;
using wire::IoOpcode;

absl::StatusOr<Command> Encode(const AdminRequest& r) {
  return std::visit([](const auto& request) { return Encode(request); }, r);
}

absl::StatusOr<Command> Encode(const IoRequest& r, const DomainFormat& f) {
  return std::visit([&f](const auto& request) { return Encode(request, f); }, r);
}

absl::StatusOr<AdminRequest> DecodeAdmin(const Command& c) {
  if (c.queue != QueueType::kAdmin) {
    return internal::Invalid("opcode 0x%02x arrived on an I/O queue, not the admin queue",
                             c.opcode());
  }
  switch (static_cast<AdminOpcode>(c.opcode())) {
    case AdminOpcode::kIdentify:
      return internal::DecodeIdentify(c);
    case AdminOpcode::kGetLogPage:
      return internal::DecodeGetLogPage(c);
    case AdminOpcode::kSetFeatures:
      return internal::DecodeSetFeatures(c);
    case AdminOpcode::kGetFeatures:
      return internal::DecodeGetFeatures(c);
    case AdminOpcode::kNamespaceManagement:
      return internal::DecodeNamespaceManagement(c);
    case AdminOpcode::kNamespaceAttachment:
      return internal::DecodeNamespaceAttachment(c);
    case AdminOpcode::kCapacityManagement:
      return internal::DecodeCapacityManagement(c);
    case AdminOpcode::kAsyncEventRequest:
      break;  // completed by the controller later, not decoded into a request
  }
  return internal::Unimplemented("admin opcode 0x%02x is not part of the SEF command set",
                                 c.opcode());
}

namespace {
template <typename T>
absl::StatusOr<IoRequest> Widen(absl::StatusOr<T> r) {
  if (!r.ok()) return r.status();
  return IoRequest(*std::move(r));
}
}  // namespace

absl::StatusOr<IoRequest> DecodeIo(const Command& c, const DomainFormat& f) {
  if (c.queue != QueueType::kIo) {
    return internal::Invalid("opcode 0x%02x arrived on the admin queue, not an I/O queue",
                             c.opcode());
  }
  switch (static_cast<IoOpcode>(c.opcode())) {
    case IoOpcode::kSuperBlockManagement:
      return Widen(internal::DecodeSuperBlockManagement(c, f));
    case IoOpcode::kFlashAddressRequest:
      return Widen(internal::DecodeFlashAddressRequest(c, f));
    case IoOpcode::kNamelessWrite:
      return Widen(internal::DecodeNamelessWrite(c, f));
    case IoOpcode::kRead:
      return Widen(internal::DecodeRead(c, f));
    case IoOpcode::kNamelessCopy:
      return Widen(internal::DecodeNamelessCopy(c, f));
    case IoOpcode::kGetCopyResult:
      return Widen(internal::DecodeGetCopyResult(c, f));
  }
  return internal::Unimplemented("I/O opcode 0x%02x is not part of the SEF command set",
                                 c.opcode());
}

std::string DescribeCommand(const Command& c) {
  if (c.queue == QueueType::kIo) {
    switch (static_cast<IoOpcode>(c.opcode())) {
      case IoOpcode::kSuperBlockManagement:
        return absl::StrFormat("Super Block Management op %d nsid %u", Get(c.sqe.cdw11, 19, 16),
                               c.nsid());
      case IoOpcode::kFlashAddressRequest:
        return absl::StrFormat("Flash Address Request nsid %u", c.nsid());
      case IoOpcode::kNamelessWrite:
        return absl::StrFormat("Nameless Write nsid %u", c.nsid());
      case IoOpcode::kRead:
        return absl::StrFormat("Read nsid %u", c.nsid());
      case IoOpcode::kNamelessCopy:
        return absl::StrFormat("Nameless Copy nsid %u", c.nsid());
      case IoOpcode::kGetCopyResult:
        return absl::StrFormat("Get Copy Result nsid %u", c.nsid());
    }
    return absl::StrFormat("I/O opcode 0x%02x nsid %u", c.opcode(), c.nsid());
  }
  switch (static_cast<AdminOpcode>(c.opcode())) {
    case AdminOpcode::kIdentify:
      return absl::StrFormat("Identify CNS 0x%02x", Get(c.sqe.cdw10, 7, 0));
    case AdminOpcode::kGetLogPage:
      return absl::StrFormat("Get Log Page 0x%02X", Get(c.sqe.cdw10, 7, 0));
    case AdminOpcode::kSetFeatures:
      return absl::StrFormat("Set Features 0x%02X SEL %u", Get(c.sqe.cdw10, 7, 0),
                             Get(c.sqe.cdw11, 3, 0));
    case AdminOpcode::kGetFeatures:
      return absl::StrFormat("Get Features 0x%02X SEL %u", Get(c.sqe.cdw10, 7, 0),
                             Get(c.sqe.cdw11, 3, 0));
    case AdminOpcode::kNamespaceManagement:
      return Get(c.sqe.cdw10, 3, 0) == 0
                 ? "NS Management create"
                 : absl::StrFormat("NS Management delete nsid %u", c.nsid());
    case AdminOpcode::kNamespaceAttachment:
      return absl::StrFormat("NS %s nsid %u", Get(c.sqe.cdw10, 3, 0) == 0 ? "Attach" : "Detach",
                             c.nsid());
    case AdminOpcode::kCapacityManagement:
      return absl::StrFormat("Capacity Management config %u", Get(c.sqe.cdw10, 31, 16));
    case AdminOpcode::kAsyncEventRequest:
      return "Asynchronous Event Request";
  }
  return absl::StrFormat("admin opcode 0x%02x", c.opcode());
}

}  // namespace sef::cmd
