// cofferctl runs against the real stack (anvil, fetcher, storage,
// scheduler): `runs watch RUN_ID` follows a run to its end and exits by its
// outcome, in lines and in newline-delimited JSON; `runs watch --task`
// shows a run from its current state to FINISHED; `runs cancel` stops a
// run held at a stopped fetcher, and `tasks trigger --wait` on that run
// exits 1 with the CANCELLED outcome.
#include <future>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

#include "coffer/v1/admin.grpc.pb.h"
#include "coffer/v1/scheduler.grpc.pb.h"
#include "tests/integration/scheduler_system_fixture.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"
#include "tools/cofferctl/run_progress.h"

namespace coffer::testing {
namespace {

class CofferctlRunsTest : public SchedulerSystemTest {
 protected:
  void SetUp() override {
    SchedulerSystemTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartFetcher();
    StartStorage();
    AddAccounts({{1, "77"}, {2, "8"}});
    scheduler_ = &StartScheduler();
    api_ = SchedulerClient(*scheduler_);
    ASSERT_TRUE(
        CreateTaskWhenReady(*api_, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());
  }

  // cofferctl with this stack's addresses in front of `args`.
  CommandOutput Ctl(const std::vector<std::string>& args) {
    return RunCofferctl(
        Prepend(AddressFlags(fetcher_process(), storage_process(), *scheduler_), args));
  }

  // Triggers `balances` with the fetcher stopped, so the run stays RUNNING
  // at its first fetcher call until the test thaws the fetcher; answers the
  // run id once storage records it running.
  std::string TriggerHeldRun() {
    Freeze(fetcher_process());
    absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api_, "balances", false);
    EXPECT_TRUE(triggered.ok()) << triggered.status();
    if (!triggered.ok()) return "";
    EXPECT_TRUE(Eventually([&] {
      absl::StatusOr<v1::Run> run = StoredRun(triggered->run_id());
      return run.ok() && run->state() == v1::RUN_STATE_RUNNING;
    }));
    return triggered->run_id();
  }

  // WatchRuns streams the scheduler is serving, by its own call metrics.
  int64_t WatchesInFlight() {
    auto admin = Client<v1::Admin>(*scheduler_);
    absl::StatusOr<v1::GetMetricsResponse> metrics =
        admin->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetMetrics, v1::GetMetricsRequest());
    if (!metrics.ok()) return -1;
    for (const v1::MethodStats& method : metrics->methods()) {
      if (method.method() == "/coffer.v1.Scheduler/WatchRuns") return method.in_flight();
    }
    return 0;
  }

  ServiceProcess* scheduler_ = nullptr;
  SchedulerClientPtr api_;
};

TEST_F(CofferctlRunsTest, WatchOfARunEndsWithItsOutcome) {
  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api_, "balances", false);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  const std::string run_id = triggered->run_id();

  // Whether the run is still going or has ended, the watch ends with it.
  CommandOutput watch = Ctl({"runs", "watch", run_id});
  ASSERT_EQ(watch.exit_code, 0) << watch.stdout_text << watch.stderr_text;
  std::vector<std::string> lines = Lines(watch.stdout_text);
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StrContains(line, run_id + "  balances  manual")) << line;
  }
  EXPECT_TRUE(absl::StrContains(lines.back(), "SUCCEEDED")) << watch.stdout_text;
  EXPECT_TRUE(absl::StrContains(lines.back(), "2 ok, 0 failed")) << watch.stdout_text;

  // Newline-delimited JSON: one WatchRunsResponse per line, the last final.
  CommandOutput json = Ctl({"runs", "watch", run_id, "--output=json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_text;
  lines = Lines(json.stdout_text);
  ASSERT_FALSE(lines.empty());
  v1::WatchRunsResponse event;
  for (const std::string& line : lines) {
    ASSERT_TRUE(JsonToMessage(line, &event));
    EXPECT_EQ(event.run().run_id(), run_id);
  }
  EXPECT_EQ(event.run().state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(event.run().counts().items_succeeded(), 2u);

  CommandOutput unknown = Ctl({"runs", "watch", "no-such-run"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(unknown.stderr_text, "NOT_FOUND")) << unknown.stderr_text;
}

TEST_F(CofferctlRunsTest, WatchOfATaskShowsARunFromItsCurrentStateToItsEnd) {
  const std::string run_id = TriggerHeldRun();
  ASSERT_FALSE(run_id.empty());
  // Started while the run is held: its first event is the run as it is.
  std::future<CommandOutput> watch = std::async(std::launch::async, [&] {
    return Ctl({"runs", "watch", "--task=balances", "--watch_timeout=20s"});
  });
  ASSERT_TRUE(Eventually([&] { return WatchesInFlight() == 1; }));
  Thaw(fetcher_process());
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<v1::Run> run = StoredRun(run_id);
    return run.ok() && run->state() == v1::RUN_STATE_SUCCEEDED;
  }));

  // The watch has no end of its own but its timeout, which is exit 0.
  CommandOutput watched = watch.get();
  ASSERT_EQ(watched.exit_code, 0) << watched.stderr_text;
  const std::vector<std::string> lines = Lines(watched.stdout_text);
  ASSERT_GE(lines.size(), 2u) << watched.stdout_text;
  EXPECT_TRUE(absl::StrContains(lines.front(), "CURRENT")) << watched.stdout_text;
  EXPECT_TRUE(absl::StrContains(lines.front(), run_id + "  balances  manual  RUNNING"))
      << watched.stdout_text;
  EXPECT_TRUE(absl::StrContains(lines.back(), "FINISHED")) << watched.stdout_text;
  EXPECT_TRUE(absl::StrContains(lines.back(), "SUCCEEDED")) << watched.stdout_text;
}

TEST_F(CofferctlRunsTest, ACancelledRunFailsItsWaitAndItsWatch) {
  const std::string run_id = TriggerHeldRun();
  ASSERT_FALSE(run_id.empty());
  // A watch of the held run, waiting for its end; whether it starts before
  // or after the cancel, it ends with the run's outcome.
  std::future<CommandOutput> wait = std::async(std::launch::async, [&] {
    return Ctl({"runs", "watch", run_id});
  });

  CommandOutput cancel = Ctl({"runs", "cancel", run_id, "--wait", "--reason=wrong tag"});
  Thaw(fetcher_process());
  ASSERT_EQ(cancel.exit_code, 0) << cancel.stderr_text;
  EXPECT_TRUE(absl::StartsWith(cancel.stdout_text, run_id + " CANCELLED")) << cancel.stdout_text;
  EXPECT_TRUE(absl::StrContains(cancel.stdout_text, "wrong tag")) << cancel.stdout_text;

  CommandOutput waited = wait.get();
  EXPECT_EQ(waited.exit_code, 1) << waited.stdout_text << waited.stderr_text;
  EXPECT_TRUE(absl::StrContains(Lines(waited.stdout_text).back(), "CANCELLED"))
      << waited.stdout_text;

  // Cancelling it again: it is not running, the scheduler refuses.
  CommandOutput again = Ctl({"runs", "cancel", run_id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(again.stderr_text, "FAILED_PRECONDITION")) << again.stderr_text;

  CommandOutput ls = Ctl({"runs", "ls", "--state=cancelled", "--output=json"});
  ASSERT_EQ(ls.exit_code, 0) << ls.stderr_text;
  v1::ListRunsResponse runs;
  ASSERT_TRUE(JsonToMessage(ls.stdout_text, &runs));
  ASSERT_EQ(runs.runs_size(), 1);
  EXPECT_EQ(runs.runs(0).run_id(), run_id);
}

TEST_F(CofferctlRunsTest, TriggerWaitExitsOneWhenTheRunIsCancelled) {
  Freeze(fetcher_process());
  std::future<CommandOutput> trigger = std::async(std::launch::async, [&] {
    return Ctl({"tasks", "trigger", "balances", "--wait"});
  });
  std::string run_id;
  ASSERT_TRUE(Eventually([&] {
    std::vector<v1::Run> running = StoredRunsIn("balances", v1::RUN_STATE_RUNNING);
    if (running.empty()) return false;
    run_id = running[0].run_id();
    return true;
  }));
  CommandOutput cancel = Ctl({"runs", "cancel", run_id, "--wait"});
  Thaw(fetcher_process());
  ASSERT_EQ(cancel.exit_code, 0) << cancel.stderr_text;

  CommandOutput triggered = trigger.get();
  EXPECT_EQ(triggered.exit_code, 1) << triggered.stdout_text << triggered.stderr_text;
  const std::vector<std::string> lines = Lines(triggered.stdout_text);
  ASSERT_GE(lines.size(), 2u) << triggered.stdout_text;
  EXPECT_EQ(lines[0], run_id);
  EXPECT_TRUE(absl::StartsWith(lines[1], "CANCELLED")) << triggered.stdout_text;
}

TEST(RunProgressTest, OutcomeAndEventLinesSayWhatHappened) {
  v1::Run run;
  run.set_run_id("r-1");
  run.set_task_id("balances");
  run.set_trigger(v1::RUN_TRIGGER_SCHEDULED);
  run.set_state(v1::RUN_STATE_PARTIAL);
  run.mutable_started_at()->set_seconds(1800000000);
  run.mutable_finished_at()->set_seconds(1800000003);
  // Tables show whole seconds: the rest is noise.
  run.mutable_finished_at()->set_nanos(250000000);
  run.mutable_counts()->set_items_total(5);
  run.mutable_counts()->set_items_succeeded(4);
  run.mutable_counts()->set_items_failed(1);
  run.set_snapshot_id("s-9");
  v1::ErrorSummary& group = *run.add_error_summary();
  group.set_code(v1::Error::UNAVAILABLE);
  group.set_upstream("mainnet");
  group.set_chain_id("eip155:1");
  group.set_count(1);
  group.set_sample_message("timed out");
  EXPECT_EQ(cofferctl::RunOutcome(run),
            "PARTIAL in 3s: 4 ok, 1 failed (snapshot s-9)\n"
            "  failed: 1 x UNAVAILABLE mainnet eip155:1: timed out\n");
  EXPECT_TRUE(cofferctl::CountsAsSuccess(run.state()));
  EXPECT_EQ(cofferctl::RunErrorLine(run), "1 x UNAVAILABLE mainnet eip155:1: timed out");

  v1::WatchRunsResponse event;
  event.set_type(v1::WatchRunsResponse::FINISHED);
  *event.mutable_run() = run;
  event.mutable_time()->set_seconds(1800000003);
  EXPECT_EQ(cofferctl::RunEventLine(event),
            "2027-01-15T08:00:03Z  FINISHED  r-1  balances  scheduled  PARTIAL in 3s: 4 ok, 1 "
            "failed (snapshot s-9) - 1 x UNAVAILABLE mainnet eip155:1: timed out");

  run.set_state(v1::RUN_STATE_RUNNING);
  run.clear_finished_at();
  run.clear_counts();
  run.mutable_progress()->set_stage("fetching");
  run.mutable_progress()->set_done(3);
  run.mutable_progress()->set_total(10);
  run.mutable_progress()->set_unit("items");
  event.set_type(v1::WatchRunsResponse::PROGRESS);
  *event.mutable_run() = run;
  EXPECT_EQ(cofferctl::RunEventLine(event),
            "2027-01-15T08:00:03Z  PROGRESS  r-1  balances  scheduled  fetching 3/10 items");
  EXPECT_EQ(cofferctl::RunItems(run), "3 ok, 0 failed");

  run.set_state(v1::RUN_STATE_CANCELLED);
  run.mutable_error()->set_code(v1::Error::CANCELLED);
  run.mutable_error()->set_message("wrong tag");
  EXPECT_FALSE(cofferctl::CountsAsSuccess(run.state()));
  EXPECT_EQ(cofferctl::RunErrorLine(run), "CANCELLED: wrong tag");
}

}  // namespace
}  // namespace coffer::testing
