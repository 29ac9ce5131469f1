// A token bucket: on average `rate` events per second, with bursts of up to
// `burst` events after a quiet spell. Pure: the caller passes the time, so
// tests drive it with a fake clock.
//
//   TokenBucket bucket(/*tokens_per_second=*/10, /*burst=*/5, absl::Now());
//   if (bucket.TryTake(absl::Now())) {
//     Send();
//   } else {
//     loop.RunAt(bucket.NextAvailable(absl::Now()), ...);  // try again then
//   }
//
// In any interval of length T at most burst + rate * T tokens are taken.
// Not thread-safe.
#ifndef COFFER_SERVICES_FETCHER_HTTP_TOKEN_BUCKET_H_
#define COFFER_SERVICES_FETCHER_HTTP_TOKEN_BUCKET_H_

#include "absl/time/time.h"

namespace coffer::fetcher {

class TokenBucket {
 public:
  // Starts full. A rate of 0 or less means unlimited (every TryTake
  // succeeds); a burst below 1 is taken as 1, since no request could pass
  // otherwise.
  TokenBucket(double tokens_per_second, double burst, absl::Time now);

  // Takes one token if there is one at `now`. Times earlier than the latest
  // seen are treated as the latest (a clock never runs backwards here).
  bool TryTake(absl::Time now);

  // When the next token will be there: `now` if there is one already.
  absl::Time NextAvailable(absl::Time now) const;

  // Tokens available at `now` (fractional).
  double Available(absl::Time now) const;

  bool unlimited() const { return rate_ <= 0; }

 private:
  const double rate_;
  const double burst_;
  double tokens_;
  absl::Time updated_;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_HTTP_TOKEN_BUCKET_H_
