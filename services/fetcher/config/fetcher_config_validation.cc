#include "services/fetcher/config/fetcher_config_validation.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

#include "common/chain/amount.h"
#include "common/chain/caip.h"
#include "common/chain/evm_address.h"
#include "common/config/proto_duration.h"
#include "common/config/validation.h"
#include "services/fetcher/chains/bitcoin/bitcoin_network.h"
#include "services/fetcher/config/endpoint_url.h"
#include "services/fetcher/config/fetcher_config_defaults.h"

namespace coffer::fetcher {
namespace {

using config::FieldErrors;
using config::FieldPath;

constexpr size_t kMaxNameLength = 64;
constexpr uint32_t kMaxBatchItemsLimit = 1'000'000;
constexpr uint32_t kMaxConcurrencyLimit = 10'000;
constexpr uint32_t kMaxBatchSizeLimit = 10'000;
constexpr uint32_t kMaxAggregateSizeLimit = 10'000;
constexpr uint32_t kMaxIdsPerRequestLimit = 1'000;
constexpr uint32_t kMaxConnectionsLimit = 10'000;
constexpr uint32_t kMaxAttemptsLimit = 20;
constexpr uint64_t kMinResponseBytes = 1024;
constexpr uint64_t kMaxResponseBytesLimit = uint64_t{1} << 30;
constexpr double kMaxRequestsPerSecond = 1e6;
constexpr uint32_t kMaxBurst = 1'000'000;
// google.protobuf.Duration's own range: 10,000 years.
constexpr int64_t kMaxDurationSeconds = 315'576'000'000;

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == ':';
}

// RFC 9110 token characters.
bool IsHeaderNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

bool IsEnvNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

template <typename Predicate>
bool AllOf(absl::string_view text, Predicate predicate) {
  for (char c : text) {
    if (!predicate(c)) return false;
  }
  return true;
}

// Collects upstream names across the config: Error.upstream must name one
// upstream.
class UpstreamNames {
 public:
  void Check(const std::string& name, const FieldPath& path, FieldErrors* errors) {
    if (!errors->Check(!name.empty(), path, "must not be empty")) return;
    if (!errors->Check(name.size() <= kMaxNameLength && AllOf(name, IsNameChar), path,
                       absl::StrCat("must be at most ", kMaxNameLength,
                                    " letters, digits, '-', '_', '.' or ':'"))) {
      return;
    }
    auto [it, inserted] = first_use_.emplace(name, path.str());
    errors->Check(inserted, path,
                  absl::StrCat("duplicate upstream name, first used at ", it->second));
  }

 private:
  absl::flat_hash_map<std::string, std::string> first_use_;
};

// A set duration must be a valid google.protobuf.Duration and positive.
void CheckPositiveDuration(bool has, const google::protobuf::Duration& duration,
                           const FieldPath& path, FieldErrors* errors) {
  if (!has) return;
  const bool valid = duration.seconds() >= -kMaxDurationSeconds &&
                     duration.seconds() <= kMaxDurationSeconds &&
                     duration.nanos() > -1'000'000'000 && duration.nanos() < 1'000'000'000 &&
                     !(duration.seconds() > 0 && duration.nanos() < 0) &&
                     !(duration.seconds() < 0 && duration.nanos() > 0);
  if (!errors->Check(valid, path, "is not a valid duration")) return;
  errors->Check(config::DurationFromProto(duration) > absl::ZeroDuration(), path,
                "must be positive");
}

void CheckRange(bool has, uint64_t value, uint64_t min, uint64_t max, const FieldPath& path,
                FieldErrors* errors) {
  if (!has) return;
  errors->Check(value >= min && value <= max, path, absl::StrCat("must be ", min, " to ", max));
}

template <typename Message>
void CheckRateLimits(const Message& message, const FieldPath& path, FieldErrors* errors) {
  if (message.has_requests_per_second()) {
    const double rate = message.requests_per_second();
    errors->Check(std::isfinite(rate) && rate > 0 && rate <= kMaxRequestsPerSecond,
                  path.Field("requests_per_second"),
                  absl::StrCat("must be positive and at most ", kMaxRequestsPerSecond));
  } else {
    errors->Check(!message.has_burst(), path.Field("burst"),
                  "needs requests_per_second (unset means no rate limit)");
  }
  CheckRange(message.has_burst(), message.burst(), 1, kMaxBurst, path.Field("burst"), errors);
  CheckRange(message.has_max_concurrency(), message.max_concurrency(), 1, kMaxConcurrencyLimit,
             path.Field("max_concurrency"), errors);
}

void CheckHeaders(const google::protobuf::RepeatedPtrField<config::HeaderConfig>& headers,
                  const FieldPath& path, FieldErrors* errors) {
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < headers.size(); ++i) {
    const config::HeaderConfig& header = headers.Get(i);
    const FieldPath at = path.Index(i);
    if (errors->Check(!header.name().empty() && header.name().size() <= 256 &&
                          AllOf(header.name(), IsHeaderNameChar),
                      at.Field("name"), "must be an HTTP header name")) {
      errors->Check(names.insert(absl::AsciiStrToLower(header.name())).second, at.Field("name"),
                    "duplicate header");
    }
    switch (header.source_case()) {
      case config::HeaderConfig::kValueFile:
        errors->Check(!header.value_file().empty(), at.Field("value_file"), "must not be empty");
        break;
      case config::HeaderConfig::kValueEnv:
        errors->Check(!header.value_env().empty() && AllOf(header.value_env(), IsEnvNameChar),
                      at.Field("value_env"), "must be an environment variable name");
        break;
      case config::HeaderConfig::SOURCE_NOT_SET:
        errors->Add(at, "needs value_file or value_env (values never go in the config file)");
        break;
    }
  }
}

void CheckUrl(const std::string& url, const FieldPath& path, FieldErrors* errors) {
  errors->CheckOk(path, ParseEndpointUrl(url).status());
}

void CheckEndpoint(const config::EndpointConfig& endpoint, v1::ChainKind kind,
                   const FieldPath& path, UpstreamNames* names, FieldErrors* errors) {
  names->Check(endpoint.name(), path.Field("name"), errors);
  CheckUrl(endpoint.url(), path.Field("url"), errors);
  const config::EndpointProtocol wanted = kind == v1::CHAIN_KIND_BITCOIN
                                              ? config::ENDPOINT_PROTOCOL_ESPLORA
                                              : config::ENDPOINT_PROTOCOL_JSON_RPC;
  if (kind != v1::CHAIN_KIND_UNSPECIFIED &&
      endpoint.protocol() != config::ENDPOINT_PROTOCOL_UNSPECIFIED) {
    errors->Check(endpoint.protocol() == wanted, path.Field("protocol"),
                  kind == v1::CHAIN_KIND_BITCOIN
                      ? "must be ENDPOINT_PROTOCOL_ESPLORA: Bitcoin chains are read through Esplora"
                      : "must be ENDPOINT_PROTOCOL_JSON_RPC: EVM chains are read over JSON-RPC");
  }
  CheckRateLimits(endpoint, path, errors);
  if (endpoint.has_batch_size()) {
    if (endpoint.protocol() == config::ENDPOINT_PROTOCOL_ESPLORA ||
        kind == v1::CHAIN_KIND_BITCOIN) {
      errors->Check(endpoint.batch_size() == 1, path.Field("batch_size"),
                    "must be 1: Esplora has no batches");
    } else {
      CheckRange(true, endpoint.batch_size(), 1, kMaxBatchSizeLimit, path.Field("batch_size"),
                 errors);
    }
  }
  CheckHeaders(endpoint.headers(), path.Field("headers"), errors);
}

// The asset at `path` parses, is on `chain` and is of `asset_namespace`.
void CheckAsset(const std::string& asset_id, const chain::ChainId& chain,
                absl::string_view asset_namespace, const FieldPath& path, FieldErrors* errors) {
  absl::StatusOr<chain::AssetId> asset = chain::ParseAssetId(asset_id);
  if (!errors->CheckOk(path, asset.status())) return;
  if (!errors->Check(
          asset->chain == chain, path,
          absl::StrCat("belongs to chain ", asset->chain.ToString(), ", not ", chain.ToString()))) {
    return;
  }
  errors->Check(asset->asset_namespace == asset_namespace, path,
                absl::StrCat("must be an ", asset_namespace, " asset"));
}

void CheckChain(const config::ChainConfig& chain, const FieldPath& path, UpstreamNames* names,
                absl::flat_hash_map<std::string, std::string>* chain_ids, FieldErrors* errors) {
  absl::StatusOr<chain::ChainId> id = chain::ParseChainId(chain.chain_id());
  v1::ChainKind kind = chain.kind();
  if (errors->CheckOk(path.Field("chain_id"), id.status())) {
    auto [it, inserted] = chain_ids->emplace(id->ToString(), path.str());
    errors->Check(inserted, path.Field("chain_id"),
                  absl::StrCat("duplicate chain, first configured at ", it->second));
    if (id->IsEvm() || id->IsBitcoin()) {
      const v1::ChainKind implied = id->IsEvm() ? v1::CHAIN_KIND_EVM : v1::CHAIN_KIND_BITCOIN;
      if (kind == v1::CHAIN_KIND_UNSPECIFIED) kind = implied;
      errors->Check(kind == implied, path.Field("kind"),
                    absl::StrCat("contradicts the ", id->chain_namespace, " namespace"));
    } else {
      errors->Add(path.Field("chain_id"), "namespace must be eip155 or bip122");
      kind = v1::CHAIN_KIND_UNSPECIFIED;
    }
    if (id->IsBitcoin()) {
      errors->CheckOk(path.Field("chain_id"), BitcoinNetworkOfChain(*id).status());
    }
  }
  errors->Check(chain.endpoints_size() > 0, path.Field("endpoints"), "needs at least one endpoint");
  for (int i = 0; i < chain.endpoints_size(); ++i) {
    CheckEndpoint(chain.endpoints(i), kind, path.Field("endpoints").Index(i), names, errors);
  }

  const config::NativeAssetConfig& native = chain.native_asset();
  const FieldPath native_path = path.Field("native_asset");
  if (id.ok() && !native.asset_id().empty()) {
    CheckAsset(native.asset_id(), *id, "slip44", native_path.Field("asset_id"), errors);
  }
  CheckRange(native.has_decimals(), native.decimals(), 0, chain::kMaxDecimals,
             native_path.Field("decimals"), errors);

  const bool evm = kind == v1::CHAIN_KIND_EVM;
  errors->Check(evm || chain.tokens_size() == 0, path.Field("tokens"),
                "only EVM chains have ERC-20 tokens");
  absl::flat_hash_map<std::string, int> tokens;
  for (int i = 0; i < chain.tokens_size() && evm; ++i) {
    const config::TokenConfig& token = chain.tokens(i);
    const FieldPath at = path.Field("tokens").Index(i);
    if (errors->Check(!token.asset_id().empty(), at.Field("asset_id"), "is required")) {
      if (id.ok()) CheckAsset(token.asset_id(), *id, "erc20", at.Field("asset_id"), errors);
      absl::StatusOr<std::string> normalized = chain::NormalizeAssetId(token.asset_id());
      if (normalized.ok()) {
        auto [it, inserted] = tokens.emplace(*normalized, i);
        errors->Check(inserted, at.Field("asset_id"),
                      absl::StrCat("duplicate of tokens[", it->second, "]"));
      }
    }
    errors->Check(!token.symbol().empty(), at.Field("symbol"), "is required");
    CheckRange(token.has_decimals(), token.decimals(), 0, chain::kMaxDecimals, at.Field("decimals"),
               errors);
  }

  if (!chain.multicall_address().empty()) {
    if (errors->Check(evm, path.Field("multicall_address"), "only EVM chains have Multicall3")) {
      errors->CheckOk(path.Field("multicall_address"),
                      chain::ParseEvmAddress(chain.multicall_address()).status());
    }
  }
  CheckRange(chain.has_aggregate_size(), chain.aggregate_size(), 1, kMaxAggregateSizeLimit,
             path.Field("aggregate_size"), errors);
  CheckPositiveDuration(chain.has_cooldown(), chain.cooldown(), path.Field("cooldown"), errors);
  CheckPositiveDuration(chain.has_max_cooldown(), chain.max_cooldown(), path.Field("max_cooldown"),
                        errors);
  const absl::Duration cooldown =
      chain.has_cooldown() ? config::DurationFromProto(chain.cooldown()) : kDefaultCooldown;
  const absl::Duration max_cooldown = chain.has_max_cooldown()
                                          ? config::DurationFromProto(chain.max_cooldown())
                                          : kDefaultMaxCooldown;
  errors->Check(max_cooldown >= cooldown, path.Field("max_cooldown"), "must be at least cooldown");
}

void CheckPriceSource(const config::PriceSourceConfig& source, const FieldPath& path,
                      UpstreamNames* names, FieldErrors* errors) {
  names->Check(source.name(), path.Field("name"), errors);
  CheckUrl(source.base_url(), path.Field("base_url"), errors);
  CheckHeaders(source.headers(), path.Field("headers"), errors);
  CheckRateLimits(source, path, errors);
  CheckPositiveDuration(source.has_ttl(), source.ttl(), path.Field("ttl"), errors);
  CheckRange(source.has_max_ids_per_request(), source.max_ids_per_request(), 1,
             kMaxIdsPerRequestLimit, path.Field("max_ids_per_request"), errors);
}

void CheckHttp(const config::HttpConfig& http, const FieldPath& path, FieldErrors* errors) {
  CheckRange(http.has_max_connections(), http.max_connections(), 1, kMaxConnectionsLimit,
             path.Field("max_connections"), errors);
  const uint32_t max_connections =
      http.has_max_connections() ? http.max_connections() : kDefaultMaxConnections;
  CheckRange(http.has_max_connections_per_host(), http.max_connections_per_host(), 1,
             max_connections, path.Field("max_connections_per_host"), errors);
  CheckPositiveDuration(http.has_connect_timeout(), http.connect_timeout(),
                        path.Field("connect_timeout"), errors);
  CheckPositiveDuration(http.has_request_timeout(), http.request_timeout(),
                        path.Field("request_timeout"), errors);
  CheckRange(http.has_max_attempts(), http.max_attempts(), 1, kMaxAttemptsLimit,
             path.Field("max_attempts"), errors);
  CheckPositiveDuration(http.has_backoff_base(), http.backoff_base(), path.Field("backoff_base"),
                        errors);
  CheckPositiveDuration(http.has_backoff_cap(), http.backoff_cap(), path.Field("backoff_cap"),
                        errors);
  const absl::Duration base = http.has_backoff_base()
                                  ? config::DurationFromProto(http.backoff_base())
                                  : kDefaultBackoffBase;
  const absl::Duration cap =
      http.has_backoff_cap() ? config::DurationFromProto(http.backoff_cap()) : kDefaultBackoffCap;
  errors->Check(cap >= base, path.Field("backoff_cap"), "must be at least backoff_base");
  CheckRange(http.has_max_response_bytes(), http.max_response_bytes(), kMinResponseBytes,
             kMaxResponseBytesLimit, path.Field("max_response_bytes"), errors);
}

}  // namespace

absl::Status ValidateFetcherConfig(const config::FetcherConfig& config, absl::string_view source) {
  FieldErrors errors(source);
  CheckRange(config.has_max_batch_items(), config.max_batch_items(), 1, kMaxBatchItemsLimit,
             FieldPath("max_batch_items"), &errors);
  CheckHttp(config.http(), FieldPath("http"), &errors);
  UpstreamNames names;
  absl::flat_hash_map<std::string, std::string> chain_ids;
  for (int i = 0; i < config.chains_size(); ++i) {
    CheckChain(config.chains(i), FieldPath("chains").Index(i), &names, &chain_ids, &errors);
  }
  for (int i = 0; i < config.price_sources_size(); ++i) {
    CheckPriceSource(config.price_sources(i), FieldPath("price_sources").Index(i), &names, &errors);
  }
  return errors.ToStatus();
}

}  // namespace coffer::fetcher
