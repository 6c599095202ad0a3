// Compiled by mutex_tsa_test.sh with clang's thread-safety analysis: each SEF_CASE is one
// mistake the analysis must refuse (and SEF_CASE unset must compile cleanly), so the README's
// --config=tsa build is known to catch what it is there for.
#include "sef/base/mutex.h"

namespace {

class Counter {
 public:
  void Good() {
    sef::MutexLock lock(&mu_);
    ++n_;
    while (n_ == 0) cv_.Wait(&mu_);
  }
  int GoodShared() {
    sef::ReaderMutexLock lock(&table_mu_);
    return table_;
  }
#if SEF_CASE == 1  // a guarded member written without its lock
  void Bad() { ++n_; }
#elif SEF_CASE == 2  // a REQUIRES function called without the lock
  void Bad() { IncrementLocked(); }
#elif SEF_CASE == 3  // writing under a reader lock
  void Bad() {
    sef::ReaderMutexLock lock(&table_mu_);
    table_ = 1;
  }
#elif SEF_CASE == 4  // waiting on a condition without holding its mutex
  void Bad() { cv_.Wait(&mu_); }
#endif

 private:
  void IncrementLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++n_; }
  sef::Mutex mu_;
  sef::CondVar cv_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
  sef::SharedMutex table_mu_;
  int table_ ABSL_GUARDED_BY(table_mu_) = 0;
};

}  // namespace

int main() {
  Counter c;
  c.Good();
  return c.GoodShared();
}
