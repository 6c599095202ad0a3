// A clock that can be injected. Production code takes `Clock*`; tests pass a FakeClock.
//
// Thread-safety: Now() may be called from any thread. FakeClock::Advance is thread-safe.
#ifndef SEF_BASE_CLOCK_H_
#define SEF_BASE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sef {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since an arbitrary, fixed epoch; never decreases.
  virtual int64_t NowNanos() const = 0;
  int64_t NowSeconds() const { return NowNanos() / 1'000'000'000; }

  // The process-wide monotonic clock. Not owned by the caller.
  static Clock* Real();
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_nanos = 1'000'000'000) : now_(start_nanos) {}
  int64_t NowNanos() const override { return now_.load(std::memory_order_acquire); }
  void Advance(std::chrono::nanoseconds d) { now_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<int64_t> now_;
};

namespace internal_clock {
class MonotonicClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};
}  // namespace internal_clock

inline Clock* Clock::Real() {
  static internal_clock::MonotonicClock clock;  // stateless: no hidden mutable state
  return &clock;
}

}  // namespace sef

#endif  // SEF_BASE_CLOCK_H_
