// Loading the fetcher's configuration: the textproto file named by
// `--config`, or, with none, a built-in one that reads a local development
// node (anvil on 127.0.0.1:8545, chain eip155:31337) so the stack runs with
// no configuration at all. The format and every default are documented in
// protos/coffer/config/fetcher_config.proto; services/fetcher/config/
// example.textproto is a full example (Ethereum mainnet with tokens and
// Multicall3, Bitcoin through Esplora, CoinGecko prices).
//
//   absl::StatusOr<config::FetcherConfig> config = LoadFetcherConfig(flag_path);
//   if (!config.ok()) {
//     // "fetcher.textproto: chains[1].endpoints[0].url: must be http or https"
//     return config.status();
//   }
//
// A loaded config has every default filled in (fetcher_config_defaults.h)
// and has passed ValidateFetcherConfig (fetcher_config_validation.h). Header
// values (API keys) are not read here but by ResolveHeaders
// (header_values.h) when the HTTP upstreams are built.
#ifndef COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_H_
#define COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "coffer/config/fetcher_config.pb.h"
#include "services/fetcher/config/fetcher_config_defaults.h"
#include "services/fetcher/config/fetcher_config_validation.h"

namespace coffer::fetcher {

// The built-in development chain.
inline constexpr absl::string_view kDevChainId = "eip155:31337";
inline constexpr absl::string_view kDevEndpointUrl = "http://127.0.0.1:8545";

// Parses the file at `path` strictly (unknown fields are errors), applies
// the defaults and validates. An empty path gives DefaultFetcherConfig().
// Errors: as LoadTextProto (NOT_FOUND for a missing file, INVALID_ARGUMENT
// "path:line:col: ..." for syntax) and ValidateFetcherConfig
// (INVALID_ARGUMENT "path: field.path: problem; ...").
[[nodiscard]] absl::StatusOr<config::FetcherConfig> LoadFetcherConfig(const std::string& path);

// The same from text; `source_name` stands for the file name in errors.
[[nodiscard]] absl::StatusOr<config::FetcherConfig> ParseFetcherConfig(
    absl::string_view text, absl::string_view source_name);

// One EVM chain, anvil ("eip155:31337", named "anvil") with one endpoint
// ("anvil", http://127.0.0.1:8545), no tokens, no Multicall3 (anvil has
// none deployed), no price sources; defaults applied.
config::FetcherConfig DefaultFetcherConfig();

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_H_
