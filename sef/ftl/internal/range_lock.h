// Per-range FIFO ordering of writes and trims: an operation whose block range overlaps one
// submitted earlier and not yet finished waits until every such earlier one has released.
// So same-LBA updates reach flash, complete and are acknowledged in submission order.
//
// Entries are intrusive (embedded in the operation): no allocation per acquire. The cost of
// Acquire and Release is linear in the number of operations active at once (the queue depth).
//
// Thread-safety: thread-safe. Release never calls back; it returns the entries that became
// runnable, for the caller to resume after it dropped its own locks.
#ifndef SEF_FTL_INTERNAL_RANGE_LOCK_H_
#define SEF_FTL_INTERNAL_RANGE_LOCK_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "sef/base/mutex.h"

namespace sef::ftl::internal {

class RangeLock {
 public:
  struct Entry {
    uint64_t first = 0, last = 0;  // inclusive block range
    bool running = false;
    void* owner = nullptr;  // the operation this entry belongs to
    Entry* prev = nullptr;
    Entry* next = nullptr;
  };

  // Adds `e` (first/last set) at the tail. Returns true when it may run now; otherwise it
  // is returned by a later Release once every overlapping earlier entry is gone.
  bool Acquire(Entry* e);
  // Removes a running `e`; appends the entries that became runnable to `ready`.
  void Release(Entry* e, std::vector<Entry*>* ready);
  size_t active() const;
  // Diagnostics: calls `fn` for every entry, oldest first, under the lock (no other call).
  void ForEach(absl::FunctionRef<void(const Entry&)> fn) const;

 private:
  bool BlockedLocked(const Entry* e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  Entry* head_ ABSL_GUARDED_BY(mu_) = nullptr;
  Entry* tail_ ABSL_GUARDED_BY(mu_) = nullptr;
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sef::ftl::internal

#endif  // SEF_FTL_INTERNAL_RANGE_LOCK_H_
