#include "services/scheduler/schedule/schedule_validation.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

#include "common/config/proto_duration.h"

namespace coffer::scheduler {
namespace {

void SetDuration(google::protobuf::Duration* duration, int64_t seconds, int32_t nanos = 0) {
  duration->set_seconds(seconds);
  duration->set_nanos(nanos);
}

void SetBackoff(v1::Schedule& schedule, int64_t initial_seconds, int64_t max_seconds,
                double multiplier = 0) {
  SetDuration(schedule.mutable_backoff()->mutable_initial(), initial_seconds);
  SetDuration(schedule.mutable_backoff()->mutable_max(), max_seconds);
  schedule.mutable_backoff()->set_multiplier(multiplier);
}

v1::Schedule ValidSchedule() {
  v1::Schedule schedule;
  SetDuration(schedule.mutable_interval(), 300);
  return schedule;
}

TEST(ValidateScheduleTest, AcceptsAMinimalSchedule) {
  EXPECT_TRUE(ValidateSchedule(ValidSchedule()).ok());
}

TEST(ValidateScheduleTest, AcceptsEveryFieldAtItsBounds) {
  v1::Schedule schedule;
  SetDuration(schedule.mutable_interval(), 30 * 24 * 3600);
  schedule.set_jitter(0.5);
  SetDuration(schedule.mutable_first_run_delay(), 30 * 24 * 3600);
  SetDuration(schedule.mutable_run_timeout(), 24 * 3600);
  SetDuration(schedule.mutable_starting_deadline(), 315'576'000'000, 999'999'999);
  SetDuration(schedule.mutable_backoff()->mutable_initial(), 0, 1);
  SetDuration(schedule.mutable_backoff()->mutable_max(), 0, 1);
  schedule.mutable_backoff()->set_multiplier(1);
  schedule.set_max_consecutive_failures(5);
  EXPECT_TRUE(ValidateSchedule(schedule).ok()) << ValidateSchedule(schedule);

  SetDuration(schedule.mutable_interval(), 1);
  schedule.set_jitter(0);
  schedule.mutable_backoff()->set_multiplier(0);
  EXPECT_TRUE(ValidateSchedule(schedule).ok()) << ValidateSchedule(schedule);
}

struct BadCase {
  std::string name;
  std::function<void(v1::Schedule&)> mutate;
  std::string message;
};

TEST(ValidateScheduleTest, NamesEachBadField) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const std::vector<BadCase> cases = {
      {"interval unset", [](v1::Schedule& s) { s.clear_interval(); },
       "schedule.interval: is required"},
      {"interval zero", [](v1::Schedule& s) { SetDuration(s.mutable_interval(), 0); },
       "schedule.interval: must be at least 1s, not 0"},
      {"interval under 1s",
       [](v1::Schedule& s) { SetDuration(s.mutable_interval(), 0, 999'999'999); },
       "schedule.interval: must be at least 1s, not 999.999999ms"},
      {"interval negative", [](v1::Schedule& s) { SetDuration(s.mutable_interval(), -5); },
       "schedule.interval: must be at least 1s, not -5s"},
      {"interval over 30 days",
       [](v1::Schedule& s) { SetDuration(s.mutable_interval(), 30 * 24 * 3600 + 1); },
       "schedule.interval: must be at most 720h, not 720h1s"},
      {"interval mixed signs", [](v1::Schedule& s) { SetDuration(s.mutable_interval(), 5, -1); },
       "schedule.interval: seconds and nanos have different signs"},
      {"interval mixed signs, negative seconds",
       [](v1::Schedule& s) { SetDuration(s.mutable_interval(), -5, 1); },
       "schedule.interval: seconds and nanos have different signs"},
      {"interval seconds out of range",
       [](v1::Schedule& s) { SetDuration(s.mutable_interval(), 315'576'000'001); },
       "schedule.interval: is outside google.protobuf.Duration's range"},
      {"interval nanos out of range",
       [](v1::Schedule& s) { SetDuration(s.mutable_interval(), 5, 1'000'000'000); },
       "schedule.interval: is outside google.protobuf.Duration's range"},
      {"jitter negative", [](v1::Schedule& s) { s.set_jitter(-0.1); },
       "schedule.jitter: must be in [0, 0.5], not -0.1"},
      {"jitter over half", [](v1::Schedule& s) { s.set_jitter(0.51); },
       "schedule.jitter: must be in [0, 0.5], not 0.51"},
      {"jitter NaN", [=](v1::Schedule& s) { s.set_jitter(kNan); },
       "schedule.jitter: must be in [0, 0.5], not nan"},
      {"jitter infinite", [=](v1::Schedule& s) { s.set_jitter(kInf); },
       "schedule.jitter: must be in [0, 0.5], not inf"},
      {"first_run_delay negative",
       [](v1::Schedule& s) { SetDuration(s.mutable_first_run_delay(), 0, -1); },
       "schedule.first_run_delay: must be at least 0, not -1ns"},
      {"first_run_delay over 30 days",
       [](v1::Schedule& s) { SetDuration(s.mutable_first_run_delay(), 30 * 24 * 3600, 1); },
       "schedule.first_run_delay: must be at most 720h, not 720h0.000000001s"},
      {"first_run_delay mixed signs",
       [](v1::Schedule& s) { SetDuration(s.mutable_first_run_delay(), -1, 5); },
       "schedule.first_run_delay: seconds and nanos have different signs"},
      {"run_timeout negative", [](v1::Schedule& s) { SetDuration(s.mutable_run_timeout(), -60); },
       "schedule.run_timeout: must be at least 0, not -1m"},
      {"run_timeout over 24h",
       [](v1::Schedule& s) { SetDuration(s.mutable_run_timeout(), 24 * 3600 + 1); },
       "schedule.run_timeout: must be at most 24h, not 24h1s"},
      {"run_timeout out of range",
       [](v1::Schedule& s) { SetDuration(s.mutable_run_timeout(), -315'576'000'001); },
       "schedule.run_timeout: is outside google.protobuf.Duration's range"},
      {"starting_deadline negative",
       [](v1::Schedule& s) { SetDuration(s.mutable_starting_deadline(), -1); },
       "schedule.starting_deadline: must be at least 0, not -1s"},
      {"starting_deadline mixed signs",
       [](v1::Schedule& s) { SetDuration(s.mutable_starting_deadline(), 1, -1); },
       "schedule.starting_deadline: seconds and nanos have different signs"},
      {"backoff.initial unset", [](v1::Schedule& s) { s.mutable_backoff(); },
       "schedule.backoff.initial: must be positive"},
      {"backoff.initial negative", [](v1::Schedule& s) { SetBackoff(s, -1, 10); },
       "schedule.backoff.initial: must be positive"},
      {"backoff.initial mixed signs",
       [](v1::Schedule& s) {
         SetDuration(s.mutable_backoff()->mutable_initial(), 1, -1);
         SetDuration(s.mutable_backoff()->mutable_max(), 10);
       },
       "schedule.backoff.initial: seconds and nanos have different signs"},
      {"backoff.max below initial",
       [](v1::Schedule& s) {
         SetDuration(s.mutable_backoff()->mutable_initial(), 10);
         SetDuration(s.mutable_backoff()->mutable_max(), 9, 999'999'999);
       },
       "schedule.backoff.max: must be at least initial (10s)"},
      {"backoff.max unset",
       [](v1::Schedule& s) { SetDuration(s.mutable_backoff()->mutable_initial(), 10); },
       "schedule.backoff.max: must be at least initial (10s)"},
      {"backoff.max mixed signs",
       [](v1::Schedule& s) {
         SetDuration(s.mutable_backoff()->mutable_initial(), 10);
         SetDuration(s.mutable_backoff()->mutable_max(), -20, 1);
       },
       "schedule.backoff.max: seconds and nanos have different signs"},
      {"backoff.multiplier below 1", [=](v1::Schedule& s) { SetBackoff(s, 10, 20, 0.5); },
       "schedule.backoff.multiplier: must be 0 or at least 1, not 0.5"},
      {"backoff.multiplier negative", [=](v1::Schedule& s) { SetBackoff(s, 10, 20, -2); },
       "schedule.backoff.multiplier: must be 0 or at least 1, not -2"},
      {"backoff.multiplier infinite", [=](v1::Schedule& s) { SetBackoff(s, 10, 20, kInf); },
       "schedule.backoff.multiplier: must be 0 or at least 1, not inf"},
      {"backoff.multiplier NaN", [=](v1::Schedule& s) { SetBackoff(s, 10, 20, kNan); },
       "schedule.backoff.multiplier: must be 0 or at least 1, not nan"},
  };
  for (const BadCase& bad : cases) {
    SCOPED_TRACE(bad.name);
    v1::Schedule schedule = ValidSchedule();
    bad.mutate(schedule);
    const absl::Status status = ValidateSchedule(schedule);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(status.message()), bad.message);
  }
}

TEST(ValidateScheduleTest, PrefixesPathsWithTheGivenField) {
  const absl::Status status = ValidateSchedule(v1::Schedule(), "task.schedule");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()), "task.schedule.interval: is required");
}

TEST(ValidateScheduleTest, ReportsEveryBadFieldAtOnce) {
  v1::Schedule schedule;
  schedule.set_jitter(1);
  SetDuration(schedule.mutable_starting_deadline(), -1);
  schedule.mutable_backoff()->set_multiplier(0.5);
  EXPECT_EQ(std::string(ValidateSchedule(schedule).message()),
            "schedule.interval: is required; schedule.jitter: must be in [0, 0.5], not 1; "
            "schedule.starting_deadline: must be at least 0, not -1s; "
            "schedule.backoff.initial: must be positive; "
            "schedule.backoff.multiplier: must be 0 or at least 1, not 0.5");
}

TEST(EffectiveRunTimeoutTest, ZeroMeansTheKindsDefault) {
  v1::Schedule schedule = ValidSchedule();
  EXPECT_EQ(EffectiveRunTimeout(schedule), absl::Minutes(10));
  EXPECT_EQ(EffectiveRunTimeout(schedule, absl::Minutes(3)), absl::Minutes(3));
  SetDuration(schedule.mutable_run_timeout(), 90, 500'000'000);
  EXPECT_EQ(EffectiveRunTimeout(schedule, absl::Minutes(3)), absl::Milliseconds(90'500));
}

TEST(EffectiveBackoffTest, UnsetGivesTheDefaults) {
  const BackoffPolicy backoff = EffectiveBackoff(ValidSchedule());
  EXPECT_EQ(backoff.initial, absl::Seconds(30));
  EXPECT_EQ(backoff.max, absl::Minutes(30));
  EXPECT_EQ(backoff.multiplier, 2.0);
}

TEST(EffectiveBackoffTest, SetFieldsApplyAndZeroMultiplierMeansTwo) {
  v1::Schedule schedule = ValidSchedule();
  SetDuration(schedule.mutable_backoff()->mutable_initial(), 5);
  SetDuration(schedule.mutable_backoff()->mutable_max(), 60);
  BackoffPolicy backoff = EffectiveBackoff(schedule);
  EXPECT_EQ(backoff.initial, absl::Seconds(5));
  EXPECT_EQ(backoff.max, absl::Seconds(60));
  EXPECT_EQ(backoff.multiplier, 2.0);

  schedule.mutable_backoff()->set_multiplier(1.5);
  EXPECT_EQ(EffectiveBackoff(schedule).multiplier, 1.5);
}

TEST(DurationFromProtoTest, AddsSecondsAndNanosOfEitherSign) {
  google::protobuf::Duration duration;
  SetDuration(&duration, 2, 250'000'000);
  EXPECT_EQ(config::DurationFromProto(duration), absl::Milliseconds(2250));
  SetDuration(&duration, -2, -250'000'000);
  EXPECT_EQ(config::DurationFromProto(duration), absl::Milliseconds(-2250));
}

}  // namespace
}  // namespace coffer::scheduler
