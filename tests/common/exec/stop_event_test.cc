#include "common/exec/stop_event.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace coffer::exec {
namespace {

TEST(StopEventTest, StartsUnnotified) {
  StopEvent stop;
  EXPECT_FALSE(stop.HasBeenNotified());
  EXPECT_FALSE(stop.WaitFor(absl::ZeroDuration()));
  EXPECT_FALSE(stop.WaitFor(absl::Milliseconds(1)));
}

TEST(StopEventTest, StaysNotified) {
  StopEvent stop;
  stop.Notify();
  stop.Notify();
  EXPECT_TRUE(stop.HasBeenNotified());
  EXPECT_TRUE(stop.WaitFor(absl::ZeroDuration()));
  EXPECT_TRUE(stop.WaitFor(absl::InfiniteDuration()));
  stop.Wait();
}

TEST(StopEventTest, NotifyWakesAWaiterLongBeforeItsTimeout) {
  StopEvent stop;
  std::atomic<bool> woke_notified{false};
  absl::Duration waited;
  std::thread waiter([&] {
    const absl::Time start = absl::Now();
    woke_notified = stop.WaitFor(absl::Hours(1));
    waited = absl::Now() - start;
  });
  absl::SleepFor(absl::Milliseconds(20));
  stop.Notify();
  waiter.join();
  EXPECT_TRUE(woke_notified);
  // Far below the hour the waiter asked for; generous for loaded machines.
  EXPECT_LT(waited, absl::Seconds(30));
}

TEST(StopEventTest, NotifyWakesEveryWaiter) {
  StopEvent stop;
  std::atomic<int> woken{0};
  std::thread waiters[4];
  for (std::thread& waiter : waiters) {
    waiter = std::thread([&] {
      stop.Wait();
      ++woken;
    });
  }
  stop.Notify();
  for (std::thread& waiter : waiters) waiter.join();
  EXPECT_EQ(woken, 4);
}

TEST(StopEventTest, WaitForTimesOutWhenNotNotified) {
  StopEvent stop;
  const absl::Time start = absl::Now();
  EXPECT_FALSE(stop.WaitFor(absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
}

}  // namespace
}  // namespace coffer::exec
