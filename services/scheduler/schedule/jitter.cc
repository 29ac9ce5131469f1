#include "services/scheduler/schedule/jitter.h"

#include <algorithm>

namespace coffer::scheduler {

double RandomJitterSource::NextUnit() {
  std::lock_guard<std::mutex> lock(mutex_);
  return absl::Uniform(bit_gen_, 0.0, 1.0);
}

absl::Duration JitterDelay(absl::Duration interval, double jitter, JitterSource& source) {
  if (!(jitter > 0)) return absl::ZeroDuration();
  double unit = source.NextUnit();
  if (!(unit >= 0)) unit = 0;  // also NaN
  if (unit > 1) unit = 1;
  // Rounding can bring u x jitter x interval up to the bound itself for u
  // just below 1; the delay stays strictly below it, to the nanosecond.
  const absl::Duration bound = absl::Trunc(interval * jitter, absl::Nanoseconds(1));
  const absl::Duration delay = absl::Trunc(interval * (unit * jitter), absl::Nanoseconds(1));
  return std::max(absl::ZeroDuration(), std::min(delay, bound - absl::Nanoseconds(1)));
}

}  // namespace coffer::scheduler
