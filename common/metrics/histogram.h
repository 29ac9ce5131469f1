#ifndef COFFER_COMMON_METRICS_HISTOGRAM_H_
#define COFFER_COMMON_METRICS_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace coffer::metrics {

// A histogram's state at one moment, in seconds. All zero when nothing has
// been recorded.
struct HistogramSnapshot {
  uint64_t count = 0;
  double sum = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// A latency distribution: count, sum, maximum and percentiles. Recording is
// lock-free (a few relaxed atomic adds), so it belongs on every RPC.
//
//   Histogram& latency = registry.GetHistogram("rpc_latency_seconds", ...);
//   latency.Record(absl::Now() - start);   // or ScopedTimer
//   HistogramSnapshot s = latency.Snapshot();
//
// Values are counted in log-linear buckets, the way HdrHistogram does: every
// power of two of 32 ns units is split into 32 equal buckets, so a bucket is
// at most 1/32 (3.1%) of its lower bound wide from ~1 µs to ~137 s; below
// 1 µs buckets are 32 ns wide, and longer values share the last bucket.
// Percentiles are interpolated within their bucket at snapshot time and are
// within that precision of the exact nearest-rank percentile; the maximum and
// the sum are exact (to the nanosecond). Thread-safe; a snapshot taken while
// others record is a consistent-enough view, not an atomic one.
class Histogram {
 public:
  // Sub-buckets per power of two, as a power of two.
  static constexpr int kSubBucketBits = 5;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  // Values are counted in units of 2^kUnitBits nanoseconds (32 ns).
  static constexpr int kUnitBits = 5;
  // Powers of two of units covered with full precision: 2^5 .. 2^32 units.
  static constexpr int kOctaves = 32 - kSubBucketBits;
  static constexpr size_t kBucketCount = (kOctaves + 1) * kSubBuckets;
  // Upper bound of a percentile's error relative to its value, for values
  // of at least 1.024 µs and below ~137 s.
  static constexpr double kRelativePrecision = 1.0 / kSubBuckets;
  // Longer values are recorded as this (about 11.6 days), so that the sum
  // cannot overflow.
  static constexpr uint64_t kMaxNanos = uint64_t{1'000'000} * 1'000'000'000;

  Histogram() = default;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records one value. Negative durations count as zero.
  void Record(absl::Duration d);
  // Records one value given in seconds. Negative values and NaN count as
  // zero.
  void Observe(double seconds);

  HistogramSnapshot Snapshot() const;

 private:
  void RecordNanos(uint64_t nanos);

  // The value below which a fraction `q` of the `total` counts fall, in
  // nanoseconds, interpolated linearly within the bucket that holds it.
  static double PercentileNanos(const std::array<uint64_t, kBucketCount>& counts, uint64_t total,
                                double q);
  static size_t BucketIndex(uint64_t nanos);
  // Bounds of bucket `index` in nanoseconds: [lower, lower + width).
  static double BucketLowerNanos(size_t index);
  static double BucketWidthNanos(size_t index);

  std::array<std::atomic<uint64_t>, kBucketCount> buckets_{};
  std::atomic<uint64_t> sum_nanos_{0};
  std::atomic<uint64_t> max_nanos_{0};
};

}  // namespace coffer::metrics

#endif  // COFFER_COMMON_METRICS_HISTOGRAM_H_
