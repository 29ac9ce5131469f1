// How a chain reader reaches its endpoints: one request to endpoint `index`
// (by position in the chain's configured endpoints), answered with the
// HTTP response or the transport error left after the HTTP engine's own
// retries. The reader decides what the answer means (a batch too large, a
// rate limit, a JSON-RPC error) and which endpoint to try next.
//
// The production transport (http_upstream_transport.h) sends through the
// HTTP engine under each endpoint's rate and concurrency limits; tests
// answer in memory.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_UPSTREAM_TRANSPORT_H_
#define COFFER_SERVICES_FETCHER_CHAINS_UPSTREAM_TRANSPORT_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/fetcher.pb.h"

namespace coffer::fetcher {

struct UpstreamReply {
  int http_status = 0;
  std::string body = {};
  // From a Retry-After header, when the upstream sent one.
  std::optional<absl::Duration> retry_after = std::nullopt;
};

struct UpstreamRequest {
  // "GET" or "POST".
  std::string method = "POST";
  // Appended to the endpoint's URL ("/address/bc1q..."); empty for
  // JSON-RPC, which posts to the URL itself.
  std::string path;
  // JSON for POST.
  std::string body;
  // The caller's deadline: the transport gives up (DEADLINE_EXCEEDED)
  // rather than retry past it.
  absl::Time deadline = absl::InfiniteFuture();
};

class UpstreamTransport {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<UpstreamReply>)>;

  virtual ~UpstreamTransport() = default;

  // Returns at once; `done` runs once, on the transport's thread, and must
  // not block. A non-2xx status is a reply, not an error; errors are
  // transport failures (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
  // RESOURCE_EXHAUSTED for an oversized body).
  virtual void Send(size_t endpoint, UpstreamRequest request, Done done) = 0;

  // Adds what the transport knows of endpoint `index` to its ListUpstreams
  // entry: limits in force, request counters, latency, rate-limiter wait.
  virtual void Describe(size_t /*endpoint*/, v1::EndpointStatus* /*status*/) const {}
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_UPSTREAM_TRANSPORT_H_
