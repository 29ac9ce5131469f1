#include "services/storage/repos/history_repo.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

#include "services/storage/db/connection.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/db/migrations.h"
#include "services/storage/repos/account_history.h"
#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/prices_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "services/storage/schema/schema.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

// Every test runs with the snapshots it writes all pending in the
// account-history index, the first two merged and the rest pending, and all
// merged (account_history.h): a read must not tell them apart.
class HistoryRepoTest : public RepoTestBase, public ::testing::WithParamInterface<int> {
 protected:
  // Merges the pending account history after each of the first GetParam()
  // snapshots written.
  void WriteSnap(const v1::WriteSnapshotRequest& request) {
    v1::WriteSnapshotResponse response;
    const bool merge = ++written_ <= GetParam();
    absl::Status status = Write([&](db::WriteContext& tx) -> absl::Status {
      absl::Status written = WriteSnapshot(tx, request, &response, kNow);
      if (!written.ok() || !merge) return written;
      return MergeAccountHistory(tx);
    });
    ASSERT_TRUE(status.ok()) << status;
  }

  absl::Status History(const v1::GetBalanceHistoryRequest& request,
                       v1::GetBalanceHistoryResponse* response) {
    return Read([&](db::ReadContext& tx) { return GetBalanceHistory(tx, request, response); });
  }

  // Every point, page by page of `page_size`; counts the pages.
  std::vector<v1::BalancePoint> All(v1::GetBalanceHistoryRequest request, int32_t page_size,
                                    int* pages = nullptr) {
    std::vector<v1::BalancePoint> points;
    request.mutable_page()->set_page_size(page_size);
    int count = 0;
    while (true) {
      v1::GetBalanceHistoryResponse response;
      absl::Status status = History(request, &response);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok() || ++count > 100) break;
      EXPECT_LE(response.points_size(), page_size);
      for (const v1::BalancePoint& point : response.points()) points.push_back(point);
      if (response.page().next_page_token().empty()) break;
      request.mutable_page()->set_page_token(response.page().next_page_token());
    }
    if (pages != nullptr) *pages = count;
    return points;
  }

  // Three snapshots at t0, t0+10, t0+20 over accounts 1 and 2.
  void WriteThree() {
    AddIds({EvmId(1), EvmId(2)});
    v1::WriteSnapshotRequest first = Request("a", t0_);
    AddAmount(&first, EvmId(1), kEth, "100");
    AddAmount(&first, EvmId(2), kEth, "5", 17);
    AddAmount(&first, EvmId(1), kUsdc, "7", 6);
    WriteSnap(first);
    v1::WriteSnapshotRequest second = Request("b", t0_ + 10);
    AddError(&second, EvmId(1), kEth, "timeout");
    AddAmount(&second, EvmId(2), kEth, "6", 17);
    WriteSnap(second);
    v1::WriteSnapshotRequest third = Request("c", t0_ + 20);
    AddError(&third, EvmId(1), kEth, "timeout 1");
    AddError(&third, EvmId(2), kEth, "timeout 2");
    AddAmount(&third, EvmId(1), kUsdc, "8", 6);
    WriteSnap(third);
  }

  const int64_t t0_ = absl::ToUnixSeconds(kNow) - 100;
  int written_ = 0;
};

INSTANTIATE_TEST_SUITE_P(AccountHistory, HistoryRepoTest, ::testing::Values(0, 2, 1000),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 0   ? std::string("AllPending")
                                  : info.param == 2 ? std::string("FirstTwoMerged")
                                                    : std::string("AllMerged");
                         });

TEST_P(HistoryRepoTest, OneAccountAndAsset) {
  WriteThree();
  v1::GetBalanceHistoryRequest request;
  request.set_account_id(EvmId(1));
  request.set_asset_id(kEth);
  std::vector<v1::BalancePoint> points = All(request, 100);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].taken_at().seconds(), t0_);
  EXPECT_EQ(points[0].amount().units(), "100");
  EXPECT_EQ(points[0].account_id(), EvmId(1));
  EXPECT_EQ(points[0].asset_id(), kEth);
  EXPECT_FALSE(points[0].has_error());
  // A failed reading is a failed point, never zero.
  EXPECT_FALSE(points[1].has_amount());
  EXPECT_EQ(points[1].error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(points[1].error().message(), "timeout");
  EXPECT_EQ(points[1].error().upstream(), "mainnet-1");
  EXPECT_EQ(points[2].error().message(), "timeout 1");

  request.set_newest_first(true);
  points = All(request, 1);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].taken_at().seconds(), t0_ + 20);
  EXPECT_EQ(points[2].taken_at().seconds(), t0_);

  request.set_newest_first(false);
  request.mutable_start_time()->set_seconds(t0_ + 10);
  request.mutable_end_time()->set_seconds(t0_ + 20);
  points = All(request, 100);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].taken_at().seconds(), t0_ + 10);
}

TEST_P(HistoryRepoTest, OneAssetAllAccountsPaged) {
  WriteThree();
  v1::GetBalanceHistoryRequest request;
  request.set_asset_id(kEth);
  int pages = 0;
  std::vector<v1::BalancePoint> points = All(request, 2, &pages);
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(pages, 3);
  const std::vector<std::pair<int64_t, std::string>> expected = {
      {t0_, EvmId(1)},      {t0_, EvmId(2)},      {t0_ + 10, EvmId(1)},
      {t0_ + 10, EvmId(2)}, {t0_ + 20, EvmId(1)}, {t0_ + 20, EvmId(2)}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(points[i].taken_at().seconds(), expected[i].first) << i;
    EXPECT_EQ(points[i].account_id(), expected[i].second) << i;
  }
  request.set_newest_first(true);
  points = All(request, 4);
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0].taken_at().seconds(), t0_ + 20);
  EXPECT_EQ(points[0].account_id(), EvmId(2));
  EXPECT_EQ(points[5].account_id(), EvmId(1));
}

TEST_P(HistoryRepoTest, OneAccountAllAssets) {
  WriteThree();
  v1::GetBalanceHistoryRequest request;
  request.set_account_id(EvmId(1));
  std::vector<v1::BalancePoint> points = All(request, 1);
  ASSERT_EQ(points.size(), 5u);
  // Ordered by taken_at, then asset ("erc20" before "slip44").
  EXPECT_EQ(points[0].asset_id(), kUsdc);
  EXPECT_EQ(points[1].asset_id(), kEth);
  EXPECT_EQ(points[2].taken_at().seconds(), t0_ + 10);
  EXPECT_EQ(points[3].asset_id(), kUsdc);
  EXPECT_EQ(points[3].amount().units(), "8");
  EXPECT_EQ(points[4].asset_id(), kEth);
}

TEST_P(HistoryRepoTest, SumAccounts) {
  WriteThree();
  v1::GetBalanceHistoryRequest request;
  request.set_asset_id(kEth);
  request.set_sum_accounts(true);
  for (int32_t page_size : {1, 2, 100}) {
    std::vector<v1::BalancePoint> points = All(request, page_size);
    ASSERT_EQ(points.size(), 3u) << page_size;
    // 100 x 10^-18 + 5 x 10^-17 = 150 x 10^-18, exact.
    EXPECT_EQ(points[0].amount().units(), "150");
    EXPECT_EQ(points[0].amount().decimals(), 18u);
    EXPECT_EQ(points[0].failed_accounts(), 0u);
    EXPECT_FALSE(points[0].has_error());
    EXPECT_TRUE(points[0].account_id().empty());
    // Partial: never passed off as complete.
    EXPECT_EQ(points[1].amount().units(), "6");
    EXPECT_EQ(points[1].failed_accounts(), 1u);
    EXPECT_FALSE(points[1].has_error());
    // Every item failed: error, no amount.
    EXPECT_FALSE(points[2].has_amount());
    EXPECT_EQ(points[2].failed_accounts(), 2u);
    EXPECT_EQ(points[2].error().message(), "timeout 1");
  }
  request.set_newest_first(true);
  std::vector<v1::BalancePoint> points = All(request, 1);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].taken_at().seconds(), t0_ + 20);
  EXPECT_EQ(points[2].amount().units(), "150");
}

TEST_P(HistoryRepoTest, InvalidRequests) {
  v1::GetBalanceHistoryResponse response;
  v1::GetBalanceHistoryRequest none;
  absl::Status status = History(none, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "account_id")) << status;

  v1::GetBalanceHistoryRequest bad;
  bad.set_asset_id("nope");
  status = History(bad, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "asset_id")) << status;

  v1::GetBalanceHistoryRequest sum;
  sum.set_account_id(EvmId(1));
  sum.set_asset_id(kEth);
  sum.set_sum_accounts(true);
  status = History(sum, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "sum_accounts")) << status;

  v1::GetBalanceHistoryRequest paged;
  paged.set_asset_id(kEth);
  paged.mutable_page()->set_page_size(-1);
  status = History(paged, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "page.page_size")) << status;

  // A token only works with the fields it was made for.
  WriteThree();
  paged.mutable_page()->set_page_size(1);
  ASSERT_TRUE(History(paged, &response).ok());
  ASSERT_FALSE(response.page().next_page_token().empty());
  paged.mutable_page()->set_page_token(response.page().next_page_token());
  paged.set_newest_first(true);
  status = History(paged, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "page.page_token")) << status;
  paged.mutable_page()->set_page_token("garbage");
  status = History(paged, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(HistoryRepoTest, ValuesPointsAtThePriceOfTheirTime) {
  WriteThree();
  v1::WritePricesRequest prices;
  auto add = [&](const std::string& asset, const std::string& quote, const std::string& units,
                 int64_t seconds) {
    v1::Price* price = prices.add_prices();
    price->set_asset_id(asset);
    price->set_quote_currency(quote);
    price->mutable_price()->set_units(units);
    price->mutable_price_time()->set_seconds(seconds);
  };
  add(kEth, "usd", "2", t0_ - 5);
  add(kEth, "usd", "3", t0_ + 10);  // exactly at the second snapshot
  add(kEth, "usd", "4", t0_ + 25);  // after every snapshot: never used
  add(kEth, "eur", "1000", t0_);
  add(kUsdc, "usd", "1", t0_ + 15);  // after the first USDC reading
  v1::WritePricesResponse written;
  ASSERT_TRUE(
      Write([&](db::WriteContext& tx) { return WritePrices(tx, prices, &written, kNow); }).ok());
  ASSERT_EQ(written.written(), 5u);

  auto value_of = [](const v1::BalancePoint& point) {
    return point.has_value() ? absl::StrCat(point.value().units(), "/", point.value().decimals())
                             : std::string("none");
  };
  v1::GetBalanceHistoryRequest request;
  request.set_account_id(EvmId(2));
  request.set_asset_id(kEth);
  request.set_quote_currency("usd");
  std::vector<v1::BalancePoint> points = All(request, 100);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(value_of(points[0]), "10/17");  // 5e-17 x 2
  EXPECT_EQ(value_of(points[1]), "18/17");  // 6e-17 x 3
  EXPECT_EQ(value_of(points[2]), "none");   // failed: no amount, no value
  // Paged one by one and newest first: the same values.
  request.set_newest_first(true);
  points = All(request, 1);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(value_of(points[2]), "10/17");
  EXPECT_EQ(value_of(points[1]), "18/17");

  request.set_newest_first(false);
  request.set_quote_currency("eur");
  points = All(request, 100);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(value_of(points[0]), "5000/17");
  // The only eur price is at t0: it still applies later.
  EXPECT_EQ(value_of(points[1]), "6000/17");

  v1::GetBalanceHistoryRequest usdc;
  usdc.set_account_id(EvmId(1));
  usdc.set_asset_id(kUsdc);
  usdc.set_quote_currency("usd");
  points = All(usdc, 100);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(value_of(points[0]), "none");  // no price yet at t0
  EXPECT_EQ(value_of(points[1]), "8/6");

  v1::GetBalanceHistoryRequest sum;
  sum.set_asset_id(kEth);
  sum.set_sum_accounts(true);
  sum.set_quote_currency("usd");
  points = All(sum, 100);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(value_of(points[0]), "300/18");  // (100e-18 + 5e-17) x 2
  EXPECT_EQ(value_of(points[1]), "18/17");
  EXPECT_EQ(value_of(points[2]), "none");

  // No quote currency, or one without prices: no values.
  sum.clear_quote_currency();
  for (const v1::BalancePoint& point : All(sum, 100)) EXPECT_FALSE(point.has_value());
  sum.set_quote_currency("gbp");
  for (const v1::BalancePoint& point : All(sum, 100)) EXPECT_FALSE(point.has_value());
}

// Ties on taken_at (two snapshots taken at once) across pages of every size,
// in both directions, with a time range: each page starts right after the
// previous one's last point, whichever bound the token narrows.
TEST_P(HistoryRepoTest, PagesOfOneAccountResumeAtTheirCursor) {
  AddIds({EvmId(1), EvmId(2)});
  // Snapshots 1 and 2 at t0, 3 and 4 at t0+10, 5 at t0+20; account 2 has
  // items too, which an account's history must skip.
  const std::vector<std::pair<const char*, int64_t>> snapshots = {
      {"a", t0_}, {"b", t0_}, {"c", t0_ + 10}, {"d", t0_ + 10}, {"e", t0_ + 20}};
  for (size_t i = 0; i < snapshots.size(); ++i) {
    v1::WriteSnapshotRequest request = Request(snapshots[i].first, snapshots[i].second);
    AddAmount(&request, EvmId(1), kEth, absl::StrCat(10 + i));
    AddAmount(&request, EvmId(1), kUsdc, absl::StrCat(20 + i), 6);
    AddAmount(&request, EvmId(2), kEth, absl::StrCat(30 + i));
    WriteSnap(request);
  }
  // "taken_at snapshot asset units" of each point.
  auto keys = [](const std::vector<v1::BalancePoint>& points) {
    std::vector<std::string> keys;
    for (const v1::BalancePoint& point : points) {
      EXPECT_EQ(point.account_id(), EvmId(1));
      keys.push_back(absl::StrCat(point.taken_at().seconds(), " ", point.snapshot_id(), " ",
                                  point.asset_id() == kEth ? "eth" : "usdc", " ",
                                  point.amount().units()));
    }
    return keys;
  };
  v1::GetBalanceHistoryRequest request;
  request.set_account_id(EvmId(1));
  std::vector<std::string> oldest_first;
  for (size_t i = 0; i < snapshots.size(); ++i) {
    // Within a snapshot, erc20 (usdc) sorts before slip44 (eth).
    oldest_first.push_back(absl::StrCat(snapshots[i].second, " ", i + 1, " usdc ", 20 + i));
    oldest_first.push_back(absl::StrCat(snapshots[i].second, " ", i + 1, " eth ", 10 + i));
  }
  const std::vector<std::string> newest_first(oldest_first.rbegin(), oldest_first.rend());
  for (int32_t page_size : {1, 2, 3, 100}) {
    SCOPED_TRACE(absl::StrCat("page size ", page_size));
    request.set_newest_first(false);
    EXPECT_EQ(keys(All(request, page_size)), oldest_first);
    request.set_newest_first(true);
    EXPECT_EQ(keys(All(request, page_size)), newest_first);

    // [t0+10, t0+20): snapshots 3 and 4 only.
    v1::GetBalanceHistoryRequest range = request;
    range.mutable_start_time()->set_seconds(t0_ + 10);
    range.mutable_end_time()->set_seconds(t0_ + 20);
    const std::vector<std::string> middle(oldest_first.begin() + 4, oldest_first.begin() + 8);
    range.set_newest_first(false);
    EXPECT_EQ(keys(All(range, page_size)), middle);
    range.set_newest_first(true);
    EXPECT_EQ(keys(All(range, page_size)),
              std::vector<std::string>(middle.rbegin(), middle.rend()));

    // One asset: the account's other asset is passed over, not returned.
    v1::GetBalanceHistoryRequest eth = request;
    eth.set_asset_id(kEth);
    std::vector<std::string> eth_oldest_first;
    for (const std::string& key : oldest_first) {
      if (absl::StrContains(key, " eth ")) eth_oldest_first.push_back(key);
    }
    eth.set_newest_first(false);
    EXPECT_EQ(keys(All(eth, page_size)), eth_oldest_first);
    eth.set_newest_first(true);
    EXPECT_EQ(keys(All(eth, page_size)),
              std::vector<std::string>(eth_oldest_first.rbegin(), eth_oldest_first.rend()));
  }
}

// The plan of every filter shape, both directions, first page and after a
// cursor. An account's history (with or without an asset) must read
// account_history in the query's order with no sort at all (a sort reads
// every row of the range before the first point), merged in order with the
// pending snapshots' items, found by key and sorted on their own
// (account_history.h). An asset's history sorts at most the items of one
// taken_at, never the whole range.
TEST_P(HistoryRepoTest, EveryFilterShapeReadsItsIndexInOrder) {
  WriteThree();
  struct Shape {
    const char* name;
    std::string account_id;
    std::string asset_id;
    bool sum_accounts;
    const char* must_search;
  };
  const char* const by_account =
      "SEARCH TABLE account_history AS h USING PRIMARY KEY (account_id=? AND taken_at>? AND "
      "taken_at<?)";
  const char* const by_asset =
      "SEARCH TABLE snapshot_items AS i USING INDEX snapshot_items_by_asset_time (asset_id=? AND "
      "taken_at>? AND taken_at<?)";
  const char* const pending_scan = "SCAN TABLE account_history_pending AS p";
  const char* const pending_items =
      "SEARCH TABLE snapshot_items AS i USING INDEX sqlite_autoindex_snapshot_items_1 "
      "(snapshot_id=? AND account_id=?";  // and asset_id=? with one asset
  const std::vector<Shape> shapes = {
      {"account", EvmId(1), "", false, by_account},
      {"account and asset", EvmId(1), kEth, false, by_account},
      {"asset", "", kEth, false, by_asset},
      {"asset summed", "", kEth, true, by_asset},
  };
  for (const Shape& shape : shapes) {
    for (bool newest_first : {false, true}) {
      for (bool after_cursor : {false, true}) {
        SCOPED_TRACE(absl::StrCat(shape.name, newest_first ? ", newest first" : "",
                                  after_cursor ? ", after a cursor" : ""));
        v1::GetBalanceHistoryRequest request;
        request.set_account_id(shape.account_id);
        request.set_asset_id(shape.asset_id);
        request.set_sum_accounts(shape.sum_accounts);
        request.set_newest_first(newest_first);
        request.mutable_start_time()->set_seconds(t0_);
        if (after_cursor) {
          request.mutable_page()->set_page_size(1);
          v1::GetBalanceHistoryResponse response;
          ASSERT_TRUE(History(request, &response).ok());
          ASSERT_FALSE(response.page().next_page_token().empty());
          request.mutable_page()->set_page_token(response.page().next_page_token());
        }
        std::vector<std::string> plan;
        absl::Status status = Read([&](db::ReadContext& tx) -> absl::Status {
          absl::StatusOr<std::vector<std::string>> lines = ExplainBalanceHistory(tx, request);
          if (!lines.ok()) return lines.status();
          plan = *std::move(lines);
          return absl::OkStatus();
        });
        ASSERT_TRUE(status.ok()) << status;
        const std::string text = absl::StrJoin(plan, "\n");
        EXPECT_TRUE(std::find(plan.begin(), plan.end(), shape.must_search) != plan.end()) << text;
        if (shape.account_id.empty()) {
          for (const std::string& line : plan) {
            EXPECT_FALSE(absl::StartsWith(line, "USE TEMP B-TREE FOR ORDER BY")) << text;
          }
          // Open snapshots are left out through their own small index.
          EXPECT_TRUE(std::find(plan.begin(), plan.end(),
                                "SCAN TABLE snapshots USING COVERING INDEX snapshots_open") !=
                      plan.end())
              << text;
          continue;
        }
        // The merged part, up to the pending part's first line: in order.
        const auto pending = std::find(plan.begin(), plan.end(), pending_scan);
        ASSERT_NE(pending, plan.end()) << text;
        for (auto line = plan.begin(); line != pending; ++line) {
          EXPECT_FALSE(absl::StrContains(*line, "TEMP B-TREE")) << text;
        }
        EXPECT_TRUE(std::any_of(pending, plan.end(), [&](const std::string& line) {
          return absl::StartsWith(line, pending_items);
        })) << text;
        // Merged in order (a compound that sorts says USING TEMP B-TREE).
        EXPECT_EQ(plan.back(), "COMPOUND SUBQUERIES 1 AND 2 (UNION ALL)") << text;
      }
    }
  }
}

}  // namespace
}  // namespace coffer::storage
