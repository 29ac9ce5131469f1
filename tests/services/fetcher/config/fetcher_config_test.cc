#include "services/fetcher/config/fetcher_config.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/config/proto_duration.h"
#include "services/fetcher/config/endpoint_url.h"

namespace coffer::fetcher {
namespace {

using ::testing::HasSubstr;

TEST(FetcherConfigTest, EmptyPathIsTheBuiltInAnvilChain) {
  absl::StatusOr<config::FetcherConfig> loaded = LoadFetcherConfig("");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->chains_size(), 1);
  const config::ChainConfig& chain = loaded->chains(0);
  EXPECT_EQ(chain.chain_id(), "eip155:31337");
  EXPECT_EQ(chain.kind(), v1::CHAIN_KIND_EVM);
  ASSERT_EQ(chain.endpoints_size(), 1);
  EXPECT_EQ(chain.endpoints(0).url(), "http://127.0.0.1:8545");
  EXPECT_EQ(chain.endpoints(0).protocol(), config::ENDPOINT_PROTOCOL_JSON_RPC);
  EXPECT_EQ(chain.endpoints(0).batch_size(), 100u);
  EXPECT_FALSE(chain.endpoints(0).has_requests_per_second());
  EXPECT_EQ(chain.native_asset().asset_id(), "eip155:31337/slip44:60");
  EXPECT_EQ(chain.native_asset().symbol(), "ETH");
  EXPECT_EQ(chain.native_asset().decimals(), 18u);
  EXPECT_TRUE(chain.multicall_address().empty());
  EXPECT_EQ(loaded->price_sources_size(), 0);
  EXPECT_EQ(loaded->max_batch_items(), 10'000u);
  EXPECT_EQ(loaded->http().max_connections(), 100u);
  EXPECT_EQ(loaded->http().max_connections_per_host(), 20u);
  EXPECT_TRUE(ValidateFetcherConfig(DefaultFetcherConfig()).ok());
}

TEST(FetcherConfigTest, ExampleFileLoadsAndValidates) {
  absl::StatusOr<config::FetcherConfig> loaded =
      LoadFetcherConfig("services/fetcher/config/example.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->chains_size(), 2);

  const config::ChainConfig& ethereum = loaded->chains(0);
  EXPECT_EQ(ethereum.chain_id(), "eip155:1");
  EXPECT_EQ(ethereum.kind(), v1::CHAIN_KIND_EVM);
  ASSERT_EQ(ethereum.endpoints_size(), 2);
  for (const config::EndpointConfig& endpoint : ethereum.endpoints()) {
    EXPECT_TRUE(ParseEndpointUrl(endpoint.url()).ok()) << endpoint.name();
  }
  ASSERT_EQ(ethereum.tokens_size(), 3);
  EXPECT_EQ(ethereum.tokens(0).symbol(), "USDC");
  EXPECT_EQ(ethereum.tokens(0).decimals(), 6u);
  EXPECT_EQ(ethereum.tokens(1).symbol(), "USDT");
  EXPECT_EQ(ethereum.tokens(2).symbol(), "DAI");
  EXPECT_FALSE(ethereum.tokens(2).has_decimals());
  EXPECT_EQ(ethereum.multicall_address(), "0xcA11bde05977b3631167028862bE2a173976CA11");

  const config::ChainConfig& bitcoin = loaded->chains(1);
  EXPECT_EQ(bitcoin.chain_id(), "bip122:000000000019d6689c085ae165831e93");
  EXPECT_EQ(bitcoin.kind(), v1::CHAIN_KIND_BITCOIN);
  EXPECT_EQ(bitcoin.endpoints(0).protocol(), config::ENDPOINT_PROTOCOL_ESPLORA);
  EXPECT_EQ(bitcoin.endpoints(0).batch_size(), 1u);
  EXPECT_EQ(bitcoin.native_asset().asset_id(), "bip122:000000000019d6689c085ae165831e93/slip44:0");
  EXPECT_EQ(bitcoin.native_asset().decimals(), 8u);
  EXPECT_EQ(bitcoin.native_asset().price_id(), "bitcoin");

  ASSERT_EQ(loaded->price_sources_size(), 1);
  EXPECT_EQ(loaded->price_sources(0).name(), "coingecko");
  EXPECT_EQ(config::DurationFromProto(loaded->price_sources(0).ttl()), absl::Seconds(60));
  // CoinGecko's public API needs no key: the example starts without one
  // (tools/up --config); sending a key is a commented-out line.
  EXPECT_TRUE(loaded->price_sources(0).headers().empty());
}

TEST(FetcherConfigTest, DefaultsFillUnsetFieldsAndNormalizeIds) {
  absl::StatusOr<config::FetcherConfig> loaded = ParseFetcherConfig(
      R"pb(
        chains {
          chain_id: "eip155:10"
          endpoints { url: "https://optimism.example" requests_per_second: 2.5 }
          tokens {
            asset_id: "eip155:10/erc20:0x0b2c639c533813f4aa9d7837caf62653d097ff85"
            symbol: "USDC"
          }
          multicall_address: "0xca11bde05977b3631167028862be2a173976ca11"
        }
        price_sources { base_url: "https://prices.example/api/v3" }
      )pb",
      "test.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const config::ChainConfig& chain = loaded->chains(0);
  EXPECT_EQ(chain.name(), "eip155:10");
  EXPECT_EQ(chain.kind(), v1::CHAIN_KIND_EVM);
  EXPECT_EQ(chain.aggregate_size(), 500u);
  EXPECT_EQ(config::DurationFromProto(chain.cooldown()), absl::Seconds(5));
  EXPECT_EQ(config::DurationFromProto(chain.max_cooldown()), absl::Minutes(5));
  const config::EndpointConfig& endpoint = chain.endpoints(0);
  EXPECT_EQ(endpoint.name(), "eip155:10-0");
  EXPECT_EQ(endpoint.burst(), 3u);  // 2.5 rounded up
  EXPECT_EQ(endpoint.max_concurrency(), 20u);
  EXPECT_EQ(endpoint.batch_size(), 100u);
  EXPECT_EQ(chain.tokens(0).asset_id(),
            "eip155:10/erc20:0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85");
  EXPECT_EQ(chain.multicall_address(), "0xcA11bde05977b3631167028862bE2a173976CA11");
  const config::PriceSourceConfig& source = loaded->price_sources(0);
  EXPECT_EQ(source.name(), "price-0");
  EXPECT_EQ(source.max_ids_per_request(), 100u);
  EXPECT_EQ(source.max_concurrency(), 4u);
  EXPECT_EQ(config::DurationFromProto(source.ttl()), absl::Seconds(60));
  EXPECT_FALSE(source.has_requests_per_second());
  const config::HttpConfig& http = loaded->http();
  EXPECT_EQ(config::DurationFromProto(http.connect_timeout()), absl::Seconds(5));
  EXPECT_EQ(config::DurationFromProto(http.request_timeout()), absl::Seconds(30));
  EXPECT_EQ(http.max_attempts(), 3u);
  EXPECT_EQ(config::DurationFromProto(http.backoff_base()), absl::Milliseconds(100));
  EXPECT_EQ(config::DurationFromProto(http.backoff_cap()), absl::Seconds(10));
  EXPECT_EQ(http.max_response_bytes(), uint64_t{64} << 20);

  config::FetcherConfig again = *loaded;
  ApplyFetcherConfigDefaults(&again);
  EXPECT_EQ(again.SerializeAsString(), loaded->SerializeAsString());
}

TEST(FetcherConfigTest, AFileWithNoChainsConfiguresNone) {
  absl::StatusOr<config::FetcherConfig> loaded =
      ParseFetcherConfig("max_batch_items: 5", "prices_only.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->chains_size(), 0);
  EXPECT_EQ(loaded->max_batch_items(), 5u);
}

TEST(FetcherConfigTest, SyntaxErrorsAndUnknownFieldsNameTheLine) {
  absl::StatusOr<config::FetcherConfig> loaded =
      ParseFetcherConfig("chains {\n  chian_id: \"eip155:1\"\n}\n", "typo.textproto");
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("typo.textproto:2:"));
}

TEST(FetcherConfigTest, ValidationErrorsNameTheFileAndFieldPath) {
  absl::StatusOr<config::FetcherConfig> loaded =
      ParseFetcherConfig(R"pb(
                           chains {
                             chain_id: "eip155:1"
                             endpoints { url: "https://a.example" }
                           }
                           chains {
                             chain_id: "eip155:10"
                             endpoints { url: "ftp://b.example" }
                           }
                         )pb",
                         "bad.textproto");
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(loaded.status().message(),
            "bad.textproto: chains[1].endpoints[0].url: must be http or https");
}

TEST(FetcherConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<config::FetcherConfig> loaded =
      LoadFetcherConfig(std::string(std::getenv("TEST_TMPDIR")) + "/no-such.textproto");
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
}

TEST(FetcherConfigTest, DurationsRoundTrip) {
  for (absl::Duration d : {absl::ZeroDuration(), absl::Milliseconds(1500), absl::Seconds(-3),
                           absl::Nanoseconds(-1500000001)}) {
    EXPECT_EQ(config::DurationFromProto(config::DurationToProto(d)), d);
  }
  google::protobuf::Duration proto = config::DurationToProto(absl::Milliseconds(-1500));
  EXPECT_EQ(proto.seconds(), -1);
  EXPECT_EQ(proto.nanos(), -500'000'000);
}

}  // namespace
}  // namespace coffer::fetcher
