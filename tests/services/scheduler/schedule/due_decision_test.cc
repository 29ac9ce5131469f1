#include "services/scheduler/schedule/due_decision.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

const absl::Time kNextRun = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::Duration kInterval = absl::Minutes(5);

DueInput Input(absl::Time now, absl::Duration starting_deadline = absl::ZeroDuration(),
               bool first_look = false) {
  return DueInput{now, kNextRun, kInterval, starting_deadline, /*paused=*/false, first_look};
}

WaitUntil ExpectWait(const DueDecision& decision) {
  const auto* wait = std::get_if<WaitUntil>(&decision);
  EXPECT_NE(wait, nullptr) << "decision index " << decision.index();
  return wait ? *wait : WaitUntil{};
}

RunDue ExpectRun(const DueDecision& decision) {
  const auto* run = std::get_if<RunDue>(&decision);
  EXPECT_NE(run, nullptr) << "decision index " << decision.index();
  return run ? *run : RunDue{};
}

SkipMissed ExpectSkip(const DueDecision& decision) {
  const auto* skip = std::get_if<SkipMissed>(&decision);
  EXPECT_NE(skip, nullptr) << "decision index " << decision.index();
  return skip ? *skip : SkipMissed{};
}

TEST(DecideDueTest, WaitsUntilTheNextRunTime) {
  EXPECT_EQ(ExpectWait(DecideDue(Input(kNextRun - absl::Nanoseconds(1)))).until, kNextRun);
  EXPECT_EQ(ExpectWait(DecideDue(Input(kNextRun - absl::Hours(3), absl::Seconds(1), true))).until,
            kNextRun);
}

TEST(DecideDueTest, RunsWhenTheNextRunTimeIsExactlyNow) {
  const RunDue run = ExpectRun(DecideDue(Input(kNextRun)));
  EXPECT_EQ(run.scheduled_for, kNextRun);
  EXPECT_EQ(run.trigger, v1::RUN_TRIGGER_SCHEDULED);
  EXPECT_EQ(run.coalesced, 0u);
}

TEST(DecideDueTest, APausedTaskNeverRunsOnSchedule) {
  for (absl::Time now : {kNextRun - absl::Seconds(1), kNextRun, kNextRun + absl::Hours(24 * 365)}) {
    for (bool first_look : {false, true}) {
      DueInput input = Input(now, absl::Seconds(10), first_look);
      input.paused = true;
      EXPECT_EQ(ExpectWait(DecideDue(input)).until, absl::InfiniteFuture());
    }
  }
}

struct RunCase {
  std::string name;
  absl::Time now;
  absl::Duration starting_deadline;
  absl::Time scheduled_for;
  uint32_t coalesced;
};

TEST(DecideDueTest, FoldsMissedBoundariesIntoOneRunAtTheLatest) {
  const std::vector<RunCase> cases = {
      {"late within the first interval", kNextRun + absl::Minutes(4), absl::ZeroDuration(),
       kNextRun, 0},
      {"one boundary missed, exactly at the second", kNextRun + kInterval, absl::ZeroDuration(),
       kNextRun + kInterval, 1},
      {"three and a half intervals", kNextRun + 3 * kInterval + absl::Minutes(2),
       absl::ZeroDuration(), kNextRun + 3 * kInterval, 3},
      {"lateness exactly the deadline", kNextRun + absl::Seconds(30), absl::Seconds(30), kNextRun,
       0},
      {"latest missed boundary within the deadline", kNextRun + 7 * kInterval + absl::Seconds(5),
       absl::Seconds(30), kNextRun + 7 * kInterval, 7},
  };
  for (const RunCase& test : cases) {
    SCOPED_TRACE(test.name);
    const RunDue run = ExpectRun(DecideDue(Input(test.now, test.starting_deadline)));
    EXPECT_EQ(run.scheduled_for, test.scheduled_for);
    EXPECT_EQ(run.coalesced, test.coalesced);
    EXPECT_EQ(run.trigger, v1::RUN_TRIGGER_SCHEDULED);
  }
}

TEST(DecideDueTest, AfterARestartYearsOfMissedIntervalsAreOneCatchUpRun) {
  DueInput input = Input(kNextRun + absl::Hours(24 * 365 * 3) + absl::Milliseconds(700),
                         absl::ZeroDuration(), /*first_look=*/true);
  input.interval = absl::Seconds(1);
  const RunDue run = ExpectRun(DecideDue(input));
  EXPECT_EQ(run.trigger, v1::RUN_TRIGGER_CATCH_UP);
  EXPECT_EQ(run.coalesced, 3u * 365 * 24 * 3600);
  EXPECT_EQ(run.scheduled_for, kNextRun + absl::Hours(24 * 365 * 3));
}

TEST(DecideDueTest, CoalescedSaturatesPastUint32) {
  DueInput input = Input(kNextRun + absl::Hours(24 * 365 * 200));
  input.interval = absl::Seconds(1);
  EXPECT_EQ(ExpectRun(DecideDue(input)).coalesced, std::numeric_limits<uint32_t>::max());
}

TEST(DecideDueTest, FirstLookMakesEvenAnOnTimeRunACatchUp) {
  EXPECT_EQ(ExpectRun(DecideDue(Input(kNextRun, absl::ZeroDuration(), true))).trigger,
            v1::RUN_TRIGGER_CATCH_UP);
}

TEST(DecideDueTest, SkipsWhenLaterThanTheStartingDeadline) {
  const SkipMissed skip = ExpectSkip(
      DecideDue(Input(kNextRun + absl::Seconds(30) + absl::Nanoseconds(1), absl::Seconds(30))));
  EXPECT_EQ(skip.scheduled_for, kNextRun);
  EXPECT_EQ(skip.coalesced, 0u);
  EXPECT_EQ(skip.next_run_time, kNextRun + kInterval);
}

TEST(DecideDueTest, SkipAfterARestartKeepsThePhaseAndLandsInTheFuture) {
  const absl::Time now = kNextRun + 12 * kInterval + absl::Minutes(3);
  const SkipMissed skip = ExpectSkip(DecideDue(Input(now, absl::Minutes(1), true)));
  EXPECT_EQ(skip.scheduled_for, kNextRun + 12 * kInterval);
  EXPECT_EQ(skip.coalesced, 12u);
  EXPECT_EQ(skip.next_run_time, kNextRun + 13 * kInterval);
  EXPECT_GT(skip.next_run_time, now);

  // The loop, asked again with the new next run time, waits for it.
  DueInput again = Input(now, absl::Minutes(1));
  again.next_run_time = skip.next_run_time;
  EXPECT_EQ(ExpectWait(DecideDue(again)).until, skip.next_run_time);
}

TEST(DecideDueTest, ADeadlineLongerThanTheIntervalNeverSkips) {
  for (int64_t k = 0; k < 50; ++k) {
    SCOPED_TRACE(k);
    const absl::Time now = kNextRun + k * absl::Seconds(37);
    EXPECT_TRUE(std::holds_alternative<RunDue>(DecideDue(Input(now, kInterval))));
  }
}

}  // namespace
}  // namespace coffer::scheduler
