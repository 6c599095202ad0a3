// Handlers of `ftl` (over //sef/ftl's public header): configure = BlockDevice::Format, info =
// Mount + GetStats + Unmount (and the format parameters from ftl::Check's quick read of the
// checkpoint header), check = ftl::Check. What a domain may be formatted over, what is
// consistent and what a repair does are the FTL's decisions, not the tool's.
#include "sef/ftl/ftl.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sef/base/status_macros.h"
#include "tools/sef_cli/cli.h"

namespace sef::cli {
namespace {

std::string Mib(uint64_t blocks) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(blocks) * ftl::kBlockSize / (1 << 20));
}

json StatsJson(const ftl::Stats& s) {
  return {{"block_count", s.block_count},
          {"reads", s.reads},
          {"writes", s.writes},
          {"trims", s.trims},
          {"flushes", s.flushes},
          {"host_adus_read", s.host_adus_read},
          {"host_adus_written", s.host_adus_written},
          {"trimmed_blocks", s.trimmed_blocks},
          {"flash_adus_written", s.flash_adus_written},
          {"gc_copied_adus", s.gc_copied_adus},
          {"metadata_adus_written", s.metadata_adus_written},
          {"write_amplification", s.write_amplification},
          {"total_sbs", s.total_sbs},
          {"held_sbs", s.held_sbs},
          {"free_sbs", s.free_sbs},
          {"data_sbs", s.data_sbs},
          {"open_sbs", s.open_sbs},
          {"journal_sbs", s.journal_sbs},
          {"checkpoint_sbs", s.checkpoint_sbs},
          {"pending_release_sbs", s.pending_release_sbs},
          {"checkpoints", s.checkpoints},
          {"gc_victims", s.gc_victims},
          {"gc_relocations", s.gc_relocations},
          {"internal_flushes", s.internal_flushes},
          {"write_waits", s.write_waits},
          {"placement_sbs_opened", s.placement_sbs_opened},
          {"sbs_retired_early", s.sbs_retired_early},
          {"capacity_warnings", s.capacity_warnings},
          {"patrols", s.patrols},
          {"address_updates", s.address_updates},
          {"recovered_adus", s.recovered_adus},
          {"recovered_trims", s.recovered_trims},
          {"map_pages", s.map_pages},
          {"map_pages_loaded", s.map_pages_loaded},
          {"map_pages_failed", s.map_pages_failed}};
}

absl::StatusOr<double> Overprovisioning(Context& c) {
  const std::optional<std::string> v = c.Get("overprovisioning");
  if (!v) return ftl::FormatOptions{}.overprovisioning_percent;
  std::string text = *v;
  if (!text.empty() && text.back() == '%') text.pop_back();
  double percent = 0;
  if (!absl::SimpleAtod(text, &percent) || text.empty() || !(percent >= 0)) {
    return UsageError(
        absl::StrFormat("--overprovisioning '%s' is not a percentage (e.g. 7, 12.5)", *v));
  }
  return percent;
}

// --placement-ids "1,0" or "1 0": the ids user writes go by (FormatOptions::placement_ids).
absl::StatusOr<std::vector<PlacementId>> PlacementIds(Context& c) {
  std::vector<PlacementId> ids;
  const std::optional<std::string> v = c.Get("placement-ids");
  if (!v) return ids;
  for (absl::string_view part : absl::StrSplit(*v, absl::ByAnyChar(", "), absl::SkipEmpty())) {
    uint32_t id = 0;
    if (!absl::SimpleAtoi(part, &id) || id > 0xFFFF) {
      return UsageError(
          absl::StrFormat("--placement-ids '%s': '%s' is not a placement id (e.g. 0,1)", *v, part));
    }
    ids.push_back(PlacementId(static_cast<uint16_t>(id)));
  }
  return ids;
}

json PlacementIdsJson(const std::vector<PlacementId>& ids) {
  json a = json::array();
  for (PlacementId id : ids) a.push_back(id.value());
  return a;
}

std::string PlacementIdsText(const std::vector<PlacementId>& ids) {
  if (ids.empty()) return "none";
  std::vector<std::string> parts;
  for (PlacementId id : ids) parts.push_back(absl::StrCat(id.value()));
  return absl::StrJoin(parts, ", ") + " (user writes)";
}

// The FTL's error, with the domain and unit in front unless the message names them already.
absl::Status Named(const absl::Status& s, QosDomainId id, hal::Unit* unit) {
  if (s.ok() || absl::StartsWith(s.message(), "QoS domain")) return s;
  return absl::Status(
      s.code(), absl::StrFormat("QoS domain %u of %s: %s", id.value(), unit->name(), s.message()));
}

// What configure and info print: the statistics of a device just formatted or mounted (which
// is then unmounted) and the format parameters of its checkpoint header (Check's quick read,
// no block reads).
struct Snapshot {
  ftl::Stats stats;
  ftl::CheckReport format;
};
absl::StatusOr<Snapshot> TakeSnapshot(absl::StatusOr<std::unique_ptr<ftl::BlockDevice>> disk,
                                      QosDomainId id, hal::Unit* unit) {
  if (!disk.ok()) return Named(disk.status(), id, unit);
  Snapshot s;
  s.stats = (*disk)->GetStats();
  SEF_RETURN_IF_ERROR(Named((*disk)->Unmount(), id, unit));
  disk->reset();
  absl::StatusOr<ftl::CheckReport> format = ftl::Check(unit, id, {.verify_blocks = false});
  if (!format.ok()) return Named(format.status(), id, unit);
  s.format = *std::move(format);
  return s;
}

json SnapshotJson(QosDomainId id, const Snapshot& s) {
  return {{"qos_domain", id.value()},
          {"block_count", s.stats.block_count},
          {"block_bytes", ftl::kBlockSize},
          {"capacity_bytes", s.stats.block_count * ftl::kBlockSize},
          {"overprovisioning_percent", s.format.overprovisioning_percent},
          {"checkpoint_interval_adus", s.format.checkpoint_interval_adus},
          {"checkpoint_generation", s.format.checkpoint_generation},
          {"checkpoint_version", s.format.checkpoint_version},
          {"placement_ids", PlacementIdsJson(s.format.placement_ids)}};
}

std::string ProblemsText(const std::vector<std::string>& problems) {
  std::string s;
  for (const std::string& p : problems) s += "  - " + p + "\n";
  return s;
}

}  // namespace

absl::Status FtlConfigure(Context& c) {
  SEF_ASSIGN_OR_RETURN(double op, Overprovisioning(c));
  SEF_ASSIGN_OR_RETURN(std::optional<uint64_t> interval, c.GetNumber("checkpoint-interval"));
  SEF_ASSIGN_OR_RETURN(std::vector<PlacementId> placement_ids, PlacementIds(c));
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo info, unit->GetQosDomainInfo(id));
  if (KindName(info) == "ftl" && !c.Has("force")) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "QoS domain %u of %s holds a block FTL domain already; --force formats it again (its "
        "data is discarded)",
        id.value(), unit->name()));
  }
  // Anything else the FTL refuses itself, with its message (a zoned domain, foreign data).
  const ftl::FormatOptions options{.overprovisioning_percent = op,
                                   .checkpoint_interval_adus = interval.value_or(0),
                                   .placement_ids = placement_ids};
  SEF_ASSIGN_OR_RETURN(Snapshot snap,
                       TakeSnapshot(ftl::BlockDevice::Format(unit, id, options), id, unit));
  const ftl::Stats& st = snap.stats;
  c.out = SnapshotJson(id, snap);
  c.out["super_blocks"] = {{"total", st.total_sbs}, {"held", st.held_sbs}, {"free", st.free_sbs}};
  c.text = absl::StrFormat(
      "QoS domain %u of %s is a block FTL: %u blocks of %u bytes (%s), over-provisioning %g%%; "
      "super blocks: %u, %u held, %u free; placement ids: %s\n",
      id.value(), unit->name(), st.block_count, ftl::kBlockSize, Mib(st.block_count), op,
      st.total_sbs, st.held_sbs, st.free_sbs, PlacementIdsText(snap.format.placement_ids));
  return absl::OkStatus();
}

absl::Status FtlInfo(Context& c) {
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(Snapshot snap, TakeSnapshot(ftl::BlockDevice::Mount(unit, id), id, unit));
  const ftl::Stats& st = snap.stats;
  const ftl::CheckReport& format = snap.format;
  c.out = SnapshotJson(id, snap);
  c.out["write_amplification"] = st.write_amplification;
  c.out["stats"] = StatsJson(st);
  std::vector<std::vector<std::string>> rows = {
      {"qos_domain", absl::StrCat(id.value(), " of ", unit->name(), ": block FTL")},
      {"capacity", absl::StrFormat("%u blocks of %u bytes (%s)", st.block_count, ftl::kBlockSize,
                                   Mib(st.block_count))},
      {"overprovisioning", absl::StrFormat("%g%%", format.overprovisioning_percent)},
      {"checkpoint", absl::StrFormat("generation %u (format version %u), every %u flash ADUs",
                                     format.checkpoint_generation, format.checkpoint_version,
                                     format.checkpoint_interval_adus)},
      {"placement_ids", PlacementIdsText(format.placement_ids)},
      {"host_adus_written", absl::StrCat(st.host_adus_written)},
      {"flash_adus_written",
       absl::StrFormat("%u (GC copies %u; metadata this mount %u)", st.flash_adus_written,
                       st.gc_copied_adus, st.metadata_adus_written)},
      {"write_amplification", absl::StrFormat("%.3f", st.write_amplification)},
      {"super_blocks",
       absl::StrFormat("%u: %u held (%u data, %u open, %u journal, %u checkpoint, %u pending "
                       "release), %u free",
                       st.total_sbs, st.held_sbs, st.data_sbs, st.open_sbs, st.journal_sbs,
                       st.checkpoint_sbs, st.pending_release_sbs, st.free_sbs)},
      {"checkpoints", absl::StrCat(st.checkpoints)},
      {"gc", absl::StrFormat("%u victims, %u relocations", st.gc_victims, st.gc_relocations)},
      {"recovered", absl::StrFormat("%u ADUs, %u trims replayed by this mount", st.recovered_adus,
                                    st.recovered_trims)},
  };
  c.text = FormatTable(rows);
  return absl::OkStatus();
}

absl::Status FtlCheck(Context& c) {
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  absl::StatusOr<ftl::CheckReport> checked = ftl::Check(unit, id, {.repair = c.Has("repair")});
  if (!checked.ok()) return Named(checked.status(), id, unit);
  const ftl::CheckReport& r = *checked;
  const bool consistent = r.problems.empty();
  c.out = {{"qos_domain", id.value()},
           {"consistent", consistent},
           {"checkpoint_generation", r.checkpoint_generation},
           {"checkpoint_version", r.checkpoint_version},
           {"placement_ids", PlacementIdsJson(r.placement_ids)},
           {"block_count", r.block_count},
           {"overprovisioning_percent", r.overprovisioning_percent},
           {"checkpoint_pages", r.checkpoint_pages},
           {"mapped_blocks", r.mapped_blocks},
           {"verified_blocks", r.verified_blocks},
           {"stale_blocks", r.stale_blocks},
           {"super_blocks",
            {{"quota", r.quota_sbs},
             {"held", r.held_sbs},
             {"checkpoint", r.checkpoint_sbs},
             {"journal", r.journal_sbs},
             {"data", r.data_sbs},
             {"pending_release", r.pending_release_sbs},
             {"unclaimed", r.unclaimed_sbs},
             {"by_placement", r.placement_sbs}}},
           {"needs_recovery", r.needs_recovery},
           {"repaired", r.repaired},
           {"problems", r.problems}};
  if (r.repaired) {
    c.out["recovered_adus"] = r.recovered_adus;
    c.out["recovered_trims"] = r.recovered_trims;
    c.out["trimmed_blocks"] = r.trimmed_blocks;
    c.out["problems_before_repair"] = r.problems_before_repair;
  }
  if (r.checkpoint_pages == 0) {
    c.text = absl::StrFormat(
        "QoS domain %u of %s: the checkpoint does not read or verify; %u super blocks held of a "
        "quota of %u\n",
        id.value(), unit->name(), r.held_sbs, r.quota_sbs);
  } else {
    c.text = absl::StrFormat(
        "QoS domain %u of %s: checkpoint generation %u (format version %u), %u blocks, %u pages "
        "verified\n"
        "map: %u blocks mapped, %u verified, %u stale\n"
        "super blocks: %u held of a quota of %u: %u checkpoint, %u journal, %u data (%u pending "
        "release), %u unclaimed\n"
        "recovery due: %s\n",
        id.value(), unit->name(), r.checkpoint_generation, r.checkpoint_version, r.block_count,
        r.checkpoint_pages, r.mapped_blocks, r.verified_blocks, r.stale_blocks, r.held_sbs,
        r.quota_sbs, r.checkpoint_sbs, r.journal_sbs, r.data_sbs, r.pending_release_sbs,
        r.unclaimed_sbs,
        r.needs_recovery ? "yes (the next mount replays what was written since the checkpoint)"
                         : "no");
  }
  if (r.repaired) {
    c.text += absl::StrFormat(
        "repair: the mount replayed %u ADUs and %u trims and wrote a fresh checkpoint; %u "
        "blocks trimmed; before the repair: %s\n",
        r.recovered_adus, r.recovered_trims, r.trimmed_blocks,
        r.problems_before_repair.empty()
            ? std::string("consistent")
            : absl::StrFormat("%u problem(s)\n", r.problems_before_repair.size()) +
                  ProblemsText(r.problems_before_repair));
  }
  if (consistent) {
    c.text += "consistent\n";
    return absl::OkStatus();
  }
  c.text += absl::StrFormat("%u problem(s):\n", r.problems.size()) + ProblemsText(r.problems);
  c.output_on_error = true;
  return absl::DataLossError(
      absl::StrFormat("check ftl: QoS domain %u of %s: %u problem(s): %s%s", id.value(),
                      unit->name(), r.problems.size(), r.problems.front(),
                      r.problems.size() > 1 ? " (and more, listed above)" : ""));
}

}  // namespace sef::cli
