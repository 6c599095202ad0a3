// Per-command decoders, one per request type. codec.cc dispatches to them by opcode, CNS,
// LID, FID/SEL or operation. Each REQUIRES that the dispatch already matched its command.
#ifndef SEF_HAL_CMD_INTERNAL_DECODERS_H_
#define SEF_HAL_CMD_INTERNAL_DECODERS_H_

#include "absl/status/statusor.h"
#include "sef/hal/cmd/codec.h"

namespace sef::cmd::internal {

// Identify (by CNS) and Get Log Page (by LID): identify_log_codec.cc
absl::StatusOr<AdminRequest> DecodeIdentify(const Command& c);
absl::StatusOr<AdminRequest> DecodeGetLogPage(const Command& c);
// Set/Get Features, NS Management, NS Attachment, Capacity Management: features_codec.cc
absl::StatusOr<AdminRequest> DecodeSetFeatures(const Command& c);
absl::StatusOr<AdminRequest> DecodeGetFeatures(const Command& c);
absl::StatusOr<AdminRequest> DecodeNamespaceManagement(const Command& c);
absl::StatusOr<AdminRequest> DecodeNamespaceAttachment(const Command& c);
absl::StatusOr<AdminRequest> DecodeCapacityManagement(const Command& c);
// I/O commands: io_codec.cc
absl::StatusOr<SuperBlockManagementRequest> DecodeSuperBlockManagement(const Command& c,
                                                                       const DomainFormat& f);
absl::StatusOr<FlashAddressRequest> DecodeFlashAddressRequest(const Command& c,
                                                              const DomainFormat& f);
absl::StatusOr<NamelessWriteRequest> DecodeNamelessWrite(const Command& c, const DomainFormat& f);
absl::StatusOr<ReadRequest> DecodeRead(const Command& c, const DomainFormat& f);
absl::StatusOr<NamelessCopyRequest> DecodeNamelessCopy(const Command& c, const DomainFormat& f);
absl::StatusOr<GetCopyResultRequest> DecodeGetCopyResult(const Command& c, const DomainFormat& f);

}  // namespace sef::cmd::internal

#endif  // SEF_HAL_CMD_INTERNAL_DECODERS_H_
