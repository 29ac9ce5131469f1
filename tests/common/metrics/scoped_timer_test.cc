#include "common/metrics/scoped_timer.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/metrics/histogram.h"

namespace coffer::metrics {
namespace {

TEST(ScopedTimerTest, RecordsOnDestruction) {
  Histogram histogram;
  absl::Duration elapsed;
  {
    ScopedTimer timer(histogram);
    absl::SleepFor(absl::Milliseconds(5));
    elapsed = timer.Elapsed();
    EXPECT_EQ(histogram.Snapshot().count, 0u);
  }
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count, 1u);
  EXPECT_GE(elapsed, absl::Milliseconds(5));
  // What was recorded is at least what Elapsed said a moment before.
  EXPECT_GE(s.max, absl::ToDoubleSeconds(elapsed));
}

TEST(ScopedTimerTest, ElapsedGrows) {
  Histogram histogram;
  ScopedTimer timer(histogram);
  const absl::Duration first = timer.Elapsed();
  absl::SleepFor(absl::Milliseconds(1));
  EXPECT_GT(timer.Elapsed(), first);
}

TEST(ScopedTimerTest, CancelRecordsNothing) {
  Histogram histogram;
  {
    ScopedTimer timer(histogram);
    timer.Cancel();
  }
  EXPECT_EQ(histogram.Snapshot().count, 0u);
}

}  // namespace
}  // namespace coffer::metrics
