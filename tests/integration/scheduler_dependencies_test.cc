// The scheduler while its dependencies come and go, against the real
// binaries: a stopped fetcher makes runs fail and back off as the task's
// Schedule.backoff says (and pause the task after max_consecutive_failures),
// health reports the fetcher NOT_SERVING, and runs succeed again once it
// returns on its address; a scheduler started before storage runs nothing
// until storage serves, and one whose storage goes away keeps running and
// takes its tasks up again when storage returns.
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/scheduler_system_fixture.h"
#include "tests/testing/free_port.h"

namespace coffer::testing {
namespace {

using v1::GetReplicaStatusResponse;
using v1::Scheduler;

constexpr absl::Duration kBackoffInitial = absl::Seconds(1);
constexpr absl::Duration kBackoffMax = absl::Seconds(4);

// Schedule.backoff after `failures` FAILED runs in a row (x2 each time).
absl::Duration BackoffAfter(int failures) {
  return std::min(kBackoffMax, kBackoffInitial * (1 << std::min(failures - 1, 10)));
}

const v1::DependencyStatus* Dependency(const GetReplicaStatusResponse& status,
                                       const std::string& name) {
  for (const v1::DependencyStatus& dependency : status.dependencies()) {
    if (dependency.name() == name) return &dependency;
  }
  return nullptr;
}

class SchedulerDependenciesTest : public SchedulerSystemTest {};

TEST_F(SchedulerDependenciesTest, AStoppedFetcherFailsRunsThatBackOffAndRecover) {
  StartFetcher();
  StartStorage();
  AddAccounts({{1, "77"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  const int fetcher_port = fetcher_process().port();
  const std::string fetcher_address = fetcher_process().address();
  ASSERT_TRUE(Eventually([&] { return HealthOf(scheduler, "fetcher") == "SERVING"; }))
      << HealthOf(scheduler, "fetcher");

  StopAndExpectCleanExit(fetcher_process(), SIGTERM);
  v1::Task task = BalancesTask("balances", absl::Hours(1));
  v1::Schedule& schedule = *task.mutable_schedule();
  schedule.set_jitter(0);
  *schedule.mutable_backoff()->mutable_initial() = ProtoDuration(kBackoffInitial);
  *schedule.mutable_backoff()->mutable_max() = ProtoDuration(kBackoffMax);
  schedule.mutable_backoff()->set_multiplier(2);
  ASSERT_TRUE(CreateTaskWhenReady(*api, task).ok());

  // While backing off, the next run is due one backoff step after the
  // failure, by the step the failure count reached.
  int checked_steps = 0;
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::TaskStatus> status = GetTask(*api, "balances");
    if (!status.ok()) return false;
    const v1::Task& stored = status->task();
    if (status->state() == v1::TaskStatus::BACKING_OFF && stored.consecutive_failures() > 0) {
      const absl::Duration due_after =
          TimeOf(stored.next_run_time()) - TimeOf(stored.last_run_finished_at());
      const absl::Duration expected = BackoffAfter(stored.consecutive_failures());
      EXPECT_GE(due_after, expected - absl::Milliseconds(500)) << stored.ShortDebugString();
      EXPECT_LE(due_after, expected + absl::Milliseconds(500)) << stored.ShortDebugString();
      ++checked_steps;
    }
    return stored.consecutive_failures() >= 4;
  }));
  EXPECT_GT(checked_steps, 0);

  std::vector<v1::Run> runs = StoredRuns("balances");
  ASSERT_GE(runs.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(runs[i].state(), v1::RUN_STATE_FAILED) << runs[i].ShortDebugString();
    EXPECT_EQ(runs[i].error().upstream(), "fetcher") << runs[i].error().ShortDebugString();
    EXPECT_TRUE(runs[i].snapshot_id().empty());
  }
  // Runs 1..3 waited 1 s, 2 s and 4 s after the failure before them (the
  // lower bound is what backoff guarantees; the upper one is generous).
  for (size_t i = 1; i < 4; ++i) {
    const absl::Duration waited = TimeOf(runs[i].started_at()) - TimeOf(runs[i - 1].finished_at());
    const absl::Duration expected = BackoffAfter(static_cast<int>(i));
    EXPECT_GE(waited, expected - absl::Milliseconds(250)) << "run " << i;
    EXPECT_LE(waited, expected + absl::Seconds(5)) << "run " << i;
  }

  ASSERT_TRUE(Eventually([&] { return HealthOf(scheduler, "fetcher") == "NOT_SERVING"; }))
      << HealthOf(scheduler, "fetcher");
  absl::StatusOr<GetReplicaStatusResponse> status = ReplicaStatus(scheduler);
  ASSERT_TRUE(status.ok()) << status.status();
  const v1::DependencyStatus* fetcher = Dependency(*status, "fetcher");
  ASSERT_NE(fetcher, nullptr) << status->ShortDebugString();
  EXPECT_FALSE(fetcher->serving());
  EXPECT_EQ(fetcher->target(), fetcher_address);
  EXPECT_EQ(status->role(), GetReplicaStatusResponse::ACTIVE);

  // The fetcher returns on its address: health and runs recover unaided.
  StartFetcher(fetcher_port);
  ASSERT_TRUE(Eventually([&] { return HealthOf(scheduler, "fetcher") == "SERVING"; }))
      << HealthOf(scheduler, "fetcher");
  v1::Run recovered;
  ASSERT_TRUE(Eventually([&] {
    std::vector<v1::Run> succeeded = StoredRunsIn("balances", v1::RUN_STATE_SUCCEEDED);
    if (succeeded.empty()) return false;
    recovered = succeeded.front();
    return true;
  }));
  EXPECT_EQ(LatestEther(1), "77");
  absl::StatusOr<v1::TaskStatus> after = GetTask(*api, "balances");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->task().consecutive_failures(), 0u);
  // The interval applies again, from the successful run's start.
  const absl::Duration due_after =
      TimeOf(after->task().next_run_time()) - TimeOf(recovered.started_at());
  EXPECT_GE(due_after, absl::Hours(1) - absl::Seconds(5));
  EXPECT_LE(due_after, absl::Hours(1) + absl::Seconds(5));
  EXPECT_TRUE(NeverOverlap(StoredRuns("balances")));
  EXPECT_TRUE(scheduler.Running());
}

TEST_F(SchedulerDependenciesTest, NothingRunsUntilStorageServes) {
  absl::StatusOr<int> storage_port = PickUnusedPort();
  ASSERT_TRUE(storage_port.ok()) << storage_port.status();
  StartFetcher();
  SchedulerOptions options;
  options.storage_address = absl::StrCat("127.0.0.1:", *storage_port);
  options.default_tasks = true;
  options.wait_for_role = GetReplicaStatusResponse::STARTING;
  ServiceProcess& scheduler = StartScheduler(options);
  auto api = SchedulerClient(scheduler);

  ASSERT_TRUE(Eventually([&] { return HealthOf(scheduler, "storage") == "NOT_SERVING"; }))
      << HealthOf(scheduler, "storage");
  absl::StatusOr<v1::TriggerTaskResponse> refused =
      Trigger(*api, "refresh-balances", /*wait=*/false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  // It waits, however long storage takes.
  absl::SleepFor(absl::Seconds(3));
  absl::StatusOr<GetReplicaStatusResponse> waiting = ReplicaStatus(scheduler);
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_EQ(waiting->role(), GetReplicaStatusResponse::STARTING);
  EXPECT_EQ(waiting->runs_in_flight(), 0u);
  const v1::DependencyStatus* storage_status = Dependency(*waiting, "storage");
  ASSERT_NE(storage_status, nullptr) << waiting->ShortDebugString();
  EXPECT_FALSE(storage_status->serving());
  EXPECT_TRUE(scheduler.Running());

  StartStorage(*storage_port);
  AddAccounts({{1, "88"}});
  ASSERT_TRUE(WaitForRole(scheduler, GetReplicaStatusResponse::ACTIVE, absl::Seconds(60)));
  ASSERT_TRUE(Eventually([&] { return HealthOf(scheduler, "storage") == "SERVING"; }))
      << HealthOf(scheduler, "storage");
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("mine", absl::Hours(1), true)).ok());
  absl::StatusOr<v1::TriggerTaskResponse> ran = Trigger(*api, "mine", /*wait=*/true);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(ran->run().state(), v1::RUN_STATE_SUCCEEDED) << ran->run().error().message();
  EXPECT_EQ(LatestEther(1), "88");
  // The default tasks were created once storage could hold them.
  EXPECT_TRUE(GetTask(*api, "refresh-balances").ok());
}

TEST_F(SchedulerDependenciesTest, ATaskFailingNTimesInARowPausesItself) {
  StartFetcher();
  StartStorage();
  AddAccounts({{1, "5"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  StopAndExpectCleanExit(fetcher_process(), SIGTERM);

  v1::Task task = BalancesTask("balances", absl::Seconds(1));
  v1::Schedule& schedule = *task.mutable_schedule();
  *schedule.mutable_backoff()->mutable_initial() = ProtoDuration(absl::Seconds(1));
  *schedule.mutable_backoff()->mutable_max() = ProtoDuration(absl::Seconds(1));
  schedule.set_max_consecutive_failures(3);
  ASSERT_TRUE(CreateTaskWhenReady(*api, task).ok());

  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::TaskStatus> status = GetTask(*api, "balances");
    return status.ok() && status->task().paused();
  }));
  absl::StatusOr<v1::TaskStatus> paused = GetTask(*api, "balances");
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(paused->state(), v1::TaskStatus::PAUSED);
  EXPECT_FALSE(paused->task().status_note().empty()) << "the reason is the pause note";
  EXPECT_EQ(paused->task().consecutive_failures(), 3u);
  // Three failures, then nothing more however long it waits.
  absl::SleepFor(absl::Seconds(4));
  std::vector<v1::Run> runs = StoredRuns("balances");
  ASSERT_EQ(runs.size(), 3u);
  for (const v1::Run& run : runs) EXPECT_EQ(run.state(), v1::RUN_STATE_FAILED);
}

TEST_F(SchedulerDependenciesTest, StorageGoingAwayIsReportedAndRunsResumeWhenItReturns) {
  StartFetcher();
  ServiceProcess& storage = StartStorage();
  const int storage_port = storage.port();
  AddAccounts({{1, "61"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("balances", absl::Seconds(1))).ok());
  ASSERT_TRUE(
      Eventually([&] { return StoredRunsIn("balances", v1::RUN_STATE_SUCCEEDED).size() >= 2; }));

  StopAndExpectCleanExit(storage, SIGTERM);
  ASSERT_TRUE(Eventually([&] { return HealthOf(scheduler, "storage") == "NOT_SERVING"; }))
      << HealthOf(scheduler, "storage");
  absl::StatusOr<v1::TriggerTaskResponse> refused = Trigger(*api, "balances", /*wait=*/false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  absl::SleepFor(absl::Seconds(3));
  ASSERT_TRUE(scheduler.Running()) << "the scheduler keeps running without storage";
  absl::StatusOr<v1::GetReplicaStatusResponse> status = ReplicaStatus(scheduler);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_NE(status->role(), GetReplicaStatusResponse::ACTIVE) << status->ShortDebugString();

  // Storage returns with its database: the scheduler takes up the task again.
  StartStorage(storage_port);
  const size_t succeeded_before = StoredRunsIn("balances", v1::RUN_STATE_SUCCEEDED).size();
  ASSERT_TRUE(WaitForRole(scheduler, GetReplicaStatusResponse::ACTIVE, absl::Seconds(60)));
  ASSERT_TRUE(Eventually([&] {
    return StoredRunsIn("balances", v1::RUN_STATE_SUCCEEDED).size() >= succeeded_before + 2;
  }));
  // The monitor checks every 2 s, and fails fast while its channel waits out
  // a reconnect backoff, so it may say SERVING a moment after the runs
  // (whose calls wait for the channel) went through.
  EXPECT_TRUE(
      Eventually([&] { return HealthOf(scheduler, "storage") == "SERVING"; }, absl::Seconds(30)))
      << HealthOf(scheduler, "storage");
  std::vector<v1::Run> runs = StoredRuns("balances");
  EXPECT_TRUE(NeverOverlap(runs));
  EXPECT_LE(StoredRunsIn("balances", v1::RUN_STATE_RUNNING).size(), 1u);
}

}  // namespace
}  // namespace coffer::testing
