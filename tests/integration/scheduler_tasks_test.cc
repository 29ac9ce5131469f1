// The Scheduler API against the real binaries (anvil, a local price server,
// fetcher, storage, scheduler): triggered and scheduled refreshes write what
// the chain holds, pause and resume steer the schedule, a trigger during a
// run folds into one follow-up, a cancelled or timed-out run stops and
// writes nothing, the concurrency limit queues runs, updates reschedule and
// deletes stop a task, prices are refreshed, WatchRuns and ListRuns follow
// runs, GetTask shows the schedule, the default tasks exist on a first
// start, and bad tasks are refused by field.
#include <signal.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/scheduler_system_fixture.h"
#include "tests/testing/anvil_fetcher_config.h"

namespace coffer::testing {
namespace {

using v1::Scheduler;
using v1::Storage;
using v1::TaskStatus;
using v1::WatchRunsResponse;

bool Terminal(const v1::Run& run) {
  return run.state() != v1::RUN_STATE_UNSPECIFIED && run.state() != v1::RUN_STATE_PENDING &&
         run.state() != v1::RUN_STATE_RUNNING;
}

class SchedulerTasksTest : public SchedulerSystemTest {
 protected:
  void SetUp() override {
    SchedulerSystemTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartFetcher();
    StartStorage();
  }

  size_t FinishedRuns(const std::string& task_id) {
    std::vector<v1::Run> runs = StoredRuns(task_id);
    return std::count_if(runs.begin(), runs.end(), Terminal);
  }

  bool AnyRunning(const std::string& task_id) {
    return !StoredRunsIn(task_id, v1::RUN_STATE_RUNNING).empty();
  }

  // Waits until storage records `run_id` as ended; answers it.
  v1::Run WaitForEnd(const std::string& run_id) {
    v1::Run ended;
    const bool done = Eventually([&] {
      absl::StatusOr<v1::Run> run = StoredRun(run_id);
      if (!run.ok() || !Terminal(*run)) return false;
      ended = *run;
      return true;
    });
    EXPECT_TRUE(done) << "run " << run_id << " never ended";
    return ended;
  }

  absl::StatusOr<v1::CancelRunResponse> Cancel(grpc_util::AsyncClient<Scheduler>& api,
                                               const std::string& task_id,
                                               const std::string& run_id) {
    v1::CancelRunRequest request;
    request.set_task_id(task_id);
    request.set_run_id(run_id);
    request.set_reason("stopped by the test");
    request.set_wait(true);
    grpc_util::CallOptions options;
    options.timeout = absl::Seconds(60);
    return api.CallBlocking(&Scheduler::Stub::PrepareAsyncCancelRun, request, options);
  }

  std::vector<TaskStatus> ListTasks(grpc_util::AsyncClient<Scheduler>& api) {
    absl::StatusOr<v1::ListTasksResponse> reply =
        api.CallBlocking(&Scheduler::Stub::PrepareAsyncListTasks, v1::ListTasksRequest());
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return {};
    return {reply->tasks().begin(), reply->tasks().end()};
  }
};

TEST_F(SchedulerTasksTest, ATriggeredRefreshWritesEveryAccountsBalance) {
  AddAccounts({{1, "1234000000000000000"}, {2, "42"}, {3, "0"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);

  absl::StatusOr<TaskStatus> created =
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->task().paused());
  EXPECT_EQ(created->state(), TaskStatus::PAUSED);

  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api, "balances", /*wait=*/true);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  const v1::Run& run = triggered->run();
  EXPECT_FALSE(triggered->coalesced());
  EXPECT_EQ(triggered->run_id(), run.run_id());
  ASSERT_EQ(run.state(), v1::RUN_STATE_SUCCEEDED) << run.error().message();
  EXPECT_EQ(run.trigger(), v1::RUN_TRIGGER_MANUAL);
  EXPECT_EQ(run.counts().accounts(), 3u);
  EXPECT_EQ(run.counts().items_succeeded(), 3u);
  EXPECT_EQ(run.counts().items_failed(), 0u);
  ASSERT_FALSE(run.snapshot_id().empty());

  EXPECT_EQ(LatestEther(1), "1234000000000000000");
  EXPECT_EQ(LatestEther(2), "42");
  EXPECT_EQ(LatestEther(3), "0");

  // Storage's record is the scheduler's answer, under this replica's lease.
  absl::StatusOr<v1::Run> stored = StoredRun(run.run_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(stored->snapshot_id(), run.snapshot_id());
  EXPECT_EQ(stored->holder_id(), "replica-a");
  EXPECT_GT(stored->lease_epoch(), 0u);
  v1::GetSnapshotRequest get;
  get.set_snapshot_id(run.snapshot_id());
  absl::StatusOr<v1::GetSnapshotResponse> snapshot =
      storage().CallBlocking(&Storage::Stub::PrepareAsyncGetSnapshot, get);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->snapshot().run_id(), run.run_id());
}

TEST_F(SchedulerTasksTest, AChangedBalanceShowsUpAfterTheNextScheduledRun) {
  AddAccounts({{1, "1000"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("balances", absl::Seconds(2))).ok());
  ASSERT_TRUE(Eventually([&] { return LatestEther(1) == "1000"; })) << LatestEther(1);

  ASSERT_TRUE(anvil().SetBalance(AddressOf(1), "2000").ok());
  ASSERT_TRUE(Eventually([&] { return LatestEther(1) == "2000"; })) << LatestEther(1);

  // Written by a scheduled run: nobody triggered one.
  v1::GetLatestBalancesRequest latest;
  latest.add_account_ids(AccountId(1));
  latest.add_asset_ids(kAnvilEther);
  absl::StatusOr<v1::GetLatestBalancesResponse> balances =
      storage().CallBlocking(&Storage::Stub::PrepareAsyncGetLatestBalances, latest);
  ASSERT_TRUE(balances.ok() && balances->balances_size() == 1);
  v1::GetSnapshotRequest get;
  get.set_snapshot_id(balances->balances(0).snapshot_id());
  absl::StatusOr<v1::GetSnapshotResponse> snapshot =
      storage().CallBlocking(&Storage::Stub::PrepareAsyncGetSnapshot, get);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  absl::StatusOr<v1::Run> writer = StoredRun(snapshot->snapshot().run_id());
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ(writer->trigger(), v1::RUN_TRIGGER_SCHEDULED);
  EXPECT_EQ(writer->state(), v1::RUN_STATE_SUCCEEDED);

  std::vector<v1::Run> runs = StoredRuns("balances");
  EXPECT_GE(runs.size(), 2u);
  for (const v1::Run& run : runs) EXPECT_NE(run.trigger(), v1::RUN_TRIGGER_MANUAL);
  EXPECT_TRUE(NeverOverlap(runs));
}

TEST_F(SchedulerTasksTest, PauseStopsScheduledRunsAndResumeRestartsThem) {
  AddAccounts({{1, "5"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  constexpr absl::Duration kInterval = absl::Seconds(2);
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("balances", kInterval)).ok());
  ASSERT_TRUE(Eventually([&] { return FinishedRuns("balances") >= 2; }));

  v1::PauseTaskRequest pause;
  pause.set_task_id("balances");
  pause.set_note("paused by the test");
  absl::StatusOr<v1::PauseTaskResponse> paused =
      api->CallBlocking(&Scheduler::Stub::PrepareAsyncPauseTask, pause);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_TRUE(paused->task().task().paused());
  EXPECT_EQ(paused->task().task().status_note(), "paused by the test");

  // A run going when paused finishes; after it nothing starts, however many
  // intervals pass.
  ASSERT_TRUE(Eventually([&] { return !AnyRunning("balances"); }));
  const size_t runs_when_paused = StoredRuns("balances").size();
  absl::SleepFor(3.5 * kInterval);
  EXPECT_EQ(StoredRuns("balances").size(), runs_when_paused);
  absl::StatusOr<TaskStatus> task = GetTask(*api, "balances");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), TaskStatus::PAUSED);
  EXPECT_EQ(task->task().status_note(), "paused by the test");

  v1::ResumeTaskRequest resume;
  resume.set_task_id("balances");
  absl::StatusOr<v1::ResumeTaskResponse> resumed =
      api->CallBlocking(&Scheduler::Stub::PrepareAsyncResumeTask, resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_FALSE(resumed->task().task().paused());
  EXPECT_NE(resumed->task().state(), TaskStatus::PAUSED);
  EXPECT_TRUE(resumed->task().task().status_note().empty());

  // The schedule goes on: more than the one run due at once.
  ASSERT_TRUE(Eventually([&] { return FinishedRuns("balances") >= runs_when_paused + 2; }));
  std::vector<v1::Run> runs = StoredRuns("balances");
  for (size_t i = runs_when_paused; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].trigger(), v1::RUN_TRIGGER_SCHEDULED) << runs[i].ShortDebugString();
  }
  EXPECT_TRUE(NeverOverlap(runs));
}

TEST_F(SchedulerTasksTest, ATriggerDuringARunFoldsIntoOneFollowUp) {
  AddAccounts({{1, "7"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());

  // A stopped fetcher holds the run at its first fetcher call.
  Freeze(fetcher_process());
  absl::StatusOr<v1::TriggerTaskResponse> first = Trigger(*api, "balances", /*wait=*/false);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->coalesced());
  const std::string running_id = first->run_id();
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::Run> run = StoredRun(running_id);
    return run.ok() && run->state() == v1::RUN_STATE_RUNNING;
  }));

  absl::StatusOr<v1::TriggerTaskResponse> second = Trigger(*api, "balances", /*wait=*/false);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->coalesced());
  EXPECT_NE(second->run_id(), running_id);
  EXPECT_EQ(second->run().state(), v1::RUN_STATE_PENDING);
  absl::StatusOr<v1::TriggerTaskResponse> third = Trigger(*api, "balances", /*wait=*/false);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(third->coalesced());
  EXPECT_EQ(third->run_id(), second->run_id());
  const std::string follow_up_id = second->run_id();

  absl::StatusOr<TaskStatus> task = GetTask(*api, "balances");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), TaskStatus::RUNNING);
  EXPECT_EQ(task->current_run().run_id(), running_id);
  EXPECT_EQ(task->pending_run().run_id(), follow_up_id);

  Thaw(fetcher_process());
  const v1::Run follow_up = WaitForEnd(follow_up_id);
  EXPECT_EQ(follow_up.state(), v1::RUN_STATE_SUCCEEDED) << follow_up.error().message();
  EXPECT_EQ(follow_up.trigger(), v1::RUN_TRIGGER_MANUAL);
  EXPECT_GE(follow_up.coalesced(), 1u);
  absl::StatusOr<v1::Run> running = StoredRun(running_id);
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_TRUE(Terminal(*running)) << running->ShortDebugString();
  EXPECT_GE(TimeOf(follow_up.started_at()), TimeOf(running->finished_at()));

  // Three triggers, two runs: no third run comes later.
  absl::SleepFor(absl::Seconds(3));
  std::vector<v1::Run> runs = StoredRuns("balances");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].run_id(), running_id);
  EXPECT_EQ(runs[1].run_id(), follow_up_id);
}

TEST_F(SchedulerTasksTest, ACancelledRunIsRecordedAndWritesNothing) {
  AddAccounts({{1, "9"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
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

  // The run stops its outstanding calls (scheduler.proto, CancelRun): it
  // ends without the stopped fetcher ever answering.
  const absl::Time cancel_asked = absl::Now();
  absl::StatusOr<v1::CancelRunResponse> cancelled = Cancel(*api, "balances", run_id);
  const absl::Duration cancel_took = absl::Now() - cancel_asked;
  Thaw(fetcher_process());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->run().state(), v1::RUN_STATE_CANCELLED);
  EXPECT_LT(cancel_took, absl::Seconds(20))
      << "CancelRun{wait} took " << absl::FormatDuration(cancel_took)
      << ": the run waited for its fetcher call instead of stopping it";

  absl::StatusOr<v1::Run> stored = StoredRun(run_id);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->state(), v1::RUN_STATE_CANCELLED);
  EXPECT_TRUE(absl::StrContains(stored->error().message(), "stopped by the test"))
      << stored->error().ShortDebugString();
  EXPECT_TRUE(stored->snapshot_id().empty());
  for (const v1::Snapshot& snapshot : StoredSnapshots()) EXPECT_NE(snapshot.run_id(), run_id);

  // Nothing runs now; the task still works.
  absl::StatusOr<v1::CancelRunResponse> again = Cancel(*api, "balances", "");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  absl::StatusOr<v1::TriggerTaskResponse> next = Trigger(*api, "balances", /*wait=*/true);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->run().state(), v1::RUN_STATE_SUCCEEDED) << next->run().error().message();
  EXPECT_EQ(LatestEther(1), "9");
}

TEST_F(SchedulerTasksTest, ARunPastItsTimeoutIsRecordedTimedOut) {
  AddAccounts({{1, "3"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  v1::Task task = BalancesTask("balances", absl::Hours(1), /*paused=*/true);
  *task.mutable_schedule()->mutable_run_timeout() = ProtoDuration(absl::Seconds(2));
  ASSERT_TRUE(CreateTaskWhenReady(*api, task).ok());

  Freeze(fetcher_process());
  const absl::Time triggered_at = absl::Now();
  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api, "balances", /*wait=*/false);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  // Cancelled at its timeout, stopping its calls: recorded long before the
  // stopped fetcher could time the call out.
  v1::Run ended;
  const bool recorded = Eventually(
      [&] {
        absl::StatusOr<v1::Run> run = StoredRun(triggered->run_id());
        if (!run.ok() || !Terminal(*run)) return false;
        ended = *run;
        return true;
      },
      absl::Seconds(20));
  const absl::Duration took = absl::Now() - triggered_at;
  Thaw(fetcher_process());
  ASSERT_TRUE(recorded) << "no end recorded " << absl::FormatDuration(took)
                        << " after the trigger, with a run timeout of 2s";
  EXPECT_EQ(ended.state(), v1::RUN_STATE_TIMED_OUT) << ended.ShortDebugString();
  EXPECT_TRUE(ended.snapshot_id().empty());
  for (const v1::Snapshot& snapshot : StoredSnapshots()) {
    EXPECT_NE(snapshot.run_id(), ended.run_id());
  }
}

TEST_F(SchedulerTasksTest, AFullConcurrencyLimitQueuesRuns) {
  AddAccounts({{1, "21"}});
  SchedulerOptions options;
  options.max_concurrent_runs = 1;
  ServiceProcess& scheduler = StartScheduler(options);
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("first", absl::Hours(1), /*paused=*/true)).ok());
  ASSERT_TRUE(CreateTask(*api, BalancesTask("second", absl::Hours(1), /*paused=*/true)).ok());

  Freeze(fetcher_process());
  absl::StatusOr<v1::TriggerTaskResponse> first = Trigger(*api, "first", /*wait=*/false);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::Run> run = StoredRun(first->run_id());
    return run.ok() && run->state() == v1::RUN_STATE_RUNNING;
  }));
  absl::StatusOr<v1::TriggerTaskResponse> second = Trigger(*api, "second", /*wait=*/false);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->coalesced());

  // The second waits for the slot: queued, not started, not recorded.
  absl::StatusOr<TaskStatus> waiting = GetTask(*api, "second");
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_EQ(waiting->state(), TaskStatus::QUEUED);
  absl::StatusOr<v1::GetReplicaStatusResponse> status = ReplicaStatus(scheduler);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->max_concurrent_runs(), 1u);
  EXPECT_EQ(status->runs_in_flight(), 1u);
  EXPECT_EQ(status->runs_queued(), 1u);
  EXPECT_EQ(StoredRun(second->run_id()).status().code(), absl::StatusCode::kNotFound);

  Thaw(fetcher_process());
  const v1::Run second_run = WaitForEnd(second->run_id());
  EXPECT_EQ(second_run.state(), v1::RUN_STATE_SUCCEEDED) << second_run.error().message();
  absl::StatusOr<v1::Run> first_run = StoredRun(first->run_id());
  ASSERT_TRUE(first_run.ok()) << first_run.status();
  ASSERT_TRUE(first_run->has_finished_at()) << first_run->ShortDebugString();
  EXPECT_GE(TimeOf(second_run.started_at()), TimeOf(first_run->finished_at()));
}

TEST_F(SchedulerTasksTest, AnUpdatedIntervalReschedulesTheTask) {
  AddAccounts({{1, "4"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("balances", absl::Seconds(1))).ok());
  ASSERT_TRUE(Eventually([&] { return FinishedRuns("balances") >= 2; }));

  // A longer interval: the next run moves an hour on, and runs stop coming.
  v1::UpdateTaskRequest update;
  update.mutable_task()->set_task_id("balances");
  *update.mutable_task()->mutable_schedule()->mutable_interval() = ProtoDuration(absl::Hours(1));
  update.mutable_update_mask()->add_paths("schedule.interval");
  absl::StatusOr<v1::UpdateTaskResponse> updated =
      api->CallBlocking(&Scheduler::Stub::PrepareAsyncUpdateTask, update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->task().task().schedule().interval().seconds(), 3600);
  EXPECT_GT(TimeOf(updated->task().task().next_run_time()), absl::Now() + absl::Minutes(55));
  ASSERT_TRUE(Eventually([&] { return !AnyRunning("balances"); }));
  const size_t runs_after_update = StoredRuns("balances").size();
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(StoredRuns("balances").size(), runs_after_update);

  // A field the scheduler owns cannot be updated.
  v1::UpdateTaskRequest owned;
  owned.mutable_task()->set_task_id("balances");
  owned.mutable_update_mask()->add_paths("next_run_time");
  absl::StatusOr<v1::UpdateTaskResponse> refused =
      api->CallBlocking(&Scheduler::Stub::PrepareAsyncUpdateTask, owned);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
}

TEST_F(SchedulerTasksTest, ADeletedTaskStopsAndLosesItsRuns) {
  AddAccounts({{1, "4"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("balances", absl::Seconds(1))).ok());
  ASSERT_TRUE(Eventually([&] { return FinishedRuns("balances") >= 2; }));

  v1::DeleteTaskRequest remove;
  remove.set_task_id("balances");
  absl::StatusOr<v1::DeleteTaskResponse> deleted =
      api->CallBlocking(&Scheduler::Stub::PrepareAsyncDeleteTask, remove);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(GetTask(*api, "balances").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(StoredRuns("balances").empty());
  EXPECT_EQ(Trigger(*api, "balances", /*wait=*/false).status().code(), absl::StatusCode::kNotFound);
  // Its loop is gone: no run of it is recorded any more.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_TRUE(StoredRuns("balances").empty());
}

TEST_F(SchedulerTasksTest, ARefreshOfPricesWritesThePriceOfHeldAssets) {
  AddAccounts({{1, "1000000000000000000"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());
  ASSERT_TRUE(CreateTask(*api, PricesTask("prices", absl::Hours(1), /*paused=*/true)).ok());
  absl::StatusOr<v1::TriggerTaskResponse> balances = Trigger(*api, "balances", /*wait=*/true);
  ASSERT_TRUE(balances.ok()) << balances.status();
  ASSERT_EQ(balances->run().state(), v1::RUN_STATE_SUCCEEDED);

  absl::StatusOr<v1::TriggerTaskResponse> priced = Trigger(*api, "prices", /*wait=*/true);
  ASSERT_TRUE(priced.ok()) << priced.status();
  EXPECT_EQ(priced->run().state(), v1::RUN_STATE_SUCCEEDED) << priced->run().error().message();
  EXPECT_GE(priced->run().counts().items_succeeded(), 1u);
  EXPECT_GE(prices().requests(), 1);

  v1::GetLatestPricesRequest request;
  request.add_asset_ids(kAnvilEther);
  request.set_quote_currency("usd");
  absl::StatusOr<v1::GetLatestPricesResponse> stored =
      storage().CallBlocking(&Storage::Stub::PrepareAsyncGetLatestPrices, request);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->prices_size(), 1);
  EXPECT_EQ(stored->prices(0).price().price().units(), kEtherUsdUnits);
  EXPECT_EQ(stored->prices(0).price().price().decimals(), kEtherUsdDecimals);
  EXPECT_EQ(stored->prices(0).price().source(), "test-prices");
}

TEST_F(SchedulerTasksTest, AForcedTriggerBypassesTheFetchersCache) {
  AddAccounts({{1, "1000000000000000000"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());
  ASSERT_TRUE(CreateTask(*api, PricesTask("prices", absl::Hours(1), /*paused=*/true)).ok());
  ASSERT_TRUE(Trigger(*api, "balances", /*wait=*/true).ok());

  // The price source's answers are cached for an hour (the fixture's ttl).
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<v1::TriggerTaskResponse> cached = Trigger(*api, "prices", /*wait=*/true);
    ASSERT_TRUE(cached.ok()) << cached.status();
    EXPECT_EQ(cached->run().state(), v1::RUN_STATE_SUCCEEDED) << cached->run().error().message();
    EXPECT_FALSE(cached->run().forced());
  }
  EXPECT_EQ(prices().requests(), 1);

  v1::TriggerTaskRequest forced;
  forced.set_task_id("prices");
  forced.set_force(true);
  forced.set_wait(true);
  grpc_util::CallOptions options;
  options.timeout = absl::Seconds(120);
  absl::StatusOr<v1::TriggerTaskResponse> fresh =
      api->CallBlocking(&Scheduler::Stub::PrepareAsyncTriggerTask, forced, options);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->run().state(), v1::RUN_STATE_SUCCEEDED) << fresh->run().error().message();
  EXPECT_TRUE(fresh->run().forced());
  EXPECT_EQ(prices().requests(), 2);
  absl::StatusOr<v1::Run> stored = StoredRun(fresh->run_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(stored->forced());
}

TEST_F(SchedulerTasksTest, WatchRunsFollowsATriggeredRunFromQueuedToFinished) {
  AddAccounts({{1, "11"}, {2, "12"}, {3, "13"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());

  v1::WatchRunsRequest request;
  request.set_task_id("balances");
  *request.mutable_progress_interval() = ProtoDuration(absl::Milliseconds(100));
  grpc_util::CallHandle handle;
  std::shared_ptr<RunWatch> watch = Watch(*api, request, &handle);
  auto finished_seen = [&](const std::string& run_id) {
    for (const WatchRunsResponse& event : watch->events()) {
      if (event.type() == WatchRunsResponse::FINISHED && event.run().run_id() == run_id) {
        return true;
      }
    }
    return false;
  };
  // The stream is live once it has reported a run's end: until then a run
  // may end before the server registered the watch.
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::TriggerTaskResponse> warm_up = Trigger(*api, "balances", /*wait=*/true);
    if (!warm_up.ok()) return false;
    return Eventually([&] { return finished_seen(warm_up->run_id()); }, absl::Seconds(5));
  })) << "the stream never reported a run; ended: "
      << (watch->ended() ? watch->ended()->ToString() : "no");

  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api, "balances", /*wait=*/true);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  const std::string run_id = triggered->run_id();
  ASSERT_TRUE(Eventually([&] { return finished_seen(run_id); }, absl::Seconds(30)));
  handle.Cancel();

  std::vector<WatchRunsResponse> events;
  for (const WatchRunsResponse& event : watch->events()) {
    if (event.run().run_id() == run_id) events.push_back(event);
  }
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().type(), WatchRunsResponse::QUEUED);
  EXPECT_EQ(events.front().run().state(), v1::RUN_STATE_PENDING);
  EXPECT_EQ(events[1].type(), WatchRunsResponse::STARTED);
  EXPECT_EQ(events[1].run().state(), v1::RUN_STATE_RUNNING);
  for (size_t i = 2; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i].type(), WatchRunsResponse::PROGRESS) << events[i].ShortDebugString();
  }
  EXPECT_EQ(events.back().type(), WatchRunsResponse::FINISHED);
  EXPECT_EQ(events.back().run().state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(events.back().run().counts().accounts(), 3u);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GE(TimeOf(events[i].time()), TimeOf(events[i - 1].time()));
  }
}

TEST_F(SchedulerTasksTest, WatchingOneRunStartsWithItsStateAndEndsAfterItFinishes) {
  AddAccounts({{1, "14"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());

  v1::WatchRunsRequest unknown;
  unknown.set_run_id("no-such-run");
  grpc_util::CallHandle unknown_handle;
  std::shared_ptr<RunWatch> refused = Watch(*api, unknown, &unknown_handle);
  ASSERT_TRUE(Eventually([&] { return refused->ended().has_value(); }, absl::Seconds(30)));
  EXPECT_EQ(refused->ended()->code(), absl::StatusCode::kNotFound) << *refused->ended();

  Freeze(fetcher_process());
  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api, "balances", /*wait=*/false);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  const std::string run_id = triggered->run_id();
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::Run> run = StoredRun(run_id);
    return run.ok() && run->state() == v1::RUN_STATE_RUNNING;
  }));
  v1::WatchRunsRequest request;
  request.set_run_id(run_id);
  grpc_util::CallHandle handle;
  std::shared_ptr<RunWatch> watch = Watch(*api, request, &handle);
  const bool current_seen = Eventually([&] { return !watch->events().empty(); }, absl::Seconds(30));
  Thaw(fetcher_process());
  ASSERT_TRUE(current_seen);
  ASSERT_TRUE(Eventually([&] { return watch->ended().has_value(); }));

  std::vector<WatchRunsResponse> events = watch->events();
  EXPECT_TRUE(watch->ended()->ok()) << *watch->ended();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().type(), WatchRunsResponse::CURRENT);
  EXPECT_EQ(events.front().run().state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ(events.back().type(), WatchRunsResponse::FINISHED);
  EXPECT_EQ(events.back().run().state(), v1::RUN_STATE_SUCCEEDED);
  for (const WatchRunsResponse& event : events) EXPECT_EQ(event.run().run_id(), run_id);
}

TEST_F(SchedulerTasksTest, ListRunsAnswersNewestFirstInPagesFilteredByState) {
  AddAccounts({{1, "15"}});
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(
      CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());
  ASSERT_TRUE(CreateTask(*api, BalancesTask("other", absl::Hours(1), /*paused=*/true)).ok());
  std::vector<std::string> triggered;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<v1::TriggerTaskResponse> run = Trigger(*api, "balances", /*wait=*/true);
    ASSERT_TRUE(run.ok()) << run.status();
    triggered.push_back(run->run_id());
  }
  ASSERT_TRUE(Trigger(*api, "other", /*wait=*/true).ok());

  std::vector<std::string> listed;
  v1::ListRunsRequest request;
  request.set_task_id("balances");
  request.add_states(v1::RUN_STATE_SUCCEEDED);
  request.mutable_page()->set_page_size(2);
  for (int page = 0; page < 5; ++page) {
    absl::StatusOr<v1::ListRunsResponse> reply =
        api->CallBlocking(&Scheduler::Stub::PrepareAsyncListRuns, request);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_LE(reply->runs_size(), 2);
    for (const v1::Run& run : reply->runs()) listed.push_back(run.run_id());
    if (reply->page().next_page_token().empty()) break;
    request.mutable_page()->set_page_token(reply->page().next_page_token());
  }
  EXPECT_EQ(listed, (std::vector<std::string>{triggered[2], triggered[1], triggered[0]}));

  v1::ListRunsRequest failed;
  failed.set_task_id("balances");
  failed.add_states(v1::RUN_STATE_FAILED);
  absl::StatusOr<v1::ListRunsResponse> none =
      api->CallBlocking(&Scheduler::Stub::PrepareAsyncListRuns, failed);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->runs_size(), 0);
}

TEST_F(SchedulerTasksTest, GetTaskShowsTheStateAndTheNextRunTime) {
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  v1::Task later = BalancesTask("later", absl::Hours(1));
  *later.mutable_schedule()->mutable_first_run_delay() = ProtoDuration(absl::Hours(1));
  const absl::Time before = absl::Now();
  absl::StatusOr<TaskStatus> created = CreateTaskWhenReady(*api, later);
  const absl::Time after = absl::Now();
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->state(), TaskStatus::IDLE);

  absl::StatusOr<TaskStatus> task = GetTask(*api, "later");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), TaskStatus::IDLE);
  EXPECT_EQ(task->task().kind(), v1::TASK_KIND_REFRESH_BALANCES);
  const absl::Time next = TimeOf(task->task().next_run_time());
  EXPECT_GE(next, before + absl::Hours(1) - absl::Seconds(5));
  EXPECT_LE(next, after + absl::Hours(1) + absl::Seconds(5));
  EXPECT_FALSE(task->has_current_run());

  ASSERT_TRUE(CreateTask(*api, BalancesTask("held", absl::Hours(1), /*paused=*/true)).ok());
  absl::StatusOr<TaskStatus> held = GetTask(*api, "held");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->state(), TaskStatus::PAUSED);

  // A manual run of the paused task is the task's last run.
  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api, "held", /*wait=*/true);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  held = GetTask(*api, "held");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->task().last_run_id(), triggered->run_id());
  EXPECT_EQ(held->task().last_run_state(), triggered->run().state());
  EXPECT_EQ(held->state(), TaskStatus::PAUSED);

  absl::StatusOr<TaskStatus> unknown = GetTask(*api, "no-such-task");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound) << unknown.status();

  std::vector<std::string> ids;
  for (const TaskStatus& listed : ListTasks(*api)) ids.push_back(listed.task().task_id());
  EXPECT_EQ(ids, (std::vector<std::string>{"held", "later"}));
}

TEST_F(SchedulerTasksTest, TheDefaultTasksAreCreatedOnTheFirstStart) {
  SchedulerOptions options;
  options.default_tasks = true;
  ServiceProcess& scheduler = StartScheduler(options);
  auto api = SchedulerClient(scheduler);
  std::vector<TaskStatus> tasks;
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::ListTasksResponse> reply =
        api->CallBlocking(&Scheduler::Stub::PrepareAsyncListTasks, v1::ListTasksRequest());
    if (!reply.ok()) return false;
    tasks.assign(reply->tasks().begin(), reply->tasks().end());
    return tasks.size() >= 2;
  }));
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].task().task_id(), "refresh-balances");
  EXPECT_EQ(tasks[0].task().kind(), v1::TASK_KIND_REFRESH_BALANCES);
  EXPECT_EQ(tasks[0].task().schedule().interval().seconds(), 300);
  EXPECT_EQ(tasks[1].task().task_id(), "refresh-prices");
  EXPECT_EQ(tasks[1].task().kind(), v1::TASK_KIND_REFRESH_PRICES);
  EXPECT_EQ(tasks[1].task().schedule().interval().seconds(), 600);

  // A restart finds them and creates nothing more.
  StopAndExpectCleanExit(scheduler, SIGTERM);
  ServiceProcess& restarted = StartScheduler(options);
  auto again = SchedulerClient(restarted);
  ASSERT_TRUE(CreateTaskWhenReady(*again, BalancesTask("mine", absl::Hours(1), true)).ok());
  std::vector<std::string> ids;
  for (const TaskStatus& listed : ListTasks(*again)) ids.push_back(listed.task().task_id());
  EXPECT_EQ(ids, (std::vector<std::string>{"mine", "refresh-balances", "refresh-prices"}));
}

TEST_F(SchedulerTasksTest, NoDefaultTasksWhenDisabled) {
  ServiceProcess& scheduler = StartScheduler();  // --default_tasks=false
  auto api = SchedulerClient(scheduler);
  // Once it accepts a task it has loaded (and would have created) the rest.
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("mine", absl::Hours(1), true)).ok());
  std::vector<std::string> ids;
  for (const TaskStatus& listed : ListTasks(*api)) ids.push_back(listed.task().task_id());
  EXPECT_EQ(ids, (std::vector<std::string>{"mine"}));
}

TEST_F(SchedulerTasksTest, CreateTaskRefusesBadFieldsByName) {
  ServiceProcess& scheduler = StartScheduler();
  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("taken", absl::Hours(1), true)).ok());

  struct Case {
    std::string field;
    v1::Task task;
  };
  std::vector<Case> cases;
  {
    v1::Task task = BalancesTask("no-kind", absl::Hours(1));
    task.set_kind(v1::TASK_KIND_UNSPECIFIED);
    task.clear_params();
    cases.push_back({"kind", task});
  }
  {
    v1::Task task = BalancesTask("no-interval", absl::Hours(1));
    task.mutable_schedule()->clear_interval();
    cases.push_back({"interval", task});
  }
  cases.push_back({"interval", BalancesTask("short-interval", absl::Milliseconds(500))});
  cases.push_back({"task_id", BalancesTask("Not_A_Valid_Id", absl::Hours(1))});
  {
    v1::Task task = BalancesTask("wild-jitter", absl::Hours(1));
    task.mutable_schedule()->set_jitter(0.9);
    cases.push_back({"jitter", task});
  }
  {
    v1::Task task = BalancesTask("bad-backoff", absl::Hours(1));
    *task.mutable_schedule()->mutable_backoff()->mutable_initial() =
        ProtoDuration(absl::Seconds(8));
    *task.mutable_schedule()->mutable_backoff()->mutable_max() = ProtoDuration(absl::Seconds(2));
    cases.push_back({"backoff", task});
  }
  for (const Case& bad : cases) {
    absl::StatusOr<TaskStatus> created = CreateTask(*api, bad.task);
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument)
        << bad.task.task_id() << ": " << created.status();
    EXPECT_TRUE(absl::StrContains(created.status().message(), bad.field))
        << bad.task.task_id() << ": " << created.status() << " does not name " << bad.field;
  }
  absl::StatusOr<TaskStatus> duplicate = CreateTask(*api, BalancesTask("taken", absl::Hours(2)));
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kAlreadyExists) << duplicate.status();

  // None of them was stored.
  std::vector<std::string> ids;
  for (const TaskStatus& listed : ListTasks(*api)) ids.push_back(listed.task().task_id());
  EXPECT_EQ(ids, (std::vector<std::string>{"taken"}));
}

}  // namespace
}  // namespace coffer::testing
