#include "services/fetcher/http/token_bucket.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TEST(TokenBucketTest, StartsFullWithBurst) {
  TokenBucket bucket(/*tokens_per_second=*/2, /*burst=*/3, kStart);
  EXPECT_TRUE(bucket.TryTake(kStart));
  EXPECT_TRUE(bucket.TryTake(kStart));
  EXPECT_TRUE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.TryTake(kStart));
  EXPECT_EQ(bucket.NextAvailable(kStart), kStart + absl::Milliseconds(500));
}

TEST(TokenBucketTest, RefillsAtRate) {
  TokenBucket bucket(/*tokens_per_second=*/4, /*burst=*/1, kStart);
  ASSERT_TRUE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(249)));
  const absl::Time next = bucket.NextAvailable(kStart + absl::Milliseconds(249));
  EXPECT_EQ(next, kStart + absl::Milliseconds(250));
  EXPECT_TRUE(bucket.TryTake(next));
  EXPECT_FALSE(bucket.TryTake(next));
}

TEST(TokenBucketTest, NeverHoldsMoreThanBurst) {
  TokenBucket bucket(/*tokens_per_second=*/10, /*burst=*/2, kStart);
  const absl::Time later = kStart + absl::Hours(1);
  EXPECT_DOUBLE_EQ(bucket.Available(later), 2);
  EXPECT_TRUE(bucket.TryTake(later));
  EXPECT_TRUE(bucket.TryTake(later));
  EXPECT_FALSE(bucket.TryTake(later));
}

TEST(TokenBucketTest, AnyWindowSeesAtMostRatePlusBurst) {
  // Take greedily every millisecond for 10 s; count takes in every 1 s
  // window.
  constexpr double kRate = 7, kBurst = 3;
  TokenBucket bucket(kRate, kBurst, kStart);
  std::vector<absl::Time> taken;
  for (int ms = 0; ms < 10'000; ++ms) {
    const absl::Time now = kStart + absl::Milliseconds(ms);
    while (bucket.TryTake(now)) taken.push_back(now);
  }
  size_t first = 0;
  size_t most = 0;
  for (size_t last = 0; last < taken.size(); ++last) {
    while (taken[last] - taken[first] >= absl::Seconds(1)) ++first;
    most = std::max(most, last - first + 1);
  }
  EXPECT_LE(most, kRate + kBurst);
  EXPECT_GE(most, kRate);
  // And the long-run rate is the configured one.
  EXPECT_NEAR(static_cast<double>(taken.size()), kBurst + kRate * 10, 1);
}

TEST(TokenBucketTest, ZeroRateIsUnlimited) {
  TokenBucket bucket(/*tokens_per_second=*/0, /*burst=*/1, kStart);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(bucket.TryTake(kStart));
  EXPECT_EQ(bucket.NextAvailable(kStart), kStart);
}

TEST(TokenBucketTest, ClockGoingBackwardsGivesNothingExtra) {
  TokenBucket bucket(/*tokens_per_second=*/1, /*burst=*/1, kStart);
  ASSERT_TRUE(bucket.TryTake(kStart + absl::Seconds(5)));
  EXPECT_FALSE(bucket.TryTake(kStart));
  EXPECT_EQ(bucket.NextAvailable(kStart), kStart + absl::Seconds(6));
}

TEST(TokenBucketTest, FractionalRatesAreExactEnough) {
  TokenBucket bucket(/*tokens_per_second=*/3, /*burst=*/1, kStart);
  absl::Time now = kStart;
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(bucket.TryTake(now)) << i;
    now = bucket.NextAvailable(now);
  }
  EXPECT_NEAR(absl::ToDoubleSeconds(now - kStart), 100, 1e-3);
}

}  // namespace
}  // namespace coffer::fetcher
