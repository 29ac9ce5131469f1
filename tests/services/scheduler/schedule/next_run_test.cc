#include "services/scheduler/schedule/next_run.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

constexpr uint32_t kMaxCount = std::numeric_limits<uint32_t>::max();
const absl::Time kScheduled = absl::FromUnixSeconds(1'700'000'000);
const absl::Time kStarted = kScheduled + absl::Seconds(2);
const absl::Time kFinished = kStarted + absl::Seconds(40);
constexpr absl::Duration kInterval = absl::Minutes(10);

v1::Schedule MakeSchedule(double jitter = 0, uint32_t max_consecutive_failures = 0) {
  v1::Schedule schedule;
  schedule.mutable_interval()->set_seconds(absl::ToInt64Seconds(kInterval));
  schedule.set_jitter(jitter);
  schedule.set_max_consecutive_failures(max_consecutive_failures);
  return schedule;
}

FinishedRun Finished(v1::RunState state, std::string error = "") {
  return FinishedRun{state, kScheduled, kStarted, kFinished, std::move(error)};
}

NextRun Compute(const v1::Schedule& schedule, uint32_t failures, const FinishedRun& run,
                absl::Time now = kFinished, double unit = 0) {
  FixedJitterSource jitter(unit);
  absl::StatusOr<NextRun> next = ComputeNextRun(schedule, failures, run, now, jitter);
  EXPECT_TRUE(next.ok()) << next.status();
  return next.ok() ? *next : NextRun{};
}

TEST(ComputeNextRunTest, SuccessIsOneIntervalAfterTheStartAndResetsFailures) {
  for (v1::RunState state : {v1::RUN_STATE_SUCCEEDED, v1::RUN_STATE_PARTIAL}) {
    SCOPED_TRACE(v1::RunState_Name(state));
    const NextRun next = Compute(MakeSchedule(0, 3), 2, Finished(state));
    EXPECT_EQ(next.next_run_time, kStarted + kInterval);
    EXPECT_EQ(next.consecutive_failures, 0u);
    EXPECT_FALSE(next.pause);
    EXPECT_EQ(next.pause_note, "");
  }
}

TEST(ComputeNextRunTest, SuccessAfterARunLongerThanTheIntervalIsDueAtOnce) {
  FinishedRun run = Finished(v1::RUN_STATE_SUCCEEDED);
  run.finished_at = kStarted + 3 * kInterval;
  EXPECT_EQ(Compute(MakeSchedule(), 0, run, run.finished_at).next_run_time, kStarted + kInterval);
}

TEST(ComputeNextRunTest, PartialNeverPausesEvenPastTheLimit) {
  const NextRun next = Compute(MakeSchedule(0, 2), 7, Finished(v1::RUN_STATE_PARTIAL, "boom"));
  EXPECT_FALSE(next.pause);
  EXPECT_EQ(next.consecutive_failures, 0u);
}

TEST(ComputeNextRunTest, FailuresBackOffFromTheFinishUpToTheDefaultCap) {
  // Default backoff: 30 s x 2^(n-1), at most 30 min.
  const std::vector<absl::Duration> expected = {
      absl::Seconds(30),  absl::Seconds(60),  absl::Seconds(120), absl::Seconds(240),
      absl::Seconds(480), absl::Seconds(960), absl::Minutes(30),  absl::Minutes(30)};
  for (v1::RunState state : {v1::RUN_STATE_FAILED, v1::RUN_STATE_TIMED_OUT}) {
    uint32_t failures = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      SCOPED_TRACE(v1::RunState_Name(state) + " failure " + std::to_string(i + 1));
      const NextRun next = Compute(MakeSchedule(), failures, Finished(state));
      EXPECT_EQ(next.consecutive_failures, failures + 1);
      EXPECT_EQ(next.next_run_time, kFinished + expected[i]);
      EXPECT_FALSE(next.pause);
      failures = next.consecutive_failures;
    }
  }
}

TEST(ComputeNextRunTest, ACustomBackoffGrowsByItsMultiplier) {
  v1::Schedule schedule = MakeSchedule();
  schedule.mutable_backoff()->mutable_initial()->set_seconds(10);
  schedule.mutable_backoff()->mutable_max()->set_seconds(100);
  schedule.mutable_backoff()->set_multiplier(3);
  const std::vector<absl::Duration> expected = {absl::Seconds(10), absl::Seconds(30),
                                                absl::Seconds(90), absl::Seconds(100)};
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(Compute(schedule, i, Finished(v1::RUN_STATE_FAILED)).next_run_time,
              kFinished + expected[i]);
  }
}

TEST(ComputeNextRunTest, ResetAfterPartialStartsBackoffAgain) {
  const v1::Schedule schedule = MakeSchedule();
  const NextRun partial = Compute(schedule, 6, Finished(v1::RUN_STATE_PARTIAL));
  const NextRun failed =
      Compute(schedule, partial.consecutive_failures, Finished(v1::RUN_STATE_FAILED));
  EXPECT_EQ(failed.consecutive_failures, 1u);
  EXPECT_EQ(failed.next_run_time, kFinished + absl::Seconds(30));
}

TEST(ComputeNextRunTest, FailureCountSaturates) {
  const NextRun next = Compute(MakeSchedule(), kMaxCount - 1, Finished(v1::RUN_STATE_FAILED));
  EXPECT_EQ(next.consecutive_failures, kMaxCount);
  EXPECT_EQ(next.next_run_time, kFinished + absl::Minutes(30));
  EXPECT_EQ(Compute(MakeSchedule(), kMaxCount, Finished(v1::RUN_STATE_FAILED)).consecutive_failures,
            kMaxCount);
}

struct BackoffCase {
  std::string name;
  BackoffPolicy policy;
  uint32_t failures;
  absl::Duration expected;
};

TEST(BackoffDelayTest, GrowsAndSaturatesAtMaxWithoutOverflow) {
  constexpr absl::Duration kTenThousandYears = absl::Hours(24 * 365 * 10'000);
  const std::vector<BackoffCase> cases = {
      {"no failures yet", {absl::Seconds(30), absl::Minutes(30), 2}, 0, absl::Seconds(30)},
      {"first failure", {absl::Seconds(30), absl::Minutes(30), 2}, 1, absl::Seconds(30)},
      {"exactly at max", {absl::Seconds(1), absl::Seconds(8), 2}, 4, absl::Seconds(8)},
      {"multiplier 1 stays at initial",
       {absl::Seconds(7), absl::Minutes(1), 1},
       1000,
       absl::Seconds(7)},
      {"initial equal to max", {absl::Seconds(5), absl::Seconds(5), 2}, 3, absl::Seconds(5)},
      {"2^1023 still finite, far past max",
       {absl::Seconds(30), absl::Minutes(30), 2},
       1024,
       absl::Minutes(30)},
      {"power overflows to inf",
       {absl::Seconds(30), absl::Minutes(30), 2},
       5000,
       absl::Minutes(30)},
      {"largest count", {absl::Seconds(30), absl::Minutes(30), 2}, kMaxCount, absl::Minutes(30)},
      {"huge multiplier", {absl::Seconds(30), absl::Minutes(30), 1e308}, 3, absl::Minutes(30)},
      {"tiny initial, huge max, below the cap",
       {absl::Nanoseconds(1), kTenThousandYears, 2},
       40,
       absl::Nanoseconds(int64_t{1} << 39)},
      {"tiny initial, huge max, past the cap",
       {absl::Nanoseconds(1), kTenThousandYears, 2},
       100,
       kTenThousandYears},
      {"fractional multiplier", {absl::Seconds(10), absl::Hours(1), 1.5}, 3, absl::Seconds(22.5)},
  };
  for (const BackoffCase& test : cases) {
    SCOPED_TRACE(test.name);
    EXPECT_EQ(BackoffDelay(test.policy, test.failures), test.expected);
  }
}

TEST(ComputeNextRunTest, PausesWhenTheLimitIsReachedExactly) {
  const v1::Schedule schedule = MakeSchedule(0, 5);
  const NextRun fourth = Compute(schedule, 3, Finished(v1::RUN_STATE_FAILED, "x"));
  EXPECT_EQ(fourth.consecutive_failures, 4u);
  EXPECT_FALSE(fourth.pause);

  const NextRun fifth =
      Compute(schedule, 4, Finished(v1::RUN_STATE_TIMED_OUT, "fetcher: deadline exceeded"));
  EXPECT_EQ(fifth.consecutive_failures, 5u);
  EXPECT_TRUE(fifth.pause);
  EXPECT_EQ(fifth.pause_note,
            "paused after 5 consecutive failed runs; last error: fetcher: deadline exceeded");
  // The next run time stays meaningful for a later resume.
  EXPECT_EQ(fifth.next_run_time, kFinished + absl::Seconds(480));
}

TEST(ComputeNextRunTest, PausesAgainPastTheLimitAndNeverWithoutOne) {
  EXPECT_TRUE(Compute(MakeSchedule(0, 5), 9, Finished(v1::RUN_STATE_FAILED)).pause);
  EXPECT_EQ(Compute(MakeSchedule(0, 1), 0, Finished(v1::RUN_STATE_FAILED)).pause_note,
            "paused after 1 consecutive failed runs");
  EXPECT_FALSE(Compute(MakeSchedule(0, 0), kMaxCount, Finished(v1::RUN_STATE_FAILED)).pause);
}

TEST(ComputeNextRunTest, PauseNoteIsCutToTheLimitOnACharacterBoundary) {
  std::string error;
  for (int i = 0; i < 200; ++i) error += "\xE2\x82\xAC";  // U+20AC, three bytes
  const NextRun next = Compute(MakeSchedule(0, 1), 0, Finished(v1::RUN_STATE_FAILED, error));
  const std::string prefix = "paused after 1 consecutive failed runs; last error: ";
  ASSERT_TRUE(next.pause);
  EXPECT_LE(next.pause_note.size(), kMaxPauseNoteBytes);
  EXPECT_GT(next.pause_note.size(), kMaxPauseNoteBytes - 3);
  EXPECT_EQ(next.pause_note.substr(0, prefix.size()), prefix);
  EXPECT_EQ((next.pause_note.size() - prefix.size()) % 3, 0u);
}

TEST(TruncateUtf8Test, NeverSplitsASequence) {
  EXPECT_EQ(TruncateUtf8("abc", 3), "abc");
  EXPECT_EQ(TruncateUtf8("abc", 5), "abc");
  EXPECT_EQ(TruncateUtf8("abcd", 3), "abc");
  EXPECT_EQ(TruncateUtf8("a\xC3\xA9", 2), "a");  // é
  EXPECT_EQ(TruncateUtf8("a\xC3\xA9x", 3), "a\xC3\xA9");
  EXPECT_EQ(TruncateUtf8("a\xE2\x82\xAC", 3), "a");      // €
  EXPECT_EQ(TruncateUtf8("a\xF0\x9F\x98\x80", 4), "a");  // U+1F600
  EXPECT_EQ(TruncateUtf8("\xF0\x9F\x98\x80", 3), "");
  EXPECT_EQ(TruncateUtf8("a\xF0\x9F\x98\x80"
                         "b",
                         5),
            "a\xF0\x9F\x98\x80");
  EXPECT_EQ(TruncateUtf8("", 0), "");
}

struct BoundaryCase {
  std::string name;
  absl::Time now;
  absl::Time expected;
};

TEST(ComputeNextRunTest, UnfinishedStatesWaitForTheNextBoundaryNotInThePast) {
  const std::vector<BoundaryCase> cases = {
      {"soon after", kScheduled + absl::Seconds(30), kScheduled + kInterval},
      {"exactly at the first boundary", kScheduled + kInterval, kScheduled + kInterval},
      {"mid-way through the third interval", kScheduled + 2 * kInterval + absl::Seconds(1),
       kScheduled + 3 * kInterval},
      {"exactly at a later boundary", kScheduled + 4 * kInterval, kScheduled + 4 * kInterval},
      {"now before the scheduled time", kScheduled - absl::Hours(1), kScheduled + kInterval},
      {"now exactly the scheduled time", kScheduled, kScheduled + kInterval},
  };
  for (v1::RunState state :
       {v1::RUN_STATE_CANCELLED, v1::RUN_STATE_SKIPPED, v1::RUN_STATE_ABANDONED}) {
    for (const BoundaryCase& test : cases) {
      SCOPED_TRACE(v1::RunState_Name(state) + ": " + test.name);
      const NextRun next = Compute(MakeSchedule(0, 2), 4, Finished(state), test.now);
      EXPECT_EQ(next.next_run_time, test.expected);
      // Neither a success nor a failure: the count stays, no pause.
      EXPECT_EQ(next.consecutive_failures, 4u);
      EXPECT_FALSE(next.pause);
    }
  }
}

TEST(ComputeNextRunTest, AbandonedYearsAgoKeepsThePhase) {
  v1::Schedule schedule = MakeSchedule();
  schedule.mutable_interval()->set_seconds(1);
  const absl::Time scheduled = kScheduled + absl::Milliseconds(250);
  FinishedRun run = Finished(v1::RUN_STATE_ABANDONED);
  run.scheduled_for = scheduled;
  const absl::Duration five_years = absl::Hours(24 * 365 * 5);
  const NextRun next = Compute(schedule, 0, run, scheduled + five_years + absl::Milliseconds(400));
  EXPECT_EQ(next.next_run_time, scheduled + five_years + absl::Seconds(1));
}

TEST(ComputeNextRunTest, EveryNextRunTimeGetsJitter) {
  // jitter 0.2 x interval 10 min x u 0.5 = 1 min.
  const v1::Schedule schedule = MakeSchedule(0.2);
  EXPECT_EQ(Compute(schedule, 0, Finished(v1::RUN_STATE_SUCCEEDED), kFinished, 0.5).next_run_time,
            kStarted + kInterval + absl::Minutes(1));
  EXPECT_EQ(Compute(schedule, 0, Finished(v1::RUN_STATE_FAILED), kFinished, 0.5).next_run_time,
            kFinished + absl::Seconds(30) + absl::Minutes(1));
  EXPECT_EQ(Compute(schedule, 0, Finished(v1::RUN_STATE_CANCELLED), kFinished, 0.5).next_run_time,
            kScheduled + kInterval + absl::Minutes(1));
}

TEST(ComputeNextRunTest, JitterAtTheEndsOfTheUnitInterval) {
  const v1::Schedule schedule = MakeSchedule(0.5);
  EXPECT_EQ(Compute(schedule, 0, Finished(v1::RUN_STATE_SUCCEEDED), kFinished, 0).next_run_time,
            kStarted + kInterval);
  const absl::Time latest =
      Compute(schedule, 0, Finished(v1::RUN_STATE_SUCCEEDED), kFinished, std::nextafter(1.0, 0.0))
          .next_run_time;
  EXPECT_LT(latest, kStarted + kInterval + kInterval / 2);
  EXPECT_GT(latest, kStarted + kInterval + kInterval / 2 - absl::Microseconds(1));
}

TEST(ComputeNextRunTest, RejectsStatesOfUnfinishedRuns) {
  for (v1::RunState state :
       {v1::RUN_STATE_UNSPECIFIED, v1::RUN_STATE_PENDING, v1::RUN_STATE_RUNNING}) {
    SCOPED_TRACE(v1::RunState_Name(state));
    FixedJitterSource jitter(0);
    const absl::StatusOr<NextRun> next =
        ComputeNextRun(MakeSchedule(), 0, Finished(state), kFinished, jitter);
    EXPECT_EQ(next.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace coffer::scheduler
