#include "common/exec/background_loop.h"

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/exec/stop_event.h"

namespace coffer::exec {
namespace {

// Generous: these tests run beside other builds on small machines.
constexpr absl::Duration kPatience = absl::Seconds(30);

// Polls until `loop` has run the body at least `n` times; false on timeout.
bool WaitForIterations(const BackgroundLoop& loop, uint64_t n) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (loop.iterations() < n) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(BackgroundLoopTest, RunsRepeatedly) {
  std::atomic<int> runs{0};
  BackgroundLoop loop("test-loop", absl::Milliseconds(1), [&runs](const StopEvent&) { ++runs; });
  loop.Start();
  ASSERT_TRUE(WaitForIterations(loop, 5));
  loop.Stop();
  EXPECT_GE(runs, 5);
  EXPECT_EQ(static_cast<uint64_t>(runs.load()), loop.iterations());
}

TEST(BackgroundLoopTest, RunsOnceAtStart) {
  BackgroundLoop loop("test-loop", absl::Hours(1), [](const StopEvent&) {});
  loop.Start();
  ASSERT_TRUE(WaitForIterations(loop, 1));
  loop.Stop();
  EXPECT_EQ(loop.iterations(), 1u);
}

TEST(BackgroundLoopTest, StopCutsALongIntervalShort) {
  BackgroundLoop loop("test-loop", absl::Hours(1), [](const StopEvent&) {});
  loop.Start();
  ASSERT_TRUE(WaitForIterations(loop, 1));
  const absl::Time start = absl::Now();
  loop.Stop();
  // An hour's interval, stopped far sooner: the wait is interrupted.
  EXPECT_LT(absl::Now() - start, kPatience);
}

TEST(BackgroundLoopTest, BodyWaitingOnTheStopEventReturnsOnStop) {
  std::atomic<bool> saw_stop{false};
  BackgroundLoop loop("test-loop", absl::Hours(1), [&saw_stop](const StopEvent& stop) {
    saw_stop = stop.WaitFor(absl::Hours(1));
  });
  loop.Start();
  absl::SleepFor(absl::Milliseconds(10));
  const absl::Time start = absl::Now();
  loop.Stop();
  EXPECT_LT(absl::Now() - start, kPatience);
  EXPECT_TRUE(saw_stop);
}

TEST(BackgroundLoopTest, TriggerNowRunsTheBodyEarly) {
  BackgroundLoop loop("test-loop", absl::Hours(1), [](const StopEvent&) {});
  loop.Start();
  ASSERT_TRUE(WaitForIterations(loop, 1));
  loop.TriggerNow();
  EXPECT_TRUE(WaitForIterations(loop, 2));
  loop.TriggerNow();
  EXPECT_TRUE(WaitForIterations(loop, 3));
}

TEST(BackgroundLoopTest, TriggersDuringARunCoalesceIntoOneMoreRun) {
  StopEvent release;
  std::atomic<int> runs{0};
  BackgroundLoop loop("test-loop", absl::Hours(1), [&](const StopEvent&) {
    if (++runs == 1) release.WaitFor(kPatience);
  });
  loop.Start();
  // The first run is blocked; trigger three times while it is.
  while (runs.load() == 0) absl::SleepFor(absl::Milliseconds(1));
  loop.TriggerNow();
  loop.TriggerNow();
  loop.TriggerNow();
  release.Notify();
  ASSERT_TRUE(WaitForIterations(loop, 2));
  // Give a (wrong) third run every chance to happen before checking.
  absl::SleepFor(absl::Milliseconds(50));
  loop.Stop();
  EXPECT_EQ(runs, 2);
}

TEST(BackgroundLoopTest, InfiniteIntervalRunsOnlyWhenTriggered) {
  BackgroundLoop loop("test-loop", absl::InfiniteDuration(), [](const StopEvent&) {});
  loop.Start();
  ASSERT_TRUE(WaitForIterations(loop, 1));
  loop.TriggerNow();
  EXPECT_TRUE(WaitForIterations(loop, 2));
  loop.Stop();
}

TEST(BackgroundLoopTest, StopIsIdempotentAndStartAfterStopDoesNothing) {
  BackgroundLoop loop("test-loop", absl::Milliseconds(1), [](const StopEvent&) {});
  loop.Start();
  loop.Start();
  ASSERT_TRUE(WaitForIterations(loop, 1));
  loop.Stop();
  loop.Stop();
  const uint64_t iterations = loop.iterations();
  loop.Start();
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(loop.iterations(), iterations);
}

TEST(BackgroundLoopTest, StopBeforeStartNeverRuns) {
  BackgroundLoop loop("test-loop", absl::Milliseconds(1), [](const StopEvent&) {});
  loop.Stop();
  loop.Start();
  EXPECT_EQ(loop.iterations(), 0u);
}

TEST(BackgroundLoopTest, DestructorStopsTheLoop) {
  auto loop =
      std::make_unique<BackgroundLoop>("test-loop", absl::Hours(1), [](const StopEvent&) {});
  loop->Start();
  ASSERT_TRUE(WaitForIterations(*loop, 1));
  loop.reset();
}

TEST(BackgroundLoopTest, BodyMayStopItsOwnLoop) {
  std::unique_ptr<BackgroundLoop> loop;
  std::atomic<int> runs{0};
  loop =
      std::make_unique<BackgroundLoop>("test-loop", absl::Milliseconds(1), [&](const StopEvent&) {
        ++runs;
        loop->Stop();
      });
  loop->Start();
  ASSERT_TRUE(WaitForIterations(*loop, 1));
  loop->Stop();
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace coffer::exec
