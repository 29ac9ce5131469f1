// The random delay added to every next run time, so that tasks and replicas
// sharing an interval do not wake together (Schedule.jitter).
//
//   RandomJitterSource random;  // one per process is enough: thread-safe
//   next_run_time += JitterDelay(interval, schedule.jitter(), random);
//
// Tests pass a FixedJitterSource instead, to pin the draw.
#ifndef COFFER_SERVICES_SCHEDULER_SCHEDULE_JITTER_H_
#define COFFER_SERVICES_SCHEDULER_SCHEDULE_JITTER_H_

#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/time/time.h"

namespace coffer::scheduler {

// Draws u uniformly from [0, 1).
class JitterSource {
 public:
  virtual ~JitterSource() = default;
  virtual double NextUnit() = 0;
};

// Production source over absl::BitGen; safe to share between task loops.
class RandomJitterSource final : public JitterSource {
 public:
  double NextUnit() override;

 private:
  std::mutex mutex_;
  absl::BitGen bit_gen_ ABSL_GUARDED_BY(mutex_);
};

// Always answers `unit`.
class FixedJitterSource final : public JitterSource {
 public:
  explicit FixedJitterSource(double unit) : unit_(unit) {}
  double NextUnit() override { return unit_; }

 private:
  double unit_;
};

// u x jitter x interval for one draw u, in whole nanoseconds (a Timestamp's
// resolution) and strictly below jitter x interval, also for a source that
// answers outside [0, 1) or NaN (clamped into it).
absl::Duration JitterDelay(absl::Duration interval, double jitter, JitterSource& source);

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SCHEDULE_JITTER_H_
