#include "sef/ftl/internal/range_lock.h"

namespace sef::ftl::internal {
namespace {

bool Overlap(const RangeLock::Entry* a, const RangeLock::Entry* b) {
  return a->first <= b->last && b->first <= a->last;
}

}  // namespace

// An entry is blocked while any entry before it (running or waiting) overlaps it: waiting
// entries count too, so that a later request never overtakes an earlier one on the same
// blocks (FIFO per range).
bool RangeLock::BlockedLocked(const Entry* e) const {
  for (const Entry* p = e->prev; p != nullptr; p = p->prev) {
    if (Overlap(p, e)) return true;
  }
  return false;
}

bool RangeLock::Acquire(Entry* e) {
  MutexLock lock(&mu_);
  e->next = nullptr;
  e->prev = tail_;
  if (tail_ != nullptr) {
    tail_->next = e;
  } else {
    head_ = e;
  }
  tail_ = e;
  ++count_;
  e->running = !BlockedLocked(e);
  return e->running;
}

void RangeLock::Release(Entry* e, std::vector<Entry*>* ready) {
  MutexLock lock(&mu_);
  Entry* after = e->next;
  if (e->prev != nullptr) {
    e->prev->next = e->next;
  } else {
    head_ = e->next;
  }
  if (e->next != nullptr) {
    e->next->prev = e->prev;
  } else {
    tail_ = e->prev;
  }
  e->prev = e->next = nullptr;
  e->running = false;
  --count_;
  // Only entries after `e` that overlapped it can have been waiting for it.
  for (Entry* w = after; w != nullptr; w = w->next) {
    if (!w->running && Overlap(w, e) && !BlockedLocked(w)) {
      w->running = true;
      ready->push_back(w);
    }
  }
}

size_t RangeLock::active() const {
  MutexLock lock(&mu_);
  return count_;
}

void RangeLock::ForEach(absl::FunctionRef<void(const Entry&)> fn) const {
  MutexLock lock(&mu_);
  for (const Entry* e = head_; e != nullptr; e = e->next) fn(*e);
}

}  // namespace sef::ftl::internal
