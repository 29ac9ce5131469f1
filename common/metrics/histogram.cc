#include "common/metrics/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace coffer::metrics {
void Histogram::Record(absl::Duration d) {
  if (d <= absl::ZeroDuration()) {
    RecordNanos(0);
    return;
  }
  // Saturates at the int64 limit for huge and infinite durations.
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  RecordNanos(static_cast<uint64_t>(nanos));
}

void Histogram::Observe(double seconds) {
  // Written so that NaN lands in the first branch.
  if (!(seconds > 0)) {
    RecordNanos(0);
    return;
  }
  const double nanos = std::round(seconds * 1e9);
  RecordNanos(nanos >= static_cast<double>(kMaxNanos) ? kMaxNanos : static_cast<uint64_t>(nanos));
}

void Histogram::RecordNanos(uint64_t nanos) {
  nanos = std::min(nanos, kMaxNanos);
  // Relaxed throughout: no reader needs these ordered with anything else.
  buckets_[BucketIndex(nanos)].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(nanos, std::memory_order_relaxed);
  uint64_t max = max_nanos_.load(std::memory_order_relaxed);
  while (nanos > max && !max_nanos_.compare_exchange_weak(max, nanos, std::memory_order_relaxed)) {
  }
}

HistogramSnapshot Histogram::Snapshot() const {
  std::array<uint64_t, kBucketCount> counts;
  uint64_t total = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
    total += counts[i];
  }
  HistogramSnapshot snapshot;
  if (total == 0) return snapshot;
  // The count comes from the buckets, not a separate counter, so that it
  // agrees with the percentiles even while others record.
  snapshot.count = total;
  snapshot.sum = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) * 1e-9;
  const double max_nanos = static_cast<double>(max_nanos_.load(std::memory_order_relaxed));
  snapshot.max = max_nanos * 1e-9;
  auto percentile = [&](double q) {
    const double nanos = PercentileNanos(counts, total, q);
    // Interpolation assumes values spread across the bucket; they cannot
    // exceed the largest one recorded.
    return std::min(nanos, max_nanos) * 1e-9;
  };
  snapshot.p50 = percentile(0.5);
  snapshot.p90 = percentile(0.9);
  snapshot.p99 = percentile(0.99);
  return snapshot;
}

double Histogram::PercentileNanos(const std::array<uint64_t, kBucketCount>& counts, uint64_t total,
                                  double q) {
  // The nearest-rank percentile is the ceil(q * total)-th value; the first
  // bucket whose cumulative count reaches q * total holds it.
  const double rank = q * static_cast<double>(total);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    if (counts[i] == 0) continue;
    if (static_cast<double>(cumulative + counts[i]) >= rank) {
      const double fraction =
          (rank - static_cast<double>(cumulative)) / static_cast<double>(counts[i]);
      return BucketLowerNanos(i) + std::clamp(fraction, 0.0, 1.0) * BucketWidthNanos(i);
    }
    cumulative += counts[i];
  }
  return BucketLowerNanos(kBucketCount - 1) + BucketWidthNanos(kBucketCount - 1);
}

size_t Histogram::BucketIndex(uint64_t nanos) {
  const uint64_t units = nanos >> kUnitBits;
  // Below 2^kSubBucketBits units the buckets are linear, one unit wide.
  if (units < kSubBuckets) return static_cast<size_t>(units);
  const int msb = std::bit_width(units) - 1;
  if (msb >= kOctaves + kSubBucketBits) return kBucketCount - 1;
  const int shift = msb - kSubBucketBits;
  // The kSubBucketBits bits below the leading one pick the sub-bucket.
  const size_t sub = static_cast<size_t>(units >> shift) - kSubBuckets;
  return static_cast<size_t>(shift + 1) * kSubBuckets + sub;
}

double Histogram::BucketLowerNanos(size_t index) {
  constexpr double kUnitNanos = 1 << kUnitBits;
  if (index < kSubBuckets) return static_cast<double>(index) * kUnitNanos;
  const int shift = static_cast<int>(index / kSubBuckets) - 1;
  const uint64_t sub = index % kSubBuckets;
  return static_cast<double>((kSubBuckets + sub) << shift) * kUnitNanos;
}

double Histogram::BucketWidthNanos(size_t index) {
  constexpr double kUnitNanos = 1 << kUnitBits;
  if (index < kSubBuckets) return kUnitNanos;
  const int shift = static_cast<int>(index / kSubBuckets) - 1;
  return static_cast<double>(uint64_t{1} << shift) * kUnitNanos;
}

}  // namespace coffer::metrics
