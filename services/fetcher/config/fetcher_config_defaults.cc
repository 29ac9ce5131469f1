#include "services/fetcher/config/fetcher_config_defaults.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#include "common/chain/caip.h"
#include "common/chain/evm_address.h"
#include "common/config/proto_duration.h"

namespace coffer::fetcher {
namespace {

void SetDefaultDuration(google::protobuf::Duration* field, bool has, absl::Duration value) {
  if (!has) *field = config::DurationToProto(value);
}

// Writes the normal form of an asset id that parses; leaves the rest for
// validation to report.
void NormalizeAssetIdInPlace(std::string* asset_id) {
  absl::StatusOr<std::string> normalized = chain::NormalizeAssetId(*asset_id);
  if (normalized.ok()) *asset_id = *std::move(normalized);
}

// Burst defaults to the rate rounded up, so one second's worth may go at
// once; only for a usable rate (validation reports the others).
template <typename Message>
void ApplyRateDefaults(Message* message) {
  if (!message->has_requests_per_second() || message->has_burst()) return;
  const double rate = message->requests_per_second();
  if (!std::isfinite(rate) || rate <= 0 || rate > 1e6) return;
  message->set_burst(static_cast<uint32_t>(std::max(1.0, std::ceil(rate))));
}

void ApplyNativeAssetDefaults(const std::string& chain_id, v1::ChainKind kind,
                              config::NativeAssetConfig* native) {
  const bool evm = kind == v1::CHAIN_KIND_EVM;
  const bool bitcoin = kind == v1::CHAIN_KIND_BITCOIN;
  if (!evm && !bitcoin) return;
  if (native->asset_id().empty()) {
    native->set_asset_id(absl::StrCat(chain_id, evm ? "/slip44:60" : "/slip44:0"));
  }
  NormalizeAssetIdInPlace(native->mutable_asset_id());
  if (native->symbol().empty()) native->set_symbol(evm ? "ETH" : "BTC");
  if (!native->has_decimals()) {
    native->set_decimals(evm ? kDefaultEvmDecimals : kDefaultBitcoinDecimals);
  }
}

void ApplyEndpointDefaults(const std::string& chain_id, v1::ChainKind kind, int index,
                           config::EndpointConfig* endpoint) {
  if (endpoint->name().empty()) endpoint->set_name(absl::StrCat(chain_id, "-", index));
  if (endpoint->protocol() == config::ENDPOINT_PROTOCOL_UNSPECIFIED) {
    if (kind == v1::CHAIN_KIND_EVM) endpoint->set_protocol(config::ENDPOINT_PROTOCOL_JSON_RPC);
    if (kind == v1::CHAIN_KIND_BITCOIN) endpoint->set_protocol(config::ENDPOINT_PROTOCOL_ESPLORA);
  }
  if (!endpoint->has_max_concurrency()) endpoint->set_max_concurrency(kDefaultEndpointConcurrency);
  if (!endpoint->has_batch_size()) {
    if (endpoint->protocol() == config::ENDPOINT_PROTOCOL_JSON_RPC) {
      endpoint->set_batch_size(kDefaultJsonRpcBatchSize);
    } else if (endpoint->protocol() == config::ENDPOINT_PROTOCOL_ESPLORA) {
      endpoint->set_batch_size(1);
    }
  }
  ApplyRateDefaults(endpoint);
}

void ApplyChainDefaults(config::ChainConfig* chain) {
  absl::StatusOr<chain::ChainId> id = chain::ParseChainId(chain->chain_id());
  if (id.ok()) {
    chain->set_chain_id(id->ToString());
    if (chain->kind() == v1::CHAIN_KIND_UNSPECIFIED) {
      if (id->IsEvm()) chain->set_kind(v1::CHAIN_KIND_EVM);
      if (id->IsBitcoin()) chain->set_kind(v1::CHAIN_KIND_BITCOIN);
    }
  }
  if (chain->name().empty()) chain->set_name(chain->chain_id());
  if (!chain->has_aggregate_size()) chain->set_aggregate_size(kDefaultAggregateSize);
  SetDefaultDuration(chain->mutable_cooldown(), chain->has_cooldown(), kDefaultCooldown);
  SetDefaultDuration(chain->mutable_max_cooldown(), chain->has_max_cooldown(), kDefaultMaxCooldown);
  // Only a chain id that parsed can name its native asset.
  if (id.ok())
    ApplyNativeAssetDefaults(chain->chain_id(), chain->kind(), chain->mutable_native_asset());
  for (config::TokenConfig& token : *chain->mutable_tokens()) {
    NormalizeAssetIdInPlace(token.mutable_asset_id());
  }
  if (!chain->multicall_address().empty()) {
    absl::StatusOr<std::string> address = chain::NormalizeEvmAddress(chain->multicall_address());
    if (address.ok()) chain->set_multicall_address(*std::move(address));
  }
  for (int i = 0; i < chain->endpoints_size(); ++i) {
    ApplyEndpointDefaults(chain->chain_id(), chain->kind(), i, chain->mutable_endpoints(i));
  }
}

void ApplyPriceSourceDefaults(int index, config::PriceSourceConfig* source) {
  if (source->name().empty()) source->set_name(absl::StrCat("price-", index));
  if (!source->has_max_concurrency()) source->set_max_concurrency(kDefaultPriceSourceConcurrency);
  SetDefaultDuration(source->mutable_ttl(), source->has_ttl(), kDefaultPriceTtl);
  if (!source->has_max_ids_per_request()) {
    source->set_max_ids_per_request(kDefaultMaxIdsPerRequest);
  }
  ApplyRateDefaults(source);
}

void ApplyHttpDefaults(config::HttpConfig* http) {
  if (!http->has_max_connections()) http->set_max_connections(kDefaultMaxConnections);
  if (!http->has_max_connections_per_host()) {
    http->set_max_connections_per_host(kDefaultMaxConnectionsPerHost);
  }
  SetDefaultDuration(http->mutable_connect_timeout(), http->has_connect_timeout(),
                     kDefaultConnectTimeout);
  SetDefaultDuration(http->mutable_request_timeout(), http->has_request_timeout(),
                     kDefaultRequestTimeout);
  if (!http->has_max_attempts()) http->set_max_attempts(kDefaultMaxAttempts);
  SetDefaultDuration(http->mutable_backoff_base(), http->has_backoff_base(), kDefaultBackoffBase);
  SetDefaultDuration(http->mutable_backoff_cap(), http->has_backoff_cap(), kDefaultBackoffCap);
  if (!http->has_max_response_bytes()) http->set_max_response_bytes(kDefaultMaxResponseBytes);
}

}  // namespace

void ApplyFetcherConfigDefaults(config::FetcherConfig* config) {
  if (!config->has_max_batch_items()) config->set_max_batch_items(kDefaultMaxBatchItems);
  ApplyHttpDefaults(config->mutable_http());
  for (config::ChainConfig& chain : *config->mutable_chains()) ApplyChainDefaults(&chain);
  for (int i = 0; i < config->price_sources_size(); ++i) {
    ApplyPriceSourceDefaults(i, config->mutable_price_sources(i));
  }
}

}  // namespace coffer::fetcher
