// cofferctl: the command-line client of a coffer stack.
//
// This first version has one subcommand, `status`: health and
// Admin.GetStatus of all three services. The rest (accounts, balances,
// portfolio, tasks, ...) follows with the services themselves.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

#include "coffer/v1/admin.grpc.pb.h"
#include "common/config/flags.h"
#include "common/grpc/async_client.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "tools/cofferctl/status_table.h"

ABSL_FLAG(std::string, fetcher, "127.0.0.1:50051", "Address of coffer-fetcher");
ABSL_FLAG(std::string, storage, "127.0.0.1:50052", "Address of coffer-storage");
ABSL_FLAG(std::string, scheduler, "127.0.0.1:50053", "Address of coffer-scheduler");
ABSL_FLAG(std::string, output, "table", "Output format: table (for people) or json (for scripts)");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline of each call");

namespace {

constexpr char kUsage[] =
    "the command-line client of a coffer stack.\n"
    "\n"
    "Usage: cofferctl [flags] <command>\n"
    "\n"
    "Commands:\n"
    "  status   health and status of fetcher, storage and scheduler\n"
    "\n"
    "Service addresses come from --fetcher/--storage/--scheduler or\n"
    "COFFER_FETCHER/COFFER_STORAGE/COFFER_SCHEDULER.";

using coffer::cofferctl::ServiceStatus;
using grpc::health::v1::Health;

ServiceStatus QueryService(const std::string& name, const std::string& address,
                           coffer::grpc_util::ClientQueue& queue) {
  ServiceStatus result;
  result.name = name;
  result.address = address;
  auto channel = coffer::grpc_util::MakeChannel(address);
  coffer::grpc_util::CallOptions options;
  options.timeout = absl::GetFlag(FLAGS_timeout);

  coffer::grpc_util::AsyncClient<Health> health(channel, &queue);
  auto check = health.CallBlocking(&Health::Stub::PrepareAsyncCheck,
                                   grpc::health::v1::HealthCheckRequest(), options);
  if (!check.ok()) {
    result.health = "UNREACHABLE";
    result.error = check.status().ToString();
    return result;
  }
  result.health = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(check->status());

  coffer::grpc_util::AsyncClient<coffer::v1::Admin> admin(channel, &queue);
  auto status = admin.CallBlocking(&coffer::v1::Admin::Stub::PrepareAsyncGetStatus,
                                   coffer::v1::GetStatusRequest(), options);
  if (!status.ok()) {
    result.error = status.status().ToString();
    return result;
  }
  result.status = *status;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = coffer::config::ParseCommandLine(argc, argv, kUsage);
  if (args.size() != 2 || std::string(args[1]) != "status") {
    std::fprintf(stderr, "cofferctl: expected one command (status); see cofferctl --help\n");
    return 2;
  }
  std::string output = absl::GetFlag(FLAGS_output);
  if (output != "table" && output != "json") {
    std::fprintf(stderr, "cofferctl: --output must be table or json, not \"%s\"\n", output.c_str());
    return 2;
  }
  coffer::grpc_util::ClientQueue queue("cofferctl");
  std::vector<ServiceStatus> services = {
      QueryService("fetcher", absl::GetFlag(FLAGS_fetcher), queue),
      QueryService("storage", absl::GetFlag(FLAGS_storage), queue),
      QueryService("scheduler", absl::GetFlag(FLAGS_scheduler), queue),
  };
  std::cout << (output == "json" ? coffer::cofferctl::StatusJson(services)
                                 : coffer::cofferctl::StatusTable(services));
  for (const ServiceStatus& service : services) {
    if (service.health != "SERVING") return 1;
  }
  return 0;
}
