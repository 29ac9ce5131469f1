#include "services/fetcher/config/fetcher_config.h"

#include <utility>

#include "absl/status/status.h"

#include "common/config/textproto.h"

namespace coffer::fetcher {
namespace {

absl::StatusOr<config::FetcherConfig> Finish(config::FetcherConfig config,
                                             absl::string_view source) {
  ApplyFetcherConfigDefaults(&config);
  if (absl::Status status = ValidateFetcherConfig(config, source); !status.ok()) return status;
  return config;
}

}  // namespace

absl::StatusOr<config::FetcherConfig> LoadFetcherConfig(const std::string& path) {
  if (path.empty()) return DefaultFetcherConfig();
  config::FetcherConfig config;
  if (absl::Status status = coffer::config::LoadTextProto(path, &config); !status.ok()) {
    return status;
  }
  return Finish(std::move(config), path);
}

absl::StatusOr<config::FetcherConfig> ParseFetcherConfig(absl::string_view text,
                                                         absl::string_view source_name) {
  config::FetcherConfig config;
  if (absl::Status status = coffer::config::ParseTextProto(text, source_name, &config);
      !status.ok()) {
    return status;
  }
  return Finish(std::move(config), source_name);
}

config::FetcherConfig DefaultFetcherConfig() {
  config::FetcherConfig config;
  config::ChainConfig* chain = config.add_chains();
  chain->set_chain_id(std::string(kDevChainId));
  chain->set_name("anvil");
  chain->set_kind(v1::CHAIN_KIND_EVM);
  config::EndpointConfig* endpoint = chain->add_endpoints();
  endpoint->set_name("anvil");
  endpoint->set_url(std::string(kDevEndpointUrl));
  ApplyFetcherConfigDefaults(&config);
  return config;
}

}  // namespace coffer::fetcher
