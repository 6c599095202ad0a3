// Handlers of `sef-unit` and `virtual-device`.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sef/base/status_macros.h"
#include "sef/units/units.h"
#include "tools/sef_cli/cli.h"

namespace sef::cli {
namespace {

// Unit numbers `sef-unit list` tries.
constexpr int kListedUnitNumbers = 16;

json UnitJson(const hal::UnitInfo& u) {
  return {{"transport", u.transport},
          {"serial", u.serial},
          {"model", u.model_number},
          {"firmware", u.firmware},
          {"subsystem_nqn", u.subsystem_nqn},
          {"capabilities", u.capabilities},
          {"channels", u.channels},
          {"banks", u.banks},
          {"dies", u.dies()},
          {"planes", u.planes},
          {"pages_per_block", u.pages_per_block},
          {"blocks_per_die", u.blocks_per_die},
          {"adus_per_plane_page", u.adus_per_plane_page},
          {"adu_data_bytes", u.adu_data_bytes},
          {"adu_metadata_bytes", u.adu_metadata_bytes},
          {"open_expiration_seconds", u.open_expiration_seconds},
          {"max_qos_domains", u.max_qos_domains},
          {"max_placement_ids", u.max_placement_ids},
          {"max_open_super_blocks", u.max_open_super_blocks},
          {"read_fifos", u.read_fifos},
          {"read_fifos_in_use", u.read_fifos_in_use},
          {"root_pointers", u.root_pointers},
          {"virtual_devices", u.virtual_devices},
          {"qos_domains", u.qos_domains},
          {"volatile_write_cache", u.volatile_write_cache}};
}

json VdJson(const hal::VirtualDeviceInfo& vd) {
  json domains = json::array();
  for (QosDomainId d : vd.qos_domains) domains.push_back(d.value());
  return {{"id", vd.id.value()},
          {"dies", vd.dies},
          {"dies_per_super_block", vd.dies_per_super_block},
          {"super_block_id_bits", vd.format.sb_bits},
          {"adu_offset_bits", vd.format.adu_offset_bits},
          {"super_block_adus", vd.super_block_adus},
          {"pslc_super_block_adus", vd.pslc_super_block_adus},
          {"capacity_adus", vd.capacity_adus},
          {"allocated_adus", vd.allocated_adus},
          {"used_adus", vd.used_adus},
          {"free_super_blocks", vd.free_super_blocks},
          {"closed_super_blocks", vd.closed_super_blocks},
          {"open_super_blocks", vd.open_super_blocks},
          {"pslc_super_blocks", vd.pslc_super_blocks},
          {"critical_warning", vd.critical_warning},
          {"default_read_fifo", vd.default_read_fifo.value()},
          {"qos_domains", domains}};
}

absl::StatusOr<std::vector<hal::VirtualDeviceInfo>> AllVds(hal::Unit& unit) {
  SEF_ASSIGN_OR_RETURN(std::vector<VirtualDeviceId> ids, unit.ListVirtualDevices());
  std::vector<hal::VirtualDeviceInfo> out;
  for (VirtualDeviceId id : ids) {
    SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vd, unit.GetVirtualDeviceInfo(id));
    out.push_back(std::move(vd));
  }
  return out;
}

std::string Ids(const std::vector<QosDomainId>& ids) {
  std::vector<std::string> s;
  for (QosDomainId d : ids) s.push_back(absl::StrCat(d.value()));
  return s.empty() ? "-" : absl::StrJoin(s, ",");
}

// The dies of `count` tiles of `channels` x `banks` dies, channels first (the SDK's strict
// tiling), on a unit of `info`'s geometry.
absl::StatusOr<std::vector<std::vector<uint16_t>>> Tiles(const hal::UnitInfo& info,
                                                         uint64_t channels, uint64_t banks,
                                                         uint64_t count) {
  if (channels == 0 || banks == 0 || channels > info.channels || banks > info.banks) {
    return UsageError(
        absl::StrFormat("tiles of %u channels x %u banks do not fit %s's %u "
                        "channels x %u banks",
                        channels, banks, info.transport, info.channels, info.banks));
  }
  const uint64_t across = info.channels / channels, down = info.banks / banks;
  if (count == 0 || count > across * down) {
    return UsageError(absl::StrFormat(
        "--count %u: %u tiles of %u x %u dies fit %s (%u channels "
        "x %u banks)",
        count, across * down, channels, banks, info.transport, info.channels, info.banks));
  }
  std::vector<std::vector<uint16_t>> tiles(count);
  for (uint64_t t = 0; t < count; ++t) {
    const uint64_t c0 = (t % across) * channels, b0 = (t / across) * banks;
    for (uint64_t b = b0; b < b0 + banks; ++b) {
      for (uint64_t c = c0; c < c0 + channels; ++c) {
        tiles[t].push_back(static_cast<uint16_t>(c + b * info.channels));
      }
    }
    std::sort(tiles[t].begin(), tiles[t].end());
  }
  return tiles;
}

}  // namespace

absl::Status UnitList(Context& c) {
  std::vector<std::string> names;
  for (int n = 0; n < kListedUnitNumbers; ++n) {
    absl::StatusOr<units::ResolvedUnit> r = units::Resolve(absl::StrCat(n));
    if (r.ok()) names.push_back(absl::StrCat(n));
  }
  if (c.Has("unit") && std::find(names.begin(), names.end(), c.unit_name()) == names.end()) {
    names.insert(names.begin(), c.unit_name());
  }
  std::vector<std::vector<std::string>> rows = {
      {"UNIT", "SPEC", "SERIAL", "FIRMWARE", "CHANNELS", "BANKS", "VDS", "DOMAINS"}};
  c.out["units"] = json::array();
  for (const std::string& name : names) {
    absl::StatusOr<units::ResolvedUnit> r = units::Resolve(name);
    if (!r.ok()) return r.status();
    json entry = {{"unit", name}, {"spec", r->spec}, {"description", r->description}};
    absl::StatusOr<std::unique_ptr<hal::Unit>> unit = units::Open(name);
    absl::StatusOr<hal::UnitInfo> info =
        unit.ok() ? (*unit)->Info() : absl::StatusOr<hal::UnitInfo>(unit.status());
    if (info.ok()) {
      entry["info"] = UnitJson(*info);
      rows.push_back({name, r->spec, info->serial, info->firmware, absl::StrCat(info->channels),
                      absl::StrCat(info->banks), absl::StrCat(info->virtual_devices),
                      absl::StrCat(info->qos_domains)});
    } else {
      entry["error"] = std::string(info.status().message());
      rows.push_back({name, r->spec, "error: " + entry["error"].get<std::string>()});
    }
    c.out["units"].push_back(entry);
  }
  c.text = FormatTable(rows);
  return absl::OkStatus();
}

absl::Status UnitInfo(Context& c) {
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(hal::UnitInfo u, unit->Info());
  c.out = UnitJson(u);
  c.out["unit"] = c.unit_name();
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, value] : c.out.items()) {
    rows.push_back({key, value.is_string() ? value.get<std::string>() : value.dump()});
  }
  c.text = FormatTable(rows);
  return absl::OkStatus();
}

absl::Status VdList(Context& c) {
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::vector<hal::VirtualDeviceInfo> vds, AllVds(*unit));
  std::vector<std::vector<std::string>> rows = {{"VD", "DIES", "DIES/SB", "SB_ADUS", "CAPACITY",
                                                 "ALLOCATED", "USED", "FREE_SB", "CLOSED_SB",
                                                 "OPEN_SB", "PSLC_SB", "DOMAINS"}};
  c.out["virtual_devices"] = json::array();
  for (const hal::VirtualDeviceInfo& vd : vds) {
    c.out["virtual_devices"].push_back(VdJson(vd));
    rows.push_back({absl::StrCat(vd.id.value()), absl::StrCat(vd.dies.size()),
                    absl::StrCat(vd.dies_per_super_block), absl::StrCat(vd.super_block_adus),
                    absl::StrCat(vd.capacity_adus), absl::StrCat(vd.allocated_adus),
                    absl::StrCat(vd.used_adus), absl::StrCat(vd.free_super_blocks),
                    absl::StrCat(vd.closed_super_blocks), absl::StrCat(vd.open_super_blocks),
                    absl::StrCat(vd.pslc_super_blocks), Ids(vd.qos_domains)});
  }
  c.text =
      vds.empty() ? absl::StrFormat("no virtual devices on %s\n", unit->name()) : FormatTable(rows);
  return absl::OkStatus();
}

absl::Status VdInfo(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> id, c.GetNumber("vd", 0xFFFF));
  if (!id) return UsageError("info virtual-device: --vd ID is required");
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::vector<VirtualDeviceId> ids, unit->ListVirtualDevices());
  const VirtualDeviceId vd_id(static_cast<uint16_t>(*id));
  if (std::find(ids.begin(), ids.end(), vd_id) == ids.end()) {
    return absl::NotFoundError(absl::StrFormat("no virtual device %u on %s", *id, unit->name()));
  }
  SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vd, unit->GetVirtualDeviceInfo(vd_id));
  c.out = VdJson(vd);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, value] : c.out.items()) {
    std::string v = value.dump();
    if (key == "dies") v = absl::StrJoin(vd.dies, ",");
    if (key == "qos_domains") v = Ids(vd.qos_domains);
    rows.push_back({key, v});
  }
  c.text = FormatTable(rows);
  return absl::OkStatus();
}

absl::Status VdCreate(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> first, c.GetNumber("vd", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> channels, c.GetNumber("channels", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> banks, c.GetNumber("banks", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> count, c.GetNumber("count", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> per_sb, c.GetNumber("dies-per-sb", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> pslc, c.GetNumber("pslc-sbs", 0xFFFFFFFF));
  const std::optional<std::string> dies = c.Get("dies");
  if (dies && (channels || banks || count)) {
    return UsageError("create virtual-device: --dies or --channels/--banks/--count, not both");
  }
  if (channels.has_value() != banks.has_value()) {
    return UsageError("create virtual-device: --channels and --banks go together");
  }
  if (count && !channels) return UsageError("create virtual-device: --count needs --channels");
  if (first.value_or(1) == 0) return UsageError("--vd 0: virtual device ids start at 1");
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(hal::UnitInfo info, unit->Info());
  std::vector<std::vector<uint16_t>> tiles;
  if (dies) {
    tiles.emplace_back();
    for (absl::string_view d : absl::StrSplit(*dies, ',', absl::SkipWhitespace())) {
      uint32_t die = 0;
      if (!absl::SimpleAtoi(d, &die) || die >= info.dies()) {
        return UsageError(absl::StrFormat("--dies: '%s' is not a die of %s (0 to %u)",
                                          std::string(d), unit->name(), info.dies() - 1));
      }
      tiles.back().push_back(static_cast<uint16_t>(die));
    }
    if (tiles.back().empty()) return UsageError("--dies: no die given");
    std::sort(tiles.back().begin(), tiles.back().end());  // as the HAL sends them
  } else if (channels) {
    SEF_ASSIGN_OR_RETURN(tiles, Tiles(info, *channels, *banks, count.value_or(1)));
  } else {
    SEF_ASSIGN_OR_RETURN(tiles, Tiles(info, info.channels, info.banks, 1));
  }
  SEF_ASSIGN_OR_RETURN(std::vector<VirtualDeviceId> existing, unit->ListVirtualDevices());
  if (!existing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s already has %u virtual device(s): delete them first (sef-cli delete "
                        "virtual-device)",
                        unit->name(), existing.size()));
  }
  std::vector<hal::VirtualDeviceConfig> configs;
  c.out["virtual_devices"] = json::array();
  for (size_t i = 0; i < tiles.size(); ++i) {
    const uint64_t id = first.value_or(1) + i;
    if (id > 0xFFFF) return UsageError("--vd: the ids run past 65535");
    configs.push_back({.id = VirtualDeviceId(static_cast<uint16_t>(id)),
                       .dies = tiles[i],
                       .dies_per_super_block = static_cast<uint16_t>(per_sb.value_or(0)),
                       .pslc_super_blocks = static_cast<uint32_t>(pslc.value_or(0))});
    c.out["virtual_devices"].push_back({{"id", id}, {"dies", tiles[i]}});
    c.text += absl::StrFormat("created virtual device %u on %s: dies %s\n", id, unit->name(),
                              absl::StrJoin(tiles[i], ","));
  }
  return unit->CreateVirtualDevices(configs);
}

absl::Status VdDelete(Context& c) {
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::vector<hal::VirtualDeviceInfo> vds, AllVds(*unit));
  for (const hal::VirtualDeviceInfo& vd : vds) {
    if (!vd.qos_domains.empty()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "virtual device %u of %s holds QoS domain(s) %s: delete them first (sef-cli delete "
          "qos-domain)",
          vd.id.value(), unit->name(), Ids(vd.qos_domains)));
    }
  }
  if (vds.empty()) {
    return absl::NotFoundError(absl::StrFormat("%s has no virtual devices", unit->name()));
  }
  SEF_RETURN_IF_ERROR(unit->DeleteVirtualDevices());
  json ids = json::array();
  for (const hal::VirtualDeviceInfo& vd : vds) ids.push_back(vd.id.value());
  c.out["deleted_virtual_devices"] = ids;
  c.text = absl::StrFormat("deleted %u virtual device(s) of %s\n", vds.size(), unit->name());
  return absl::OkStatus();
}

absl::Status VdDraw(Context& c) {
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(hal::UnitInfo info, unit->Info());
  SEF_ASSIGN_OR_RETURN(std::vector<hal::VirtualDeviceInfo> vds, AllVds(*unit));
  std::vector<uint32_t> owner(info.dies(), 0);
  for (const hal::VirtualDeviceInfo& vd : vds) {
    for (uint16_t die : vd.dies) {
      if (die < owner.size()) owner[die] = vd.id.value();
    }
  }
  std::vector<std::vector<std::string>> rows = {{""}};
  for (uint32_t ch = 0; ch < info.channels; ++ch) rows[0].push_back(absl::StrCat("ch", ch));
  json map = json::array();
  for (uint32_t bank = 0; bank < info.banks; ++bank) {
    std::vector<std::string> row = {absl::StrCat("bank ", bank)};
    json line = json::array();
    for (uint32_t ch = 0; ch < info.channels; ++ch) {
      const uint32_t vd = owner[ch + bank * info.channels];
      row.push_back(vd == 0 ? "." : absl::StrCat(vd));
      line.push_back(vd);
    }
    rows.push_back(row);
    map.push_back(line);
  }
  c.out = {{"channels", info.channels}, {"banks", info.banks}, {"map", map}};
  c.text = FormatTable(rows);
  return absl::OkStatus();
}

}  // namespace sef::cli
