// The journal: what recovery cannot learn from the data ADUs themselves.
//
//   trim      a trimmed range and its sequence number (trims must survive a power cut)
//   allocate  an SB the FTL erased for data or for the journal (recovery finds the SBs
//             written since the checkpoint from these, without asking the device about
//             every SB of the domain)
//   release   a data SB that emptied and is about to be released (its checkpointed map
//             entries are stale from then on, even if the device erases it again)
//
// Records are appended to a buffer in RAM and written, FUA, as 4 KiB pages into the current
// journal SB when someone needs them durable (a flush round, an FUA write into a new SB, the
// journal's own change-over). One write is in flight at a time; its records are a prefix of
// what was appended, so "durable" is a prefix count.
//
// Change-over: when the journal SB runs low, the allocator erases a successor and hands it
// over (JournalSetSuccessor). The next write puts the successor's allocation record first
// and may use the journal SB's last page, which normal writes keep free for it; when that
// write is durable the journal continues in the successor. So recovery can follow the chain
// from the journal SB the checkpoint names.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "sef/base/await.h"
#include "sef/ftl/internal/callbacks.h"
#include "sef/ftl/internal/ftl.h"
#include "sef/ftl/internal/trace.h"

namespace sef::ftl::internal {
namespace {

// Pages a trim must leave free for allocation and release records.
constexpr uint32_t kRecordReservePages = 2;

uint32_t PagesFor(uint64_t records) {
  return static_cast<uint32_t>((records + kJournalRecordsPerPage - 1) / kJournalRecordsPerPage);
}

}  // namespace

uint64_t Ftl::JournalAppend(JournalRecord r) {
  MutexLock lock(&jmu_);
  if (r.seq == 0) r.seq = next_seq_.fetch_add(1, std::memory_order_acq_rel);
  jbuf_.push_back(r);
  return ++j_appended_;
}

bool Ftl::JournalTryAppendTrim(uint64_t lba, uint64_t count) {
  MutexLock lock(&jmu_);
  uint32_t free = geo_.sb_capacity - 1 - std::min(j_used_, geo_.sb_capacity - 1);
  if (j_next_slot_ >= 0) free += geo_.sb_capacity - 1;
  if (PagesFor(jbuf_.size() + 1) + kRecordReservePages > free) return false;
  JournalRecord r{};
  r.type = static_cast<uint8_t>(JournalRecordType::kTrim);
  r.seq = next_seq_.fetch_add(1, std::memory_order_acq_rel);
  r.a = lba;
  r.b = count;
  jbuf_.push_back(r);
  ++j_appended_;
  return true;
}

uint64_t Ftl::JournalAppended() {
  MutexLock lock(&jmu_);
  return j_appended_;
}

uint64_t Ftl::JournalDurable() {
  MutexLock lock(&jmu_);
  return j_durable_;
}

bool Ftl::JournalNeedsSuccessor() {
  MutexLock lock(&jmu_);
  if (j_next_slot_ >= 0 || j_chain_pending_) return false;
  if (j_retire_) return true;
  const uint32_t free = geo_.sb_capacity - std::min(j_used_, geo_.sb_capacity);
  return free < std::max<uint32_t>(8, geo_.sb_capacity / 4) ||
         PagesFor(jbuf_.size()) + kRecordReservePages + 1 >= free;
}

bool Ftl::JournalRetire() {
  MutexLock lock(&jmu_);
  if (j_retire_) return false;
  j_retire_ = true;
  return true;
}

void Ftl::JournalPosition(uint32_t* slot, uint32_t* completed_pages, int* successor) {
  MutexLock lock(&jmu_);
  *slot = j_slot_;
  *completed_pages = j_completed_pages_;
  *successor = j_next_slot_;
}

void Ftl::JournalReset(uint32_t slot, SuperBlockId sb, uint32_t used) {
  MutexLock lock(&jmu_);
  j_slot_ = slot;
  j_sb_ = sb;
  j_used_ = used;
  j_completed_pages_ = used;
  j_next_slot_ = -1;
  j_chain_pending_ = j_chain_written_ = false;
  j_retire_ = false;
  // Records appended before (by recovery) count from here.
  j_written_ = j_durable_ = 0;
  j_appended_ = jbuf_.size();
}

void Ftl::TakeDurableWaitersLocked(std::vector<StatusCallback>* ready) {
  auto it = std::partition(j_waiters_.begin(), j_waiters_.end(),
                           [this](const std::pair<uint64_t, StatusCallback>& w) {
                             jmu_.AssertHeld();
                             return w.first > j_durable_;
                           });
  for (auto i = it; i != j_waiters_.end(); ++i) ready->push_back(std::move(i->second));
  j_waiters_.erase(it, j_waiters_.end());
}

void Ftl::JournalSubsume(uint64_t upto) {
  std::vector<StatusCallback> ready;
  {
    MutexLock lock(&jmu_);
    if (j_written_ >= upto) return;
    // Records [j_written_, upto) sit unwritten at the front of the buffer: the committed
    // checkpoint holds their effect, so they need not be written at all. Writing them later
    // would only make the next recovery replay SBs the checkpoint already has.
    jbuf_.erase(jbuf_.begin(), jbuf_.begin() + static_cast<ptrdiff_t>(upto - j_written_));
    j_written_ = upto;
    if (j_writing_) return;  // the write in flight completes the prefix
    j_durable_ = j_written_;
    TakeDurableWaitersLocked(&ready);
  }
  for (StatusCallback& cb : ready) std::move(cb)(absl::OkStatus());
}

void Ftl::JournalSetSuccessor(uint32_t slot, SuperBlockId sb, uint32_t serial) {
  bool start = false;
  {
    MutexLock lock(&jmu_);
    j_next_slot_ = static_cast<int>(slot);
    j_next_sb_ = sb;
    j_chain_ = JournalRecord{};
    j_chain_.type = static_cast<uint8_t>(JournalRecordType::kAllocate);
    j_chain_.kind = static_cast<uint8_t>(SlotKind::kJournal);
    j_chain_.sb = sb.value();
    j_chain_.seq = next_seq_.fetch_add(1, std::memory_order_acq_rel);
    j_chain_.a = serial;
    j_chain_pending_ = true;
    start = !j_writing_;
  }
  if (start) JournalKick();
}

void Ftl::JournalKick() {
  JournalPlan plan;
  {
    MutexLock lock(&jmu_);
    if (j_writing_) return;
    JournalStartLocked(&plan);
  }
  JournalSubmit(plan);
}

void Ftl::JournalCommitAsync(uint64_t upto, StatusCallback done) {
  JournalPlan plan;
  absl::Status now;  // the answer when `done` need not wait
  bool waiting = false;
  {
    MutexLock lock(&jmu_);
    if (j_durable_ < upto) {
      now = OwnCopy(j_failed_);
      if (now.ok()) {
        j_waiters_.emplace_back(upto, std::move(done));
        waiting = true;
        if (!j_writing_) JournalStartLocked(&plan);
      }
    }
  }
  if (!waiting) return std::move(done)(std::move(now));
  JournalSubmit(plan);
}

absl::Status Ftl::JournalCommit(uint64_t upto) {
  return Await<absl::Status>([this, upto](absl::AnyInvocable<void(absl::Status) &&> done) {
    JournalCommitAsync(upto, std::move(done));
  });
}

void Ftl::JournalStartLocked(JournalPlan* plan) {
  plan->pages = 0;
  const uint32_t cap = geo_.sb_capacity;
  const bool chain = j_chain_pending_ && !j_chain_written_;
  // Normal writes keep the last page for the change-over record.
  const uint32_t room = cap - std::min(j_used_, cap) - (chain ? 0 : 1);
  if (room == 0 || (jbuf_.empty() && !chain)) return;
  const uint64_t fit = uint64_t{room} * kJournalRecordsPerPage - (chain ? 1 : 0);
  const uint64_t take = std::min<uint64_t>(jbuf_.size(), fit);
  const uint64_t total = take + (chain ? 1 : 0);
  if (total == 0) return;
  const uint32_t pages = PagesFor(total);
  j_pages_.assign(pages, JournalPage{});
  j_meta_.resize(pages);
  uint64_t next = 0;  // index into the records of this write: chain first, then jbuf_
  for (uint32_t p = 0; p < pages; ++p) {
    JournalPage& page = j_pages_[p];
    page.header.magic = kJournalPageMagic;
    page.header.version = kJournalVersion;
    uint64_t max_seq = 0;
    uint16_t count = 0;
    while (count < kJournalRecordsPerPage && next < total) {
      const JournalRecord& r = chain ? (next == 0 ? j_chain_ : jbuf_[next - 1]) : jbuf_[next];
      page.records[count++] = r;
      max_seq = std::max(max_seq, r.seq);
      ++next;
    }
    page.header.count = count;
    page.header.seq = max_seq;
    page.header.crc = JournalPageCrc(page);
    j_meta_[p] = MakeAduMeta(max_seq, kJournalMetaMagic);
  }
  jbuf_.erase(jbuf_.begin(), jbuf_.begin() + static_cast<ptrdiff_t>(take));
  j_written_ += take;
  j_write_records_ = take;
  j_write_has_chain_ = chain;
  if (chain) j_chain_written_ = true;
  j_writing_ = true;
  j_iov_ = {j_pages_.data(), pages * size_t{kAduBytes}};
  plan->pages = pages;
  plan->sb = j_sb_;
  plan->first_page = j_used_;
  j_used_ += pages;
  Trace("journal write: sb %u pages %u..%u, records %u..%u%s", j_sb_.value(), plan->first_page,
        j_used_ - 1, j_written_ - take, j_written_, chain ? " + change-over" : "");
}

void Ftl::JournalSubmit(const JournalPlan& plan) {
  if (plan.pages == 0) return;
  hal::WriteOp w;
  w.target = plan.sb;
  w.start =
      UserAddress::FromRaw((uint64_t{kJournalTag} << UserAddress::kLbaBits) | plan.first_page);
  w.data = {&j_iov_, 1};
  w.metadata = {reinterpret_cast<const uint8_t*>(j_meta_.data()), plan.pages * size_t{kMetaBytes}};
  w.fua = true;
  counters_.metadata_adus_written.fetch_add(plan.pages, std::memory_order_relaxed);
  counters_.flash_adus_written.fetch_add(plan.pages, std::memory_order_relaxed);
  BeginBackgroundIo();
  domain_->WriteAsync(w, [this](absl::StatusOr<hal::WriteResult> r) {
    JournalWriteDone(std::move(r));
    EndBackgroundIo();
  });
}

void Ftl::JournalWriteDone(absl::StatusOr<hal::WriteResult> r) {
  std::vector<StatusCallback> ready;
  absl::Status failure;
  JournalPlan plan;
  int switched_from = -1;
  int switched_to = -1;
  {
    MutexLock lock(&jmu_);
    j_writing_ = false;
    if (r.ok() && r->not_written == 0) {
      j_durable_ = j_written_;
      j_completed_pages_ = j_used_;
      if (j_write_has_chain_) {
        switched_from = static_cast<int>(j_slot_);
        switched_to = j_next_slot_;
        j_slot_ = static_cast<uint32_t>(j_next_slot_);
        j_sb_ = j_next_sb_;
        j_used_ = j_completed_pages_ = 0;
        j_next_slot_ = -1;
        j_chain_pending_ = j_chain_written_ = false;
        j_retire_ = false;
      }
      TakeDurableWaitersLocked(&ready);
      if (!j_waiters_.empty() || j_chain_pending_) JournalStartLocked(&plan);
    } else {
      failure = r.ok() ? absl::InternalError("journal write: the journal SB filled") : r.status();
      j_failed_ = OwnCopy(failure);
      for (auto& w : j_waiters_) ready.push_back(std::move(w.second));
      j_waiters_.clear();
    }
  }
  if (!failure.ok()) {
    MutexLock lock(&mu_);
    if (failed_.ok()) failed_ = OwnCopy(failure);
    FailWaitersLocked(failure);
  }
  if (switched_from >= 0) {
    SuperBlockId old;
    {
      MutexLock lock(&mu_);
      SetSlotState(static_cast<uint32_t>(switched_to), SlotState::kOpen);
      SetSlotState(static_cast<uint32_t>(switched_from), SlotState::kClosed);
      old = slots_[switched_from].sb;
      allocator_cv_.Signal();
    }
    // Its unused pages are padded; nothing more goes there. It retires (a checkpoint will
    // release it) only once the close is done: released before, its id could be erased
    // again for data and this close would close that SB under the new owner's writes.
    BeginBackgroundIo();
    domain_->CloseSuperBlockAsync(
        old, [this, slot = static_cast<uint32_t>(switched_from)](absl::StatusOr<bool>) {
          {
            MutexLock lock(&mu_);
            retired_journals_.push_back(slot);
            checkpoint_cv_.Signal();
          }
          EndBackgroundIo();
        });
    ServeWaiters();  // trims may have waited for room
  }
  for (StatusCallback& cb : ready) std::move(cb)(OwnCopy(failure));
  JournalSubmit(plan);
}

}  // namespace sef::ftl::internal
