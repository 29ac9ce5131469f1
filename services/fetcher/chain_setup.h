// From a loaded fetcher configuration (defaults applied, validated) to what
// the readers and the request planner take: endpoint options, EVM reader
// options and the chain catalog. Pure: building the HTTP side is the
// runtime's (fetcher_runtime.h).
#ifndef COFFER_SERVICES_FETCHER_CHAIN_SETUP_H_
#define COFFER_SERVICES_FETCHER_CHAIN_SETUP_H_

#include <vector>

#include "absl/time/time.h"

#include "coffer/config/fetcher_config.pb.h"
#include "services/fetcher/balance_plan.h"
#include "services/fetcher/chains/endpoint_set.h"
#include "services/fetcher/chains/evm_chain_reader.h"

namespace coffer::fetcher {

// The chain's endpoints in priority order: names, display hosts (never
// URLs), batch sizes and cool-downs.
std::vector<EndpointOptions> EndpointOptionsOf(const config::ChainConfig& chain);

EvmChainOptions EvmOptionsOf(const config::ChainConfig& chain, absl::Duration request_timeout);

// The chain's assets (native first, then tokens) as a query without
// asset_ids expands to.
ChainAssets CatalogEntryOf(const config::ChainConfig& chain);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAIN_SETUP_H_
