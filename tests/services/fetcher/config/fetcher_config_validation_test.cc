#include "services/fetcher/config/fetcher_config_validation.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/config/textproto.h"
#include "services/fetcher/config/fetcher_config_defaults.h"

namespace coffer::fetcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A valid chain to put beside the one under test.
constexpr char kGoodEvmChain[] = R"pb(
  chains {
    chain_id: "eip155:1"
    endpoints { name: "mainnet-1" url: "https://eth.example/v2/KEY" }
  }
)pb";

constexpr char kBitcoin[] = "bip122:000000000019d6689c085ae165831e93";

// The validation status of `text` after defaults, as LoadFetcherConfig sees
// it.
absl::Status Validate(const std::string& text) {
  config::FetcherConfig parsed;
  absl::Status status = coffer::config::ParseTextProto(text, "test", &parsed);
  EXPECT_TRUE(status.ok()) << status;
  ApplyFetcherConfigDefaults(&parsed);
  return ValidateFetcherConfig(parsed);
}

struct Case {
  const char* name;
  std::string config;
  // A substring of the error, "path: message".
  std::string error;
};

class ValidationErrorTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidationErrorTest, NamesTheFieldAndProblem) {
  const absl::Status status = Validate(GetParam().config);
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(GetParam().error));
}

std::string Evm(const std::string& body) {
  return "chains { chain_id: \"eip155:1\" " + body + " }";
}
std::string EvmWithEndpoint(const std::string& body) {
  return Evm("endpoints { name: \"e\" url: \"https://eth.example\" } " + body);
}
std::string Endpoint(const std::string& body) {
  return Evm("endpoints { url: \"https://eth.example\" " + body + " }");
}
std::string Btc(const std::string& body) {
  return std::string("chains { chain_id: \"") + kBitcoin + "\" " + body + " }";
}
std::string Price(const std::string& body) {
  return "price_sources { base_url: \"https://prices.example\" " + body + " }";
}
std::string Http(const std::string& body) { return "http { " + body + " }"; }

INSTANTIATE_TEST_SUITE_P(
    Chains, ValidationErrorTest,
    ::testing::Values(
        Case{"DuplicateChain", std::string(kGoodEvmChain) + Endpoint("name: \"other\""),
             "chains[1].chain_id: duplicate chain, first configured at chains[0]"},
        Case{"MalformedChainId",
             "chains { chain_id: \"eip155:01\" endpoints { url: \"http://a\" } }",
             "chains[0].chain_id: "},
        Case{"EmptyChainId", "chains { endpoints { url: \"http://a\" } }", "chains[0].chain_id: "},
        Case{"OtherNamespace",
             "chains { chain_id: \"cosmos:cosmoshub-4\" endpoints { url: \"http://a\" } }",
             "chains[0].chain_id: namespace must be eip155 or bip122"},
        Case{"KindContradictsNamespace", EvmWithEndpoint("kind: CHAIN_KIND_BITCOIN"),
             "chains[0].kind: contradicts the eip155 namespace"},
        Case{"UnknownBitcoinNetwork",
             "chains { chain_id: \"bip122:00000000000000000000000000000000\" "
             "endpoints { url: \"http://a\" } }",
             "chains[0].chain_id: unknown bip122 chain"},
        Case{"NoEndpoints", Evm(""), "chains[0].endpoints: needs at least one endpoint"},
        Case{"BitcoinJsonRpc",
             Btc("endpoints { url: \"http://a\" protocol: ENDPOINT_PROTOCOL_JSON_RPC }"),
             "chains[0].endpoints[0].protocol: must be ENDPOINT_PROTOCOL_ESPLORA"},
        Case{"EvmEsplora", Endpoint("protocol: ENDPOINT_PROTOCOL_ESPLORA"),
             "chains[0].endpoints[0].protocol: must be ENDPOINT_PROTOCOL_JSON_RPC"},
        Case{"EsploraBatch", Btc("endpoints { url: \"http://a\" batch_size: 5 }"),
             "chains[0].endpoints[0].batch_size: must be 1"},
        Case{"NativeOfAnotherChain",
             EvmWithEndpoint("native_asset { asset_id: \"eip155:10/slip44:60\" }"),
             "chains[0].native_asset.asset_id: belongs to chain eip155:10, not eip155:1"},
        Case{"NativeIsToken",
             EvmWithEndpoint("native_asset { asset_id: "
                             "\"eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48\" }"),
             "chains[0].native_asset.asset_id: must be an slip44 asset"},
        Case{"NativeDecimals", EvmWithEndpoint("native_asset { decimals: 256 }"),
             "chains[0].native_asset.decimals: must be 0 to 255"},
        Case{"TokenOfAnotherChain",
             EvmWithEndpoint("tokens { asset_id: "
                             "\"eip155:10/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48\" "
                             "symbol: \"USDC\" }"),
             "chains[0].tokens[0].asset_id: belongs to chain eip155:10, not eip155:1"},
        Case{"TokenIsNative",
             EvmWithEndpoint("tokens { asset_id: \"eip155:1/slip44:60\" symbol: \"ETH\" }"),
             "chains[0].tokens[0].asset_id: must be an erc20 asset"},
        Case{"TokenBadChecksum",
             EvmWithEndpoint("tokens { asset_id: "
                             "\"eip155:1/erc20:0xa0B86991c6218b36c1d19D4a2e9Eb0cE3606eB48\" "
                             "symbol: \"USDC\" }"),
             "chains[0].tokens[0].asset_id: "},
        Case{"DuplicateTokenAnyCase",
             EvmWithEndpoint(
                 "tokens { asset_id: \"eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48\" "
                 "symbol: \"USDC\" } "
                 "tokens { asset_id: \"eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48\" "
                 "symbol: \"USDC2\" }"),
             "chains[0].tokens[1].asset_id: duplicate of tokens[0]"},
        Case{"TokenWithoutId", EvmWithEndpoint("tokens { symbol: \"X\" }"),
             "chains[0].tokens[0].asset_id: is required"},
        Case{"TokenWithoutSymbol",
             EvmWithEndpoint("tokens { asset_id: "
                             "\"eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48\" }"),
             "chains[0].tokens[0].symbol: is required"},
        Case{"TokensOnBitcoin",
             Btc("endpoints { url: \"http://a\" } tokens { asset_id: \"x\" symbol: \"X\" }"),
             "chains[0].tokens: only EVM chains have ERC-20 tokens"},
        Case{"MulticallOnBitcoin",
             Btc("endpoints { url: \"http://a\" } "
                 "multicall_address: \"0xcA11bde05977b3631167028862bE2a173976CA11\""),
             "chains[0].multicall_address: only EVM chains have Multicall3"},
        Case{"BadMulticall", EvmWithEndpoint("multicall_address: \"0x1234\""),
             "chains[0].multicall_address: "},
        Case{"ZeroAggregate", EvmWithEndpoint("aggregate_size: 0"),
             "chains[0].aggregate_size: must be 1 to 10000"},
        Case{"ZeroCooldown", EvmWithEndpoint("cooldown {}"),
             "chains[0].cooldown: must be positive"},
        Case{"NegativeCooldown", EvmWithEndpoint("cooldown { seconds: -1 }"),
             "chains[0].cooldown: must be positive"},
        Case{"MalformedDuration", EvmWithEndpoint("cooldown { seconds: 1 nanos: -5 }"),
             "chains[0].cooldown: is not a valid duration"},
        Case{"MaxCooldownBelowCooldown",
             EvmWithEndpoint("cooldown { seconds: 60 } max_cooldown { seconds: 10 }"),
             "chains[0].max_cooldown: must be at least cooldown"}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Endpoints, ValidationErrorTest,
    ::testing::Values(
        Case{"NoUrl", Evm("endpoints { name: \"e\" }"),
             "chains[0].endpoints[0].url: must not be empty"},
        Case{"NotHttp", Evm("endpoints { url: \"wss://eth.example\" }"),
             "chains[0].endpoints[0].url: must be http or https"},
        Case{"Credentials", Evm("endpoints { url: \"https://u:p@eth.example\" }"),
             "chains[0].endpoints[0].url: must not hold a user name or password"},
        Case{"BadName", Endpoint("name: \"has space\""),
             "chains[0].endpoints[0].name: must be at most 64"},
        Case{"DuplicateNameInChain",
             Evm("endpoints { name: \"x\" url: \"http://a\" } endpoints { name: \"x\" url: "
                 "\"http://b\" }"),
             "chains[0].endpoints[1].name: duplicate upstream name, first used at "
             "chains[0].endpoints[0].name"},
        Case{"DuplicateNameWithPriceSource",
             std::string(kGoodEvmChain) + Price("name: \"mainnet-1\""),
             "price_sources[0].name: duplicate upstream name, first used at "
             "chains[0].endpoints[0].name"},
        Case{"ZeroRate", Endpoint("requests_per_second: 0"),
             "chains[0].endpoints[0].requests_per_second: must be positive"},
        Case{"NegativeRate", Endpoint("requests_per_second: -2"),
             "chains[0].endpoints[0].requests_per_second: must be positive"},
        Case{"InfiniteRate", Endpoint("requests_per_second: inf"),
             "chains[0].endpoints[0].requests_per_second: must be positive"},
        Case{"BurstWithoutRate", Endpoint("burst: 5"),
             "chains[0].endpoints[0].burst: needs requests_per_second"},
        Case{"ZeroBurst", Endpoint("requests_per_second: 1 burst: 0"),
             "chains[0].endpoints[0].burst: must be 1 to"},
        Case{"ZeroConcurrency", Endpoint("max_concurrency: 0"),
             "chains[0].endpoints[0].max_concurrency: must be 1 to 10000"},
        Case{"ZeroBatch", Endpoint("batch_size: 0"),
             "chains[0].endpoints[0].batch_size: must be 1 to 10000"},
        Case{"HugeBatch", Endpoint("batch_size: 100000"),
             "chains[0].endpoints[0].batch_size: must be 1 to 10000"},
        Case{"HeaderWithoutSource", Endpoint("headers { name: \"x-api-key\" }"),
             "chains[0].endpoints[0].headers[0]: needs value_file or value_env"},
        Case{"HeaderBadName", Endpoint("headers { name: \"bad header:\" value_env: \"K\" }"),
             "chains[0].endpoints[0].headers[0].name: must be an HTTP header name"},
        Case{"HeaderBadEnvName", Endpoint("headers { name: \"k\" value_env: \"NOT-A-NAME\" }"),
             "chains[0].endpoints[0].headers[0].value_env: must be an environment variable name"},
        Case{"HeaderDuplicate",
             Endpoint("headers { name: \"X-Key\" value_env: \"A\" } "
                      "headers { name: \"x-key\" value_env: \"B\" }"),
             "chains[0].endpoints[0].headers[1].name: duplicate header"}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    PricesAndHttp, ValidationErrorTest,
    ::testing::Values(
        Case{"PriceNoUrl", "price_sources { name: \"p\" }",
             "price_sources[0].base_url: must not be empty"},
        Case{"PriceZeroTtl", Price("ttl {}"), "price_sources[0].ttl: must be positive"},
        Case{"PriceZeroIds", Price("max_ids_per_request: 0"),
             "price_sources[0].max_ids_per_request: must be 1 to 1000"},
        Case{"PriceTooManyIds", Price("max_ids_per_request: 1001"),
             "price_sources[0].max_ids_per_request: must be 1 to 1000"},
        Case{"PriceNegativeRate", Price("requests_per_second: -1"),
             "price_sources[0].requests_per_second: must be positive"},
        Case{"ZeroBatchItems", "max_batch_items: 0", "max_batch_items: must be 1 to 1000000"},
        Case{"ZeroConnections", Http("max_connections: 0"),
             "http.max_connections: must be 1 to 10000"},
        Case{"PerHostAboveTotal", Http("max_connections: 10 max_connections_per_host: 11"),
             "http.max_connections_per_host: must be 1 to 10"},
        Case{"ZeroAttempts", Http("max_attempts: 0"), "http.max_attempts: must be 1 to 20"},
        Case{"ZeroConnectTimeout", Http("connect_timeout {}"),
             "http.connect_timeout: must be positive"},
        Case{"ZeroRequestTimeout", Http("request_timeout { seconds: 0 }"),
             "http.request_timeout: must be positive"},
        Case{"CapBelowBase", Http("backoff_base { seconds: 5 } backoff_cap { seconds: 1 }"),
             "http.backoff_cap: must be at least backoff_base"},
        Case{"TinyResponses", Http("max_response_bytes: 10"),
             "http.max_response_bytes: must be 1024 to 1073741824"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(FetcherConfigValidationTest, ReportsEveryProblemAtOnce) {
  const absl::Status status = Validate(R"pb(
    max_batch_items: 0
    chains { chain_id: "eip155:1" }
    chains {
      chain_id: "eip155:1"
      endpoints { url: "ftp://x" }
    }
  )pb");
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> errors = absl::StrSplit(status.message(), "; ");
  EXPECT_EQ(errors.size(), 4u) << status;
}

TEST(FetcherConfigValidationTest, UrlErrorsNeverEchoTheUrl) {
  const absl::Status status =
      Validate(Evm("endpoints { url: \"ftp://eth.example/v2/s3cr3t-key?apikey=s3cr3t-2\" }"));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("eth.example")));
}

TEST(FetcherConfigValidationTest, AcceptsAFullConfigAndUnsetDefaults) {
  EXPECT_TRUE(Validate(kGoodEvmChain).ok());
  EXPECT_TRUE(
      Validate(Btc("endpoints { name: \"esplora\" url: \"https://blockstream.info/api\" }") +
               Price("headers { name: \"x-cg-demo-api-key\" value_file: \"/run/key\" }"))
          .ok());
  // Without defaults applied, unset limits are not errors.
  config::FetcherConfig bare;
  config::ChainConfig* chain = bare.add_chains();
  chain->set_chain_id("eip155:1");
  chain->add_endpoints()->set_url("http://127.0.0.1:8545");
  chain->mutable_endpoints(0)->set_name("local");
  EXPECT_TRUE(ValidateFetcherConfig(bare).ok());
}

TEST(FetcherConfigValidationTest, SourcePrefixesTheMessage) {
  config::FetcherConfig config;
  config.set_max_batch_items(0);
  EXPECT_EQ(ValidateFetcherConfig(config, "fetcher.textproto").message(),
            "fetcher.textproto: max_batch_items: must be 1 to 1000000");
}

}  // namespace
}  // namespace coffer::fetcher
