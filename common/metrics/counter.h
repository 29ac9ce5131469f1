#ifndef COFFER_COMMON_METRICS_COUNTER_H_
#define COFFER_COMMON_METRICS_COUNTER_H_

#include <atomic>
#include <cstdint>

namespace coffer::metrics {

// A monotonically increasing count (calls, errors, bytes). Lock-free and
// thread-safe. Obtain one from Registry::GetCounter and keep the reference.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment(uint64_t n = 1) {
    // Relaxed: a counter orders nothing; readers only want the total.
    value_.fetch_add(n, std::memory_order_relaxed);
  }

  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace coffer::metrics

#endif  // COFFER_COMMON_METRICS_COUNTER_H_
