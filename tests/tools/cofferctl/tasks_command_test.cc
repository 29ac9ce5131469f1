// cofferctl tasks against the real stack (anvil, fetcher, storage,
// scheduler): created tasks read back from `tasks ls --output json` with
// their kind, schedule and parameters; pause and resume show in ls and in
// GetTask's note; `tasks trigger --wait` exits 0 once the run succeeded, its
// run listed by `runs ls` with its counts and the balances really written;
// an unknown task is one error line and exit 1; rm deletes, keeping runs
// only when asked; bad command lines exit 2 before any call.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "tests/integration/scheduler_system_fixture.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"

namespace coffer::testing {
namespace {

// A copy: the list is often a temporary.
std::optional<v1::TaskStatus> FindTask(const v1::ListTasksResponse& list,
                                       const std::string& task_id) {
  for (const v1::TaskStatus& task : list.tasks()) {
    if (task.task().task_id() == task_id) return task;
  }
  return std::nullopt;
}

class CofferctlTasksTest : public SchedulerSystemTest {
 protected:
  void SetUp() override {
    SchedulerSystemTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartFetcher();
    StartStorage();
  }

  void StartSchedulerAndWait() {
    scheduler_ = &StartScheduler();
    api_ = SchedulerClient(*scheduler_);
    // A scheduler that just became active answers UNAVAILABLE while it
    // loads its tasks; a throwaway task proves it is past that.
    ASSERT_TRUE(CreateTaskWhenReady(*api_, PricesTask("warm-up", absl::Hours(1), true)).ok());
    v1::DeleteTaskRequest request;
    request.set_task_id("warm-up");
    ASSERT_TRUE(api_->CallBlocking(&v1::Scheduler::Stub::PrepareAsyncDeleteTask, request).ok());
  }

  // cofferctl with this stack's addresses in front of `args`.
  CommandOutput Ctl(const std::vector<std::string>& args) {
    return RunCofferctl(
        Prepend(AddressFlags(fetcher_process(), storage_process(), *scheduler_), args));
  }

  v1::ListTasksResponse ListedTasks() {
    return ParseSuccessfulOutput<v1::ListTasksResponse>(Ctl({"tasks", "ls", "--output=json"}));
  }

  v1::ListRunsResponse ListedRuns(const std::vector<std::string>& filters) {
    return ParseSuccessfulOutput<v1::ListRunsResponse>(
        Ctl(Prepend({"runs", "ls", "--output=json"}, filters)));
  }

  ServiceProcess* scheduler_ = nullptr;
  SchedulerClientPtr api_;
};

TEST_F(CofferctlTasksTest, CreatedTasksAreListedWithTheirScheduleAndParameters) {
  ASSERT_NO_FATAL_FAILURE(StartSchedulerAndWait());

  CommandOutput prices =
      Ctl({"tasks", "create", "prices-x", "--kind=refresh_prices", "--interval=5m", "--jitter=0.1",
           "--paused", "--description=prices twice", "--quote=usd,EUR"});
  ASSERT_EQ(prices.exit_code, 0) << prices.stderr_text;
  EXPECT_TRUE(absl::StrContains(prices.stdout_text, "every 5m jitter 0.1")) << prices.stdout_text;
  EXPECT_TRUE(absl::StrContains(prices.stdout_text, "refresh_prices")) << prices.stdout_text;

  CommandOutput balances =
      Ctl({"tasks", "create", "balances-x", "--kind=refresh-balances", "--interval=1h",
           "--first_run_delay=1h", "--batch_size=2", "--tag=cold", "--chain=eip155:31337",
           "--block_tag=safe", "--output=json"});
  ASSERT_EQ(balances.exit_code, 0) << balances.stderr_text;
  const v1::Task created = ParseJson<v1::CreateTaskResponse>(balances.stdout_text).task().task();
  EXPECT_EQ(created.task_id(), "balances-x");
  EXPECT_EQ(created.refresh_balances().batch_size(), 2u);
  EXPECT_EQ(created.refresh_balances().block_tag(), v1::BLOCK_TAG_SAFE);

  const v1::ListTasksResponse listed = ListedTasks();
  ASSERT_EQ(listed.tasks_size(), 2) << listed.ShortDebugString();
  // Ordered by task_id.
  EXPECT_EQ(listed.tasks(0).task().task_id(), "balances-x");
  const std::optional<v1::TaskStatus> price_task = FindTask(listed, "prices-x");
  ASSERT_TRUE(price_task.has_value());
  EXPECT_EQ(price_task->task().kind(), v1::TASK_KIND_REFRESH_PRICES);
  EXPECT_EQ(price_task->task().schedule().interval().seconds(), 300);
  EXPECT_DOUBLE_EQ(price_task->task().schedule().jitter(), 0.1);
  EXPECT_TRUE(price_task->task().paused());
  EXPECT_EQ(price_task->task().description(), "prices twice");
  ASSERT_EQ(price_task->task().refresh_prices().quote_currencies_size(), 2);
  EXPECT_EQ(price_task->task().refresh_prices().quote_currencies(1), "eur");
  const std::optional<v1::TaskStatus> balance_task = FindTask(listed, "balances-x");
  ASSERT_TRUE(balance_task.has_value());
  EXPECT_EQ(balance_task->task().kind(), v1::TASK_KIND_REFRESH_BALANCES);
  EXPECT_FALSE(balance_task->task().paused());
  EXPECT_EQ(balance_task->task().refresh_balances().chain_id(), "eip155:31337");
  ASSERT_EQ(balance_task->task().refresh_balances().tags_size(), 1);
  EXPECT_EQ(balance_task->task().refresh_balances().tags(0), "cold");

  CommandOutput only_prices = Ctl({"tasks", "ls", "--kind=refresh_prices", "--output=json"});
  ASSERT_EQ(only_prices.exit_code, 0) << only_prices.stderr_text;
  const auto filtered = ParseJson<v1::ListTasksResponse>(only_prices.stdout_text);
  ASSERT_EQ(filtered.tasks_size(), 1);
  EXPECT_EQ(filtered.tasks(0).task().task_id(), "prices-x");

  CommandOutput table = Ctl({"tasks", "ls"});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  const std::vector<std::string> lines = Lines(table.stdout_text);
  ASSERT_EQ(lines.size(), 3u) << table.stdout_text;
  EXPECT_TRUE(absl::StartsWith(lines[0], "TASK")) << table.stdout_text;
  EXPECT_TRUE(absl::StartsWith(lines[1], "balances-x")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(lines[2], "paused")) << table.stdout_text;

  // A taken id: the scheduler refuses, one line, exit 1.
  CommandOutput again =
      Ctl({"tasks", "create", "prices-x", "--kind=refresh_prices", "--interval=5m"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(again.stderr_text, "ALREADY_EXISTS")) << again.stderr_text;
}

TEST_F(CofferctlTasksTest, PauseAndResumeShowInLsAndInTheNote) {
  ASSERT_NO_FATAL_FAILURE(StartSchedulerAndWait());
  ASSERT_EQ(Ctl({"tasks", "create", "balances", "--kind=refresh_balances", "--interval=1h",
                 "--first_run_delay=1h"})
                .exit_code,
            0);

  CommandOutput pause = Ctl({"tasks", "pause", "balances", "--note=node maintenance"});
  ASSERT_EQ(pause.exit_code, 0) << pause.stderr_text;
  EXPECT_TRUE(absl::StrContains(pause.stdout_text, "paused: node maintenance"))
      << pause.stdout_text;
  const std::optional<v1::TaskStatus> paused = FindTask(ListedTasks(), "balances");
  ASSERT_TRUE(paused.has_value());
  EXPECT_TRUE(paused->task().paused());
  EXPECT_EQ(paused->state(), v1::TaskStatus::PAUSED);
  absl::StatusOr<v1::TaskStatus> got = GetTask(*api_, "balances");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->task().status_note(), "node maintenance");

  CommandOutput resume = Ctl({"tasks", "resume", "balances", "--note=back", "--output=json"});
  ASSERT_EQ(resume.exit_code, 0) << resume.stderr_text;
  EXPECT_FALSE(ParseJson<v1::ResumeTaskResponse>(resume.stdout_text).task().task().paused());
  const std::optional<v1::TaskStatus> resumed = FindTask(ListedTasks(), "balances");
  ASSERT_TRUE(resumed.has_value());
  EXPECT_FALSE(resumed->task().paused());
  EXPECT_NE(resumed->state(), v1::TaskStatus::PAUSED);
  got = GetTask(*api_, "balances");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->task().status_note(), "back");

  CommandOutput unknown = Ctl({"tasks", "pause", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(unknown.stderr_text, "NOT_FOUND")) << unknown.stderr_text;
}

TEST_F(CofferctlTasksTest, TriggerWaitExitsZeroOnceTheRunSucceeded) {
  AddAccounts({{1, "1234000000000000000"}, {2, "42"}});
  ASSERT_NO_FATAL_FAILURE(StartSchedulerAndWait());
  ASSERT_EQ(Ctl({"tasks", "create", "refresh-balances", "--kind=refresh_balances", "--interval=1h",
                 "--paused", "--batch_size=1"})
                .exit_code,
            0);

  CommandOutput trigger = Ctl({"tasks", "trigger", "refresh-balances", "--wait", "--force"});
  ASSERT_EQ(trigger.exit_code, 0) << trigger.stdout_text << trigger.stderr_text;
  const std::vector<std::string> lines = Lines(trigger.stdout_text);
  ASSERT_GE(lines.size(), 2u) << trigger.stdout_text;
  const std::string run_id = lines[0];
  EXPECT_FALSE(run_id.empty());
  EXPECT_FALSE(absl::StrContains(run_id, " ")) << run_id;
  EXPECT_TRUE(absl::StartsWith(lines[1], "SUCCEEDED")) << trigger.stdout_text;
  EXPECT_TRUE(absl::StrContains(lines[1], "2 ok, 0 failed")) << trigger.stdout_text;
  // Captured stderr is no terminal: no progress bar, nothing at all.
  EXPECT_EQ(trigger.stderr_text, "");
  EXPECT_EQ(LatestEther(1), "1234000000000000000");
  EXPECT_EQ(LatestEther(2), "42");

  const v1::ListRunsResponse runs = ListedRuns({});
  ASSERT_EQ(runs.runs_size(), 1) << runs.ShortDebugString();
  const v1::Run& run = runs.runs(0);
  EXPECT_EQ(run.run_id(), run_id);
  EXPECT_EQ(run.task_id(), "refresh-balances");
  EXPECT_EQ(run.state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(run.trigger(), v1::RUN_TRIGGER_MANUAL);
  EXPECT_TRUE(run.forced());
  EXPECT_EQ(run.counts().items_succeeded(), 2u);
  EXPECT_EQ(run.counts().items_failed(), 0u);
  EXPECT_EQ(run.counts().accounts(), 2u);
  EXPECT_EQ(ListedRuns({"--state=failed,cancelled"}).runs_size(), 0);

  CommandOutput table = Ctl({"runs", "ls", "--task=refresh-balances"});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  const std::vector<std::string> rows = Lines(table.stdout_text);
  ASSERT_EQ(rows.size(), 2u) << table.stdout_text;
  EXPECT_TRUE(absl::StartsWith(rows[1], run_id)) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(rows[1], "SUCCEEDED")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(rows[1], "manual, forced")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(rows[1], "2 ok, 0 failed")) << table.stdout_text;

  // JSON: one TriggerTaskResponse holding the final run.
  CommandOutput json = Ctl({"tasks", "trigger", "refresh-balances", "--wait", "--output=json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_text;
  const auto answer = ParseJson<v1::TriggerTaskResponse>(json.stdout_text);
  EXPECT_NE(answer.run_id(), run_id);
  EXPECT_EQ(answer.run().run_id(), answer.run_id());
  EXPECT_EQ(answer.run().state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(answer.run().counts().items_succeeded(), 2u);
  EXPECT_EQ(ListedRuns({"--state=succeeded", "--limit=1"}).runs(0).run_id(), answer.run_id());
}

TEST_F(CofferctlTasksTest, TriggerOfAnUnknownTaskIsOneErrorLine) {
  ASSERT_NO_FATAL_FAILURE(StartSchedulerAndWait());
  CommandOutput trigger = Ctl({"tasks", "trigger", "no-such-task", "--wait"});
  EXPECT_EQ(trigger.exit_code, 1);
  EXPECT_EQ(trigger.stdout_text, "");
  const std::vector<std::string> lines = Lines(trigger.stderr_text);
  ASSERT_EQ(lines.size(), 1u) << trigger.stderr_text;
  EXPECT_TRUE(absl::StrContains(lines[0], "scheduler at " + scheduler_->address()))
      << trigger.stderr_text;
  EXPECT_TRUE(absl::StrContains(lines[0], "NOT_FOUND")) << trigger.stderr_text;
}

TEST_F(CofferctlTasksTest, RmDeletesTheTaskAndItsRunsUnlessKept) {
  AddAccounts({{1, "5"}});
  ASSERT_NO_FATAL_FAILURE(StartSchedulerAndWait());
  for (const char* task : {"gone", "kept"}) {
    ASSERT_EQ(Ctl({"tasks", "create", task, "--kind=refresh_balances", "--interval=1h", "--paused"})
                  .exit_code,
              0);
    ASSERT_EQ(Ctl({"tasks", "trigger", task, "--wait"}).exit_code, 0);
  }
  ASSERT_EQ(ListedRuns({"--task=gone"}).runs_size(), 1);

  CommandOutput rm = Ctl({"tasks", "rm", "gone"});
  ASSERT_EQ(rm.exit_code, 0) << rm.stderr_text;
  EXPECT_EQ(rm.stdout_text, "deleted task gone\n");
  CommandOutput keep = Ctl({"tasks", "rm", "kept", "--keep_runs"});
  ASSERT_EQ(keep.exit_code, 0) << keep.stderr_text;

  EXPECT_EQ(ListedTasks().tasks_size(), 0);
  EXPECT_EQ(GetTask(*api_, "gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ListedRuns({"--task=gone"}).runs_size(), 0);
  EXPECT_EQ(ListedRuns({"--task=kept"}).runs_size(), 1);

  CommandOutput again = Ctl({"tasks", "rm", "gone"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(again.stderr_text, "NOT_FOUND")) << again.stderr_text;
}

// Mistakes on the command line never reach a service: the addresses here
// lead nowhere.
TEST(CofferctlTasksUsageTest, BadCommandLinesExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"tasks", "create", "x", "--kind=frobnicate", "--interval=5m"},
      {"tasks", "create", "x", "--kind=backup"},
      {"tasks", "create", "x", "--kind=prune", "--interval=1h", "--batch_size=3"},
      {"tasks", "create", "x", "--kind=refresh_balances", "--interval=1h", "--block_tag=old"},
      {"tasks", "trigger"},
      {"tasks", "trigger", "x", "--wait_timeout=0s"},
      {"tasks", "pause", "x", "--keep_runs"},
      {"runs", "ls", "--state=sleeping"},
      {"runs", "watch", "a", "b"},
  };
  for (const auto& args : bad) {
    CommandOutput result = RunCofferctl(Prepend({"--scheduler=127.0.0.1:1"}, args));
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(args, " ") << "\n" << result.stderr_text;
    EXPECT_EQ(result.stdout_text, "") << absl::StrJoin(args, " ");
  }
  CommandOutput kind = RunCofferctl({"tasks", "create", "x", "--kind=frobnicate", "--interval=5m"});
  EXPECT_TRUE(absl::StrContains(kind.stderr_text, "--kind \"frobnicate\" is not a kind"))
      << kind.stderr_text;
}

}  // namespace
}  // namespace coffer::testing
