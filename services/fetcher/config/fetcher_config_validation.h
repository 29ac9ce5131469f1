// Checks a FetcherConfig (after ApplyFetcherConfigDefaults) before the
// fetcher starts on it, reporting every problem at once against its field
// path, so an operator fixes a file in one pass:
//
//   INVALID_ARGUMENT "fetcher.textproto: chains[1].endpoints[0].url: must be
//   http or https; chains[1].tokens[2].asset_id: belongs to chain eip155:10,
//   not eip155:1"
//
//   RETURN_IF_ERROR(ValidateFetcherConfig(config, path));
//
// Messages never repeat a URL or a header value (either may hold a key).
#ifndef COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_VALIDATION_H_
#define COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "coffer/config/fetcher_config.pb.h"

namespace coffer::fetcher {

// OK, or INVALID_ARGUMENT "source: path: message; path: message" listing
// every problem: malformed or duplicate chain ids, a kind that contradicts
// the namespace or an unsupported namespace, unknown bip122 networks, chains
// without endpoints, endpoints whose protocol does not fit the chain
// (Bitcoin needs Esplora), bad or duplicate endpoint names, bad URLs, bad
// headers, zero, negative or oversized limits and durations, native assets
// and tokens that are malformed, of another chain or of the wrong kind,
// duplicate tokens, tokens or Multicall3 on a non-EVM chain. Unset fields
// that have defaults are accepted (so a config need not have defaults
// applied), except those a chain cannot run without (chain_id, endpoint
// url, token asset_id and symbol, price source base_url). `source` prefixes
// the message (the file name); empty for none.
[[nodiscard]] absl::Status ValidateFetcherConfig(const config::FetcherConfig& config,
                                                 absl::string_view source = "");

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_VALIDATION_H_
