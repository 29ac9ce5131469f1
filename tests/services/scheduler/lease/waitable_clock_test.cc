#include "services/scheduler/lease/waitable_clock.h"

#include <thread>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

void ExpectWaitLastsItsTerm(SteadyClock& clock, Wakeup& wakeup) {
  const absl::Time deadline = clock.Now() + absl::Milliseconds(20);
  clock.WaitUntil(deadline, wakeup);
  EXPECT_GE(clock.Now(), deadline);
}

TEST(SteadyClockTest, WaitsUntilTheDeadline) {
  SteadyClock clock;
  Wakeup wakeup;
  ExpectWaitLastsItsTerm(clock, wakeup);
}

TEST(SteadyClockTest, ANotifyBeforeTheWaitEndsItAtOnceAndOnlyOnce) {
  SteadyClock clock;
  Wakeup wakeup;
  wakeup.Notify();
  // Would never return if the Notify were lost.
  clock.WaitUntil(absl::InfiniteFuture(), wakeup);
  // Taken: the next wait lasts until its deadline.
  ExpectWaitLastsItsTerm(clock, wakeup);
}

TEST(SteadyClockTest, ANotifyFromAnotherThreadEndsAnEndlessWait) {
  SteadyClock clock;
  Wakeup wakeup;
  std::thread notifier([&] {
    // Until the waiter is really waiting, so the Notify is not just kept.
    while (!wakeup.blocked()) std::this_thread::yield();
    wakeup.Notify();
  });
  clock.WaitUntil(absl::InfiniteFuture(), wakeup);
  notifier.join();
  EXPECT_FALSE(wakeup.blocked());
}

TEST(SteadyClockTest, NeverGoesBackwards) {
  SteadyClock clock;
  absl::Time previous = clock.Now();
  for (int i = 0; i < 1000; ++i) {
    const absl::Time now = clock.Now();
    EXPECT_GE(now, previous);
    previous = now;
  }
}

}  // namespace
}  // namespace coffer::scheduler
