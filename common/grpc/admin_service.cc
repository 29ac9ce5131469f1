#include "common/grpc/admin_service.h"

#include <utility>

#include "absl/time/clock.h"
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "common/grpc/metrics_report.h"
#include "common/log/logging.h"

namespace coffer::grpc_util {

using google::protobuf::util::TimeUtil;

AdminService::AdminService(std::string service_name, std::string version, const AsyncServer& server,
                           const HealthService& health, metrics::Registry& registry)
    : service_name_(std::move(service_name)),
      version_(std::move(version)),
      server_(server),
      health_(health),
      registry_(registry),
      started_at_(absl::Now()) {}

void AdminService::Register(AsyncServer& server) {
  server.RegisterService(&async_service_);
  COFFER_GRPC_UNARY(server, async_service_, v1::Admin, GetMetrics, this);
  COFFER_GRPC_UNARY(server, async_service_, v1::Admin, GetStatus, this);
  COFFER_GRPC_UNARY(server, async_service_, v1::Admin, SetLogLevel, this);
  COFFER_GRPC_UNARY(server, async_service_, v1::Admin, Ping, this);
}

void AdminService::HandleGetMetrics(CallContext& /*context*/, const v1::GetMetricsRequest& request,
                                    v1::GetMetricsResponse* reply, Done done) {
  FillMetricsResponse(registry_, request.name_prefix(), reply);
  if (request.include_prometheus_text()) reply->set_prometheus_text(registry_.PrometheusText());
  done(absl::OkStatus());
}

void AdminService::HandleGetStatus(CallContext& /*context*/,
                                   const v1::GetStatusRequest& /*request*/,
                                   v1::GetStatusResponse* reply, Done done) {
  absl::Time now = absl::Now();
  reply->set_service(service_name_);
  reply->set_version(version_);
  *reply->mutable_started_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(started_at_));
  *reply->mutable_uptime() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(now - started_at_));
  reply->set_ready(health_.IsServing());
  reply->set_listen_address(server_.listen_address());
  reply->set_completion_queues(server_.completion_queues());
  reply->set_in_flight_calls(server_.limiter().in_flight());
  reply->set_max_in_flight_calls(server_.limiter().limit());
  reply->set_debug_mode(server_.options().debug);
  reply->set_slow_handlers(server_.slow_handlers());
  if (details_) {
    for (auto& [key, value] : details_()) (*reply->mutable_details())[key] = value;
  }
  done(absl::OkStatus());
}

void AdminService::HandleSetLogLevel(CallContext& /*context*/,
                                     const v1::SetLogLevelRequest& request,
                                     v1::SetLogLevelResponse* reply, Done done) {
  absl::StatusOr<std::string> previous = log::SetLevel(request.level());
  if (!previous.ok()) {
    done(previous.status());
    return;
  }
  spdlog::warn("log level changed from {} to {} through Admin.SetLogLevel", *previous,
               request.level());
  reply->set_previous_level(*previous);
  done(absl::OkStatus());
}

void AdminService::HandlePing(CallContext& /*context*/, const v1::PingRequest& request,
                              v1::PingResponse* reply, Done done) {
  reply->set_payload(request.payload());
  done(absl::OkStatus());
}

}  // namespace coffer::grpc_util
