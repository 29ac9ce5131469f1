// coffer.v1.Fetcher through a real async gRPC server, with chain and price
// readers in memory: what the service itself decides (validation, plans,
// ordering, streaming, ResolveBlocks, ListUpstreams), apart from upstreams.
#include "services/fetcher/fetcher_service.h"

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "coffer/v1/fetcher.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "common/grpc/async_server.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "common/metrics/registry.h"
#include "tests/services/fetcher/fake_chain_reader.h"

namespace coffer::fetcher {
namespace {

using testing::FakeChainReader;
using v1::Fetcher;

constexpr char kAnvil[] = "eip155:31337";
constexpr char kEther[] = "eip155:31337/slip44:60";
constexpr char kToken[] = "eip155:31337/erc20:0x5FbDB2315678afecb367f032d93F642f64180aa3";
constexpr char kAccount[] = "eip155:31337:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

class FakePriceReader : public PriceReader {
 public:
  void QueryPrices(const v1::QueryPricesRequest& request, Done done) override {
    requests.push_back(request);
    v1::QueryPricesResponse response;
    for (const std::string& asset_id : request.asset_ids()) {
      v1::PriceResult* result = response.add_results();
      result->set_asset_id(asset_id);
      result->mutable_price()->set_asset_id(asset_id);
      result->mutable_price()->set_quote_currency(request.quote_currency());
    }
    done(std::move(response));
  }
  std::vector<v1::EndpointStatus> Status() const override {
    v1::EndpointStatus source;
    source.set_name("coingecko");
    return {source};
  }
  absl::Duration ttl() const override { return absl::Seconds(60); }

  std::vector<v1::QueryPricesRequest> requests;
};

class FetcherServiceTest : public ::testing::Test {
 protected:
  FetcherServiceTest() : anvil_(kAnvil, 100) {
    anvil_.SetBalance(kAccount, kEther, "1000000000000000000");
    anvil_.SetBalance(kAccount, kToken, "5");
    FetcherService::Options options;
    options.chain_order = {kAnvil};
    options.catalog[kAnvil] = {.kind = v1::CHAIN_KIND_EVM, .asset_ids = {kEther, kToken}};
    options.readers[kAnvil] = &anvil_;
    options.prices = &prices_;
    options.max_batch_items = 50;
    service_ = std::make_unique<FetcherService>(std::move(options));

    grpc_util::AsyncServer::Options server_options;
    server_options.listen_address = "127.0.0.1:0";
    server_options.completion_queues = 1;
    server_options.registry = &registry_;
    server_ = std::make_unique<grpc_util::AsyncServer>(server_options);
    service_->Register(*server_);
    absl::Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started;
    client_ = std::make_unique<grpc_util::AsyncClient<Fetcher>>(
        grpc_util::MakeChannel(absl::StrCat("127.0.0.1:", server_->port())), &queue_,
        absl::Seconds(10));
  }

  ~FetcherServiceTest() override { server_->Shutdown(absl::Seconds(5)); }

  metrics::Registry registry_;
  FakeChainReader anvil_;
  FakePriceReader prices_;
  std::unique_ptr<FetcherService> service_;
  std::unique_ptr<grpc_util::AsyncServer> server_;
  grpc_util::ClientQueue queue_;
  std::unique_ptr<grpc_util::AsyncClient<Fetcher>> client_;
};

TEST_F(FetcherServiceTest, QueryBalancesAnswersEveryItemWithItsBlock) {
  v1::QueryBalancesRequest request;
  request.add_queries()->set_account_id(kAccount);
  request.add_queries()->set_account_id("not an account");
  absl::StatusOr<v1::QueryBalancesResponse> response =
      client_->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryBalances, request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results_size(), 3);
  EXPECT_EQ(response->results(0).balance().amount().units(), "1000000000000000000");
  EXPECT_EQ(response->results(0).balance().block_number(), 100u);
  EXPECT_EQ(response->results(1).balance().amount().units(), "5");
  EXPECT_EQ(response->results(2).query_index(), 1u);
  EXPECT_EQ(response->results(2).balance().error().code(), v1::Error::INVALID_ARGUMENT);
  ASSERT_EQ(response->blocks_size(), 1);
  EXPECT_EQ(response->blocks(0).hash(), "0xhash100");
}

TEST_F(FetcherServiceTest, OversizedAndMalformedRequestsFailAsAWhole) {
  v1::QueryBalancesRequest request;
  for (int i = 0; i < 26; ++i) request.add_queries()->set_account_id(kAccount);  // 52 items
  absl::StatusOr<v1::QueryBalancesResponse> response =
      client_->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryBalances, request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted) << response.status();
  EXPECT_NE(response.status().message().find("50"), std::string::npos) << response.status();

  response =
      client_->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryBalances, v1::QueryBalancesRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FetcherServiceTest, StreamBalancesSendsEveryItemOnceWithProgress) {
  v1::QueryBalancesRequest request;
  request.add_queries()->set_account_id(kAccount);
  request.add_queries()->set_account_id("eip155:31337:0x12");
  std::vector<v1::StreamBalancesResponse> messages;
  std::promise<absl::Status> finished;
  client_->Stream(
      &Fetcher::Stub::PrepareAsyncStreamBalances, request,
      [&messages](const v1::StreamBalancesResponse& message) { messages.push_back(message); },
      [&finished](absl::Status status) { finished.set_value(status); });
  const absl::Status status = finished.get_future().get();
  ASSERT_TRUE(status.ok()) << status;
  size_t items = 0;
  size_t blocks = 0;
  for (const v1::StreamBalancesResponse& message : messages) {
    items += message.results_size();
    blocks += message.blocks_size();
    EXPECT_EQ(message.progress().total(), 3u);
  }
  EXPECT_EQ(items, 3u);
  EXPECT_EQ(blocks, 1u);
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages.back().progress().done(), 3u);
}

TEST_F(FetcherServiceTest, ResolveBlocksAnswersEveryChainOrNamesTheUnknownOne) {
  absl::StatusOr<v1::ResolveBlocksResponse> heads =
      client_->CallBlocking(&Fetcher::Stub::PrepareAsyncResolveBlocks, v1::ResolveBlocksRequest());
  ASSERT_TRUE(heads.ok()) << heads.status();
  ASSERT_EQ(heads->results_size(), 1);
  EXPECT_EQ(heads->results(0).chain_id(), kAnvil);
  EXPECT_EQ(heads->results(0).block().number(), 100u);

  v1::ResolveBlocksRequest request;
  request.add_blocks()->set_chain_id("eip155:10");
  v1::BlockSelector* pinned = request.add_blocks();
  pinned->set_chain_id(kAnvil);
  pinned->set_number(7);
  absl::StatusOr<v1::ResolveBlocksResponse> resolved =
      client_->CallBlocking(&Fetcher::Stub::PrepareAsyncResolveBlocks, request);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  ASSERT_EQ(resolved->results_size(), 2);
  EXPECT_EQ(resolved->results(0).error().code(), v1::Error::NOT_FOUND);
  EXPECT_EQ(resolved->results(1).block().number(), 7u);
}

TEST_F(FetcherServiceTest, ListUpstreamsShowsChainsAndPriceSources) {
  absl::StatusOr<v1::ListUpstreamsResponse> all =
      client_->CallBlocking(&Fetcher::Stub::PrepareAsyncListUpstreams, v1::ListUpstreamsRequest());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->chains_size(), 1);
  EXPECT_EQ(all->chains(0).chain_id(), kAnvil);
  ASSERT_EQ(all->price_sources_size(), 1);
  EXPECT_EQ(all->price_ttl().seconds(), 60);

  v1::ListUpstreamsRequest unknown;
  unknown.add_chain_ids("eip155:10");
  EXPECT_EQ(
      client_->CallBlocking(&Fetcher::Stub::PrepareAsyncListUpstreams, unknown).status().code(),
      absl::StatusCode::kNotFound);
}

TEST_F(FetcherServiceTest, QueryPricesNormalizesAndValidatesBeforeAskingTheSource) {
  v1::QueryPricesRequest request;
  request.add_asset_ids("eip155:31337/erc20:0x5fbdb2315678afecb367f032d93f642f64180aa3");
  request.set_quote_currency("usd");
  absl::StatusOr<v1::QueryPricesResponse> prices =
      client_->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryPrices, request);
  ASSERT_TRUE(prices.ok()) << prices.status();
  ASSERT_EQ(prices_.requests.size(), 1u);
  EXPECT_EQ(prices_.requests[0].asset_ids(0), kToken);

  request.add_asset_ids(kToken);
  EXPECT_EQ(client_->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryPrices, request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.clear_asset_ids();
  request.add_asset_ids(kEther);
  request.set_quote_currency("USD");
  EXPECT_EQ(client_->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryPrices, request).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(prices_.requests.size(), 1u);
}

}  // namespace
}  // namespace coffer::fetcher
