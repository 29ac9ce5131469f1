// What a task's loop does at time `now`: wait, start the due run, or record
// a missed run as skipped. Pure: the loop reads the task, asks, and acts.
//
//   const DueDecision decision = DecideDue(DueInput{
//       .now = clock(), .next_run_time = next_run_time, .interval = interval,
//       .starting_deadline = deadline, .paused = task.paused(), .first_look = first});
//   if (const auto* wait = std::get_if<WaitUntil>(&decision)) {
//     stop_event.WaitUntil(wait->until);     // woken early by resume/trigger/stop
//   } else if (const auto* run = std::get_if<RunDue>(&decision)) {
//     Start(run->scheduled_for, run->trigger, run->coalesced);
//   } else if (const auto* skip = std::get_if<SkipMissed>(&decision)) {
//     RecordSkipped(skip->scheduled_for);    // a SKIPPED run record
//     SetNextRunTime(skip->next_run_time);
//   }
//
// The rules:
// * A paused task waits for ever (until = absl::InfiniteFuture()): only a
//   resume, which the caller wakes the loop for, makes it due again.
//   Manual triggers are the caller's business.
// * Before next_run_time: wait until it.
// * From next_run_time on, the due boundaries are next_run_time +
//   k x interval not after `now` (next_run_time carries the schedule's
//   phase, jitter included). However many there are (years of them after a
//   restart), they fold into one decision about the latest one, L:
//   - Run when starting_deadline is 0 or now - L <= starting_deadline:
//     scheduled_for L, coalesced = the earlier boundaries folded into it
//     (0 when only next_run_time itself was due).
//   - Otherwise Skip: L is recorded SKIPPED (standing for the same
//     `coalesced` earlier ones), and the next boundary, L + interval, which
//     is after `now`, becomes next_run_time.
// * trigger is CATCH_UP when `first_look` (the first decision after the
//   scheduler started or took over the lease), SCHEDULED otherwise.
//
// Times must be finite and interval positive (a schedule that passed
// ValidateSchedule).
#ifndef COFFER_SERVICES_SCHEDULER_SCHEDULE_DUE_DECISION_H_
#define COFFER_SERVICES_SCHEDULER_SCHEDULE_DUE_DECISION_H_

#include <cstdint>
#include <variant>

#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"

namespace coffer::scheduler {

struct DueInput {
  absl::Time now;
  // Task.next_run_time.
  absl::Time next_run_time;
  absl::Duration interval;
  // Schedule.starting_deadline; 0: no lateness limit.
  absl::Duration starting_deadline;
  bool paused = false;
  // The first decision for this task since the scheduler started or took
  // over the lease.
  bool first_look = false;
};

// Nothing is due before `until`.
struct WaitUntil {
  absl::Time until;
};

// Start a run now.
struct RunDue {
  // Run.scheduled_for.
  absl::Time scheduled_for;
  // RUN_TRIGGER_SCHEDULED or RUN_TRIGGER_CATCH_UP.
  v1::RunTrigger trigger = v1::RUN_TRIGGER_SCHEDULED;
  // Run.coalesced: missed boundaries folded in; saturates at UINT32_MAX.
  uint32_t coalesced = 0;
};

// Too late to start: record a SKIPPED run and move next_run_time on.
struct SkipMissed {
  // The skipped run's scheduled_for.
  absl::Time scheduled_for;
  // Earlier missed boundaries the skipped record stands for.
  uint32_t coalesced = 0;
  // The new Task.next_run_time, after `now`.
  absl::Time next_run_time;
};

using DueDecision = std::variant<WaitUntil, RunDue, SkipMissed>;

DueDecision DecideDue(const DueInput& input);

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SCHEDULE_DUE_DECISION_H_
