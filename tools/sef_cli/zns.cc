// Handlers of `zns` (over //sef/zns).
#include "sef/zns/zns.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "tools/sef_cli/cli.h"

namespace sef::cli {
namespace {

// blkzone's zone-condition abbreviations (util-linux sys-utils/blkzone.c).
const char* ConditionAbbreviation(zns::ZoneState s) {
  switch (s) {
    case zns::ZoneState::kEmpty:
      return "em";
    case zns::ZoneState::kImplicitlyOpen:
      return "oi";
    case zns::ZoneState::kExplicitlyOpen:
      return "oe";
    case zns::ZoneState::kClosed:
      return "cl";
    case zns::ZoneState::kReadOnly:
      return "ro";
    case zns::ZoneState::kFull:
      return "fu";
    case zns::ZoneState::kOffline:
      return "of";
  }
  return "nw";
}

// 512-byte sectors per 4096-byte block, the unit blkzone prints in.
constexpr uint64_t kSectorsPerBlock = zns::kBlockBytes / 512;

absl::StatusOr<zns::ZoneLimits> Limits(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> open, c.GetNumber("max-open", 0xFFFFFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> active, c.GetNumber("max-active", 0xFFFFFFFF));
  return zns::ZoneLimits{.max_open_zones = static_cast<uint32_t>(open.value_or(0)),
                         .max_active_zones = static_cast<uint32_t>(active.value_or(0))};
}

json GeometryJson(const zns::Geometry& g) {
  return {{"zone_size_blocks", g.zone_size},
          {"zone_capacity_blocks", g.zone_capacity},
          {"zones", g.zones},
          {"max_open_zones", g.max_open_zones},
          {"max_active_zones", g.max_active_zones},
          {"super_block_adus", g.super_block_adus},
          {"max_open_super_blocks", g.max_open_super_blocks},
          {"max_transfer_blocks", g.max_transfer_blocks},
          {"blocks", g.blocks()},
          {"block_bytes", zns::kBlockBytes}};
}

std::string GeometryText(const zns::Geometry& g) {
  return absl::StrFormat(
      "zones %u of %u blocks (capacity %u), %u blocks of %u bytes; at most %u open, %u active "
      "zones; super block %u ADUs\n",
      g.zones, g.zone_size, g.zone_capacity, g.blocks(), zns::kBlockBytes, g.max_open_zones,
      g.max_active_zones, g.super_block_adus);
}

// Mounts, runs `body`, unmounts; the first error wins.
template <typename Body>
absl::Status WithNamespace(Context& c, Body body) {
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(zns::ZoneLimits limits, Limits(c));
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<zns::ZonedNamespace> ns,
                       zns::ZonedNamespace::Mount(*unit, id, limits));
  absl::Status s = body(*ns);
  absl::Status unmounted = ns->Unmount();
  return s.ok() ? unmounted : s;
}

}  // namespace

absl::Status ZnsConfigure(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> zone_size, c.GetNumber("zone-size"));
  SEF_ASSIGN_OR_RETURN(zns::ZoneLimits limits, Limits(c));
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  const zns::FormatOptions options{
      .zone_size = zone_size.value_or(0), .reformat = c.Has("reformat"), .limits = limits};
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<zns::ZonedNamespace> ns,
                       zns::ZonedNamespace::Format(*unit, id, options));
  const zns::Geometry g = ns->geometry();
  SEF_RETURN_IF_ERROR(ns->Unmount());
  c.out = {{"qos_domain", id.value()}, {"geometry", GeometryJson(g)}};
  c.text = absl::StrFormat("QoS domain %u of %s is a zoned namespace: ", id.value(), unit->name()) +
           GeometryText(g);
  return absl::OkStatus();
}

absl::Status ZnsInfo(Context& c) {
  return WithNamespace(c, [&c](zns::ZonedNamespace& ns) -> absl::Status {
    SEF_ASSIGN_OR_RETURN(zns::ZoneReport report, ns.Report(Lba(0)));
    std::map<std::string, uint64_t> states;
    for (const zns::ZoneDescriptor& z : report.zones) ++states[zns::ZoneStateName(z.state)];
    c.out = {{"qos_domain", ns.domain().value()},
             {"geometry", GeometryJson(ns.geometry())},
             {"zones_by_state", states}};
    c.text = absl::StrFormat("QoS domain %u: ", ns.domain().value()) + GeometryText(ns.geometry());
    for (const auto& [state, n] : states) c.text += absl::StrFormat("  %-16s %u\n", state, n);
    return absl::OkStatus();
  });
}

absl::Status ZnsReport(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> start, c.GetNumber("start"));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> count, c.GetNumber("count", 0xFFFFFFFF));
  return WithNamespace(c, [&](zns::ZonedNamespace& ns) -> absl::Status {
    SEF_ASSIGN_OR_RETURN(zns::ZoneReport report,
                         ns.Report(Lba(start.value_or(0)), zns::ReportFilter::kAll,
                                   static_cast<uint32_t>(count.value_or(0xFFFFFFFF))));
    const uint64_t len = ns.geometry().zone_size;
    c.out["zones"] = json::array();
    for (const zns::ZoneDescriptor& z : report.zones) {
      // As the kernel reports it: a full zone's write pointer is its end; read-only and
      // offline zones have none (shown at the end as well).
      const uint64_t wp_offset =
          z.write_pointer == zns::kNoWritePointer ? len : z.write_pointer.value() - z.start.value();
      c.out["zones"].push_back({{"start", z.start.value()},
                                {"len", len},
                                {"cap", z.capacity},
                                {"wptr", wp_offset},
                                {"state", zns::ZoneStateName(z.state)},
                                {"zcond", static_cast<int>(z.state)},
                                {"type", z.type},
                                {"finished_by_controller",
                                 (z.attributes & zns::kZoneAttributeFinishedByController) != 0}});
      c.text += absl::StrFormat(
          "  start: 0x%09x, len 0x%06x, cap 0x%06x, wptr 0x%06x reset:%u non-seq:%u, "
          "zcond:%2u(%s) [type: %u(%s)]\n",
          z.start.value() * kSectorsPerBlock, len * kSectorsPerBlock, z.capacity * kSectorsPerBlock,
          wp_offset * kSectorsPerBlock, 0, 0, static_cast<unsigned>(z.state),
          ConditionAbbreviation(z.state), z.type,
          z.type == zns::kZoneTypeSequentialWriteRequired ? "SEQ_WRITE_REQUIRED" : "UNKNOWN");
    }
    return absl::OkStatus();
  });
}

}  // namespace sef::cli
