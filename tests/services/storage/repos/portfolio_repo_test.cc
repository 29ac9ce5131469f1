#include "services/storage/repos/portfolio_repo.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/prices_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

// Ether on chain 10, a token everyone holds zero of, and one never read.
constexpr char kOpEth[] = "eip155:10/slip44:60";
constexpr char kZeroToken[] = "eip155:1/erc20:0x0000000000000000000000000000000000000001";
constexpr char kNeverRead[] = "eip155:1/erc20:0x0000000000000000000000000000000000000002";

std::string Units(const v1::Amount& amount) {
  return absl::StrCat(amount.units(), "/", amount.decimals());
}

class PortfolioRepoTest : public RepoTestBase {
 protected:
  void WriteSnap(const v1::WriteSnapshotRequest& request) {
    v1::WriteSnapshotResponse response;
    absl::Status status =
        Write([&](db::WriteContext& tx) { return WriteSnapshot(tx, request, &response, kNow); });
    ASSERT_TRUE(status.ok()) << status;
  }

  void PutPrice(const std::string& asset, const std::string& quote, const std::string& units,
                uint32_t decimals, int64_t seconds) {
    v1::WritePricesRequest request;
    v1::Price* price = request.add_prices();
    price->set_asset_id(asset);
    price->set_quote_currency(quote);
    price->mutable_price()->set_units(units);
    price->mutable_price()->set_decimals(decimals);
    price->mutable_price_time()->set_seconds(seconds);
    v1::WritePricesResponse response;
    ASSERT_TRUE(Write([&](db::WriteContext& tx) {
                  return WritePrices(tx, request, &response, kNow);
                }).ok());
    ASSERT_EQ(response.written(), 1u);
  }

  absl::Status Portfolio(const v1::GetPortfolioRequest& request,
                         v1::GetPortfolioResponse* response) {
    return Read([&](db::ReadContext& tx) { return GetPortfolio(tx, request, response); });
  }

  v1::GetPortfolioResponse PortfolioOk(const v1::GetPortfolioRequest& request) {
    v1::GetPortfolioResponse response;
    absl::Status status = Portfolio(request, &response);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }

  static std::vector<std::string> AssetIds(const v1::GetPortfolioResponse& response) {
    std::vector<std::string> ids;
    for (const v1::PortfolioAsset& asset : response.assets()) ids.push_back(asset.asset_id());
    return ids;
  }

  // Account 1 (chain 1, tags hot and main), 2 (chain 1, main), 3 (chain 10,
  // hot and main), 4 (chain 1, no tags); 5 held 1000 ETH and was removed.
  //   ETH:   1 has 1.5 (its latest reading failed: stale), 2 has 0.7, 4 has 0
  //   USDC:  1 has 100; 2 never read successfully
  //   OPETH: 3 has 2, and no usd price
  //   zero token: 1 and 2 hold 0
  //   never-read token: 1's only reading failed
  // Prices: ETH 1000 usd at t=50, 2000 usd at t=150, 9 eur; USDC 1 usd.
  void WriteWorld() {
    AddIds({EvmId(1), EvmId(3, 10)}, {"hot", "main"});
    AddIds({EvmId(2)}, {"main"});
    AddIds({EvmId(4), EvmId(5)});
    v1::WriteSnapshotRequest first = Request("s1", 100);
    AddAmount(&first, EvmId(1), kEth, "1500000000000000000");
    AddAmount(&first, EvmId(1), kUsdc, "50000000", 6);
    AddAmount(&first, EvmId(1), kZeroToken, "0");
    AddError(&first, EvmId(1), kNeverRead, "reverted");
    AddAmount(&first, EvmId(2), kEth, "500000000000000000");
    AddError(&first, EvmId(2), kUsdc, "timeout");
    AddAmount(&first, EvmId(2), kZeroToken, "0");
    AddAmount(&first, EvmId(3, 10), kOpEth, "2000000000000000000");
    AddAmount(&first, EvmId(4), kEth, "0");
    AddAmount(&first, EvmId(5), kEth, "1000000000000000000000");
    WriteSnap(first);
    v1::WriteSnapshotRequest second = Request("s2", 200);
    AddError(&second, EvmId(1), kEth, "timeout");
    AddAmount(&second, EvmId(1), kUsdc, "100000000", 6);
    AddAmount(&second, EvmId(2), kEth, "700000000000000000");
    AddError(&second, EvmId(2), kUsdc, "timeout");
    WriteSnap(second);

    v1::RemoveAccountsRequest remove;
    remove.add_account_ids(EvmId(5));
    v1::RemoveAccountsResponse removed;
    ASSERT_TRUE(
        Write([&](db::WriteContext& tx) { return RemoveAccounts(tx, remove, &removed); }).ok());
    ASSERT_TRUE(removed.results(0).removed());
    ASSERT_GT(Count("latest_balances WHERE account_id = '" + EvmId(5) + "'"), 0);

    PutPrice(kEth, "usd", "100000", 2, 50);
    PutPrice(kEth, "usd", "200000", 2, 150);
    PutPrice(kEth, "eur", "9", 0, 300);
    PutPrice(kUsdc, "usd", "1", 0, 100);
    PutPrice(kZeroToken, "usd", "5", 0, 100);
  }
};

TEST_F(PortfolioRepoTest, EveryAccountValuedInUsd) {
  WriteWorld();
  v1::GetPortfolioRequest request;
  request.set_quote_currency("usd");
  const v1::GetPortfolioResponse response = PortfolioOk(request);
  EXPECT_EQ(response.quote_currency(), "usd");
  // By value (ETH's 4400 before USDC's 100, against asset_id order), then
  // the unpriced by asset_id; the zero token is left out.
  ASSERT_EQ(AssetIds(response), (std::vector<std::string>{kEth, kUsdc, kNeverRead, kOpEth}));

  const v1::PortfolioAsset& eth = response.assets(0);
  // 1.5 + 0.7 + 0: the removed account's 1000 is not counted.
  EXPECT_EQ(Units(eth.amount()), "2200000000000000000/18");
  EXPECT_EQ(eth.accounts(), 3u);
  EXPECT_EQ(eth.stale_accounts(), 1u);
  EXPECT_EQ(eth.unknown_accounts(), 0u);
  EXPECT_EQ(eth.oldest_as_of().seconds(), 100);
  // At the latest usd price, 2000.00.
  EXPECT_EQ(Units(eth.value()), "4400000000000000000000/18");
  EXPECT_EQ(eth.price().price().units(), "200000");
  EXPECT_EQ(eth.price().quote_currency(), "usd");
  EXPECT_EQ(eth.price().price_time().seconds(), 150);

  const v1::PortfolioAsset& usdc = response.assets(1);
  EXPECT_EQ(Units(usdc.amount()), "100000000/6");
  EXPECT_EQ(usdc.accounts(), 1u);
  EXPECT_EQ(usdc.stale_accounts(), 0u);
  EXPECT_EQ(usdc.unknown_accounts(), 1u);
  EXPECT_EQ(usdc.oldest_as_of().seconds(), 200);
  EXPECT_EQ(Units(usdc.value()), "100000000/6");

  const v1::PortfolioAsset& never = response.assets(2);
  EXPECT_FALSE(never.has_amount());
  EXPECT_FALSE(never.has_value());
  EXPECT_FALSE(never.has_price());
  EXPECT_EQ(never.accounts(), 0u);
  EXPECT_EQ(never.unknown_accounts(), 1u);
  EXPECT_EQ(never.share(), 0.0);

  const v1::PortfolioAsset& op = response.assets(3);
  EXPECT_EQ(Units(op.amount()), "2000000000000000000/18");
  EXPECT_FALSE(op.has_value());
  EXPECT_FALSE(op.has_price());
  EXPECT_EQ(op.share(), 0.0);

  EXPECT_EQ(Units(response.total_value()), "4500000000000000000000/18");
  EXPECT_DOUBLE_EQ(eth.share(), 4400.0 / 4500.0);
  EXPECT_DOUBLE_EQ(usdc.share(), 100.0 / 4500.0);
  double shares = 0;
  for (const v1::PortfolioAsset& asset : response.assets()) {
    EXPECT_GE(asset.share(), 0.0);
    EXPECT_LE(asset.share(), 1.0);
    shares += asset.share();
  }
  EXPECT_NEAR(shares, 1.0, 1e-12);
  EXPECT_EQ(response.unpriced_assets(), 1u);
  EXPECT_EQ(response.stale_items(), 1u);
  EXPECT_EQ(response.unknown_items(), 2u);
  EXPECT_EQ(response.as_of().seconds(), 200);
}

TEST_F(PortfolioRepoTest, AnotherQuoteUsesItsOwnPrices) {
  WriteWorld();
  v1::GetPortfolioRequest request;
  request.set_quote_currency("eur");
  const v1::GetPortfolioResponse response = PortfolioOk(request);
  ASSERT_EQ(AssetIds(response), (std::vector<std::string>{kEth, kNeverRead, kUsdc, kOpEth}));
  EXPECT_EQ(Units(response.assets(0).value()), "19800000000000000000/18");  // 2.2 x 9
  EXPECT_EQ(response.assets(0).share(), 1.0);
  EXPECT_FALSE(response.assets(2).has_value());
  EXPECT_EQ(Units(response.total_value()), "19800000000000000000/18");
  EXPECT_EQ(response.unpriced_assets(), 2u);

  request.set_quote_currency("gbp");
  const v1::GetPortfolioResponse none = PortfolioOk(request);
  EXPECT_EQ(AssetIds(none), (std::vector<std::string>{kNeverRead, kUsdc, kEth, kOpEth}));
  EXPECT_EQ(Units(none.total_value()), "0/0");
  EXPECT_EQ(none.unpriced_assets(), 3u);
}

TEST_F(PortfolioRepoTest, EmptyQuoteCurrencyGivesTotalsOnly) {
  WriteWorld();
  const v1::GetPortfolioResponse response = PortfolioOk(v1::GetPortfolioRequest());
  EXPECT_EQ(response.quote_currency(), "");
  ASSERT_EQ(AssetIds(response), (std::vector<std::string>{kNeverRead, kUsdc, kEth, kOpEth}));
  for (const v1::PortfolioAsset& asset : response.assets()) {
    EXPECT_FALSE(asset.has_value()) << asset.asset_id();
    EXPECT_FALSE(asset.has_price()) << asset.asset_id();
    EXPECT_EQ(asset.share(), 0.0) << asset.asset_id();
  }
  EXPECT_EQ(Units(response.assets(2).amount()), "2200000000000000000/18");
  EXPECT_FALSE(response.has_total_value());
  EXPECT_EQ(response.unpriced_assets(), 0u);
  EXPECT_EQ(response.stale_items(), 1u);
  EXPECT_EQ(response.unknown_items(), 2u);
  EXPECT_EQ(response.as_of().seconds(), 200);
}

TEST_F(PortfolioRepoTest, Filters) {
  WriteWorld();
  v1::GetPortfolioRequest request;
  request.set_quote_currency("usd");

  request.set_chain_id("eip155:10");
  v1::GetPortfolioResponse response = PortfolioOk(request);
  EXPECT_EQ(AssetIds(response), (std::vector<std::string>{kOpEth}));
  EXPECT_EQ(Units(response.total_value()), "0/0");
  EXPECT_EQ(response.as_of().seconds(), 100);

  // Tags: accounts having every one.
  request.clear_chain_id();
  request.add_tags("hot");
  response = PortfolioOk(request);
  EXPECT_EQ(AssetIds(response), (std::vector<std::string>{kEth, kUsdc, kNeverRead, kOpEth}));
  EXPECT_EQ(Units(response.assets(0).amount()), "1500000000000000000/18");
  EXPECT_EQ(response.assets(0).stale_accounts(), 1u);
  EXPECT_EQ(response.assets(1).unknown_accounts(), 0u);
  request.add_tags("main");
  request.add_tags("hot");  // twice counts once
  EXPECT_EQ(AssetIds(PortfolioOk(request)), AssetIds(response));
  request.set_chain_id("eip155:1");
  EXPECT_EQ(AssetIds(PortfolioOk(request)), (std::vector<std::string>{kEth, kUsdc, kNeverRead}));
  request.clear_chain_id();
  request.add_tags("cold");
  response = PortfolioOk(request);
  EXPECT_EQ(response.assets_size(), 0);
  EXPECT_FALSE(response.has_as_of());
  EXPECT_EQ(Units(response.total_value()), "0/0");

  // Named ids: only registered accounts count (5 was removed).
  request.clear_tags();
  request.add_account_ids(EvmId(2));
  request.add_account_ids(EvmId(4));
  request.add_account_ids(EvmId(5));
  response = PortfolioOk(request);
  ASSERT_EQ(AssetIds(response), (std::vector<std::string>{kEth, kUsdc}));
  EXPECT_EQ(Units(response.assets(0).amount()), "700000000000000000/18");
  EXPECT_EQ(response.assets(0).accounts(), 2u);
  EXPECT_EQ(Units(response.assets(0).value()), "1400000000000000000000/18");
  EXPECT_EQ(response.assets(0).share(), 1.0);
  EXPECT_FALSE(response.assets(1).has_amount());
  EXPECT_EQ(response.assets(1).unknown_accounts(), 1u);
  EXPECT_EQ(response.unpriced_assets(), 0u);

  // Named ids with a chain and a tag.
  request.clear_account_ids();
  request.add_account_ids(EvmId(1));
  request.add_account_ids(EvmId(3, 10));
  request.add_account_ids(EvmId(2));
  request.add_tags("hot");
  EXPECT_EQ(AssetIds(PortfolioOk(request)),
            (std::vector<std::string>{kEth, kUsdc, kNeverRead, kOpEth}));
  request.set_chain_id("eip155:10");
  EXPECT_EQ(AssetIds(PortfolioOk(request)), (std::vector<std::string>{kOpEth}));
}

TEST_F(PortfolioRepoTest, ZeroTotalsAreLeftOutUnlessSomeoneIsUnknown) {
  AddIds({EvmId(1), EvmId(2)});
  v1::WriteSnapshotRequest snapshot = Request("s", 100);
  AddAmount(&snapshot, EvmId(1), kEth, "0");
  AddAmount(&snapshot, EvmId(2), kEth, "0");
  AddAmount(&snapshot, EvmId(1), kUsdc, "0", 6);
  AddError(&snapshot, EvmId(2), kUsdc, "timeout");
  WriteSnap(snapshot);
  const v1::GetPortfolioResponse response = PortfolioOk(v1::GetPortfolioRequest());
  ASSERT_EQ(AssetIds(response), (std::vector<std::string>{kUsdc}));
  EXPECT_EQ(Units(response.assets(0).amount()), "0/6");
  EXPECT_EQ(response.assets(0).unknown_accounts(), 1u);
}

TEST_F(PortfolioRepoTest, ManyNamedIdsAndMixedDecimals) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 150; ++i) ids.push_back(EvmId(i));
  AddIds(ids);
  v1::WriteSnapshotRequest snapshot = Request("s", 100);
  for (int i = 1; i <= 150; ++i) AddAmount(&snapshot, EvmId(i), kEth, "1", i % 2 == 0 ? 18 : 17);
  WriteSnap(snapshot);
  v1::GetPortfolioRequest request;
  // Past two runs of named ids, with one unregistered id among them.
  for (int i = 1; i <= 151; ++i) request.add_account_ids(EvmId(i));
  v1::GetPortfolioResponse response = PortfolioOk(request);
  ASSERT_EQ(response.assets_size(), 1);
  EXPECT_EQ(response.assets(0).accounts(), 150u);
  // 75 x 10^-18 + 75 x 10^-17, exactly.
  EXPECT_EQ(Units(response.assets(0).amount()), "825/18");

  // The same accounts without naming them.
  response = PortfolioOk(v1::GetPortfolioRequest());
  EXPECT_EQ(Units(response.assets(0).amount()), "825/18");
}

TEST_F(PortfolioRepoTest, HugeBalancesSumExactly) {
  AddIds({EvmId(1), EvmId(2)});
  v1::WriteSnapshotRequest snapshot = Request("s", 100);
  const std::string max =
      "115792089237316195423570985008687907853269984665640564039457584007913129639935";
  AddAmount(&snapshot, EvmId(1), kEth, max);
  AddAmount(&snapshot, EvmId(2), kEth, max);
  WriteSnap(snapshot);
  PutPrice(kEth, "usd", "345678", 2, 100);
  v1::GetPortfolioRequest request;
  request.set_quote_currency("usd");
  const v1::GetPortfolioResponse response = PortfolioOk(request);
  ASSERT_EQ(response.assets_size(), 1);
  EXPECT_EQ(response.assets(0).amount().units(),
            "231584178474632390847141970017375815706539969331281128078915168015826259279870");
  EXPECT_EQ(response.assets(0).value().units(),
            "800535556467539756032583419116664372218053235184985977920632374493747896553469018");
  EXPECT_EQ(response.assets(0).share(), 1.0);
}

TEST_F(PortfolioRepoTest, InvalidRequests) {
  v1::GetPortfolioResponse response;
  v1::GetPortfolioRequest request;
  request.set_quote_currency("USD");
  absl::Status status = Portfolio(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "quote_currency")) << status;

  request.Clear();
  request.set_chain_id("eip155");
  status = Portfolio(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "chain_id")) << status;

  request.Clear();
  request.add_tags("ok");
  request.add_tags("Bad Tag");
  status = Portfolio(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "tags[1]")) << status;
  request.clear_tags();
  for (int i = 0; i < 17; ++i) request.add_tags(absl::StrCat("t", i));
  EXPECT_EQ(Portfolio(request, &response).code(), absl::StatusCode::kInvalidArgument);

  request.Clear();
  request.add_account_ids(EvmId(1));
  request.add_account_ids("eip155:1:0xnothex");
  status = Portfolio(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "account_ids[1]")) << status;
  request.Clear();
  for (int i = 0; i < 1001; ++i) request.add_account_ids(EvmId(i));
  status = Portfolio(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(status.message(), "1000")) << status;
}

}  // namespace
}  // namespace coffer::storage
