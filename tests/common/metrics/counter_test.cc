#include "common/metrics/counter.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace coffer::metrics {
namespace {

TEST(CounterTest, StartsAtZeroAndAdds) {
  Counter counter;
  EXPECT_EQ(counter.Value(), 0u);
  counter.Increment();
  counter.Increment(41);
  EXPECT_EQ(counter.Value(), 42u);
}

TEST(CounterTest, LosesNoIncrementsAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 100'000;
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < kIncrements; ++i) counter.Increment();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.Value(), uint64_t{kThreads} * kIncrements);
}

}  // namespace
}  // namespace coffer::metrics
