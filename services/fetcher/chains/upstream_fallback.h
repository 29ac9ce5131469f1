// One REST request (Esplora, the price API) to the first endpoint that is
// not cooling down, falling back to the next when it fails: a transport
// error, a 429 or a 5xx benches the endpoint (EndpointSet) and the same
// request goes to the next. Any other status is an answer for the caller
// to judge (a 404 for an unknown address is one).
//
//   SendWithFallback(endpoints, transport, std::move(request),
//                    [](absl::StatusOr<UpstreamReply> reply, std::string upstream) { ... });
#ifndef COFFER_SERVICES_FETCHER_CHAINS_UPSTREAM_FALLBACK_H_
#define COFFER_SERVICES_FETCHER_CHAINS_UPSTREAM_FALLBACK_H_

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

#include "services/fetcher/chains/endpoint_set.h"
#include "services/fetcher/chains/upstream_transport.h"

namespace coffer::fetcher {

// The reply (or the last error, UNAVAILABLE when no endpoint was left) and
// the configured name of the endpoint that gave it.
using FallbackDone = absl::AnyInvocable<void(absl::StatusOr<UpstreamReply>, std::string)>;

// `endpoints` and `transport` outlive the request.
void SendWithFallback(EndpointSet& endpoints, UpstreamTransport& transport, UpstreamRequest request,
                      FallbackDone done);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_UPSTREAM_FALLBACK_H_
