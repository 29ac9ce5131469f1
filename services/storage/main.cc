// coffer-storage: owns the encrypted SQLCipher database: accounts, snapshots, prices, tasks, runs.
#include <spdlog/spdlog.h>

#include "coffer/v1/storage.grpc.pb.h"
#include "common/config/flags.h"
#include "common/exec/termination_signal.h"
#include "common/grpc/service_host.h"
#include "common/log/logging.h"

namespace {

constexpr char kUsage[] =
    "owns the encrypted SQLCipher database: accounts, snapshots, prices, tasks, runs.\n"
    "Serves coffer.v1.Storage, coffer.v1.Admin, grpc.health.v1 and reflection.\n"
    "Every flag also reads COFFER_<FLAG> from the environment.";

}  // namespace

int main(int argc, char** argv) {
  coffer::exec::BlockTerminationSignals();
  coffer::config::ParseCommandLine(argc, argv, kUsage);
  coffer::log::Init(coffer::log::OptionsFromFlags("storage"));

  coffer::grpc_util::ServiceHost host({
      .name = "coffer-storage",
      .grpc_services = {"coffer.v1.Storage"},
      .default_listen = "127.0.0.1:50052",
  });
  // Placeholder until the storage service's own issue lands: the generated base
  // class answers UNIMPLEMENTED for every method, and registering it lets
  // reflection describe the API already.
  coffer::v1::Storage::Service api;
  host.server().RegisterService(&api);
  return host.Run();
}
