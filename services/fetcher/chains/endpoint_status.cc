#include "services/fetcher/chains/endpoint_status.h"

#include <utility>

#include "google/protobuf/util/time_util.h"

#include "services/fetcher/balance_plan.h"

namespace coffer::fetcher {
namespace {

v1::EndpointStatus::Health HealthOf(EndpointHealth::State state) {
  switch (state) {
    case EndpointHealth::State::kHealthy:
      return v1::EndpointStatus::HEALTHY;
    case EndpointHealth::State::kCoolingDown:
      return v1::EndpointStatus::COOLING_DOWN;
    case EndpointHealth::State::kUnhealthy:
      return v1::EndpointStatus::UNHEALTHY;
    case EndpointHealth::State::kUnknown:
      break;
  }
  return v1::EndpointStatus::UNKNOWN;
}

}  // namespace

std::vector<v1::EndpointStatus> EndpointStatuses(const EndpointSet& endpoints,
                                                 const UpstreamTransport& transport,
                                                 absl::Time now) {
  std::vector<v1::EndpointStatus> statuses;
  statuses.reserve(endpoints.size());
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const EndpointOptions& options = endpoints.options(i);
    const EndpointHealth health = endpoints.Health(i, now);
    v1::EndpointStatus status;
    status.set_name(options.name);
    status.set_host(options.host);
    status.set_priority(static_cast<uint32_t>(i));
    status.set_health(HealthOf(health.state));
    if (health.state == EndpointHealth::State::kCoolingDown) {
      *status.mutable_cooldown_until() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(health.cooldown_until));
    }
    if (!health.last_error.ok()) {
      *status.mutable_last_error() = ItemError(health.last_error, options.name);
    }
    if (health.last_success_at.has_value()) {
      *status.mutable_last_success_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(*health.last_success_at));
    }
    status.set_batch_size(static_cast<uint32_t>(health.batch_size));
    transport.Describe(i, &status);
    statuses.push_back(std::move(status));
  }
  return statuses;
}

}  // namespace coffer::fetcher
