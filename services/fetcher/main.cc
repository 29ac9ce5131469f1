// coffer-fetcher: queries balances and prices from EVM JSON-RPC nodes, Esplora and a price API.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include <spdlog/spdlog.h>

#include "common/config/flags.h"
#include "common/exec/termination_signal.h"
#include "common/grpc/service_host.h"
#include "common/log/fmt_absl.h"
#include "common/log/logging.h"
#include "services/fetcher/config/fetcher_config.h"
#include "services/fetcher/fetcher_runtime.h"
#include "services/fetcher/fetcher_service.h"

ABSL_FLAG(std::string, config, "",
          "Fetcher configuration (textproto, see services/fetcher/config/example.textproto); "
          "empty: a local development node, anvil on 127.0.0.1:8545 (chain eip155:31337)");

ABSL_FLAG(absl::Duration, probe_interval, absl::Seconds(30),
          "How often every endpoint's health is probed (for EVM with a real eth_call)");

namespace {

constexpr char kUsage[] =
    "queries balances and prices from EVM JSON-RPC nodes, Esplora and a price API.\n"
    "Serves coffer.v1.Fetcher, coffer.v1.Admin, grpc.health.v1 and reflection.\n"
    "Every flag also reads COFFER_<FLAG> from the environment.";

}  // namespace

int main(int argc, char** argv) {
  coffer::exec::BlockTerminationSignals();
  coffer::config::ParseCommandLine(argc, argv, kUsage);
  coffer::log::Init(coffer::log::OptionsFromFlags("fetcher"));

  const std::string config_path = absl::GetFlag(FLAGS_config);
  absl::StatusOr<coffer::config::FetcherConfig> config =
      coffer::fetcher::LoadFetcherConfig(config_path);
  if (!config.ok()) {
    spdlog::critical("fetcher: cannot load the configuration: {}", config.status());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<coffer::fetcher::FetcherRuntime>> runtime =
      coffer::fetcher::FetcherRuntime::Create(*config);
  if (!runtime.ok()) {
    spdlog::critical("fetcher: {}", runtime.status());
    return 1;
  }
  coffer::fetcher::FetcherService::Options options = (*runtime)->service_options();
  (*runtime)->StartProbes(absl::GetFlag(FLAGS_probe_interval));
  spdlog::info("fetcher: {} chain(s) configured ({}){}", options.chain_order.size(),
               absl::StrJoin(options.chain_order, ", "),
               config_path.empty() ? " by the built-in development default" : "");

  coffer::grpc_util::ServiceHost host({
      .name = "coffer-fetcher",
      .grpc_services = {"coffer.v1.Fetcher"},
      .default_listen = "127.0.0.1:50051",
  });
  coffer::fetcher::FetcherService api(std::move(options));
  api.Register(host.server());
  host.admin().SetDetailsProvider(
      [config_path, chains = (*runtime)->service_options().chain_order] {
        return std::map<std::string, std::string>{
            {"config", config_path.empty() ? "(built-in default)" : config_path},
            {"chains", absl::StrJoin(chains, ",")}};
      });
  return host.Run();
}
