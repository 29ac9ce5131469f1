#include "services/fetcher/prices/price_cache.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

class PriceCacheTest : public ::testing::Test {
 protected:
  PriceCache::Clock Clock() {
    return [this] { return absl::FromUnixNanos(now_nanos_.load()); };
  }
  absl::Time Now() const { return absl::FromUnixNanos(now_nanos_.load()); }
  void Advance(absl::Duration d) { now_nanos_ += absl::ToInt64Nanoseconds(d); }

  CachedPrice Price(const std::string& units) const {
    return CachedPrice{{units, 2}, Now() - absl::Seconds(30), Now(), "coingecko"};
  }

  std::atomic<int64_t> now_nanos_{absl::ToUnixNanos(absl::FromUnixSeconds(1'700'000'000))};
};

TEST_F(PriceCacheTest, HitUntilTtlKeepsFetchedAtAndSource) {
  PriceCache cache(absl::Seconds(60), Clock());
  EXPECT_FALSE(cache.Lookup("ethereum", "usd").has_value());
  const absl::Time fetched_at = Now();
  cache.Store("ethereum", "usd", Price("301245"));
  Advance(absl::Seconds(59));
  std::optional<CachedPrice> hit = cache.Lookup("ethereum", "usd");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->price, (chain::DecimalAmount{"301245", 2}));
  EXPECT_EQ(hit->fetched_at, fetched_at);
  EXPECT_EQ(hit->price_time, fetched_at - absl::Seconds(30));
  EXPECT_EQ(hit->source, "coingecko");
  Advance(absl::Seconds(1));
  EXPECT_FALSE(cache.Lookup("ethereum", "usd").has_value());
}

TEST_F(PriceCacheTest, KeyedByIdAndQuoteCurrency) {
  PriceCache cache(absl::Seconds(60), Clock());
  cache.Store("ethereum", "usd", Price("1"));
  EXPECT_FALSE(cache.Lookup("ethereum", "eur").has_value());
  EXPECT_FALSE(cache.Lookup("bitcoin", "usd").has_value());
  EXPECT_TRUE(cache.Lookup("ethereum", "usd").has_value());
}

TEST_F(PriceCacheTest, BypassMissesButStoreStillRefreshes) {
  PriceCache cache(absl::Seconds(60), Clock());
  cache.Store("ethereum", "usd", Price("1"));
  EXPECT_FALSE(cache.Lookup("ethereum", "usd", /*bypass=*/true).has_value());
  Advance(absl::Seconds(10));
  cache.Store("ethereum", "usd", Price("2"));
  EXPECT_EQ(cache.Lookup("ethereum", "usd")->price.units, "2");
}

TEST_F(PriceCacheTest, OlderFetchDoesNotOverwriteNewer) {
  PriceCache cache(absl::Seconds(60), Clock());
  CachedPrice stale = Price("1");
  Advance(absl::Seconds(5));
  cache.Store("ethereum", "usd", Price("2"));
  cache.Store("ethereum", "usd", stale);
  EXPECT_EQ(cache.Lookup("ethereum", "usd")->price.units, "2");
}

TEST_F(PriceCacheTest, EvictsExpiredThenOldestWhenFull) {
  PriceCache cache(absl::Seconds(60), Clock(), /*max_entries=*/2);
  cache.Store("a", "usd", Price("1"));
  Advance(absl::Seconds(1));
  cache.Store("b", "usd", Price("2"));
  Advance(absl::Seconds(1));
  cache.Store("c", "usd", Price("3"));  // full, none expired: drops the oldest, "a"
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Lookup("a", "usd").has_value());
  EXPECT_TRUE(cache.Lookup("b", "usd").has_value());
  EXPECT_TRUE(cache.Lookup("c", "usd").has_value());
  Advance(absl::Seconds(59));  // "b" expired, "c" not
  EXPECT_EQ(cache.EvictExpired(), 1u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(PriceCacheTest, ConcurrentStoresAndLookups) {
  PriceCache cache(absl::Seconds(60), Clock());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string id = absl::StrCat("id", i % 50);
        cache.Store(id, "usd", CachedPrice{{absl::StrCat(t), 0}, Now(), Now(), "s"});
        (void)cache.Lookup(id, "usd");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(cache.size(), 50u);
}

}  // namespace
}  // namespace coffer::fetcher
