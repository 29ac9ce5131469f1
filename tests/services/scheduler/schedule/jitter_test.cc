#include "services/scheduler/schedule/jitter.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

constexpr absl::Duration kInterval = absl::Minutes(10);

TEST(JitterDelayTest, IsUnitTimesJitterTimesInterval) {
  FixedJitterSource zero(0);
  EXPECT_EQ(JitterDelay(kInterval, 0.5, zero), absl::ZeroDuration());
  FixedJitterSource half(0.5);
  EXPECT_EQ(JitterDelay(kInterval, 0.2, half), absl::Minutes(1));
  EXPECT_EQ(JitterDelay(kInterval, 0, half), absl::ZeroDuration());
}

TEST(JitterDelayTest, StaysBelowTheFullFractionForUnitsNearOne) {
  FixedJitterSource almost_one(std::nextafter(1.0, 0.0));
  const absl::Duration delay = JitterDelay(kInterval, 0.5, almost_one);
  EXPECT_LT(delay, absl::Minutes(5));
  EXPECT_GE(delay, absl::Minutes(5) - absl::Microseconds(1));
}

TEST(JitterDelayTest, ClampsASourceOutsideTheUnitInterval) {
  FixedJitterSource one(1.0);
  EXPECT_LT(JitterDelay(kInterval, 0.5, one), absl::Minutes(5));
  FixedJitterSource two(2.0);
  EXPECT_LT(JitterDelay(kInterval, 0.5, two), absl::Minutes(5));
  FixedJitterSource negative(-1.0);
  EXPECT_EQ(JitterDelay(kInterval, 0.5, negative), absl::ZeroDuration());
  FixedJitterSource nan(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(JitterDelay(kInterval, 0.5, nan), absl::ZeroDuration());
}

TEST(JitterDelayTest, IsWholeNanoseconds) {
  FixedJitterSource third(1.0 / 3);
  const absl::Duration delay = JitterDelay(absl::Seconds(1), 0.5, third);
  EXPECT_EQ(delay, absl::Trunc(delay, absl::Nanoseconds(1)));
  EXPECT_EQ(delay, absl::Nanoseconds(166'666'666));
}

TEST(RandomJitterSourceTest, DrawsFromTheUnitIntervalAndVaries) {
  RandomJitterSource random;
  double min = 1;
  double max = 0;
  for (int i = 0; i < 1000; ++i) {
    const double unit = random.NextUnit();
    ASSERT_GE(unit, 0);
    ASSERT_LT(unit, 1);
    min = std::min(min, unit);
    max = std::max(max, unit);
  }
  // 1,000 uniform draws all inside a 0.5-wide band: chance ~2^-999.
  EXPECT_GT(max - min, 0.5);
}

}  // namespace
}  // namespace coffer::scheduler
