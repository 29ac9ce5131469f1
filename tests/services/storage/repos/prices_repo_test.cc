#include "services/storage/repos/prices_repo.h"

#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "services/storage/db/connection.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/db/migrations.h"
#include "services/storage/repos/paging.h"
#include "services/storage/schema/schema.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

constexpr char kBtc[] = "bip122:000000000019d6689c085ae165831e93/slip44:0";

v1::Price* AddPrice(v1::WritePricesRequest* request, const std::string& asset,
                    const std::string& quote, const std::string& units, int64_t time_seconds,
                    uint32_t decimals = 2) {
  v1::Price* price = request->add_prices();
  price->set_asset_id(asset);
  price->set_quote_currency(quote);
  price->mutable_price()->set_units(units);
  price->mutable_price()->set_decimals(decimals);
  price->mutable_price_time()->set_seconds(time_seconds);
  price->set_source("coingecko");
  return price;
}

class PricesRepoTest : public RepoTestBase {
 protected:
  absl::Status WriteP(const v1::WritePricesRequest& request, v1::WritePricesResponse* response,
                      absl::Time now = kNow) {
    return Write([&](db::WriteContext& tx) { return WritePrices(tx, request, response, now); });
  }

  absl::Status Latest(const v1::GetLatestPricesRequest& request,
                      v1::GetLatestPricesResponse* response, absl::Time now = kNow) {
    return Read([&](db::ReadContext& tx) { return GetLatestPrices(tx, request, response, now); });
  }

  v1::GetLatestPricesResponse LatestAll(const std::string& quote = "") {
    v1::GetLatestPricesRequest request;
    request.set_quote_currency(quote);
    v1::GetLatestPricesResponse response;
    absl::Status status = Latest(request, &response);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }
};

TEST_F(PricesRepoTest, WritesAndReadsLatestWithAge) {
  const int64_t now = absl::ToUnixSeconds(kNow);
  v1::WritePricesRequest request;
  AddPrice(&request, kEth, "usd", "300000", now - 120);
  AddPrice(&request, kEth, "usd", "345678", now - 60);
  AddPrice(&request, kEth, "eur", "310000", now - 30);
  AddPrice(&request, kUsdc, "usd", "100", now - 10);
  v1::WritePricesResponse response;
  ASSERT_TRUE(WriteP(request, &response).ok());
  EXPECT_EQ(response.written(), 4u);
  EXPECT_EQ(response.rejected_size(), 0);
  EXPECT_EQ(Count("prices"), 4);

  v1::GetLatestPricesResponse latest = LatestAll();
  ASSERT_EQ(latest.prices_size(), 3);
  // Ordered by asset_id (bytes: "erc20" before "slip44"), then quote_currency.
  EXPECT_EQ(latest.prices(0).price().asset_id(), kUsdc);
  EXPECT_EQ(latest.prices(0).age().seconds(), 10);
  EXPECT_EQ(latest.prices(1).price().asset_id(), kEth);
  EXPECT_EQ(latest.prices(1).price().quote_currency(), "eur");
  EXPECT_EQ(latest.prices(1).price().price().units(), "310000");
  EXPECT_EQ(latest.prices(1).age().seconds(), 30);
  EXPECT_EQ(latest.prices(2).price().asset_id(), kEth);
  EXPECT_EQ(latest.prices(2).price().quote_currency(), "usd");
  EXPECT_EQ(latest.prices(2).price().price().units(), "345678");
  EXPECT_EQ(latest.prices(2).price().price().decimals(), 2u);
  EXPECT_EQ(latest.prices(2).price().price_time().seconds(), now - 60);
  EXPECT_EQ(latest.prices(2).price().source(), "coingecko");
  EXPECT_EQ(latest.prices(2).age().seconds(), 60);
}

TEST_F(PricesRepoTest, FiltersByAssetAndQuote) {
  const int64_t now = absl::ToUnixSeconds(kNow);
  v1::WritePricesRequest request;
  AddPrice(&request, kEth, "usd", "345678", now - 60);
  AddPrice(&request, kEth, "eur", "310000", now - 30);
  AddPrice(&request, kUsdc, "usd", "100", now - 10);
  AddPrice(&request, kBtc, "usd", "3700000", now - 5);
  v1::WritePricesResponse response;
  ASSERT_TRUE(WriteP(request, &response).ok());

  v1::GetLatestPricesResponse usd = LatestAll("usd");
  ASSERT_EQ(usd.prices_size(), 3);
  EXPECT_EQ(usd.prices(0).price().asset_id(), kBtc);
  EXPECT_EQ(usd.prices(1).price().asset_id(), kUsdc);
  EXPECT_EQ(usd.prices(2).price().asset_id(), kEth);
  EXPECT_EQ(LatestAll("chf").prices_size(), 0);

  v1::GetLatestPricesRequest filter;
  filter.add_asset_ids(kUsdc);
  // Lowercase address: normalized to the same asset, counted once.
  filter.add_asset_ids("eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
  filter.add_asset_ids(kEth);
  filter.add_asset_ids("eip155:1/erc20:0x0000000000000000000000000000000000000001");
  v1::GetLatestPricesResponse filtered;
  ASSERT_TRUE(Latest(filter, &filtered).ok());
  ASSERT_EQ(filtered.prices_size(), 3);
  EXPECT_EQ(filtered.prices(0).price().asset_id(), kUsdc);
  EXPECT_EQ(filtered.prices(1).price().asset_id(), kEth);
  EXPECT_EQ(filtered.prices(1).price().quote_currency(), "eur");
  EXPECT_EQ(filtered.prices(2).price().quote_currency(), "usd");

  filter.set_quote_currency("eur");
  filtered.Clear();
  ASSERT_TRUE(Latest(filter, &filtered).ok());
  ASSERT_EQ(filtered.prices_size(), 1);
  EXPECT_EQ(filtered.prices(0).price().price().units(), "310000");
}

TEST_F(PricesRepoTest, SameKeyReplaces) {
  const int64_t now = absl::ToUnixSeconds(kNow);
  v1::WritePricesRequest request;
  AddPrice(&request, kEth, "usd", "1", now - 60);
  v1::WritePricesResponse response;
  ASSERT_TRUE(WriteP(request, &response).ok());
  request.mutable_prices(0)->mutable_price()->set_units("2");
  response.Clear();
  ASSERT_TRUE(WriteP(request, &response).ok());
  EXPECT_EQ(response.written(), 1u);
  EXPECT_EQ(Count("prices"), 1);
  EXPECT_EQ(LatestAll().prices(0).price().price().units(), "2");

  // An older price does not become the latest.
  v1::WritePricesRequest older;
  AddPrice(&older, kEth, "usd", "3", now - 600);
  response.Clear();
  ASSERT_TRUE(WriteP(older, &response).ok());
  EXPECT_EQ(Count("prices"), 2);
  EXPECT_EQ(LatestAll().prices(0).price().price().units(), "2");
}

TEST_F(PricesRepoTest, RejectsInvalidItemsAndStoresTheRest) {
  const int64_t now = absl::ToUnixSeconds(kNow);
  v1::WritePricesRequest request;
  AddPrice(&request, "not-an-asset", "usd", "1", now);                             // 0
  AddPrice(&request, kEth, "", "1", now);                                          // 1
  AddPrice(&request, kEth, "USD", "1", now);                                       // 2
  AddPrice(&request, kEth, "usd", "01", now);                                      // 3
  AddPrice(&request, kEth, "usd", "1", now, 256);                                  // 4
  AddPrice(&request, kEth, "usd", "1", now)->clear_price_time();                   // 5
  AddPrice(&request, kEth, "usd", "1", now)->clear_price();                        // 6
  AddPrice(&request, kEth, "usd", "1", now)->mutable_price_time()->set_nanos(-1);  // 7
  AddPrice(&request, kUsdc, "usd", "100", now);                                    // 8: valid
  v1::WritePricesResponse response;
  ASSERT_TRUE(WriteP(request, &response).ok());
  EXPECT_EQ(response.written(), 1u);
  ASSERT_EQ(response.rejected_size(), 8);
  const std::vector<std::string> fields = {
      "prices[0].asset_id",        "prices[1].quote_currency: required",
      "prices[2].quote_currency",  "prices[3].price: ",
      "prices[4].price: ",         "prices[5].price_time: required",
      "prices[6].price: required", "prices[7].price_time: out of range"};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(response.rejected(i).index(), static_cast<uint32_t>(i));
    EXPECT_EQ(response.rejected(i).error().code(), v1::Error::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StartsWith(response.rejected(i).error().message(), fields[i]))
        << response.rejected(i).error().message();
  }
  EXPECT_EQ(Count("prices"), 1);
}

TEST_F(PricesRepoTest, BatchLimits) {
  v1::WritePricesRequest empty;
  v1::WritePricesResponse response;
  absl::Status status = WriteP(empty, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "prices")) << status;

  v1::WritePricesRequest big;
  for (size_t i = 0; i <= kMaxWritePrices; ++i) AddPrice(&big, kEth, "usd", "1", 1000 + i);
  status = WriteP(big, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(status.message(), "prices")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "10000")) << status;
  EXPECT_EQ(Count("prices"), 0);

  big.mutable_prices()->RemoveLast();
  response.Clear();
  ASSERT_TRUE(WriteP(big, &response).ok());
  EXPECT_EQ(response.written(), kMaxWritePrices);

  v1::GetLatestPricesRequest many;
  for (size_t i = 0; i <= kMaxLatestPriceIds; ++i) many.add_asset_ids(kEth);
  v1::GetLatestPricesResponse latest;
  status = Latest(many, &latest);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(status.message(), "asset_ids")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "1000")) << status;
}

TEST_F(PricesRepoTest, InvalidLatestFilters) {
  v1::GetLatestPricesRequest request;
  request.add_asset_ids(kEth);
  request.add_asset_ids("bogus");
  v1::GetLatestPricesResponse response;
  absl::Status status = Latest(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "asset_ids[1]")) << status;

  v1::GetLatestPricesRequest quote;
  quote.set_quote_currency("US$");
  status = Latest(quote, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "quote_currency")) << status;
}

TEST_F(PricesRepoTest, FutureAgeIsNegative) {
  const int64_t now = absl::ToUnixSeconds(kNow);
  v1::WritePricesRequest request;
  AddPrice(&request, kEth, "usd", "1", now + 5)->mutable_price_time()->set_nanos(500000000);
  v1::WritePricesResponse response;
  ASSERT_TRUE(WriteP(request, &response).ok());
  v1::GetLatestPricesResponse latest = LatestAll();
  ASSERT_EQ(latest.prices_size(), 1);
  EXPECT_EQ(latest.prices(0).age().seconds(), -5);
  EXPECT_EQ(latest.prices(0).age().nanos(), -500000000);
  EXPECT_EQ(latest.prices(0).price().price_time().nanos(), 500000000);
}

TEST_F(PricesRepoTest, Fence) {
  const int64_t now = absl::ToUnixSeconds(kNow);
  PutLease("scheduler", "replica-a", 3, kNow + absl::Seconds(30));
  v1::WritePricesRequest request;
  AddPrice(&request, kEth, "usd", "1", now);
  v1::WritePricesResponse response;

  request.mutable_fence()->set_lease_name("scheduler");
  absl::Status status = WriteP(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "fence.holder_id")) << status;

  request.mutable_fence()->set_holder_id("replica-a");
  request.mutable_fence()->set_epoch(2);
  status = WriteP(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;

  request.mutable_fence()->set_epoch(3);
  status = WriteP(request, &response, kNow + absl::Seconds(30));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(Count("prices"), 0);

  response.Clear();
  ASSERT_TRUE(WriteP(request, &response).ok());
  EXPECT_EQ(response.written(), 1u);

  // An empty fence counts as none.
  request.mutable_fence()->Clear();
  AddPrice(&request, kEth, "usd", "2", now + 1);
  response.Clear();
  ASSERT_TRUE(WriteP(request, &response).ok());
  EXPECT_EQ(Count("prices"), 2);
}

class PriceHistoryTest : public PricesRepoTest {
 protected:
  absl::Status History(const v1::GetPriceHistoryRequest& request,
                       v1::GetPriceHistoryResponse* response) {
    return Read([&](db::ReadContext& tx) { return GetPriceHistory(tx, request, response); });
  }
  // The price_time seconds of every page of `request`; expects success.
  std::vector<int64_t> AllTimes(v1::GetPriceHistoryRequest request, int* pages = nullptr) {
    std::vector<int64_t> times;
    int count = 0;
    do {
      v1::GetPriceHistoryResponse response;
      absl::Status status = History(request, &response);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) break;
      ++count;
      for (const v1::Price& price : response.prices())
        times.push_back(price.price_time().seconds());
      request.mutable_page()->set_page_token(response.page().next_page_token());
    } while (!request.page().page_token().empty() && count < 100);
    if (pages != nullptr) *pages = count;
    return times;
  }
  // Stores ETH/usd at each of `times` (seconds), plus neighbours that must
  // stay out of ETH/usd's history.
  void WriteHistory(const std::vector<int64_t>& times) {
    v1::WritePricesRequest request;
    for (int64_t t : times) AddPrice(&request, kEth, "usd", absl::StrCat(t), t);
    AddPrice(&request, kEth, "eur", "1", 1500);
    AddPrice(&request, kUsdc, "usd", "1", 1500);
    v1::WritePricesResponse response;
    ASSERT_TRUE(WriteP(request, &response).ok());
    ASSERT_EQ(response.rejected_size(), 0);
  }
};

v1::GetPriceHistoryRequest EthUsd(int64_t start_seconds = -1, int64_t end_seconds = -1,
                                  int32_t page_size = 0) {
  v1::GetPriceHistoryRequest request;
  request.set_asset_id(kEth);
  request.set_quote_currency("usd");
  if (start_seconds >= 0) request.mutable_start_time()->set_seconds(start_seconds);
  if (end_seconds >= 0) request.mutable_end_time()->set_seconds(end_seconds);
  request.mutable_page()->set_page_size(page_size);
  return request;
}

TEST_F(PriceHistoryTest, OldestFirstWithEveryField) {
  // Written newest first: answered oldest first.
  WriteHistory({3000, 2000, 1000});
  v1::GetPriceHistoryResponse response;
  ASSERT_TRUE(History(EthUsd(), &response).ok());
  ASSERT_EQ(response.prices_size(), 3);
  EXPECT_TRUE(response.page().next_page_token().empty());
  EXPECT_EQ(response.prices(0).price_time().seconds(), 1000);
  EXPECT_EQ(response.prices(1).price_time().seconds(), 2000);
  EXPECT_EQ(response.prices(2).price_time().seconds(), 3000);
  const v1::Price& first = response.prices(0);
  EXPECT_EQ(first.asset_id(), kEth);
  EXPECT_EQ(first.quote_currency(), "usd");
  EXPECT_EQ(first.price().units(), "1000");
  EXPECT_EQ(first.price().decimals(), 2u);
  EXPECT_EQ(first.source(), "coingecko");
}

TEST_F(PriceHistoryTest, RangeIsStartInclusiveEndExclusive) {
  WriteHistory({1000, 2000, 3000, 4000});
  EXPECT_EQ(AllTimes(EthUsd(2000, 4000)), (std::vector<int64_t>{2000, 3000}));
  EXPECT_EQ(AllTimes(EthUsd(2000)), (std::vector<int64_t>{2000, 3000, 4000}));
  EXPECT_EQ(AllTimes(EthUsd(-1, 2000)), (std::vector<int64_t>{1000}));
  EXPECT_EQ(AllTimes(EthUsd(2001, 2999)), std::vector<int64_t>{});
  int pages = 0;
  EXPECT_EQ(AllTimes(EthUsd(1000, 4000, 1), &pages), (std::vector<int64_t>{1000, 2000, 3000}));
  EXPECT_EQ(pages, 3);
}

TEST_F(PriceHistoryTest, PagesAcrossPages) {
  WriteHistory({1000, 2000, 3000, 4000, 5000});
  const std::vector<int64_t> all = {1000, 2000, 3000, 4000, 5000};
  int pages = 0;
  EXPECT_EQ(AllTimes(EthUsd(-1, -1, 2), &pages), all);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(AllTimes(EthUsd(-1, -1, 1), &pages), all);
  EXPECT_EQ(pages, 5);
  // Exactly a page's worth: no token.
  EXPECT_EQ(AllTimes(EthUsd(-1, -1, 5), &pages), all);
  EXPECT_EQ(pages, 1);
}

TEST_F(PriceHistoryTest, PageSizeDefaultsAndMaximum) {
  for (int batch = 0; batch < 2; ++batch) {
    v1::WritePricesRequest request;
    for (int i = 0; i < 5001; ++i) {
      const int64_t t = 1000 + batch * 10000 + i;
      AddPrice(&request, kEth, "usd", "1", t);
    }
    v1::WritePricesResponse response;
    ASSERT_TRUE(WriteP(request, &response).ok());
  }
  v1::GetPriceHistoryResponse response;
  ASSERT_TRUE(History(EthUsd(), &response).ok());
  EXPECT_EQ(response.prices_size(), 100);
  EXPECT_FALSE(response.page().next_page_token().empty());
  v1::GetPriceHistoryRequest request = EthUsd(-1, -1, 20000);
  ASSERT_TRUE(History(request, &response).ok());
  EXPECT_EQ(response.prices_size(), 10000);
  request.mutable_page()->set_page_token(response.page().next_page_token());
  ASSERT_TRUE(History(request, &response).ok());
  ASSERT_EQ(response.prices_size(), 2);
  EXPECT_EQ(response.prices(1).price_time().seconds(), 1000 + 10000 + 5000);
  EXPECT_TRUE(response.page().next_page_token().empty());
}

TEST_F(PriceHistoryTest, AssetIdIsNormalized) {
  WriteHistory({1000});
  v1::GetPriceHistoryRequest request = EthUsd();
  request.set_asset_id(kUsdc);
  v1::GetPriceHistoryResponse response;
  ASSERT_TRUE(History(request, &response).ok());
  ASSERT_EQ(response.prices_size(), 1);
  // The same asset spelled with a lowercase address.
  std::string lower = kUsdc;
  for (char& c : lower) c = static_cast<char>(tolower(c));
  request.set_asset_id(lower);
  ASSERT_TRUE(History(request, &response).ok());
  ASSERT_EQ(response.prices_size(), 1);
  EXPECT_EQ(response.prices(0).asset_id(), kUsdc);
}

TEST_F(PriceHistoryTest, RefusesBadRequests) {
  WriteHistory({1000, 2000});
  v1::GetPriceHistoryResponse response;
  auto expect_invalid = [&](const v1::GetPriceHistoryRequest& request, const std::string& prefix) {
    absl::Status status = History(request, &response);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << prefix;
    EXPECT_TRUE(absl::StartsWith(status.message(), prefix)) << status;
  };
  v1::GetPriceHistoryRequest request = EthUsd();
  request.clear_asset_id();
  expect_invalid(request, "asset_id: required");
  request.set_asset_id("eip155:1/nope");
  expect_invalid(request, "asset_id: ");
  request = EthUsd();
  request.clear_quote_currency();
  expect_invalid(request, "quote_currency: required");
  request.set_quote_currency("USD");
  expect_invalid(request, "quote_currency: ");
  request.set_quote_currency("averyveryverylongcurrency");
  expect_invalid(request, "quote_currency: ");
  request = EthUsd(-1, -1, -1);
  expect_invalid(request, "page.page_size");
  request = EthUsd();
  request.mutable_end_time()->set_seconds(int64_t{1} << 40);
  expect_invalid(request, "end_time");

  // A token belongs to its asset, currency and range.
  request = EthUsd(-1, -1, 1);
  ASSERT_TRUE(History(request, &response).ok());
  const std::string token = response.page().next_page_token();
  ASSERT_FALSE(token.empty());
  request.mutable_page()->set_page_token(token);
  ASSERT_TRUE(History(request, &response).ok());
  EXPECT_EQ(response.prices(0).price_time().seconds(), 2000);
  v1::GetPriceHistoryRequest other = request;
  other.set_quote_currency("eur");
  expect_invalid(other, "page.page_token");
  other = request;
  other.mutable_start_time()->set_seconds(500);
  expect_invalid(other, "page.page_token");
  other = request;
  other.mutable_page()->set_page_token("garbage!");
  expect_invalid(other, "page.page_token");
  // The right kind and filters around a cursor that is not a time, then
  // around one of 1000 s (in nanoseconds), which resumes after it.
  other.mutable_page()->set_page_token(
      EncodePageToken("prices-v1", absl::StrCat(kEth, "|usd|-|-"), {"soon"}));
  expect_invalid(other, "page.page_token");
  other.mutable_page()->set_page_token(
      EncodePageToken("prices-v1", absl::StrCat(kEth, "|usd|-|-"), {"1000000000000"}));
  ASSERT_TRUE(History(other, &response).ok());
  ASSERT_EQ(response.prices_size(), 1);
  EXPECT_EQ(response.prices(0).price_time().seconds(), 2000);
}

}  // namespace
}  // namespace coffer::storage
