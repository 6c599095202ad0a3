#include "sef/hal/cmd/types.h"

#include <ios>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace sef {

absl::Status AddressFormat::Validate() const {
  // Both fields travel in 32-bit command dwords (SBM CDW10, log LPOL), hence the 32-bit cap.
  if (sb_bits < 1 || sb_bits > 32) {
    return absl::InvalidArgumentError(
        absl::StrFormat("super block id width %d is outside 1..32 bits", sb_bits));
  }
  if (adu_offset_bits < 1 || adu_offset_bits > 32) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ADU offset width %d is outside 1..32 bits", adu_offset_bits));
  }
  if (sb_bits + adu_offset_bits > 48) {
    return absl::InvalidArgumentError(
        absl::StrFormat("super block id width %d plus ADU offset width %d exceed 48 bits", sb_bits,
                        adu_offset_bits));
  }
  return absl::OkStatus();
}

absl::StatusOr<FlashAddress> FlashAddress::Make(QosDomainId domain, SuperBlockId sb,
                                                AduOffset offset, const AddressFormat& format) {
  if (absl::Status s = format.Validate(); !s.ok()) return s;
  if (sb.value() > format.max_super_block_id()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("super block id %u is wider than the virtual device's %d-bit field",
                        sb.value(), format.sb_bits));
  }
  if (offset.value() > format.max_adu_offset()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ADU offset %u is wider than the virtual device's %d-bit field",
                        offset.value(), format.adu_offset_bits));
  }
  return FlashAddress((uint64_t{domain.value()} << 48) |
                      (uint64_t{sb.value()} << format.adu_offset_bits) | offset.value());
}

SuperBlockId FlashAddress::super_block(const AddressFormat& format) const {
  return SuperBlockId(
      static_cast<uint32_t>((low48() >> format.adu_offset_bits) & format.max_super_block_id()));
}

AduOffset FlashAddress::adu_offset(const AddressFormat& format) const {
  return AduOffset(static_cast<uint32_t>(raw_ & format.max_adu_offset()));
}

std::ostream& operator<<(std::ostream& os, FlashAddress a) {
  return os << absl::StrFormat("fla:0x%016x", a.raw());
}

absl::StatusOr<UserAddress> UserAddress::Make(Lba lba, uint32_t tag) {
  if (lba.value() > kMaxLba) {
    return absl::InvalidArgumentError(
        absl::StrFormat("LBA %u does not fit in a user address's 40 bits", lba.value()));
  }
  if (tag > kMaxTag) {
    return absl::InvalidArgumentError(
        absl::StrFormat("user address tag 0x%x does not fit in 24 bits", tag));
  }
  return UserAddress((uint64_t{tag} << kLbaBits) | lba.value());
}

std::ostream& operator<<(std::ostream& os, UserAddress a) {
  return os << absl::StrFormat("ua:0x%016x", a.raw());
}

}  // namespace sef
