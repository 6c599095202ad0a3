// What a QoS domain holds, as recorded in its root pointers: the convention every layer
// that formats a domain follows, so that each recognises the others' domains and refuses
// them with a clear error instead of formatting over them (the block FTL, the zoned
// namespace, sef-cli).
//
//   Root pointer 0  the owning layer's own anchor (e.g. the FTL's checkpoint), its choice.
//   Root pointer 1  the domain kind: one of the values below, written first at format time
//                   and cleared last when a domain is wiped. 0 = unconfigured.
//   Root pointers 6 and 7  a 128-bit label (the public SDK's sef-cli convention).
//
// A domain whose kind pointer is 0 but which holds super blocks or other root pointers is
// not unconfigured: it holds data of a user that follows no convention ("foreign").
#ifndef SEF_HAL_DOMAIN_KIND_H_
#define SEF_HAL_DOMAIN_KIND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "sef/hal/hal.h"

namespace sef::hal {

inline constexpr RootPointerIndex kKindRootPointer{1};
inline constexpr RootPointerIndex kLabelRootPointers[2] = {RootPointerIndex(6),
                                                           RootPointerIndex(7)};

// Eight ASCII bytes, little endian, so that a raw dump of the pointer reads as text.
constexpr uint64_t DomainKindTag(const char (&text)[9]) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(text[i]);
  return v;
}
inline constexpr uint64_t kDomainKindNone = 0;
inline constexpr uint64_t kDomainKindBlockFtl = DomainKindTag("SEF-FTL1");
inline constexpr uint64_t kDomainKindZoned = DomainKindTag("SEF-ZNS1");

// "unconfigured", "a block FTL domain", "a zoned (ZNS) domain", or "an unknown kind
// 0x...": for error messages such as "QoS domain 3 of unit 0 holds a zoned (ZNS) domain".
inline std::string DescribeDomainKind(uint64_t kind) {
  switch (kind) {
    case kDomainKindNone:
      return "unconfigured";
    case kDomainKindBlockFtl:
      return "a block FTL domain";
    case kDomainKindZoned:
      return "a zoned (ZNS) domain";
    default:
      return absl::StrFormat("an unknown kind of data (root pointer 1 = 0x%016x)", kind);
  }
}

// The 128-bit label of root pointers 6 and 7 (sef-cli's `--label "<u64> <u64>"`): `first`
// is root pointer 6, `second` root pointer 7. All zero = no label.
struct DomainLabel {
  uint64_t first = 0, second = 0;
  bool empty() const { return first == 0 && second == 0; }
  std::string ToString() const { return absl::StrFormat("%u %u", first, second); }
  friend bool operator==(const DomainLabel&, const DomainLabel&) = default;
};

inline DomainLabel LabelOf(const QosDomainInfo& info) {
  return {info.root_pointers[kLabelRootPointers[0].value()].raw(),
          info.root_pointers[kLabelRootPointers[1].value()].raw()};
}

// The one QoS domain of `unit` labelled `label`. Errors: NotFound when none is,
// FailedPrecondition naming them when several are, InvalidArgument for the empty label; the
// HAL's errors reading the domains.
inline absl::StatusOr<QosDomainId> FindQosDomainByLabel(Unit& unit, DomainLabel label) {
  if (label.empty()) return absl::InvalidArgumentError("label \"0 0\" is no label");
  absl::StatusOr<std::vector<QosDomainId>> ids = unit.ListQosDomains();
  if (!ids.ok()) return ids.status();
  std::vector<QosDomainId> found;
  for (QosDomainId id : *ids) {
    absl::StatusOr<QosDomainInfo> info = unit.GetQosDomainInfo(id);
    if (!info.ok()) return info.status();
    if (LabelOf(*info) == label) found.push_back(id);
  }
  if (found.empty()) {
    return absl::NotFoundError(
        absl::StrFormat("no QoS domain of %s has the label \"%s\"", unit.name(), label.ToString()));
  }
  if (found.size() > 1) {
    return absl::FailedPreconditionError(
        absl::StrFormat("QoS domains %u and %u of %s both have the label \"%s\"", found[0].value(),
                        found[1].value(), unit.name(), label.ToString()));
  }
  return found[0];
}

}  // namespace sef::hal

#endif  // SEF_HAL_DOMAIN_KIND_H_
