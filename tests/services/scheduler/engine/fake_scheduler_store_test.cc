// The fake's storage semantics, which the task engine tests rely on.
#include "tests/services/scheduler/engine/fake_scheduler_store.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "gtest/gtest.h"

#include "common/config/proto_duration.h"
#include "common/config/proto_timestamp.h"
#include "tests/services/scheduler/lease/fake_waitable_clock.h"

namespace coffer::scheduler {
namespace {

using config::DurationToProto;
using config::TimeFromProto;
using config::TimeToProto;
using Method = FakeSchedulerStore::Method;

// The answer of a synchronous fake's call.
template <typename T>
struct Sync {
  std::optional<absl::StatusOr<T>> reply;
  Answer<T> Callback() {
    return [this](absl::StatusOr<T> answer) { reply = std::move(answer); };
  }
  absl::StatusOr<T> get() const {
    return reply.has_value() ? *reply : absl::InternalError("not answered synchronously");
  }
};

class FakeSchedulerStoreTest : public ::testing::Test {
 protected:
  FakeSchedulerStoreTest() : store_(&clock_) {
    fence_.set_lease_name("scheduler");
    fence_.set_holder_id("replica-a");
    fence_.set_epoch(3);
    store_.SetLease(fence_);
  }

  absl::StatusOr<v1::Task> Create(const std::string& id, absl::Duration first_run_delay) {
    v1::CreateTaskDefinitionRequest request;
    request.mutable_task()->set_task_id(id);
    request.mutable_task()->set_kind(v1::TASK_KIND_PRUNE);
    *request.mutable_task()->mutable_schedule()->mutable_interval() =
        DurationToProto(absl::Hours(1));
    *request.mutable_task()->mutable_schedule()->mutable_first_run_delay() =
        DurationToProto(first_run_delay);
    Sync<v1::CreateTaskDefinitionResponse> sync;
    store_.CreateTask(request, sync.Callback());
    if (!sync.get().ok()) return sync.get().status();
    return sync.get()->task();
  }

  absl::StatusOr<v1::Run> Start(const std::string& run_id, const std::string& task_id,
                                const v1::Fence& fence) {
    v1::StartRunRequest request;
    *request.mutable_fence() = fence;
    request.set_run_id(run_id);
    request.set_task_id(task_id);
    request.set_trigger(v1::RUN_TRIGGER_MANUAL);
    Sync<v1::StartRunResponse> sync;
    store_.StartRun(request, sync.Callback());
    if (!sync.get().ok()) return sync.get().status();
    return sync.get()->run();
  }

  absl::StatusOr<v1::FinishRunResponse> Finish(const std::string& run_id, v1::RunState state,
                                               absl::Time next_run_time,
                                               const std::string& pause_note = "") {
    v1::FinishRunRequest request;
    *request.mutable_fence() = fence_;
    request.set_run_id(run_id);
    request.set_state(state);
    *request.mutable_next_run_time() = TimeToProto(next_run_time);
    request.set_consecutive_failures(state == v1::RUN_STATE_FAILED ? 1 : 0);
    request.set_pause_note(pause_note);
    Sync<v1::FinishRunResponse> sync;
    store_.FinishRun(request, sync.Callback());
    return sync.get();
  }

  FakeWaitableClock clock_;
  FakeSchedulerStore store_;
  v1::Fence fence_;
};

TEST_F(FakeSchedulerStoreTest, CreateSetsTheNextRunTimeFromTheFirstRunDelayOnItsClock) {
  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Task> task = Create("a-task", absl::Minutes(2));
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(TimeFromProto(task->next_run_time()), now + absl::Minutes(2));
  EXPECT_EQ(task->revision(), 1u);
  EXPECT_EQ(TimeFromProto(task->created_at()), now);
  EXPECT_EQ(Create("a-task", absl::ZeroDuration()).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(FakeSchedulerStoreTest, UpdateMergesTheMaskAndChecksTheExpectedRevision) {
  ASSERT_TRUE(Create("a-task", absl::ZeroDuration()).ok());
  v1::UpdateTaskDefinitionRequest request;
  request.mutable_task()->set_task_id("a-task");
  request.mutable_task()->set_paused(true);
  request.mutable_task()->set_description("ignored: not in the mask");
  request.mutable_update_mask()->add_paths("paused");
  request.set_expected_revision(2);
  Sync<v1::UpdateTaskDefinitionResponse> stale;
  store_.UpdateTask(request, stale.Callback());
  EXPECT_EQ(stale.get().status().code(), absl::StatusCode::kAborted);

  request.set_expected_revision(1);
  Sync<v1::UpdateTaskDefinitionResponse> updated;
  store_.UpdateTask(request, updated.Callback());
  ASSERT_TRUE(updated.get().ok()) << updated.get().status();
  EXPECT_TRUE(updated.get()->task().paused());
  EXPECT_TRUE(updated.get()->task().has_paused_at());
  EXPECT_TRUE(updated.get()->task().description().empty());
  EXPECT_EQ(updated.get()->task().revision(), 2u);

  request.mutable_update_mask()->set_paths(0, "revision");
  Sync<v1::UpdateTaskDefinitionResponse> forbidden;
  store_.UpdateTask(request, forbidden.Callback());
  EXPECT_EQ(forbidden.get().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FakeSchedulerStoreTest, StartRunRefusesASecondRunningRunAndStaleFences) {
  ASSERT_TRUE(Create("a-task", absl::ZeroDuration()).ok());
  absl::StatusOr<v1::Run> run = Start("run-1", "a-task", fence_);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ(run->lease_epoch(), 3u);
  // A retried StartRun answers the run it started.
  EXPECT_TRUE(Start("run-1", "a-task", fence_).ok());
  EXPECT_EQ(Start("run-2", "a-task", fence_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Start("run-3", "no-task", fence_).status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(Create("b-task", absl::ZeroDuration()).ok());
  v1::Fence old = fence_;
  old.set_epoch(2);
  EXPECT_EQ(Start("run-4", "b-task", old).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Start("run-4", "b-task", v1::Fence()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(FakeSchedulerStoreTest, FinishRunWritesTheTaskInTheSameStep) {
  ASSERT_TRUE(Create("a-task", absl::ZeroDuration()).ok());
  ASSERT_TRUE(Start("run-1", "a-task", fence_).ok());
  const absl::Time next = clock_.Now() + absl::Minutes(5);
  absl::StatusOr<v1::FinishRunResponse> finished =
      Finish("run-1", v1::RUN_STATE_FAILED, next, "paused after 1 failure");
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->run().state(), v1::RUN_STATE_FAILED);
  EXPECT_EQ(TimeFromProto(finished->task().next_run_time()), next);
  EXPECT_EQ(finished->task().consecutive_failures(), 1u);
  EXPECT_EQ(finished->task().last_run_id(), "run-1");
  EXPECT_TRUE(finished->task().paused());
  EXPECT_EQ(finished->task().status_note(), "paused after 1 failure");
  EXPECT_EQ(store_.GetStoredTask("a-task")->SerializeAsString(),
            finished->task().SerializeAsString());
  // The same FinishRun again is a retry; another one is refused.
  EXPECT_TRUE(Finish("run-1", v1::RUN_STATE_FAILED, next, "paused after 1 failure").ok());
  EXPECT_EQ(Finish("run-1", v1::RUN_STATE_SUCCEEDED, next).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(FakeSchedulerStoreTest, DeleteRefusesWhileARunIsRunning) {
  ASSERT_TRUE(Create("a-task", absl::ZeroDuration()).ok());
  ASSERT_TRUE(Start("run-1", "a-task", fence_).ok());
  v1::DeleteTaskDefinitionRequest request;
  request.set_task_id("a-task");
  Sync<v1::DeleteTaskDefinitionResponse> refused;
  store_.DeleteTask(request, refused.Callback());
  EXPECT_EQ(refused.get().status().code(), absl::StatusCode::kFailedPrecondition);

  v1::AbandonRunsRequest abandon;
  *abandon.mutable_fence() = fence_;
  abandon.set_reason("gone");
  Sync<v1::AbandonRunsResponse> abandoned;
  store_.AbandonRuns(abandon, abandoned.Callback());
  ASSERT_TRUE(abandoned.get().ok());
  ASSERT_EQ(abandoned.get()->runs_size(), 1);
  EXPECT_EQ(abandoned.get()->runs(0).state(), v1::RUN_STATE_ABANDONED);

  Sync<v1::DeleteTaskDefinitionResponse> deleted;
  store_.DeleteTask(request, deleted.Callback());
  EXPECT_TRUE(deleted.get().ok()) << deleted.get().status();
  EXPECT_FALSE(store_.GetStoredTask("a-task").has_value());
  EXPECT_TRUE(store_.StoredRuns("a-task").empty());
}

TEST_F(FakeSchedulerStoreTest, ListRunsAnswersNewestFirstInPages) {
  ASSERT_TRUE(Create("a-task", absl::ZeroDuration()).ok());
  for (const char* id : {"run-1", "run-2", "run-3"}) {
    ASSERT_TRUE(Start(id, "a-task", fence_).ok());
    ASSERT_TRUE(Finish(id, v1::RUN_STATE_SUCCEEDED, clock_.Now()).ok());
    clock_.Advance(absl::Seconds(1));
  }
  v1::ListRunRecordsRequest request;
  request.set_task_id("a-task");
  request.mutable_page()->set_page_size(2);
  Sync<v1::ListRunRecordsResponse> first;
  store_.ListRuns(request, first.Callback());
  ASSERT_TRUE(first.get().ok());
  ASSERT_EQ(first.get()->runs_size(), 2);
  EXPECT_EQ(first.get()->runs(0).run_id(), "run-3");
  EXPECT_EQ(first.get()->runs(1).run_id(), "run-2");
  request.mutable_page()->set_page_token(first.get()->page().next_page_token());
  Sync<v1::ListRunRecordsResponse> second;
  store_.ListRuns(request, second.Callback());
  ASSERT_TRUE(second.get().ok());
  ASSERT_EQ(second.get()->runs_size(), 1);
  EXPECT_EQ(second.get()->runs(0).run_id(), "run-1");
  EXPECT_TRUE(second.get()->page().next_page_token().empty());
}

TEST_F(FakeSchedulerStoreTest, InjectedFailuresComeAfterTheCallsLetThrough) {
  store_.FailNext(Method::kCreateTask, 1, absl::UnavailableError("down"), /*after=*/1);
  EXPECT_TRUE(Create("a-task", absl::ZeroDuration()).ok());
  EXPECT_EQ(Create("b-task", absl::ZeroDuration()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(store_.GetStoredTask("b-task").has_value());
  EXPECT_TRUE(Create("b-task", absl::ZeroDuration()).ok());
  EXPECT_EQ(store_.calls(Method::kCreateTask), 3);
  EXPECT_EQ(store_.create_task_requests().size(), 3u);
}

TEST(FakeSchedulerStoreOwnThreadTest, AnswersOnAnotherThread) {
  FakeWaitableClock clock;
  FakeSchedulerStore store(&clock, FakeSchedulerStore::Answering::kOnOwnThread);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::thread::id> answered_on;
  v1::GetTaskDefinitionRequest request;
  request.set_task_id("none");
  store.GetTask(request, [&](absl::StatusOr<v1::GetTaskDefinitionResponse> reply) {
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kNotFound);
    std::lock_guard<std::mutex> lock(mu);
    answered_on = std::this_thread::get_id();
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered_on.has_value(); }));
  EXPECT_NE(*answered_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace coffer::scheduler
