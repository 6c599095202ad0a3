// Check: a consistency check of a block FTL domain (ftl.h says what it verifies and what a
// repair does). It reads the on-media structures of internal/format.h through the HAL itself
// rather than through the engine (internal::Ftl): so the check writes nothing, and it does
// not trust the code it checks. A mount would already have dropped (or refused) what the
// check is there to report.
#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "sef/base/crc32c.h"
#include "sef/base/status_macros.h"
#include "sef/ftl/ftl.h"
#include "sef/ftl/internal/format.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/hal/domain_kind.h"

namespace sef::ftl {
namespace {

using internal::AduMeta;
using internal::CheckpointHeader;
using internal::CheckpointPageMeta;
using internal::kAduBytes;
using internal::kMetaBytes;
using internal::SlotEntry;
using internal::SlotKind;

constexpr size_t kMaxProblems = 100;
constexpr uint32_t kReadBatch = 256;

bool IsDataKind(uint8_t kind) {
  return kind == static_cast<uint8_t>(SlotKind::kUser) ||
         kind == static_cast<uint8_t>(SlotKind::kGc);
}

// One read-only check of one domain; Run fills `report` and `bad_lbas`.
class Checker {
 public:
  Checker(hal::Unit* unit, QosDomainId id, bool verify_blocks)
      : unit_(unit), id_(id), verify_(verify_blocks) {}

  absl::Status Run();

  CheckReport report;
  // Blocks whose ADU names another address or does not read: what a repair trims.
  std::vector<uint64_t> bad_lbas;

 private:
  template <typename... Args>
  void Problem(const absl::FormatSpec<Args...>& format, const Args&... args) {
    if (report.problems.size() + 1 < kMaxProblems) {
      report.problems.push_back(absl::StrFormat(format, args...));
    } else {
      ++dropped_;
    }
  }
  absl::Status ReadAdus(SuperBlockId sb, uint32_t first, uint32_t count, uint8_t* data,
                        uint8_t* meta);
  // False when the checkpoint cannot be used (the problems say why): nothing more is checked.
  bool ReadCheckpoint(FlashAddress header_address);
  absl::Status CheckAccounting();
  // A data SB the device opened for a write by placement id: its id is one the format chose,
  // and its first ADU is the FTL's opener (format.h, OpenerPage) for that id.
  absl::Status CheckOpener(uint32_t slot, const hal::SuperBlockDetails& info);
  absl::Status CheckMap();
  absl::Status CheckSlotBlocks(uint32_t slot, std::vector<std::pair<uint32_t, uint64_t>>& blocks);

  hal::Unit* const unit_;
  const QosDomainId id_;
  const bool verify_;
  std::unique_ptr<hal::QosDomain> domain_;
  uint32_t sb_capacity_ = 0;
  CheckpointHeader h_{};
  std::vector<uint32_t> map_;
  std::vector<SlotEntry> table_;
  std::vector<uint32_t> counts_;  // version 2: the recorded per-slot counts
  absl::flat_hash_map<uint32_t, hal::SuperBlockState> held_;
  std::vector<bool> standing_;     // per slot: a data SB still as the checkpoint saw it
  std::vector<uint32_t> written_;  // per standing slot: ADUs written in its SB
  size_t dropped_ = 0;
};

absl::Status Checker::ReadAdus(SuperBlockId sb, uint32_t first, uint32_t count, uint8_t* data,
                               uint8_t* meta) {
  return internal::ReadAdus(*domain_, sb, first, count, data, meta);
}

absl::Status Checker::Run() {
  SEF_ASSIGN_OR_RETURN(hal::QosDomainInfo info, unit_->GetQosDomainInfo(id_));
  const uint64_t kind = info.root_pointers[hal::kKindRootPointer.value()].raw();
  const FlashAddress header = info.root_pointers[0];
  if (kind != hal::kDomainKindBlockFtl || header == FlashAddress::Null()) {
    // Mount refuses such a domain, with the FTL's own message, before it writes anything.
    absl::StatusOr<std::unique_ptr<BlockDevice>> d = BlockDevice::Mount(unit_, id_);
    if (d.ok()) {
      (void)(*d)->Unmount();
      return absl::InternalError(
          absl::StrFormat("QoS domain %u: mounted although it has no checkpoint", id_.value()));
    }
    return d.status();
  }
  SEF_ASSIGN_OR_RETURN(hal::VirtualDeviceInfo vd, unit_->GetVirtualDeviceInfo(info.vd));
  sb_capacity_ = vd.super_block_adus;
  const uint64_t quota = info.quota_adus != 0 ? info.quota_adus : info.capacity_adus;
  report.quota_sbs = sb_capacity_ == 0 ? 0 : static_cast<uint32_t>(quota / sb_capacity_);
  SEF_ASSIGN_OR_RETURN(domain_, unit_->OpenQosDomain(id_));
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> listed, domain_->ListSuperBlocks());
  for (const hal::SuperBlockEntry& e : listed) held_[e.id.value()] = e.state;
  report.held_sbs = static_cast<uint32_t>(listed.size());
  if (report.held_sbs > report.quota_sbs) {
    Problem("the domain holds %u super blocks, above its quota of %u", report.held_sbs,
            report.quota_sbs);
  }
  if (ReadCheckpoint(header)) {
    SEF_RETURN_IF_ERROR(CheckAccounting());
    SEF_RETURN_IF_ERROR(CheckMap());
  }
  if (dropped_ > 0) report.problems.push_back(absl::StrFormat("... and %u more", dropped_));
  domain_.reset();
  return absl::OkStatus();
}

bool Checker::ReadCheckpoint(FlashAddress header_address) {
  std::vector<uint8_t> page(kAduBytes);
  CheckpointPageMeta hmeta{};
  {
    hal::ReadOp r;
    iovec iov{page.data(), page.size()};
    r.address = header_address;
    r.data = {&iov, 1};
    r.metadata = {reinterpret_cast<uint8_t*>(&hmeta), kMetaBytes};
    if (absl::Status s = domain_->Read(r); !s.ok()) {
      Problem("the checkpoint header at 0x%x (root pointer 0) does not read: %s",
              header_address.raw(), s.ToString());
      return false;
    }
  }
  std::memcpy(&h_, page.data(), sizeof(h_));
  if (h_.magic != internal::kCheckpointMagic) {
    Problem("no checkpoint header at 0x%x (root pointer 0): magic 0x%016x", header_address.raw(),
            h_.magic);
    return false;
  }
  if (h_.version != internal::kCheckpointVersion && h_.version != internal::kCheckpointVersion1) {
    Problem("checkpoint format version %u; this FTL knows versions %u and %u", h_.version,
            internal::kCheckpointVersion1, internal::kCheckpointVersion);
    return false;
  }
  const bool v2 = h_.version >= 2;
  if (h_.crc != internal::CheckpointHeaderCrc(h_) || hmeta.crc != Crc32c(page.data(), kAduBytes) ||
      hmeta.generation != h_.generation ||
      hmeta.page != uint64_t{h_.map_pages} + h_.slot_pages + h_.count_pages) {
    Problem("the checkpoint header at 0x%x fails its CRC", header_address.raw());
    return false;
  }
  report.checkpoint_generation = h_.generation;
  report.block_count = h_.block_count;
  report.overprovisioning_percent = h_.op_millipercent / 1000.0;
  report.checkpoint_interval_adus = h_.checkpoint_interval_adus;
  report.checkpoint_sbs = h_.num_sbs;
  report.checkpoint_version = h_.version;
  for (uint32_t i = 0; i < h_.placement_id_count && i < internal::kMaxPlacementIds; ++i) {
    report.placement_ids.push_back(PlacementId(h_.placement_ids[i]));
    if (h_.placement_ids[i] >= domain_->placement_ids()) {
      Problem("the checkpoint records placement id %u; the domain has %u", h_.placement_ids[i],
              domain_->placement_ids());
    }
  }
  const uint64_t pages = uint64_t{h_.map_pages} + h_.slot_pages + h_.count_pages + 1;
  if (h_.sb_capacity != sb_capacity_ || h_.num_sbs == 0 ||
      h_.num_sbs > internal::kMaxCheckpointSbs || h_.block_count == 0 ||
      uint64_t{h_.slot_count} * h_.sb_capacity + 1 >= internal::kMapStale ||
      h_.map_pages !=
          (h_.block_count + internal::kMapEntriesPerPage - 1) / internal::kMapEntriesPerPage ||
      h_.slot_pages !=
          (h_.slot_count + internal::kSlotEntriesPerPage - 1) / internal::kSlotEntriesPerPage ||
      h_.journal_slot >= h_.slot_count || pages > uint64_t{h_.num_sbs} * h_.sb_capacity ||
      h_.count_pages != (v2 ? internal::CountPagesFor(h_.slot_count) : 0) ||
      h_.placement_id_count > (v2 ? internal::kMaxPlacementIds : 0)) {
    Problem(
        "the checkpoint header does not fit the domain (%u ADUs per super block here, %u "
        "recorded; %u blocks, %u slots, %u map, %u slot-table and %u count pages in %u super "
        "blocks)",
        sb_capacity_, h_.sb_capacity, h_.block_count, h_.slot_count, h_.map_pages, h_.slot_pages,
        h_.count_pages, h_.num_sbs);
    return false;
  }

  map_.assign(h_.block_count, 0);
  table_.assign(h_.slot_count, SlotEntry{});
  counts_.assign(v2 ? h_.slot_count : 0, 0);
  const uint32_t total = h_.map_pages + h_.slot_pages + h_.count_pages;
  std::vector<uint8_t> data(size_t{kReadBatch} * kAduBytes);
  std::vector<CheckpointPageMeta> metas(kReadBatch);
  bool ok = true;
  for (uint32_t p = 0; p < total;) {
    const uint32_t in_sb = p % sb_capacity_;
    const uint32_t n = std::min({kReadBatch, total - p, sb_capacity_ - in_sb});
    const SuperBlockId sb(h_.sbs[p / sb_capacity_]);
    if (absl::Status s =
            ReadAdus(sb, in_sb, n, data.data(), reinterpret_cast<uint8_t*>(metas.data()));
        !s.ok()) {
      Problem("checkpoint pages %u..%u (super block %u) do not read: %s", p, p + n - 1, sb.value(),
              s.ToString());
      ok = false;
      p += n;
      continue;
    }
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t idx = p + i;
      const uint8_t* d = data.data() + uint64_t{i} * kAduBytes;
      const CheckpointPageMeta& m = metas[i];
      if (m.generation != h_.generation || m.page != idx || m.crc != Crc32c(d, kAduBytes)) {
        Problem("checkpoint page %u (%s, super block %u) fails its CRC", idx,
                idx < h_.map_pages                   ? "map"
                : idx < h_.map_pages + h_.slot_pages ? "slot table"
                                                     : "slot counts",
                sb.value());
        ok = false;
        continue;
      }
      ++report.checkpoint_pages;
      if (idx < h_.map_pages) {
        const uint64_t base = uint64_t{idx} * internal::kMapEntriesPerPage;
        const uint64_t n_entries =
            std::min<uint64_t>(internal::kMapEntriesPerPage, h_.block_count - base);
        std::memcpy(map_.data() + base, d, n_entries * sizeof(uint32_t));
      } else if (idx < h_.map_pages + h_.slot_pages) {
        const uint64_t base = uint64_t{idx - h_.map_pages} * internal::kSlotEntriesPerPage;
        const uint64_t n_entries =
            std::min<uint64_t>(internal::kSlotEntriesPerPage, h_.slot_count - base);
        std::memcpy(table_.data() + base, d, n_entries * sizeof(SlotEntry));
      } else {
        const uint64_t base =
            uint64_t{idx - h_.map_pages - h_.slot_pages} * internal::kCountsPerPage;
        const uint64_t n_entries =
            std::min<uint64_t>(internal::kCountsPerPage, h_.slot_count - base);
        std::memcpy(counts_.data() + base, d, n_entries * sizeof(uint32_t));
      }
    }
    p += n;
  }
  if (!ok) return false;
  ++report.checkpoint_pages;  // the header
  if (v2) {
    // The per-slot counts recovery starts from: exactly the entries of these map pages.
    std::vector<uint32_t> recount(h_.slot_count, 0);
    internal::CountEntriesPerSlot(map_.data(), map_.size(), h_.sb_capacity, h_.slot_count,
                                  recount.data());
    for (uint32_t i = 0; i < h_.slot_count; ++i) {
      if (recount[i] != counts_[i]) {
        Problem("slot %u: the checkpoint records %u mapped blocks, its map has %u", i, counts_[i],
                recount[i]);
      }
    }
  }
  return true;
}

absl::Status Checker::CheckAccounting() {
  // Who names each SB id: the checkpoint (-1) or a slot.
  std::map<uint32_t, int64_t> owner;
  for (uint32_t i = 0; i < h_.num_sbs; ++i) {
    const uint32_t sb = h_.sbs[i];
    if (!held_.contains(sb)) Problem("checkpoint super block %u is not held by the domain", sb);
    if (!owner.emplace(sb, -1).second) {
      Problem("super block %u is named twice in the checkpoint's list", sb);
    }
  }
  standing_.assign(h_.slot_count, false);
  written_.assign(h_.slot_count, 0);
  for (uint32_t i = 0; i < h_.slot_count; ++i) {
    const SlotEntry& e = table_[i];
    if (e.kind == static_cast<uint8_t>(SlotKind::kNone)) continue;
    const bool journal = e.kind == static_cast<uint8_t>(SlotKind::kJournal);
    if (!journal && !IsDataKind(e.kind)) {
      Problem("slot %u (super block %u) has an unknown kind %u", i, e.sb, e.kind);
      continue;
    }
    if (auto [it, fresh] = owner.emplace(e.sb, i); !fresh) {
      if (it->second < 0) {
        Problem("super block %u is both a checkpoint super block and slot %u", e.sb, i);
      } else {
        Problem("super block %u is named by slots %u and %u", e.sb, it->second, i);
      }
      continue;
    }
    const bool pending = (e.flags & internal::kSlotPendingRelease) != 0;
    if (journal) {
      ++report.journal_sbs;
    } else {
      ++report.data_sbs;
      if (pending) ++report.pending_release_sbs;
    }
    if (!held_.contains(e.sb)) {
      if (i == h_.journal_slot) {
        Problem("the journal super block %u (slot %u) the checkpoint names is not held", e.sb, i);
      }
      continue;  // released since the checkpoint began (a data SB's entries are stale)
    }
    SEF_ASSIGN_OR_RETURN(hal::SuperBlockDetails info,
                         domain_->GetSuperBlockInfo(SuperBlockId(e.sb)));
    if (info.erase_serial != e.serial) continue;  // erased again since: stale as well
    if (e.scan_from != internal::kScanNothing && info.written_adus > e.scan_from) {
      report.needs_recovery = true;  // journal pages or data written since the barrier
    }
    if (!journal && !pending) {
      standing_[i] = true;
      written_[i] = std::min(info.written_adus, sb_capacity_);
      if (info.placement != PlacementId(0xFFFF)) SEF_RETURN_IF_ERROR(CheckOpener(i, info));
    }
  }
  if (table_[h_.journal_slot].kind != static_cast<uint8_t>(SlotKind::kJournal)) {
    Problem("the checkpoint names slot %u as the journal, which holds no journal super block",
            h_.journal_slot);
  }
  for (const auto& [sb, state] : held_) {
    if (owner.contains(sb)) continue;
    // Allocated since the checkpoint (recovery adopts it by its journal record) or an orphan
    // (recovery releases it).
    ++report.unclaimed_sbs;
    report.needs_recovery = true;
  }
  return absl::OkStatus();
}

absl::Status Checker::CheckOpener(uint32_t slot, const hal::SuperBlockDetails& info) {
  ++report.placement_sbs;
  const uint16_t id = info.placement.value();
  bool chosen = false;
  for (uint32_t k = 0; k < h_.placement_id_count && k < internal::kMaxPlacementIds; ++k) {
    chosen = chosen || h_.placement_ids[k] == id;
  }
  if (!chosen) {
    Problem("slot %u (super block %u) was opened by placement id %u, which the format did not "
            "choose",
            slot, info.id.value(), id);
  }
  std::vector<uint8_t> page(kAduBytes);
  AduMeta meta{};
  if (absl::Status s = ReadAdus(info.id, 0, 1, page.data(), reinterpret_cast<uint8_t*>(&meta));
      !s.ok()) {
    Problem("slot %u (super block %u): its opener ADU cannot be read: %s", slot, info.id.value(),
            s.ToString());
    return absl::OkStatus();
  }
  internal::OpenerPage opener;
  std::memcpy(&opener, page.data(), sizeof(opener));
  if (!internal::AduMetaValid(meta, internal::kOpenerMetaMagic) ||
      !internal::OpenerPageValid(opener) || opener.placement_id != id || opener.seq != meta.seq) {
    Problem("slot %u (super block %u, placement id %u): ADU 0 is not the FTL's opener", slot,
            info.id.value(), id);
  }
  return absl::OkStatus();
}

absl::Status Checker::CheckMap() {
  std::map<uint32_t, std::vector<std::pair<uint32_t, uint64_t>>> by_slot;  // (offset, lba)
  for (uint64_t lba = 0; lba < h_.block_count; ++lba) {
    const uint32_t v = map_[lba];
    if (v == internal::kMapUnmapped) continue;
    ++report.mapped_blocks;
    const uint32_t slot = (v - 1) / h_.sb_capacity;
    const uint32_t offset = (v - 1) % h_.sb_capacity;
    if (slot >= h_.slot_count) {
      Problem("block %u maps to slot %u, beyond the slot table's %u slots", lba, slot,
              h_.slot_count);
      continue;
    }
    if (!IsDataKind(table_[slot].kind)) {
      Problem("block %u maps into slot %u, which holds no data super block (kind %u)", lba, slot,
              table_[slot].kind);
      continue;
    }
    if (!standing_[slot]) {
      ++report.stale_blocks;
      continue;
    }
    by_slot[slot].push_back({offset, lba});
  }
  if (report.stale_blocks > 0 && !report.needs_recovery) {
    Problem(
        "%u blocks map into super blocks released, erased again or pending release, and "
        "nothing was written since the checkpoint to account for it (they read zeros after "
        "the next mount)",
        report.stale_blocks);
  }
  if (!verify_) return absl::OkStatus();
  for (auto& [slot, blocks] : by_slot) SEF_RETURN_IF_ERROR(CheckSlotBlocks(slot, blocks));
  return absl::OkStatus();
}

// The mapped blocks of one standing data SB: their user addresses (one list per SB) and
// metadata (metadata-only reads of each run of consecutive mapped ADUs).
absl::Status Checker::CheckSlotBlocks(uint32_t slot,
                                      std::vector<std::pair<uint32_t, uint64_t>>& blocks) {
  const SuperBlockId sb(table_[slot].sb);
  std::sort(blocks.begin(), blocks.end());
  absl::StatusOr<std::vector<UserAddress>> uas = domain_->GetUserAddressList(sb);
  if (!uas.ok()) {
    Problem("super block %u (slot %u, %u mapped blocks): its user addresses do not read: %s",
            sb.value(), slot, blocks.size(), uas.status().ToString());
    return absl::OkStatus();
  }
  auto bad = [this](uint64_t lba) { bad_lbas.push_back(lba); };
  std::vector<std::pair<uint32_t, uint64_t>> named;  // the ADUs that name their block
  for (const auto& [offset, lba] : blocks) {
    if (offset >= written_[slot]) {
      Problem("block %u maps to ADU %u of super block %u, which has %u ADUs written", lba, offset,
              sb.value(), written_[slot]);
      bad(lba);
      continue;
    }
    const UserAddress ua = offset < uas->size() ? (*uas)[offset] : UserAddress::Ignore();
    if (ua.is_ignore() || ua.tag() != internal::kDataTag || ua.lba().value() != lba) {
      Problem("block %u maps to ADU %u of super block %u, whose user address is %s", lba, offset,
              sb.value(),
              ua.is_ignore()                   ? std::string("none")
              : ua.tag() == internal::kDataTag ? absl::StrFormat("block %u", ua.lba().value())
                                               : absl::StrFormat("0x%016x", ua.raw()));
      bad(lba);
      continue;
    }
    named.push_back({offset, lba});
  }
  std::vector<AduMeta> meta;
  for (size_t i = 0; i < named.size();) {
    size_t j = i + 1;
    while (j < named.size() && named[j].first == named[j - 1].first + 1) ++j;
    const uint32_t first = named[i].first, n = static_cast<uint32_t>(j - i);
    meta.assign(n, AduMeta{});
    absl::Status s = ReadAdus(sb, first, n, nullptr, reinterpret_cast<uint8_t*>(meta.data()));
    for (size_t k = i; k < j; ++k) {
      const auto [offset, lba] = named[k];
      AduMeta& m = meta[k - i];
      if (!s.ok()) {  // which ADU: read them one by one
        if (absl::Status one = ReadAdus(sb, offset, 1, nullptr, reinterpret_cast<uint8_t*>(&m));
            !one.ok()) {
          Problem("block %u: ADU %u of super block %u does not read: %s", lba, offset, sb.value(),
                  one.ToString());
          bad(lba);
          continue;
        }
      }
      if (!internal::AduMetaValid(m, internal::kDataMetaMagic)) {
        Problem("block %u: ADU %u of super block %u has no valid data metadata", lba, offset,
                sb.value());
        bad(lba);
        continue;
      }
      ++report.verified_blocks;
    }
    i = j;
  }
  return absl::OkStatus();
}

// Mounts `domain`, runs `body` on it and unmounts; the first error wins.
template <typename Body>
absl::Status WithMounted(hal::Unit* unit, QosDomainId domain, Body body) {
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<BlockDevice> disk, BlockDevice::Mount(unit, domain));
  absl::Status s = body(*disk);
  absl::Status unmounted = disk->Unmount();
  return s.ok() ? unmounted : s;
}

}  // namespace

absl::StatusOr<CheckReport> Check(hal::Unit* unit, QosDomainId domain,
                                  const CheckOptions& options) {
  if (unit == nullptr) return absl::InvalidArgumentError("check: the unit is null");
  Checker first(unit, domain, options.verify_blocks);
  SEF_RETURN_IF_ERROR(first.Run());
  if (!options.repair) return std::move(first.report);

  Stats recovered;
  SEF_RETURN_IF_ERROR(WithMounted(unit, domain, [&](BlockDevice& disk) {
    recovered = disk.GetStats();
    return absl::OkStatus();
  }));
  auto last = std::make_unique<Checker>(unit, domain, /*verify_blocks=*/true);
  SEF_RETURN_IF_ERROR(last->Run());
  uint64_t trimmed = 0;
  if (!last->bad_lbas.empty()) {
    const std::vector<uint64_t> lbas = last->bad_lbas;
    SEF_RETURN_IF_ERROR(WithMounted(unit, domain, [&](BlockDevice& disk) -> absl::Status {
      for (uint64_t lba : lbas) {
        SEF_RETURN_IF_ERROR(disk.Trim(Lba(lba), 1));
        ++trimmed;
      }
      return disk.Flush();
    }));
    last = std::make_unique<Checker>(unit, domain, /*verify_blocks=*/true);
    SEF_RETURN_IF_ERROR(last->Run());
  }
  CheckReport report = std::move(last->report);
  report.repaired = true;
  report.recovered_adus = recovered.recovered_adus;
  report.recovered_trims = recovered.recovered_trims;
  report.trimmed_blocks = trimmed;
  report.problems_before_repair = std::move(first.report.problems);
  return report;
}

}  // namespace sef::ftl
