#include "services/fetcher/chains/http_upstream_transport.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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
