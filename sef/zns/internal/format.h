// What ZNS keeps on the device, bit by bit (the prose spec is docs/zns.md, "On the device").
//
//   Root pointer 1  hal::kDomainKindZoned ("SEF-ZNS1"): the domain is a zoned namespace.
//   Root pointer 0  ConfigPointer below: the zone size chosen at format time.
//   User addresses  every ADU ZNS writes carries (LBA, tag): kDataTag for a block of a zone,
//                   kFinishMarkerTag (LBA = the zone's first LBA) for the one ADU that marks a
//                   zone finished while empty. ADU 0 of a super block names its zone.
//
// Zone states and write pointers are not stored: Mount derives them from the super block
// list and these user addresses.
#ifndef SEF_ZNS_INTERNAL_FORMAT_H_
#define SEF_ZNS_INTERNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "sef/base/crc32c.h"
#include "sef/hal/cmd/types.h"

namespace sef::zns::internal {

inline constexpr uint32_t kDataTag = 0x5A4E53;          // "ZNS"
inline constexpr uint32_t kFinishMarkerTag = 0x5A4E46;  // "ZNF"

inline UserAddress DataAddress(uint64_t lba) {
  return UserAddress::FromRaw((uint64_t{kDataTag} << UserAddress::kLbaBits) | lba);
}
inline UserAddress FinishMarkerAddress(uint64_t zslba) {
  return UserAddress::FromRaw((uint64_t{kFinishMarkerTag} << UserAddress::kLbaBits) | zslba);
}

#pragma pack(push, 1)
// Root pointer 0 of a zoned domain: eight bytes, little endian, read as a 64-bit value.
struct ConfigPointer {
  uint8_t magic[2];        // 0 'Z' 'C'
  uint8_t version;         // 2 kConfigVersion
  uint8_t zone_size_log2;  // 3 zone size = 2^this blocks
  uint8_t reserved[3];     // 4 zero
  uint8_t crc;             // 7 low byte of CRC-32C of bytes 0-6
};
#pragma pack(pop)
static_assert(sizeof(ConfigPointer) == 8);
static_assert(offsetof(ConfigPointer, zone_size_log2) == 3);
static_assert(offsetof(ConfigPointer, crc) == 7);

inline constexpr uint8_t kConfigMagic[2] = {'Z', 'C'};
inline constexpr uint8_t kConfigVersion = 1;

inline uint8_t ConfigCrc(const ConfigPointer& p) {
  return static_cast<uint8_t>(Crc32c(&p, offsetof(ConfigPointer, crc)) & 0xFF);
}

inline uint64_t EncodeConfig(uint8_t zone_size_log2) {
  ConfigPointer p{};
  std::memcpy(p.magic, kConfigMagic, sizeof(p.magic));
  p.version = kConfigVersion;
  p.zone_size_log2 = zone_size_log2;
  p.crc = ConfigCrc(p);
  uint64_t raw = 0;
  std::memcpy(&raw, &p, sizeof(p));
  return raw;
}

enum class ConfigProblem { kNone, kBadMagic, kBadCrc, kBadVersion };

// Decodes root pointer 0; `problem` says why it is not a configuration.
inline std::optional<ConfigPointer> DecodeConfig(uint64_t raw, ConfigProblem& problem) {
  ConfigPointer p;
  std::memcpy(&p, &raw, sizeof(p));
  problem = ConfigProblem::kNone;
  if (std::memcmp(p.magic, kConfigMagic, sizeof(p.magic)) != 0) {
    problem = ConfigProblem::kBadMagic;
  } else if (p.crc != ConfigCrc(p)) {
    problem = ConfigProblem::kBadCrc;
  } else if (p.version != kConfigVersion) {
    problem = ConfigProblem::kBadVersion;
  }
  if (problem != ConfigProblem::kNone) return std::nullopt;
  return p;
}

}  // namespace sef::zns::internal

#endif  // SEF_ZNS_INTERNAL_FORMAT_H_
