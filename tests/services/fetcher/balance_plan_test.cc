#include "services/fetcher/balance_plan.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

constexpr char kAnvil[] = "eip155:31337";
constexpr char kEther[] = "eip155:31337/slip44:60";
constexpr char kToken[] = "eip155:31337/erc20:0x5FbDB2315678afecb367f032d93F642f64180aa3";
constexpr char kAccount[] = "eip155:31337:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
constexpr char kBitcoin[] = "bip122:000000000019d6689c085ae165831e93";
constexpr char kBitcoinAccount[] =
    "bip122:000000000019d6689c085ae165831e93:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";

ChainCatalog Catalog() {
  ChainCatalog catalog;
  catalog[kAnvil] = {.kind = v1::CHAIN_KIND_EVM, .asset_ids = {kEther, kToken}};
  catalog[kBitcoin] = {.kind = v1::CHAIN_KIND_BITCOIN,
                       .asset_ids = {absl::StrCat(kBitcoin, "/slip44:0")}};
  return catalog;
}

v1::QueryBalancesRequest Request(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& queries) {
  v1::QueryBalancesRequest request;
  for (const auto& [account, assets] : queries) {
    v1::BalanceQuery* query = request.add_queries();
    query->set_account_id(account);
    for (const std::string& asset : assets) query->add_asset_ids(asset);
  }
  return request;
}

TEST(BalancePlanTest, AQueryWithoutAssetsExpandsToTheChainsAssetsInOrder) {
  absl::StatusOr<BalancePlan> plan =
      PlanBalances(Request({{kAccount, {}}, {kBitcoinAccount, {}}}), Catalog(), 100);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->items.size(), 3u);
  EXPECT_EQ(plan->items[0].asset_id, kEther);
  EXPECT_EQ(plan->items[1].asset_id, kToken);
  EXPECT_EQ(plan->items[2].query_index, 1u);
  EXPECT_EQ(plan->items[2].asset_id, absl::StrCat(kBitcoin, "/slip44:0"));
  EXPECT_EQ(plan->items_by_chain.at(kAnvil), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(plan->items_by_chain.at(kBitcoin), (std::vector<size_t>{2}));
  for (const PlannedItem& item : plan->items) EXPECT_FALSE(item.error.has_value());
}

TEST(BalancePlanTest, IdsAreNormalized) {
  const std::string lower = "eip155:31337:0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
  absl::StatusOr<BalancePlan> plan = PlanBalances(
      Request({{lower, {"eip155:31337/erc20:0x5fbdb2315678afecb367f032d93f642f64180aa3"}}}),
      Catalog(), 100);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->items.size(), 1u);
  EXPECT_EQ(plan->items[0].account_id, kAccount);
  EXPECT_EQ(plan->items[0].asset_id, kToken);
}

TEST(BalancePlanTest, BadItemsGetTheirOwnErrorsAndTheRestIsPlanned) {
  absl::StatusOr<BalancePlan> plan = PlanBalances(
      Request({
          {"eip155:31337:0x12", {}},                                     // malformed, no assets
          {"eip155:31337:0x12", {kEther, kToken}},                       // malformed, two assets
          {kAccount, {absl::StrCat(kBitcoin, "/slip44:0"), kEther}},     // other chain's asset
          {"eip155:10:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", {}},  // unconfigured chain
      }),
      Catalog(), 100);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->items.size(), 6u);
  EXPECT_EQ(plan->items[0].asset_id, "");
  EXPECT_EQ(plan->items[0].error->code(), v1::Error::INVALID_ARGUMENT);
  EXPECT_NE(plan->items[0].error->message().find("queries[0].account_id"), std::string::npos)
      << plan->items[0].error->message();
  EXPECT_EQ(plan->items[1].asset_id, kEther);
  EXPECT_EQ(plan->items[2].asset_id, kToken);
  EXPECT_EQ(plan->items[2].error->code(), v1::Error::INVALID_ARGUMENT);
  EXPECT_EQ(plan->items[3].error->code(), v1::Error::INVALID_ARGUMENT);
  EXPECT_NE(plan->items[3].error->message().find("queries[2].asset_ids[0]"), std::string::npos)
      << plan->items[3].error->message();
  EXPECT_FALSE(plan->items[4].error.has_value());
  EXPECT_EQ(plan->items[5].error->code(), v1::Error::NOT_FOUND);
  EXPECT_EQ(plan->items_by_chain.size(), 1u);
  EXPECT_EQ(plan->items_by_chain.at(kAnvil), (std::vector<size_t>{4}));
}

TEST(BalancePlanTest, WholeRequestErrorsNameTheField) {
  EXPECT_EQ(PlanBalances(v1::QueryBalancesRequest(), Catalog(), 100).status().code(),
            absl::StatusCode::kInvalidArgument);

  absl::Status duplicate =
      PlanBalances(Request({{kAccount, {kEther, "eip155:31337/slip44:60"}}}), Catalog(), 100)
          .status();
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(duplicate.message().find("queries[0].asset_ids[1]"), std::string::npos) << duplicate;

  std::vector<std::string> many;
  for (int i = 0; i <= 100; ++i) many.push_back(absl::StrCat("eip155:31337/slip44:", i));
  EXPECT_EQ(PlanBalances(Request({{kAccount, many}}), Catalog(), 1000).status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::QueryBalancesRequest request = Request({{kAccount, {}}});
  request.add_blocks()->set_chain_id(kAnvil);
  request.add_blocks()->set_chain_id(kAnvil);
  absl::Status twice = PlanBalances(request, Catalog(), 100).status();
  EXPECT_EQ(twice.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(twice.message().find("blocks[1].chain_id"), std::string::npos) << twice;

  request = Request({{kAccount, {}}});
  request.add_blocks()->set_chain_id("eip155:10");
  EXPECT_EQ(PlanBalances(request, Catalog(), 100).status().code(),
            absl::StatusCode::kInvalidArgument);

  request = Request({{kBitcoinAccount, {}}});
  v1::BlockSelector* finalized = request.add_blocks();
  finalized->set_chain_id(kBitcoin);
  finalized->set_tag(v1::BLOCK_TAG_FINALIZED);
  EXPECT_EQ(PlanBalances(request, Catalog(), 100).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BalancePlanTest, LimitsCountQueriesAndExpandedItems) {
  EXPECT_EQ(PlanBalances(Request({{kAccount, {}}, {kAccount, {}}, {kAccount, {}}}), Catalog(), 2)
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
  // Two queries are within the limit of 3, but expand to 4 items.
  absl::Status expanded =
      PlanBalances(Request({{kAccount, {}}, {kAccount, {}}}), Catalog(), 3).status();
  EXPECT_EQ(expanded.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(expanded.message().find("limit of 3"), std::string::npos) << expanded;
  EXPECT_TRUE(PlanBalances(Request({{kAccount, {}}, {kAccount, {}}}), Catalog(), 4).ok());
}

TEST(BalancePlanTest, KeepsTheSelectorsOfChainsItemsRead) {
  v1::QueryBalancesRequest request = Request({{kAccount, {}}});
  v1::BlockSelector* pinned = request.add_blocks();
  pinned->set_chain_id(kAnvil);
  pinned->set_number(42);
  request.add_blocks()->set_chain_id(kBitcoin);  // no item reads Bitcoin: ignored
  absl::StatusOr<BalancePlan> plan = PlanBalances(request, Catalog(), 100);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->blocks.size(), 1u);
  EXPECT_EQ(plan->blocks.at(kAnvil).number(), 42u);
}

TEST(BalancePlanTest, ItemErrorKeepsTheCodeAndNamesTheUpstream) {
  v1::Error error = ItemError(absl::ResourceExhaustedError("HTTP 429"), "mainnet-1");
  EXPECT_EQ(error.code(), v1::Error::RESOURCE_EXHAUSTED);
  EXPECT_EQ(error.message(), "HTTP 429");
  EXPECT_EQ(error.upstream(), "mainnet-1");
  EXPECT_EQ(ItemError(absl::OkStatus()).code(), v1::Error::INTERNAL);
}

}  // namespace
}  // namespace coffer::fetcher
