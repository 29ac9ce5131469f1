// SchedulerService in-process with the real task engine over a fake
// SchedulerStore, a real DependencyMonitor whose "storage" is this same
// server's health service, and a real LeaseKeeper over a fake lease store:
// the replica rules (storage first, reads always, the rest only when
// active), GetReplicaStatus, and WatchRuns ending when the lease goes.
#include "services/scheduler/service/scheduler_service.h"

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "common/config/proto_duration.h"
#include "common/grpc/async_client.h"
#include "common/grpc/async_server.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "common/grpc/health_service.h"
#include "services/scheduler/engine/run_events.h"
#include "services/scheduler/engine/scheduler_store.h"
#include "services/scheduler/engine/task_engine.h"
#include "services/scheduler/lease/lease_keeper.h"
#include "services/scheduler/schedule/jitter.h"
#include "services/scheduler/service/dependency_monitor.h"
#include "tests/services/scheduler/lease/fake_lease_store.h"
#include "tests/services/scheduler/lease/fake_waitable_clock.h"

namespace coffer::scheduler {
namespace {

constexpr char kReplica[] = "replica-a";
constexpr absl::Duration kCheckInterval = absl::Seconds(2);

// Storage as the engine sees it: no tasks, no stale runs; created tasks
// are recorded and answered as stored; everything else NOT_FOUND.
class FakeSchedulerStore : public SchedulerStore {
 public:
  void CreateTask(const v1::CreateTaskDefinitionRequest& request,
                  Answer<v1::CreateTaskDefinitionResponse> done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      creates_.push_back(request);
    }
    v1::CreateTaskDefinitionResponse reply;
    *reply.mutable_task() = request.task();
    reply.mutable_task()->set_revision(1);
    // Due long after any test ends, so nothing runs.
    reply.mutable_task()->mutable_next_run_time()->set_seconds(4'102'444'800);  // 2100
    std::move(done)(reply);
  }
  void GetTask(const v1::GetTaskDefinitionRequest& request,
               Answer<v1::GetTaskDefinitionResponse> done) override {
    std::move(done)(absl::NotFoundError(absl::StrCat("fake store: no task ", request.task_id())));
  }
  void ListTasks(const v1::ListTaskDefinitionsRequest& /*request*/,
                 Answer<v1::ListTaskDefinitionsResponse> done) override {
    std::move(done)(v1::ListTaskDefinitionsResponse());
  }
  void UpdateTask(const v1::UpdateTaskDefinitionRequest& /*request*/,
                  Answer<v1::UpdateTaskDefinitionResponse> done) override {
    std::move(done)(absl::NotFoundError("fake store"));
  }
  void DeleteTask(const v1::DeleteTaskDefinitionRequest& /*request*/,
                  Answer<v1::DeleteTaskDefinitionResponse> done) override {
    std::move(done)(absl::NotFoundError("fake store"));
  }
  void StartRun(const v1::StartRunRequest& /*request*/,
                Answer<v1::StartRunResponse> done) override {
    std::move(done)(absl::NotFoundError("fake store"));
  }
  void FinishRun(const v1::FinishRunRequest& /*request*/,
                 Answer<v1::FinishRunResponse> done) override {
    std::move(done)(absl::NotFoundError("fake store"));
  }
  void GetRun(const v1::GetRunRecordRequest& /*request*/,
              Answer<v1::GetRunRecordResponse> done) override {
    std::move(done)(absl::NotFoundError("fake store"));
  }
  void ListRuns(const v1::ListRunRecordsRequest& /*request*/,
                Answer<v1::ListRunRecordsResponse> done) override {
    std::move(done)(v1::ListRunRecordsResponse());
  }
  void AbandonRuns(const v1::AbandonRunsRequest& /*request*/,
                   Answer<v1::AbandonRunsResponse> done) override {
    std::move(done)(v1::AbandonRunsResponse());
  }

  std::vector<v1::CreateTaskDefinitionRequest> creates() const {
    std::lock_guard<std::mutex> lock(mu_);
    return creates_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<v1::CreateTaskDefinitionRequest> creates_;
};

v1::Lease LeaseOf(const std::string& holder, const std::string& address, uint64_t epoch) {
  v1::Lease lease;
  lease.set_lease_name("scheduler");
  lease.set_holder_id(holder);
  lease.set_holder_address(address);
  lease.set_epoch(epoch);
  lease.mutable_remaining()->set_seconds(15);
  return lease;
}

// An AsyncServer on a free loopback port with `services` registered.
std::unique_ptr<grpc_util::AsyncServer> StartServer(
    metrics::Registry& registry, const std::function<void(grpc_util::AsyncServer&)>& add) {
  grpc_util::AsyncServer::Options options;
  options.listen_address = "127.0.0.1:0";
  options.completion_queues = 1;
  options.enable_reflection = false;
  options.registry = &registry;
  auto server = std::make_unique<grpc_util::AsyncServer>(options);
  add(*server);
  absl::Status started = server->Start();
  EXPECT_TRUE(started.ok()) << started;
  return server;
}

class SchedulerServiceTest : public ::testing::Test {
 protected:
  using Scheduler = v1::Scheduler;

  SchedulerServiceTest() {
    storage_server_ = StartServer(
        registry_, [this](grpc_util::AsyncServer& server) { storage_health_.Register(server); });
    storage_target_ = absl::StrCat("127.0.0.1:", storage_server_->port());
    storage_health_client_ = std::make_unique<DependencyMonitor::HealthClient>(
        grpc_util::MakeChannel(storage_target_), &queue_);
    monitor_ = std::make_unique<DependencyMonitor>(
        std::vector<DependencyMonitor::Dependency>{
            {.name = "storage", .target = storage_target_, .health = storage_health_client_.get()}},
        DependencyMonitorOptions{.interval = kCheckInterval}, &monitor_clock_,
        [] { return absl::Now(); }, [](const std::string&, bool) {});
    api_ = std::make_unique<SchedulerService>(kReplica, &engine_, &events_, monitor_.get(),
                                              &engine_clock_);
    server_ =
        StartServer(registry_, [this](grpc_util::AsyncServer& server) { api_->Register(server); });
    client_ = std::make_unique<grpc_util::AsyncClient<Scheduler>>(
        grpc_util::MakeChannel(absl::StrCat("127.0.0.1:", server_->port())), &queue_);
    engine_.Start();
  }

  ~SchedulerServiceTest() override {
    server_->Shutdown(absl::Seconds(5));
    monitor_->Stop();
    StopKeeper();
    engine_.Stop();
    api_->Stop();
    storage_server_->Shutdown(absl::ZeroDuration());
    queue_.Shutdown();
  }

  // Stop waits on the fake clock for a lease call still out: time moves
  // until it returns.
  void StopKeeper() {
    if (keeper_ == nullptr) return;
    std::atomic<bool> stopped = false;
    std::thread stopper([&] {
      keeper_->Stop();
      stopped = true;
    });
    while (!stopped) {
      if (lease_clock_.AwaitBlockedWaiter(absl::Milliseconds(10))) {
        lease_clock_.Advance(absl::Seconds(5));
      }
    }
    stopper.join();
  }

  // The monitor has seen storage SERVING.
  void StorageServes() {
    storage_health_.SetServing(true);
    monitor_->Start();
    ASSERT_TRUE(monitor_clock_.AwaitBlockedWaiterUntil(monitor_clock_.Now() + kCheckInterval));
    ASSERT_TRUE(monitor_->IsServing("storage"));
  }

  // A keeper attached to the service and started; its first AcquireLease
  // waits for an answer.
  void StartKeeper() {
    LeaseKeeperOptions options;
    options.holder_id = kReplica;
    options.holder_address = "10.0.0.7:50053";
    keeper_ = std::make_unique<LeaseKeeper>(
        options, &lease_store_, &lease_clock_,
        LeaseKeeper::Callbacks{
            .on_acquired = [this](const v1::Fence& fence) { engine_.Activate(fence); },
            .on_lost =
                [this](const absl::Status& reason) {
                  engine_.Deactivate(reason);
                  api_->OnLeaseLost(reason);
                },
        });
    api_->AttachLease(keeper_.get(), "10.0.0.7:50053");
    ASSERT_TRUE(keeper_->Start().ok());
    ASSERT_TRUE(lease_clock_.AwaitBlockedWaiter());
    ASSERT_EQ(lease_store_.pending_acquires(), 1u);
  }

  void AnswerAcquire(bool acquired, v1::Lease lease) {
    v1::AcquireLeaseResponse reply;
    reply.set_acquired(acquired);
    *reply.mutable_lease() = std::move(lease);
    ASSERT_TRUE(lease_store_.AnswerAcquire(std::move(reply)));
    ASSERT_TRUE(lease_clock_.AwaitBlockedWaiter());
  }

  bool AwaitEngineLoaded() {
    for (int i = 0; i < 3000; ++i) {
      if (engine_.GetStatus().loaded) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  absl::StatusOr<v1::GetReplicaStatusResponse> ReplicaStatus() {
    return client_->CallBlocking(&Scheduler::Stub::PrepareAsyncGetReplicaStatus,
                                 v1::GetReplicaStatusRequest());
  }

  absl::StatusOr<v1::CreateTaskResponse> CreateTask() {
    v1::CreateTaskRequest request;
    request.mutable_task()->set_task_id("prices-hourly");
    request.mutable_task()->set_kind(v1::TASK_KIND_REFRESH_PRICES);
    *request.mutable_task()->mutable_schedule()->mutable_interval() =
        config::DurationToProto(absl::Hours(1));
    *request.mutable_task()->mutable_schedule()->mutable_first_run_delay() =
        config::DurationToProto(absl::Hours(1));
    return client_->CallBlocking(&Scheduler::Stub::PrepareAsyncCreateTask, request);
  }

  absl::Status GetTask() {
    v1::GetTaskRequest request;
    request.set_task_id("prices-hourly");
    return client_->CallBlocking(&Scheduler::Stub::PrepareAsyncGetTask, request).status();
  }

  metrics::Registry registry_;
  FakeSchedulerStore store_;
  FakeWaitableClock engine_clock_;
  FixedJitterSource jitter_{0.0};
  RunEvents events_;
  TaskEngine engine_{
      {.holder_id = kReplica, .max_concurrent_runs = 3, .create_default_tasks = false},
      &store_,
      RunBackends{},
      &engine_clock_,
      &jitter_,
      &events_};
  FakeWaitableClock monitor_clock_;
  FakeWaitableClock lease_clock_;
  FakeLeaseStore lease_store_;
  grpc_util::ClientQueue queue_{"test-client"};
  grpc_util::HealthService storage_health_;
  std::unique_ptr<grpc_util::AsyncServer> storage_server_;
  std::string storage_target_;
  std::unique_ptr<DependencyMonitor::HealthClient> storage_health_client_;
  std::unique_ptr<DependencyMonitor> monitor_;
  std::unique_ptr<LeaseKeeper> keeper_;
  std::unique_ptr<SchedulerService> api_;
  std::unique_ptr<grpc_util::AsyncServer> server_;
  std::unique_ptr<grpc_util::AsyncClient<Scheduler>> client_;
};

TEST_F(SchedulerServiceTest, UntilStorageServesOnlyReplicaStatusAnswers) {
  absl::StatusOr<v1::CreateTaskResponse> created = CreateTask();
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(created.status().message(), "storage at " + storage_target_))
      << created.status();
  EXPECT_EQ(GetTask().code(), absl::StatusCode::kUnavailable);

  absl::StatusOr<v1::GetReplicaStatusResponse> status = ReplicaStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->replica_id(), kReplica);
  EXPECT_EQ(status->role(), v1::GetReplicaStatusResponse::STARTING);
  EXPECT_FALSE(status->has_lease());
  ASSERT_EQ(status->dependencies_size(), 1);
  EXPECT_EQ(status->dependencies(0).name(), "storage");
  EXPECT_EQ(status->dependencies(0).target(), storage_target_);
  EXPECT_FALSE(status->dependencies(0).serving());
  EXPECT_EQ(status->max_concurrent_runs(), engine_.GetStatus().max_concurrent_runs);
}

TEST_F(SchedulerServiceTest, AStandbyReadsButRefersWritesToTheHolder) {
  StorageServes();
  // Reads reach the engine, which asks storage.
  absl::Status read = GetTask();
  EXPECT_EQ(read.code(), absl::StatusCode::kNotFound) << read;
  EXPECT_TRUE(absl::StrContains(read.message(), "fake store")) << read;
  // No keeper yet: starting.
  EXPECT_EQ(CreateTask().status().code(), absl::StatusCode::kUnavailable);

  StartKeeper();
  absl::StatusOr<v1::CreateTaskResponse> created = CreateTask();
  EXPECT_EQ(created.status().message(),
            "this replica is a standby; no replica holds the lease yet");
  AnswerAcquire(false, LeaseOf("replica-b", "10.0.0.9:50053", 4));
  created = CreateTask();
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(created.status().message(),
            "this replica is a standby; the active scheduler is replica-b at 10.0.0.9:50053");
  EXPECT_TRUE(store_.creates().empty());

  absl::StatusOr<v1::GetReplicaStatusResponse> status = ReplicaStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->role(), v1::GetReplicaStatusResponse::STANDBY);
  EXPECT_EQ(status->address(), "10.0.0.7:50053");
  EXPECT_EQ(status->lease().holder_id(), "replica-b");
  EXPECT_EQ(status->lease().epoch(), 4u);
  EXPECT_TRUE(status->has_lease_checked_at());
  EXPECT_TRUE(status->dependencies(0).serving());
  EXPECT_EQ(status->tasks_loaded(), 0u);

  // WatchRuns is not a read: refused the same way.
  auto done = std::make_shared<std::promise<absl::Status>>();
  client_->Stream(
      &Scheduler::Stub::PrepareAsyncWatchRuns, v1::WatchRunsRequest(),
      [](const v1::WatchRunsResponse&) { ADD_FAILURE() << "a standby streamed an event"; },
      [done](absl::Status end) { done->set_value(std::move(end)); });
  absl::Status watch = done->get_future().get();
  EXPECT_EQ(watch.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(watch.message(), created.status().message());
}

TEST_F(SchedulerServiceTest, TheActiveReplicaForwardsWritesWithItsFence) {
  StorageServes();
  StartKeeper();
  AnswerAcquire(true, LeaseOf(kReplica, "10.0.0.7:50053", 7));
  ASSERT_TRUE(AwaitEngineLoaded());

  absl::StatusOr<v1::CreateTaskResponse> created = CreateTask();
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->task().task().task_id(), "prices-hourly");
  ASSERT_EQ(store_.creates().size(), 1u);
  EXPECT_EQ(store_.creates()[0].fence().epoch(), 7u);
  EXPECT_EQ(store_.creates()[0].fence().holder_id(), kReplica);

  absl::StatusOr<v1::GetReplicaStatusResponse> status = ReplicaStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->role(), v1::GetReplicaStatusResponse::ACTIVE);
  EXPECT_EQ(status->lease().holder_id(), kReplica);
  EXPECT_EQ(status->max_concurrent_runs(), 3u);
}

TEST_F(SchedulerServiceTest, WatchesEndWhenTheLeaseIsLost) {
  StorageServes();
  StartKeeper();
  AnswerAcquire(true, LeaseOf(kReplica, "10.0.0.7:50053", 7));
  ASSERT_TRUE(AwaitEngineLoaded());

  std::promise<absl::Status> ended;
  std::atomic<int> messages = 0;
  client_->Stream(
      &Scheduler::Stub::PrepareAsyncWatchRuns, v1::WatchRunsRequest(),
      [&](const v1::WatchRunsResponse&) { ++messages; },
      [&](absl::Status end) { ended.set_value(std::move(end)); }, {.timeout = absl::Seconds(60)});
  for (int i = 0; i < 3000 && events_.subscribers() == 0; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(events_.subscribers(), 1u);

  // The local deadline passes without a renewal: the keeper steps down.
  lease_clock_.Advance(absl::Seconds(15));
  absl::Status end = ended.get_future().get();
  EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(end.message(), "stopped being the active scheduler")) << end;
  EXPECT_EQ(messages.load(), 0);
}

}  // namespace
}  // namespace coffer::scheduler
