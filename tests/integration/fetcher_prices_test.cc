// coffer-fetcher's QueryPrices against small CoinGecko-compatible servers
// run by the test: exact prices, the TTL cache and its bypass, assets
// without a price id, and a failing source falling back to the next.
#include <httplib.h>

#include <atomic>
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

constexpr char kEther[] = "eip155:31337/slip44:60";
constexpr char kToken[] = "eip155:31337/erc20:0x5FbDB2315678afecb367f032d93F642f64180aa3";

// A /simple/price server on a free port: answers `status` with `body`, and
// counts the requests.
class PriceServer {
 public:
  PriceServer(int status, std::string body) {
    server_.Get("/simple/price",
                [this, status, body](const httplib::Request& request, httplib::Response& response) {
                  ++requests;
                  last_query = request.get_param_value("ids");
                  response.status = status;
                  response.set_content(body, "application/json");
                });
    // The fetcher keeps connections alive: without a short idle timeout,
    // stop() would wait out httplib's default of 5 s for them.
    server_.set_keep_alive_timeout(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~PriceServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

  std::atomic<int> requests{0};
  std::string last_query;

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class FetcherPricesTest : public IntegrationTestBase {
 protected:
  std::unique_ptr<grpc_util::AsyncClient<Fetcher>> Start(const std::string& sources) {
    const std::string path = absl::StrCat(directory(), "/prices.textproto");
    std::ofstream(path) << absl::StrCat(
        "chains { chain_id: \"eip155:31337\" name: \"anvil\" kind: CHAIN_KIND_EVM ",
        "endpoints { name: \"anvil\" url: \"http://127.0.0.1:1\" } ", "native_asset { asset_id: \"",
        kEther, "\" symbol: \"ETH\" decimals: 18 ", "price_id: \"ethereum\" } ",
        "tokens { asset_id: \"", kToken, "\" symbol: \"CTST\" decimals: 6 } }\n", sources);
    ServiceProcess& fetcher = StartService(Service::kFetcher, {absl::StrCat("--config=", path)});
    return Client<Fetcher>(fetcher);
  }

  static v1::QueryPricesRequest Request(bool bypass = false) {
    v1::QueryPricesRequest request;
    request.add_asset_ids(kEther);
    request.add_asset_ids(kToken);
    request.set_quote_currency("usd");
    request.set_bypass_cache(bypass);
    return request;
  }

  static std::string Source(const std::string& name, const std::string& url) {
    return absl::StrCat("price_sources { name: \"", name, "\" base_url: \"", url,
                        "\" ttl { seconds: 3600 } }\n");
  }
};

TEST_F(FetcherPricesTest, ExactPricesCachedUntilBypassed) {
  PriceServer source(200, R"({"ethereum":{"usd":3012.4567,"last_updated_at":1790000000}})");
  auto client = Start(Source("coingecko", source.url()));

  absl::StatusOr<v1::QueryPricesResponse> first =
      client->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryPrices, Request());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->results_size(), 2);
  const v1::PriceResult& ether = first->results(0);
  ASSERT_TRUE(ether.has_price()) << ether.error().message();
  EXPECT_EQ(ether.price().price().units(), "30124567");
  EXPECT_EQ(ether.price().price().decimals(), 4u);
  EXPECT_EQ(ether.price().price_time().seconds(), 1790000000);
  EXPECT_EQ(ether.price().source(), "coingecko");
  EXPECT_FALSE(ether.cached());
  EXPECT_EQ(first->results(1).error().code(), v1::Error::NOT_FOUND) << "no price_id configured";
  EXPECT_EQ(source.last_query, "ethereum");

  absl::StatusOr<v1::QueryPricesResponse> second =
      client->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryPrices, Request());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->results(0).cached());
  EXPECT_EQ(source.requests.load(), 1);

  absl::StatusOr<v1::QueryPricesResponse> fresh =
      client->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryPrices, Request(/*bypass=*/true));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_FALSE(fresh->results(0).cached());
  EXPECT_EQ(source.requests.load(), 2);
}

TEST_F(FetcherPricesTest, AFailingSourceFallsBackToTheNext) {
  PriceServer broken(503, "unavailable");
  PriceServer backup(200, R"({"ethereum":{"usd":1.5e3}})");
  auto client =
      Start(absl::StrCat(Source("primary", broken.url()), Source("backup", backup.url())));
  absl::StatusOr<v1::QueryPricesResponse> prices =
      client->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryPrices, Request());
  ASSERT_TRUE(prices.ok()) << prices.status();
  const v1::PriceResult& ether = prices->results(0);
  ASSERT_TRUE(ether.has_price()) << ether.error().message();
  EXPECT_EQ(ether.price().price().units(), "1500");
  EXPECT_EQ(ether.price().source(), "backup");
  EXPECT_GE(broken.requests.load(), 1);
}

TEST_F(FetcherPricesTest, GarbageFromTheSourceIsAnErrorPerAssetNotACrash) {
  PriceServer garbage(200, R"({"ethereum":{"usd":"not a number"}})");
  auto client = Start(Source("coingecko", garbage.url()));
  absl::StatusOr<v1::QueryPricesResponse> prices =
      client->CallBlocking(&Fetcher::Stub::PrepareAsyncQueryPrices, Request());
  ASSERT_TRUE(prices.ok()) << prices.status();
  EXPECT_EQ(prices->results(0).error().code(), v1::Error::DATA_LOSS);
  EXPECT_EQ(prices->results(0).error().upstream(), "coingecko");
}

}  // namespace
}  // namespace coffer::testing
