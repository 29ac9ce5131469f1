// GrpcSchedulerStore against the real coffer-storage: each call reaches its
// RPC (a task created, read, listed, updated; a run started, finished,
// listed, read; a run abandoned; the task deleted).
#include "services/scheduler/engine/scheduler_store.h"

#include <future>
#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/integration_test_base.h"

namespace coffer::testing {
namespace {

using scheduler::GrpcSchedulerStore;
using v1::Storage;

// Waits for the answer of `call(request, done)`.
template <typename Reply, typename Request, typename Method>
absl::StatusOr<Reply> Wait(GrpcSchedulerStore& store, Method method, const Request& request) {
  std::promise<absl::StatusOr<Reply>> answer;
  (store.*method)(request,
                  [&answer](absl::StatusOr<Reply> reply) { answer.set_value(std::move(reply)); });
  return answer.get_future().get();
}

class SchedulerStoreTest : public IntegrationTestBase {};

TEST_F(SchedulerStoreTest, EveryCallReachesStorage) {
  auto client = Client<Storage>(StartService(Service::kStorage));
  GrpcSchedulerStore store(client.get(), absl::Seconds(30));

  v1::AcquireLeaseRequest lease;
  lease.set_lease_name("scheduler");
  lease.set_holder_id("store-test");
  lease.mutable_ttl()->set_seconds(300);
  absl::StatusOr<v1::AcquireLeaseResponse> granted =
      client->CallBlocking(&Storage::Stub::PrepareAsyncAcquireLease, lease);
  ASSERT_TRUE(granted.ok() && granted->acquired()) << granted.status();
  v1::Fence fence;
  fence.set_lease_name("scheduler");
  fence.set_holder_id("store-test");
  fence.set_epoch(granted->lease().epoch());

  v1::CreateTaskDefinitionRequest create;
  *create.mutable_fence() = fence;
  create.mutable_task()->set_task_id("prices");
  create.mutable_task()->set_kind(v1::TASK_KIND_REFRESH_PRICES);
  create.mutable_task()->mutable_schedule()->mutable_interval()->set_seconds(600);
  auto created =
      Wait<v1::CreateTaskDefinitionResponse>(store, &GrpcSchedulerStore::CreateTask, create);
  ASSERT_TRUE(created.ok()) << created.status();

  v1::GetTaskDefinitionRequest get;
  get.set_task_id("prices");
  auto got = Wait<v1::GetTaskDefinitionResponse>(store, &GrpcSchedulerStore::GetTask, get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->task().schedule().interval().seconds(), 600);

  auto listed = Wait<v1::ListTaskDefinitionsResponse>(store, &GrpcSchedulerStore::ListTasks,
                                                      v1::ListTaskDefinitionsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->tasks_size(), 1);

  v1::UpdateTaskDefinitionRequest update;
  *update.mutable_fence() = fence;
  update.mutable_task()->set_task_id("prices");
  update.mutable_task()->set_description("every ten minutes");
  update.mutable_update_mask()->add_paths("description");
  auto updated =
      Wait<v1::UpdateTaskDefinitionResponse>(store, &GrpcSchedulerStore::UpdateTask, update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->task().description(), "every ten minutes");

  v1::StartRunRequest start;
  *start.mutable_fence() = fence;
  start.set_run_id("run-1");
  start.set_task_id("prices");
  start.set_trigger(v1::RUN_TRIGGER_MANUAL);
  auto started = Wait<v1::StartRunResponse>(store, &GrpcSchedulerStore::StartRun, start);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->run().state(), v1::RUN_STATE_RUNNING);

  v1::FinishRunRequest finish;
  *finish.mutable_fence() = fence;
  finish.set_run_id("run-1");
  finish.set_state(v1::RUN_STATE_SUCCEEDED);
  finish.mutable_next_run_time()->set_seconds(2000000000);
  auto finished = Wait<v1::FinishRunResponse>(store, &GrpcSchedulerStore::FinishRun, finish);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->task().next_run_time().seconds(), 2000000000);

  v1::GetRunRecordRequest get_run;
  get_run.set_run_id("run-1");
  auto run = Wait<v1::GetRunRecordResponse>(store, &GrpcSchedulerStore::GetRun, get_run);
  ASSERT_TRUE(run.ok()) << run.status();
  auto runs = Wait<v1::ListRunRecordsResponse>(store, &GrpcSchedulerStore::ListRuns,
                                               v1::ListRunRecordsRequest());
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_EQ(runs->runs_size(), 1);

  start.set_run_id("run-2");
  ASSERT_TRUE(Wait<v1::StartRunResponse>(store, &GrpcSchedulerStore::StartRun, start).ok());
  v1::AbandonRunsRequest abandon;
  *abandon.mutable_fence() = fence;
  abandon.set_reason("the replica restarted");
  auto abandoned = Wait<v1::AbandonRunsResponse>(store, &GrpcSchedulerStore::AbandonRuns, abandon);
  ASSERT_TRUE(abandoned.ok()) << abandoned.status();
  ASSERT_EQ(abandoned->runs_size(), 1);
  EXPECT_EQ(abandoned->runs(0).state(), v1::RUN_STATE_ABANDONED);

  v1::DeleteTaskDefinitionRequest remove;
  *remove.mutable_fence() = fence;
  remove.set_task_id("prices");
  ASSERT_TRUE(
      Wait<v1::DeleteTaskDefinitionResponse>(store, &GrpcSchedulerStore::DeleteTask, remove).ok());
  EXPECT_EQ(
      Wait<v1::GetTaskDefinitionResponse>(store, &GrpcSchedulerStore::GetTask, get).status().code(),
      absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace coffer::testing
