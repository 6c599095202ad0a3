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
// The work is the checkpoint's pages plus what was written since it: no admin command per
// SB of the domain. What grows with the domain is loading the map (its pages, checked by
// CRC) and one walk over it (stale entries, valid counts); docs/ftl.md has the numbers.
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

// One update found since the checkpoint: a data ADU (value != 0 or a trim of count blocks).
struct Event {
  uint64_t seq;
  uint64_t lba;
  uint64_t count;  // trims; 0 for a data ADU
  uint32_t value;  // data ADU: its map value
};

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
  if (h.version != kCheckpointVersion) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: checkpoint format version %u; this FTL reads version %u", where,
                        h.version, kCheckpointVersion));
  }
  if (h.crc != CheckpointHeaderCrc(h) || hmeta.crc != Crc32c(page.data(), kAduBytes) ||
      hmeta.generation != h.generation || hmeta.page != h.map_pages + h.slot_pages) {
    return corrupt(
        absl::StrFormat("the checkpoint header at 0x%x fails its CRC", header_address.raw()));
  }
  if (h.sb_capacity != geo_.sb_capacity || h.num_sbs == 0 || h.num_sbs > kMaxCheckpointSbs ||
      h.block_count == 0 || uint64_t{h.slot_count} * h.sb_capacity + 1 >= kMapStale ||
      h.map_pages != (h.block_count + kMapEntriesPerPage - 1) / kMapEntriesPerPage ||
      h.slot_pages != (h.slot_count + kSlotEntriesPerPage - 1) / kSlotEntriesPerPage ||
      h.journal_slot >= h.slot_count) {
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

  // ---- map and slot table ----
  std::vector<SuperBlockId> checkpoint_sbs;
  for (uint32_t i = 0; i < h.num_sbs; ++i) checkpoint_sbs.push_back(SuperBlockId(h.sbs[i]));
  std::vector<SlotEntry> table(h.slot_count);
  {
    const uint32_t total = h.map_pages + h.slot_pages;
    // Map pages are read straight into the map (AllocateArrays sizes it in whole pages; the
    // page layout is the map's), slot-table pages into a small buffer: no copy per entry,
    // and no large fresh buffer to fault in (it used to be 1 MiB, zeroed: half a
    // millisecond of every mount).
    static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free);
    auto* map_bytes = reinterpret_cast<uint8_t*>(map_.get());
    const uint32_t batch = std::min(kCheckpointReadBatch, total);
    std::unique_ptr<uint8_t[]> buffer(new uint8_t[size_t{batch} * kAduBytes]);
    std::vector<CheckpointPageMeta> metas(batch);
    for (uint32_t p = 0; p < total;) {
      const uint32_t in_sb = p % geo_.sb_capacity;
      const bool map = p < h.map_pages;
      const uint32_t n =
          std::min({batch, (map ? h.map_pages : total) - p, geo_.sb_capacity - in_sb});
      const SuperBlockId sb = checkpoint_sbs[p / geo_.sb_capacity];
      uint8_t* pages = map ? map_bytes + uint64_t{p} * kAduBytes : buffer.get();
      if (absl::Status s = ReadAdus(sb, in_sb, n, pages, reinterpret_cast<uint8_t*>(metas.data()));
          !s.ok()) {
        return corrupt(absl::StrFormat("checkpoint pages %u..%u cannot be read: %s", p, p + n - 1,
                                       s.ToString()));
      }
      for (uint32_t i = 0; i < n; ++i) {
        const uint8_t* data = pages + uint64_t{i} * kAduBytes;
        const CheckpointPageMeta& m = metas[i];
        if (m.generation != h.generation || m.page != p + i || m.crc != Crc32c(data, kAduBytes)) {
          return corrupt(absl::StrFormat("checkpoint page %u fails its CRC", p + i));
        }
        if (map) continue;
        const uint64_t base = uint64_t{p + i - h.map_pages} * kSlotEntriesPerPage;
        const auto* entries = reinterpret_cast<const SlotEntry*>(data);
        for (uint32_t e = 0; e < kSlotEntriesPerPage && base + e < h.slot_count; ++e) {
          table[base + e] = entries[e];
        }
      }
      p += n;
    }
  }

  // ---- what the domain holds ----
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> listed, domain_->ListSuperBlocks());
  absl::flat_hash_map<uint32_t, hal::SuperBlockState> held;
  held.reserve(listed.size());
  for (const hal::SuperBlockEntry& e : listed) held[e.id.value()] = e.state;

  // ---- the journal since the checkpoint ----
  const SlotEntry& j0 = table[h.journal_slot];
  if (static_cast<SlotKind>(j0.kind) != SlotKind::kJournal || !held.contains(j0.sb)) {
    return corrupt(
        absl::StrFormat("the journal super block %u the checkpoint names is gone", j0.sb));
  }
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
      SEF_ASSIGN_OR_RETURN(hal::SuperBlockDetails info, domain_->GetSuperBlockInfo(sb));
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
      if (!next.has_value() || !held.contains(next->sb)) break;
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
  absl::flat_hash_set<uint32_t> claimed;  // SB ids the FTL keeps
  for (SuperBlockId sb : checkpoint_sbs) claimed.insert(sb.value());
  for (uint32_t id : chain_ids) claimed.insert(id);
  for (uint32_t i = 0; i < h.slot_count; ++i) {
    const SlotEntry& e = table[i];
    const auto kind = static_cast<SlotKind>(e.kind);
    if (kind != SlotKind::kUser && kind != SlotKind::kGc) continue;
    const bool stale = (e.flags & kSlotPendingRelease) != 0 || !held.contains(e.sb) ||
                       post.contains(e.sb) || chain_ids.contains(e.sb);
    if (stale) {
      Trace("recovery: table slot %u sb %u stale (pending %d held %d record %d)", i, e.sb,
            (e.flags & kSlotPendingRelease) != 0, held.contains(e.sb), post.contains(e.sb));
      continue;
    }
    kept[i] = true;
    claimed.insert(e.sb);
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
  };
  std::vector<Found> found;  // data SBs allocated since the checkpoint
  for (const auto& [id, p] : post) {
    if (!p.allocated || (p.kind != SlotKind::kUser && p.kind != SlotKind::kGc)) continue;
    if (!held.contains(id) || chain_ids.contains(id)) continue;
    SEF_ASSIGN_OR_RETURN(hal::SuperBlockDetails info, domain_->GetSuperBlockInfo(SuperBlockId(id)));
    if (info.erase_serial != p.serial) continue;  // erased again, unrecorded: an orphan
    if (free_numbers.empty()) return corrupt("more super blocks than slots");
    const uint32_t slot = free_numbers.back();
    free_numbers.pop_back();
    found.push_back({slot, SuperBlockId(id), p.serial, p.kind, p.stream});
    Trace("recovery: sb %u allocated since, slot %u", id, slot);
    claimed.insert(id);
    scans.push_back({slot, SuperBlockId(id), 0});
  }

  // ---- entries into slots that no longer stand are stale ----
  // Not marked in a walk over the map (its cost would grow with the domain): an entry is
  // stale when replay has not touched it and the checkpoint's value names a slot that does
  // not stand. Replay records what it touches.
  auto stale_in_checkpoint = [&](uint32_t v) {
    if (v == kMapUnmapped) return false;
    const uint32_t slot = SlotOf(v);
    return slot >= h.slot_count || !kept[slot];
  };

  // ---- data written since the checkpoint ----
  std::vector<Event> events;
  {
    std::vector<AduMeta> metas;
    for (const Scan& s : scans) {
      SEF_ASSIGN_OR_RETURN(hal::SuperBlockDetails info, domain_->GetSuperBlockInfo(s.sb));
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
                   [](const Event& a, const Event& b) { return a.seq < b.seq; });

  // ---- replay ----
  // Numbered below R: a GC copy of a version the checkpoint may hold. It fills only an entry
  // that is stale (or one an earlier such copy filled). From R on: newer than anything in
  // the checkpoint, applied in order. Events are sorted, so every copy numbered below R
  // comes before the first update numbered R or above.
  absl::flat_hash_set<uint64_t> touched;  // entries replay set: never stale
  touched.reserve(events.size());
  auto apply = [&](uint64_t lba, uint32_t value, bool below_r) {
    const uint32_t old = map_[lba].load(std::memory_order_relaxed);
    if (TracedLba(lba)) {
      Trace("recovery: apply lba %u value %u below_r %d (map %u)", lba, value, below_r, old);
    }
    if (below_r && !stale_in_checkpoint(old) && !touched.contains(lba)) return;
    touched.insert(lba);
    map_[lba].store(value, std::memory_order_relaxed);
  };
  for (const Event& e : events) {
    const bool below_r = e.seq < R;
    if (e.count == 0) {
      apply(e.lba, e.value, below_r);
    } else {
      for (uint64_t b = 0; b < e.count; ++b) apply(e.lba + b, kMapUnmapped, below_r);
    }
  }
  // The one walk over the map: entries still stale read zeros (hazards 2 and 3: what
  // superseded them has replayed); the others count in their slot's valid ADUs.
  {
    // (v - 1) / sb_capacity by a multiply (Lemire's exact 32-bit division), and not at all
    // while neighbouring entries stay in one standing slot (the common case: blocks written
    // together): a divide per entry was most of this walk's time.
    const uint32_t cap = geo_.sb_capacity;
    const uint64_t magic = ~uint64_t{0} / cap + 1;
    std::vector<uint32_t> valid(h.slot_count, 0);
    uint32_t run_slot = 0, run = 0, run_first = 0;  // run_kept false: no run yet
    bool run_kept = false;
    for (uint64_t lba = 0; lba < geo_.block_count; ++lba) {
      const uint32_t v = map_[lba].load(std::memory_order_relaxed);
      if (v == kMapUnmapped) continue;
      if (run_kept && v - run_first < cap) {
        ++run;
        continue;
      }
      const auto slot =
          static_cast<uint32_t>((static_cast<unsigned __int128>(magic) * (v - 1)) >> 64);
      // Replay only sets values into slots below slot_count.
      if (slot >= h.slot_count || (!kept[slot] && !touched.contains(lba))) {
        if (TracedLba(lba)) Trace("recovery: map[%u] %u:%u stale", lba, slot, OffsetOf(v));
        map_[lba].store(kMapUnmapped, std::memory_order_relaxed);
        continue;
      }
      if (slot != run_slot || !run_kept) {
        valid[run_slot] += run;
        run_slot = slot;
        run = 0;
        run_first = slot * cap + 1;
        run_kept = kept[slot];
      }
      ++run;
    }
    valid[run_slot] += run;
    for (uint32_t i = 0; i < h.slot_count; ++i) {
      if (valid[i] != 0) valid_[i].store(valid[i], std::memory_order_relaxed);
    }
  }
  counters_.recovered_adus.store(events.size() - trims, std::memory_order_relaxed);
  counters_.recovered_trims.store(trims, std::memory_order_relaxed);

  // ---- release what no rule claims ----
  uint32_t held_count = 0;
  for (const auto& [id, state] : held) {
    if (claimed.contains(id)) {
      ++held_count;
      continue;
    }
    Trace("recovery: release unclaimed sb %u", id);
    SEF_RETURN_IF_ERROR(domain_->ReleaseSuperBlock(SuperBlockId(id)));
  }

  // ---- the in-RAM state ----
  MutexLock lock(&mu_);
  held_sbs_ = held_count;
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
    s.stream = static_cast<uint8_t>(std::min<int>(stream, num_streams_ - 1));
    s.reserved = s.completed = geo_.sb_capacity;
    slot_sb_[slot].store(sb.value(), std::memory_order_release);
  };
  std::vector<SuperBlockId> to_close;
  for (uint32_t i = 0; i < h.slot_count; ++i) {
    if (!kept[i]) continue;
    set_up(i, SuperBlockId(table[i].sb), table[i].serial, static_cast<SlotKind>(table[i].kind),
           table[i].stream);
    SetSlotState(i, SlotState::kClosed);
    const hal::SuperBlockState st = held[table[i].sb];
    if (st != hal::SuperBlockState::kClosed) to_close.push_back(SuperBlockId(table[i].sb));
  }
  for (const Found& f : found) {
    set_up(f.slot, f.sb, f.serial, f.kind, f.stream);
    SetSlotState(f.slot, SlotState::kClosed);
    if (held[f.sb.value()] != hal::SuperBlockState::kClosed) to_close.push_back(f.sb);
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
  // SBs left empty by the replay go through the normal release path (a release record,
  // then a flush round).
  for (uint32_t i = 0; i < slots_.size(); ++i) MaybeEmptyLocked(i);
  return absl::OkStatus();
}

}  // namespace sef::ftl::internal
