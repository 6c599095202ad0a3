#include "sef/hal/model/unit_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/wire.h"

namespace sef::model {
namespace {

using Json = nlohmann::json;

// The ADU is fixed by the SEF SDK and the SEF API has exactly eight root pointers; the JSON
// may state them (so a file reads as a complete description) but cannot change them.
constexpr uint64_t kAduDataBytes = 4096;
constexpr uint64_t kAduMetadataBytes = 16;
constexpr uint64_t kRootPointers = 8;

// Identify Controller SN and MN widths (ASCII, space padded).
constexpr size_t kSerialChars = 20;
constexpr size_t kModelChars = 40;

// A unit description is a few hundred bytes; refusing large files keeps a mistaken path (a
// backing file of several GiB, say) from being read into memory.
constexpr size_t kMaxFileBytes = size_t{1} << 20;

// One integer member of UnitConfig and its place in the JSON. The parser and Validate share
// this table, so a bad value reads the same whether it came from a file or from C++.
struct IntField {
  std::string_view section;
  std::string_view key;
  uint32_t UnitConfig::*member;
  uint32_t min;
  uint32_t max;
  bool power_of_two = false;
};

// Geometry ranges are the Identify SEF controller field widths (nch/nbnk/npl 0-based u8,
// nblk/npag 0-based u16, plds = log2 of the plane size). Among the limits, max_placement_ids
// follows nplid (0-based u16), open_expiration_seconds eop (u16), pages_to_secure_integrity
// npsi (u8); the others are the model's own 16-bit caps.
constexpr IntField kGeometryFields[] = {
    {"geometry", "channels", &UnitConfig::channels, 1, 256},
    {"geometry", "banks", &UnitConfig::banks, 1, 256},
    {"geometry", "planes", &UnitConfig::planes, 1, 256},
    {"geometry", "pages_per_block", &UnitConfig::pages_per_block, 1, 65536},
    {"geometry", "blocks_per_die", &UnitConfig::blocks_per_die, 1, 65536},
    {"geometry", "plane_data_bytes", &UnitConfig::plane_data_bytes, 4096, 1048576, true},
};

constexpr IntField kLimitFields[] = {
    {"limits", "max_qos_domains", &UnitConfig::max_qos_domains, 1, 65534},
    {"limits", "max_placement_ids", &UnitConfig::max_placement_ids, 1, 65536},
    {"limits", "max_open_super_blocks", &UnitConfig::max_open_super_blocks, 1, 65535},
    {"limits", "read_fifos", &UnitConfig::read_fifos, 1, 65535},
    {"limits", "open_expiration_seconds", &UnitConfig::open_expiration_seconds, 0, 65535},
    {"limits", "patrol_cycle_minutes", &UnitConfig::patrol_cycle_minutes, 0, 65535},
    {"limits", "pages_to_secure_integrity", &UnitConfig::pages_to_secure_integrity, 1, 255},
};

struct CapabilityName {
  uint32_t bit;
  std::string_view name;
  bool implemented;
};

// Every Identify 06h capability bit, in bit order (the canonical JSON lists names this way).
constexpr CapabilityName kCapabilities[] = {
    {wire::kCapFragmented, "fragmented", false},
    {wire::kCapPacked, "packed", false},
    {wire::kCapPerfect, "perfect", true},
    {wire::kCapMixed, "mixed", false},
    {wire::kCapIndependentNlw, "independent_nlw", false},
    {wire::kCapCopyUaRange, "copy_user_address_range", true},
    {wire::kCapCopyFlaList, "copy_flash_address_list", true},
    {wire::kCapSglRead, "sgl_read", false},
    {wire::kCapSglWrite, "sgl_write", false},
    {wire::kCapFarNlwAnyQueue, "far_nlw_any_queue", true},
    {wire::kCapNlcGcrAnyQueue, "nlc_gcr_any_queue", true},
    {wire::kCapExplicitAduOffset, "explicit_adu_offset", false},
    {wire::kCapSbByNlwAndNlc, "sb_by_nlw_and_nlc", false},
    {wire::kCapSharedReadFifos, "shared_read_fifos", false},
    {wire::kCapPslc, "pslc", true},
};

struct WriteCacheName {
  WriteCache mode;
  std::string_view name;
};
constexpr WriteCacheName kWriteCacheNames[] = {
    {WriteCache::kNone, "none"},
    {WriteCache::kVolatile, "volatile"},
};

constexpr uint32_t kDefaultCapabilities =
    wire::kCapPerfect | wire::kCapCopyUaRange | wire::kCapCopyFlaList;

std::string Path(std::string_view section, std::string_view key) {
  return section.empty() ? std::string(key) : absl::StrFormat("%s.%s", section, key);
}

absl::Status FieldError(std::string_view path, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, message));
}

// A JSON value as it appears in a message; long values are cut so an error stays one line.
std::string Show(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  constexpr size_t kMaxShown = 60;
  if (text.size() > kMaxShown) text = absl::StrCat(text.substr(0, kMaxShown), "...");
  return text;
}

std::string ShowText(std::string_view text) { return Show(Json(std::string(text))); }

// Debian's Abseil has its own string_view; StrJoin and StrCat do not take std::string_view.
std::string Join(absl::Span<const std::string_view> parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(separator);
    out.append(parts[i]);
  }
  return out;
}

std::string CapabilityNames(uint32_t bits) {
  std::vector<std::string> names;
  for (const CapabilityName& c : kCapabilities) {
    if (bits & c.bit) names.push_back(ShowText(c.name));
  }
  return absl::StrCat("[", absl::StrJoin(names, ", "), "]");
}

uint32_t ImplementedCapabilities() {
  uint32_t bits = 0;
  for (const CapabilityName& c : kCapabilities) {
    if (c.implemented) bits |= c.bit;
  }
  return bits;
}

uint32_t KnownCapabilities() {
  uint32_t bits = 0;
  for (const CapabilityName& c : kCapabilities) bits |= c.bit;
  return bits;
}

// The message for a value outside a field's range; `shown` is the value as written, which may
// be negative or beyond uint64 in JSON.
absl::Status RangeError(std::string_view path, std::string_view shown, uint64_t min, uint64_t max,
                        bool power_of_two) {
  return FieldError(path,
                    absl::StrFormat("%s is %s %d..%d", shown,
                                    power_of_two ? "not a power of two in" : "outside", min, max));
}

bool InRange(uint64_t value, uint64_t min, uint64_t max, bool power_of_two) {
  return value >= min && value <= max && (!power_of_two || (value & (value - 1)) == 0);
}

absl::Status CheckRange(const IntField& f, uint64_t value) {
  if (InRange(value, f.min, f.max, f.power_of_two)) return absl::OkStatus();
  return RangeError(Path(f.section, f.key), absl::StrCat(value), f.min, f.max, f.power_of_two);
}

absl::Status CheckText(std::string_view path, std::string_view text, size_t max_chars) {
  for (size_t i = 0; i < text.size(); ++i) {
    // Identify carries these as ASCII; anything else would be mangled or miscounted.
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c > 0x7E) {
      return FieldError(path, absl::StrFormat("%s has a character outside printable ASCII at "
                                              "position %d",
                                              ShowText(text), i));
    }
  }
  if (text.size() > max_chars) {
    return FieldError(path, absl::StrFormat("%s is %d characters long, more than %d",
                                            ShowText(text), text.size(), max_chars));
  }
  return absl::OkStatus();
}

absl::Status CheckCapabilities(const UnitConfig& c) {
  const uint32_t unknown = c.capabilities & ~KnownCapabilities();
  if (unknown != 0) {
    return FieldError("capabilities",
                      absl::StrFormat("bits 0x%x are not SEF capability bits", unknown));
  }
  const uint32_t implemented = ImplementedCapabilities();
  for (const CapabilityName& cap : kCapabilities) {
    if ((c.capabilities & cap.bit) && !cap.implemented) {
      return FieldError("capabilities",
                        absl::StrFormat("%s is not implemented by the model (it implements %s)",
                                        ShowText(cap.name), CapabilityNames(implemented)));
    }
  }
  if (!(c.capabilities & wire::kCapPerfect)) {
    return FieldError("capabilities",
                      absl::StrFormat("%s lacks \"perfect\", which is required: the model "
                                      "implements the perfect defect strategy only",
                                      CapabilityNames(c.capabilities)));
  }
  if ((c.capabilities & wire::kCapPslc) && !c.pslc) {
    return FieldError("capabilities", absl::StrFormat("%s lists \"pslc\" but \"pslc\" is false",
                                                      CapabilityNames(c.capabilities)));
  }
  if (!(c.capabilities & wire::kCapPslc) && c.pslc) {
    return FieldError("capabilities",
                      absl::StrFormat("%s must list \"pslc\" because \"pslc\" is true",
                                      CapabilityNames(c.capabilities)));
  }
  return absl::OkStatus();
}

// ---- JSON reading -------------------------------------------------------------------------

// nlohmann keeps the last of two equal keys; a repeated key is as likely a mistake as a typo,
// so the parser callback records the first one and ParseUnitConfig rejects it.
class DuplicateKeyFinder {
 public:
  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        levels_.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!levels_.empty()) levels_.pop_back();
        break;
      case Json::parse_event_t::key: {
        if (levels_.empty() || !parsed.is_string()) break;
        Level& level = levels_.back();
        level.current = parsed.get<std::string>();
        if (!level.keys.insert(level.current).second && first_duplicate_.empty()) {
          std::vector<std::string> path;
          for (const Level& l : levels_) path.push_back(l.current);
          first_duplicate_ = absl::StrJoin(path, ".");
        }
        break;
      }
      default:
        break;
    }
    return true;
  }

  const std::string& first_duplicate() const { return first_duplicate_; }

 private:
  struct Level {
    std::set<std::string> keys;
    std::string current;
  };
  std::vector<Level> levels_;
  std::string first_duplicate_;
};

absl::Status CheckKeys(const Json& object, std::string_view section,
                       std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      return FieldError(Path(section, key),
                        absl::StrFormat("unknown key (allowed here: %s)", Join(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

// The section `key` of the top-level object, or nullptr when it is absent and optional.
absl::StatusOr<const Json*> Section(const Json& root, std::string_view key, bool required) {
  const auto it = root.find(key);
  if (it == root.end()) {
    if (required) return FieldError(key, "required section is missing");
    return nullptr;
  }
  if (!it->is_object()) {
    return FieldError(key,
                      absl::StrFormat("expected an object, got %s %s", it->type_name(), Show(*it)));
  }
  return &*it;
}

// The value at `key`, or nullptr when it is absent and optional.
absl::StatusOr<const Json*> Member(const Json& object, std::string_view section,
                                   std::string_view key, bool required) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (required) return FieldError(Path(section, key), "required field is missing");
    return nullptr;
  }
  return &*it;
}

// A non-negative integer within min..max. Negative values are reported as outside the range,
// with the value as written.
absl::StatusOr<uint64_t> ReadInteger(const Json& value, std::string_view path, uint64_t min,
                                     uint64_t max, bool power_of_two = false) {
  if (!value.is_number_integer()) {
    return FieldError(
        path, absl::StrFormat("expected an integer, got %s %s", value.type_name(), Show(value)));
  }
  // nlohmann stores every non-negative integer as unsigned; larger than uint64 parses as float.
  if (!value.is_number_unsigned() || !InRange(value.get<uint64_t>(), min, max, power_of_two)) {
    return RangeError(path, Show(value), min, max, power_of_two);
  }
  return value.get<uint64_t>();
}

absl::StatusOr<std::string> ReadString(const Json& value, std::string_view path) {
  if (!value.is_string()) {
    return FieldError(
        path, absl::StrFormat("expected a string, got %s %s", value.type_name(), Show(value)));
  }
  return value.get<std::string>();
}

absl::Status ReadIntFields(const Json& object, absl::Span<const IntField> fields, bool required,
                           UnitConfig& config) {
  for (const IntField& f : fields) {
    SEF_ASSIGN_OR_RETURN(const Json* value, Member(object, f.section, f.key, required));
    if (value == nullptr) continue;
    SEF_ASSIGN_OR_RETURN(const uint64_t v,
                         ReadInteger(*value, Path(f.section, f.key), f.min, f.max, f.power_of_two));
    config.*(f.member) = static_cast<uint32_t>(v);
  }
  return absl::OkStatus();
}

absl::Status ReadFixed(const Json& object, std::string_view section, std::string_view key,
                       uint64_t only, std::string_view why) {
  SEF_ASSIGN_OR_RETURN(const Json* value, Member(object, section, key, false));
  if (value == nullptr) return absl::OkStatus();
  const std::string path = Path(section, key);
  if (!value->is_number_integer()) {
    return FieldError(
        path, absl::StrFormat("expected an integer, got %s %s", value->type_name(), Show(*value)));
  }
  if (!value->is_number_unsigned() || value->get<uint64_t>() != only) {
    return FieldError(
        path, absl::StrFormat("%s is not supported: it must be %d (%s)", Show(*value), only, why));
  }
  return absl::OkStatus();
}

absl::Status ReadCapabilities(const Json& value, UnitConfig& config) {
  if (!value.is_array()) {
    return FieldError("capabilities", absl::StrFormat("expected an array of names, got %s %s",
                                                      value.type_name(), Show(value)));
  }
  uint32_t bits = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    SEF_ASSIGN_OR_RETURN(std::string name,
                         ReadString(value[i], absl::StrFormat("capabilities[%d]", i)));
    const CapabilityName* found = nullptr;
    for (const CapabilityName& c : kCapabilities) {
      if (c.name == name) found = &c;
    }
    if (found == nullptr) {
      std::vector<std::string_view> known;
      for (const CapabilityName& c : kCapabilities) known.push_back(c.name);
      return FieldError("capabilities",
                        absl::StrFormat("%s is not a known SEF capability (known: %s)",
                                        ShowText(name), Join(known, ", ")));
    }
    if (bits & found->bit) {
      return FieldError("capabilities", absl::StrFormat("%s is listed twice", ShowText(name)));
    }
    bits |= found->bit;
  }
  // Unimplemented names, a missing "perfect" and the pSLC pairing are Validate's business.
  config.capabilities = bits;
  return absl::OkStatus();
}

absl::StatusOr<UnitConfig> ParseJson(const Json& root) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "expected a JSON object at the top level, got %s %s", root.type_name(), Show(root)));
  }
  SEF_RETURN_IF_ERROR(CheckKeys(root, "",
                                {"name", "identity", "geometry", "adu", "limits", "addressing",
                                 "capabilities", "pslc", "write_cache"}));
  UnitConfig config;

  SEF_ASSIGN_OR_RETURN(const Json* name, Member(root, "", "name", true));
  SEF_ASSIGN_OR_RETURN(config.name, ReadString(*name, "name"));

  SEF_ASSIGN_OR_RETURN(const Json* identity, Section(root, "identity", false));
  if (identity != nullptr) {
    SEF_RETURN_IF_ERROR(CheckKeys(*identity, "identity", {"serial", "model"}));
    SEF_ASSIGN_OR_RETURN(const Json* serial, Member(*identity, "identity", "serial", false));
    if (serial != nullptr) {
      SEF_ASSIGN_OR_RETURN(config.serial, ReadString(*serial, "identity.serial"));
    }
    SEF_ASSIGN_OR_RETURN(const Json* model, Member(*identity, "identity", "model", false));
    if (model != nullptr) {
      SEF_ASSIGN_OR_RETURN(config.model_number, ReadString(*model, "identity.model"));
    }
  }

  SEF_ASSIGN_OR_RETURN(const Json* geometry, Section(root, "geometry", true));
  SEF_RETURN_IF_ERROR(CheckKeys(
      *geometry, "geometry",
      {"channels", "banks", "planes", "pages_per_block", "blocks_per_die", "plane_data_bytes"}));
  SEF_RETURN_IF_ERROR(ReadIntFields(*geometry, kGeometryFields, true, config));

  SEF_ASSIGN_OR_RETURN(const Json* adu, Section(root, "adu", false));
  if (adu != nullptr) {
    SEF_RETURN_IF_ERROR(CheckKeys(*adu, "adu", {"data_bytes", "metadata_bytes"}));
    SEF_RETURN_IF_ERROR(ReadFixed(*adu, "adu", "data_bytes", kAduDataBytes,
                                  "the only ADU data size the SEF SDK supports"));
    SEF_RETURN_IF_ERROR(ReadFixed(*adu, "adu", "metadata_bytes", kAduMetadataBytes,
                                  "the only ADU metadata size the SEF SDK supports"));
  }

  SEF_ASSIGN_OR_RETURN(const Json* limits, Section(root, "limits", false));
  if (limits != nullptr) {
    SEF_RETURN_IF_ERROR(CheckKeys(*limits, "limits",
                                  {"max_qos_domains", "max_placement_ids", "max_open_super_blocks",
                                   "read_fifos", "root_pointers", "open_expiration_seconds",
                                   "patrol_cycle_minutes", "pages_to_secure_integrity"}));
    SEF_RETURN_IF_ERROR(ReadIntFields(*limits, kLimitFields, false, config));
    SEF_RETURN_IF_ERROR(ReadFixed(*limits, "limits", "root_pointers", kRootPointers,
                                  "the SEF API has exactly 8 root pointers per QoS domain"));
  }

  SEF_ASSIGN_OR_RETURN(const Json* addressing, Section(root, "addressing", false));
  if (addressing != nullptr) {
    SEF_RETURN_IF_ERROR(
        CheckKeys(*addressing, "addressing", {"super_block_id_bits", "adu_offset_bits"}));
    // Only the uint8 storage is checked here; AddressFormat::Validate owns the real range.
    SEF_ASSIGN_OR_RETURN(const Json* sb_bits,
                         Member(*addressing, "addressing", "super_block_id_bits", false));
    if (sb_bits != nullptr) {
      SEF_ASSIGN_OR_RETURN(uint64_t v,
                           ReadInteger(*sb_bits, "addressing.super_block_id_bits", 0, 255));
      config.address.sb_bits = static_cast<uint8_t>(v);
    }
    SEF_ASSIGN_OR_RETURN(const Json* offset_bits,
                         Member(*addressing, "addressing", "adu_offset_bits", false));
    if (offset_bits != nullptr) {
      SEF_ASSIGN_OR_RETURN(uint64_t v,
                           ReadInteger(*offset_bits, "addressing.adu_offset_bits", 0, 255));
      config.address.adu_offset_bits = static_cast<uint8_t>(v);
    }
  }

  SEF_ASSIGN_OR_RETURN(const Json* pslc, Member(root, "", "pslc", false));
  if (pslc != nullptr) {
    if (!pslc->is_boolean()) {
      return FieldError("pslc", absl::StrFormat("expected true or false, got %s %s",
                                                pslc->type_name(), Show(*pslc)));
    }
    config.pslc = pslc->get<bool>();
  }

  SEF_ASSIGN_OR_RETURN(const Json* capabilities, Member(root, "", "capabilities", false));
  if (capabilities != nullptr) {
    SEF_RETURN_IF_ERROR(ReadCapabilities(*capabilities, config));
  } else {
    config.capabilities =
        kDefaultCapabilities | (config.pslc ? static_cast<uint32_t>(wire::kCapPslc) : 0u);
  }

  SEF_ASSIGN_OR_RETURN(const Json* write_cache, Member(root, "", "write_cache", false));
  if (write_cache != nullptr) {
    SEF_ASSIGN_OR_RETURN(const std::string mode, ReadString(*write_cache, "write_cache"));
    const WriteCacheName* found = nullptr;
    for (const WriteCacheName& w : kWriteCacheNames) {
      if (w.name == mode) found = &w;
    }
    if (found == nullptr) {
      return FieldError("write_cache",
                        absl::StrFormat("%s is not \"none\" or \"volatile\"", ShowText(mode)));
    }
    config.write_cache = found->mode;
  }

  SEF_RETURN_IF_ERROR(config.Validate());
  return config;
}

}  // namespace

absl::Status UnitConfig::Validate() const {
  if (name.empty()) return FieldError("name", "\"\" must not be empty");
  try {
    (void)Json(name).dump();
  } catch (const Json::exception&) {
    return FieldError("name", "is not valid UTF-8");
  }
  SEF_RETURN_IF_ERROR(CheckText("identity.serial", serial, kSerialChars));
  SEF_RETURN_IF_ERROR(CheckText("identity.model", model_number, kModelChars));

  for (const IntField& f : kGeometryFields) SEF_RETURN_IF_ERROR(CheckRange(f, this->*f.member));
  for (const IntField& f : kLimitFields) SEF_RETURN_IF_ERROR(CheckRange(f, this->*f.member));

  if (absl::Status s = address.Validate(); !s.ok()) {
    return FieldError("addressing", std::string(s.message()));
  }
  // With the geometry in range these products are at most 2^48, far from overflowing.
  const uint64_t offsets = uint64_t{1} << address.adu_offset_bits;
  const uint64_t largest_sb = adus_per_block() * dies();
  if (largest_sb > offsets) {
    return FieldError(
        "addressing.adu_offset_bits",
        absl::StrFormat("%d bits address %d ADUs, but a super block of all %d dies holds %d "
                        "(%d ADUs per block x %d dies)",
                        address.adu_offset_bits, offsets, dies(), largest_sb, adus_per_block(),
                        dies()));
  }
  const uint64_t ids = uint64_t{1} << address.sb_bits;
  const uint64_t most_sbs = uint64_t{blocks_per_die} * dies();
  if (most_sbs > ids) {
    return FieldError(
        "addressing.super_block_id_bits",
        absl::StrFormat("%d bits number %d super blocks, but a virtual device of all %d dies "
                        "holds up to %d (%d blocks per die x %d dies, one die per super block)",
                        address.sb_bits, ids, dies(), most_sbs, blocks_per_die, dies()));
  }
  if (write_cache != WriteCache::kNone && write_cache != WriteCache::kVolatile) {
    return FieldError("write_cache", absl::StrFormat("%d is not \"none\" (0) or \"volatile\" (1)",
                                                     static_cast<int>(write_cache)));
  }
  return CheckCapabilities(*this);
}

absl::StatusOr<UnitConfig> ParseUnitConfig(std::string_view json_text) {
  try {
    DuplicateKeyFinder duplicates;
    const Json root = Json::parse(json_text.begin(), json_text.end(), std::ref(duplicates));
    if (!duplicates.first_duplicate().empty()) {
      return FieldError(duplicates.first_duplicate(), "key appears more than once");
    }
    return ParseJson(root);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", e.what()));
  }
}

absl::StatusOr<UnitConfig> LoadUnitConfig(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cannot open"));
  std::string text;
  char buffer[8192];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      close(fd);
      return absl::ErrnoToStatus(error, absl::StrCat(path, ": cannot read"));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: larger than %d bytes; not a unit configuration", path, kMaxFileBytes));
    }
  }
  close(fd);
  absl::StatusOr<UnitConfig> config = ParseUnitConfig(text);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

std::string UnitConfigToJson(const UnitConfig& config) {
  using OrderedJson = nlohmann::ordered_json;
  OrderedJson j;
  j["name"] = config.name;
  j["identity"] = {{"serial", config.serial}, {"model", config.model_number}};
  OrderedJson geometry = OrderedJson::object();
  for (const IntField& f : kGeometryFields) geometry[std::string(f.key)] = config.*f.member;
  j["geometry"] = geometry;
  j["adu"] = {{"data_bytes", kAduDataBytes}, {"metadata_bytes", kAduMetadataBytes}};
  OrderedJson limits = OrderedJson::object();
  for (const IntField& f : kLimitFields) {
    limits[std::string(f.key)] = config.*f.member;
    if (f.key == "read_fifos") limits["root_pointers"] = kRootPointers;  // schema order
  }
  j["limits"] = limits;
  j["addressing"] = {{"super_block_id_bits", config.address.sb_bits},
                     {"adu_offset_bits", config.address.adu_offset_bits}};
  OrderedJson capabilities = OrderedJson::array();
  for (const CapabilityName& c : kCapabilities) {
    if (config.capabilities & c.bit) capabilities.push_back(std::string(c.name));
  }
  // Bits without a name cannot be written as names; this shape makes the parser reject them.
  for (int bit = 0; bit < 32; ++bit) {
    const uint32_t mask = uint32_t{1} << bit;
    if ((config.capabilities & mask) && !(KnownCapabilities() & mask)) {
      capabilities.push_back(absl::StrFormat("bit%d", bit));
    }
  }
  j["capabilities"] = capabilities;
  j["pslc"] = config.pslc;
  for (const WriteCacheName& w : kWriteCacheNames) {
    if (w.mode == config.write_cache) j["write_cache"] = std::string(w.name);
  }
  // replace: an invalid name (rejected by Validate) must not throw here.
  return j.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

}  // namespace sef::model
