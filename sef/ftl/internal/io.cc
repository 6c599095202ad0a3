// The data path: reads, writes and trims.
//
// A write or trim first takes its block range in the range lock (per-range FIFO), then
// space: under mu_ it is given a sequence number and ADUs in the user stream's open super
// block (writes are cut into pieces of at most one SB, each piece into at most two chunks,
// one per SB it lands in), and each chunk becomes one HAL write into that SB (with placement
// ids: a write by the stream's placement id, which the device puts into that SB, its open SB
// for the id). Reserving before writing means a write never meets a full SB, and the device's
// order of ADUs inside an SB does not matter. When the stream has no room, or a checkpoint's
// barrier is up, the update waits in waiters_ (FIFO) and is resumed by whoever made room.
//
// A completed chunk updates the map (one atomic exchange per block) and the valid counts;
// its callback runs before the range is released, so updates of a block are acknowledged in
// the order they were submitted.
//
// Until the map loader (map_load.cc) has loaded every map page, a request whose blocks lie in
// a page not loaded yet (or that overlaps an earlier such request) waits for it (Park); the
// Start... functions are what runs once the map is there.
//
// Reads look the map up without a lock, pin the slot of each run of ADUs, check the map
// still points there (a GC move may have raced), and read with user-address verify. A slot
// is released only when no map entry points into it and no read pins it.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sef/base/iovec.h"
#include "sef/ftl/internal/callbacks.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/ftl/internal/trace.h"

namespace sef::ftl::internal {
namespace {

// Longest run of blocks read with one HAL read.
constexpr uint32_t kMaxReadRun = 256;

UserAddress DataAddress(uint64_t lba) {
  return UserAddress::FromRaw((uint64_t{kDataTag} << UserAddress::kLbaBits) | lba);
}

thread_local std::vector<iovec> scratch_iov;

}  // namespace

absl::Status Ftl::CheckSynchronousCallAllowed(const char* method) {
  if (!InUserCallback()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s: a synchronous FTL call from inside an FTL completion callback (it would deadlock "
      "the thread that completes the FTL's I/O); use the ...Async form",
      method));
}

absl::Status Ftl::CheckRequest(const char* what, uint64_t lba, uint64_t count,
                               std::span<const iovec> data, bool check_bytes) const {
  if (count == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: count 0 (at LBA %u)", what, lba));
  }
  if (lba >= geo_.block_count || count > geo_.block_count - lba) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: blocks %u..%u are beyond the device's %u blocks", what, lba,
                        lba + count - 1, geo_.block_count));
  }
  if (check_bytes) {
    const uint64_t bytes = IovecBytes(data);
    if (bytes != count * kAduBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: the iovecs hold %u bytes; %u blocks need %u", what, bytes, count,
                          count * kAduBytes));
    }
  }
  return absl::OkStatus();
}

namespace {
absl::Status NotMounted(const char* what, QosDomainId id) {
  return absl::FailedPreconditionError(
      absl::StrFormat("%s: QoS domain %u is not mounted", what, id.value()));
}
}  // namespace

// ---- pools ------------------------------------------------------------------------------------

UpdateOp* Ftl::NewUpdateOp() {
  std::unique_ptr<UpdateOp> op;
  {
    MutexLock lock(&pool_mu_);
    if (!update_pool_.empty()) {
      op = std::move(update_pool_.back());
      update_pool_.pop_back();
    }
  }
  if (op == nullptr) op = std::make_unique<UpdateOp>();
  op->range.owner = op.get();
  return op.release();
}

void Ftl::FreeUpdateOp(UpdateOp* op) {
  op->done = nullptr;
  op->chunks.clear();
  {
    MutexLock lock(&op->status_mu);
    op->status = absl::OkStatus();
  }
  MutexLock lock(&pool_mu_);
  update_pool_.emplace_back(op);
}

ReadOp* Ftl::NewReadOp() {
  std::unique_ptr<ReadOp> op;
  {
    MutexLock lock(&pool_mu_);
    if (!read_pool_.empty()) {
      op = std::move(read_pool_.back());
      read_pool_.pop_back();
    }
  }
  if (op == nullptr) op = std::make_unique<ReadOp>();
  return op.release();
}

void Ftl::FreeReadOp(ReadOp* op) {
  op->done = nullptr;
  {
    MutexLock lock(&op->status_mu);
    op->status = absl::OkStatus();
  }
  MutexLock lock(&pool_mu_);
  read_pool_.emplace_back(op);
}

// ---- map --------------------------------------------------------------------------------------

uint32_t Ftl::MapSet(uint64_t lba, uint32_t v) {
  const uint32_t old = map_[lba].exchange(v, std::memory_order_acq_rel);
  if (TracedLba(lba)) {
    Trace("map[%u] %u:%u -> %u:%u (write/trim)", lba, old ? SlotOf(old) : 0,
          old ? OffsetOf(old) : 0, v ? SlotOf(v) : 0, v ? OffsetOf(v) : 0);
  }
  if (old != kMapUnmapped) ValidDown(SlotOf(old));
  return old;
}

bool Ftl::MapMove(uint64_t lba, uint32_t from, uint32_t to) {
  // Count the destination first, so a slot's count never drops below its entries.
  valid_[SlotOf(to)].fetch_add(1, std::memory_order_acq_rel);
  uint32_t expected = from;
  if (map_[lba].compare_exchange_strong(expected, to, std::memory_order_acq_rel)) {
    if (TracedLba(lba)) {
      Trace("map[%u] %u:%u -> %u:%u (GC)", lba, SlotOf(from), OffsetOf(from), SlotOf(to),
            OffsetOf(to));
    }
    ValidDown(SlotOf(from));
    return true;
  }
  ValidDown(SlotOf(to));
  return false;
}

void Ftl::ValidDown(uint32_t slot) {
  if (valid_[slot].fetch_sub(1, std::memory_order_acq_rel) == 1) {
    MutexLock lock(&mu_);
    MaybeEmptyLocked(slot);
  }
}

// ---- writes and trims -------------------------------------------------------------------------

void Ftl::WriteAsync(Lba lba, uint32_t count, std::span<const iovec> data, bool fua,
                     StatusCallback done) {
  if (absl::Status s = CheckRequest("write", lba.value(), count, data, true); !s.ok()) {
    return RunUserCallback(std::move(done), std::move(s));
  }
  if (!BeginOp()) return RunUserCallback(std::move(done), NotMounted("write", domain_id_));
  if (!map_ready_.load(std::memory_order_acquire)) {
    Parked p{Parked::kWrite, lba.value(), count, data, fua, std::move(done)};
    if (Park(p)) return;
    done = std::move(p.done);
  }
  StartWrite(lba, count, data, fua, std::move(done));
}

void Ftl::StartWrite(Lba lba, uint32_t count, std::span<const iovec> data, bool fua,
                     StatusCallback done) {
  UpdateOp* op = NewUpdateOp();
  op->trim = false;
  op->lba = lba.value();
  op->count = count;
  op->data = data;
  op->fua = fua;
  op->done = std::move(done);
  op->next_block = 0;
  op->meta.resize(count);
  // At most one chunk per block: reserved up front, the vector never reallocates.
  op->chunks.reserve(count);
  op->outstanding.store(1, std::memory_order_relaxed);  // the submitter's reference
  op->range.first = op->lba;
  op->range.last = op->lba + count - 1;
  counters_.writes.fetch_add(1, std::memory_order_relaxed);
  if (range_lock_.Acquire(&op->range)) Advance(op);
}

void Ftl::TrimAsync(Lba lba, uint64_t count, StatusCallback done) {
  if (absl::Status s = CheckRequest("trim", lba.value(), count, {}, false); !s.ok()) {
    return RunUserCallback(std::move(done), std::move(s));
  }
  if (!BeginOp()) return RunUserCallback(std::move(done), NotMounted("trim", domain_id_));
  if (!map_ready_.load(std::memory_order_acquire)) {
    Parked p{Parked::kTrim, lba.value(), count, {}, false, std::move(done)};
    if (Park(p)) return;
    done = std::move(p.done);
  }
  StartTrim(lba, count, std::move(done));
}

void Ftl::StartTrim(Lba lba, uint64_t count, StatusCallback done) {
  UpdateOp* op = NewUpdateOp();
  op->trim = true;
  op->lba = lba.value();
  op->count = count;
  op->data = {};
  op->fua = false;
  op->done = std::move(done);
  op->next_block = 0;
  op->outstanding.store(1, std::memory_order_relaxed);
  op->range.first = op->lba;
  op->range.last = op->lba + count - 1;
  counters_.trims.fetch_add(1, std::memory_order_relaxed);
  if (range_lock_.Acquire(&op->range)) Advance(op);
}

bool Ftl::TryAdvanceLocked(UpdateOp* op, size_t* first_new, size_t* end_new, bool* trim_now) {
  *first_new = *end_new = op->chunks.size();
  *trim_now = false;
  if (!failed_.ok()) {
    OpFailed(op, failed_);
    op->next_block = op->count;
    return true;
  }
  if (barrier_) return false;
  if (op->trim) {
    if (!JournalTryAppendTrim(op->lba, op->count)) {
      allocator_cv_.Signal();  // the journal needs its next SB
      return false;
    }
    ++inflight_;
    *trim_now = true;
    return true;
  }
  // Pieces: runs of blocks bound for one stream, at most what its open SB has room for;
  // each piece has its own sequence number and becomes one HAL write.
  while (op->next_block < op->count) {
    const uint64_t first = op->lba + op->next_block;
    const int stream = StreamForWriteLocked(first);
    const uint32_t room = UserRoomLocked(stream);
    if (room == 0) {
      op->wait_stream = stream;
      allocator_cv_.Signal();
      break;
    }
    uint32_t n = 1;
    const uint64_t left = op->count - op->next_block;
    while (n < room && n < left && StreamForWriteLocked(first + n) == stream) ++n;
    UpdateOp::Chunk c;
    ReserveLocked(stream, n, &c.slot, &c.sb);
    c.first = static_cast<uint32_t>(op->next_block);
    c.n = n;
    c.seq = next_seq_.fetch_add(1, std::memory_order_acq_rel);
    if (IsPlacementStream(stream)) c.placement = streams_[stream].placement;
    op->chunks.push_back(c);
    // Counted now, under mu_: a concurrent ServeWaiters must not see the op finish before
    // every chunk it was given has been submitted and completed.
    op->outstanding.fetch_add(1, std::memory_order_acq_rel);
    ++inflight_;
    op->next_block += n;
  }
  *end_new = op->chunks.size();
  return op->next_block == op->count;
}

void Ftl::Advance(UpdateOp* op) {
  size_t first = 0, end = 0;
  bool trim_now = false;
  bool complete = false;
  {
    MutexLock lock(&mu_);
    if (waiters_.empty()) complete = TryAdvanceLocked(op, &first, &end, &trim_now);
    if (!complete) {
      counters_.write_waits.fetch_add(1, std::memory_order_relaxed);
      waiters_.push_back(op);
    }
  }
  SubmitChunks(op, first, end);
  if (!complete) return;
  if (trim_now) return RunTrim(op);
  Release(op);  // every piece has its space: drop the submitter's reference
}

void Ftl::ServeWaiters() {
  for (;;) {
    UpdateOp* op = nullptr;
    size_t first = 0, end = 0;
    bool trim_now = false;
    bool complete = false;
    {
      MutexLock lock(&mu_);
      if (waiters_.empty()) return;
      op = waiters_.front();
      complete = TryAdvanceLocked(op, &first, &end, &trim_now);
      if (complete) waiters_.pop_front();
    }
    SubmitChunks(op, first, end);
    if (!complete) return;  // the first waiter still waits: so do the others (FIFO)
    if (trim_now) {
      RunTrim(op);
    } else {
      Release(op);
    }
  }
}

void Ftl::SubmitChunks(UpdateOp* op, size_t first, size_t end) {
  for (size_t i = first; i < end; ++i) {
    const UpdateOp::Chunk c = op->chunks[i];
    const AduMeta meta = MakeAduMeta(c.seq, kDataMetaMagic);
    for (uint32_t b = 0; b < c.n; ++b) op->meta[c.first + b] = meta;
    scratch_iov.clear();
    SliceIovecs(op->data, uint64_t{c.first} * kAduBytes, uint64_t{c.n} * kAduBytes, scratch_iov);
    hal::WriteOp w;
    // By placement id, the device puts it into its open SB for the id, which is `c.sb`: the
    // FTL opened it (OpenByPlacement) and never hands out more than it has room for.
    if (c.placement.has_value()) {
      w.target = hal::ByPlacement{*c.placement};
    } else {
      w.target = c.sb;
    }
    w.start = DataAddress(op->lba + c.first);
    w.data = scratch_iov;
    w.metadata = {reinterpret_cast<const uint8_t*>(op->meta.data() + c.first),
                  size_t{c.n} * kMetaBytes};
    w.fua = op->fua;
    domain_->WriteAsync(
        w, [this, op, i](absl::StatusOr<hal::WriteResult> r) { ChunkDone(op, i, std::move(r)); });
  }
}

void Ftl::ChunkDone(UpdateOp* op, size_t index, absl::StatusOr<hal::WriteResult> r) {
  const UpdateOp::Chunk c = op->chunks[index];
  uint32_t ok = 0;
  std::vector<uint32_t> to_close;
  if (!r.ok()) {
    if (TraceOn()) {
      MutexLock lock(&mu_);
      const Slot& s = slots_[c.slot];
      Trace(
          "write of %u ADUs into slot %u sb %u failed: %s (slot: sb %u %s kind %d reserved %u "
          "completed %u failed %u)",
          c.n, c.slot, c.sb.value(), r.status().ToString(), s.sb.value(), SlotStateName(s.state),
          static_cast<int>(s.kind), s.reserved, s.completed, s.failed);
    }
    OpFailed(op, r.status());
    DeviceError(r.status());
    MutexLock lock(&mu_);
    SlotCompletedLocked(c.slot, 0, c.n, &to_close);
  } else {
    const std::vector<FlashAddress>& addresses = r->addresses;
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(addresses.size(), c.n));
    for (uint32_t j = 0; j < n; ++j) {
      if (domain_->SuperBlockOf(addresses[j]) != c.sb) {
        n = j;  // the device wrote elsewhere than asked: treat the rest as failed
        break;
      }
    }
    valid_[c.slot].fetch_add(n, std::memory_order_acq_rel);
    // The slot counts these ADUs as written before the map leaves the old versions: an old
    // SB emptied by the map updates below waits for a flush round that starts after it
    // emptied, and that round must see this SB as written to (completed > 0) to flush it.
    // Counted after the map updates, a round starting in between skipped the SB (when this
    // was its first write), and the old SB could be released before the new data was
    // durable.
    {
      MutexLock lock(&mu_);
      SlotCompletedLocked(c.slot, n, c.n - n, &to_close);
    }
    for (uint32_t j = 0; j < n; ++j) {
      MapSet(op->lba + c.first + j, Encode(c.slot, domain_->OffsetOf(addresses[j]).value()));
    }
    ok = n;
    counters_.host_adus_written.fetch_add(n, std::memory_order_relaxed);
    counters_.flash_adus_written.fetch_add(n, std::memory_order_relaxed);
    if (n < c.n) {
      // By placement id, the rest went into another SB: the device closed `c.sb` early (for
      // a reason of its own: expiry is forestalled, RotateAgingSbs). That SB holds no mapped
      // data; the next mount releases it.
      OpFailed(op, absl::InternalError(absl::StrFormat(
                       "write: the device wrote %u of %u ADUs into super block %u%s", n, c.n,
                       c.sb.value(),
                       c.placement.has_value()
                           ? absl::StrFormat(" (by placement id %u; the rest went elsewhere)",
                                             c.placement->value())
                           : "")));
    }
  }
  uint64_t alloc_record = 0;
  {
    MutexLock lock(&mu_);
    alloc_record = slots_[c.slot].alloc_record;
    if (--inflight_ == 0 && barrier_) inflight_cv_.SignalAll();
  }
  if (!to_close.empty()) CloseSlots(to_close);
  // An FUA write is durable only once recovery can find its SB: the journal record of the
  // SB's allocation must be durable too.
  if (op->fua && ok > 0 && JournalDurable() < alloc_record) {
    return JournalCommitAsync(alloc_record, [this, op](absl::Status s) {
      if (!s.ok()) OpFailed(op, std::move(s));
      Release(op);
    });
  }
  Release(op);
}

void Ftl::RunTrim(UpdateOp* op) {
  // The journal record went in first (TryAdvanceLocked), so a flush round that starts after
  // any slot emptied by this trim carries the record (HAZARD 2 in docs/ftl.md).
  for (uint64_t b = 0; b < op->count; ++b) {
    if (map_[op->lba + b].load(std::memory_order_relaxed) != kMapUnmapped) {
      MapSet(op->lba + b, kMapUnmapped);
    }
  }
  counters_.trimmed_blocks.fetch_add(op->count, std::memory_order_relaxed);
  {
    MutexLock lock(&mu_);
    if (--inflight_ == 0 && barrier_) inflight_cv_.SignalAll();
  }
  Release(op);
}

void Ftl::OpFailed(UpdateOp* op, absl::Status s) {
  MutexLock lock(&op->status_mu);
  if (op->status.ok()) op->status = OwnCopy(s);
}

void Ftl::Release(UpdateOp* op) {
  if (op->outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1) Finish(op);
}

void Ftl::Finish(UpdateOp* op) {
  absl::Status status;
  {
    MutexLock lock(&op->status_mu);
    status = std::move(op->status);
  }
  // The callback runs before the range is released: a later update of these blocks cannot
  // complete (and be acknowledged) before this one is.
  RunUserCallback(std::move(op->done), std::move(status));
  std::vector<RangeLock::Entry*> ready;
  range_lock_.Release(&op->range, &ready);
  FreeUpdateOp(op);
  for (RangeLock::Entry* e : ready) {
    auto* next = static_cast<UpdateOp*>(e->owner);
    Defer([this, next] { Advance(next); });
  }
  EndOp();
}

// ---- flush ------------------------------------------------------------------------------------

void Ftl::FlushAsync(StatusCallback done) {
  if (!BeginOp()) return RunUserCallback(std::move(done), NotMounted("flush", domain_id_));
  counters_.flushes.fetch_add(1, std::memory_order_relaxed);
  RequestFlushRound([this, done = std::move(done)](absl::Status s) mutable {
    RunUserCallback(std::move(done), std::move(s));
    EndOp();
  });
}

// ---- reads ------------------------------------------------------------------------------------

void Ftl::ReadAsync(Lba lba, uint32_t count, std::span<const iovec> data, StatusCallback done) {
  if (absl::Status s = CheckRequest("read", lba.value(), count, data, true); !s.ok()) {
    return RunUserCallback(std::move(done), std::move(s));
  }
  if (!BeginOp()) return RunUserCallback(std::move(done), NotMounted("read", domain_id_));
  if (!map_ready_.load(std::memory_order_acquire)) {
    Parked p{Parked::kRead, lba.value(), count, data, false, std::move(done)};
    if (Park(p)) return;
    done = std::move(p.done);
  }
  StartRead(lba, count, data, std::move(done));
}

void Ftl::StartRead(Lba lba, uint32_t count, std::span<const iovec> data, StatusCallback done) {
  counters_.reads.fetch_add(1, std::memory_order_relaxed);
  counters_.host_adus_read.fetch_add(count, std::memory_order_relaxed);
  ReadOp* op = NewReadOp();
  op->lba = lba.value();
  op->count = count;
  op->data = data;
  op->done = std::move(done);
  op->outstanding.store(1, std::memory_order_relaxed);
  uint32_t i = 0;
  while (i < count) {
    const uint32_t v = map_[op->lba + i].load(std::memory_order_acquire);
    if (v == kMapUnmapped) {
      uint32_t n = 1;
      while (i + n < count &&
             map_[op->lba + i + n].load(std::memory_order_acquire) == kMapUnmapped) {
        ++n;
      }
      scratch_iov.clear();
      SliceIovecs(data, uint64_t{i} * kAduBytes, uint64_t{n} * kAduBytes, scratch_iov);
      for (const iovec& v : scratch_iov) std::memset(v.iov_base, 0, v.iov_len);
      i += n;
      continue;
    }
    const uint32_t slot = SlotOf(v);
    const uint32_t offset = OffsetOf(v);
    uint32_t n = 1;
    while (i + n < count && n < kMaxReadRun && offset + n < geo_.sb_capacity &&
           map_[op->lba + i + n].load(std::memory_order_acquire) == v + n) {
      ++n;
    }
    // Pin, then check the run still maps here: from then on its SB cannot be released.
    pins_[slot].fetch_add(1, std::memory_order_seq_cst);
    bool same = true;
    for (uint32_t k = 0; k < n && same; ++k) {
      same = map_[op->lba + i + k].load(std::memory_order_seq_cst) == v + k;
    }
    if (!same) {
      pins_[slot].fetch_sub(1, std::memory_order_acq_rel);
      continue;  // look again
    }
    const SuperBlockId sb(slot_sb_[slot].load(std::memory_order_acquire));
    absl::StatusOr<FlashAddress> address = domain_->AddressOf(sb, AduOffset(offset));
    if (!address.ok()) {
      pins_[slot].fetch_sub(1, std::memory_order_acq_rel);
      MutexLock lock(&op->status_mu);
      op->status = address.status();
      break;
    }
    op->outstanding.fetch_add(1, std::memory_order_acq_rel);
    scratch_iov.clear();
    SliceIovecs(data, uint64_t{i} * kAduBytes, uint64_t{n} * kAduBytes, scratch_iov);
    hal::ReadOp r;
    r.address = *address;
    r.adus = AduCount(n);
    r.verify = DataAddress(op->lba + i);
    r.data = scratch_iov;
    domain_->ReadAsync(r,
                       [this, op, slot](absl::Status s) { ReadPartDone(op, slot, std::move(s)); });
    i += n;
  }
  ReadRelease(op);
}

void Ftl::ReadPartDone(ReadOp* op, uint32_t slot, absl::Status s) {
  pins_[slot].fetch_sub(1, std::memory_order_acq_rel);
  if (!s.ok()) {
    MutexLock lock(&op->status_mu);
    if (op->status.ok()) op->status = OwnCopy(s);
  }
  ReadRelease(op);
}

void Ftl::ReadRelease(ReadOp* op) {
  if (op->outstanding.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  absl::Status status;
  {
    MutexLock lock(&op->status_mu);
    status = std::move(op->status);
  }
  StatusCallback done = std::move(op->done);
  FreeReadOp(op);
  RunUserCallback(std::move(done), std::move(status));
  EndOp();
}

}  // namespace sef::ftl::internal
