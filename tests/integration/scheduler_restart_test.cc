// A scheduler killed with SIGKILL and started again (as a new replica, as
// after a crash, or under its old replica id) against the real binaries: its
// missed runs become exactly one CATCH_UP run, or one SKIPPED run past the
// starting deadline; nothing is lost or run twice; and a run that was going
// when it died is recorded ABANDONED.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/scheduler_system_fixture.h"

namespace coffer::testing {
namespace {

constexpr absl::Duration kInterval = absl::Seconds(1);
constexpr absl::Duration kLeaseTtl = absl::Seconds(2);

bool Ended(const v1::Run& run) { return run.has_finished_at(); }

class SchedulerRestartTest : public SchedulerSystemTest {
 protected:
  void SetUp() override {
    SchedulerSystemTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartFetcher();
    StartStorage();
    AddAccounts({{1, "100"}, {2, "200"}});
  }

  SchedulerOptions Replica(const std::string& id) {
    SchedulerOptions options;
    options.replica_id = id;
    options.lease_ttl = kLeaseTtl;
    return options;
  }

  // Runs of `task_id` not in `before`, oldest first.
  std::vector<v1::Run> RunsSince(const std::string& task_id, const std::set<std::string>& before) {
    std::vector<v1::Run> fresh;
    for (const v1::Run& run : StoredRuns(task_id)) {
      if (before.count(run.run_id()) == 0) fresh.push_back(run);
    }
    return fresh;
  }
};

TEST_F(SchedulerRestartTest, MissedRunsBecomeOneCatchUpRun) {
  ServiceProcess& first = StartScheduler(Replica("replica-1"));
  auto api = SchedulerClient(first);
  v1::Task task = BalancesTask("balances", kInterval);
  task.mutable_schedule()->set_jitter(0);
  ASSERT_TRUE(CreateTaskWhenReady(*api, task).ok());
  ASSERT_TRUE(Eventually([&] {
    std::vector<v1::Run> runs = StoredRuns("balances");
    return std::count_if(runs.begin(), runs.end(), Ended) >= 2;
  }));

  first.Kill();
  // Several intervals pass with no scheduler at all.
  absl::SleepFor(6 * kInterval);
  std::set<std::string> before;
  std::vector<std::string> running_at_kill;
  for (const v1::Run& run : StoredRuns("balances")) {
    before.insert(run.run_id());
    if (run.state() == v1::RUN_STATE_RUNNING) running_at_kill.push_back(run.run_id());
  }

  StartScheduler(Replica("replica-2"));
  // The catch-up run and one scheduled run after it.
  ASSERT_TRUE(Eventually([&] {
    std::vector<v1::Run> fresh = RunsSince("balances", before);
    return std::count_if(fresh.begin(), fresh.end(), Ended) >= 2;
  }));

  std::vector<v1::Run> fresh = RunsSince("balances", before);
  ASSERT_FALSE(fresh.empty());
  EXPECT_EQ(fresh[0].trigger(), v1::RUN_TRIGGER_CATCH_UP) << fresh[0].ShortDebugString();
  EXPECT_GE(fresh[0].coalesced(), 2u)
      << "six intervals were missed: " << fresh[0].ShortDebugString();
  EXPECT_EQ(fresh[0].state(), v1::RUN_STATE_SUCCEEDED) << fresh[0].error().message();
  const int catch_ups = std::count_if(fresh.begin(), fresh.end(), [](const v1::Run& run) {
    return run.trigger() == v1::RUN_TRIGGER_CATCH_UP;
  });
  EXPECT_EQ(catch_ups, 1);
  for (size_t i = 1; i < fresh.size(); ++i) {
    EXPECT_EQ(fresh[i].trigger(), v1::RUN_TRIGGER_SCHEDULED) << fresh[i].ShortDebugString();
  }
  for (const v1::Run& run : fresh) EXPECT_EQ(run.holder_id(), "replica-2");

  for (const std::string& run_id : running_at_kill) {
    absl::StatusOr<v1::Run> run = StoredRun(run_id);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->state(), v1::RUN_STATE_ABANDONED) << run->ShortDebugString();
  }
  std::vector<v1::Run> all = StoredRuns("balances");
  EXPECT_TRUE(NeverOverlap(all));
  EXPECT_LE(StoredRunsIn("balances", v1::RUN_STATE_RUNNING).size(), 1u);
}

TEST_F(SchedulerRestartTest, ARunGoingWhenKilledIsRecordedAbandoned) {
  ServiceProcess& first = StartScheduler(Replica("replica-1"));
  auto api = SchedulerClient(first);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());

  // A stopped fetcher holds the run at its first fetcher call.
  Freeze(fetcher_process());
  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api, "balances", /*wait=*/false);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  const std::string run_id = triggered->run_id();
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::Run> run = StoredRun(run_id);
    return run.ok() && run->state() == v1::RUN_STATE_RUNNING;
  }));
  first.Kill();
  Thaw(fetcher_process());

  ServiceProcess& second = StartScheduler(Replica("replica-2"));
  v1::Run abandoned;
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::Run> run = StoredRun(run_id);
    if (!run.ok() || run->state() == v1::RUN_STATE_RUNNING) return false;
    abandoned = *run;
    return true;
  }));
  EXPECT_EQ(abandoned.state(), v1::RUN_STATE_ABANDONED);
  EXPECT_EQ(abandoned.error().code(), v1::Error::ABORTED) << abandoned.error().ShortDebugString();
  EXPECT_EQ(abandoned.holder_id(), "replica-1");
  EXPECT_TRUE(abandoned.has_finished_at());
  EXPECT_TRUE(abandoned.snapshot_id().empty());
  for (const v1::Snapshot& snapshot : StoredSnapshots()) EXPECT_NE(snapshot.run_id(), run_id);

  // The task goes on under the new replica, and its lease epoch is newer.
  auto api2 = SchedulerClient(second);
  absl::StatusOr<v1::TriggerTaskResponse> next = Trigger(*api2, "balances", /*wait=*/true);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->run().state(), v1::RUN_STATE_SUCCEEDED) << next->run().error().message();
  EXPECT_EQ(next->run().holder_id(), "replica-2");
  EXPECT_GT(next->run().lease_epoch(), abandoned.lease_epoch());
  EXPECT_EQ(LatestEther(2), "200");

  // Two runs in all, never both running.
  std::vector<v1::Run> runs = StoredRuns("balances");
  EXPECT_EQ(runs.size(), 2u);
  EXPECT_TRUE(NeverOverlap(runs));
}

TEST_F(SchedulerRestartTest, AMissedRunPastItsStartingDeadlineIsSkippedNotRunLate) {
  ServiceProcess& first = StartScheduler(Replica("replica-1"));
  auto api = SchedulerClient(first);
  // One run due 3 s after creation, the next an hour later: the scheduler
  // dies before the first, and is back only well past its deadline.
  v1::Task task = BalancesTask("balances", absl::Hours(1));
  task.mutable_schedule()->set_jitter(0);
  *task.mutable_schedule()->mutable_first_run_delay() = ProtoDuration(absl::Seconds(3));
  *task.mutable_schedule()->mutable_starting_deadline() = ProtoDuration(absl::Seconds(1));
  absl::StatusOr<v1::TaskStatus> created = CreateTaskWhenReady(*api, task);
  ASSERT_TRUE(created.ok()) << created.status();
  first.Kill();
  const absl::Time due = TimeOf(created->task().next_run_time());
  ASSERT_TRUE(StoredRuns("balances").empty()) << "the scheduler died before the run was due";
  absl::SleepFor(due + absl::Seconds(4) - absl::Now());

  ServiceProcess& second = StartScheduler(Replica("replica-2"));
  auto api2 = SchedulerClient(second);
  ASSERT_TRUE(Eventually([&] { return !StoredRuns("balances").empty(); }));
  // Time for a late run to (wrongly) start after the skip.
  absl::SleepFor(absl::Seconds(2));
  std::vector<v1::Run> runs = StoredRuns("balances");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].state(), v1::RUN_STATE_SKIPPED) << runs[0].ShortDebugString();
  EXPECT_EQ(TimeOf(runs[0].scheduled_for()), due) << runs[0].ShortDebugString();
  EXPECT_TRUE(runs[0].snapshot_id().empty());
  EXPECT_TRUE(StoredSnapshots().empty());
  // The schedule moved on to the next slot.
  absl::StatusOr<v1::TaskStatus> after = GetTask(*api2, "balances");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(TimeOf(after->task().next_run_time()), due + absl::Hours(1))
      << after->task().ShortDebugString();
  EXPECT_EQ(after->task().last_run_state(), v1::RUN_STATE_SKIPPED);
}

TEST_F(SchedulerRestartTest, ARestartUnderTheSameReplicaIdAlsoAbandonsTheRunItHad) {
  ServiceProcess& first = StartScheduler(Replica("replica-1"));
  auto api = SchedulerClient(first);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());
  Freeze(fetcher_process());
  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api, "balances", /*wait=*/false);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  const std::string run_id = triggered->run_id();
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::Run> run = StoredRun(run_id);
    return run.ok() && run->state() == v1::RUN_STATE_RUNNING;
  }));
  first.Kill();
  Thaw(fetcher_process());

  // The same holder id finds its own lease (and its own running run).
  ServiceProcess& second = StartScheduler(Replica("replica-1"));
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::Run> run = StoredRun(run_id);
    return run.ok() && run->state() != v1::RUN_STATE_RUNNING;
  }));
  absl::StatusOr<v1::Run> abandoned = StoredRun(run_id);
  ASSERT_TRUE(abandoned.ok()) << abandoned.status();
  EXPECT_EQ(abandoned->state(), v1::RUN_STATE_ABANDONED) << abandoned->ShortDebugString();
  for (const v1::Snapshot& snapshot : StoredSnapshots()) EXPECT_NE(snapshot.run_id(), run_id);

  auto api2 = SchedulerClient(second);
  absl::StatusOr<v1::TriggerTaskResponse> next = Trigger(*api2, "balances", /*wait=*/true);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->run().state(), v1::RUN_STATE_SUCCEEDED) << next->run().error().message();
  std::vector<v1::Run> runs = StoredRuns("balances");
  EXPECT_EQ(runs.size(), 2u);
  EXPECT_TRUE(NeverOverlap(runs));
}

}  // namespace
}  // namespace coffer::testing
