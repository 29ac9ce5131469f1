// Interval boundaries of a schedule: the times anchor + k x interval that
// keep a schedule's phase when runs are missed, counted with integer
// arithmetic so that years of missed 1-second intervals cost nothing.
//
//   // The first boundary after a cancelled run that is not in the past:
//   const Boundary next = FirstBoundaryAtOrAfter(scheduled_for, interval, now);
//
// Preconditions (of a schedule that passed ValidateSchedule): interval > 0
// and finite times. absl::Duration arithmetic saturates instead of
// overflowing, so a violated precondition gives a useless answer, never
// undefined behaviour.
#ifndef COFFER_SERVICES_SCHEDULER_SCHEDULE_SCHEDULE_BOUNDARIES_H_
#define COFFER_SERVICES_SCHEDULER_SCHEDULE_SCHEDULE_BOUNDARIES_H_

#include <cstdint>

#include "absl/time/time.h"

namespace coffer::scheduler {

// anchor + steps x interval.
struct Boundary {
  absl::Time time;
  int64_t steps = 0;
};

// The latest boundary not after `t` (steps = floor((t - anchor) / interval));
// the anchor itself (steps 0) when t is not after it.
Boundary LatestBoundaryAtOrBefore(absl::Time anchor, absl::Duration interval, absl::Time t);

// The earliest boundary not before `t`, at least `min_steps` steps after the
// anchor.
Boundary FirstBoundaryAtOrAfter(absl::Time anchor, absl::Duration interval, absl::Time t,
                                int64_t min_steps = 0);

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SCHEDULE_SCHEDULE_BOUNDARIES_H_
