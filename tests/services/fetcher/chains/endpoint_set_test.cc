#include "services/fetcher/chains/endpoint_set.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

using State = EndpointHealth::State;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

EndpointSet ThreeEndpoints() {
  std::vector<EndpointOptions> options;
  for (const char* name : {"primary", "secondary", "tertiary"}) {
    options.push_back({.name = name,
                       .host = "node.example",
                       .batch_size = 100,
                       .cooldown = absl::Seconds(5),
                       .max_cooldown = absl::Seconds(60)});
  }
  return EndpointSet(std::move(options));
}

TEST(EndpointSetTest, OffersEveryEndpointInPriorityOrderAtFirst) {
  EndpointSet endpoints = ThreeEndpoints();
  EXPECT_EQ(endpoints.Candidates(kStart), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(endpoints.Health(0, kStart).state, State::kUnknown);
  EXPECT_TRUE(endpoints.LastError().ok());
}

TEST(EndpointSetTest, AFailedEndpointIsSkippedForItsCooldownThenOfferedAgain) {
  EndpointSet endpoints = ThreeEndpoints();
  endpoints.ReportFailure(0, absl::UnavailableError("connection refused"), kStart);
  EXPECT_EQ(endpoints.Candidates(kStart), (std::vector<size_t>{1, 2}));
  EXPECT_EQ(endpoints.Health(0, kStart).state, State::kCoolingDown);
  EXPECT_EQ(endpoints.Health(0, kStart).cooldown_until, kStart + absl::Seconds(5));
  EXPECT_EQ(endpoints.Candidates(kStart + absl::Seconds(4)), (std::vector<size_t>{1, 2}));
  EXPECT_EQ(endpoints.Candidates(kStart + absl::Seconds(5)), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(endpoints.LastError(), absl::UnavailableError("connection refused"));
}

TEST(EndpointSetTest, CooldownDoublesPerConsecutiveFailureUpToTheCap) {
  EndpointSet endpoints = ThreeEndpoints();
  absl::Time now = kStart;
  std::vector<absl::Duration> cooldowns;
  for (int i = 0; i < 6; ++i) {
    endpoints.ReportFailure(1, absl::DeadlineExceededError("timeout"), now);
    const absl::Time until = endpoints.Health(1, now).cooldown_until;
    cooldowns.push_back(until - now);
    now = until;
  }
  EXPECT_EQ(cooldowns,
            (std::vector<absl::Duration>{absl::Seconds(5), absl::Seconds(10), absl::Seconds(20),
                                         absl::Seconds(40), absl::Seconds(60), absl::Seconds(60)}));
  // One success forgives the history.
  endpoints.ReportSuccess(1, now);
  endpoints.ReportFailure(1, absl::DeadlineExceededError("timeout"), now);
  EXPECT_EQ(endpoints.Health(1, now).cooldown_until, now + absl::Seconds(5));
}

TEST(EndpointSetTest, RetryAfterLongerThanTheCooldownIsHonouredEvenPastTheCap) {
  EndpointSet endpoints = ThreeEndpoints();
  endpoints.ReportFailure(0, absl::ResourceExhaustedError("HTTP 429"), kStart, absl::Minutes(3));
  EXPECT_EQ(endpoints.Health(0, kStart).cooldown_until, kStart + absl::Minutes(3));
  // A shorter Retry-After does not shorten the cool-down.
  endpoints.ReportFailure(2, absl::ResourceExhaustedError("HTTP 429"), kStart, absl::Seconds(1));
  EXPECT_EQ(endpoints.Health(2, kStart).cooldown_until, kStart + absl::Seconds(5));
}

TEST(EndpointSetTest, NoCandidateWhenEveryEndpointCoolsDown) {
  EndpointSet endpoints = ThreeEndpoints();
  for (size_t i = 0; i < endpoints.size(); ++i) {
    endpoints.ReportFailure(i, absl::UnavailableError(absl::StrCat("down ", i)), kStart);
  }
  EXPECT_TRUE(endpoints.Candidates(kStart).empty());
  EXPECT_EQ(endpoints.LastError(), absl::UnavailableError("down 2"));
}

TEST(EndpointSetTest, ARefusedBatchHalvesThatEndpointsBatchSizeOnly) {
  EndpointSet endpoints = ThreeEndpoints();
  endpoints.ReportBatchTooLarge(0, 100);
  EXPECT_EQ(endpoints.BatchSize(0), 50u);
  EXPECT_EQ(endpoints.BatchSize(1), 100u);
  // A refusal of a larger batch than the one remembered changes nothing.
  endpoints.ReportBatchTooLarge(0, 100);
  EXPECT_EQ(endpoints.BatchSize(0), 50u);
  endpoints.ReportBatchTooLarge(0, 50);
  EXPECT_EQ(endpoints.BatchSize(0), 25u);
  endpoints.ReportBatchTooLarge(0, 1);
  EXPECT_EQ(endpoints.BatchSize(0), 1u);
  // Not a failure: the endpoint stays a candidate.
  EXPECT_EQ(endpoints.Candidates(kStart), (std::vector<size_t>{0, 1, 2}));
}

TEST(EndpointSetTest, EndpointsFailingTheirProbeComeAfterHealthyOnes) {
  EndpointSet endpoints = ThreeEndpoints();
  endpoints.ReportProbe(0, absl::InternalError("eth_call: header not found"), kStart);
  endpoints.ReportProbe(1, absl::OkStatus(), kStart);
  EXPECT_EQ(endpoints.Candidates(kStart), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(endpoints.Health(0, kStart).state, State::kUnhealthy);
  EXPECT_EQ(endpoints.Health(1, kStart).state, State::kHealthy);
  // Real traffic that succeeds overrides an old probe.
  endpoints.ReportSuccess(0, kStart);
  EXPECT_EQ(endpoints.Candidates(kStart), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(endpoints.Health(0, kStart).state, State::kHealthy);
}

}  // namespace
}  // namespace coffer::fetcher
