#include "services/storage/repos/runs_repo.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/tasks_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

v1::Fence StaleFence() {
  v1::Fence fence = CurrentFence();
  fence.set_epoch(kEpoch - 1);
  return fence;
}

v1::FinishRunRequest Finish(const std::string& run_id, v1::RunState state) {
  v1::FinishRunRequest request;
  *request.mutable_fence() = CurrentFence();
  request.set_run_id(run_id);
  request.set_state(state);
  return request;
}

class RunsRepoTest : public RepoTestBase {
 protected:
  void SetUp() override {
    RepoTestBase::SetUp();
    PutLease(kLease, kHolder, kEpoch, kNow + absl::Hours(24));
  }

  void CreateTask(const std::string& task_id, uint32_t keep_last = 0,
                  absl::Duration keep_for = absl::ZeroDuration()) {
    v1::CreateTaskDefinitionRequest request;
    v1::Task* task = request.mutable_task();
    task->set_task_id(task_id);
    task->set_kind(v1::TASK_KIND_REFRESH_BALANCES);
    task->mutable_schedule()->mutable_interval()->set_seconds(60);
    if (keep_last > 0) task->mutable_run_retention()->set_keep_last(keep_last);
    if (keep_for > absl::ZeroDuration()) {
      *task->mutable_run_retention()->mutable_keep_for() =
          ToDuration(absl::ToInt64Nanoseconds(keep_for));
    }
    v1::CreateTaskDefinitionResponse response;
    absl::Status status = Write(
        [&](db::WriteContext& tx) { return CreateTaskDefinition(tx, request, &response, kNow); });
    ASSERT_TRUE(status.ok()) << status;
  }

  absl::Status Start(const std::string& run_id, const std::string& task_id, absl::Time now = kNow,
                     v1::Run* run = nullptr, const v1::Fence& fence = CurrentFence()) {
    v1::StartRunRequest request;
    *request.mutable_fence() = fence;
    request.set_run_id(run_id);
    request.set_task_id(task_id);
    request.set_trigger(v1::RUN_TRIGGER_SCHEDULED);
    request.set_coalesced(2);
    *request.mutable_scheduled_for() = At(now - absl::Seconds(1));
    v1::StartRunResponse response;
    absl::Status status =
        Write([&](db::WriteContext& tx) { return StartRun(tx, request, &response, now); });
    if (run != nullptr) *run = response.run();
    return status;
  }

  absl::Status End(const v1::FinishRunRequest& request, v1::FinishRunResponse* response,
                   absl::Time now = kNow + absl::Minutes(1)) {
    return Write([&](db::WriteContext& tx) { return FinishRun(tx, request, response, now); });
  }

  // Starts and finishes a run of `task_id` started at `at`.
  void RunOnce(const std::string& run_id, const std::string& task_id, absl::Time at,
               v1::RunState state = v1::RUN_STATE_SUCCEEDED) {
    ASSERT_TRUE(Start(run_id, task_id, at).ok());
    v1::FinishRunResponse response;
    absl::Status status = End(Finish(run_id, state), &response, at + absl::Seconds(10));
    ASSERT_TRUE(status.ok()) << status;
  }

  absl::StatusOr<v1::Run> GetRun(const std::string& run_id) {
    v1::GetRunRecordRequest request;
    request.set_run_id(run_id);
    v1::GetRunRecordResponse response;
    absl::Status status =
        Read([&](db::ReadContext& tx) { return GetRunRecord(tx, request, &response); });
    if (!status.ok()) return status;
    return response.run();
  }

  v1::Task GetTask(const std::string& task_id) {
    v1::GetTaskDefinitionRequest request;
    request.set_task_id(task_id);
    v1::GetTaskDefinitionResponse response;
    EXPECT_TRUE(
        Read([&](db::ReadContext& tx) { return GetTaskDefinition(tx, request, &response); }).ok());
    return response.task();
  }

  absl::Status List(const v1::ListRunRecordsRequest& request,
                    v1::ListRunRecordsResponse* response) {
    return Read([&](db::ReadContext& tx) { return ListRunRecords(tx, request, response); });
  }

  // Every run id the listing answers, following its pages.
  std::vector<std::string> ListAll(v1::ListRunRecordsRequest request, int* pages = nullptr) {
    std::vector<std::string> ids;
    int count = 0;
    do {
      v1::ListRunRecordsResponse response;
      absl::Status status = List(request, &response);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) break;
      for (const v1::Run& run : response.runs()) ids.push_back(run.run_id());
      request.mutable_page()->set_page_token(response.page().next_page_token());
      ++count;
    } while (!request.page().page_token().empty() && count < 100);
    if (pages != nullptr) *pages = count;
    return ids;
  }

  absl::Status Abandon(const std::vector<std::string>& task_ids, const std::string& holder,
                       v1::AbandonRunsResponse* response, const v1::Fence& fence = CurrentFence(),
                       const std::string& reason = "scheduler restarted") {
    v1::AbandonRunsRequest request;
    *request.mutable_fence() = fence;
    for (const std::string& id : task_ids) request.add_task_ids(id);
    request.set_holder_id(holder);
    request.set_reason(reason);
    return Write([&](db::WriteContext& tx) {
      return AbandonRuns(tx, request, response, kNow + absl::Minutes(2));
    });
  }
};

TEST_F(RunsRepoTest, StartRunRecordsARunningRun) {
  CreateTask("balances");
  v1::Run run;
  ASSERT_TRUE(Start("run-1", "balances", kNow, &run).ok());
  EXPECT_EQ(run.run_id(), "run-1");
  EXPECT_EQ(run.task_id(), "balances");
  EXPECT_EQ(run.task_kind(), v1::TASK_KIND_REFRESH_BALANCES);
  EXPECT_EQ(run.state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ(run.trigger(), v1::RUN_TRIGGER_SCHEDULED);
  EXPECT_EQ(run.coalesced(), 2u);
  EXPECT_EQ(run.holder_id(), kHolder);
  EXPECT_EQ(run.lease_epoch(), static_cast<uint64_t>(kEpoch));
  EXPECT_EQ(run.started_at().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(run.scheduled_for().seconds(), absl::ToUnixSeconds(kNow) - 1);
  EXPECT_FALSE(run.has_finished_at());
  EXPECT_FALSE(run.has_progress());
  absl::StatusOr<v1::Run> got = GetRun("run-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->DebugString(), run.DebugString());
}

TEST_F(RunsRepoTest, StartRunRetryAnswersTheRunAlreadyStarted) {
  CreateTask("balances");
  CreateTask("prices");
  v1::Run first;
  ASSERT_TRUE(Start("run-1", "balances", kNow, &first).ok());
  v1::Run retried;
  ASSERT_TRUE(Start("run-1", "balances", kNow + absl::Seconds(5), &retried).ok());
  EXPECT_EQ(retried.DebugString(), first.DebugString());
  EXPECT_EQ(Count("runs"), 1);
  absl::Status status = Start("run-1", "prices");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_EQ(Count("runs"), 1);
}

TEST_F(RunsRepoTest, StartRunRefusesOverlapAndUnknownTasks) {
  CreateTask("balances");
  CreateTask("prices");
  ASSERT_TRUE(Start("run-1", "balances").ok());
  absl::Status status = Start("run-2", "balances");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "run-1")) << status;
  // Another task may run meanwhile.
  EXPECT_TRUE(Start("run-3", "prices").ok());
  EXPECT_EQ(Start("run-4", "nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Count("runs"), 2);
  // Once the first finished, the next may start.
  v1::FinishRunResponse finished;
  ASSERT_TRUE(End(Finish("run-1", v1::RUN_STATE_SUCCEEDED), &finished).ok());
  EXPECT_TRUE(Start("run-2", "balances", kNow + absl::Minutes(2)).ok());
}

TEST_F(RunsRepoTest, StartRunValidatesItsRequest) {
  CreateTask("balances");
  EXPECT_EQ(Start("", "balances").code(), absl::StatusCode::kInvalidArgument);
  absl::Status status = Start("bad id!", "balances");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "run_id:")) << status;
  status = Start(std::string(65, 'r'), "balances");
  EXPECT_TRUE(absl::StartsWith(status.message(), "run_id:")) << status;
  status = Start("run-1", "");
  EXPECT_TRUE(absl::StartsWith(status.message(), "task_id:")) << status;
  v1::StartRunRequest request;
  *request.mutable_fence() = CurrentFence();
  request.set_run_id("run-1");
  request.set_task_id("balances");
  v1::StartRunResponse response;
  status = Write([&](db::WriteContext& tx) { return StartRun(tx, request, &response, kNow); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "trigger:")) << status;
  EXPECT_EQ(Count("runs"), 0);
}

TEST_F(RunsRepoTest, FenceIsRequiredAndCheckedOnEveryRunWrite) {
  CreateTask("balances");
  // Missing fence.
  absl::Status status = Start("run-1", "balances", kNow, nullptr, v1::Fence());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "fence.")) << status;
  // Stale epoch, other holder, expired lease.
  EXPECT_EQ(Start("run-1", "balances", kNow, nullptr, StaleFence()).code(),
            absl::StatusCode::kFailedPrecondition);
  v1::Fence other = CurrentFence();
  other.set_holder_id("replica-2");
  EXPECT_EQ(Start("run-1", "balances", kNow, nullptr, other).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Start("run-1", "balances", kNow + absl::Hours(25)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count("runs"), 0);

  ASSERT_TRUE(Start("run-1", "balances").ok());
  v1::FinishRunRequest finish = Finish("run-1", v1::RUN_STATE_SUCCEEDED);
  *finish.mutable_fence() = StaleFence();
  *finish.mutable_next_run_time() = At(kNow + absl::Hours(1));
  v1::FinishRunResponse finished;
  status = End(finish, &finished);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(GetRun("run-1")->state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ(GetTask("balances").revision(), 1u);

  v1::AbandonRunsResponse abandoned;
  status = Abandon({}, "", &abandoned, StaleFence());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(GetRun("run-1")->state(), v1::RUN_STATE_RUNNING);
}

TEST_F(RunsRepoTest, FinishRunRecordsTheOutcomeAndTheTaskSchedule) {
  CreateTask("balances");
  ASSERT_TRUE(Start("run-1", "balances").ok());
  v1::FinishRunRequest request = Finish("run-1", v1::RUN_STATE_PARTIAL);
  request.mutable_counts()->set_items_total(10);
  request.mutable_counts()->set_items_succeeded(8);
  request.mutable_counts()->set_items_failed(2);
  request.mutable_error()->set_code(v1::Error::UNAVAILABLE);
  request.mutable_error()->set_message("2 items failed");
  request.mutable_error()->set_upstream("mainnet-1");
  v1::ErrorSummary* group = request.add_error_summary();
  group->set_code(v1::Error::UNAVAILABLE);
  group->set_chain_id("eip155:1");
  group->set_count(2);
  group->set_sample_message("timeout");
  request.set_snapshot_id("snap-1");
  *request.mutable_next_run_time() = At(kNow + absl::Minutes(1));
  request.set_consecutive_failures(0);
  v1::FinishRunResponse response;
  ASSERT_TRUE(End(request, &response).ok());

  const v1::Run& run = response.run();
  EXPECT_EQ(run.state(), v1::RUN_STATE_PARTIAL);
  EXPECT_EQ(run.finished_at().seconds(), absl::ToUnixSeconds(kNow + absl::Minutes(1)));
  EXPECT_EQ(run.counts().items_failed(), 2u);
  EXPECT_EQ(run.error().message(), "2 items failed");
  EXPECT_EQ(run.error().upstream(), "mainnet-1");
  ASSERT_EQ(run.error_summary_size(), 1);
  EXPECT_EQ(run.error_summary(0).sample_message(), "timeout");
  EXPECT_EQ(run.snapshot_id(), "snap-1");
  EXPECT_EQ(GetRun("run-1")->DebugString(), run.DebugString());

  const v1::Task& task = response.task();
  EXPECT_EQ(task.next_run_time().seconds(), absl::ToUnixSeconds(kNow + absl::Minutes(1)));
  EXPECT_EQ(task.last_run_id(), "run-1");
  EXPECT_EQ(task.last_run_state(), v1::RUN_STATE_PARTIAL);
  EXPECT_EQ(task.last_run_finished_at().seconds(), run.finished_at().seconds());
  EXPECT_EQ(task.revision(), 2u);
  EXPECT_FALSE(task.paused());
  EXPECT_EQ(GetTask("balances").DebugString(), task.DebugString());
}

TEST_F(RunsRepoTest, FinishRunWithPauseNotePausesTheTask) {
  CreateTask("balances");
  ASSERT_TRUE(Start("run-1", "balances").ok());
  v1::FinishRunRequest request = Finish("run-1", v1::RUN_STATE_FAILED);
  request.mutable_error()->set_code(v1::Error::UNAVAILABLE);
  request.mutable_error()->set_message("fetcher down");
  request.set_consecutive_failures(3);
  request.set_pause_note("failed 3 times in a row");
  v1::FinishRunResponse response;
  ASSERT_TRUE(End(request, &response).ok());
  v1::Task task = GetTask("balances");
  EXPECT_TRUE(task.paused());
  EXPECT_EQ(task.status_note(), "failed 3 times in a row");
  EXPECT_EQ(task.paused_at().seconds(), absl::ToUnixSeconds(kNow + absl::Minutes(1)));
  EXPECT_EQ(task.consecutive_failures(), 3u);
  EXPECT_EQ(task.last_run_state(), v1::RUN_STATE_FAILED);
}

TEST_F(RunsRepoTest, FinishRunRepeatIsIdempotentAndADifferentOneRefused) {
  CreateTask("balances");
  ASSERT_TRUE(Start("run-1", "balances").ok());
  v1::FinishRunRequest request = Finish("run-1", v1::RUN_STATE_SUCCEEDED);
  request.mutable_counts()->set_items_total(4);
  request.mutable_counts()->set_items_succeeded(4);
  request.set_snapshot_id("snap-1");
  *request.mutable_next_run_time() = At(kNow + absl::Minutes(1));
  v1::FinishRunResponse first;
  ASSERT_TRUE(End(request, &first).ok());
  v1::FinishRunResponse repeated;
  absl::Status status = End(request, &repeated, kNow + absl::Minutes(3));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(repeated.run().DebugString(), first.run().DebugString());
  EXPECT_EQ(repeated.task().DebugString(), first.task().DebugString());
  EXPECT_EQ(GetTask("balances").revision(), 2u);

  v1::FinishRunRequest different = request;
  different.set_state(v1::RUN_STATE_FAILED);
  v1::FinishRunResponse refused;
  status = End(different, &refused);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  different = request;
  different.mutable_counts()->set_items_failed(1);
  EXPECT_EQ(End(different, &refused).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetRun("run-1")->state(), v1::RUN_STATE_SUCCEEDED);
}

TEST_F(RunsRepoTest, FinishRunValidatesItsRequest) {
  CreateTask("balances");
  ASSERT_TRUE(Start("run-1", "balances").ok());
  v1::FinishRunResponse response;
  for (v1::RunState state :
       {v1::RUN_STATE_UNSPECIFIED, v1::RUN_STATE_PENDING, v1::RUN_STATE_RUNNING}) {
    absl::Status status = End(Finish("run-1", state), &response);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_TRUE(absl::StartsWith(status.message(), "state:")) << status;
  }
  v1::FinishRunRequest request = Finish("run-1", v1::RUN_STATE_FAILED);
  request.mutable_error()->set_message("no code");
  absl::Status status = End(request, &response);
  EXPECT_TRUE(absl::StartsWith(status.message(), "error.code:")) << status;
  request = Finish("run-1", v1::RUN_STATE_FAILED);
  request.set_pause_note(std::string(257, 'n'));
  status = End(request, &response);
  EXPECT_TRUE(absl::StartsWith(status.message(), "pause_note:")) << status;
  request = Finish("run-1", v1::RUN_STATE_PARTIAL);
  for (int i = 0; i < 21; ++i) request.add_error_summary()->set_count(1);
  EXPECT_EQ(End(request, &response).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(End(Finish("nope", v1::RUN_STATE_FAILED), &response).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(GetRun("run-1")->state(), v1::RUN_STATE_RUNNING);
}

TEST_F(RunsRepoTest, FinishRunAppliesKeepLast) {
  CreateTask("balances", /*keep_last=*/2);
  CreateTask("prices");
  RunOnce("other-1", "prices", kNow);
  for (int i = 1; i <= 4; ++i) {
    RunOnce(absl::StrCat("run-", i), "balances", kNow + absl::Minutes(i));
  }
  v1::ListRunRecordsRequest request;
  request.set_task_id("balances");
  EXPECT_EQ(ListAll(request), (std::vector<std::string>{"run-4", "run-3"}));
  // Other tasks' runs are not touched.
  EXPECT_TRUE(GetRun("other-1").ok());
}

TEST_F(RunsRepoTest, FinishRunAppliesKeepFor) {
  CreateTask("balances", /*keep_last=*/0, /*keep_for=*/absl::Hours(1));
  RunOnce("old", "balances", kNow - absl::Minutes(61));
  RunOnce("recent", "balances", kNow - absl::Minutes(30));
  // Retention runs when a run finishes, judged by that moment.
  ASSERT_TRUE(Start("now", "balances", kNow).ok());
  EXPECT_TRUE(GetRun("old").ok());
  v1::FinishRunResponse response;
  ASSERT_TRUE(End(Finish("now", v1::RUN_STATE_SUCCEEDED), &response, kNow).ok());
  EXPECT_EQ(GetRun("old").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(GetRun("recent").ok());
  EXPECT_TRUE(GetRun("now").ok());
}

TEST_F(RunsRepoTest, ListRunRecordsPagesNewestFirstWithFilters) {
  CreateTask("balances");
  CreateTask("prices");
  // balances-1..5 one minute apart, prices-1..3 in between; two share a time.
  for (int i = 1; i <= 5; ++i) {
    RunOnce(absl::StrCat("balances-", i), "balances", kNow + absl::Minutes(i),
            i == 2 ? v1::RUN_STATE_FAILED : v1::RUN_STATE_SUCCEEDED);
  }
  for (int i = 1; i <= 3; ++i) {
    RunOnce(absl::StrCat("prices-", i), "prices", kNow + absl::Minutes(i + 1));
  }
  ASSERT_TRUE(Start("prices-4", "prices", kNow + absl::Minutes(10)).ok());

  v1::ListRunRecordsRequest all;
  all.mutable_page()->set_page_size(3);
  int pages = 0;
  EXPECT_EQ(
      ListAll(all, &pages),
      (std::vector<std::string>{"prices-4", "balances-5", "prices-3", "balances-4", "prices-2",
                                "balances-3", "prices-1", "balances-2", "balances-1"}));
  EXPECT_EQ(pages, 3);

  v1::ListRunRecordsRequest filtered;
  filtered.set_task_id("balances");
  filtered.add_states(v1::RUN_STATE_SUCCEEDED);
  filtered.add_states(v1::RUN_STATE_FAILED);
  *filtered.mutable_start_time() = At(kNow + absl::Minutes(2));
  *filtered.mutable_end_time() = At(kNow + absl::Minutes(5));
  filtered.mutable_page()->set_page_size(2);
  EXPECT_EQ(ListAll(filtered, &pages),
            (std::vector<std::string>{"balances-4", "balances-3", "balances-2"}));
  EXPECT_EQ(pages, 2);

  v1::ListRunRecordsRequest running;
  running.add_states(v1::RUN_STATE_RUNNING);
  EXPECT_EQ(ListAll(running), (std::vector<std::string>{"prices-4"}));

  // A token is bound to its filters: the same states in another order are
  // the same filter, another task is not.
  v1::ListRunRecordsResponse first;
  ASSERT_TRUE(List(filtered, &first).ok());
  ASSERT_FALSE(first.page().next_page_token().empty());
  v1::ListRunRecordsRequest reordered = filtered;
  reordered.clear_states();
  reordered.add_states(v1::RUN_STATE_FAILED);
  reordered.add_states(v1::RUN_STATE_SUCCEEDED);
  reordered.mutable_page()->set_page_token(first.page().next_page_token());
  v1::ListRunRecordsResponse next;
  ASSERT_TRUE(List(reordered, &next).ok());
  ASSERT_EQ(next.runs_size(), 1);
  EXPECT_EQ(next.runs(0).run_id(), "balances-2");
  v1::ListRunRecordsRequest other = reordered;
  other.set_task_id("prices");
  v1::ListRunRecordsResponse refused;
  absl::Status status = List(other, &refused);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "page.page_token")) << status;
  other = reordered;
  other.clear_end_time();
  EXPECT_EQ(List(other, &refused).code(), absl::StatusCode::kInvalidArgument);
  other = reordered;
  other.add_states(static_cast<v1::RunState>(42));
  other.mutable_page()->clear_page_token();
  status = List(other, &refused);
  EXPECT_TRUE(absl::StartsWith(status.message(), "states[2]:")) << status;
}

TEST_F(RunsRepoTest, GetRunRecordUnknownIsNotFound) {
  EXPECT_EQ(GetRun("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetRun("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RunsRepoTest, AbandonRunsMarksRunningRunsOfTheGivenTasksAndHolder) {
  for (const char* task : {"a", "b", "c", "d"}) CreateTask(task);
  ASSERT_TRUE(Start("a-1", "a").ok());
  ASSERT_TRUE(Start("b-1", "b").ok());
  ASSERT_TRUE(Start("c-1", "c").ok());
  RunOnce("d-1", "d", kNow);
  // c's run stands for one started by a replica that lost the lease.
  ASSERT_TRUE(Write([&](db::WriteContext& tx) -> absl::Status {
                absl::StatusOr<db::CachedStatement> update =
                    tx.Prepare("UPDATE runs SET holder_id = 'replica-0' WHERE run_id = 'c-1'");
                if (!update.ok()) return update.status();
                return (*update)->Run();
              }).ok());

  v1::AbandonRunsResponse response;
  ASSERT_TRUE(Abandon({"a", "d"}, "", &response).ok());
  ASSERT_EQ(response.runs_size(), 1);
  const v1::Run& run = response.runs(0);
  EXPECT_EQ(run.run_id(), "a-1");
  EXPECT_EQ(run.state(), v1::RUN_STATE_ABANDONED);
  EXPECT_EQ(run.error().code(), v1::Error::ABORTED);
  EXPECT_EQ(run.error().message(), "scheduler restarted");
  EXPECT_EQ(run.finished_at().seconds(), absl::ToUnixSeconds(kNow + absl::Minutes(2)));
  EXPECT_EQ(GetRun("a-1")->DebugString(), run.DebugString());
  v1::Task task = GetTask("a");
  EXPECT_EQ(task.last_run_id(), "a-1");
  EXPECT_EQ(task.last_run_state(), v1::RUN_STATE_ABANDONED);
  EXPECT_EQ(task.last_run_finished_at().seconds(), run.finished_at().seconds());
  EXPECT_EQ(task.revision(), 2u);
  EXPECT_EQ(GetTask("d").last_run_state(), v1::RUN_STATE_SUCCEEDED);

  // Only the old replica's runs.
  response.Clear();
  ASSERT_TRUE(Abandon({}, "replica-0", &response).ok());
  ASSERT_EQ(response.runs_size(), 1);
  EXPECT_EQ(response.runs(0).run_id(), "c-1");
  EXPECT_EQ(GetRun("b-1")->state(), v1::RUN_STATE_RUNNING);

  // Everything left; then nothing.
  response.Clear();
  ASSERT_TRUE(Abandon({}, "", &response).ok());
  ASSERT_EQ(response.runs_size(), 1);
  EXPECT_EQ(response.runs(0).run_id(), "b-1");
  response.Clear();
  ASSERT_TRUE(Abandon({}, "", &response).ok());
  EXPECT_EQ(response.runs_size(), 0);
  // An abandoned task can run again, and finishing an abandoned run is refused.
  EXPECT_TRUE(Start("b-2", "b", kNow + absl::Minutes(3)).ok());
  v1::FinishRunResponse finished;
  EXPECT_EQ(End(Finish("b-1", v1::RUN_STATE_SUCCEEDED), &finished).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RunsRepoTest, AbandonRunsRequiresAReason) {
  CreateTask("a");
  ASSERT_TRUE(Start("a-1", "a").ok());
  v1::AbandonRunsResponse response;
  absl::Status status = Abandon({}, "", &response, CurrentFence(), "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "reason:")) << status;
  EXPECT_EQ(Abandon({}, "", &response, v1::Fence()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetRun("a-1")->state(), v1::RUN_STATE_RUNNING);
}

TEST_F(RunsRepoTest, DatabaseRefusesASecondRunningRunOfATask) {
  // The unique partial index is what holds across replicas even if the
  // check in StartRun were skipped.
  CreateTask("a");
  ASSERT_TRUE(Start("a-1", "a").ok());
  absl::Status status = Write([&](db::WriteContext& tx) -> absl::Status {
    absl::StatusOr<db::CachedStatement> insert = tx.Prepare(
        "INSERT INTO runs (run_id, task_id, task_kind, state, started_at) "
        "VALUES ('a-2', 'a', 1, 2, 0)");
    if (!insert.ok()) return insert.status();
    return (*insert)->Run();
  });
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(Count("runs"), 1);
}

}  // namespace
}  // namespace coffer::storage
