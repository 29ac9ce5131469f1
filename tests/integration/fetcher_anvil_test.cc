// coffer-fetcher against a real Ethereum node: anvil started for the test,
// a test token and Multicall3 deployed on it, and the real binary reading
// native and ERC-20 balances through its gRPC API, aggregated through
// Multicall3 or the deployless scanner, or one eth_call each, at a pinned
// block, for thousands of addresses.
#include <httplib.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

#include "coffer/v1/fetcher.grpc.pb.h"
#include "tests/integration/integration_test_base.h"
#include "tests/testing/anvil.h"
#include "tests/testing/anvil_fetcher_config.h"
#include "tests/testing/test_contracts.h"

namespace coffer::testing {
namespace {

using v1::Fetcher;

constexpr const char* kChain = kAnvilChain;
constexpr const char* kEther = kAnvilEther;

// Deterministic addresses nobody funded: 0x0000...00c0ffee<n>.
std::string Address(int n) { return absl::StrFormat("0x%040x", 0xc0ffee00000ULL + n); }

class FetcherAnvilTest : public IntegrationTestBase {
 protected:
  void SetUp() override {
    if (auto reason = AnvilNode::SkipReason()) GTEST_SKIP() << *reason;
    absl::StatusOr<std::unique_ptr<AnvilNode>> node = AnvilNode::Start();
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
    absl::StatusOr<std::string> token = DeployTestToken(*node_, 6);
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
    absl::StatusOr<std::string> multicall = DeployContract(*node_, "Multicall3");
    ASSERT_TRUE(multicall.ok()) << multicall.status();
    multicall_ = *multicall;
  }

  std::string TokenAsset() const { return AnvilTokenAsset(token_); }

  // Starts the fetcher on a config for this node; `multicall` and
  // `aggregate_size` as the chain config says (empty: the scanner).
  std::unique_ptr<grpc_util::AsyncClient<Fetcher>> StartFetcher(const std::string& multicall,
                                                                int aggregate_size = 500,
                                                                int batch_size = 100) {
    const std::string path = absl::StrCat(directory(), "/fetcher-", ++configs_, ".textproto");
    std::ofstream(path) << AnvilFetcherConfig(*node_, {.token = token_,
                                                       .multicall = multicall,
                                                       .aggregate_size = aggregate_size,
                                                       .batch_size = batch_size});
    ServiceProcess& fetcher = StartService(Service::kFetcher, {absl::StrCat("--config=", path)});
    return Client<Fetcher>(fetcher);
  }

  v1::QueryBalancesResponse Query(grpc_util::AsyncClient<Fetcher>& client,
                                  const v1::QueryBalancesRequest& request) {
    grpc_util::CallOptions options;
    options.timeout = absl::Seconds(60);
    absl::StatusOr<v1::QueryBalancesResponse> response =
        client.CallBlocking(&Fetcher::Stub::PrepareAsyncQueryBalances, request, options);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::QueryBalancesResponse();
  }

  std::unique_ptr<AnvilNode> node_;
  std::string token_;
  std::string multicall_;
  int configs_ = 0;
};

TEST_F(FetcherAnvilTest, ReadsNativeAndTokenBalancesExactlyAtOneBlock) {
  const std::string fresh = Address(1);
  ASSERT_TRUE(node_->SendEther(node_->account(0), fresh, "1234567890123456789").ok());
  ASSERT_TRUE(node_->Mint(token_, fresh, "42000000").ok());
  // More than 2^64 base units: exact, never through a double.
  ASSERT_TRUE(
      node_->Mint(token_, node_->account(1), "340282366920938463463374607431768211456").ok());
  auto client = StartFetcher(multicall_);

  v1::QueryBalancesRequest request;
  request.add_queries()->set_account_id(absl::StrCat(kChain, ":", fresh));
  request.add_queries()->set_account_id(absl::StrCat(kChain, ":", node_->account(1)));
  const v1::QueryBalancesResponse response = Query(*client, request);
  ASSERT_EQ(response.results_size(), 4);
  const v1::BalanceItem& ether = response.results(0).balance();
  ASSERT_TRUE(ether.has_amount()) << ether.error().message();
  EXPECT_EQ(ether.amount().units(), "1234567890123456789");
  EXPECT_EQ(ether.amount().decimals(), 18u);
  EXPECT_EQ(ether.source(), "anvil-0");
  const v1::BalanceItem& token = response.results(1).balance();
  ASSERT_TRUE(token.has_amount()) << token.error().message();
  EXPECT_EQ(token.amount().units(), "42000000");
  EXPECT_EQ(token.amount().decimals(), 6u) << "read with decimals()";
  EXPECT_EQ(response.results(3).balance().amount().units(),
            "340282366920938463463374607431768211456");
  // One block for the whole request, stated by every item.
  ASSERT_EQ(response.blocks_size(), 1);
  absl::StatusOr<uint64_t> head = node_->BlockNumber();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(response.blocks(0).number(), *head);
  EXPECT_FALSE(response.blocks(0).hash().empty());
  for (const v1::BalanceResult& result : response.results()) {
    EXPECT_EQ(result.balance().block_number(), *head);
    EXPECT_EQ(result.balance().block_hash(), response.blocks(0).hash());
  }

  // Again at once: the head is answered from the cache, decimals are known.
  const v1::QueryBalancesResponse again = Query(*client, request);
  ASSERT_EQ(again.results_size(), 4);
  EXPECT_EQ(again.results(1).balance().amount().units(), "42000000")
      << again.results(1).balance().error().message();

  // The endpoint as ListUpstreams shows it after that work.
  absl::StatusOr<v1::ListUpstreamsResponse> upstreams =
      client->CallBlocking(&Fetcher::Stub::PrepareAsyncListUpstreams, v1::ListUpstreamsRequest());
  ASSERT_TRUE(upstreams.ok()) << upstreams.status();
  ASSERT_EQ(upstreams->chains_size(), 1);
  const v1::ChainStatus& chain = upstreams->chains(0);
  EXPECT_TRUE(absl::EqualsIgnoreCase(chain.multicall_address(), multicall_))
      << chain.multicall_address();
  EXPECT_EQ(chain.head().number(), *head);
  ASSERT_EQ(chain.assets_size(), 2);
  EXPECT_EQ(chain.assets(1).decimals(), 6u) << "learnt with decimals()";
  ASSERT_EQ(chain.endpoints_size(), 1);
  const v1::EndpointStatus& endpoint = chain.endpoints(0);
  EXPECT_EQ(endpoint.name(), "anvil-0");
  EXPECT_EQ(endpoint.health(), v1::EndpointStatus::HEALTHY);
  EXPECT_EQ(endpoint.batch_size(), 100u);
  EXPECT_GE(endpoint.requests(), 3u) << "head, native batch, decimals, aggregate";
  EXPECT_EQ(endpoint.failures(), 0u);
  EXPECT_GT(endpoint.latency_p50_ms(), 0);
}

TEST_F(FetcherAnvilTest, APinnedBlockReadsTheBalancesOfThatBlock) {
  const std::string holder = Address(2);
  ASSERT_TRUE(node_->Mint(token_, holder, "100").ok());
  absl::StatusOr<uint64_t> before = node_->BlockNumber();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(node_->Mint(token_, holder, "23").ok());
  auto client = StartFetcher(multicall_);

  v1::QueryBalancesRequest request;
  v1::BalanceQuery* query = request.add_queries();
  query->set_account_id(absl::StrCat(kChain, ":", holder));
  query->add_asset_ids(TokenAsset());
  v1::BlockSelector* pinned = request.add_blocks();
  pinned->set_chain_id(kChain);
  pinned->set_number(*before);
  EXPECT_EQ(Query(*client, request).results(0).balance().amount().units(), "100");
  request.clear_blocks();
  EXPECT_EQ(Query(*client, request).results(0).balance().amount().units(), "123");
}

TEST_F(FetcherAnvilTest, ThousandsOfAddressesEveryWayOfReadingTokens) {
  constexpr int kAddresses = 2000;
  for (int i : {0, 7, 1999}) {
    ASSERT_TRUE(node_->Mint(token_, Address(100 + i), absl::StrCat(1000 + i)).ok());
    ASSERT_TRUE(node_->SetBalance(Address(100 + i), absl::StrCat(5000 + i)).ok());
  }
  v1::QueryBalancesRequest request;
  for (int i = 0; i < kAddresses; ++i) {
    request.add_queries()->set_account_id(absl::StrCat(kChain, ":", Address(100 + i)));
  }
  // Multicall3; the deployless scanner; one eth_call per balance in
  // JSON-RPC batches; and one call per HTTP request.
  struct Way {
    std::string multicall;
    int aggregate_size;
    int batch_size;
  };
  for (const Way& way :
       {Way{multicall_, 500, 100}, Way{"", 383, 100}, Way{"", 1, 100}, Way{multicall_, 500, 1}}) {
    SCOPED_TRACE(absl::StrCat("multicall=", way.multicall, " aggregate_size=", way.aggregate_size,
                              " batch_size=", way.batch_size));
    auto client = StartFetcher(way.multicall, way.aggregate_size, way.batch_size);
    const v1::QueryBalancesResponse response = Query(*client, request);
    ASSERT_EQ(response.results_size(), 2 * kAddresses);
    for (int i = 0; i < kAddresses; ++i) {
      const bool funded = i == 0 || i == 7 || i == 1999;
      const v1::BalanceItem& ether = response.results(2 * i).balance();
      const v1::BalanceItem& token = response.results(2 * i + 1).balance();
      ASSERT_TRUE(ether.has_amount()) << i << ": " << ether.error().message();
      ASSERT_TRUE(token.has_amount()) << i << ": " << token.error().message();
      EXPECT_EQ(ether.amount().units(), funded ? absl::StrCat(5000 + i) : "0") << i;
      EXPECT_EQ(token.amount().units(), funded ? absl::StrCat(1000 + i) : "0") << i;
    }
  }
}

TEST_F(FetcherAnvilTest, ATokenThatFailsFailsOnlyItsOwnItems) {
  absl::StatusOr<std::string> reverting = DeployContract(*node_, "RevertingToken");
  ASSERT_TRUE(reverting.ok()) << reverting.status();
  ASSERT_TRUE(node_->Mint(token_, Address(3), "9").ok());
  for (const std::string& multicall : {multicall_, std::string()}) {
    SCOPED_TRACE(multicall.empty() ? "scanner" : "multicall");
    auto client = StartFetcher(multicall);
    v1::QueryBalancesRequest request;
    v1::BalanceQuery* query = request.add_queries();
    query->set_account_id(absl::StrCat(kChain, ":", Address(3)));
    query->add_asset_ids(absl::StrCat(kChain, "/erc20:", *reverting));
    query->add_asset_ids(TokenAsset());
    query->add_asset_ids(kEther);
    const v1::QueryBalancesResponse response = Query(*client, request);
    ASSERT_EQ(response.results_size(), 3);
    EXPECT_TRUE(response.results(0).balance().has_error()) << "never a zero balance";
    EXPECT_EQ(response.results(1).balance().amount().units(), "9");
    EXPECT_EQ(response.results(2).balance().amount().units(), "0");
  }
}

// Tokens missing from the configuration: one whose decimals() the fetcher
// reads, and an address with no code. Asked twice in a row, the second
// time at the cached head (a path that once deadlocked), every item is
// answered, each on its own: never a hang, never a zero for the codeless one.
TEST_F(FetcherAnvilTest, UnconfiguredTokensAreAnsweredPerItemAlsoAtACachedHead) {
  absl::StatusOr<std::string> unlisted = DeployTestToken(*node_, 8);
  ASSERT_TRUE(unlisted.ok()) << unlisted.status();
  ASSERT_TRUE(node_->Mint(*unlisted, Address(6), "5").ok());
  ASSERT_TRUE(node_->Mint(token_, Address(6), "11").ok());
  const std::string codeless =
      absl::StrCat(kChain, "/erc20:0x00000000000000000000000000000000deadbeef");
  struct Way {
    std::string multicall;
    int aggregate_size;
  };
  for (const Way& way : {Way{multicall_, 500}, Way{"", 383}, Way{"", 1}}) {
    SCOPED_TRACE(absl::StrCat("multicall=", way.multicall, " aggregate_size=", way.aggregate_size));
    auto client = StartFetcher(way.multicall, way.aggregate_size);
    v1::QueryBalancesRequest request;
    v1::BalanceQuery* query = request.add_queries();
    query->set_account_id(absl::StrCat(kChain, ":", Address(6)));
    query->add_asset_ids(absl::StrCat(kChain, "/erc20:", *unlisted));
    query->add_asset_ids(codeless);
    query->add_asset_ids(TokenAsset());
    for (int round = 0; round < 2; ++round) {
      SCOPED_TRACE(round == 0 ? "head read" : "head cached");
      const v1::QueryBalancesResponse response = Query(*client, request);
      ASSERT_EQ(response.results_size(), 3);
      const v1::BalanceItem& read = response.results(0).balance();
      ASSERT_TRUE(read.has_amount()) << read.error().message();
      EXPECT_EQ(read.amount().units(), "5");
      EXPECT_EQ(read.amount().decimals(), 8u) << "read with decimals()";
      const v1::BalanceItem& none = response.results(1).balance();
      ASSERT_TRUE(none.has_error()) << "no code at the address: an error, never a zero";
      EXPECT_EQ(none.error().code(), v1::Error::FAILED_PRECONDITION) << none.error().message();
      EXPECT_EQ(response.results(2).balance().amount().units(), "11");
    }
  }
}

TEST_F(FetcherAnvilTest, ADeadEndpointFailsItsItemsAsUnavailableNotAsZero) {
  const int port = node_->port();
  node_.reset();  // the node is gone
  const std::string path = absl::StrCat(directory(), "/dead.textproto");
  std::ofstream(path) << absl::StrCat(
      "chains { chain_id: \"", kChain, "\" name: \"anvil\" kind: CHAIN_KIND_EVM ",
      "endpoints { name: \"gone\" url: \"http://127.0.0.1:", port, "\" } ",
      "native_asset { asset_id: \"", kEther, "\" symbol: \"ETH\" decimals: 18 } }\n",
      "http { max_attempts: 1 }\n");
  ServiceProcess& fetcher = StartService(Service::kFetcher, {absl::StrCat("--config=", path)});
  auto client = Client<Fetcher>(fetcher);
  v1::QueryBalancesRequest request;
  request.add_queries()->set_account_id(absl::StrCat(kChain, ":", Address(4)));
  const v1::QueryBalancesResponse response = Query(*client, request);
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).balance().error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(response.results(0).balance().error().upstream(), "gone");
}

// A node that answers eth_blockNumber but fails every eth_call, as nodes
// with execution disabled or broken do.
class CallRefusingNode {
 public:
  CallRefusingNode() {
    server_.Post("/", [](const httplib::Request& request, httplib::Response& response) {
      const bool call = request.body.find("eth_call") != std::string::npos;
      response.set_content(
          call
              ? R"([{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method not found"}}])"
              : R"([{"jsonrpc":"2.0","id":0,"result":"0x1"}])",
          "application/json");
    });
    server_.set_keep_alive_timeout(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~CallRefusingNode() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(FetcherAnvilTest, ProbesWithARealEthCallAndPreferHealthyEndpoints) {
  CallRefusingNode broken;
  const std::string path = absl::StrCat(directory(), "/probed.textproto");
  std::ofstream(path) << absl::StrCat(
      "chains { chain_id: \"", kChain, "\" name: \"anvil\" kind: CHAIN_KIND_EVM ",
      "endpoints { name: \"no-calls\" url: \"", broken.url(), "\" } ",
      "endpoints { name: \"anvil-0\" url: \"", node_->url(), "\" } ", "native_asset { asset_id: \"",
      kEther, "\" symbol: \"ETH\" decimals: 18 } }\n");
  ServiceProcess& fetcher =
      StartService(Service::kFetcher, {absl::StrCat("--config=", path), "--probe_interval=100ms"});
  auto client = Client<Fetcher>(fetcher);

  v1::ListUpstreamsResponse upstreams;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up) {
    absl::StatusOr<v1::ListUpstreamsResponse> listed =
        client->CallBlocking(&Fetcher::Stub::PrepareAsyncListUpstreams, v1::ListUpstreamsRequest());
    ASSERT_TRUE(listed.ok()) << listed.status();
    upstreams = *listed;
    if (upstreams.chains(0).endpoints(0).health() == v1::EndpointStatus::UNHEALTHY &&
        upstreams.chains(0).endpoints(1).health() == v1::EndpointStatus::HEALTHY) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(upstreams.chains(0).endpoints(0).health(), v1::EndpointStatus::UNHEALTHY)
      << upstreams.DebugString();
  EXPECT_NE(upstreams.chains(0).endpoints(0).last_error().message().find("eth_call"),
            std::string::npos);
  ASSERT_EQ(upstreams.chains(0).endpoints(1).health(), v1::EndpointStatus::HEALTHY);

  ASSERT_TRUE(node_->SetBalance(Address(5), "77").ok());
  v1::QueryBalancesRequest request;
  request.add_queries()->set_account_id(absl::StrCat(kChain, ":", Address(5)));
  const v1::QueryBalancesResponse response = Query(*client, request);
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).balance().amount().units(), "77");
  EXPECT_EQ(response.results(0).balance().source(), "anvil-0")
      << "the endpoint failing its probe is tried last";
}

}  // namespace
}  // namespace coffer::testing
