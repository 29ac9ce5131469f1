#include "services/fetcher/http/retry_policy.h"

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);  // Tue, 14 Nov 2023 22:13:20 GMT

HttpResponse Response(int status, HttpHeaders headers = {}) {
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  return response;
}

RetryOptions Options() {
  RetryOptions options;
  options.base_delay = absl::Milliseconds(100);
  options.max_delay = absl::Seconds(1);
  options.max_retry_after = absl::Seconds(30);
  return options;
}

TEST(RetryPolicyTest, RetryableOutcomes) {
  EXPECT_TRUE(RetryPolicy::IsRetryable(absl::DeadlineExceededError("t")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(absl::UnavailableError("refused")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Response(429)));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Response(500)));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Response(503)));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Response(599)));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Response(200)));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Response(400)));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Response(404)));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Response(413)));
  EXPECT_FALSE(RetryPolicy::IsRetryable(absl::CancelledError("c")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(absl::ResourceExhaustedError("big")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(absl::InvalidArgumentError("url")));
}

TEST(RetryPolicyTest, FullJitterBackoffDoublesUpToTheCap) {
  double unit = 1.0;
  RetryPolicy policy(Options(), [&] { return unit; });
  EXPECT_EQ(policy.Backoff(0), absl::Milliseconds(100));
  EXPECT_EQ(policy.Backoff(1), absl::Milliseconds(200));
  EXPECT_EQ(policy.Backoff(2), absl::Milliseconds(400));
  EXPECT_EQ(policy.Backoff(3), absl::Milliseconds(800));
  EXPECT_EQ(policy.Backoff(4), absl::Seconds(1));
  EXPECT_EQ(policy.Backoff(60), absl::Seconds(1));
  unit = 0.5;
  EXPECT_EQ(policy.Backoff(2), absl::Milliseconds(200));
  unit = 0;
  EXPECT_EQ(policy.Backoff(2), absl::ZeroDuration());
}

TEST(RetryPolicyTest, DefaultRandomStaysInRange) {
  RetryPolicy policy(Options());
  for (int i = 0; i < 1000; ++i) {
    const absl::Duration d = policy.Backoff(1);
    ASSERT_GE(d, absl::ZeroDuration());
    ASSERT_LE(d, absl::Milliseconds(200));
  }
}

TEST(RetryPolicyTest, NextDelayUsesAttemptNumber) {
  RetryPolicy policy(Options(), [] { return 1.0; });
  EXPECT_EQ(policy.NextDelay(Response(500), 1, 5, kNow, absl::InfiniteFuture()),
            absl::Milliseconds(100));
  EXPECT_EQ(policy.NextDelay(absl::UnavailableError("x"), 2, 5, kNow, absl::InfiniteFuture()),
            absl::Milliseconds(200));
}

TEST(RetryPolicyTest, StopsAtMaxAttempts) {
  RetryPolicy policy(Options(), [] { return 0.5; });
  EXPECT_TRUE(policy.NextDelay(Response(503), 2, 3, kNow, absl::InfiniteFuture()).has_value());
  EXPECT_FALSE(policy.NextDelay(Response(503), 3, 3, kNow, absl::InfiniteFuture()).has_value());
  EXPECT_FALSE(policy.NextDelay(Response(503), 1, 1, kNow, absl::InfiniteFuture()).has_value());
}

TEST(RetryPolicyTest, DoesNotRetryFinalOutcomes) {
  RetryPolicy policy(Options(), [] { return 0.5; });
  EXPECT_FALSE(policy.NextDelay(Response(404), 1, 5, kNow, absl::InfiniteFuture()).has_value());
  EXPECT_FALSE(policy.NextDelay(Response(200), 1, 5, kNow, absl::InfiniteFuture()).has_value());
  EXPECT_FALSE(
      policy.NextDelay(absl::CancelledError("c"), 1, 5, kNow, absl::InfiniteFuture()).has_value());
}

TEST(RetryPolicyTest, HonoursRetryAfterSeconds) {
  RetryPolicy policy(Options(), [] { return 0.0; });
  EXPECT_EQ(
      policy.NextDelay(Response(429, {{"retry-after", "7"}}), 1, 3, kNow, absl::InfiniteFuture()),
      absl::Seconds(7));
  EXPECT_EQ(
      policy.NextDelay(Response(503, {{"retry-after", " 2 "}}), 1, 3, kNow, absl::InfiniteFuture()),
      absl::Seconds(2));
  // Garbage falls back to backoff.
  EXPECT_EQ(policy.NextDelay(Response(429, {{"retry-after", "soon"}}), 1, 3, kNow,
                             absl::InfiniteFuture()),
            absl::ZeroDuration());
}

TEST(RetryPolicyTest, RetryAfterLongerThanAllowedIsFinal) {
  RetryPolicy policy(Options(), [] { return 0.0; });
  EXPECT_FALSE(
      policy.NextDelay(Response(429, {{"retry-after", "31"}}), 1, 3, kNow, absl::InfiniteFuture())
          .has_value());
  EXPECT_FALSE(policy
                   .NextDelay(Response(429, {{"retry-after", "99999999999999999999"}}), 1, 3, kNow,
                              absl::InfiniteFuture())
                   .has_value());
}

TEST(RetryPolicyTest, NeverWaitsPastTheDeadline) {
  RetryPolicy policy(Options(), [] { return 1.0; });
  EXPECT_FALSE(
      policy.NextDelay(Response(429, {{"retry-after", "5"}}), 1, 3, kNow, kNow + absl::Seconds(5))
          .has_value());
  EXPECT_TRUE(
      policy.NextDelay(Response(429, {{"retry-after", "5"}}), 1, 3, kNow, kNow + absl::Seconds(6))
          .has_value());
  EXPECT_FALSE(
      policy.NextDelay(Response(500), 1, 3, kNow, kNow + absl::Milliseconds(100)).has_value());
}

TEST(ParseRetryAfterTest, DeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("0", kNow), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("120", kNow), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter("-1", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("12345678901234567890", kNow), absl::InfiniteDuration());
}

TEST(ParseRetryAfterTest, HttpDates) {
  // kNow is Tue, 14 Nov 2023 22:13:20 GMT.
  EXPECT_EQ(ParseRetryAfter("Tue, 14 Nov 2023 22:13:50 GMT", kNow), absl::Seconds(30));
  EXPECT_EQ(ParseRetryAfter("Tuesday, 14-Nov-23 22:14:20 GMT", kNow), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter("Tue Nov 14 22:13:30 2023", kNow), absl::Seconds(10));
  // In the past: no wait.
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Tue, 14 Nov 2023 25:99:00 GMT", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("tomorrow", kNow), std::nullopt);
}

}  // namespace
}  // namespace coffer::fetcher
