#include "services/fetcher/http/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace coffer::fetcher {
namespace {

// Refills computed in floating point can land a hair below a whole token at
// the very moment NextAvailable promised one; without this slack the caller
// would wake, fail, and wake again a microsecond later.
constexpr double kSlack = 1e-9;

}  // namespace

TokenBucket::TokenBucket(double tokens_per_second, double burst, absl::Time now)
    : rate_(std::isfinite(tokens_per_second) ? tokens_per_second : 0),
      burst_(std::max(1.0, burst)),
      tokens_(burst_),
      updated_(now) {}

double TokenBucket::Available(absl::Time now) const {
  if (now <= updated_) return tokens_;
  return std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - updated_) * rate_);
}

bool TokenBucket::TryTake(absl::Time now) {
  if (unlimited()) return true;
  tokens_ = Available(now);
  updated_ = std::max(updated_, now);
  if (tokens_ < 1 - kSlack) return false;
  tokens_ = std::max(0.0, tokens_ - 1);
  return true;
}

absl::Time TokenBucket::NextAvailable(absl::Time now) const {
  const double tokens = Available(now);
  if (unlimited() || tokens >= 1 - kSlack) return now;
  return std::max(now, updated_) + absl::Seconds((1 - tokens) / rate_);
}

}  // namespace coffer::fetcher
