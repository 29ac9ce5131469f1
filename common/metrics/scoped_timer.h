#ifndef COFFER_COMMON_METRICS_SCOPED_TIMER_H_
#define COFFER_COMMON_METRICS_SCOPED_TIMER_H_

#include <chrono>

#include "absl/time/time.h"

#include "common/metrics/histogram.h"

namespace coffer::metrics {

// Records the time from its construction to its destruction into a
// histogram, measured on the monotonic clock (wall-clock jumps do not show
// up as latency).
//
//   {
//     ScopedTimer timer(commit_latency);
//     Commit(batch);
//   }  // recorded here
//
// Not thread-safe; meant for one scope on one thread.
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram& histogram)
      : histogram_(&histogram), start_(std::chrono::steady_clock::now()) {}

  ~ScopedTimer() {
    if (histogram_ != nullptr) histogram_->Record(Elapsed());
  }

  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

  // Time since construction.
  absl::Duration Elapsed() const {
    return absl::FromChrono(std::chrono::steady_clock::now() - start_);
  }

  // Records nothing on destruction, for work that was abandoned and would
  // skew the distribution.
  void Cancel() { histogram_ = nullptr; }

 private:
  Histogram* histogram_;  // null once cancelled
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace coffer::metrics

#endif  // COFFER_COMMON_METRICS_SCOPED_TIMER_H_
