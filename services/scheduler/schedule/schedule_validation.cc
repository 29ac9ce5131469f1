#include "services/scheduler/schedule/schedule_validation.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"

#include "common/config/proto_duration.h"
#include "common/config/validation.h"

namespace coffer::scheduler {
namespace {

using config::FieldErrors;
using config::FieldPath;

// google.protobuf.Duration's own range: 10,000 years.
constexpr int64_t kMaxProtoSeconds = 315'576'000'000;
constexpr int32_t kMaxProtoNanos = 999'999'999;

// Records why `duration` is not a google.protobuf.Duration at all; the range
// checks of the field only make sense when this passes.
bool CheckWellFormed(const google::protobuf::Duration& duration, const FieldPath& path,
                     FieldErrors* errors) {
  const int64_t seconds = duration.seconds();
  const int32_t nanos = duration.nanos();
  if (!errors->Check(seconds >= -kMaxProtoSeconds && seconds <= kMaxProtoSeconds &&
                         nanos >= -kMaxProtoNanos && nanos <= kMaxProtoNanos,
                     path, "is outside google.protobuf.Duration's range")) {
    return false;
  }
  return errors->Check(!(seconds > 0 && nanos < 0) && !(seconds < 0 && nanos > 0), path,
                       "seconds and nanos have different signs");
}

// Checks an optional duration: unset reads as 0, which must lie in
// [min, max].
void CheckDuration(const google::protobuf::Duration& duration, const FieldPath& path,
                   absl::Duration min, absl::Duration max, FieldErrors* errors) {
  if (!CheckWellFormed(duration, path, errors)) return;
  const absl::Duration value = config::DurationFromProto(duration);
  if (!errors->Check(value >= min, path,
                     absl::StrCat("must be at least ", absl::FormatDuration(min), ", not ",
                                  absl::FormatDuration(value)))) {
    return;
  }
  errors->Check(value <= max, path,
                absl::StrCat("must be at most ", absl::FormatDuration(max), ", not ",
                             absl::FormatDuration(value)));
}

void CheckBackoff(const v1::Backoff& backoff, const FieldPath& path, FieldErrors* errors) {
  const FieldPath initial_path = path.Field("initial");
  bool initial_ok =
      CheckWellFormed(backoff.initial(), initial_path, errors) &&
      errors->Check(config::DurationFromProto(backoff.initial()) > absl::ZeroDuration(),
                    initial_path, "must be positive");
  const FieldPath max_path = path.Field("max");
  if (CheckWellFormed(backoff.max(), max_path, errors) && initial_ok) {
    const absl::Duration initial = config::DurationFromProto(backoff.initial());
    errors->Check(config::DurationFromProto(backoff.max()) >= initial, max_path,
                  absl::StrCat("must be at least initial (", absl::FormatDuration(initial), ")"));
  }
  const double multiplier = backoff.multiplier();
  errors->Check(std::isfinite(multiplier) && (multiplier == 0 || multiplier >= 1),
                path.Field("multiplier"),
                absl::StrCat("must be 0 or at least 1, not ", multiplier));
}

}  // namespace

absl::Status ValidateSchedule(const v1::Schedule& schedule, absl::string_view field) {
  FieldErrors errors;
  const FieldPath path(field);
  if (errors.Check(schedule.has_interval(), path.Field("interval"), "is required")) {
    CheckDuration(schedule.interval(), path.Field("interval"), kMinInterval, kMaxInterval, &errors);
  }
  const double jitter = schedule.jitter();
  errors.Check(std::isfinite(jitter) && jitter >= 0 && jitter <= kMaxJitter, path.Field("jitter"),
               absl::StrCat("must be in [0, ", kMaxJitter, "], not ", jitter));
  CheckDuration(schedule.first_run_delay(), path.Field("first_run_delay"), absl::ZeroDuration(),
                kMaxFirstRunDelay, &errors);
  CheckDuration(schedule.run_timeout(), path.Field("run_timeout"), absl::ZeroDuration(),
                kMaxRunTimeout, &errors);
  CheckDuration(schedule.starting_deadline(), path.Field("starting_deadline"), absl::ZeroDuration(),
                absl::InfiniteDuration(), &errors);
  if (schedule.has_backoff()) CheckBackoff(schedule.backoff(), path.Field("backoff"), &errors);
  return errors.ToStatus();
}

absl::Duration EffectiveRunTimeout(const v1::Schedule& schedule, absl::Duration kind_default) {
  const absl::Duration timeout = config::DurationFromProto(schedule.run_timeout());
  return timeout == absl::ZeroDuration() ? kind_default : timeout;
}

BackoffPolicy EffectiveBackoff(const v1::Schedule& schedule) {
  BackoffPolicy policy;
  if (!schedule.has_backoff()) return policy;
  const v1::Backoff& backoff = schedule.backoff();
  policy.initial = config::DurationFromProto(backoff.initial());
  policy.max = config::DurationFromProto(backoff.max());
  if (backoff.multiplier() != 0) policy.multiplier = backoff.multiplier();
  return policy;
}

}  // namespace coffer::scheduler
