// When to try an HTTP request again, and after how long: exponential backoff
// with full jitter, Retry-After honoured, within the caller's attempts and
// deadline. Pure apart from its random source, which tests replace.
//
//   RetryPolicy policy(RetryOptions{});
//   std::optional<absl::Duration> delay =
//       policy.NextDelay(outcome, /*attempts_made=*/1, /*max_attempts=*/3,
//                        absl::Now(), deadline);
//   if (delay) loop.RunAfter(*delay, try_again); else finish(outcome);
//
// Retried: DEADLINE_EXCEEDED and UNAVAILABLE transport errors (timeouts,
// refused or reset connections, DNS), HTTP 429 and every 5xx. Not retried:
// any other status (a 404 or 400 will not change), CANCELLED,
// RESOURCE_EXHAUSTED (an oversized body stays oversized), INVALID_ARGUMENT.
//
// The n-th retry (n = 0 for the first) waits uniform(0, min(max_delay,
// base_delay * 2^n)): "full jitter", which spreads clients that failed
// together. A Retry-After header (delta-seconds or HTTP-date) replaces that
// delay; one longer than max_retry_after is not waited for (the response is
// final, and the caller may try another endpoint). A retry whose delay would
// reach the deadline is not made: the last outcome is final instead.
// Not thread-safe (the random source is not).
#ifndef COFFER_SERVICES_FETCHER_HTTP_RETRY_POLICY_H_
#define COFFER_SERVICES_FETCHER_HTTP_RETRY_POLICY_H_

#include <optional>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "services/fetcher/http/http_types.h"

namespace coffer::fetcher {

struct RetryOptions {
  absl::Duration base_delay = absl::Milliseconds(100);
  absl::Duration max_delay = absl::Seconds(10);
  absl::Duration max_retry_after = absl::Seconds(60);
};

class RetryPolicy {
 public:
  // Returns a number uniformly distributed in [0, 1).
  using Random = absl::AnyInvocable<double()>;

  // A null `random` uses an absl::BitGen.
  explicit RetryPolicy(RetryOptions options, Random random = nullptr);

  // Whether `outcome` is worth another attempt at all.
  static bool IsRetryable(const absl::StatusOr<HttpResponse>& outcome);

  // The wait before attempt number attempts_made + 1, or nullopt when
  // `outcome` is final: not retryable, attempts used up, a Retry-After over
  // max_retry_after, or `now` + the wait at or past `deadline`.
  std::optional<absl::Duration> NextDelay(const absl::StatusOr<HttpResponse>& outcome,
                                          int attempts_made, int max_attempts, absl::Time now,
                                          absl::Time deadline);

  // The jittered wait before retry number `retry` (0 for the first).
  absl::Duration Backoff(int retry);

 private:
  const RetryOptions options_;
  Random random_;
  absl::BitGen bit_gen_;
};

// Parses a Retry-After value: delta-seconds ("120") or an HTTP-date in any
// of the three forms of RFC 9110 (IMF-fixdate, RFC 850, asctime). A date in
// the past gives zero. nullopt for anything else.
std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_HTTP_RETRY_POLICY_H_
