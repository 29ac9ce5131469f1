// When a task's next run is due once a run has finished, as storage.proto's
// Schedule and Backoff describe it, and whether the task pauses itself.
//
//   RandomJitterSource random;
//   ASSIGN_OR_RETURN(NextRun next,
//                    ComputeNextRun(task.schedule(), task.consecutive_failures(),
//                                   FinishedRun{state, scheduled_for, started_at,
//                                               finished_at, error.message()},
//                                   clock(), random));
//   task.set_consecutive_failures(next.consecutive_failures);
//   if (next.pause) { task.set_paused(true); task.set_status_note(next.pause_note); }
//
// By the run's state:
// * SUCCEEDED, PARTIAL: started_at + interval; consecutive failures reset to
//   0 (a partial run is not a failure: one failing chain must not hold back
//   the others).
// * FAILED, TIMED_OUT: a timed-out run did nothing usable, so it counts as a
//   failure too. With n consecutive failures including this one,
//   finished_at + min(max, initial x multiplier^(n-1)); the product
//   saturates at max for any n, never overflowing. When
//   max_consecutive_failures > 0 and n reaches it, the task pauses.
// * CANCELLED, SKIPPED, ABANDONED: neither success nor failure, so the count
//   is kept. The next run is the first boundary scheduled_for + k x interval,
//   k >= 1, that is not before `now` (a boundary exactly at `now` is due at
//   once), keeping the schedule's phase.
// Every next run time then gets jitter: u x jitter x interval, u from the
// JitterSource. Any other state (a run not finished) is INVALID_ARGUMENT.
#ifndef COFFER_SERVICES_SCHEDULER_SCHEDULE_NEXT_RUN_H_
#define COFFER_SERVICES_SCHEDULER_SCHEDULE_NEXT_RUN_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/scheduler/schedule/jitter.h"
#include "services/scheduler/schedule/schedule_validation.h"

namespace coffer::scheduler {

// Task.status_note's limit.
inline constexpr size_t kMaxPauseNoteBytes = 256;

// What ComputeNextRun needs of a finished run.
struct FinishedRun {
  v1::RunState state = v1::RUN_STATE_UNSPECIFIED;
  absl::Time scheduled_for;
  absl::Time started_at;
  absl::Time finished_at;
  // Run.error.message; quoted in the pause note.
  std::string error_message;
};

struct NextRun {
  // Task.next_run_time, jitter and backoff included.
  absl::Time next_run_time;
  // Task.consecutive_failures after this run; saturates at UINT32_MAX.
  uint32_t consecutive_failures = 0;
  // The task pauses itself (max_consecutive_failures reached).
  bool pause = false;
  // Task.status_note when pausing, at most kMaxPauseNoteBytes:
  // "paused after 5 consecutive failed runs; last error: ...".
  std::string pause_note;
};

// `schedule` must have passed ValidateSchedule; `consecutive_failures` is
// the task's count before this run.
[[nodiscard]] absl::StatusOr<NextRun> ComputeNextRun(const v1::Schedule& schedule,
                                                     uint32_t consecutive_failures,
                                                     const FinishedRun& run, absl::Time now,
                                                     JitterSource& jitter);

// min(max, initial x multiplier^(failures-1)); initial for failures <= 1.
absl::Duration BackoffDelay(const BackoffPolicy& backoff, uint32_t failures);

// `text` cut to at most `max_bytes` without splitting a UTF-8 sequence.
std::string TruncateUtf8(absl::string_view text, size_t max_bytes);

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SCHEDULE_NEXT_RUN_H_
