// The ranges storage.proto documents for a task's Schedule, checked before a
// schedule is stored or used, and the defaults that fill its zero fields.
// Everything else in this directory assumes a schedule that passed
// ValidateSchedule.
//
//   RETURN_IF_ERROR(ValidateSchedule(task.schedule(), "task.schedule"));
//   const absl::Duration timeout = EffectiveRunTimeout(task.schedule());
//   const BackoffPolicy backoff = EffectiveBackoff(task.schedule());
//
// Bounds the proto leaves open: first_run_delay is at most kMaxFirstRunDelay
// (30 days, like the interval: a longer delay is more likely a unit mistake
// than an intent, and a paused task serves that intent). starting_deadline
// and the backoff durations are bounded only by google.protobuf.Duration's
// own range (+-10,000 years).
#ifndef COFFER_SERVICES_SCHEDULER_SCHEDULE_SCHEDULE_VALIDATION_H_
#define COFFER_SERVICES_SCHEDULER_SCHEDULE_SCHEDULE_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"

namespace coffer::scheduler {

inline constexpr absl::Duration kMinInterval = absl::Seconds(1);
inline constexpr absl::Duration kMaxInterval = absl::Hours(30 * 24);
inline constexpr double kMaxJitter = 0.5;
inline constexpr absl::Duration kMaxFirstRunDelay = absl::Hours(30 * 24);
inline constexpr absl::Duration kMaxRunTimeout = absl::Hours(24);
// The run timeout of every kind today (storage.proto: "0: the kind's
// default (10 minutes)").
inline constexpr absl::Duration kDefaultRunTimeout = absl::Minutes(10);

// Delays after failed runs, with the defaults filled in.
struct BackoffPolicy {
  absl::Duration initial = absl::Seconds(30);
  absl::Duration max = absl::Minutes(30);
  double multiplier = 2.0;
};

// OK, or INVALID_ARGUMENT listing every bad field by its path under `field`
// ("schedule.backoff.max: must be at least initial (30s)").
[[nodiscard]] absl::Status ValidateSchedule(const v1::Schedule& schedule,
                                            absl::string_view field = "schedule");

// schedule.run_timeout, or `kind_default` when it is 0.
absl::Duration EffectiveRunTimeout(const v1::Schedule& schedule,
                                   absl::Duration kind_default = kDefaultRunTimeout);

// schedule.backoff, or the defaults when it is unset; a multiplier of 0
// means 2.
BackoffPolicy EffectiveBackoff(const v1::Schedule& schedule);

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SCHEDULE_SCHEDULE_VALIDATION_H_
