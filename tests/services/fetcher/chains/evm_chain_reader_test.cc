// EvmChainReader against a JSON-RPC node in memory: what the reader does
// when a node refuses aggregates as too large (halves them until they
// pass), and that every item is answered once with the block it was read
// at. The reader against a real node is tests/integration/fetcher_anvil_test.
#include "services/fetcher/chains/evm_chain_reader.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace coffer::fetcher {
namespace {

constexpr char kChain[] = "eip155:31337";
constexpr char kToken[] = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
constexpr char kMulticall[] = "0xcA11bde05977b3631167028862bE2a173976CA11";

std::string Word(uint64_t value) {
  std::string digits = absl::StrCat(absl::Hex(value));
  return std::string(64 - digits.size(), '0') + digits;
}

// aggregate3's return for `n` successful balanceOf calls, balance i+1.
std::string Aggregate3Result(size_t n) {
  std::string heads;
  std::string tails;
  for (size_t i = 0; i < n; ++i) {
    heads += Word(n * 32 + i * 128);
    tails += absl::StrCat(Word(1), Word(0x40), Word(0x20), Word(i + 1));
  }
  return absl::StrCat("0x", Word(0x20), Word(n), heads, tails);
}

// Answers eth_call to the Multicall3 with the aggregate's balances, unless
// it holds more than `max_calls` (then "out of gas", as nodes do for
// aggregates over their gas cap); records the aggregate sizes it saw.
class FakeNode : public UpstreamTransport {
 public:
  explicit FakeNode(size_t max_calls) : max_calls_(max_calls) {}

  void Send(size_t, UpstreamRequest request, Done done) override {
    rapidjson::Document batch;
    batch.Parse(request.body.c_str());
    std::vector<std::string> answers;
    for (const rapidjson::Value& call : batch.GetArray()) {
      const uint64_t id = call["id"].GetUint64();
      const std::string data = call["params"][0]["data"].GetString();
      // selector + offset + count: the count word says how many calls.
      const size_t n = std::stoul(data.substr(10 + 64, 64), nullptr, 16);
      aggregate_sizes.push_back(n);
      answers.push_back(n > max_calls_
                            ? absl::StrCat(R"({"jsonrpc":"2.0","id":)", id,
                                           R"(,"error":{"code":-32000,"message":"out of gas"}})")
                            : absl::StrCat(R"({"jsonrpc":"2.0","id":)", id, R"(,"result":")",
                                           Aggregate3Result(n), R"("})"));
    }
    done(UpstreamReply{.http_status = 200,
                       .body = absl::StrCat("[", absl::StrJoin(answers, ","), "]")});
  }

  std::vector<size_t> aggregate_sizes;

 private:
  const size_t max_calls_;
};

TEST(EvmChainReaderTest, AnAggregateTheNodeRefusesIsHalvedUntilItPasses) {
  EndpointSet endpoints({{.name = "node", .host = "node", .batch_size = 100}});
  FakeNode node(/*max_calls=*/3);
  EvmChainOptions options;
  options.chain_id = kChain;
  options.native = {.asset_id = absl::StrCat(kChain, "/slip44:60"), .decimals = 18};
  options.tokens = {{.asset_id = absl::StrCat(kChain, "/erc20:", kToken), .decimals = 6}};
  options.multicall_address = kMulticall;
  options.aggregate_size = 10;
  EvmChainReader reader(options, &endpoints, &node);

  ChainCatalog catalog;
  catalog[kChain] = {.kind = v1::CHAIN_KIND_EVM, .asset_ids = {options.tokens[0].asset_id}};
  v1::QueryBalancesRequest request;
  for (int i = 0; i < 10; ++i) {
    request.add_queries()->set_account_id(absl::StrFormat("%s:0x%040x", kChain, i + 1));
  }
  absl::StatusOr<BalancePlan> plan = PlanBalances(request, catalog, 100);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::optional<v1::QueryBalancesResponse> answer;
  auto call = std::make_shared<BalanceCall>(
      *std::move(plan),
      BalanceCall::Sink{.on_done = [&](absl::StatusOr<v1::QueryBalancesResponse> response) {
        answer = *std::move(response);
      }});
  call->Start();
  v1::BlockRef block;
  block.set_chain_id(kChain);
  block.set_number(9);
  reader.ReadBalances(call, call->plan().items_by_chain.at(kChain), block, false);

  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->results_size(), 10);
  // 10 refused, its halves of 5 refused, then 2 and 3 pass: each item got
  // its position within the aggregate that passed.
  EXPECT_EQ(node.aggregate_sizes, (std::vector<size_t>{10, 5, 2, 3, 5, 2, 3}));
  std::vector<std::string> units;
  for (const v1::BalanceResult& result : answer->results()) {
    ASSERT_TRUE(result.balance().has_amount()) << result.balance().error().message();
    EXPECT_EQ(result.balance().amount().decimals(), 6u);
    EXPECT_EQ(result.balance().block_number(), 9u);
    units.push_back(result.balance().amount().units());
  }
  EXPECT_EQ(units, (std::vector<std::string>{"1", "2", "1", "2", "3", "1", "2", "1", "2", "3"}));
}

TEST(EvmChainReaderTest, OneBalanceTheNodeStillRefusesIsThatItemsError) {
  EndpointSet endpoints({{.name = "node", .host = "node", .batch_size = 100}});
  FakeNode node(/*max_calls=*/0);
  EvmChainOptions options;
  options.chain_id = kChain;
  options.native = {.asset_id = absl::StrCat(kChain, "/slip44:60"), .decimals = 18};
  options.tokens = {{.asset_id = absl::StrCat(kChain, "/erc20:", kToken), .decimals = 6}};
  options.multicall_address = kMulticall;
  EvmChainReader reader(options, &endpoints, &node);
  ChainCatalog catalog;
  catalog[kChain] = {.kind = v1::CHAIN_KIND_EVM, .asset_ids = {options.tokens[0].asset_id}};
  v1::QueryBalancesRequest request;
  request.add_queries()->set_account_id(absl::StrFormat("%s:0x%040x", kChain, 1));
  request.add_queries()->set_account_id(absl::StrFormat("%s:0x%040x", kChain, 2));
  absl::StatusOr<BalancePlan> plan = PlanBalances(request, catalog, 100);
  ASSERT_TRUE(plan.ok());
  std::optional<v1::QueryBalancesResponse> answer;
  auto call = std::make_shared<BalanceCall>(
      *std::move(plan),
      BalanceCall::Sink{.on_done = [&](absl::StatusOr<v1::QueryBalancesResponse> response) {
        answer = *std::move(response);
      }});
  call->Start();
  v1::BlockRef block;
  block.set_number(1);
  reader.ReadBalances(call, call->plan().items_by_chain.at(kChain), block, false);
  ASSERT_TRUE(answer.has_value());
  for (const v1::BalanceResult& result : answer->results()) {
    EXPECT_EQ(result.balance().error().code(), v1::Error::FAILED_PRECONDITION);
    EXPECT_NE(result.balance().error().message().find("out of gas"), std::string::npos);
    EXPECT_EQ(result.balance().error().upstream(), "node");
  }
  EXPECT_EQ(node.aggregate_sizes, (std::vector<size_t>{2, 1, 1}));
}

}  // namespace
}  // namespace coffer::fetcher
