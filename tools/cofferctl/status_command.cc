#include "tools/cofferctl/status_command.h"

#include <ostream>
#include <string>

#include "tools/cofferctl/status_table.h"

namespace coffer::cofferctl {
namespace {

using client::Service;
using grpc::health::v1::Health;

ServiceStatus QueryService(CommandContext& ctx, Service service) {
  ServiceStatus result;
  result.name = client::ServiceName(service);
  result.address = ctx.coffer.address(service);
  auto check = ctx.coffer.health(service).CallBlocking(&Health::Stub::PrepareAsyncCheck,
                                                       grpc::health::v1::HealthCheckRequest(),
                                                       ctx.coffer.options());
  if (!check.ok()) {
    result.health = "UNREACHABLE";
    result.error = check.status().ToString();
    return result;
  }
  result.health = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(check->status());
  auto status = ctx.coffer.admin(service).CallBlocking(
      &v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest(), ctx.coffer.options());
  if (!status.ok()) {
    result.error = status.status().ToString();
    return result;
  }
  result.status = *status;
  return result;
}

absl::Status RunStatus(CommandContext& ctx) {
  if (!ctx.args.empty()) return UsageError("status takes no arguments");
  std::vector<ServiceStatus> services = {
      QueryService(ctx, Service::kFetcher),
      QueryService(ctx, Service::kStorage),
      QueryService(ctx, Service::kScheduler),
  };
  ctx.out << (ctx.output == OutputFormat::kJson ? StatusJson(services) : StatusTable(services));
  for (const ServiceStatus& service : services) {
    if (service.health != "SERVING") ctx.exit_code = 1;
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> StatusCommands() {
  return {{
      .words = {"status"},
      .arguments = "",
      .summary = "health and status of fetcher, storage and scheduler",
      .details = "Exit status 1 unless all three are SERVING (so scripts can wait on it).",
      .flags = {},
      .run = RunStatus,
  }};
}

}  // namespace coffer::cofferctl
