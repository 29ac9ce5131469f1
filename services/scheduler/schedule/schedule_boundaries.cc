#include "services/scheduler/schedule/schedule_boundaries.h"

#include <algorithm>

namespace coffer::scheduler {

Boundary LatestBoundaryAtOrBefore(absl::Time anchor, absl::Duration interval, absl::Time t) {
  if (t <= anchor) return Boundary{anchor, 0};
  absl::Duration remainder;
  const int64_t steps = absl::IDivDuration(t - anchor, interval, &remainder);
  return Boundary{anchor + steps * interval, steps};
}

Boundary FirstBoundaryAtOrAfter(absl::Time anchor, absl::Duration interval, absl::Time t,
                                int64_t min_steps) {
  Boundary boundary = LatestBoundaryAtOrBefore(anchor, interval, t);
  if (boundary.time < t) {
    ++boundary.steps;
    boundary.time += interval;
  }
  if (boundary.steps < min_steps) boundary = Boundary{anchor + min_steps * interval, min_steps};
  return boundary;
}

}  // namespace coffer::scheduler
