#include "services/fetcher/balance_fetch.h"

#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"

#include "tests/services/fetcher/fake_chain_reader.h"

namespace coffer::fetcher {
namespace {

using testing::FakeChainReader;

constexpr char kAnvil[] = "eip155:31337";
constexpr char kEther[] = "eip155:31337/slip44:60";
constexpr char kAccount[] = "eip155:31337:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
constexpr char kOptimism[] = "eip155:10";
constexpr char kOpEther[] = "eip155:10/slip44:60";
constexpr char kOpAccount[] = "eip155:10:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

class BalanceFetchTest : public ::testing::Test {
 protected:
  BalanceFetchTest() : anvil_(kAnvil, 100), optimism_(kOptimism, 5000) {
    catalog_[kAnvil] = {.kind = v1::CHAIN_KIND_EVM, .asset_ids = {kEther}};
    catalog_[kOptimism] = {.kind = v1::CHAIN_KIND_EVM, .asset_ids = {kOpEther}};
    readers_[kAnvil] = &anvil_;
    readers_[kOptimism] = &optimism_;
    anvil_.SetBalance(kAccount, kEther, "1000");
    optimism_.SetBalance(kOpAccount, kOpEther, "2000");
  }

  v1::QueryBalancesResponse Fetch(const v1::QueryBalancesRequest& request) {
    absl::StatusOr<BalancePlan> plan = PlanBalances(request, catalog_, 100);
    EXPECT_TRUE(plan.ok()) << plan.status();
    std::optional<v1::QueryBalancesResponse> answer;
    auto call = std::make_shared<BalanceCall>(
        *std::move(plan),
        BalanceCall::Sink{.on_done = [&](absl::StatusOr<v1::QueryBalancesResponse> response) {
          answer = *std::move(response);
        }});
    call->Start();
    FetchBalances(call, readers_, request.bypass_cache());
    EXPECT_TRUE(answer.has_value()) << "the fake readers answer synchronously";
    return answer.value_or(v1::QueryBalancesResponse());
  }

  static v1::QueryBalancesRequest BothChains() {
    v1::QueryBalancesRequest request;
    request.add_queries()->set_account_id(kAccount);
    request.add_queries()->set_account_id(kOpAccount);
    return request;
  }

  ChainCatalog catalog_;
  FakeChainReader anvil_;
  FakeChainReader optimism_;
  ChainReaders readers_;
};

TEST_F(BalanceFetchTest, EachChainIsReadAtItsHeadResolvedOnce) {
  v1::QueryBalancesRequest request = BothChains();
  request.add_queries()->set_account_id(kAccount);
  const v1::QueryBalancesResponse response = Fetch(request);
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).balance().amount().units(), "1000");
  EXPECT_EQ(response.results(0).balance().block_number(), 100u);
  EXPECT_EQ(response.results(1).balance().amount().units(), "2000");
  EXPECT_EQ(response.results(1).balance().block_number(), 5000u);
  EXPECT_EQ(anvil_.selectors.size(), 1u) << "one head per chain per request";
  EXPECT_EQ(anvil_.read_blocks, (std::vector<uint64_t>{100}));
  EXPECT_EQ(response.blocks_size(), 2);
}

TEST_F(BalanceFetchTest, APinnedBlockIsWhatTheChainIsReadAt) {
  v1::QueryBalancesRequest request = BothChains();
  v1::BlockSelector* pinned = request.add_blocks();
  pinned->set_chain_id(kAnvil);
  pinned->set_number(42);
  request.set_bypass_cache(true);
  const v1::QueryBalancesResponse response = Fetch(request);
  EXPECT_EQ(response.results(0).balance().block_number(), 42u);
  EXPECT_EQ(response.results(1).balance().block_number(), 5000u);
  ASSERT_EQ(anvil_.selectors.size(), 1u);
  EXPECT_EQ(anvil_.selectors[0].number(), 42u);
  EXPECT_EQ(anvil_.bypassed, (std::vector<bool>{true}));
}

TEST_F(BalanceFetchTest, AChainWhoseBlockFailsFailsOnlyItsOwnItems) {
  v1::Error error;
  error.set_code(v1::Error::UNAVAILABLE);
  error.set_message("eth_getBlockByNumber: connection refused");
  error.set_upstream("op-1");
  optimism_.FailBlocks(error);
  const v1::QueryBalancesResponse response = Fetch(BothChains());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).balance().amount().units(), "1000");
  EXPECT_EQ(response.results(1).balance().error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(response.results(1).balance().error().upstream(), "op-1");
  EXPECT_TRUE(optimism_.read_blocks.empty());
  ASSERT_EQ(response.blocks_size(), 1);
  EXPECT_EQ(response.blocks(0).chain_id(), kAnvil);
}

TEST_F(BalanceFetchTest, AChainWithoutAReaderIsAnsweredNotLeftHanging) {
  readers_.erase(kOptimism);
  const v1::QueryBalancesResponse response = Fetch(BothChains());
  EXPECT_EQ(response.results(1).balance().error().code(), v1::Error::INTERNAL);
}

}  // namespace
}  // namespace coffer::fetcher
