#include "services/scheduler/schedule/schedule_boundaries.h"

#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

const absl::Time kAnchor = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::Duration kInterval = absl::Minutes(5);

TEST(LatestBoundaryAtOrBeforeTest, IsTheAnchorUntilOneIntervalPassed) {
  for (absl::Time t :
       {kAnchor - absl::Hours(1), kAnchor, kAnchor + kInterval - absl::Nanoseconds(1)}) {
    const Boundary boundary = LatestBoundaryAtOrBefore(kAnchor, kInterval, t);
    EXPECT_EQ(boundary.time, kAnchor);
    EXPECT_EQ(boundary.steps, 0);
  }
}

TEST(LatestBoundaryAtOrBeforeTest, ABoundaryExactlyAtTCounts) {
  const Boundary boundary = LatestBoundaryAtOrBefore(kAnchor, kInterval, kAnchor + 3 * kInterval);
  EXPECT_EQ(boundary.time, kAnchor + 3 * kInterval);
  EXPECT_EQ(boundary.steps, 3);
}

TEST(LatestBoundaryAtOrBeforeTest, CountsCenturiesOfOneSecondIntervals) {
  const absl::Duration span = absl::Hours(24 * 365 * 200) + absl::Milliseconds(500);
  const Boundary boundary = LatestBoundaryAtOrBefore(kAnchor, absl::Seconds(1), kAnchor + span);
  EXPECT_EQ(boundary.steps, int64_t{3600} * 24 * 365 * 200);
  EXPECT_EQ(boundary.time, kAnchor + span - absl::Milliseconds(500));
}

TEST(FirstBoundaryAtOrAfterTest, RoundsUpUnlessExactlyOnABoundary) {
  Boundary boundary =
      FirstBoundaryAtOrAfter(kAnchor, kInterval, kAnchor + kInterval + absl::Nanoseconds(1));
  EXPECT_EQ(boundary.steps, 2);
  EXPECT_EQ(boundary.time, kAnchor + 2 * kInterval);

  boundary = FirstBoundaryAtOrAfter(kAnchor, kInterval, kAnchor + kInterval);
  EXPECT_EQ(boundary.steps, 1);
  EXPECT_EQ(boundary.time, kAnchor + kInterval);
}

TEST(FirstBoundaryAtOrAfterTest, HonoursMinSteps) {
  Boundary boundary = FirstBoundaryAtOrAfter(kAnchor, kInterval, kAnchor - absl::Hours(1), 1);
  EXPECT_EQ(boundary.steps, 1);
  EXPECT_EQ(boundary.time, kAnchor + kInterval);

  boundary = FirstBoundaryAtOrAfter(kAnchor, kInterval, kAnchor, 0);
  EXPECT_EQ(boundary.steps, 0);
  EXPECT_EQ(boundary.time, kAnchor);

  boundary = FirstBoundaryAtOrAfter(kAnchor, kInterval, kAnchor + 4 * kInterval, 1);
  EXPECT_EQ(boundary.steps, 4);
}

}  // namespace
}  // namespace coffer::scheduler
