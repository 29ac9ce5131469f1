#include "services/fetcher/balance_call.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

constexpr char kAnvil[] = "eip155:31337";
constexpr char kEther[] = "eip155:31337/slip44:60";
constexpr char kToken[] = "eip155:31337/erc20:0x5FbDB2315678afecb367f032d93F642f64180aa3";
constexpr char kAccount[] = "eip155:31337:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

// Two queries of the account (ether and the token each) and one bad id.
BalancePlan Plan() {
  ChainCatalog catalog;
  catalog[kAnvil] = {.kind = v1::CHAIN_KIND_EVM, .asset_ids = {kEther, kToken}};
  v1::QueryBalancesRequest request;
  request.add_queries()->set_account_id(kAccount);
  request.add_queries()->set_account_id("eip155:31337:0xbad");
  request.add_queries()->set_account_id(kAccount);
  absl::StatusOr<BalancePlan> plan = PlanBalances(request, catalog, 100);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *std::move(plan);
}

ItemResult Balance(size_t index, const std::string& units) {
  ItemResult result;
  result.index = index;
  result.item.mutable_amount()->set_units(units);
  result.item.mutable_amount()->set_decimals(18);
  result.item.set_source("anvil");
  return result;
}

v1::BlockRef Block() {
  v1::BlockRef block;
  block.set_chain_id(kAnvil);
  block.set_number(7);
  block.set_hash("0xabc");
  return block;
}

TEST(BalanceCallTest, AnswersOnceEveryItemHasAResultInPlanOrder) {
  std::optional<absl::StatusOr<v1::QueryBalancesResponse>> answer;
  BalanceCall call(Plan(), {.on_done = [&](absl::StatusOr<v1::QueryBalancesResponse> response) {
                     ASSERT_FALSE(answer.has_value()) << "answered twice";
                     answer = std::move(response);
                   }});
  ASSERT_EQ(call.plan().items.size(), 5u);
  call.Start();
  call.AddBlock(Block());
  call.Complete({Balance(4, "40"), Balance(0, "0")});
  EXPECT_FALSE(answer.has_value());
  call.Complete({Balance(1, "10"), Balance(3, "30")});
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->ok()) << answer->status();
  const v1::QueryBalancesResponse& response = **answer;
  ASSERT_EQ(response.results_size(), 5);
  EXPECT_EQ(response.results(0).balance().amount().units(), "0");
  EXPECT_EQ(response.results(0).balance().asset_id(), kEther);
  EXPECT_EQ(response.results(1).balance().asset_id(), kToken);
  EXPECT_EQ(response.results(2).query_index(), 1u);
  EXPECT_EQ(response.results(2).balance().error().code(), v1::Error::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(3).query_index(), 2u);
  EXPECT_EQ(response.results(4).balance().amount().units(), "40");
  EXPECT_EQ(response.results(4).balance().account_id(), kAccount);
  ASSERT_EQ(response.blocks_size(), 1);
  EXPECT_EQ(response.blocks(0).number(), 7u);
}

TEST(BalanceCallTest, ASecondResultForAnItemIsDropped) {
  int answers = 0;
  std::string units;
  BalanceCall call(Plan(), {.on_done = [&](absl::StatusOr<v1::QueryBalancesResponse> response) {
                     ++answers;
                     units = response->results(0).balance().amount().units();
                   }});
  call.Start();
  call.Complete({Balance(0, "1"), Balance(0, "2"), Balance(99, "3")});
  call.Complete({Balance(1, "1"), Balance(3, "1")});
  EXPECT_EQ(answers, 0) << "item 4 is still missing";
  call.Complete({Balance(4, "1"), Balance(4, "5")});
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(units, "1");
}

TEST(BalanceCallTest, FailGivesEveryListedItemTheError) {
  std::optional<v1::QueryBalancesResponse> answer;
  BalanceCall call(Plan(), {.on_done = [&](absl::StatusOr<v1::QueryBalancesResponse> response) {
                     answer = *std::move(response);
                   }});
  call.Start();
  v1::Error error;
  error.set_code(v1::Error::UNAVAILABLE);
  error.set_message("every endpoint is cooling down");
  error.set_upstream("anvil");
  call.Fail({0, 1, 3, 4}, error);
  ASSERT_TRUE(answer.has_value());
  for (int i : {0, 1, 3, 4}) {
    EXPECT_EQ(answer->results(i).balance().error().code(), v1::Error::UNAVAILABLE) << i;
    EXPECT_EQ(answer->results(i).balance().error().upstream(), "anvil") << i;
  }
}

TEST(BalanceCallTest, StreamsEachCompletionWithProgressAndNewBlocks) {
  std::vector<v1::StreamBalancesResponse> messages;
  bool done = false;
  BalanceCall call(Plan(), {.on_message =
                                [&](v1::StreamBalancesResponse message) {
                                  messages.push_back(std::move(message));
                                  return true;
                                },
                            .on_done =
                                [&](absl::StatusOr<v1::QueryBalancesResponse> response) {
                                  EXPECT_TRUE(response.ok());
                                  done = true;
                                }});
  call.Start();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].results_size(), 1) << "the invalid account, answered at once";
  EXPECT_EQ(messages[0].progress().done(), 1u);
  EXPECT_EQ(messages[0].progress().total(), 5u);
  EXPECT_EQ(messages[0].progress().unit(), "items");

  call.AddBlock(Block());
  call.Complete({Balance(3, "3"), Balance(0, "0")});
  ASSERT_EQ(messages.size(), 2u);
  ASSERT_EQ(messages[1].results_size(), 2);
  EXPECT_EQ(messages[1].results(0).query_index(), 2u) << "completion order, not plan order";
  ASSERT_EQ(messages[1].blocks_size(), 1);
  EXPECT_EQ(messages[1].progress().done(), 3u);

  call.Complete({Balance(1, "1"), Balance(4, "4")});
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[2].blocks_size(), 0) << "each block is sent once";
  EXPECT_EQ(messages[2].progress().done(), 5u);
  EXPECT_TRUE(done);
}

TEST(BalanceCallTest, AClientThatIsGoneCancelsTheCall) {
  BalanceCall call(Plan(), {.on_message = [](v1::StreamBalancesResponse) { return false; },
                            .on_done = [](absl::StatusOr<v1::QueryBalancesResponse>) {}});
  EXPECT_FALSE(call.cancelled());
  call.Start();
  EXPECT_TRUE(call.cancelled());
}

TEST(BalanceCallTest, ResultsFromManyThreadsAreAllCounted) {
  ChainCatalog catalog;
  catalog[kAnvil] = {.kind = v1::CHAIN_KIND_EVM, .asset_ids = {kEther}};
  v1::QueryBalancesRequest request;
  for (int i = 0; i < 400; ++i) request.add_queries()->set_account_id(kAccount);
  absl::StatusOr<BalancePlan> plan = PlanBalances(request, catalog, 1000);
  ASSERT_TRUE(plan.ok());
  std::atomic<int> answers{0};
  int results = 0;
  BalanceCall call(*std::move(plan),
                   {.on_done = [&](absl::StatusOr<v1::QueryBalancesResponse> response) {
                     results = response->results_size();
                     answers.fetch_add(1);
                   }});
  call.Start();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&call, t] {
      for (size_t i = t; i < 400; i += 4) call.Complete({Balance(i, absl::StrCat(i))});
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(answers.load(), 1);
  EXPECT_EQ(results, 400);
}

}  // namespace
}  // namespace coffer::fetcher
