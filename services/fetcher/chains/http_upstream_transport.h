// UpstreamTransport over the HTTP engine: endpoint `index` is a URL with
// its own headers (API keys) and its own rate and concurrency limits, sent
// to through one shared HttpClient (pooled connections, retries with
// backoff inside the caller's deadline).
#ifndef COFFER_SERVICES_FETCHER_CHAINS_HTTP_UPSTREAM_TRANSPORT_H_
#define COFFER_SERVICES_FETCHER_CHAINS_HTTP_UPSTREAM_TRANSPORT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

#include "services/fetcher/chains/upstream_transport.h"
#include "services/fetcher/http/http_client.h"
#include "services/fetcher/http/http_types.h"

namespace coffer::fetcher {

struct HttpEndpoint {
  // Its name is the endpoint's configured name: metrics and Stats use it.
  Upstream upstream;
  std::string url;
  HttpHeaders headers;
};

class HttpUpstreamTransport : public UpstreamTransport {
 public:
  struct Options {
    absl::Duration connect_timeout = absl::Seconds(10);
    // Per attempt; cut to the request's deadline.
    absl::Duration request_timeout = absl::Seconds(30);
    int max_attempts = 3;
  };

  // `client` outlives the transport.
  HttpUpstreamTransport(HttpClient* client, std::vector<HttpEndpoint> endpoints, Options options)
      : client_(client), endpoints_(std::move(endpoints)), options_(options) {}

  void Send(size_t endpoint, UpstreamRequest request, Done done) override;
  void Describe(size_t endpoint, v1::EndpointStatus* status) const override;

  const HttpEndpoint& endpoint(size_t index) const { return endpoints_[index]; }

 private:
  HttpClient* const client_;
  const std::vector<HttpEndpoint> endpoints_;
  const Options options_;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_HTTP_UPSTREAM_TRANSPORT_H_
