#include "common/grpc/auth/refusal_log.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::grpc_util::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class RefusalLogTest : public ::testing::Test {
 protected:
  RefusalLog log_{{.interval = absl::Seconds(10), .clock = [this] { return now_; }}};
  absl::Time now_ = absl::FromUnixSeconds(1'790'000'000);
};

const absl::Status kDenied = absl::PermissionDeniedError("needs the admin role");

TEST_F(RefusalLogTest, TheFirstRefusalIsReportedAtOnceWithMethodPeerAndStatus) {
  std::optional<std::string> line =
      log_.Record("/coffer.v1.Storage/AddAccounts", "ipv4:10.0.0.7:51234", kDenied);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line,
            "refused /coffer.v1.Storage/AddAccounts from ipv4:10.0.0.7:51234: "
            "PERMISSION_DENIED: needs the admin role");
}

TEST_F(RefusalLogTest, LaterRefusalsWithinTheIntervalAreCountedIntoTheNextReport) {
  ASSERT_TRUE(log_.Record("/a", "peer", kDenied).has_value());
  for (int i = 0; i < 41; ++i) {
    now_ += absl::Milliseconds(200);
    EXPECT_FALSE(log_.Record("/b", "peer", kDenied).has_value()) << i;
  }
  now_ = absl::FromUnixSeconds(1'790'000'000) + absl::Seconds(10);
  std::optional<std::string> line =
      log_.Record("/c", "peer", absl::UnauthenticatedError("no bearer token"));
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line,
            "refused /c from peer: UNAUTHENTICATED: no bearer token "
            "(41 more calls refused since the previous report)");

  // The count starts again after a report.
  now_ += absl::Seconds(1);
  EXPECT_FALSE(log_.Record("/d", "peer", kDenied).has_value());
  now_ += absl::Seconds(10);
  std::optional<std::string> next = log_.Record("/e", "peer", kDenied);
  ASSERT_TRUE(next.has_value());
  EXPECT_THAT(*next, HasSubstr("(1 more call refused since the previous report)"));
}

TEST_F(RefusalLogTest, AQuietPeriodReportsTheNextRefusalWithoutACount) {
  ASSERT_TRUE(log_.Record("/a", "peer", kDenied).has_value());
  now_ += absl::Minutes(5);
  std::optional<std::string> line = log_.Record("/a", "peer", kDenied);
  ASSERT_TRUE(line.has_value());
  EXPECT_THAT(*line, Not(HasSubstr("more")));
}

TEST(RefusalLogThreadsTest, EveryRefusalIsReportedOrCountedOnce) {
  // A clock that never advances: one report, every other refusal counted.
  const absl::Time fixed = absl::Now();
  RefusalLog log({.interval = absl::Hours(1), .clock = [fixed] { return fixed; }});
  std::atomic<int> reported{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (log.Record("/m", "peer", kDenied).has_value()) ++reported;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(reported.load(), 1);
}

}  // namespace
}  // namespace coffer::grpc_util::auth
