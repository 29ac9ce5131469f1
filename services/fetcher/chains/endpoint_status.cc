#include "services/fetcher/chains/endpoint_status.h"

#include <utility>

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

void SetTime(absl::Time time, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(time);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
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
      SetTime(health.cooldown_until, status.mutable_cooldown_until());
    }
    if (!health.last_error.ok()) {
      *status.mutable_last_error() = ItemError(health.last_error, options.name);
    }
    if (health.last_success_at.has_value()) {
      SetTime(*health.last_success_at, status.mutable_last_success_at());
    }
    status.set_batch_size(static_cast<uint32_t>(health.batch_size));
    transport.Describe(i, &status);
    statuses.push_back(std::move(status));
  }
  return statuses;
}

}  // namespace coffer::fetcher
