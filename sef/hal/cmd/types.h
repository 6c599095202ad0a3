// Strong types for every SEF address space and identifier.
//
// No raw integer address crosses an interface of this project: a flash address, a user
// address, a super block id, a QoS domain id and so on are distinct types that do not convert
// into one another. Fields whose wire encoding is zero-based (ADU counts, placement-id
// counts) are held here one-based; only the encoders subtract.
//
// Thread-safety: value types.
#ifndef SEF_HAL_CMD_TYPES_H_
#define SEF_HAL_CMD_TYPES_H_

#include <compare>
#include <cstdint>
#include <ostream>

#include "absl/status/statusor.h"
#include "sef/base/strong_int.h"

namespace sef {

// A QoS domain is an NVMe namespace: its id is the NSID (1-based, 16 bits in a flash address).
using QosDomainId = StrongInt<struct QosDomainIdTag, uint16_t>;
// A virtual device is an NVMe endurance group: its id is the ENDGID.
using VirtualDeviceId = StrongInt<struct VirtualDeviceIdTag, uint16_t>;
// A super block id, unique within its virtual device; at most AddressFormat::sb_bits wide.
using SuperBlockId = StrongInt<struct SuperBlockIdTag, uint32_t>;
// An ADU offset within a super block; at most AddressFormat::adu_offset_bits wide.
using AduOffset = StrongInt<struct AduOffsetTag, uint32_t>;
// A placement id within a QoS domain (0 .. number of placement ids - 1).
using PlacementId = StrongInt<struct PlacementIdTag, uint16_t>;
// A read FIFO (read queue) id of the unit.
using ReadFifoId = StrongInt<struct ReadFifoIdTag, uint32_t>;
// A logical block address of the host's own space (40 bits inside a user address).
using Lba = StrongInt<struct LbaTag, uint64_t>;
// A number of ADUs (atomic data units: 4096 B data + 16 B metadata). One-based.
using AduCount = StrongInt<struct AduCountTag, uint32_t>;
// A capacity in the SEF command set's unit: plane pages (one plane page = ADUs per plane page).
using PlanePageCount = StrongInt<struct PlanePageCountTag, uint64_t>;

// Reserved id values the command set gives a meaning to.
inline constexpr SuperBlockId kDeviceChoosesSuperBlock{0xFFFFFFFF};   // SBM erase: "any free SB"
inline constexpr VirtualDeviceId kPendingEventVirtualDevice{0xFFFF};  // log LSI of a pending AEN
inline constexpr ReadFifoId kDefaultReadFifo{0xFFFFFFFF};             // Read: the domain's default

// How the low 48 bits of a flash address split into super block id and ADU offset. The
// widths are the virtual device's (log 0xD0 sbbw + 1 and aobw + 1); real hardware reports
// 24/24, earlier emulators 16/32.
struct AddressFormat {
  uint8_t sb_bits = 24;
  uint8_t adu_offset_bits = 24;

  // OK when both widths are in 1..32 and together fit in 48 bits.
  absl::Status Validate() const;
  uint64_t max_super_block_id() const { return (uint64_t{1} << sb_bits) - 1; }
  uint64_t max_adu_offset() const { return (uint64_t{1} << adu_offset_bits) - 1; }

  friend bool operator==(const AddressFormat&, const AddressFormat&) = default;
};

// A 64-bit SEF flash address: bits 63:48 hold the QoS domain id, the low 48 bits hold
// [reserved | super block id (sb_bits) | ADU offset (adu_offset_bits)]. Splitting the low
// bits needs the AddressFormat of the domain's virtual device.
class FlashAddress {
 public:
  constexpr FlashAddress() = default;
  static constexpr FlashAddress FromRaw(uint64_t raw) { return FlashAddress(raw); }

  // Builds an address. Errors (InvalidArgument, naming the value): format invalid, sb or
  // offset wider than the format allows.
  static absl::StatusOr<FlashAddress> Make(QosDomainId domain, SuperBlockId sb, AduOffset offset,
                                           const AddressFormat& format);

  constexpr uint64_t raw() const { return raw_; }
  constexpr QosDomainId domain() const { return QosDomainId(static_cast<uint16_t>(raw_ >> 48)); }
  // Bits 47:0, as carried in CDW14-15 of Read, FAR and NLC.
  constexpr uint64_t low48() const { return raw_ & kLow48Mask; }
  // REQUIRES: format.Validate().ok(). Reserved bits above sb_bits are ignored.
  SuperBlockId super_block(const AddressFormat& format) const;
  AduOffset adu_offset(const AddressFormat& format) const;

  // Null (0) and the auto-allocate markers of the SEF API.
  static constexpr FlashAddress Null() { return FlashAddress(0); }
  static constexpr FlashAddress AutoAllocate() { return FlashAddress(~uint64_t{0}); }
  static constexpr FlashAddress AutoAllocatePslc() { return FlashAddress(~uint64_t{1}); }

  static constexpr uint64_t kLow48Mask = (uint64_t{1} << 48) - 1;

  friend constexpr auto operator<=>(FlashAddress, FlashAddress) = default;
  friend std::ostream& operator<<(std::ostream& os, FlashAddress a);
  template <typename H>
  friend H AbslHashValue(H h, FlashAddress a) {
    return H::combine(std::move(h), a.raw_);
  }

 private:
  constexpr explicit FlashAddress(uint64_t raw) : raw_(raw) {}
  uint64_t raw_ = 0;
};

// A 64-bit user address: LBA in bits 39:0, a caller-chosen tag in bits 63:40. The device
// stores it with each ADU and can verify it on read. All-ones means "ignore" / "unwritten".
class UserAddress {
 public:
  static constexpr int kLbaBits = 40;
  static constexpr uint64_t kMaxLba = (uint64_t{1} << kLbaBits) - 1;
  static constexpr uint32_t kMaxTag = (1u << 24) - 1;

  constexpr UserAddress() = default;
  static constexpr UserAddress FromRaw(uint64_t raw) { return UserAddress(raw); }
  // Errors (InvalidArgument, naming the value): lba above 2^40-1, tag above 2^24-1.
  static absl::StatusOr<UserAddress> Make(Lba lba, uint32_t tag);
  static constexpr UserAddress Ignore() { return UserAddress(~uint64_t{0}); }

  constexpr uint64_t raw() const { return raw_; }
  constexpr Lba lba() const { return Lba(raw_ & kMaxLba); }
  constexpr uint32_t tag() const { return static_cast<uint32_t>(raw_ >> kLbaBits); }
  constexpr bool is_ignore() const { return raw_ == ~uint64_t{0}; }

  friend constexpr auto operator<=>(UserAddress, UserAddress) = default;
  friend std::ostream& operator<<(std::ostream& os, UserAddress a);

 private:
  constexpr explicit UserAddress(uint64_t raw) : raw_(raw) {}
  uint64_t raw_ = 0;
};

}  // namespace sef

#endif  // SEF_HAL_CMD_TYPES_H_
