#include "common/metrics/gauge.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace coffer::metrics {
namespace {

TEST(GaugeTest, SetsAndAdds) {
  Gauge gauge;
  EXPECT_EQ(gauge.Value(), 0.0);
  gauge.Set(2.5);
  gauge.Add(1);
  gauge.Add(-0.5);
  EXPECT_EQ(gauge.Value(), 3.0);
}

TEST(GaugeTest, LosesNoAddsAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kAdds = 50'000;
  Gauge gauge;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    // Half the threads go up by two, half down by one: integers stay exact
    // in a double, so the result must be exact too.
    const double delta = t % 2 == 0 ? 2.0 : -1.0;
    threads.emplace_back([&gauge, delta] {
      for (int i = 0; i < kAdds; ++i) gauge.Add(delta);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(gauge.Value(), (kThreads / 2) * kAdds * (2.0 - 1.0));
}

}  // namespace
}  // namespace coffer::metrics
