#include "services/fetcher/chain_setup.h"

#include <string>

#include "common/chain/caip.h"
#include "common/config/proto_duration.h"
#include "services/fetcher/config/endpoint_url.h"
#include "services/fetcher/config/fetcher_config_defaults.h"

namespace coffer::fetcher {
namespace {

absl::Duration ToDuration(const google::protobuf::Duration& duration, absl::Duration fallback) {
  // A loaded config has its defaults applied; the fallback is for one built
  // by hand.
  if (duration.seconds() == 0 && duration.nanos() == 0) return fallback;
  return config::DurationFromProto(duration);
}

// The normal form of a configured id (validation accepted it already).
std::string Normal(const std::string& asset_id) {
  absl::StatusOr<std::string> normal = chain::NormalizeAssetId(asset_id);
  return normal.ok() ? *normal : asset_id;
}

EvmAsset AssetOf(const std::string& asset_id, const std::string& symbol, const std::string& name,
                 bool has_decimals, uint32_t decimals, const std::string& price_id) {
  EvmAsset asset;
  asset.asset_id = Normal(asset_id);
  asset.symbol = symbol;
  asset.name = name;
  if (has_decimals) asset.decimals = decimals;
  asset.price_id = price_id;
  return asset;
}

}  // namespace

std::vector<EndpointOptions> EndpointOptionsOf(const config::ChainConfig& chain) {
  std::vector<EndpointOptions> endpoints;
  for (const config::EndpointConfig& endpoint : chain.endpoints()) {
    EndpointOptions options;
    options.name = endpoint.name();
    absl::StatusOr<EndpointUrl> url = ParseEndpointUrl(endpoint.url());
    options.host = url.ok() ? url->display_host : "";
    options.batch_size = endpoint.has_batch_size() ? endpoint.batch_size() : 1;
    options.cooldown = ToDuration(chain.cooldown(), absl::Seconds(5));
    options.max_cooldown = ToDuration(chain.max_cooldown(), absl::Minutes(5));
    endpoints.push_back(std::move(options));
  }
  return endpoints;
}

EvmChainOptions EvmOptionsOf(const config::ChainConfig& chain, absl::Duration request_timeout) {
  EvmChainOptions options;
  absl::StatusOr<chain::ChainId> id = chain::ParseChainId(chain.chain_id());
  options.chain_id = id.ok() ? id->ToString() : chain.chain_id();
  options.name = chain.name();
  const config::NativeAssetConfig& native = chain.native_asset();
  options.native = AssetOf(native.asset_id(), native.symbol(), native.name(), native.has_decimals(),
                           native.decimals(), native.price_id());
  for (const config::TokenConfig& token : chain.tokens()) {
    options.tokens.push_back(AssetOf(token.asset_id(), token.symbol(), token.name(),
                                     token.has_decimals(), token.decimals(), token.price_id()));
  }
  if (!chain.multicall_address().empty()) {
    absl::StatusOr<chain::AccountId> multicall =
        chain::ParseAccountId(options.chain_id + ":" + chain.multicall_address());
    options.multicall_address = multicall.ok() ? multicall->address : chain.multicall_address();
  }
  if (chain.has_aggregate_size()) options.aggregate_size = chain.aggregate_size();
  options.request_timeout = request_timeout;
  return options;
}

ChainAssets CatalogEntryOf(const config::ChainConfig& chain) {
  ChainAssets assets;
  assets.kind = chain.kind();
  assets.asset_ids.push_back(Normal(chain.native_asset().asset_id()));
  for (const config::TokenConfig& token : chain.tokens()) {
    assets.asset_ids.push_back(Normal(token.asset_id()));
  }
  return assets;
}

}  // namespace coffer::fetcher
