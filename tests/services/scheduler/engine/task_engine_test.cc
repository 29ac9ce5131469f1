#include "services/scheduler/engine/task_engine.h"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.pb.h"
#include "coffer/v1/storage.pb.h"
#include "common/config/proto_duration.h"
#include "common/config/proto_timestamp.h"
#include "common/metrics/registry.h"
#include "services/scheduler/engine/run_events.h"
#include "services/scheduler/schedule/jitter.h"
#include "tests/services/scheduler/engine/fake_run_storage.h"
#include "tests/services/scheduler/engine/fake_scheduler_store.h"
#include "tests/services/scheduler/lease/fake_waitable_clock.h"

namespace coffer::scheduler {
namespace {

using config::DurationToProto;
using config::TimeFromProto;
using config::TimeToProto;
using Method = FakeSchedulerStore::Method;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An answer of the engine, awaited in real time (bounded generously: the
// engine answers as soon as its thread gets to it).
template <typename T>
class Pending {
 public:
  Pending() : state_(std::make_shared<State>()) {}

  Answer<T> Callback() {
    return [state = state_](absl::StatusOr<T> reply) {
      {
        std::lock_guard<std::mutex> lock(state->mu);
        ++state->answers;
        if (!state->reply.has_value()) state->reply = std::move(reply);
      }
      state->cv.notify_all();
    };
  }

  bool answered() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->reply.has_value();
  }
  int answers() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->answers;
  }
  absl::StatusOr<T> Await(absl::Duration timeout = absl::Seconds(30)) const {
    std::unique_lock<std::mutex> lock(state_->mu);
    if (!state_->cv.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [&] { return state_->reply.has_value(); })) {
      return absl::DeadlineExceededError("the engine never answered");
    }
    return *state_->reply;
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<absl::StatusOr<T>> reply;
    int answers = 0;
  };
  std::shared_ptr<State> state_;
};

uint64_t Counted(const std::string& task_id, const char* event) {
  return metrics::Registry::Global()
      .GetCounter("coffer_scheduler_runs_total", {{"task", task_id}, {"event", event}})
      .Value();
}

v1::Task PruneTask(const std::string& task_id, absl::Duration interval) {
  v1::Task task;
  task.set_task_id(task_id);
  task.set_kind(v1::TASK_KIND_PRUNE);
  task.mutable_prune()->mutable_retention()->set_snapshot_keep_last(10);
  *task.mutable_schedule()->mutable_interval() = DurationToProto(interval);
  return task;
}

v1::PruneResponse Pruned(uint64_t snapshots) {
  v1::PruneResponse response;
  response.set_snapshots_deleted(snapshots);
  return response;
}

class TaskEngineTest : public ::testing::Test {
 protected:
  TaskEngineTest() : store_(&clock_), t0_(clock_.Now()) {
    fence_.set_lease_name("scheduler");
    fence_.set_holder_id("replica-a");
    fence_.set_epoch(1);
    store_.SetLease(fence_);
    options_.holder_id = "replica-a";
    options_.create_default_tasks = false;
  }
  ~TaskEngineTest() override { Shutdown(); }

  void StartEngine() {
    engine_ = std::make_unique<TaskEngine>(
        options_, &store_, RunBackends{.storage = &run_storage_, .fetcher = &fetcher_}, &clock_,
        &jitter_, &events_);
    engine_->Start();
  }

  // Starts the engine, activates it with `fence_` and waits until it loaded.
  void StartActive() {
    StartEngine();
    engine_->Activate(fence_);
    ASSERT_TRUE(Settle());
    ASSERT_TRUE(engine_->GetStatus().active);
    ASSERT_TRUE(engine_->GetStatus().loaded);
  }

  // The engine did all it can at the clock's current time.
  [[nodiscard]] bool Settle() { return clock_.AwaitBlockedWaiter(); }

  void Advance(absl::Duration duration) {
    clock_.Advance(duration);
    ASSERT_TRUE(Settle());
  }

  // Answers the oldest held prune and waits for the engine to act on it.
  void EndPrune(absl::StatusOr<v1::PruneResponse> reply) {
    ASSERT_TRUE(run_storage_.AnswerPrune(std::move(reply)));
    ASSERT_TRUE(Settle());
  }

  void Shutdown() {
    if (engine_ == nullptr) return;
    engine_->Stop(absl::ZeroDuration());
    run_storage_.AnswerAllPrunes(absl::CancelledError("the test is over"));
    engine_.reset();
  }

  void Seed(v1::Task task, absl::Time next_run_time) {
    *task.mutable_next_run_time() = TimeToProto(next_run_time);
    store_.PutTask(std::move(task));
  }

  template <typename Request, typename T>
  Pending<T> Ask(void (TaskEngine::*method)(const Request&, Answer<T>), const Request& request) {
    Pending<T> pending;
    (engine_.get()->*method)(request, pending.Callback());
    return pending;
  }
  template <typename Request, typename T>
  absl::StatusOr<T> Call(void (TaskEngine::*method)(const Request&, Answer<T>),
                         const Request& request) {
    return Ask(method, request).Await();
  }

  absl::StatusOr<v1::TriggerTaskResponse> Trigger(const std::string& task_id) {
    v1::TriggerTaskRequest request;
    request.set_task_id(task_id);
    return Call(&TaskEngine::TriggerTask, request);
  }
  Pending<v1::TriggerTaskResponse> TriggerAndWait(const std::string& task_id) {
    v1::TriggerTaskRequest request;
    request.set_task_id(task_id);
    request.set_wait(true);
    return Ask(&TaskEngine::TriggerTask, request);
  }
  absl::StatusOr<v1::TaskStatus> GetTask(const std::string& task_id) {
    v1::GetTaskRequest request;
    request.set_task_id(task_id);
    absl::StatusOr<v1::GetTaskResponse> reply = Call(&TaskEngine::GetTask, request);
    if (!reply.ok()) return reply.status();
    return reply->task();
  }
  absl::StatusOr<v1::TaskStatus::State> StateOf(const std::string& task_id) {
    absl::StatusOr<v1::TaskStatus> status = GetTask(task_id);
    if (!status.ok()) return status.status();
    return status->state();
  }
  std::map<std::string, v1::TaskStatus::State> ListedStates() {
    std::map<std::string, v1::TaskStatus::State> states;
    absl::StatusOr<v1::ListTasksResponse> reply =
        Call(&TaskEngine::ListTasks, v1::ListTasksRequest());
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return states;
    for (const v1::TaskStatus& task : reply->tasks()) states[task.task().task_id()] = task.state();
    return states;
  }

  FakeWaitableClock clock_;
  FakeSchedulerStore store_;
  FakeRunStorage run_storage_;
  FakeRunFetcher fetcher_;
  FixedJitterSource jitter_{0};
  RunEvents events_;
  TaskEngineOptions options_;
  v1::Fence fence_;
  const absl::Time t0_;
  // Outlives the engine's thread: Debian's libabsl_status is not built for
  // TSan, so a Status copy released there and the original released here
  // without other ordering look like a race to it.
  const absl::Status lease_lost_ = absl::UnavailableError("lease lost");
  std::unique_ptr<TaskEngine> engine_;
};

// ---------------------------------------------------------------------------
// Activation and standby

TEST_F(TaskEngineTest, InactiveEngineAnswersUnavailableForMutations) {
  Seed(PruneTask("standby-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartEngine();
  ASSERT_TRUE(Settle());
  EXPECT_FALSE(engine_->GetStatus().active);

  v1::CreateTaskRequest create;
  *create.mutable_task() = PruneTask("new-task", absl::Hours(1));
  EXPECT_EQ(Call(&TaskEngine::CreateTask, create).status().code(), absl::StatusCode::kUnavailable);
  v1::UpdateTaskRequest update;
  update.mutable_task()->set_task_id("standby-task");
  update.mutable_task()->set_description("changed");
  update.mutable_update_mask()->add_paths("description");
  EXPECT_EQ(Call(&TaskEngine::UpdateTask, update).status().code(), absl::StatusCode::kUnavailable);
  v1::DeleteTaskRequest remove;
  remove.set_task_id("standby-task");
  EXPECT_EQ(Call(&TaskEngine::DeleteTask, remove).status().code(), absl::StatusCode::kUnavailable);
  v1::PauseTaskRequest pause;
  pause.set_task_id("standby-task");
  EXPECT_EQ(Call(&TaskEngine::PauseTask, pause).status().code(), absl::StatusCode::kUnavailable);
  v1::ResumeTaskRequest resume;
  resume.set_task_id("standby-task");
  EXPECT_EQ(Call(&TaskEngine::ResumeTask, resume).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Trigger("standby-task").status().code(), absl::StatusCode::kUnavailable);
  v1::CancelRunRequest cancel;
  cancel.set_task_id("standby-task");
  EXPECT_EQ(Call(&TaskEngine::CancelRun, cancel).status().code(), absl::StatusCode::kUnavailable);

  // Nothing reached storage but the reads, and nothing ran.
  EXPECT_EQ(store_.calls(Method::kCreateTask), 0);
  EXPECT_EQ(store_.calls(Method::kUpdateTask), 0);
  EXPECT_EQ(store_.calls(Method::kDeleteTask), 0);
  EXPECT_EQ(store_.calls(Method::kStartRun), 0);
  EXPECT_EQ(run_storage_.prune_calls(), 0u);

  // Reads are answered from storage, as a standby's.
  absl::StatusOr<v1::TaskStatus> status = GetTask("standby-task");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::TaskStatus::STANDBY);
  EXPECT_EQ(status->task().task_id(), "standby-task");
  EXPECT_THAT(ListedStates(), ElementsAre(std::pair("standby-task", v1::TaskStatus::STANDBY)));
}

TEST_F(TaskEngineTest, MutationsWhileLoadingAnswerUnavailableAndTheLoadIsRetriedWithBackoff) {
  Seed(PruneTask("loading-task", absl::Hours(1)), t0_ + absl::Hours(1));
  store_.FailNext(Method::kListTasks, 2, absl::UnavailableError("storage down"));
  StartEngine();
  engine_->Activate(fence_);
  ASSERT_TRUE(Settle());
  EXPECT_TRUE(engine_->GetStatus().active);
  EXPECT_FALSE(engine_->GetStatus().loaded);
  EXPECT_EQ(Trigger("loading-task").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_.calls(Method::kListTasks), 1);

  // storage_retry_initial, then doubled.
  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(t0_ + absl::Milliseconds(500)));
  Advance(absl::Milliseconds(500));
  EXPECT_EQ(store_.calls(Method::kListTasks), 2);
  EXPECT_FALSE(engine_->GetStatus().loaded);
  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(t0_ + absl::Milliseconds(1500)));
  Advance(absl::Seconds(1));
  EXPECT_EQ(store_.calls(Method::kListTasks), 3);
  EXPECT_TRUE(engine_->GetStatus().loaded);
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 1u);
  EXPECT_EQ(StateOf("loading-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::IDLE);
}

TEST_F(TaskEngineTest, ActivateAbandonsRunsStillRecordedRunning) {
  Seed(PruneTask("abandon-task", absl::Hours(1)), t0_ + absl::Hours(1));
  v1::Run stale;
  stale.set_run_id("run-stale");
  stale.set_task_id("abandon-task");
  stale.set_task_kind(v1::TASK_KIND_PRUNE);
  stale.set_state(v1::RUN_STATE_RUNNING);
  stale.set_trigger(v1::RUN_TRIGGER_SCHEDULED);
  *stale.mutable_started_at() = TimeToProto(t0_ - absl::Minutes(5));
  stale.set_holder_id("replica-old");
  stale.set_lease_epoch(0);
  store_.PutRun(stale);
  const uint64_t abandoned_before = Counted("abandon-task", "abandoned");

  StartActive();
  std::optional<v1::Run> run = store_.GetStoredRun("run-stale");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->state(), v1::RUN_STATE_ABANDONED);
  EXPECT_EQ(run->error().code(), v1::Error::ABORTED);
  EXPECT_EQ(Counted("abandon-task", "abandoned"), abandoned_before + 1);
  ASSERT_EQ(store_.abandon_runs_requests().size(), 1u);
  EXPECT_EQ(store_.abandon_runs_requests()[0].fence().epoch(), 1u);
  EXPECT_EQ(store_.GetStoredTask("abandon-task")->last_run_state(), v1::RUN_STATE_ABANDONED);
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 1u);
}

TEST_F(TaskEngineTest, ActivateCreatesTheDefaultTasksWhenStorageHasNone) {
  options_.create_default_tasks = true;
  StartActive();
  ASSERT_EQ(store_.calls(Method::kCreateTask), 2);
  for (const v1::CreateTaskDefinitionRequest& request : store_.create_task_requests()) {
    EXPECT_EQ(request.fence().epoch(), 1u);
  }
  std::optional<v1::Task> balances = store_.GetStoredTask("refresh-balances");
  std::optional<v1::Task> prices = store_.GetStoredTask("refresh-prices");
  ASSERT_TRUE(balances.has_value());
  ASSERT_TRUE(prices.has_value());
  EXPECT_EQ(balances->kind(), v1::TASK_KIND_REFRESH_BALANCES);
  EXPECT_EQ(config::DurationFromProto(balances->schedule().interval()), absl::Minutes(5));
  EXPECT_EQ(prices->kind(), v1::TASK_KIND_REFRESH_PRICES);
  EXPECT_EQ(config::DurationFromProto(prices->schedule().interval()), absl::Minutes(10));
  EXPECT_EQ(TimeFromProto(prices->next_run_time()), t0_ + absl::Seconds(30));
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 2u);
  // The balances are due at once: their run went to the (failing) fetcher.
  EXPECT_GE(fetcher_.calls(), 1u);
}

TEST_F(TaskEngineTest, NoDefaultTasksWhenDisabled) {
  options_.create_default_tasks = false;
  StartActive();
  EXPECT_EQ(store_.calls(Method::kCreateTask), 0);
  EXPECT_TRUE(store_.StoredTaskIds().empty());
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 0u);
}

TEST_F(TaskEngineTest, NoDefaultTasksWhenTasksExist) {
  options_.create_default_tasks = true;
  Seed(PruneTask("existing-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  EXPECT_EQ(store_.calls(Method::kCreateTask), 0);
  EXPECT_THAT(store_.StoredTaskIds(), ElementsAre("existing-task"));
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 1u);
}

// ---------------------------------------------------------------------------
// Scheduled runs

TEST_F(TaskEngineTest, DueTaskRunsAtItsNextRunTimeAndIsRescheduledOneIntervalAfterItsStart) {
  Seed(PruneTask("due-task", absl::Minutes(10)), t0_ + absl::Minutes(1));
  const uint64_t started_before = Counted("due-task", "started");
  const uint64_t succeeded_before = Counted("due-task", "succeeded");
  StartActive();
  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(t0_ + absl::Minutes(1)));
  Advance(absl::Seconds(59));
  EXPECT_EQ(run_storage_.prune_calls(), 0u);

  Advance(absl::Seconds(1));
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  ASSERT_EQ(store_.start_run_requests().size(), 1u);
  const v1::StartRunRequest start = store_.start_run_requests()[0];
  EXPECT_EQ(start.task_id(), "due-task");
  EXPECT_EQ(start.trigger(), v1::RUN_TRIGGER_SCHEDULED);
  EXPECT_EQ(start.coalesced(), 0u);
  EXPECT_EQ(TimeFromProto(start.scheduled_for()), t0_ + absl::Minutes(1));
  EXPECT_EQ(start.fence().epoch(), 1u);
  EXPECT_EQ(run_storage_.prune_requests()[0].fence().epoch(), 1u);
  EXPECT_EQ(run_storage_.prune_requests()[0].retention().snapshot_keep_last(), 10u);
  absl::StatusOr<v1::TaskStatus> running = GetTask("due-task");
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->state(), v1::TaskStatus::RUNNING);
  EXPECT_EQ(running->current_run().run_id(), start.run_id());
  EXPECT_EQ(running->current_run().state(), v1::RUN_STATE_RUNNING);

  EndPrune(Pruned(3));
  ASSERT_EQ(store_.finish_run_requests().size(), 1u);
  const v1::FinishRunRequest finish = store_.finish_run_requests()[0];
  EXPECT_EQ(finish.state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(TimeFromProto(finish.next_run_time()), t0_ + absl::Minutes(11));
  EXPECT_EQ(finish.consecutive_failures(), 0u);
  EXPECT_TRUE(finish.pause_note().empty());
  std::optional<v1::Run> run = store_.GetStoredRun(start.run_id());
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(run->counts().items_total(), 3u);
  std::optional<v1::Task> task = store_.GetStoredTask("due-task");
  EXPECT_EQ(TimeFromProto(task->next_run_time()), t0_ + absl::Minutes(11));
  EXPECT_EQ(task->last_run_state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(StateOf("due-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED), v1::TaskStatus::IDLE);
  EXPECT_EQ(Counted("due-task", "started"), started_before + 1);
  EXPECT_EQ(Counted("due-task", "succeeded"), succeeded_before + 1);

  // The next run waits for the new next run time.
  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(t0_ + absl::Minutes(11)));
  Advance(absl::Minutes(10));
  EXPECT_EQ(run_storage_.prune_calls(), 2u);
}

TEST_F(TaskEngineTest, FailedRunsBackOffDoublingUpToTheMaxAndPauseAfterMaxConsecutiveFailures) {
  v1::Task task = PruneTask("failing-task", absl::Hours(1));
  v1::Backoff* backoff = task.mutable_schedule()->mutable_backoff();
  *backoff->mutable_initial() = DurationToProto(absl::Seconds(10));
  *backoff->mutable_max() = DurationToProto(absl::Seconds(25));
  backoff->set_multiplier(2);
  task.mutable_schedule()->set_max_consecutive_failures(4);
  Seed(task, t0_);
  const uint64_t failed_before = Counted("failing-task", "failed");
  StartActive();

  const absl::Duration delays[] = {absl::Seconds(10), absl::Seconds(20), absl::Seconds(25)};
  absl::Time now = t0_;
  for (int failure = 1; failure <= 3; ++failure) {
    SCOPED_TRACE(failure);
    ASSERT_EQ(run_storage_.prune_calls(), static_cast<size_t>(failure));
    EndPrune(absl::UnavailableError("disk busy"));
    ASSERT_EQ(store_.finish_run_requests().size(), static_cast<size_t>(failure));
    const v1::FinishRunRequest finish = store_.finish_run_requests().back();
    EXPECT_EQ(finish.state(), v1::RUN_STATE_FAILED);
    EXPECT_EQ(finish.consecutive_failures(), static_cast<uint32_t>(failure));
    EXPECT_EQ(TimeFromProto(finish.next_run_time()), now + delays[failure - 1]);
    EXPECT_TRUE(finish.pause_note().empty());
    EXPECT_EQ(store_.GetStoredTask("failing-task")->consecutive_failures(),
              static_cast<uint32_t>(failure));
    EXPECT_EQ(StateOf("failing-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
              v1::TaskStatus::BACKING_OFF);
    EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(now + delays[failure - 1]));
    Advance(delays[failure - 1]);
    now += delays[failure - 1];
  }
  ASSERT_EQ(run_storage_.prune_calls(), 4u);
  EndPrune(absl::UnavailableError("disk busy"));
  const v1::FinishRunRequest last = store_.finish_run_requests().back();
  EXPECT_EQ(last.consecutive_failures(), 4u);
  EXPECT_THAT(last.pause_note(), HasSubstr("4 consecutive"));
  std::optional<v1::Task> stored = store_.GetStoredTask("failing-task");
  EXPECT_TRUE(stored->paused());
  EXPECT_THAT(stored->status_note(), HasSubstr("4 consecutive"));
  EXPECT_EQ(StateOf("failing-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::PAUSED);
  EXPECT_EQ(Counted("failing-task", "failed"), failed_before + 4);

  Advance(absl::Hours(2));
  EXPECT_EQ(run_storage_.prune_calls(), 4u);
}

TEST_F(TaskEngineTest, MissedRunsAfterActivationBecomeOneCatchUpRun) {
  Seed(PruneTask("missed-task", absl::Minutes(1)), t0_ - absl::Seconds(210));
  const uint64_t coalesced_before = Counted("missed-task", "coalesced");
  StartActive();
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  ASSERT_EQ(store_.start_run_requests().size(), 1u);
  const v1::StartRunRequest start = store_.start_run_requests()[0];
  EXPECT_EQ(start.trigger(), v1::RUN_TRIGGER_CATCH_UP);
  EXPECT_EQ(start.coalesced(), 3u);
  EXPECT_EQ(TimeFromProto(start.scheduled_for()), t0_ - absl::Seconds(30));
  EXPECT_EQ(Counted("missed-task", "coalesced"), coalesced_before + 3);

  EndPrune(Pruned(0));
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
  EXPECT_EQ(TimeFromProto(store_.GetStoredTask("missed-task")->next_run_time()),
            t0_ + absl::Minutes(1));
  EXPECT_EQ(store_.GetStoredRun(start.run_id())->coalesced(), 3u);
}

TEST_F(TaskEngineTest, RunMissedByMoreThanTheStartingDeadlineIsRecordedSkipped) {
  v1::Task task = PruneTask("late-task", absl::Minutes(1));
  *task.mutable_schedule()->mutable_starting_deadline() = DurationToProto(absl::Seconds(30));
  // Boundaries at -100 s and -40 s: the latest is 40 s late.
  Seed(task, t0_ - absl::Seconds(100));
  const uint64_t skipped_before = Counted("late-task", "skipped");
  StartActive();
  EXPECT_EQ(run_storage_.prune_calls(), 0u);
  std::vector<v1::Run> runs = store_.StoredRuns("late-task");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].state(), v1::RUN_STATE_SKIPPED);
  EXPECT_EQ(TimeFromProto(runs[0].scheduled_for()), t0_ - absl::Seconds(40));
  EXPECT_EQ(runs[0].coalesced(), 1u);
  EXPECT_EQ(TimeFromProto(store_.GetStoredTask("late-task")->next_run_time()),
            t0_ + absl::Seconds(20));
  EXPECT_EQ(Counted("late-task", "skipped"), skipped_before + 1);

  Advance(absl::Seconds(20));
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  EXPECT_EQ(store_.start_run_requests().back().trigger(), v1::RUN_TRIGGER_SCHEDULED);
}

TEST_F(TaskEngineTest, CreatedTaskRunsAfterItsFirstRunDelay) {
  StartActive();
  v1::CreateTaskRequest create;
  *create.mutable_task() = PruneTask("created-task", absl::Hours(1));
  *create.mutable_task()->mutable_schedule()->mutable_first_run_delay() =
      DurationToProto(absl::Minutes(1));
  absl::StatusOr<v1::CreateTaskResponse> created = Call(&TaskEngine::CreateTask, create);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->task().state(), v1::TaskStatus::IDLE);
  EXPECT_EQ(TimeFromProto(created->task().task().next_run_time()), t0_ + absl::Minutes(1));
  EXPECT_EQ(created->task().task().revision(), 1u);
  EXPECT_EQ(Call(&TaskEngine::CreateTask, create).status().code(),
            absl::StatusCode::kAlreadyExists);

  ASSERT_TRUE(Settle());
  EXPECT_EQ(run_storage_.prune_calls(), 0u);
  Advance(absl::Minutes(1));
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  EXPECT_EQ(store_.start_run_requests()[0].trigger(), v1::RUN_TRIGGER_SCHEDULED);
}

TEST_F(TaskEngineTest, UpdatedIntervalRecomputesTheNextRunTime) {
  Seed(PruneTask("update-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  const uint64_t revision = store_.GetStoredTask("update-task")->revision();

  v1::UpdateTaskRequest update;
  update.mutable_task()->set_task_id("update-task");
  *update.mutable_task()->mutable_schedule()->mutable_interval() =
      DurationToProto(absl::Minutes(10));
  update.mutable_update_mask()->add_paths("schedule.interval");
  update.set_expected_revision(revision + 7);
  EXPECT_EQ(Call(&TaskEngine::UpdateTask, update).status().code(), absl::StatusCode::kAborted);

  update.set_expected_revision(revision);
  absl::StatusOr<v1::UpdateTaskResponse> updated = Call(&TaskEngine::UpdateTask, update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(TimeFromProto(updated->task().task().next_run_time()), t0_ + absl::Minutes(10));
  EXPECT_EQ(updated->task().task().revision(), revision + 1);
  EXPECT_EQ(TimeFromProto(store_.GetStoredTask("update-task")->next_run_time()),
            t0_ + absl::Minutes(10));

  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(t0_ + absl::Minutes(10)));
  Advance(absl::Minutes(10));
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
}

// ---------------------------------------------------------------------------
// Triggers

TEST_F(TaskEngineTest, TriggerAnswersTheRunIdAtOnceAndWithWaitWhenTheRunEnded) {
  Seed(PruneTask("trigger-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger("trigger-task");
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  EXPECT_FALSE(triggered->run_id().empty());
  EXPECT_EQ(triggered->run().run_id(), triggered->run_id());
  EXPECT_FALSE(triggered->coalesced());
  EXPECT_EQ(triggered->run().trigger(), v1::RUN_TRIGGER_MANUAL);
  EXPECT_TRUE(triggered->run().state() == v1::RUN_STATE_PENDING ||
              triggered->run().state() == v1::RUN_STATE_RUNNING)
      << v1::RunState_Name(triggered->run().state());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  EXPECT_EQ(store_.start_run_requests()[0].run_id(), triggered->run_id());
  EXPECT_EQ(store_.start_run_requests()[0].trigger(), v1::RUN_TRIGGER_MANUAL);
  EndPrune(Pruned(1));
  EXPECT_EQ(store_.GetStoredRun(triggered->run_id())->state(), v1::RUN_STATE_SUCCEEDED);

  Pending<v1::TriggerTaskResponse> waiting = TriggerAndWait("trigger-task");
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 2u);
  EXPECT_FALSE(waiting.answered());
  EndPrune(Pruned(2));
  absl::StatusOr<v1::TriggerTaskResponse> ended = waiting.Await();
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->run().run_id(), ended->run_id());
  EXPECT_EQ(ended->run().state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(ended->run().counts().items_total(), 2u);
  EXPECT_EQ(waiting.answers(), 1);
}

TEST_F(TaskEngineTest, TriggersDuringARunFoldIntoOneFollowUpRun) {
  Seed(PruneTask("fold-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> first = Trigger("fold-task");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  const uint64_t coalesced_before = Counted("fold-task", "coalesced");

  absl::StatusOr<v1::TriggerTaskResponse> second = Trigger("fold-task");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->coalesced());
  EXPECT_NE(second->run_id(), first->run_id());
  EXPECT_EQ(second->run().state(), v1::RUN_STATE_PENDING);
  EXPECT_EQ(second->run().coalesced(), 0u);
  absl::StatusOr<v1::TriggerTaskResponse> third = Trigger("fold-task");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(third->coalesced());
  EXPECT_EQ(third->run_id(), second->run_id());
  EXPECT_EQ(third->run().coalesced(), 1u);
  Pending<v1::TriggerTaskResponse> fourth = TriggerAndWait("fold-task");
  ASSERT_TRUE(Settle());
  EXPECT_FALSE(fourth.answered());
  EXPECT_EQ(Counted("fold-task", "coalesced"), coalesced_before + 2);

  // The follow-up is known from memory only.
  v1::GetRunRequest get;
  get.set_run_id(second->run_id());
  absl::StatusOr<v1::GetRunResponse> pending = Call(&TaskEngine::GetRun, get);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->run().state(), v1::RUN_STATE_PENDING);
  EXPECT_EQ(pending->run().coalesced(), 2u);
  EXPECT_EQ(store_.calls(Method::kGetRun), 0);
  absl::StatusOr<v1::TaskStatus> status = GetTask("fold-task");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->pending_run().run_id(), second->run_id());
  EXPECT_EQ(status->current_run().run_id(), first->run_id());

  EndPrune(Pruned(0));
  ASSERT_EQ(run_storage_.prune_calls(), 2u);
  ASSERT_EQ(store_.start_run_requests().size(), 2u);
  const v1::StartRunRequest follow_up = store_.start_run_requests()[1];
  EXPECT_EQ(follow_up.run_id(), second->run_id());
  EXPECT_EQ(follow_up.trigger(), v1::RUN_TRIGGER_MANUAL);
  EXPECT_EQ(follow_up.coalesced(), 2u);
  EndPrune(Pruned(0));
  absl::StatusOr<v1::TriggerTaskResponse> waited = fourth.Await();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->run_id(), second->run_id());
  EXPECT_EQ(waited->run().state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(run_storage_.prune_calls(), 2u);
  EXPECT_EQ(store_.StoredRuns("fold-task").size(), 2u);
}

// ---------------------------------------------------------------------------
// Pause, resume, cancel, timeout

TEST_F(TaskEngineTest, PausedTaskStartsNoScheduledRuns) {
  Seed(PruneTask("pause-task", absl::Minutes(10)), t0_ + absl::Minutes(1));
  StartActive();
  v1::PauseTaskRequest pause;
  pause.set_task_id("pause-task");
  pause.set_note("maintenance");
  absl::StatusOr<v1::PauseTaskResponse> paused = Call(&TaskEngine::PauseTask, pause);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(paused->task().state(), v1::TaskStatus::PAUSED);
  EXPECT_TRUE(paused->task().task().paused());
  std::optional<v1::Task> stored = store_.GetStoredTask("pause-task");
  EXPECT_TRUE(stored->paused());
  EXPECT_EQ(stored->status_note(), "maintenance");
  EXPECT_TRUE(stored->has_paused_at());

  Advance(absl::Minutes(30));
  EXPECT_EQ(run_storage_.prune_calls(), 0u);
  // A manual trigger still runs a paused task.
  ASSERT_TRUE(Trigger("pause-task").ok());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
}

TEST_F(TaskEngineTest, PauseWithCancelCurrentCancelsTheRunningRun) {
  Seed(PruneTask("pause-cancel-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("pause-cancel-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 1u);

  v1::PauseTaskRequest pause;
  pause.set_task_id("pause-cancel-task");
  pause.set_cancel_current(true);
  absl::StatusOr<v1::PauseTaskResponse> paused = Call(&TaskEngine::PauseTask, pause);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_TRUE(paused->task().current_run().cancel_requested());
  // The prune call answers after the cancel: the run still ends CANCELLED.
  EndPrune(Pruned(5));
  std::optional<v1::Run> stored = store_.GetStoredRun(run->run_id());
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->state(), v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(stored->error().code(), v1::Error::CANCELLED);
  EXPECT_EQ(store_.GetStoredTask("pause-cancel-task")->consecutive_failures(), 0u);
  EXPECT_EQ(StateOf("pause-cancel-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::PAUSED);
}

TEST_F(TaskEngineTest, PauseWithoutCancelLetsTheRunFinish) {
  Seed(PruneTask("pause-finish-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("pause-finish-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  v1::PauseTaskRequest pause;
  pause.set_task_id("pause-finish-task");
  ASSERT_TRUE(Call(&TaskEngine::PauseTask, pause).ok());
  EXPECT_EQ(StateOf("pause-finish-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::RUNNING);
  EndPrune(Pruned(1));
  EXPECT_EQ(store_.GetStoredRun(run->run_id())->state(), v1::RUN_STATE_SUCCEEDED);
  // The run's FinishRun did not undo the pause.
  EXPECT_TRUE(store_.GetStoredTask("pause-finish-task")->paused());
}

TEST_F(TaskEngineTest, ResumeMakesAnOverdueTaskDueOnce) {
  v1::Task task = PruneTask("resume-task", absl::Minutes(10));
  task.set_paused(true);
  task.set_consecutive_failures(2);
  Seed(task, t0_ - absl::Hours(1));
  StartActive();
  EXPECT_EQ(run_storage_.prune_calls(), 0u);
  Advance(absl::Minutes(1));
  EXPECT_EQ(run_storage_.prune_calls(), 0u);

  v1::ResumeTaskRequest resume;
  resume.set_task_id("resume-task");
  resume.set_note("back");
  absl::StatusOr<v1::ResumeTaskResponse> resumed = Call(&TaskEngine::ResumeTask, resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_FALSE(resumed->task().task().paused());
  std::optional<v1::Task> stored = store_.GetStoredTask("resume-task");
  EXPECT_FALSE(stored->paused());
  EXPECT_EQ(stored->status_note(), "back");
  EXPECT_EQ(stored->consecutive_failures(), 0u);
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  const v1::StartRunRequest start = store_.start_run_requests()[0];
  EXPECT_EQ(start.trigger(), v1::RUN_TRIGGER_SCHEDULED);
  EXPECT_EQ(start.coalesced(), 0u);
  EXPECT_EQ(TimeFromProto(start.scheduled_for()), t0_ + absl::Minutes(1));
  EndPrune(Pruned(0));
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
  EXPECT_EQ(TimeFromProto(store_.GetStoredTask("resume-task")->next_run_time()),
            t0_ + absl::Minutes(11));
}

TEST_F(TaskEngineTest, CancelRunCancelsTheCurrentRunOnly) {
  Seed(PruneTask("cancel-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  v1::CancelRunRequest cancel;
  cancel.set_task_id("cancel-task");
  EXPECT_EQ(Call(&TaskEngine::CancelRun, cancel).status().code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("cancel-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  cancel.set_run_id("run-not-this-one");
  EXPECT_EQ(Call(&TaskEngine::CancelRun, cancel).status().code(),
            absl::StatusCode::kFailedPrecondition);
  cancel.set_task_id("no-such-task");
  EXPECT_EQ(Call(&TaskEngine::CancelRun, cancel).status().code(), absl::StatusCode::kNotFound);

  const uint64_t cancelled_before = Counted("cancel-task", "cancelled");
  cancel.set_task_id("cancel-task");
  cancel.set_run_id(run->run_id());
  cancel.set_reason("stop now");
  absl::StatusOr<v1::CancelRunResponse> cancelled = Call(&TaskEngine::CancelRun, cancel);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->run().run_id(), run->run_id());
  EXPECT_TRUE(cancelled->run().cancel_requested());
  EndPrune(Pruned(1));
  std::optional<v1::Run> stored = store_.GetStoredRun(run->run_id());
  EXPECT_EQ(stored->state(), v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(stored->error().code(), v1::Error::CANCELLED);
  EXPECT_EQ(stored->error().message(), "stop now");
  EXPECT_EQ(Counted("cancel-task", "cancelled"), cancelled_before + 1);
  EXPECT_EQ(StateOf("cancel-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::IDLE);
}

TEST_F(TaskEngineTest, CancelRunWithWaitAnswersWhenRecordedAndDropsTheFollowUp) {
  Seed(PruneTask("cancel-wait-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("cancel-wait-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  Pending<v1::TriggerTaskResponse> follow_up = TriggerAndWait("cancel-wait-task");
  ASSERT_TRUE(Settle());

  v1::CancelRunRequest cancel;
  cancel.set_task_id("cancel-wait-task");
  cancel.set_wait(true);
  Pending<v1::CancelRunResponse> cancelled = Ask(&TaskEngine::CancelRun, cancel);
  ASSERT_TRUE(Settle());
  EXPECT_FALSE(cancelled.answered());
  // The follow-up is dropped with the cancel.
  absl::StatusOr<v1::TriggerTaskResponse> dropped = follow_up.Await();
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(dropped->run().state(), v1::RUN_STATE_CANCELLED);

  EndPrune(Pruned(1));
  absl::StatusOr<v1::CancelRunResponse> ended = cancelled.Await();
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->run().run_id(), run->run_id());
  EXPECT_EQ(ended->run().state(), v1::RUN_STATE_CANCELLED);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
}

TEST_F(TaskEngineTest, RunPastItsTimeoutIsRecordedTimedOut) {
  v1::Task task = PruneTask("timeout-task", absl::Hours(1));
  *task.mutable_schedule()->mutable_run_timeout() = DurationToProto(absl::Seconds(5));
  Seed(task, t0_ + absl::Hours(1));
  const uint64_t timed_out_before = Counted("timeout-task", "timed_out");
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("timeout-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(t0_ + absl::Seconds(5)));
  Advance(absl::Seconds(4));
  EXPECT_FALSE(GetTask("timeout-task")->current_run().cancel_requested());
  Advance(absl::Seconds(1));
  EXPECT_TRUE(GetTask("timeout-task")->current_run().cancel_requested());
  // The cancelled call still has to answer.
  EXPECT_EQ(store_.calls(Method::kFinishRun), 0);
  EndPrune(Pruned(0));
  std::optional<v1::Run> stored = store_.GetStoredRun(run->run_id());
  EXPECT_EQ(stored->state(), v1::RUN_STATE_TIMED_OUT);
  EXPECT_EQ(stored->error().code(), v1::Error::DEADLINE_EXCEEDED);
  EXPECT_EQ(store_.GetStoredTask("timeout-task")->consecutive_failures(), 1u);
  EXPECT_EQ(Counted("timeout-task", "timed_out"), timed_out_before + 1);
}

// ---------------------------------------------------------------------------
// The global limit, deletion, storage failures

TEST_F(TaskEngineTest, SecondDueTaskQueuesUnderTheGlobalLimitAndRunsAfterTheFirst) {
  options_.max_concurrent_runs = 1;
  Seed(PruneTask("limit-a", absl::Hours(1)), t0_);
  Seed(PruneTask("limit-b", absl::Hours(1)), t0_);
  StartActive();
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  ASSERT_EQ(store_.start_run_requests().size(), 1u);
  const std::string first = store_.start_run_requests()[0].task_id();
  const std::string second = first == "limit-a" ? "limit-b" : "limit-a";
  TaskEngineStatus status = engine_->GetStatus();
  EXPECT_EQ(status.runs_in_flight, 1u);
  EXPECT_EQ(status.runs_queued, 1u);
  EXPECT_EQ(status.max_concurrent_runs, 1u);
  EXPECT_EQ(StateOf(first).value_or(v1::TaskStatus::STATE_UNSPECIFIED), v1::TaskStatus::RUNNING);
  EXPECT_EQ(StateOf(second).value_or(v1::TaskStatus::STATE_UNSPECIFIED), v1::TaskStatus::QUEUED);

  EndPrune(Pruned(0));
  ASSERT_EQ(run_storage_.prune_calls(), 2u);
  EXPECT_EQ(store_.start_run_requests()[1].task_id(), second);
  status = engine_->GetStatus();
  EXPECT_EQ(status.runs_in_flight, 1u);
  EXPECT_EQ(status.runs_queued, 0u);
  EndPrune(Pruned(0));
  EXPECT_EQ(engine_->GetStatus().runs_in_flight, 0u);
}

TEST_F(TaskEngineTest, DeleteTaskCancelsItsRunThenDeletesIt) {
  Seed(PruneTask("delete-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("delete-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  v1::DeleteTaskRequest remove;
  remove.set_task_id("delete-task");
  Pending<v1::DeleteTaskResponse> deleted = Ask(&TaskEngine::DeleteTask, remove);
  ASSERT_TRUE(Settle());
  EXPECT_FALSE(deleted.answered());
  EXPECT_TRUE(store_.GetStoredTask("delete-task").has_value());

  EndPrune(Pruned(0));
  absl::StatusOr<v1::DeleteTaskResponse> reply = deleted.Await();
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(store_.finish_run_requests().size(), 1u);
  EXPECT_EQ(store_.finish_run_requests()[0].state(), v1::RUN_STATE_CANCELLED);
  EXPECT_FALSE(store_.GetStoredTask("delete-task").has_value());
  EXPECT_TRUE(store_.StoredRuns("delete-task").empty());
  EXPECT_EQ(GetTask("delete-task").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Trigger("delete-task").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 0u);
}

TEST_F(TaskEngineTest, UnavailableStartRunAndFinishRunAreRetriedWithBackoffAndRecordedOnce) {
  Seed(PruneTask("retry-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  const uint64_t started_before = Counted("retry-task", "started");
  store_.FailNext(Method::kStartRun, 2, absl::UnavailableError("storage down"));
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("retry-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(store_.calls(Method::kStartRun), 1);
  EXPECT_EQ(run_storage_.prune_calls(), 0u);
  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(t0_ + absl::Milliseconds(500)));
  Advance(absl::Milliseconds(500));
  EXPECT_EQ(store_.calls(Method::kStartRun), 2);
  EXPECT_EQ(run_storage_.prune_calls(), 0u);
  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(t0_ + absl::Milliseconds(1500)));
  Advance(absl::Seconds(1));
  EXPECT_EQ(store_.calls(Method::kStartRun), 3);
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  for (const v1::StartRunRequest& start : store_.start_run_requests()) {
    EXPECT_EQ(start.run_id(), run->run_id());
  }

  store_.FailNext(Method::kFinishRun, 1, absl::UnavailableError("storage down"));
  EndPrune(Pruned(4));
  EXPECT_EQ(store_.calls(Method::kFinishRun), 1);
  EXPECT_EQ(store_.GetStoredRun(run->run_id())->state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ(StateOf("retry-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::RUNNING);
  const absl::Time finished = clock_.Now();
  EXPECT_TRUE(clock_.AwaitBlockedWaiterUntil(finished + absl::Milliseconds(500)));
  Advance(absl::Milliseconds(500));
  ASSERT_EQ(store_.calls(Method::kFinishRun), 2);
  // The retry repeats the first FinishRun, which decided the next run time.
  EXPECT_EQ(store_.finish_run_requests()[0].SerializeAsString(),
            store_.finish_run_requests()[1].SerializeAsString());
  std::vector<v1::Run> runs = store_.StoredRuns("retry-task");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(runs[0].counts().items_total(), 4u);
  EXPECT_EQ(Counted("retry-task", "started"), started_before + 1);
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
  EXPECT_EQ(StateOf("retry-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::IDLE);
}

TEST_F(TaskEngineTest, StartRunRefusedForAStaleFenceRecordsNothingAndLooksAgainLater) {
  Seed(PruneTask("stale-task", absl::Minutes(1)), t0_);
  StartEngine();
  // Another replica got a newer grant while this one activated.
  v1::Fence newer = fence_;
  newer.set_epoch(2);
  store_.SetLease(newer);
  engine_->Activate(fence_);
  ASSERT_TRUE(Settle());
  // AbandonRuns is fenced too: the load is retried, never finished.
  EXPECT_FALSE(engine_->GetStatus().loaded);
  EXPECT_EQ(store_.calls(Method::kStartRun), 0);

  // Once activated, a stale fence on StartRun ends the attempt unrecorded.
  store_.SetLease(fence_);
  Advance(absl::Milliseconds(500));
  ASSERT_TRUE(engine_->GetStatus().loaded);
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  EndPrune(Pruned(0));
  store_.SetLease(newer);
  Pending<v1::TriggerTaskResponse> waiting = TriggerAndWait("stale-task");
  absl::StatusOr<v1::TriggerTaskResponse> refused = waiting.Await();
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->run().state(), v1::RUN_STATE_FAILED);
  EXPECT_FALSE(store_.GetStoredRun(refused->run_id()).has_value());
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
}

// ---------------------------------------------------------------------------
// Lease changes and shutdown

TEST_F(TaskEngineTest, DeactivateCancelsRunsAndANewFenceReloadsAndAbandonsThem) {
  Seed(PruneTask("lease-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("lease-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  Pending<v1::TriggerTaskResponse> waiting = TriggerAndWait("lease-task");
  ASSERT_TRUE(Settle());

  engine_->Deactivate(lease_lost_);
  ASSERT_TRUE(Settle());
  EXPECT_FALSE(engine_->GetStatus().active);
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 0u);
  EXPECT_EQ(waiting.Await().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Trigger("lease-task").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StateOf("lease-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::STANDBY);
  // The run ends (cancelled) without a FinishRun: the next holder abandons it.
  EndPrune(Pruned(0));
  EXPECT_EQ(store_.calls(Method::kFinishRun), 0);
  EXPECT_EQ(store_.GetStoredRun(run->run_id())->state(), v1::RUN_STATE_RUNNING);

  const uint64_t abandoned_before = Counted("lease-task", "abandoned");
  v1::Fence next = fence_;
  next.set_epoch(2);
  store_.SetLease(next);
  engine_->Activate(next);
  ASSERT_TRUE(Settle());
  ASSERT_TRUE(engine_->GetStatus().loaded);
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 1u);
  EXPECT_EQ(store_.GetStoredRun(run->run_id())->state(), v1::RUN_STATE_ABANDONED);
  EXPECT_EQ(Counted("lease-task", "abandoned"), abandoned_before + 1);
  ASSERT_TRUE(Trigger("lease-task").ok());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 2u);
  EXPECT_EQ(store_.start_run_requests().back().fence().epoch(), 2u);
  EXPECT_EQ(run_storage_.prune_requests().back().fence().epoch(), 2u);
}

TEST_F(TaskEngineTest, StopAnswersPendingWaitersUnavailableAndJoins) {
  Seed(PruneTask("stop-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  Pending<v1::TriggerTaskResponse> waiting = TriggerAndWait("stop-task");
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  // The run's call answers only once the waiter was told: Stop's grace
  // waits for that end.
  std::thread answerer([&] {
    EXPECT_EQ(waiting.Await().status().code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(run_storage_.AnswerPrune(Pruned(0)));
  });
  engine_->Stop(absl::Seconds(60));
  answerer.join();
  EXPECT_EQ(waiting.answers(), 1);
  EXPECT_EQ(run_storage_.held_prunes(), 0u);
  EXPECT_FALSE(engine_->GetStatus().active);
  // After Stop every call is still answered, at once.
  EXPECT_EQ(Trigger("stop-task").status().code(), absl::StatusCode::kUnavailable);
  engine_->Stop();  // idempotent
}

// ---------------------------------------------------------------------------
// Reads, events, async storage

TEST_F(TaskEngineTest, GetTaskAndListTasksDecorateEachTaskWithItsState) {
  options_.max_concurrent_runs = 1;
  Seed(PruneTask("state-idle", absl::Hours(1)), t0_ + absl::Hours(1));
  v1::Task paused = PruneTask("state-paused", absl::Hours(1));
  paused.set_paused(true);
  Seed(paused, t0_ + absl::Hours(1));
  v1::Task failing = PruneTask("state-backoff", absl::Hours(1));
  failing.set_consecutive_failures(2);
  Seed(failing, t0_ + absl::Hours(1));
  Seed(PruneTask("state-running", absl::Hours(1)), t0_ + absl::Hours(1));
  Seed(PruneTask("state-queued", absl::Hours(1)), t0_ + absl::Hours(1));

  StartEngine();
  ASSERT_TRUE(Settle());
  for (const auto& [id, state] : ListedStates()) {
    EXPECT_EQ(state, v1::TaskStatus::STANDBY) << id;
  }
  engine_->Activate(fence_);
  ASSERT_TRUE(Settle());
  ASSERT_TRUE(Trigger("state-running").ok());
  ASSERT_TRUE(Trigger("state-queued").ok());
  ASSERT_TRUE(Settle());

  const std::map<std::string, v1::TaskStatus::State> expected = {
      {"state-backoff", v1::TaskStatus::BACKING_OFF}, {"state-idle", v1::TaskStatus::IDLE},
      {"state-paused", v1::TaskStatus::PAUSED},       {"state-queued", v1::TaskStatus::QUEUED},
      {"state-running", v1::TaskStatus::RUNNING},
  };
  EXPECT_EQ(ListedStates(), expected);
  for (const auto& [id, state] : expected) {
    EXPECT_EQ(StateOf(id).value_or(v1::TaskStatus::STATE_UNSPECIFIED), state) << id;
  }
  absl::StatusOr<v1::TaskStatus> queued = GetTask("state-queued");
  EXPECT_EQ(queued->current_run().state(), v1::RUN_STATE_PENDING);

  engine_->Deactivate(lease_lost_);
  ASSERT_TRUE(Settle());
  for (const auto& [id, state] : ListedStates()) {
    EXPECT_EQ(state, v1::TaskStatus::STANDBY) << id;
  }
}

TEST_F(TaskEngineTest, ListRunsAnswersStoredRunsNewestFirstWithTheLiveOneDecorated) {
  Seed(PruneTask("list-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> first = Trigger("list-task");
  ASSERT_TRUE(Settle());
  EndPrune(Pruned(0));
  Advance(absl::Seconds(1));
  absl::StatusOr<v1::TriggerTaskResponse> second = Trigger("list-task");
  ASSERT_TRUE(Settle());

  v1::ListRunsRequest list;
  list.set_task_id("list-task");
  absl::StatusOr<v1::ListRunsResponse> runs = Call(&TaskEngine::ListRuns, list);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->runs_size(), 2);
  EXPECT_EQ(runs->runs(0).run_id(), second->run_id());
  EXPECT_EQ(runs->runs(0).state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ(runs->runs(1).run_id(), first->run_id());
  EXPECT_EQ(runs->runs(1).state(), v1::RUN_STATE_SUCCEEDED);
}

TEST_F(TaskEngineTest, RunEventsReceiveQueuedStartedAndFinished) {
  Seed(PruneTask("events-task", absl::Hours(1)), t0_ + absl::Hours(1));
  std::shared_ptr<RunEvents::Subscription> watch =
      events_.Subscribe({.task_id = "events-task"}, [] {});
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("events-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  EndPrune(Pruned(0));

  std::vector<v1::WatchRunsResponse> events = watch->Take();
  std::vector<v1::WatchRunsResponse::EventType> types;
  for (const v1::WatchRunsResponse& event : events) {
    EXPECT_EQ(event.run().run_id(), run->run_id());
    types.push_back(event.type());
  }
  EXPECT_THAT(types, ElementsAre(v1::WatchRunsResponse::QUEUED, v1::WatchRunsResponse::STARTED,
                                 v1::WatchRunsResponse::FINISHED));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].run().state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ(events[2].run().state(), v1::RUN_STATE_SUCCEEDED);
}

TEST_F(TaskEngineTest, CurrentRunsAnswersTheRunningAndPendingRuns) {
  Seed(PruneTask("current-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> running = Trigger("current-task");
  absl::StatusOr<v1::TriggerTaskResponse> pending = Trigger("current-task");
  ASSERT_TRUE(Settle());
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::vector<v1::Run>> runs;
  engine_->CurrentRuns({.task_id = "current-task"}, [&](std::vector<v1::Run> current) {
    std::lock_guard<std::mutex> lock(mu);
    runs = std::move(current);
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return runs.has_value(); }));
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id(), running->run_id());
  EXPECT_EQ((*runs)[0].state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ((*runs)[1].run_id(), pending->run_id());
  EXPECT_EQ((*runs)[1].state(), v1::RUN_STATE_PENDING);
}

TEST_F(TaskEngineTest, DefaultTasksAreAllCreatedWhenACreateFailsOnce) {
  options_.create_default_tasks = true;
  // The first default task is created, the second's first attempt fails.
  store_.FailNext(Method::kCreateTask, 1, absl::UnavailableError("storage down"), /*after=*/1);
  StartEngine();
  engine_->Activate(fence_);
  ASSERT_TRUE(Settle());
  for (int retry = 0; retry < 5 && !engine_->GetStatus().loaded; ++retry) {
    Advance(options_.storage_retry_max);
  }
  ASSERT_TRUE(engine_->GetStatus().loaded);
  EXPECT_TRUE(store_.GetStoredTask("refresh-balances").has_value());
  EXPECT_TRUE(store_.GetStoredTask("refresh-prices").has_value());
  EXPECT_EQ(engine_->GetStatus().tasks_loaded, 2u);
}

TEST_F(TaskEngineTest, StopWithoutStartAnswersPendingCalls) {
  Seed(PruneTask("never-started", absl::Hours(1)), t0_ + absl::Hours(1));
  engine_ = std::make_unique<TaskEngine>(
      options_, &store_, RunBackends{.storage = &run_storage_, .fetcher = &fetcher_}, &clock_,
      &jitter_, &events_);
  v1::TriggerTaskRequest request;
  request.set_task_id("never-started");
  Pending<v1::TriggerTaskResponse> before = Ask(&TaskEngine::TriggerTask, request);
  engine_->Stop();
  EXPECT_EQ(before.Await(absl::Seconds(5)).status().code(), absl::StatusCode::kUnavailable);
  Pending<v1::TriggerTaskResponse> after = Ask(&TaskEngine::TriggerTask, request);
  EXPECT_EQ(after.Await(absl::Seconds(5)).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(TaskEngineTest, CancelledQueuedRunIsRecordedCancelledWithoutRunning) {
  options_.max_concurrent_runs = 1;
  Seed(PruneTask("queue-busy", absl::Hours(1)), t0_ + absl::Hours(1));
  Seed(PruneTask("queue-cancel", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  ASSERT_TRUE(Trigger("queue-busy").ok());
  absl::StatusOr<v1::TriggerTaskResponse> queued = Trigger("queue-cancel");
  ASSERT_TRUE(queued.ok());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(StateOf("queue-cancel").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::QUEUED);
  v1::CancelRunRequest cancel;
  cancel.set_task_id("queue-cancel");
  cancel.set_wait(true);
  absl::StatusOr<v1::CancelRunResponse> cancelled = Call(&TaskEngine::CancelRun, cancel);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->run().run_id(), queued->run_id());
  EXPECT_EQ(cancelled->run().state(), v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(store_.GetStoredRun(queued->run_id())->state(), v1::RUN_STATE_CANCELLED);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
  EXPECT_EQ(engine_->GetStatus().runs_queued, 0u);
  // The busy run still holds the only slot; it frees it for nobody else.
  EndPrune(Pruned(0));
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
}

TEST_F(TaskEngineTest, RunThatCannotStartIsRecordedFailed) {
  v1::Task task = PruneTask("unstartable-task", absl::Hours(1));
  task.mutable_prune()->clear_retention();  // PruneRun refuses to start
  Seed(task, t0_ + absl::Hours(1));
  StartActive();
  Pending<v1::TriggerTaskResponse> waiting = TriggerAndWait("unstartable-task");
  absl::StatusOr<v1::TriggerTaskResponse> ended = waiting.Await();
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->run().state(), v1::RUN_STATE_FAILED);
  EXPECT_EQ(ended->run().error().code(), v1::Error::INVALID_ARGUMENT);
  EXPECT_EQ(store_.GetStoredRun(ended->run_id())->state(), v1::RUN_STATE_FAILED);
  EXPECT_EQ(store_.GetStoredTask("unstartable-task")->consecutive_failures(), 1u);
  EXPECT_EQ(run_storage_.prune_calls(), 0u);
}

TEST_F(TaskEngineTest, LateScheduledRunsAreCountedLate) {
  Seed(PruneTask("late-count-task", absl::Hours(1)), t0_ - absl::Minutes(1));
  Seed(PruneTask("on-time-task", absl::Hours(1)), t0_ + absl::Minutes(1));
  const uint64_t late_before = Counted("late-count-task", "late");
  const uint64_t on_time_before = Counted("on-time-task", "late");
  StartActive();
  Advance(absl::Minutes(1));
  ASSERT_EQ(run_storage_.prune_calls(), 2u);
  EXPECT_EQ(Counted("late-count-task", "late"), late_before + 1);
  EXPECT_EQ(Counted("on-time-task", "late"), on_time_before);
}

TEST_F(TaskEngineTest, ActivateWithANewerFenceWhileActiveReloadsUnderIt) {
  Seed(PruneTask("regrant-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("regrant-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  v1::Fence next = fence_;
  next.set_epoch(2);
  store_.SetLease(next);
  engine_->Activate(next);
  ASSERT_TRUE(Settle());
  ASSERT_TRUE(engine_->GetStatus().loaded);
  EXPECT_EQ(store_.GetStoredRun(run->run_id())->state(), v1::RUN_STATE_ABANDONED);
  EndPrune(Pruned(0));
  EXPECT_EQ(store_.calls(Method::kFinishRun), 0);
  ASSERT_TRUE(Trigger("regrant-task").ok());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(store_.start_run_requests().back().fence().epoch(), 2u);

  // The same epoch again only refreshes the fence: nothing reloads.
  const int lists = store_.calls(Method::kListTasks);
  engine_->Activate(next);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(store_.calls(Method::kListTasks), lists);
  EXPECT_EQ(StateOf("regrant-task").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::RUNNING);
}

TEST_F(TaskEngineTest, QueuedRunPastItsStartingDeadlineIsRecordedSkipped) {
  // storage.proto, Schedule.starting_deadline: a run that could not start
  // within it because the concurrency limit was full is recorded SKIPPED.
  options_.max_concurrent_runs = 1;
  Seed(PruneTask("deadline-busy", absl::Hours(1)), t0_ + absl::Hours(1));
  v1::Task task = PruneTask("deadline-queued", absl::Minutes(10));
  *task.mutable_schedule()->mutable_starting_deadline() = DurationToProto(absl::Seconds(30));
  Seed(task, t0_ + absl::Seconds(1));
  StartActive();
  ASSERT_TRUE(Trigger("deadline-busy").ok());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(run_storage_.prune_calls(), 1u);
  Advance(absl::Seconds(1));
  ASSERT_EQ(StateOf("deadline-queued").value_or(v1::TaskStatus::STATE_UNSPECIFIED),
            v1::TaskStatus::QUEUED);
  Advance(absl::Minutes(1));
  EndPrune(Pruned(0));
  EXPECT_EQ(run_storage_.prune_calls(), 1u);
  std::vector<v1::Run> runs = store_.StoredRuns("deadline-queued");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].state(), v1::RUN_STATE_SKIPPED);
  EXPECT_EQ(TimeFromProto(store_.GetStoredTask("deadline-queued")->next_run_time()),
            t0_ + absl::Seconds(1) + absl::Minutes(10));
}

TEST_F(TaskEngineTest, GetRunOfAFinishedRunAnswersTheStoredRecord) {
  Seed(PruneTask("get-run-task", absl::Hours(1)), t0_ + absl::Hours(1));
  StartActive();
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger("get-run-task");
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(Settle());
  v1::GetRunRequest get;
  get.set_run_id(run->run_id());
  absl::StatusOr<v1::GetRunResponse> live = Call(&TaskEngine::GetRun, get);
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->run().state(), v1::RUN_STATE_RUNNING);
  EndPrune(Pruned(2));
  absl::StatusOr<v1::GetRunResponse> stored = Call(&TaskEngine::GetRun, get);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->run().state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(stored->run().counts().items_total(), 2u);
  get.set_run_id("run-unknown");
  EXPECT_EQ(Call(&TaskEngine::GetRun, get).status().code(), absl::StatusCode::kNotFound);
}

class TaskEngineAsyncStoreTest : public ::testing::Test {
 protected:
  FakeWaitableClock clock_;
  FakeSchedulerStore store_{&clock_, FakeSchedulerStore::Answering::kOnOwnThread};
  FakeRunStorage run_storage_;
  FakeRunFetcher fetcher_;
  FixedJitterSource jitter_{0};
  RunEvents events_;
};

TEST_F(TaskEngineAsyncStoreTest, RunsWhenStorageAnswersOnAThreadOfItsOwn) {
  v1::Fence fence;
  fence.set_lease_name("scheduler");
  fence.set_holder_id("replica-a");
  fence.set_epoch(1);
  store_.SetLease(fence);
  v1::Task task = PruneTask("async-task", absl::Hours(1));
  *task.mutable_next_run_time() = TimeToProto(clock_.Now() + absl::Hours(1));
  store_.PutTask(task);
  TaskEngineOptions options;
  options.holder_id = "replica-a";
  options.create_default_tasks = false;
  TaskEngine engine(options, &store_, RunBackends{.storage = &run_storage_, .fetcher = &fetcher_},
                    &clock_, &jitter_, &events_);
  engine.Start();
  engine.Activate(fence);

  // Loading takes storage answers from the store's thread: wait for it
  // (bounded) before triggering.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (!engine.GetStatus().loaded && absl::Now() < give_up) std::this_thread::yield();
  ASSERT_TRUE(engine.GetStatus().loaded);
  v1::TriggerTaskRequest request;
  request.set_task_id("async-task");
  request.set_wait(true);
  Pending<v1::TriggerTaskResponse> waiting;
  engine.TriggerTask(request, waiting.Callback());
  ASSERT_TRUE(run_storage_.AwaitPrunes(1));
  EXPECT_FALSE(waiting.answered());
  ASSERT_TRUE(run_storage_.AnswerPrune(Pruned(7)));
  absl::StatusOr<v1::TriggerTaskResponse> ended = waiting.Await();
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->run().state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(ended->run().counts().items_total(), 7u);
  EXPECT_EQ(store_.GetStoredRun(ended->run_id())->state(), v1::RUN_STATE_SUCCEEDED);
  engine.Stop(absl::ZeroDuration());
}

}  // namespace
}  // namespace coffer::scheduler
