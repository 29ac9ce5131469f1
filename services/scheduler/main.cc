// coffer-scheduler: runs the background task loops that refresh balances and prices.
#include <spdlog/spdlog.h>

#include "coffer/v1/scheduler.grpc.pb.h"
#include "common/config/flags.h"
#include "common/exec/termination_signal.h"
#include "common/grpc/service_host.h"
#include "common/log/logging.h"

namespace {

constexpr char kUsage[] =
    "runs the background task loops that refresh balances and prices.\n"
    "Serves coffer.v1.Scheduler, coffer.v1.Admin, grpc.health.v1 and reflection.\n"
    "Every flag also reads COFFER_<FLAG> from the environment.";

}  // namespace

int main(int argc, char** argv) {
  coffer::exec::BlockTerminationSignals();
  coffer::config::ParseCommandLine(argc, argv, kUsage);
  coffer::log::Init(coffer::log::OptionsFromFlags("scheduler"));

  coffer::grpc_util::ServiceHost host({
      .name = "coffer-scheduler",
      .grpc_services = {"coffer.v1.Scheduler"},
      .default_listen = "127.0.0.1:50053",
  });
  // Placeholder until the scheduler service's own issue lands: the generated base
  // class answers UNIMPLEMENTED for every method, and registering it lets
  // reflection describe the API already.
  coffer::v1::Scheduler::Service api;
  host.server().RegisterService(&api);
  return host.Run();
}
