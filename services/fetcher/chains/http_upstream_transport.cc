#include "services/fetcher/chains/http_upstream_transport.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "common/config/proto_duration.h"
#include "services/fetcher/config/fetcher_config_defaults.h"
#include "services/fetcher/http/retry_policy.h"

namespace coffer::fetcher {

void HttpUpstreamTransport::Send(size_t endpoint, UpstreamRequest request, Done done) {
  if (endpoint >= endpoints_.size()) {
    done(absl::InternalError(absl::StrCat("no endpoint ", endpoint)));
    return;
  }
  const HttpEndpoint& target = endpoints_[endpoint];
  HttpRequest http;
  http.method = request.method;
  http.url = target.url + request.path;
  http.headers = target.headers;
  if (request.method == "POST") http.headers.emplace_back("content-type", "application/json");
  http.body = std::move(request.body);
  http.connect_timeout = options_.connect_timeout;
  http.timeout = options_.request_timeout;
  client_->Send(target.upstream, std::move(http),
                SendOptions{.deadline = request.deadline, .max_attempts = options_.max_attempts},
                [done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
                  if (!response.ok()) {
                    done(response.status());
                    return;
                  }
                  UpstreamReply reply;
                  reply.http_status = response->status;
                  if (const std::string* retry_after = response->FindHeader("retry-after")) {
                    reply.retry_after = ParseRetryAfter(*retry_after, absl::Now());
                  }
                  reply.body = std::move(response->body);
                  done(std::move(reply));
                });
}

}  // namespace coffer::fetcher

namespace coffer::fetcher {

void HttpUpstreamTransport::Describe(size_t endpoint, v1::EndpointStatus* status) const {
  if (endpoint >= endpoints_.size()) return;
  const Upstream& upstream = endpoints_[endpoint].upstream;
  status->set_requests_per_second(upstream.requests_per_second);
  status->set_burst(static_cast<uint32_t>(upstream.burst));
  status->set_max_concurrency(static_cast<uint32_t>(upstream.max_concurrency));
  const UpstreamStats stats = client_->Stats(upstream.name);
  status->set_requests(stats.requests);
  status->set_failures(stats.failures);
  status->set_retries(stats.retries);
  status->set_rate_limited(stats.rate_limited);
  status->set_in_flight(stats.in_flight);
  status->set_latency_p50_ms(absl::ToDoubleMilliseconds(stats.p50_latency));
  status->set_latency_p99_ms(absl::ToDoubleMilliseconds(stats.p99_latency));
  *status->mutable_rate_limit_wait() = config::DurationToProto(stats.limiter_wait);
}

}  // namespace coffer::fetcher
