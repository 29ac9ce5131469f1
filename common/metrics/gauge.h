#ifndef COFFER_COMMON_METRICS_GAUGE_H_
#define COFFER_COMMON_METRICS_GAUGE_H_

#include <atomic>

namespace coffer::metrics {

// A value that goes up and down (calls in flight, queue depth, pool size).
// Lock-free and thread-safe. Obtain one from Registry::GetGauge and keep the
// reference.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }

  // Adds `delta`, which may be negative. Concurrent Adds never lose updates.
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }

  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  static_assert(std::atomic<double>::is_always_lock_free);
  std::atomic<double> value_{0};
};

}  // namespace coffer::metrics

#endif  // COFFER_COMMON_METRICS_GAUGE_H_
