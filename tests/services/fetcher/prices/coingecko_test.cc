#include "services/fetcher/prices/coingecko.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CoinGeckoRequestsTest, OneRequestWithEncodedIds) {
  absl::StatusOr<std::vector<CoinGeckoRequest>> requests =
      CoinGeckoSimplePriceRequests({"ethereum", "usd-coin", "odd,id&x=1", "ethereum"}, "usd", 100);
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 1u);
  EXPECT_EQ((*requests)[0].path,
            "/simple/price?ids=ethereum,usd-coin,odd%2Cid%26x%3D1&vs_currencies=usd"
            "&include_last_updated_at=true");
  EXPECT_THAT((*requests)[0].ids, ElementsAre("ethereum", "usd-coin", "odd,id&x=1"));
}

TEST(CoinGeckoRequestsTest, ChunkedByMaxIds) {
  absl::StatusOr<std::vector<CoinGeckoRequest>> requests =
      CoinGeckoSimplePriceRequests({"a", "b", "c", "d", "e"}, "eur", 2);
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 3u);
  EXPECT_THAT((*requests)[0].ids, ElementsAre("a", "b"));
  EXPECT_THAT((*requests)[1].ids, ElementsAre("c", "d"));
  EXPECT_THAT((*requests)[2].ids, ElementsAre("e"));
  EXPECT_EQ((*requests)[2].path,
            "/simple/price?ids=e&vs_currencies=eur&include_last_updated_at=true");
  EXPECT_TRUE(CoinGeckoSimplePriceRequests({}, "usd", 2)->empty());
}

TEST(CoinGeckoRequestsTest, RejectsBadInput) {
  EXPECT_EQ(CoinGeckoSimplePriceRequests({"a"}, "USD", 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CoinGeckoSimplePriceRequests({"a"}, "usd&x=1", 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CoinGeckoSimplePriceRequests({"a"}, "u", 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CoinGeckoSimplePriceRequests({""}, "usd", 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CoinGeckoSimplePriceRequests({std::string(201, 'a')}, "usd", 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CoinGeckoSimplePriceRequests({"a"}, "usd", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CoinGeckoParseTest, ExactPricesPerIdInOrder) {
  absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> prices = ParseCoinGeckoSimplePrice(
      R"({"ethereum":{"usd":3012.45,"last_updated_at":1711111111},
          "shiba-inu":{"usd":1.2e-7},
          "bitcoin":{"usd":67000}})",
      {"bitcoin", "ethereum", "shiba-inu"}, "usd");
  ASSERT_TRUE(prices.ok()) << prices.status();
  ASSERT_EQ(prices->size(), 3u);
  ASSERT_TRUE((*prices)[0].ok());
  EXPECT_EQ((*prices)[0]->price, (chain::DecimalAmount{"67000", 0}));
  EXPECT_FALSE((*prices)[0]->last_updated_at.has_value());
  ASSERT_TRUE((*prices)[1].ok());
  EXPECT_EQ((*prices)[1]->price, (chain::DecimalAmount{"301245", 2}));
  EXPECT_EQ((*prices)[1]->last_updated_at, absl::FromUnixSeconds(1711111111));
  ASSERT_TRUE((*prices)[2].ok());
  EXPECT_EQ((*prices)[2]->price, (chain::DecimalAmount{"12", 8}));
}

TEST(CoinGeckoParseTest, PerIdErrors) {
  absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> prices = ParseCoinGeckoSimplePrice(
      R"({"ok":{"usd":1.5},
          "string":{"usd":"3012.45"},
          "null":{"usd":null},
          "other-currency":{"eur":2},
          "not-object":[1],
          "negative":{"usd":-1},
          "too-precise":{"usd":1e-300},
          "bad-time":{"usd":1,"last_updated_at":"yesterday"},
          "old-time":{"usd":1,"last_updated_at":5},
          "object":{"usd":{"value":1}}})",
      {"ok", "missing", "string", "null", "other-currency", "not-object", "negative", "too-precise",
       "bad-time", "old-time", "object"},
      "usd");
  ASSERT_TRUE(prices.ok()) << prices.status();
  ASSERT_EQ(prices->size(), 11u);
  EXPECT_TRUE((*prices)[0].ok());
  const auto code = [&](size_t i) { return (*prices)[i].status().code(); };
  const auto message = [&](size_t i) { return std::string((*prices)[i].status().message()); };
  EXPECT_EQ(code(1), absl::StatusCode::kNotFound);
  EXPECT_THAT(message(1), HasSubstr("missing"));
  EXPECT_EQ(code(2), absl::StatusCode::kDataLoss);
  EXPECT_THAT(message(2), HasSubstr("string.usd: is not a number"));
  EXPECT_EQ(code(3), absl::StatusCode::kNotFound);
  EXPECT_EQ(code(4), absl::StatusCode::kNotFound);
  EXPECT_EQ(code(5), absl::StatusCode::kDataLoss);
  EXPECT_THAT(message(5), HasSubstr("not-object: is not an object"));
  EXPECT_EQ(code(6), absl::StatusCode::kDataLoss);
  EXPECT_THAT(message(6), HasSubstr("negative.usd: is negative"));
  EXPECT_EQ(code(7), absl::StatusCode::kDataLoss);
  EXPECT_EQ(code(8), absl::StatusCode::kDataLoss);
  EXPECT_THAT(message(8), HasSubstr("bad-time.last_updated_at"));
  EXPECT_EQ(code(9), absl::StatusCode::kDataLoss);
  EXPECT_EQ(code(10), absl::StatusCode::kDataLoss);
}

TEST(CoinGeckoParseTest, GarbageFailsTheWholeBody) {
  for (const std::string& bad :
       {std::string(""), std::string("<html>429</html>"), std::string("[]"), std::string("\"usd\""),
        std::string(R"({"ethereum":{"usd":1})")}) {
    absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> prices =
        ParseCoinGeckoSimplePrice(bad, {"ethereum"}, "usd");
    ASSERT_FALSE(prices.ok()) << bad;
    EXPECT_EQ(prices.status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

TEST(CoinGeckoParseTest, UpstreamErrorShapeFailsTheWholeBody) {
  absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> limited = ParseCoinGeckoSimplePrice(
      R"({"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}})",
      {"ethereum"}, "usd");
  EXPECT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted);
  absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> other = ParseCoinGeckoSimplePrice(
      R"({"status":{"error_code":10002,"error_message":"API Key Missing"}})", {"ethereum"}, "usd");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kUnavailable);
}

TEST(CoinGeckoParseTest, EmptyObjectIsNotFoundForEveryId) {
  absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> prices =
      ParseCoinGeckoSimplePrice("{}", {"a", "b"}, "usd");
  ASSERT_TRUE(prices.ok());
  ASSERT_EQ(prices->size(), 2u);
  EXPECT_EQ((*prices)[0].status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*prices)[1].status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace coffer::fetcher
