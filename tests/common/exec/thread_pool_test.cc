#include "common/exec/thread_pool.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/exec/stop_event.h"

namespace coffer::exec {
namespace {

TEST(ThreadPoolTest, RunsEveryTask) {
  std::atomic<int> runs{0};
  {
    ThreadPool pool("test-pool", 3);
    EXPECT_EQ(pool.size(), 3);
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(pool.Submit([&runs] { ++runs; }));
    }
  }
  EXPECT_EQ(runs, 1000);
}

TEST(ThreadPoolTest, AcceptsSubmissionsFromManyThreads) {
  std::atomic<int> runs{0};
  ThreadPool pool("test-pool", 2);
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < 250; ++i) pool.Submit([&runs] { ++runs; });
    });
  }
  for (std::thread& submitter : submitters) submitter.join();
  pool.Shutdown();
  EXPECT_EQ(runs, 1000);
}

TEST(ThreadPoolTest, UsesAllItsThreads) {
  constexpr int kThreads = 3;
  ThreadPool pool("test-pool", kThreads);
  std::mutex mu;
  std::set<std::thread::id> ids;
  StopEvent all_arrived;
  // Each task waits until every thread holds one, so no thread can take two.
  for (int i = 0; i < kThreads; ++i) {
    pool.Submit([&] {
      {
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(std::this_thread::get_id());
        if (ids.size() == kThreads) all_arrived.Notify();
      }
      all_arrived.WaitFor(absl::Seconds(60));
    });
  }
  pool.Shutdown();
  EXPECT_EQ(ids.size(), kThreads);
}

TEST(ThreadPoolTest, ClampsThreadCountToOne) {
  ThreadPool pool("test-pool", 0);
  EXPECT_EQ(pool.size(), 1);
  std::atomic<bool> ran{false};
  pool.Submit([&ran] { ran = true; });
  pool.Shutdown();
  EXPECT_TRUE(ran);
}

TEST(ThreadPoolTest, SubmitAfterShutdownReturnsFalseAndDoesNotRun) {
  ThreadPool pool("test-pool", 2);
  pool.Shutdown();
  bool ran = false;
  EXPECT_FALSE(pool.Submit([&ran] { ran = true; }));
  pool.Shutdown();  // idempotent
  EXPECT_FALSE(ran);
}

TEST(ThreadPoolTest, ShutdownRunsQueuedTasks) {
  ThreadPool pool("test-pool", 1);
  StopEvent release;
  std::atomic<int> runs{0};
  // Occupy the only thread so that the next tasks stay queued.
  pool.Submit([&] { release.WaitFor(absl::Seconds(60)); });
  for (int i = 0; i < 10; ++i) pool.Submit([&runs] { ++runs; });
  EXPECT_GE(pool.QueueDepth(), 10u);

  std::thread shutdown([&pool] { pool.Shutdown(); });
  release.Notify();
  shutdown.join();
  EXPECT_EQ(runs, 10);
  EXPECT_EQ(pool.QueueDepth(), 0u);
}

TEST(ThreadPoolTest, RunsMoveOnlyTasks) {
  ThreadPool pool("test-pool", 1);
  auto value = std::make_unique<int>(42);
  std::atomic<int> seen{0};
  pool.Submit([value = std::move(value), &seen] { seen = *value; });
  pool.Shutdown();
  EXPECT_EQ(seen, 42);
}

TEST(ThreadPoolTest, ShutdownFromATaskStopsAcceptingWithoutDeadlock) {
  ThreadPool pool("test-pool", 2);
  StopEvent shut_down;
  pool.Submit([&] {
    pool.Shutdown();
    shut_down.Notify();
  });
  ASSERT_TRUE(shut_down.WaitFor(absl::Seconds(60)));
  EXPECT_FALSE(pool.Submit([] {}));
}

}  // namespace
}  // namespace coffer::exec
