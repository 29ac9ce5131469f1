#include "services/fetcher/http/http_client.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"

namespace coffer::fetcher {

struct HttpClient::UpstreamState {
  UpstreamState(metrics::Registry& registry, CurlLoop* loop, const Upstream& upstream)
      : name(upstream.name),
        labels{{"upstream", upstream.name}},
        limiter(loop, UpstreamLimiter::Limits{.requests_per_second = upstream.requests_per_second,
                                              .burst = upstream.burst,
                                              .max_concurrency = upstream.max_concurrency}),
        requests(registry.GetCounter("fetcher_upstream_requests_total", labels,
                                     "HTTP attempts sent to an upstream, retries included")),
        retries(registry.GetCounter("fetcher_upstream_retries_total", labels,
                                    "HTTP attempts after the first of a request")),
        failures(registry.GetCounter("fetcher_upstream_failures_total", labels,
                                     "HTTP attempts ending in a transport error or a 5xx")),
        rate_limited(registry.GetCounter("fetcher_upstream_rate_limited_total", labels,
                                         "HTTP attempts answered 429")),
        bytes_sent(registry.GetCounter("fetcher_upstream_bytes_sent_total", labels,
                                       "Request body bytes sent")),
        bytes_received(registry.GetCounter("fetcher_upstream_bytes_received_total", labels,
                                           "Response body bytes received")),
        latency(registry.GetHistogram("fetcher_upstream_latency_seconds", labels,
                                      "HTTP attempt latency, from hand-off to libcurl to outcome")),
        limiter_wait(registry.GetHistogram("fetcher_upstream_limiter_wait_seconds", labels,
                                           "Time an attempt waited for the rate and concurrency "
                                           "limits")),
        in_flight(registry.GetGauge("fetcher_upstream_in_flight", labels,
                                    "HTTP attempts handed to libcurl and not finished")) {}

  // Looked up on first use; loop thread only.
  metrics::Counter& Responses(metrics::Registry& registry, int status) {
    auto it = responses.find(status);
    if (it == responses.end()) {
      metrics::Labels with_code = labels;
      with_code.emplace_back("code", std::to_string(status));
      it = responses
               .emplace(status, &registry.GetCounter("fetcher_upstream_responses_total", with_code,
                                                     "HTTP responses by status code"))
               .first;
    }
    return *it->second;
  }
  metrics::Counter& Errors(metrics::Registry& registry, absl::StatusCode code) {
    auto it = errors.find(code);
    if (it == errors.end()) {
      metrics::Labels with_code = labels;
      with_code.emplace_back("code", absl::StatusCodeToString(code));
      it = errors
               .emplace(code, &registry.GetCounter("fetcher_upstream_errors_total", with_code,
                                                   "HTTP transport errors by status code"))
               .first;
    }
    return *it->second;
  }

  const std::string name;
  const metrics::Labels labels;
  UpstreamLimiter limiter;  // Loop thread only.
  metrics::Counter& requests;
  metrics::Counter& retries;
  metrics::Counter& failures;
  metrics::Counter& rate_limited;
  metrics::Counter& bytes_sent;
  metrics::Counter& bytes_received;
  metrics::Histogram& latency;
  metrics::Histogram& limiter_wait;
  metrics::Gauge& in_flight;
  std::map<int, metrics::Counter*> responses;            // Loop thread only.
  std::map<absl::StatusCode, metrics::Counter*> errors;  // Loop thread only.
};

struct HttpClient::Call {
  UpstreamState* upstream = nullptr;
  HttpRequest request;
  SendOptions options;
  Done done;
  int attempts = 0;
  // The outcome of the latest attempt, once one has finished.
  std::optional<absl::StatusOr<HttpResponse>> last;
};

HttpClient::HttpClient(Options options)
    : registry_(options.registry != nullptr ? *options.registry : metrics::Registry::Global()),
      retry_(options.retry, std::move(options.random)),
      loop_(std::move(options.loop)) {}

HttpClient::~HttpClient() { Shutdown(); }

void HttpClient::Shutdown() {
  std::lock_guard<std::mutex> shutdown_lock(shutdown_mu_);
  loop_.Shutdown();
  // The loop has run its last callback (or this is the loop thread), so
  // the limiters may be touched here. Waiters normally have been failed by
  // their timers already; this catches any left.
  std::vector<UpstreamLimiter*> limiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, state] : upstreams_) limiters.push_back(&state->limiter);
  }
  // Not under mu_: the callbacks may call Send or Stats.
  for (UpstreamLimiter* limiter : limiters) {
    limiter->FailAll(absl::CancelledError("HTTP client shut down"));
  }
}

HttpClient::UpstreamState& HttpClient::GetOrCreate(const Upstream& upstream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = upstreams_.find(upstream.name);
  if (it == upstreams_.end()) {
    it = upstreams_
             .emplace(upstream.name, std::make_unique<UpstreamState>(registry_, &loop_, upstream))
             .first;
  }
  return *it->second;
}

void HttpClient::Send(const Upstream& upstream, HttpRequest request, SendOptions options,
                      Done done) {
  auto call = std::make_unique<Call>();
  call->upstream = &GetOrCreate(upstream);
  call->request = std::move(request);
  call->options = options;
  call->options.max_attempts = std::max(1, options.max_attempts);
  call->done = std::move(done);
  loop_.Post([this, call = std::move(call)](absl::Status status) mutable {
    if (!status.ok()) {
      call->done(std::move(status));
      return;
    }
    Admit(std::move(call));
  });
}

void HttpClient::Admit(std::unique_ptr<Call> call) {
  const absl::Time waiting_since = absl::Now();
  UpstreamState& upstream = *call->upstream;
  // Read before the lambda below takes `call` (argument order is unspecified).
  const absl::Time deadline = call->options.deadline;
  upstream.limiter.Acquire(deadline, [this, call = std::move(call), waiting_since](
                                         absl::StatusOr<UpstreamLimiter::Permit> permit) mutable {
    call->upstream->limiter_wait.Record(absl::Now() - waiting_since);
    if (!permit.ok()) {
      // Past the deadline, the last real outcome says more than
      // "deadline exceeded".
      if (permit.status().code() == absl::StatusCode::kDeadlineExceeded && call->last.has_value()) {
        absl::StatusOr<HttpResponse> last = std::move(*call->last);
        Finish(std::move(call), std::move(last));
      } else {
        Finish(std::move(call), permit.status());
      }
      return;
    }
    Attempt(std::move(call), *std::move(permit));
  });
}

void HttpClient::Attempt(std::unique_ptr<Call> call, UpstreamLimiter::Permit permit) {
  const absl::Time started = absl::Now();
  const absl::Duration left = call->options.deadline - started;
  if (left <= absl::ZeroDuration()) {
    absl::StatusOr<HttpResponse> last =
        call->last.has_value()
            ? std::move(*call->last)
            : absl::StatusOr<HttpResponse>(absl::DeadlineExceededError(
                  "deadline passed before the request was sent to " + call->upstream->name));
    Finish(std::move(call), std::move(last));
    return;
  }
  HttpRequest attempt = call->request;
  attempt.timeout = std::min(attempt.timeout, left);
  attempt.connect_timeout = std::min(attempt.connect_timeout, left);
  UpstreamState& upstream = *call->upstream;
  ++call->attempts;
  upstream.requests.Increment();
  if (call->attempts > 1) upstream.retries.Increment();
  upstream.bytes_sent.Increment(attempt.body.size());
  upstream.in_flight.Add(1);
  loop_.Submit(std::move(attempt), [this, call = std::move(call), permit = std::move(permit),
                                    started](absl::StatusOr<HttpResponse> outcome) mutable {
    permit.Release();
    call->upstream->in_flight.Add(-1);
    OnAttemptDone(std::move(call), std::move(outcome), absl::Now() - started);
  });
}

void HttpClient::OnAttemptDone(std::unique_ptr<Call> call, absl::StatusOr<HttpResponse> outcome,
                               absl::Duration latency) {
  UpstreamState& upstream = *call->upstream;
  upstream.latency.Record(latency);
  if (outcome.ok()) {
    upstream.Responses(registry_, outcome->status).Increment();
    upstream.bytes_received.Increment(outcome->body.size());
    if (outcome->status == 429) upstream.rate_limited.Increment();
    if (outcome->status >= 500) upstream.failures.Increment();
  } else {
    upstream.Errors(registry_, outcome.status().code()).Increment();
    if (outcome.status().code() != absl::StatusCode::kCancelled) upstream.failures.Increment();
  }
  const std::optional<absl::Duration> delay = retry_.NextDelay(
      outcome, call->attempts, call->options.max_attempts, absl::Now(), call->options.deadline);
  if (!delay.has_value()) {
    Finish(std::move(call), std::move(outcome));
    return;
  }
  call->last = std::move(outcome);
  loop_.RunAfter(*delay, [this, call = std::move(call)](absl::Status status) mutable {
    if (!status.ok()) {
      Finish(std::move(call), std::move(status));
      return;
    }
    Admit(std::move(call));
  });
}

void HttpClient::Finish(std::unique_ptr<Call> call, absl::StatusOr<HttpResponse> outcome) {
  call->done(std::move(outcome));
}

UpstreamStats HttpClient::Stats(std::string_view upstream_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  UpstreamStats stats;
  auto it = upstreams_.find(upstream_name);
  if (it == upstreams_.end()) return stats;
  const UpstreamState& upstream = *it->second;
  stats.requests = upstream.requests.Value();
  stats.failures = upstream.failures.Value();
  stats.retries = upstream.retries.Value();
  stats.rate_limited = upstream.rate_limited.Value();
  stats.in_flight = static_cast<int64_t>(upstream.in_flight.Value());
  const metrics::HistogramSnapshot latency = upstream.latency.Snapshot();
  stats.p50_latency = absl::Seconds(latency.p50);
  stats.p99_latency = absl::Seconds(latency.p99);
  stats.limiter_wait = absl::Seconds(upstream.limiter_wait.Snapshot().sum);
  return stats;
}

std::vector<std::string> HttpClient::UpstreamNames() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, state] : upstreams_) names.push_back(name);
  return names;
}

}  // namespace coffer::fetcher
