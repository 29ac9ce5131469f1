// coffer-fetcher: queries balances and prices from EVM JSON-RPC nodes, Esplora and a price API.
#include <spdlog/spdlog.h>

#include "coffer/v1/fetcher.grpc.pb.h"
#include "common/config/flags.h"
#include "common/exec/termination_signal.h"
#include "common/grpc/service_host.h"
#include "common/log/logging.h"

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

  coffer::grpc_util::ServiceHost host({
      .name = "coffer-fetcher",
      .grpc_services = {"coffer.v1.Fetcher"},
      .default_listen = "127.0.0.1:50051",
  });
  // Placeholder until the fetcher service's own issue lands: the generated base
  // class answers UNIMPLEMENTED for every method, and registering it lets
  // reflection describe the API already.
  coffer::v1::Fetcher::Service api;
  host.server().RegisterService(&api);
  return host.Run();
}
