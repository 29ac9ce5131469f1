// The defaults of every FetcherConfig field that has one (the numbers
// protos/coffer/config/fetcher_config.proto documents), and the step that
// writes them into a parsed config, so that code reading a loaded config
// never has to know a default.
//
//   config::FetcherConfig config = ...;   // parsed from a file
//   ApplyFetcherConfigDefaults(&config);  // now every limit is set
//   absl::Duration ttl = config::DurationFromProto(config.price_sources(0).ttl());
#ifndef COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_DEFAULTS_H_
#define COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_DEFAULTS_H_

#include <cstdint>

#include "absl/time/time.h"

#include "coffer/config/fetcher_config.pb.h"

namespace coffer::fetcher {

inline constexpr uint32_t kDefaultMaxBatchItems = 10'000;

// ChainConfig.
inline constexpr uint32_t kDefaultAggregateSize = 500;
inline constexpr absl::Duration kDefaultCooldown = absl::Seconds(5);
inline constexpr absl::Duration kDefaultMaxCooldown = absl::Minutes(5);
inline constexpr uint32_t kDefaultEvmDecimals = 18;
inline constexpr uint32_t kDefaultBitcoinDecimals = 8;

// EndpointConfig.
inline constexpr uint32_t kDefaultEndpointConcurrency = 20;
inline constexpr uint32_t kDefaultJsonRpcBatchSize = 100;

// PriceSourceConfig.
inline constexpr uint32_t kDefaultPriceSourceConcurrency = 4;
inline constexpr absl::Duration kDefaultPriceTtl = absl::Seconds(60);
inline constexpr uint32_t kDefaultMaxIdsPerRequest = 100;

// HttpConfig.
inline constexpr uint32_t kDefaultMaxConnections = 100;
inline constexpr uint32_t kDefaultMaxConnectionsPerHost = 20;
inline constexpr absl::Duration kDefaultConnectTimeout = absl::Seconds(5);
inline constexpr absl::Duration kDefaultRequestTimeout = absl::Seconds(30);
inline constexpr uint32_t kDefaultMaxAttempts = 3;
inline constexpr absl::Duration kDefaultBackoffBase = absl::Milliseconds(100);
inline constexpr absl::Duration kDefaultBackoffCap = absl::Seconds(10);
inline constexpr uint64_t kDefaultMaxResponseBytes = uint64_t{64} << 20;

// Fills every unset field that has a default. Fields whose default depends
// on another (a native asset on the chain's kind, an endpoint's batch size
// on its protocol) are filled only when that one is usable; what stays
// unset is left for ValidateFetcherConfig to report. Also writes ids and
// addresses that parse in their normal form (EIP-55), so the service
// compares configured assets with request ids as plain strings. Idempotent.
void ApplyFetcherConfigDefaults(config::FetcherConfig* config);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CONFIG_FETCHER_CONFIG_DEFAULTS_H_
