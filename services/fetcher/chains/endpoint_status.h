// The ListUpstreams view of a set of endpoints: what the EndpointSet knows
// (health, cool-down, last error and success, batch size) and what the
// transport knows (limits, counters, latency), for chains and price
// sources alike.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_ENDPOINT_STATUS_H_
#define COFFER_SERVICES_FETCHER_CHAINS_ENDPOINT_STATUS_H_

#include <vector>

#include "absl/time/time.h"

#include "coffer/v1/fetcher.pb.h"
#include "services/fetcher/chains/endpoint_set.h"
#include "services/fetcher/chains/upstream_transport.h"

namespace coffer::fetcher {

// One EndpointStatus per endpoint, in priority order.
std::vector<v1::EndpointStatus> EndpointStatuses(const EndpointSet& endpoints,
                                                 const UpstreamTransport& transport,
                                                 absl::Time now);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_ENDPOINT_STATUS_H_
