#include "services/fetcher/chains/upstream_fallback.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace coffer::fetcher {
namespace {

struct Attempt {
  EndpointSet* endpoints;
  UpstreamTransport* transport;
  UpstreamRequest request;
  FallbackDone done;
  std::vector<size_t> tried;
};

void Next(std::unique_ptr<Attempt> attempt) {
  std::optional<size_t> endpoint;
  for (size_t candidate : attempt->endpoints->Candidates(absl::Now())) {
    if (std::find(attempt->tried.begin(), attempt->tried.end(), candidate) ==
        attempt->tried.end()) {
      endpoint = candidate;
      break;
    }
  }
  if (!endpoint.has_value()) {
    const absl::Status last = attempt->endpoints->LastError();
    std::string upstream =
        attempt->tried.empty() ? "" : attempt->endpoints->options(attempt->tried.back()).name;
    attempt->done(
        absl::UnavailableError(
            last.ok() ? std::string("every endpoint is cooling down")
                      : absl::StrCat("no endpoint left to try; last error: ", last.message())),
        std::move(upstream));
    return;
  }
  attempt->tried.push_back(*endpoint);
  UpstreamRequest request = attempt->request;
  UpstreamTransport* transport = attempt->transport;
  const size_t target = *endpoint;
  transport->Send(
      target, std::move(request),
      [attempt = std::move(attempt), target](absl::StatusOr<UpstreamReply> reply) mutable {
        EndpointSet& endpoints = *attempt->endpoints;
        std::string name = endpoints.options(target).name;
        absl::Status failure;
        std::optional<absl::Duration> retry_after;
        if (!reply.ok()) {
          if (reply.status().code() == absl::StatusCode::kCancelled) {
            attempt->done(reply.status(), std::move(name));
            return;
          }
          failure = reply.status();
        } else if (reply->http_status == 429) {
          failure = absl::ResourceExhaustedError("rate limited (HTTP 429)");
          retry_after = reply->retry_after;
        } else if (reply->http_status >= 500) {
          failure = absl::UnavailableError(absl::StrCat("HTTP ", reply->http_status));
          retry_after = reply->retry_after;
        }
        if (!failure.ok()) {
          endpoints.ReportFailure(target, failure, absl::Now(), retry_after);
          Next(std::move(attempt));
          return;
        }
        endpoints.ReportSuccess(target, absl::Now());
        attempt->done(std::move(reply), std::move(name));
      });
}

}  // namespace

void SendWithFallback(EndpointSet& endpoints, UpstreamTransport& transport, UpstreamRequest request,
                      FallbackDone done) {
  auto attempt = std::make_unique<Attempt>();
  attempt->endpoints = &endpoints;
  attempt->transport = &transport;
  attempt->request = std::move(request);
  attempt->done = std::move(done);
  Next(std::move(attempt));
}

}  // namespace coffer::fetcher
