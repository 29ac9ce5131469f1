#include "services/scheduler/service/timer_thread.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

#include "tests/services/scheduler/lease/fake_waitable_clock.h"

namespace coffer::scheduler {
namespace {

class Ran {
 public:
  void Add(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    ids_.push_back(id);
  }
  std::vector<int> ids() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<int> ids_;
};

TEST(TimerThreadTest, RunsCallbacksInTimeOrderWhenTheirTimeComes) {
  FakeWaitableClock clock;
  const absl::Time start = clock.Now();
  Ran ran;
  TimerThread timer("test-timer", &clock);
  timer.RunAt(start + absl::Seconds(2), [&] { ran.Add(2); });
  timer.RunAt(start + absl::Seconds(1), [&] { ran.Add(1); });
  timer.RunAt(start + absl::Seconds(3), [&] { ran.Add(3); });
  ASSERT_TRUE(clock.AwaitBlockedWaiterUntil(start + absl::Seconds(1)));
  EXPECT_TRUE(ran.ids().empty());

  clock.Advance(absl::Seconds(2));
  ASSERT_TRUE(clock.AwaitBlockedWaiterUntil(start + absl::Seconds(3)));
  EXPECT_EQ(ran.ids(), (std::vector<int>{1, 2}));

  // Past times run at once.
  timer.RunAt(start, [&] { ran.Add(0); });
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(clock.AwaitBlockedWaiterUntil(absl::InfiniteFuture()));
  EXPECT_EQ(ran.ids(), (std::vector<int>{1, 2, 0, 3}));
}

TEST(TimerThreadTest, StopDropsWhatIsLeft) {
  FakeWaitableClock clock;
  auto alive = std::make_shared<int>(0);
  std::atomic<bool> ran = false;
  TimerThread timer("test-timer", &clock);
  timer.RunAt(clock.Now() + absl::Seconds(1), [alive, &ran] { ran = true; });
  EXPECT_EQ(alive.use_count(), 2);
  timer.Stop();
  EXPECT_EQ(alive.use_count(), 1);  // destroyed unrun
  timer.RunAt(clock.Now(), [&ran] { ran = true; });
  timer.Stop();
  EXPECT_FALSE(ran);
}

TEST(TimerThreadTest, ACallbackMayStopItsTimer) {
  FakeWaitableClock clock;
  auto timer = std::make_unique<TimerThread>("test-timer", &clock);
  std::promise<void> stopped;
  timer->RunAt(clock.Now(), [raw = timer.get(), &stopped] {
    raw->Stop();  // only asks: the thread cannot join itself
    stopped.set_value();
  });
  ASSERT_EQ(stopped.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  timer.reset();  // joins
}

}  // namespace
}  // namespace coffer::scheduler
