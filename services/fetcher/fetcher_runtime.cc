#include "services/fetcher/fetcher_runtime.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "common/chain/caip.h"
#include "common/config/proto_duration.h"
#include "common/status/status_macros.h"
#include "services/fetcher/chain_setup.h"
#include "services/fetcher/chains/bitcoin/esplora_chain_reader.h"
#include "services/fetcher/chains/evm_chain_reader.h"
#include "services/fetcher/chains/http_upstream_transport.h"
#include "services/fetcher/config/endpoint_url.h"
#include "services/fetcher/config/fetcher_config_defaults.h"
#include "services/fetcher/config/header_values.h"
#include "services/fetcher/prices/coingecko_price_reader.h"

namespace coffer::fetcher {
namespace {

HttpClient::Options HttpOptionsOf(const config::HttpConfig& http) {
  HttpClient::Options options;
  options.loop.name = "fetcher-http";
  if (http.has_max_connections()) options.loop.max_total_connections = http.max_connections();
  if (http.has_max_connections_per_host()) {
    options.loop.max_host_connections = http.max_connections_per_host();
  }
  if (http.has_max_response_bytes()) options.loop.max_response_bytes = http.max_response_bytes();
  if (http.has_backoff_base())
    options.retry.base_delay = config::DurationFromProto(http.backoff_base());
  if (http.has_backoff_cap())
    options.retry.max_delay = config::DurationFromProto(http.backoff_cap());
  return options;
}

}  // namespace

FetcherRuntime::FetcherRuntime(const config::FetcherConfig& config)
    : http_(std::make_unique<HttpClient>(HttpOptionsOf(config.http()))) {
  options_.max_batch_items = config.has_max_batch_items() ? config.max_batch_items() : 10'000;
}

FetcherRuntime::~FetcherRuntime() {
  // Upstream callbacks hold the readers' state: end them before the chains
  // go.
  http_->Shutdown();
}

absl::StatusOr<std::unique_ptr<FetcherRuntime>> FetcherRuntime::Create(
    const config::FetcherConfig& config) {
  std::unique_ptr<FetcherRuntime> runtime(new FetcherRuntime(config));
  const config::HttpConfig& http = config.http();
  HttpUpstreamTransport::Options transport_options;
  if (http.has_connect_timeout()) {
    transport_options.connect_timeout = config::DurationFromProto(http.connect_timeout());
  }
  if (http.has_request_timeout()) {
    transport_options.request_timeout = config::DurationFromProto(http.request_timeout());
  }
  if (http.has_max_attempts())
    transport_options.max_attempts = static_cast<int>(http.max_attempts());

  for (int c = 0; c < config.chains_size(); ++c) {
    const config::ChainConfig& chain = config.chains(c);
    absl::StatusOr<chain::ChainId> id = chain::ParseChainId(chain.chain_id());
    if (!id.ok()) return id.status();
    const std::string chain_id = id->ToString();
    std::vector<HttpEndpoint> endpoints;
    for (int e = 0; e < chain.endpoints_size(); ++e) {
      const config::EndpointConfig& endpoint = chain.endpoints(e);
      absl::StatusOr<std::vector<HttpHeader>> headers = ResolveHeaders(endpoint.headers());
      if (!headers.ok()) {
        return absl::Status(headers.status().code(),
                            absl::StrCat("chains[", c, "].endpoints[", e,
                                         "].headers: ", headers.status().message()));
      }
      HttpEndpoint http_endpoint;
      http_endpoint.upstream.name = endpoint.name();
      if (endpoint.has_requests_per_second()) {
        http_endpoint.upstream.requests_per_second = endpoint.requests_per_second();
        http_endpoint.upstream.burst = endpoint.has_burst() ? endpoint.burst() : 1;
      }
      if (endpoint.has_max_concurrency()) {
        http_endpoint.upstream.max_concurrency = endpoint.max_concurrency();
      }
      http_endpoint.url = endpoint.url();
      for (HttpHeader& header : *headers) {
        http_endpoint.headers.emplace_back(std::move(header.name), std::move(header.value));
      }
      endpoints.push_back(std::move(http_endpoint));
    }
    Chain built;
    built.endpoints = std::make_unique<EndpointSet>(EndpointOptionsOf(chain));
    built.transport = std::make_unique<HttpUpstreamTransport>(
        runtime->http_.get(), std::move(endpoints), transport_options);
    const absl::Duration timeout =
        transport_options.request_timeout * transport_options.max_attempts;
    if (chain.kind() == v1::CHAIN_KIND_BITCOIN) {
      EsploraChainOptions bitcoin;
      bitcoin.chain_id = chain_id;
      bitcoin.name = chain.name();
      bitcoin.asset_id = CatalogEntryOf(chain).asset_ids.front();
      bitcoin.symbol = chain.native_asset().symbol();
      bitcoin.price_id = chain.native_asset().price_id();
      bitcoin.request_timeout = timeout;
      built.reader = std::make_unique<EsploraChainReader>(std::move(bitcoin), built.endpoints.get(),
                                                          built.transport.get());
    } else {
      built.reader = std::make_unique<EvmChainReader>(EvmOptionsOf(chain, timeout),
                                                      built.endpoints.get(), built.transport.get());
    }
    runtime->options_.chain_order.push_back(chain_id);
    runtime->options_.catalog[chain_id] = CatalogEntryOf(chain);
    runtime->options_.readers[chain_id] = built.reader.get();
    runtime->chains_.push_back(std::move(built));
  }
  RETURN_IF_ERROR(runtime->AddPriceSources(config, transport_options));
  return runtime;
}

absl::Status FetcherRuntime::AddPriceSources(const config::FetcherConfig& config,
                                             const HttpUpstreamTransport::Options& transport) {
  if (config.price_sources().empty()) return absl::OkStatus();
  std::vector<HttpEndpoint> endpoints;
  std::vector<EndpointOptions> endpoint_options;
  for (int s = 0; s < config.price_sources_size(); ++s) {
    const config::PriceSourceConfig& source = config.price_sources(s);
    absl::StatusOr<std::vector<HttpHeader>> headers = ResolveHeaders(source.headers());
    if (!headers.ok()) {
      return absl::Status(
          headers.status().code(),
          absl::StrCat("price_sources[", s, "].headers: ", headers.status().message()));
    }
    HttpEndpoint endpoint;
    endpoint.upstream.name = source.name();
    if (source.has_requests_per_second()) {
      endpoint.upstream.requests_per_second = source.requests_per_second();
      endpoint.upstream.burst = source.has_burst() ? source.burst() : 1;
    }
    if (source.has_max_concurrency()) endpoint.upstream.max_concurrency = source.max_concurrency();
    endpoint.url = source.base_url();
    while (!endpoint.url.empty() && endpoint.url.back() == '/') endpoint.url.pop_back();
    for (HttpHeader& header : *headers) {
      endpoint.headers.emplace_back(std::move(header.name), std::move(header.value));
    }
    endpoints.push_back(std::move(endpoint));
    EndpointOptions options;
    options.name = source.name();
    absl::StatusOr<EndpointUrl> url = ParseEndpointUrl(source.base_url());
    options.host = url.ok() ? url->display_host : "";
    endpoint_options.push_back(std::move(options));
  }
  CoinGeckoOptions options;
  const config::PriceSourceConfig& first = config.price_sources(0);
  if (first.has_ttl()) options.ttl = config::DurationFromProto(first.ttl());
  if (first.has_max_ids_per_request()) options.max_ids_per_request = first.max_ids_per_request();
  options.request_timeout = transport.request_timeout * transport.max_attempts;
  for (const config::ChainConfig& chain : config.chains()) {
    const ChainAssets assets = CatalogEntryOf(chain);
    // CatalogEntryOf lists the native asset first, then the tokens in order.
    if (!chain.native_asset().price_id().empty()) {
      options.price_ids[assets.asset_ids[0]] = chain.native_asset().price_id();
    }
    for (int t = 0; t < chain.tokens_size(); ++t) {
      if (!chain.tokens(t).price_id().empty()) {
        options.price_ids[assets.asset_ids[t + 1]] = chain.tokens(t).price_id();
      }
    }
  }
  price_sources_ = std::make_unique<EndpointSet>(std::move(endpoint_options));
  price_transport_ =
      std::make_unique<HttpUpstreamTransport>(http_.get(), std::move(endpoints), transport);
  prices_ = std::make_unique<CoinGeckoPriceReader>(std::move(options), price_sources_.get(),
                                                   price_transport_.get());
  options_.prices = prices_.get();
  return absl::OkStatus();
}

FetcherService::Options FetcherRuntime::service_options() const { return options_; }

void FetcherRuntime::StartProbes(absl::Duration interval) {
  http_->loop().Post([this, interval](absl::Status status) {
    if (status.ok()) ProbeAndReschedule(interval);
  });
}

void FetcherRuntime::ProbeAndReschedule(absl::Duration interval) {
  for (Chain& chain : chains_) chain.reader->Probe();
  // CANCELLED once the loop shuts down: the chain of probes ends there.
  http_->loop().RunAfter(interval, [this, interval](absl::Status status) {
    if (status.ok()) ProbeAndReschedule(interval);
  });
}

}  // namespace coffer::fetcher
