// sef_hal_probe: prints a SEF unit's identity, capabilities, geometry, virtual devices and
// QoS domains.
//
//   sef_hal_probe /dev/nvme0
//   sef_hal_probe model:testdata/units/default.json --json
//
// Exit status: 0 on success, 1 when the unit cannot be opened or read (one line on stderr),
// 2 on a usage error.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "sef/hal/hal.h"

namespace sef::tools {
namespace {

using nlohmann::json;

constexpr struct {
  uint32_t bit;
  const char* name;
} kCapabilities[] = {
    {wire::kCapFragmented, "fragmented"},
    {wire::kCapPacked, "packed"},
    {wire::kCapPerfect, "perfect"},
    {wire::kCapMixed, "mixed"},
    {wire::kCapIndependentNlw, "independent_nlw"},
    {wire::kCapCopyUaRange, "copy_user_address_range"},
    {wire::kCapCopyFlaList, "copy_flash_address_list"},
    {wire::kCapSglRead, "sgl_read"},
    {wire::kCapSglWrite, "sgl_write"},
    {wire::kCapFarNlwAnyQueue, "far_nlw_any_queue"},
    {wire::kCapNlcGcrAnyQueue, "nlc_gcr_any_queue"},
    {wire::kCapExplicitAduOffset, "explicit_adu_offset"},
    {wire::kCapSbByNlwAndNlc, "sb_by_nlw_and_nlc"},
    {wire::kCapSharedReadFifos, "shared_read_fifos"},
    {wire::kCapPslc, "pslc"},
};

const char* kDeadlines[] = {"typical", "long", "heroic", "fastest"};
const char* kDefects[] = {"perfect", "packed", "fragmented", "unknown"};

absl::StatusOr<json> Probe(hal::Unit& unit) {
  absl::StatusOr<hal::UnitInfo> info = unit.Info();
  if (!info.ok()) return info.status();
  json caps = json::array();
  for (const auto& c : kCapabilities) {
    if (info->capabilities & c.bit) caps.push_back(c.name);
  }
  json out = {
      {"unit",
       {{"transport", info->transport},
        {"serial", info->serial},
        {"model", info->model_number},
        {"firmware", info->firmware},
        {"subsystem_nqn", info->subsystem_nqn},
        {"capabilities", caps}}},
      {"geometry",
       {{"channels", info->channels},
        {"banks", info->banks},
        {"dies", info->dies()},
        {"planes", info->planes},
        {"pages_per_block", info->pages_per_block},
        {"blocks_per_die", info->blocks_per_die},
        {"adus_per_plane_page", info->adus_per_plane_page},
        {"adu_data_bytes", info->adu_data_bytes},
        {"adu_metadata_bytes", info->adu_metadata_bytes}}},
      {"limits",
       {{"max_qos_domains", info->max_qos_domains},
        {"max_placement_ids", info->max_placement_ids},
        {"max_open_super_blocks", info->max_open_super_blocks},
        {"read_fifos", info->read_fifos},
        {"read_fifos_in_use", info->read_fifos_in_use},
        {"root_pointers", info->root_pointers},
        {"open_expiration_seconds", info->open_expiration_seconds}}},
  };
  absl::StatusOr<std::vector<VirtualDeviceId>> vds = unit.ListVirtualDevices();
  if (!vds.ok()) return vds.status();
  out["virtual_devices"] = json::array();
  out["qos_domains"] = json::array();
  for (VirtualDeviceId id : *vds) {
    absl::StatusOr<hal::VirtualDeviceInfo> vd = unit.GetVirtualDeviceInfo(id);
    if (!vd.ok()) return vd.status();
    json domains = json::array();
    for (QosDomainId d : vd->qos_domains) domains.push_back(d.value());
    out["virtual_devices"].push_back({{"id", id.value()},
                                      {"dies", vd->dies},
                                      {"dies_per_super_block", vd->dies_per_super_block},
                                      {"super_block_id_bits", vd->format.sb_bits},
                                      {"adu_offset_bits", vd->format.adu_offset_bits},
                                      {"super_block_adus", vd->super_block_adus},
                                      {"capacity_adus", vd->capacity_adus},
                                      {"allocated_adus", vd->allocated_adus},
                                      {"used_adus", vd->used_adus},
                                      {"free_super_blocks", vd->free_super_blocks},
                                      {"closed_super_blocks", vd->closed_super_blocks},
                                      {"open_super_blocks", vd->open_super_blocks},
                                      {"pslc_super_blocks", vd->pslc_super_blocks},
                                      {"critical_warning", vd->critical_warning},
                                      {"default_read_fifo", vd->default_read_fifo.value()},
                                      {"qos_domains", domains}});
    for (QosDomainId d : vd->qos_domains) {
      absl::StatusOr<hal::QosDomainInfo> q = unit.GetQosDomainInfo(d);
      if (!q.ok()) return q.status();
      json roots = json::array();
      for (FlashAddress r : q->root_pointers) roots.push_back(absl::StrFormat("0x%016x", r.raw()));
      out["qos_domains"].push_back(
          {{"id", d.value()},
           {"virtual_device", q->vd.value()},
           {"capacity_adus", q->capacity_adus},
           {"quota_adus", q->quota_adus},
           {"used_adus", q->used_adus},
           {"pslc_capacity_adus", q->pslc_capacity_adus},
           {"placement_ids", q->placement_ids},
           {"max_open_super_blocks", q->max_open_super_blocks},
           {"super_blocks", q->super_blocks},
           {"program_weight", q->program_weight},
           {"erase_weight", q->erase_weight},
           {"read_deadline", kDeadlines[static_cast<int>(q->deadline) & 3]},
           {"defect_strategy", kDefects[std::min(static_cast<int>(q->defect), 3)]},
           {"default_read_fifo", q->default_read_fifo.value()},
           {"root_pointers", roots}});
    }
  }
  return out;
}

void PrintText(const json& j) {
  const json& u = j["unit"];
  const json& g = j["geometry"];
  const json& l = j["limits"];
  std::string caps;
  for (const auto& c : u["capabilities"]) caps += (caps.empty() ? "" : ", ") + c.get<std::string>();
  std::printf("unit            %s\n", u["transport"].get<std::string>().c_str());
  std::printf("serial          %s\n", u["serial"].get<std::string>().c_str());
  std::printf("model           %s (firmware %s)\n", u["model"].get<std::string>().c_str(),
              u["firmware"].get<std::string>().c_str());
  std::printf("capabilities    %s\n", caps.c_str());
  std::printf(
      "geometry        %u channels x %u banks = %u dies; %u planes, %u pages/block, "
      "%u blocks/die, %u ADUs per plane page\n",
      g["channels"].get<uint32_t>(), g["banks"].get<uint32_t>(), g["dies"].get<uint32_t>(),
      g["planes"].get<uint32_t>(), g["pages_per_block"].get<uint32_t>(),
      g["blocks_per_die"].get<uint32_t>(), g["adus_per_plane_page"].get<uint32_t>());
  std::printf("ADU             %u + %u bytes\n", g["adu_data_bytes"].get<uint32_t>(),
              g["adu_metadata_bytes"].get<uint32_t>());
  std::printf(
      "limits          %u QoS domains, %u placement ids, %u open SBs, %u read FIFOs "
      "(%u in use), %u root pointers\n",
      l["max_qos_domains"].get<uint32_t>(), l["max_placement_ids"].get<uint32_t>(),
      l["max_open_super_blocks"].get<uint32_t>(), l["read_fifos"].get<uint32_t>(),
      l["read_fifos_in_use"].get<uint32_t>(), l["root_pointers"].get<uint32_t>());
  std::printf("virtual devices %zu\n", j["virtual_devices"].size());
  for (const auto& vd : j["virtual_devices"]) {
    std::printf(
        "  vd %u: %zu dies, %u per SB, SB %u ADUs (%u/%u bits), %llu ADUs, %u free / %u "
        "closed / %u open SBs, warning 0x%x\n",
        vd["id"].get<uint32_t>(), vd["dies"].size(), vd["dies_per_super_block"].get<uint32_t>(),
        vd["super_block_adus"].get<uint32_t>(), vd["super_block_id_bits"].get<uint32_t>(),
        vd["adu_offset_bits"].get<uint32_t>(),
        static_cast<unsigned long long>(vd["capacity_adus"].get<uint64_t>()),
        vd["free_super_blocks"].get<uint32_t>(), vd["closed_super_blocks"].get<uint32_t>(),
        vd["open_super_blocks"].get<uint32_t>(), vd["critical_warning"].get<uint32_t>());
  }
  std::printf("QoS domains     %zu\n", j["qos_domains"].size());
  for (const auto& q : j["qos_domains"]) {
    std::printf(
        "  domain %u on vd %u: %llu/%llu ADUs used/capacity, %u placement ids, %u SBs, "
        "%s, %s\n",
        q["id"].get<uint32_t>(), q["virtual_device"].get<uint32_t>(),
        static_cast<unsigned long long>(q["used_adus"].get<uint64_t>()),
        static_cast<unsigned long long>(q["capacity_adus"].get<uint64_t>()),
        q["placement_ids"].get<uint32_t>(), q["super_blocks"].get<uint32_t>(),
        q["defect_strategy"].get<std::string>().c_str(),
        q["read_deadline"].get<std::string>().c_str());
  }
}

int Main(int argc, char** argv) {
  std::string spec;
  bool as_json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      as_json = true;
    } else if (arg == "-h" || arg == "--help") {
      std::printf(
          "usage: sef_hal_probe <unit> [--json]\n  <unit>: /dev/nvmeN or "
          "model:<config.json>[:<backing file>]\n");
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "sef_hal_probe: unknown option '%s' (try --help)\n", arg.c_str());
      return 2;
    } else if (spec.empty()) {
      spec = arg;
    } else {
      std::fprintf(stderr, "sef_hal_probe: more than one unit given ('%s')\n", arg.c_str());
      return 2;
    }
  }
  if (spec.empty()) {
    std::fprintf(stderr, "usage: sef_hal_probe <unit> [--json]\n");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = hal::Unit::Open(spec);
  if (!unit.ok()) {
    std::fprintf(stderr, "sef_hal_probe: %s\n", std::string(unit.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<json> probe = Probe(**unit);
  if (!probe.ok()) {
    std::fprintf(stderr, "sef_hal_probe: %s: %s\n", spec.c_str(),
                 std::string(probe.status().message()).c_str());
    return 1;
  }
  if (as_json) {
    std::cout << probe->dump(2) << "\n";
  } else {
    PrintText(*probe);
  }
  return 0;
}

}  // namespace
}  // namespace sef::tools

int main(int argc, char** argv) { return sef::tools::Main(argc, argv); }
