// Handlers of `qos-domain`.
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "sef/base/status_macros.h"
#include "tools/sef_cli/cli.h"

namespace sef::cli {
namespace {

json DomainJson(const hal::QosDomainInfo& q) {
  json roots = json::array();
  for (FlashAddress r : q.root_pointers) roots.push_back(Hex(r.raw()));
  const hal::DomainLabel label = hal::LabelOf(q);
  return {{"id", q.id.value()},
          {"virtual_device", q.vd.value()},
          {"capacity_adus", q.capacity_adus},
          {"quota_adus", q.quota_adus},
          {"used_adus", q.used_adus},
          {"pslc_capacity_adus", q.pslc_capacity_adus},
          {"pslc_quota_adus", q.pslc_quota_adus},
          {"pslc_used_adus", q.pslc_used_adus},
          {"placement_ids", q.placement_ids},
          {"max_open_super_blocks", q.max_open_super_blocks},
          {"super_blocks", q.super_blocks},
          {"program_weight", q.program_weight},
          {"erase_weight", q.erase_weight},
          {"read_deadline", DeadlineName(q.deadline)},
          {"defect_strategy", DefectName(q.defect)},
          {"default_read_fifo", q.default_read_fifo.value()},
          {"kind", KindName(q)},
          {"label", label.empty() ? json(nullptr) : json({label.first, label.second})},
          {"root_pointers", roots}};
}

std::string LabelText(const hal::QosDomainInfo& q) {
  const hal::DomainLabel label = hal::LabelOf(q);
  return label.empty() ? "-" : label.ToString();
}

// Refuses a label another domain than `self` already has.
absl::Status CheckLabelFree(hal::Unit& unit, hal::DomainLabel label,
                            std::optional<QosDomainId> self) {
  if (label.empty()) return absl::OkStatus();
  absl::StatusOr<QosDomainId> holder = hal::FindQosDomainByLabel(unit, label);
  if (holder.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();
  if (!holder.ok()) return holder.status();
  if (self && *holder == *self) return absl::OkStatus();
  return absl::AlreadyExistsError(
      absl::StrFormat("QoS domain %u of %s already has the label \"%s\"", holder->value(),
                      unit.name(), label.ToString()));
}

absl::Status WriteLabel(hal::Unit& unit, QosDomainId id, hal::DomainLabel label) {
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<hal::QosDomain> d, unit.OpenQosDomain(id));
  SEF_RETURN_IF_ERROR(
      d->SetRootPointer(hal::kLabelRootPointers[0], FlashAddress::FromRaw(label.first)));
  return d->SetRootPointer(hal::kLabelRootPointers[1], FlashAddress::FromRaw(label.second));
}

absl::StatusOr<hal::ReadDeadline> ParseDeadline(const std::optional<std::string>& text) {
  if (!text) return hal::ReadDeadline::kTypical;
  for (hal::ReadDeadline d : {hal::ReadDeadline::kTypical, hal::ReadDeadline::kLong,
                              hal::ReadDeadline::kHeroic, hal::ReadDeadline::kFastest}) {
    if (*text == DeadlineName(d)) return d;
  }
  return UsageError(
      absl::StrFormat("--deadline '%s': one of typical, long, heroic, fastest", *text));
}

absl::StatusOr<hal::DefectStrategy> ParseDefect(const std::optional<std::string>& text) {
  if (!text) return hal::DefectStrategy::kPerfect;
  for (hal::DefectStrategy d : {hal::DefectStrategy::kPerfect, hal::DefectStrategy::kPacked,
                                hal::DefectStrategy::kFragmented}) {
    if (*text == DefectName(d)) return d;
  }
  return UsageError(
      absl::StrFormat("--defect-strategy '%s': one of perfect, packed, fragmented", *text));
}

}  // namespace

absl::Status DomainList(Context& c) {
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::vector<QosDomainId> ids, unit->ListQosDomains());
  std::vector<std::vector<std::string>> rows = {{"DOMAIN", "VD", "CAPACITY", "QUOTA", "USED",
                                                 "PSLC", "PIDS", "MAX_OPEN", "SBS", "KIND",
                                                 "LABEL"}};
  c.out["qos_domains"] = json::array();
  for (QosDomainId id : ids) {
    SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo q, unit->GetQosDomainInfo(id));
    c.out["qos_domains"].push_back(DomainJson(q));
    rows.push_back({absl::StrCat(id.value()), absl::StrCat(q.vd.value()),
                    absl::StrCat(q.capacity_adus), absl::StrCat(q.quota_adus),
                    absl::StrCat(q.used_adus), absl::StrCat(q.pslc_capacity_adus),
                    absl::StrCat(q.placement_ids), absl::StrCat(q.max_open_super_blocks),
                    absl::StrCat(q.super_blocks), KindName(q), LabelText(q)});
  }
  c.text =
      ids.empty() ? absl::StrFormat("no QoS domains on %s\n", unit->name()) : FormatTable(rows);
  return absl::OkStatus();
}

absl::Status DomainInfo(Context& c) {
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo q, unit->GetQosDomainInfo(id));
  c.out = DomainJson(q);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, value] : c.out.items()) {
    if (key == "root_pointers") continue;
    std::string v = value.is_string() ? value.get<std::string>() : value.dump();
    if (key == "label") v = LabelText(q);
    rows.push_back({key, v});
  }
  for (size_t i = 0; i < q.root_pointers.size(); ++i) {
    rows.push_back({absl::StrCat("root_pointer_", i), Hex(q.root_pointers[i].raw())});
  }
  c.text = FormatTable(rows);
  return absl::OkStatus();
}

absl::Status DomainCreate(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> vd_id, c.GetNumber("vd", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<Capacity> capacity, c.GetCapacity("capacity"));
  SEF_ASSIGN_OR_RETURN(std::optional<Capacity> quota, c.GetCapacity("quota"));
  SEF_ASSIGN_OR_RETURN(std::optional<Capacity> pslc, c.GetCapacity("pslc-capacity"));
  SEF_ASSIGN_OR_RETURN(std::optional<Capacity> pslc_quota, c.GetCapacity("pslc-quota"));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> pids, c.GetNumber("placement-ids", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> max_open, c.GetNumber("max-open-sbs", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> pw, c.GetNumber("program-weight", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> ew, c.GetNumber("erase-weight", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> fifo, c.GetNumber("read-fifo", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(hal::ReadDeadline deadline, ParseDeadline(c.Get("deadline")));
  SEF_ASSIGN_OR_RETURN(hal::DefectStrategy defect, ParseDefect(c.Get("defect-strategy")));
  SEF_ASSIGN_OR_RETURN(std::optional<hal::DomainLabel> label, c.GetLabel("label"));
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::vector<VirtualDeviceId> vds, unit->ListVirtualDevices());
  VirtualDeviceId vd_of;
  if (vd_id) {
    vd_of = VirtualDeviceId(static_cast<uint16_t>(*vd_id));
    if (std::find(vds.begin(), vds.end(), vd_of) == vds.end()) {
      return absl::NotFoundError(
          absl::StrFormat("no virtual device %u on %s", *vd_id, unit->name()));
    }
  } else if (vds.size() == 1) {
    vd_of = vds[0];
  } else {
    return vds.empty() ? absl::FailedPreconditionError(absl::StrFormat(
                             "%s has no virtual device: create one first (sef-cli create "
                             "virtual-device)",
                             unit->name()))
                       : UsageError(absl::StrFormat("%s has %u virtual devices: name one with "
                                                    "--vd",
                                                    unit->name(), vds.size()));
  }
  SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vd, unit->GetVirtualDeviceInfo(vd_of));
  if (label) SEF_RETURN_IF_ERROR(CheckLabelFree(*unit, *label, std::nullopt));
  hal::QosDomainConfig config{.vd = vd_of};
  if (capacity) {
    SEF_ASSIGN_OR_RETURN(config.capacity_adus, capacity->Adus(vd.capacity_adus));
  } else {
    config.capacity_adus = vd.capacity_adus - std::min(vd.capacity_adus, vd.allocated_adus);
    if (config.capacity_adus == 0) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "virtual device %u of %s has given all its capacity to QoS domains: give --capacity "
          "or resize a domain",
          vd_of.value(), unit->name()));
    }
  }
  if (quota) {
    SEF_ASSIGN_OR_RETURN(config.quota_adus, quota->Adus(vd.capacity_adus));
  }
  if (pslc) {
    SEF_ASSIGN_OR_RETURN(config.pslc_capacity_adus, pslc->Adus(vd.capacity_adus));
  }
  if (pslc_quota) {
    SEF_ASSIGN_OR_RETURN(config.pslc_quota_adus, pslc_quota->Adus(vd.capacity_adus));
  }
  config.placement_ids = static_cast<uint16_t>(pids.value_or(1));
  config.max_open_super_blocks = static_cast<uint16_t>(max_open.value_or(1));
  config.program_weight = static_cast<uint16_t>(pw.value_or(0));
  config.erase_weight = static_cast<uint16_t>(ew.value_or(0));
  config.default_read_fifo = ReadFifoId(static_cast<uint16_t>(fifo.value_or(0)));
  config.deadline = deadline;
  config.defect = defect;
  absl::StatusOr<QosDomainId> id = unit->CreateQosDomain(config);
  if (!id.ok()) {
    return absl::Status(
        id.status().code(),
        absl::StrFormat("create qos-domain on virtual device %u (capacity %u "
                        "ADUs): %s",
                        vd_of.value(), config.capacity_adus, id.status().message()));
  }
  if (label) {
    absl::Status s = WriteLabel(*unit, *id, *label);
    if (!s.ok()) {
      (void)unit->DeleteQosDomain(*id);  // no half-made domain
      return s;
    }
  }
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo q, unit->GetQosDomainInfo(*id));
  c.out = DomainJson(q);
  c.text = absl::StrFormat("created QoS domain %u on virtual device %u of %s: %u ADUs%s\n",
                           id->value(), vd_of.value(), unit->name(), q.capacity_adus,
                           label ? absl::StrCat(", label ", label->ToString()) : "");
  return absl::OkStatus();
}

absl::Status DomainDelete(Context& c) {
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_RETURN_IF_ERROR(unit->DeleteQosDomain(id));
  c.out = {{"deleted_qos_domain", id.value()}};
  c.text = absl::StrFormat("deleted QoS domain %u of %s\n", id.value(), unit->name());
  return absl::OkStatus();
}

absl::Status DomainFormat(Context& c) {
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<hal::QosDomain> d, unit->OpenQosDomain(id));
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> sbs, d->ListSuperBlocks());
  uint32_t open = 0;
  for (const hal::SuperBlockEntry& sb : sbs) {
    if (IsOpen(sb)) {
      ++open;
    }
  }
  if (open != 0 && !c.Has("force")) {
    return absl::FailedPreconditionError(
        absl::StrFormat("QoS domain %u of %s is in use: %u super block(s) open (a mounted FTL or "
                        "zoned namespace, or a writer); --force formats it anyway",
                        id.value(), unit->name(), open));
  }
  for (const hal::SuperBlockEntry& sb : sbs) {
    SEF_RETURN_IF_ERROR(d->ReleaseSuperBlock(sb.id));
  }
  // The kind pointer is cleared last (domain_kind.h): a format cut short still says what the
  // domain held.
  const bool keep_label = c.Has("relabel");
  for (uint8_t i = 0; i < wire::kNumRootPointers; ++i) {
    const hal::RootPointerIndex index(i);
    const bool label = index == hal::kLabelRootPointers[0] || index == hal::kLabelRootPointers[1];
    if (index == hal::kKindRootPointer || (label && keep_label)) continue;
    SEF_RETURN_IF_ERROR(d->SetRootPointer(index, FlashAddress::FromRaw(0)));
  }
  SEF_RETURN_IF_ERROR(d->SetRootPointer(hal::kKindRootPointer, FlashAddress::FromRaw(0)));
  c.out = {{"formatted_qos_domain", id.value()},
           {"released_super_blocks", sbs.size()},
           {"label_kept", keep_label}};
  c.text = absl::StrFormat("formatted QoS domain %u of %s: %u super block(s) released%s\n",
                           id.value(), unit->name(), sbs.size(), keep_label ? ", label kept" : "");
  return absl::OkStatus();
}

absl::Status DomainResize(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::optional<Capacity> capacity, c.GetCapacity("capacity"));
  SEF_ASSIGN_OR_RETURN(std::optional<Capacity> quota, c.GetCapacity("quota"));
  if (!capacity) return UsageError("resize qos-domain: --capacity CAP is required");
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo before, unit->GetQosDomainInfo(id));
  SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vd, unit->GetVirtualDeviceInfo(before.vd));
  SEF_ASSIGN_OR_RETURN(uint64_t adus, capacity->Adus(vd.capacity_adus));
  uint64_t quota_adus = 0;
  if (quota) {
    SEF_ASSIGN_OR_RETURN(quota_adus, quota->Adus(vd.capacity_adus));
  }
  const bool pslc = c.Has("pslc");
  absl::Status s = unit->SetQosDomainCapacity(id, pslc, adus, quota_adus);
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrFormat("resize QoS domain %u to %u %sADUs: %s", id.value(), adus,
                                        pslc ? "pSLC " : "", s.message()));
  }
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo q, unit->GetQosDomainInfo(id));
  c.out = DomainJson(q);
  c.text = absl::StrFormat("QoS domain %u of %s: %scapacity %u ADUs, quota %u ADUs\n", id.value(),
                           unit->name(), pslc ? "pSLC " : "",
                           pslc ? q.pslc_capacity_adus : q.capacity_adus,
                           pslc ? q.pslc_quota_adus : q.quota_adus);
  return absl::OkStatus();
}

absl::Status DomainLabel(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> domain, c.GetNumber("domain", 0xFFFF));
  SEF_ASSIGN_OR_RETURN(std::optional<hal::DomainLabel> label, c.GetLabel("label"));
  if (!domain || !label) {
    return UsageError("label qos-domain: --domain ID and --label \"U64 U64\" are required");
  }
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.ExistingDomain(*domain));
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo q, unit->GetQosDomainInfo(id));
  const hal::DomainLabel old = hal::LabelOf(q);
  if (!old.empty() && old != *label && !c.Has("force")) {
    return absl::FailedPreconditionError(
        absl::StrFormat("QoS domain %u of %s is labelled \"%s\" already; --force replaces it",
                        id.value(), unit->name(), old.ToString()));
  }
  SEF_RETURN_IF_ERROR(CheckLabelFree(*unit, *label, id));
  SEF_RETURN_IF_ERROR(WriteLabel(*unit, id, *label));
  c.out = {{"qos_domain", id.value()},
           {"label", label->empty() ? json(nullptr) : json({label->first, label->second})}};
  c.text = label->empty()
               ? absl::StrFormat("QoS domain %u of %s: label cleared\n", id.value(), unit->name())
               : absl::StrFormat("QoS domain %u of %s: label \"%s\"\n", id.value(), unit->name(),
                                 label->ToString());
  return absl::OkStatus();
}

}  // namespace sef::cli
