#include "services/fetcher/http/upstream_limiter.h"

#include <sys/resource.h>

#include <future>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "services/fetcher/http/curl_loop.h"

namespace coffer::fetcher {
namespace {

using Permit = UpstreamLimiter::Permit;

absl::Duration ProcessCpuTime() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

// Runs `f` on the loop thread and waits for it.
template <typename F>
void OnLoop(CurlLoop& loop, F f) {
  std::promise<void> done;
  loop.Post([&](absl::Status) {
    f();
    done.set_value();
  });
  done.get_future().get();
}

TEST(UpstreamLimiterTest, AdmitsInArrivalOrderWithinConcurrency) {
  CurlLoop loop(CurlLoop::Options{});
  UpstreamLimiter limiter(&loop, {.max_concurrency = 2});
  std::vector<int> admitted;
  std::vector<Permit> held;
  OnLoop(loop, [&] {
    for (int i = 0; i < 5; ++i) {
      limiter.Acquire(absl::InfiniteFuture(), [&, i](absl::StatusOr<Permit> permit) {
        ASSERT_TRUE(permit.ok());
        admitted.push_back(i);
        held.push_back(*std::move(permit));
      });
    }
    EXPECT_EQ(admitted, (std::vector<int>{0, 1}));
    EXPECT_EQ(limiter.waiting(), 3u);
    EXPECT_EQ(limiter.in_flight(), 2u);
    held.front().Release();
    EXPECT_EQ(admitted, (std::vector<int>{0, 1, 2}));
    held[1].Release();
    held[2].Release();
    EXPECT_EQ(admitted, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(limiter.in_flight(), 2u);
    held.clear();
    EXPECT_EQ(limiter.in_flight(), 0u);
  });
}

TEST(UpstreamLimiterTest, WaitsForTokensOnATimerWithoutSpinning) {
  CurlLoop loop(CurlLoop::Options{});
  std::mutex mu;
  std::vector<absl::Time> admitted_at;
  std::promise<void> all_in;
  const absl::Duration cpu_before = ProcessCpuTime();
  const absl::Time start = absl::Now();
  // 2 at once, then one every 250 ms: the 6th at 1 s.
  UpstreamLimiter limiter(&loop, {.requests_per_second = 4, .burst = 2});
  OnLoop(loop, [&] {
    for (int i = 0; i < 6; ++i) {
      limiter.Acquire(absl::InfiniteFuture(), [&](absl::StatusOr<Permit> permit) {
        ASSERT_TRUE(permit.ok());
        std::lock_guard<std::mutex> lock(mu);
        admitted_at.push_back(absl::Now());
        if (admitted_at.size() == 6) all_in.set_value();
      });
    }
  });
  all_in.get_future().get();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_LT(admitted_at[1] - start, absl::Milliseconds(200));
  EXPECT_GE(admitted_at[5] - start, absl::Milliseconds(990));
  // A loop that polled for tokens would burn about a second of CPU here.
  EXPECT_LT(ProcessCpuTime() - cpu_before, absl::Milliseconds(300));
}

TEST(UpstreamLimiterTest, DeadlinePassesInTheQueue) {
  CurlLoop loop(CurlLoop::Options{});
  UpstreamLimiter limiter(&loop, {.max_concurrency = 1});
  Permit held;
  std::promise<absl::Status> second;
  const absl::Time start = absl::Now();
  OnLoop(loop, [&] {
    limiter.Acquire(absl::InfiniteFuture(),
                    [&](absl::StatusOr<Permit> permit) { held = *std::move(permit); });
    limiter.Acquire(start + absl::Milliseconds(100),
                    [&](absl::StatusOr<Permit> permit) { second.set_value(permit.status()); });
  });
  EXPECT_EQ(second.get_future().get().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  OnLoop(loop, [&] {
    EXPECT_EQ(limiter.waiting(), 0u);
    held.Release();
    // A deadline already past fails at once.
    absl::Status status;
    limiter.Acquire(absl::Now() - absl::Seconds(1),
                    [&](absl::StatusOr<Permit> permit) { status = permit.status(); });
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  });
}

TEST(UpstreamLimiterTest, LoopShutdownCancelsWaiters) {
  std::vector<absl::Status> outcomes;
  {
    CurlLoop loop(CurlLoop::Options{});
    UpstreamLimiter limiter(&loop, {.requests_per_second = 0.1, .burst = 1});
    OnLoop(loop, [&] {
      for (int i = 0; i < 3; ++i) {
        limiter.Acquire(absl::InfiniteFuture(), [&](absl::StatusOr<Permit> permit) {
          outcomes.push_back(permit.status());
        });
      }
    });
    loop.Shutdown();
    ASSERT_EQ(outcomes.size(), 3u);
    EXPECT_TRUE(outcomes[0].ok());
    EXPECT_EQ(outcomes[1].code(), absl::StatusCode::kCancelled);
    EXPECT_EQ(outcomes[2].code(), absl::StatusCode::kCancelled);
  }
}

}  // namespace
}  // namespace coffer::fetcher
