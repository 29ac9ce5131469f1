#include "common/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace coffer::metrics {
namespace {

// The exact nearest-rank percentile of `values`.
double NearestRank(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * values.size()));
  return values[std::max<size_t>(rank, 1) - 1];
}

// Tolerance for a percentile near `exact`: the bucket precision, plus a
// little for the rounding of values to whole nanoseconds.
double Tolerance(double exact) { return exact * Histogram::kRelativePrecision + 2e-9; }

TEST(HistogramTest, EmptySnapshotIsAllZero) {
  Histogram histogram;
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.sum, 0.0);
  EXPECT_EQ(s.p50, 0.0);
  EXPECT_EQ(s.p90, 0.0);
  EXPECT_EQ(s.p99, 0.0);
  EXPECT_EQ(s.max, 0.0);
}

TEST(HistogramTest, SingleValue) {
  Histogram histogram;
  histogram.Record(absl::Milliseconds(3));
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count, 1u);
  EXPECT_DOUBLE_EQ(s.sum, 0.003);
  EXPECT_DOUBLE_EQ(s.max, 0.003);
  // Interpolation never goes above the largest value recorded.
  EXPECT_LE(s.p99, 0.003);
  EXPECT_NEAR(s.p50, 0.003, Tolerance(0.003));
  EXPECT_NEAR(s.p99, 0.003, Tolerance(0.003));
}

TEST(HistogramTest, UniformMilliseconds) {
  Histogram histogram;
  // 1 µs .. 10 ms in 1 µs steps.
  for (int us = 1; us <= 10'000; ++us) histogram.Record(absl::Microseconds(us));
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count, 10'000u);
  EXPECT_NEAR(s.sum, 10'000 * 10'001 / 2 * 1e-6, 1e-9);
  EXPECT_DOUBLE_EQ(s.max, 0.010);
  EXPECT_NEAR(s.p50, 0.005, Tolerance(0.005));
  EXPECT_NEAR(s.p90, 0.009, Tolerance(0.009));
  EXPECT_NEAR(s.p99, 0.0099, Tolerance(0.0099));
}

TEST(HistogramTest, LogUniformAcrossTheRange) {
  // Spread over eight decades, from 1 µs to 100 s, like real latencies with
  // a long tail.
  std::mt19937_64 random(12345);
  std::uniform_real_distribution<double> exponent(-6, 2);
  std::vector<double> values;
  Histogram histogram;
  for (int i = 0; i < 100'000; ++i) {
    const double seconds = std::pow(10.0, exponent(random));
    values.push_back(seconds);
    histogram.Observe(seconds);
  }
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count, values.size());
  for (const auto& [q, got] :
       {std::pair{0.5, s.p50}, std::pair{0.9, s.p90}, std::pair{0.99, s.p99}}) {
    const double exact = NearestRank(values, q);
    EXPECT_NEAR(got, exact, Tolerance(exact)) << "q=" << q;
  }
  EXPECT_NEAR(s.max, *std::max_element(values.begin(), values.end()), 1e-9);
}

TEST(HistogramTest, TwoClusters) {
  // 95 fast calls and 5 slow ones: p50 and p90 are fast, p99 slow.
  Histogram histogram;
  for (int i = 0; i < 95; ++i) histogram.Record(absl::Microseconds(200));
  for (int i = 0; i < 5; ++i) histogram.Record(absl::Seconds(2));
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_NEAR(s.p50, 200e-6, Tolerance(200e-6));
  EXPECT_NEAR(s.p90, 200e-6, Tolerance(200e-6));
  EXPECT_NEAR(s.p99, 2.0, Tolerance(2.0));
  EXPECT_DOUBLE_EQ(s.max, 2.0);
}

TEST(HistogramTest, SubMicrosecondValues) {
  Histogram histogram;
  for (int i = 0; i < 100; ++i) histogram.Record(absl::Nanoseconds(500));
  const HistogramSnapshot s = histogram.Snapshot();
  // Below 1 µs buckets are 32 ns wide.
  EXPECT_NEAR(s.p50, 500e-9, 32e-9);
  EXPECT_DOUBLE_EQ(s.max, 500e-9);
}

TEST(HistogramTest, OutOfRangeValuesAreClamped) {
  Histogram histogram;
  histogram.Record(absl::Seconds(-1));
  histogram.Observe(-3.0);
  histogram.Observe(std::numeric_limits<double>::quiet_NaN());
  HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(s.sum, 0.0);
  EXPECT_EQ(s.max, 0.0);
  EXPECT_EQ(s.p99, 0.0);

  histogram.Record(absl::InfiniteDuration());
  histogram.Observe(std::numeric_limits<double>::infinity());
  s = histogram.Snapshot();
  EXPECT_EQ(s.count, 5u);
  const double max_seconds = Histogram::kMaxNanos * 1e-9;
  EXPECT_DOUBLE_EQ(s.max, max_seconds);
  EXPECT_DOUBLE_EQ(s.sum, 2 * max_seconds);
  EXPECT_LE(s.p99, max_seconds);
}

TEST(HistogramTest, RecordAndObserveAgree) {
  Histogram by_duration;
  Histogram by_seconds;
  by_duration.Record(absl::Milliseconds(250));
  by_seconds.Observe(0.25);
  const HistogramSnapshot a = by_duration.Snapshot();
  const HistogramSnapshot b = by_seconds.Snapshot();
  EXPECT_EQ(a.p50, b.p50);
  EXPECT_EQ(a.sum, b.sum);
  EXPECT_EQ(a.max, b.max);
}

TEST(HistogramTest, ConcurrentRecordsAreAllCounted) {
  constexpr int kThreads = 4;
  constexpr int kRecords = 20'000;
  Histogram histogram;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&histogram, t] {
      for (int i = 0; i < kRecords; ++i) {
        histogram.Record(absl::Microseconds(1 + t));
        if (i % 1000 == 0) (void)histogram.Snapshot();  // readers meanwhile
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kRecords);
  EXPECT_NEAR(s.sum, kRecords * (1 + 2 + 3 + 4) * 1e-6, 1e-9);
  EXPECT_DOUBLE_EQ(s.max, 4e-6);
}

}  // namespace
}  // namespace coffer::metrics
