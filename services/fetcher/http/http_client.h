// Sends HTTP requests to named upstreams the way the fetcher must: each
// upstream under its own rate and concurrency limits, failed attempts
// retried with backoff within the caller's deadline, every outcome counted.
//
//   HttpClient client(HttpClient::Options{});
//   const Upstream node{.name = "eth-mainnet-0", .requests_per_second = 20,
//                       .burst = 10, .max_concurrency = 8};
//   client.Send(node, std::move(request),
//               SendOptions{.deadline = absl::Now() + absl::Seconds(10)},
//               [](absl::StatusOr<HttpResponse> outcome) {
//                 // On the loop thread: quick, never blocking.
//               });
//   UpstreamStats stats = client.Stats("eth-mainnet-0");
//
// One Send: admitted by the upstream's limiter (waiting without a
// connection), handed to the CurlLoop, and on a retryable outcome (see
// retry_policy.h) tried again after the policy's delay, admitted again each
// time. `done` runs once with the final outcome: the last response whatever
// its status (a 404 is an answer, not an error), or the last transport
// error; DEADLINE_EXCEEDED if the deadline passed before any attempt
// finished; CANCELLED at shutdown. Each attempt's timeouts are cut to the
// time left before the deadline.
//
// Upstreams are known by name: the limits of the first Send naming an
// upstream are the ones kept. Metrics (labels {upstream=name}) go to the
// registry given in Options:
//   fetcher_upstream_requests_total        attempts sent, retries included
//   fetcher_upstream_retries_total         attempts after the first
//   fetcher_upstream_responses_total       {code="200"...} responses by status
//   fetcher_upstream_errors_total          {code="UNAVAILABLE"...} transport errors
//   fetcher_upstream_failures_total        transport errors and 5xx
//   fetcher_upstream_rate_limited_total    429 answers
//   fetcher_upstream_bytes_sent_total / _bytes_received_total   bodies
//   fetcher_upstream_latency_seconds       per attempt, histogram
//   fetcher_upstream_limiter_wait_seconds  per attempt, histogram
//   fetcher_upstream_in_flight             attempts inside libcurl
//
// Threads: Send, Stats and Shutdown from any thread; `done` runs on the loop
// thread (or, after Shutdown, on the calling thread with CANCELLED).
#ifndef COFFER_SERVICES_FETCHER_HTTP_HTTP_CLIENT_H_
#define COFFER_SERVICES_FETCHER_HTTP_HTTP_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "common/metrics/registry.h"
#include "services/fetcher/http/curl_loop.h"
#include "services/fetcher/http/http_types.h"
#include "services/fetcher/http/retry_policy.h"
#include "services/fetcher/http/upstream_limiter.h"

namespace coffer::fetcher {

// A host (or endpoint) and the limits it is to be treated with.
struct Upstream {
  // Metric label and Stats key, e.g. "eth-mainnet-0"; never a URL.
  std::string name;
  // 0: no rate limit.
  double requests_per_second = 0;
  double burst = 1;
  // 0: no limit beyond the loop's per-host connection limit.
  size_t max_concurrency = 0;
};

struct SendOptions {
  // No attempt starts, and no retry is waited for, past this.
  absl::Time deadline = absl::InfiniteFuture();
  // Attempts in all, the first included (1: no retries).
  int max_attempts = 3;
};

// One upstream's counters at a moment, for ListUpstreams.
struct UpstreamStats {
  uint64_t requests = 0;
  uint64_t failures = 0;
  uint64_t retries = 0;
  uint64_t rate_limited = 0;
  int64_t in_flight = 0;
  absl::Duration p50_latency;
  absl::Duration p99_latency;
  // Summed over attempts.
  absl::Duration limiter_wait;
};

class HttpClient {
 public:
  struct Options {
    CurlLoop::Options loop;
    RetryOptions retry;
    // Null: absl::BitGen.
    RetryPolicy::Random random;
    // Null: metrics::Registry::Global().
    metrics::Registry* registry = nullptr;
  };

  using Done = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>)>;

  explicit HttpClient(Options options);
  // Shuts down. Must not run on the loop thread.
  ~HttpClient();

  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void Send(const Upstream& upstream, HttpRequest request, SendOptions options, Done done);

  // Zeros for an upstream never sent to.
  UpstreamStats Stats(std::string_view upstream_name) const;
  // Every upstream sent to so far, by name.
  std::vector<std::string> UpstreamNames() const;

  // Every Send not yet done finishes with CANCELLED; later ones at once.
  // Idempotent.
  void Shutdown();

  CurlLoop& loop() { return loop_; }

 private:
  struct UpstreamState;
  struct Call;

  UpstreamState& GetOrCreate(const Upstream& upstream);
  // Loop thread from here on.
  void Admit(std::unique_ptr<Call> call);
  void Attempt(std::unique_ptr<Call> call, UpstreamLimiter::Permit permit);
  void OnAttemptDone(std::unique_ptr<Call> call, absl::StatusOr<HttpResponse> outcome,
                     absl::Duration latency);
  void Finish(std::unique_ptr<Call> call, absl::StatusOr<HttpResponse> outcome);

  metrics::Registry& registry_;
  RetryPolicy retry_;  // Loop thread only.

  mutable std::mutex mu_;
  // unique_ptr: states never move, calls keep pointers to them.
  std::map<std::string, std::unique_ptr<UpstreamState>, std::less<>> upstreams_
      ABSL_GUARDED_BY(mu_);
  std::mutex shutdown_mu_;

  // Last: destroyed first, after Shutdown has run every timer and callback
  // that refers to the states above.
  CurlLoop loop_;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_HTTP_HTTP_CLIENT_H_
