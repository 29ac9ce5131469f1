// coffer-fetcher reading Bitcoin balances from a small Esplora-compatible
// server run by the test: confirmed and unconfirmed sums exact, the tip
// stated by every item, and a bad answer failing only its own item.
#include <httplib.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "coffer/v1/fetcher.grpc.pb.h"
#include "tests/integration/integration_test_base.h"

namespace coffer::testing {
namespace {

using v1::Fetcher;

constexpr char kBitcoin[] = "bip122:000000000019d6689c085ae165831e93";
constexpr char kRich[] = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
constexpr char kBroken[] = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2";
constexpr char kTipHash[] = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054";

class EsploraServer {
 public:
  EsploraServer() {
    server_.Get("/blocks/tip/height", [](const httplib::Request&, httplib::Response& response) {
      response.set_content("830000", "text/plain");
    });
    server_.Get("/blocks/tip/hash", [](const httplib::Request&, httplib::Response& response) {
      response.set_content(kTipHash, "text/plain");
    });
    server_.Get(
        R"(/address/([^/]+))", [](const httplib::Request& request, httplib::Response& response) {
          const std::string address = request.matches[1];
          if (address == kRich) {
            // More than 2^53 satoshis: exact, never a double.
            response.set_content(
                absl::StrCat(R"({"address":")", kRich, R"(","chain_stats":{"funded_txo_sum":)",
                             R"(9007199254740993,"spent_txo_sum":1},"mempool_stats":)",
                             R"({"funded_txo_sum":5000,"spent_txo_sum":700}})"),
                "application/json");
            return;
          }
          response.set_content(R"({"chain_stats":{"funded_txo_sum":"lots"}})", "application/json");
        });
    // The fetcher keeps connections alive: without a short idle timeout,
    // stop() would wait out httplib's default of 5 s for them.
    server_.set_keep_alive_timeout(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~EsploraServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class FetcherEsploraTest : public IntegrationTestBase {};

TEST_F(FetcherEsploraTest, ReadsConfirmedAndMempoolSumsAtTheTip) {
  EsploraServer esplora;
  const std::string path = absl::StrCat(directory(), "/bitcoin.textproto");
  std::ofstream(path) << absl::StrCat(
      "chains { chain_id: \"", kBitcoin, "\" name: \"Bitcoin\" ",
      "endpoints { name: \"esplora\" url: \"", esplora.url(),
      "\" protocol: ENDPOINT_PROTOCOL_ESPLORA } native_asset { symbol: \"BTC\" } }\n");
  ServiceProcess& fetcher = StartService(Service::kFetcher, {absl::StrCat("--config=", path)});
  auto client = Client<Fetcher>(fetcher);

  v1::QueryBalancesRequest request;
  request.add_queries()->set_account_id(absl::StrCat(kBitcoin, ":", kRich));
  request.add_queries()->set_account_id(absl::StrCat(kBitcoin, ":", kBroken));
  absl::StatusOr<v1::QueryBalancesResponse> response =
      client->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryBalances, request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results_size(), 2);
  const v1::BalanceItem& rich = response->results(0).balance();
  ASSERT_TRUE(rich.has_amount()) << rich.error().message();
  EXPECT_EQ(rich.asset_id(), absl::StrCat(kBitcoin, "/slip44:0"));
  EXPECT_EQ(rich.amount().units(), "9007199254740992");
  EXPECT_EQ(rich.amount().decimals(), 8u);
  EXPECT_EQ(rich.unconfirmed_incoming().units(), "5000");
  EXPECT_EQ(rich.unconfirmed_outgoing().units(), "700");
  EXPECT_EQ(rich.block_number(), 830000u);
  EXPECT_EQ(rich.block_hash(), kTipHash);
  EXPECT_EQ(rich.source(), "esplora");
  const v1::BalanceItem& broken = response->results(1).balance();
  EXPECT_EQ(broken.error().code(), v1::Error::DATA_LOSS) << broken.error().message();
  EXPECT_EQ(broken.error().upstream(), "esplora");
  ASSERT_EQ(response->blocks_size(), 1);
  EXPECT_EQ(response->blocks(0).number(), 830000u);
}

}  // namespace
}  // namespace coffer::testing
