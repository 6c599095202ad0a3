// Ftl::DebugState: the engine's state as text, for diagnosing a request that never completes
// (the crash suite's watchdog prints it). It reads the state under the locks that guard it, in
// the documented order (mu_, then jmu_; the range lock is a leaf).
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sef/ftl/internal/ftl.h"

namespace sef::ftl::internal {
namespace {

std::string DescribeOp(const UpdateOp& op) {
  return absl::StrFormat("%s lba %u count %u next_block %u chunks %u outstanding %u wait_stream %d",
                         op.trim ? "trim" : (op.fua ? "write(fua)" : "write"), op.lba, op.count,
                         op.next_block, op.chunks.size(),
                         op.outstanding.load(std::memory_order_acquire), op.wait_stream);
}

}  // namespace

std::string Ftl::DebugState() const {
  std::string out =
      absl::StrFormat("ftl domain %u: accepting %d, active ops %d\n", domain_id_.value(),
                      accepting_.load(std::memory_order_acquire) ? 1 : 0,
                      static_cast<int>(active_ops_.load(std::memory_order_acquire)));
  {
    MutexLock lock(&load_mu_);
    absl::StrAppendFormat(&out,
                          "map load: ready %d done %d paused %d stop %d, pages left %u, waiting "
                          "requests %u, wanted pages %u, status '%s'\n",
                          map_ready_.load(std::memory_order_acquire), load_done_, load_paused_,
                          load_stop_, pages_left_, parked_.size(), wanted_.size(),
                          load_status_.ToString());
  }
  MutexLock lock(&mu_);
  absl::StrAppendFormat(
      &out,
      "mounted %d stopping %d failed '%s'; barrier %d checkpointing %d inflight %u; "
      "checkpoints requested %u done %u\n",
      mounted_, stopping_, failed_.ToString(), barrier_, checkpointing_, inflight_,
      checkpoint_requests_, checkpoints_done_);
  absl::StrAppendFormat(
      &out, "flush rounds: started %u done %u active %d, waiting %u, next round %u\n",
      rounds_started_, rounds_done_, round_active_, round_waiters_.size(), next_round_.size());
  absl::StrAppendFormat(&out,
                        "SBs: quota %u held %u free %u open %u (max %u) journal %u; free slots %u "
                        "quarantined %u pending %u\n",
                        geo_.quota_sbs, held_sbs_, FreeSbsLocked(), open_sbs_, geo_.max_open,
                        journal_sbs_, free_slots_.size(), quarantine_.size(), pending_.size());
  for (int i = 0; i < num_streams_ + num_placement_streams_; ++i) {
    const Stream& st = streams_[i];
    absl::StrAppendFormat(&out, "stream %d: cur %d next %d allocating %d", i, st.cur, st.next,
                          st.allocating);
    if (IsPlacementStream(i)) {
      absl::StrAppendFormat(&out, " placement id %u drained %d", st.placement.value(),
                            PlacementStreamDrainedLocked(i));
    }
    if (st.cur >= 0) {
      const Slot& s = slots_[st.cur];
      absl::StrAppendFormat(&out, " (cur: kind %d reserved %u completed %u failed %u)",
                            static_cast<int>(s.kind), s.reserved, s.completed, s.failed);
    }
    out += "\n";
  }
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.state == SlotState::kFree) continue;
    absl::StrAppendFormat(
        &out,
        "slot %u: sb %u %s kind %d stream %u reserved %u completed %u failed %u valid %u pins "
        "%u closing %d empty_epoch %u\n",
        i, s.sb.value(), SlotStateName(s.state), static_cast<int>(s.kind), s.stream, s.reserved,
        s.completed, s.failed, valid_[i].load(std::memory_order_acquire),
        pins_[i].load(std::memory_order_acquire), s.closing, s.empty_epoch);
  }
  absl::StrAppendFormat(&out, "waiters (space, barrier, journal room): %u\n", waiters_.size());
  for (const UpdateOp* op : waiters_) absl::StrAppendFormat(&out, "  %s\n", DescribeOp(*op));
  {
    MutexLock jlock(&jmu_);
    absl::StrAppendFormat(
        &out,
        "journal: slot %u sb %u used %u completed pages %u; records appended %u written %u "
        "durable %u buffered %u; writing %d; successor %d chain pending %d written %d; failed "
        "'%s'; commit waiters %u:",
        j_slot_, j_sb_.value(), j_used_, j_completed_pages_, j_appended_, j_written_, j_durable_,
        jbuf_.size(), j_writing_, j_next_slot_, j_chain_pending_, j_chain_written_,
        j_failed_.ToString(), j_waiters_.size());
    for (const auto& w : j_waiters_) absl::StrAppendFormat(&out, " %u", w.first);
    out += "\n";
  }
  out += "range lock (oldest first):\n";
  range_lock_.ForEach([&out](const RangeLock::Entry& e) {
    absl::StrAppendFormat(&out, "  [%u, %u] %s: %s\n", e.first, e.last,
                          e.running ? "running" : "waiting",
                          DescribeOp(*static_cast<const UpdateOp*>(e.owner)));
  });
  return out;
}

}  // namespace sef::ftl::internal
