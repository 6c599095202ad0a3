// Mount: load the last checkpoint, replay what was written since, and pick up the journal.
// docs/ftl.md ("Recovery") states the rules and why they are right; in short:
//
//  - The checkpoint gives a map, a slot table and R (every update numbered below R is in
//    the map). A map entry is *stale* when its slot is not in the table, or the table's SB
//    is no longer what the checkpoint saw: flagged pending release, no longer held, or named
//    by a release or allocation record written since the checkpoint began.
//  - Written since the checkpoint began: the journal from the position the checkpoint names
//    (following the change-over records into later journal SBs), the data SBs allocated
//    since (allocation records), and the tail of each SB that was open at the barrier.
//  - Replay, by sequence number: data ADUs numbered >= R and trims numbered >= R always
//    win; a GC copy (numbered < R: copies keep the number of the write they move) only fills
//    a stale entry. Then every SB the domain holds and no rule claims is released.
//
// The work is the checkpoint's header, slot table and per-slot counts plus what was written
// since it: no admin command per SB of the domain, and no map. The map is loaded after Mount
// returns (map_load.cc): replay leaves its updates per map page (the overlay), and the
// standing slots' valid counts start from the counts the checkpoint recorded (format
// version 2). A version 1 checkpoint has no counts: its map is loaded and walked before
// Mount returns, as before. docs/ftl.md has the numbers.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/ftl/internal/trace.h"

namespace sef::ftl::internal {
namespace {

constexpr uint32_t kReadBatch = 256;
constexpr uint32_t kCheckpointReadBatch = 32;  // checkpoint pages per read

struct PostStart {
  uint32_t serial = 0;
  SlotKind kind = SlotKind::kNone;
  uint8_t stream = 0;
  bool allocated = false;  // the last record for the id is an allocation
};

}  // namespace

absl::Status ReadAdus(hal::QosDomain& domain, SuperBlockId sb, uint32_t first, uint32_t count,
                      uint8_t* data, uint8_t* meta) {
  const uint32_t batch = std::min(kReadBatch, std::max(1u, domain.max_adus_per_command()));
  for (uint32_t done = 0; done < count;) {
    const uint32_t n = std::min(batch, count - done);
    SEF_ASSIGN_OR_RETURN(FlashAddress a, domain.AddressOf(sb, AduOffset(first + done)));
    iovec iov{data == nullptr ? nullptr : data + uint64_t{done} * kAduBytes, size_t{n} * kAduBytes};
    hal::ReadOp r;
    r.address = a;
    r.adus = AduCount(n);
    if (data != nullptr) r.data = {&iov, 1};
    r.metadata = {meta + uint64_t{done} * kMetaBytes, size_t{n} * kMetaBytes};
    SEF_RETURN_IF_ERROR(domain.Read(r));
    done += n;
  }
  return absl::OkStatus();
}

absl::Status Ftl::Recover(FlashAddress header_address, const MountOptions& options) {
  const std::string where = absl::StrFormat("QoS domain %u", domain_id_.value());
  auto corrupt = [&where](const std::string& what) {
    return absl::DataLossError(absl::StrFormat("%s: %s", where, what));
  };

  // ---- the header ----
  std::vector<uint8_t> page(kAduBytes);
  CheckpointPageMeta hmeta{};
  {
    hal::ReadOp r;
    iovec iov{page.data(), page.size()};
    r.address = header_address;
    r.data = {&iov, 1};
    r.metadata = {reinterpret_cast<uint8_t*>(&hmeta), kMetaBytes};
    if (absl::Status s = domain_->Read(r); !s.ok()) {
      return corrupt(
          absl::StrFormat("the checkpoint header at 0x%x (root pointer 0) cannot be "
                          "read: %s",
                          header_address.raw(), s.ToString()));
    }
  }
  CheckpointHeader h;
  std::memcpy(&h, page.data(), sizeof(h));
  if (h.magic != kCheckpointMagic) {
    return corrupt(absl::StrFormat("no checkpoint header at 0x%x (magic 0x%016x)",
                                   header_address.raw(), h.magic));
  }
  if (h.version != kCheckpointVersion && h.version != kCheckpointVersion1) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: checkpoint format version %u; this FTL reads versions %u and %u",
                        where, h.version, kCheckpointVersion1, kCheckpointVersion));
  }
  const bool v2 = h.version >= 2;
  if (h.crc != CheckpointHeaderCrc(h) || hmeta.crc != Crc32c(page.data(), kAduBytes) ||
      hmeta.generation != h.generation ||
      hmeta.page != uint64_t{h.map_pages} + h.slot_pages + h.count_pages) {
    return corrupt(
        absl::StrFormat("the checkpoint header at 0x%x fails its CRC", header_address.raw()));
  }
  if (h.sb_capacity != geo_.sb_capacity || h.num_sbs == 0 || h.num_sbs > kMaxCheckpointSbs ||
      h.block_count == 0 || uint64_t{h.slot_count} * h.sb_capacity + 1 >= kMapStale ||
      h.map_pages != (h.block_count + kMapEntriesPerPage - 1) / kMapEntriesPerPage ||
      h.slot_pages != (h.slot_count + kSlotEntriesPerPage - 1) / kSlotEntriesPerPage ||
      h.journal_slot >= h.slot_count || h.count_pages != (v2 ? CountPagesFor(h.slot_count) : 0) ||
      h.placement_id_count > (v2 ? kMaxPlacementIds : 0)) {
    return corrupt(absl::StrFormat(
        "the checkpoint header does not fit the domain (%u ADUs per SB here, %u recorded)",
        geo_.sb_capacity, h.sb_capacity));
  }
  geo_.block_count = h.block_count;
  geo_.slot_count = h.slot_count;
  geo_.op_millipercent = h.op_millipercent;
  geo_.reserved_sbs = h.reserved_sbs;
  geo_.checkpoint_sbs = (geo_.checkpoint_pages() + geo_.sb_capacity - 1) / geo_.sb_capacity;
  format_interval_ = h.checkpoint_interval_adus;
  placement_ids_.clear();
  for (uint32_t i = 0; i < h.placement_id_count; ++i) {
    placement_ids_.push_back(PlacementId(h.placement_ids[i]));
  }
  SetUpStreams();
  geo_.checkpoint_interval_adus = options.checkpoint_interval_adus != 0
                                      ? options.checkpoint_interval_adus
                                      : h.checkpoint_interval_adus;
  if (geo_.quota_sbs < geo_.reserved_sbs + kMinSpareSbs) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: its quota of %u super blocks is below the %u the FTL was formatted with", where,
        geo_.quota_sbs, geo_.reserved_sbs));
  }
  AllocateArrays();
  const uint64_t R = h.replay_from_seq;

  // ---- slot table and per-slot counts (the map itself loads after Mount: map_load.cc) ----
  std::vector<SuperBlockId> checkpoint_sbs;
  for (uint32_t i = 0; i < h.num_sbs; ++i) checkpoint_sbs.push_back(SuperBlockId(h.sbs[i]));
  std::vector<SlotEntry> table(h.slot_count);
  std::vector<uint32_t> counts(h.slot_count, 0);
  {
    const uint32_t total = h.map_pages + h.slot_pages + h.count_pages;
    const uint32_t batch = kCheckpointReadBatch;
    std::unique_ptr<uint8_t[]> buffer(new uint8_t[size_t{batch} * kAduBytes]);
    std::vector<CheckpointPageMeta> metas(batch);
    for (uint32_t p = h.map_pages; p < total;) {
      const uint32_t in_sb = p % geo_.sb_capacity;
      const uint32_t n = std::min({batch, total - p, geo_.sb_capacity - in_sb});
      const SuperBlockId sb = checkpoint_sbs[p / geo_.sb_capacity];
      if (absl::Status s =
              ReadAdus(sb, in_sb, n, buffer.get(), reinterpret_cast<uint8_t*>(metas.data()));
          !s.ok()) {
        return corrupt(absl::StrFormat("checkpoint pages %u..%u cannot be read: %s", p, p + n - 1,
                                       s.ToString()));
      }
      for (uint32_t i = 0; i < n; ++i) {
        const uint8_t* data = buffer.get() + uint64_t{i} * kAduBytes;
        const CheckpointPageMeta& m = metas[i];
        if (m.generation != h.generation || m.page != p + i || m.crc != Crc32c(data, kAduBytes)) {
          return corrupt(absl::StrFormat("checkpoint page %u fails its CRC", p + i));
        }
        if (p + i < h.map_pages + h.slot_pages) {
          const uint64_t base = uint64_t{p + i - h.map_pages} * kSlotEntriesPerPage;
          const uint64_t k = std::min<uint64_t>(kSlotEntriesPerPage, h.slot_count - base);
          std::memcpy(table.data() + base, data, k * sizeof(SlotEntry));
        } else {
          const uint64_t base = uint64_t{p + i - h.map_pages - h.slot_pages} * kCountsPerPage;
          const uint64_t k = std::min<uint64_t>(kCountsPerPage, h.slot_count - base);
          std::memcpy(counts.data() + base, data, k * sizeof(uint32_t));
        }
      }
      p += n;
    }
  }

  // ---- the journal since the checkpoint ----
  // The list of every SB the domain holds (one admin command, but its cost grows with the
  // domain) is taken by the map loader after Mount returned (SettleHeldSbs, map_load.cc);
  // here each SB that matters is asked for by itself.
  const SlotEntry& j0 = table[h.journal_slot];
  auto journal_gone = [&] {
    return corrupt(
        absl::StrFormat("the journal super block %u the checkpoint names is gone", j0.sb));
  };
  if (static_cast<SlotKind>(j0.kind) != SlotKind::kJournal) return journal_gone();
  struct ChainSb {
    SuperBlockId sb;
    uint32_t serial;
    uint32_t written;
    bool open;
  };
  std::vector<ChainSb> chain;
  std::vector<JournalRecord> records;
  uint64_t max_seq = R;
  {
    SuperBlockId sb(j0.sb);
    uint32_t serial = j0.serial;
    uint32_t from = j0.scan_from == kScanNothing ? 0 : j0.scan_from;
    std::vector<JournalPage> jpages;
    std::vector<AduMeta> jmeta;
    for (;;) {
      absl::StatusOr<hal::SuperBlockDetails> got = domain_->GetSuperBlockInfo(sb);
      if (!got.ok()) {
        return chain.empty() && got.status().code() == absl::StatusCode::kNotFound ? journal_gone()
                                                                                   : got.status();
      }
      const hal::SuperBlockDetails& info = *got;
      chain.push_back({sb, serial, info.written_adus,
                       info.state == hal::SuperBlockState::kOpenByErase ||
                           info.state == hal::SuperBlockState::kOpenByWrite});
      const uint32_t to = std::min(info.written_adus, geo_.sb_capacity);
      std::optional<JournalRecord> next;
      if (from < to) {
        jpages.resize(to - from);
        jmeta.resize(to - from);
        SEF_RETURN_IF_ERROR(ReadAdus(sb, from, to - from, reinterpret_cast<uint8_t*>(jpages.data()),
                                     reinterpret_cast<uint8_t*>(jmeta.data())));
        for (uint32_t i = 0; i < to - from; ++i) {
          const JournalPage& p = jpages[i];
          if (p.header.magic != kJournalPageMagic || p.header.version != kJournalVersion ||
              p.header.count > kJournalRecordsPerPage || p.header.crc != JournalPageCrc(p)) {
            // A page that is not a valid journal page ends the journal in this SB.
            break;
          }
          for (uint32_t k = 0; k < p.header.count; ++k) {
            const JournalRecord& r = p.records[k];
            records.push_back(r);
            max_seq = std::max(max_seq, r.seq);
            if (r.type == static_cast<uint8_t>(JournalRecordType::kAllocate) &&
                r.kind == static_cast<uint8_t>(SlotKind::kJournal) &&
                (!next.has_value() || r.seq > next->seq)) {
              next = r;
            }
          }
        }
      }
      if (!next.has_value()) break;
      absl::StatusOr<hal::SuperBlockDetails> ninfo =
          domain_->GetSuperBlockInfo(SuperBlockId(next->sb));
      if (!ninfo.ok() || ninfo->erase_serial != static_cast<uint32_t>(next->a)) break;
      sb = SuperBlockId(next->sb);
      serial = static_cast<uint32_t>(next->a);
      from = 0;
    }
  }
  for (const ChainSb& c : chain) {
    Trace("recovery: journal sb %u written %u open %d", c.sb.value(), c.written, c.open);
  }
  Trace("recovery: checkpoint %u R %u, %u journal records", h.generation, R, records.size());
  std::sort(records.begin(), records.end(),
            [](const JournalRecord& a, const JournalRecord& b) { return a.seq < b.seq; });

  // Per SB id, the last allocation or release record since the checkpoint.
  absl::flat_hash_map<uint32_t, PostStart> post;
  for (const JournalRecord& r : records) {
    const auto type = static_cast<JournalRecordType>(r.type);
    if (type != JournalRecordType::kAllocate && type != JournalRecordType::kRelease) continue;
    PostStart& p = post[r.sb];
    p.serial = static_cast<uint32_t>(r.a);
    p.kind = static_cast<SlotKind>(r.kind);
    p.stream = r.stream;
    p.allocated = type == JournalRecordType::kAllocate;
  }
  absl::flat_hash_set<uint32_t> chain_ids;
  for (const ChainSb& c : chain) chain_ids.insert(c.sb.value());

  // ---- which table slots still stand ----
  struct Scan {
    uint32_t slot;
    SuperBlockId sb;
    uint32_t from;
  };
  std::vector<Scan> scans;
  std::vector<bool> kept(h.slot_count, false);
  // SBs the FTL keeps (each named once: Check verifies it), counted as held until
  // SettleHeldSbs has the list.
  uint32_t claimed = static_cast<uint32_t>(checkpoint_sbs.size() + chain_ids.size());
  for (uint32_t i = 0; i < h.slot_count; ++i) {
    const SlotEntry& e = table[i];
    const auto kind = static_cast<SlotKind>(e.kind);
    if (kind != SlotKind::kUser && kind != SlotKind::kGc) continue;
    // (An SB no longer held without a record, released behind the FTL's back, is found by
    // SettleHeldSbs before any map page loads.)
    const bool stale =
        (e.flags & kSlotPendingRelease) != 0 || post.contains(e.sb) || chain_ids.contains(e.sb);
    if (stale) {
      Trace("recovery: table slot %u sb %u stale (pending %d record %d)", i, e.sb,
            (e.flags & kSlotPendingRelease) != 0, post.contains(e.sb));
      continue;
    }
    kept[i] = true;
    ++claimed;
    if (e.scan_from != kScanNothing) scans.push_back({i, SuperBlockId(e.sb), e.scan_from});
  }
  // Free slot numbers for the SBs found since the checkpoint.
  std::vector<uint32_t> free_numbers;
  for (uint32_t i = h.slot_count; i-- > 0;) {
    if (!kept[i] && i != h.journal_slot) free_numbers.push_back(i);
  }
  struct Found {
    uint32_t slot;
    SuperBlockId sb;
    uint32_t serial;
    SlotKind kind;
    uint8_t stream;
    bool open;  // to close
  };
  std::vector<Found> found;  // data SBs allocated since the checkpoint
  for (const auto& [id, p] : post) {
    if (!p.allocated || (p.kind != SlotKind::kUser && p.kind != SlotKind::kGc)) continue;
    if (chain_ids.contains(id)) continue;
    absl::StatusOr<hal::SuperBlockDetails> info = domain_->GetSuperBlockInfo(SuperBlockId(id));
    if (!info.ok() && info.status().code() == absl::StatusCode::kNotFound) continue;  // released
    if (!info.ok()) return info.status();
    if (info->erase_serial != p.serial) continue;  // erased again, unrecorded: an orphan
    if (free_numbers.empty()) return corrupt("more super blocks than slots");
    const uint32_t slot = free_numbers.back();
    free_numbers.pop_back();
    found.push_back({slot, SuperBlockId(id), p.serial, p.kind, p.stream,
                     info->state != hal::SuperBlockState::kClosed});
    Trace("recovery: sb %u allocated since, slot %u", id, slot);
    ++claimed;
    scans.push_back({slot, SuperBlockId(id), 0});
  }

  // ---- data written since the checkpoint ----
  std::vector<MapEvent> events;
  {
    std::vector<AduMeta> metas;
    for (const Scan& s : scans) {
      absl::StatusOr<hal::SuperBlockDetails> got = domain_->GetSuperBlockInfo(s.sb);
      if (!got.ok() && got.status().code() == absl::StatusCode::kNotFound &&
          s.slot < h.slot_count && kept[s.slot]) {
        // A table slot's SB released without a record (behind the FTL's back): its entries
        // are stale.
        Trace("recovery: table slot %u sb %u not held", s.slot, s.sb.value());
        kept[s.slot] = false;
        --claimed;
        free_numbers.push_back(s.slot);
        continue;
      }
      if (!got.ok()) return got.status();
      const hal::SuperBlockDetails& info = *got;
      const uint32_t to = std::min(info.written_adus, geo_.sb_capacity);
      const uint32_t from = std::min(s.from, to);
      if (from == to) continue;
      SEF_ASSIGN_OR_RETURN(std::vector<UserAddress> uas, domain_->GetUserAddressList(s.sb));
      metas.resize(to - from);
      SEF_RETURN_IF_ERROR(
          ReadAdus(s.sb, from, to - from, nullptr, reinterpret_cast<uint8_t*>(metas.data())));
      for (uint32_t off = from; off < to && off < uas.size(); ++off) {
        const UserAddress ua = uas[off];
        const AduMeta& m = metas[off - from];
        if (ua.is_ignore() || ua.tag() != kDataTag || !AduMetaValid(m, kDataMetaMagic)) continue;
        const uint64_t lba = ua.lba().value();
        if (lba >= geo_.block_count) continue;
        events.push_back({m.seq, lba, 0, Encode(s.slot, off)});
        if (TracedLba(lba)) {
          Trace("recovery: lba %u seq %u at sb %u offset %u (slot %u)", lba, m.seq, s.sb.value(),
                off, s.slot);
        }
        max_seq = std::max(max_seq, m.seq);
      }
    }
  }
  uint64_t trims = 0;
  for (const JournalRecord& r : records) {
    if (r.type != static_cast<uint8_t>(JournalRecordType::kTrim)) continue;
    if (r.a >= geo_.block_count || r.b == 0 || r.b > geo_.block_count - r.a) continue;
    events.push_back({r.seq, r.a, r.b, 0});
    ++trims;
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const MapEvent& a, const MapEvent& b) { return a.seq < b.seq; });

  // ---- replay: per map page, applied when the page loads (map_load.cc) ----
  // Numbered below R: a GC copy of a version the checkpoint may hold. It fills only an entry
  // that is stale (or one an earlier such copy filled). From R on: newer than anything in
  // the checkpoint, applied in order. The overlay keeps each page's updates in sequence
  // order (a counting sort by page of the sorted events; a trim is cut at page boundaries).
  {
    MapLoadPlan plan;
    plan.version = h.version;
    plan.generation = h.generation;
    plan.replay_from = R;
    plan.sbs = checkpoint_sbs;
    plan.kept = kept;
    const uint32_t pages = h.map_pages;
    plan.overlay_start.assign(pages + 1, 0);
    auto for_each_piece = [](const MapEvent& e, auto&& f) {
      const uint64_t end = e.lba + (e.count == 0 ? 1 : e.count);
      for (uint64_t lba = e.lba; lba < end;) {
        const uint64_t page = lba / kMapEntriesPerPage;
        const uint64_t stop = std::min(end, (page + 1) * kMapEntriesPerPage);
        f(static_cast<uint32_t>(page),
          MapEvent{e.seq, lba, e.count == 0 ? 0 : stop - lba, e.value});
        lba = stop;
      }
    };
    for (const MapEvent& e : events) {
      for_each_piece(e,
                     [&plan](uint32_t page, const MapEvent&) { ++plan.overlay_start[page + 1]; });
    }
    for (uint32_t p = 0; p < pages; ++p) plan.overlay_start[p + 1] += plan.overlay_start[p];
    plan.overlay.resize(plan.overlay_start[pages]);
    std::vector<uint32_t> fill(plan.overlay_start.begin(), plan.overlay_start.end() - 1);
    for (const MapEvent& e : events) {
      for_each_piece(e, [&plan, &fill](uint32_t page, const MapEvent& piece) {
        plan.overlay[fill[page]++] = piece;
      });
    }
    // The standing slots' counts: the checkpoint's (version 2); the loader adjusts them by
    // what it applies. Version 1 recounts after loading the whole map.
    if (v2) {
      for (uint32_t i = 0; i < h.slot_count; ++i) {
        if (kept[i] && counts[i] != 0) valid_[i].store(counts[i], std::memory_order_relaxed);
      }
    }
    PrepareMapLoad(std::move(plan));
    MutexLock lock(&load_mu_);
    load_paused_ = options.map_load_paused;
  }
  counters_.recovered_adus.store(events.size() - trims, std::memory_order_relaxed);
  counters_.recovered_trims.store(trims, std::memory_order_relaxed);

  // ---- the in-RAM state ----
  // Counted as held: what the rules claim. SettleHeldSbs (map_load.cc) corrects it by the
  // list of what the domain holds, releases the rest and closes what was left open; until
  // then no SB is allocated.
  MutexLock lock(&mu_);
  held_sbs_ = claimed;
  sbs_settled_ = false;
  checkpoint_sbs_ = checkpoint_sbs;
  checkpoint_generation_ = h.generation;
  auto set_up = [this](uint32_t slot, SuperBlockId sb, uint32_t serial, SlotKind kind,
                       uint8_t stream) {
    mu_.AssertHeld();
    Slot& s = slots_[slot];
    s = Slot{};
    s.sb = sb;
    s.serial = serial;
    s.kind = kind;
    s.stream =
        static_cast<uint8_t>(std::min<int>(stream, num_streams_ + num_placement_streams_ - 1));
    s.reserved = s.completed = geo_.sb_capacity;
    slot_sb_[slot].store(sb.value(), std::memory_order_release);
  };
  std::vector<SuperBlockId> to_close;
  for (uint32_t i = 0; i < h.slot_count; ++i) {
    if (!kept[i]) continue;
    set_up(i, SuperBlockId(table[i].sb), table[i].serial, static_cast<SlotKind>(table[i].kind),
           table[i].stream);
    SetSlotState(i, SlotState::kClosed);
  }
  for (const Found& f : found) {
    set_up(f.slot, f.sb, f.serial, f.kind, f.stream);
    SetSlotState(f.slot, SlotState::kClosed);
    if (f.open) to_close.push_back(f.sb);
  }
  // Journal SBs: the last of the chain goes on, the others retire with the next checkpoint.
  std::vector<uint32_t> journal_slots;
  for (size_t c = 0; c < chain.size(); ++c) {
    uint32_t slot = h.journal_slot;
    if (c > 0) {
      if (free_numbers.empty()) return corrupt("more super blocks than slots");
      slot = free_numbers.back();
      free_numbers.pop_back();
    }
    set_up(slot, chain[c].sb, chain[c].serial, SlotKind::kJournal, 0);
    journal_slots.push_back(slot);
  }
  journal_sbs_ = static_cast<uint32_t>(chain.size());
  const ChainSb& last = chain.back();
  journal_continues_ = last.open && last.written + 2 <= geo_.sb_capacity;
  for (size_t c = 0; c < chain.size(); ++c) {
    const bool current = c + 1 == chain.size() && journal_continues_;
    SetSlotState(journal_slots[c], current ? SlotState::kOpen : SlotState::kClosed);
    if (!current) {
      retired_journals_.push_back(journal_slots[c]);
      if (chain[c].open) to_close.push_back(chain[c].sb);
    }
  }
  free_slots_ = free_numbers;
  next_seq_.store(max_seq + 1, std::memory_order_release);
  counters_.host_adus_written.store(h.host_adus_written, std::memory_order_relaxed);
  counters_.flash_adus_written.store(h.flash_adus_written, std::memory_order_relaxed);
  counters_.gc_copied_adus.store(h.gc_copied_adus, std::memory_order_relaxed);
  counters_.checkpoints.store(h.checkpoints, std::memory_order_relaxed);
  flash_at_last_checkpoint_ = h.flash_adus_written;
  if (!events.empty()) ++checkpoint_requests_;  // bound the next recovery's work
  mu_.Unlock();
  for (SuperBlockId sb : to_close) {
    absl::StatusOr<bool> c = domain_->CloseSuperBlock(sb);
    if (!c.ok()) {
      mu_.Lock();
      return c.status();
    }
  }
  if (journal_continues_) JournalReset(journal_slots.back(), last.sb, last.written);
  mu_.Lock();
  // SBs left empty by the replay go through the normal release path once the map is loaded
  // (FinishMapLoad, map_load.cc).
  return absl::OkStatus();
}

}  // namespace sef::ftl::internal
