#include "services/scheduler/schedule/due_decision.h"

#include <algorithm>
#include <limits>

#include "services/scheduler/schedule/schedule_boundaries.h"

namespace coffer::scheduler {

DueDecision DecideDue(const DueInput& input) {
  if (input.paused) return WaitUntil{absl::InfiniteFuture()};
  if (input.now < input.next_run_time) return WaitUntil{input.next_run_time};

  const Boundary latest = LatestBoundaryAtOrBefore(input.next_run_time, input.interval, input.now);
  const uint32_t coalesced =
      static_cast<uint32_t>(std::min<int64_t>(latest.steps, std::numeric_limits<uint32_t>::max()));
  const bool too_late = input.starting_deadline > absl::ZeroDuration() &&
                        input.now - latest.time > input.starting_deadline;
  if (too_late) return SkipMissed{latest.time, coalesced, latest.time + input.interval};
  return RunDue{latest.time,
                input.first_look ? v1::RUN_TRIGGER_CATCH_UP : v1::RUN_TRIGGER_SCHEDULED, coalesced};
}

}  // namespace coffer::scheduler
