#include "services/scheduler/service/scheduler_service.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "common/config/proto_timestamp.h"

namespace coffer::scheduler {

using grpc_util::CallContext;
using grpc_util::Done;

namespace {

// Whether the lease, as this replica last saw it, had time left: a holder
// whose lease ran out is no longer active.
bool HasRemaining(const v1::Lease& lease) {
  return lease.remaining().seconds() > 0 || lease.remaining().nanos() > 0;
}

}  // namespace

SchedulerService::SchedulerService(std::string replica_id, TaskEngine* engine, RunEvents* events,
                                   DependencyMonitor* dependencies, WaitableClock* clock)
    : replica_id_(std::move(replica_id)),
      engine_(engine),
      dependencies_(dependencies),
      timer_("watch-timer", clock),
      watches_({
          .events = events,
          .current_runs =
              [engine](RunEvents::Filter filter,
                       absl::AnyInvocable<void(std::vector<v1::Run>) &&> done) {
                engine->CurrentRuns(std::move(filter), std::move(done));
              },
          .get_run =
              [engine](const v1::GetRunRequest& request, Answer<v1::GetRunResponse> done) {
                engine->GetRun(request, std::move(done));
              },
          .admit = [this] { return Admit(Access::kWrite); },
          .timer = &timer_,
      }) {}

SchedulerService::~SchedulerService() { Stop(); }

void SchedulerService::Register(grpc_util::AsyncServer& server) {
  server.RegisterService(&async_api_);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, CreateTask, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, GetTask, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, ListTasks, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, UpdateTask, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, DeleteTask, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, PauseTask, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, ResumeTask, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, TriggerTask, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, CancelRun, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, GetRun, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, ListRuns, this);
  COFFER_GRPC_SERVER_STREAMING(server, async_api_, v1::Scheduler, WatchRuns, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Scheduler, GetReplicaStatus, this);
  server.AddShutdownListener(
      [this] { watches_.Close(absl::UnavailableError("the scheduler is shutting down")); });
}

void SchedulerService::AttachLease(const LeaseKeeper* keeper, std::string address) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    address_ = std::move(address);
  }
  keeper_.store(keeper, std::memory_order_release);
}

void SchedulerService::OnLeaseLost(const absl::Status& reason) {
  watches_.EndAll(absl::UnavailableError(
      absl::StrCat("this replica stopped being the active scheduler: ", reason.message())));
}

void SchedulerService::Stop() {
  watches_.Close(absl::UnavailableError("the scheduler is shutting down"));
  timer_.Stop();
}

absl::Status SchedulerService::Admit(Access access) const {
  if (!dependencies_->IsServing(kStorageDependency)) {
    for (const v1::DependencyStatus& status : dependencies_->Statuses()) {
      if (status.name() != kStorageDependency) continue;
      return absl::UnavailableError(
          status.has_last_error() ? absl::StrCat("storage at ", status.target(),
                                                 " is not serving: ", status.last_error().message())
                                  : absl::StrCat("storage at ", status.target(),
                                                 " has not answered a health check yet"));
    }
    return absl::UnavailableError("storage is not serving");
  }
  if (access == Access::kRead) return absl::OkStatus();
  const LeaseKeeper* keeper = keeper_.load(std::memory_order_acquire);
  if (keeper != nullptr && keeper->CurrentFence().has_value()) return absl::OkStatus();
  return absl::UnavailableError(StandbyMessage(keeper));
}

std::string SchedulerService::StandbyMessage(const LeaseKeeper* keeper) const {
  if (keeper == nullptr) return "this replica is starting; it does not run tasks yet";
  const LeaseKeeperStatus status = keeper->GetStatus();
  if (!status.lease.has_value() || status.lease->holder_id().empty()) {
    return "this replica is a standby; no replica holds the lease yet";
  }
  const v1::Lease& lease = *status.lease;
  if (lease.holder_id() == replica_id_) {
    return "this replica is a standby; it is acquiring the lease again";
  }
  if (!HasRemaining(lease)) {
    return absl::StrCat("this replica is a standby; no replica holds the lease now (the last was ",
                        lease.holder_id(), " at ", lease.holder_address(), ")");
  }
  return absl::StrCat("this replica is a standby; the active scheduler is ", lease.holder_id(),
                      " at ", lease.holder_address());
}

template <typename Request, typename Reply>
void SchedulerService::ToEngine(Access access,
                                void (TaskEngine::*method)(const Request&, Answer<Reply>),
                                const Request& request, Reply* reply, Done done) {
  if (absl::Status admitted = Admit(access); !admitted.ok()) {
    done(std::move(admitted));
    return;
  }
  (engine_->*method)(request,
                     [reply, done = std::move(done)](absl::StatusOr<Reply> answer) mutable {
                       if (answer.ok()) *reply = *std::move(answer);
                       done(answer.status());
                     });
}

std::optional<SchedulerService::Active> SchedulerService::ForwardTarget(
    CallContext& context) const {
  if (forwarder_ == nullptr || !dependencies_->IsServing(kStorageDependency)) return std::nullopt;
  const LeaseKeeper* keeper = keeper_.load(std::memory_order_acquire);
  if (keeper == nullptr || keeper->CurrentFence().has_value()) return std::nullopt;
  if (ActiveForwarder::WasForwarded(context.server_context())) return std::nullopt;
  const LeaseKeeperStatus status = keeper->GetStatus();
  if (!status.lease.has_value()) return std::nullopt;
  const v1::Lease& lease = *status.lease;
  if (!HasRemaining(lease) || lease.holder_id().empty() || lease.holder_id() == replica_id_ ||
      lease.holder_address().empty()) {
    return std::nullopt;
  }
  return Active{.id = lease.holder_id(), .address = lease.holder_address()};
}

template <typename Request, typename Reply>
void SchedulerService::Write(CallContext& context,
                             void (TaskEngine::*method)(const Request&, Answer<Reply>),
                             ActiveForwarder::Prepare<Request, Reply> prepare,
                             const Request& request, Reply* reply, Done done) {
  if (std::optional<Active> active = ForwardTarget(context)) {
    forwarder_->Forward(active->id, active->address, context, prepare, request, reply,
                        std::move(done));
    return;
  }
  ToEngine(Access::kWrite, method, request, reply, std::move(done));
}

void SchedulerService::HandleCreateTask(CallContext& context, const v1::CreateTaskRequest& request,
                                        v1::CreateTaskResponse* reply, Done done) {
  Write(context, &TaskEngine::CreateTask, &v1::Scheduler::Stub::PrepareAsyncCreateTask, request,
        reply, std::move(done));
}

void SchedulerService::HandleGetTask(CallContext& /*context*/, const v1::GetTaskRequest& request,
                                     v1::GetTaskResponse* reply, Done done) {
  ToEngine(Access::kRead, &TaskEngine::GetTask, request, reply, std::move(done));
}

void SchedulerService::HandleListTasks(CallContext& /*context*/,
                                       const v1::ListTasksRequest& request,
                                       v1::ListTasksResponse* reply, Done done) {
  ToEngine(Access::kRead, &TaskEngine::ListTasks, request, reply, std::move(done));
}

void SchedulerService::HandleUpdateTask(CallContext& context, const v1::UpdateTaskRequest& request,
                                        v1::UpdateTaskResponse* reply, Done done) {
  Write(context, &TaskEngine::UpdateTask, &v1::Scheduler::Stub::PrepareAsyncUpdateTask, request,
        reply, std::move(done));
}

void SchedulerService::HandleDeleteTask(CallContext& context, const v1::DeleteTaskRequest& request,
                                        v1::DeleteTaskResponse* reply, Done done) {
  Write(context, &TaskEngine::DeleteTask, &v1::Scheduler::Stub::PrepareAsyncDeleteTask, request,
        reply, std::move(done));
}

void SchedulerService::HandlePauseTask(CallContext& context, const v1::PauseTaskRequest& request,
                                       v1::PauseTaskResponse* reply, Done done) {
  Write(context, &TaskEngine::PauseTask, &v1::Scheduler::Stub::PrepareAsyncPauseTask, request,
        reply, std::move(done));
}

void SchedulerService::HandleResumeTask(CallContext& context, const v1::ResumeTaskRequest& request,
                                        v1::ResumeTaskResponse* reply, Done done) {
  Write(context, &TaskEngine::ResumeTask, &v1::Scheduler::Stub::PrepareAsyncResumeTask, request,
        reply, std::move(done));
}

void SchedulerService::HandleTriggerTask(CallContext& context,
                                         const v1::TriggerTaskRequest& request,
                                         v1::TriggerTaskResponse* reply, Done done) {
  // With wait, the engine answers when the run ends; a client whose
  // deadline passes first gets DEADLINE_EXCEEDED from gRPC and the run
  // goes on (scheduler.proto).
  Write(context, &TaskEngine::TriggerTask, &v1::Scheduler::Stub::PrepareAsyncTriggerTask, request,
        reply, std::move(done));
}

void SchedulerService::HandleCancelRun(CallContext& context, const v1::CancelRunRequest& request,
                                       v1::CancelRunResponse* reply, Done done) {
  Write(context, &TaskEngine::CancelRun, &v1::Scheduler::Stub::PrepareAsyncCancelRun, request,
        reply, std::move(done));
}

void SchedulerService::HandleGetRun(CallContext& /*context*/, const v1::GetRunRequest& request,
                                    v1::GetRunResponse* reply, Done done) {
  ToEngine(Access::kRead, &TaskEngine::GetRun, request, reply, std::move(done));
}

void SchedulerService::HandleListRuns(CallContext& /*context*/, const v1::ListRunsRequest& request,
                                      v1::ListRunsResponse* reply, Done done) {
  ToEngine(Access::kRead, &TaskEngine::ListRuns, request, reply, std::move(done));
}

void SchedulerService::HandleWatchRuns(CallContext& context, const v1::WatchRunsRequest& request,
                                       grpc_util::ServerWriter<v1::WatchRunsResponse> writer) {
  // On a standby: the active replica's stream, relayed.
  if (std::optional<Active> active = ForwardTarget(context)) {
    forwarder_->ForwardStream(active->id, active->address,
                              &v1::Scheduler::Stub::PrepareAsyncWatchRuns, request,
                              std::move(writer));
    return;
  }
  // Admitted inside, once the stream is registered: a lease lost between
  // the check and the registration still ends it.
  watches_.Watch(request, std::move(writer));
}

void SchedulerService::HandleGetReplicaStatus(CallContext& /*context*/,
                                              const v1::GetReplicaStatusRequest& /*request*/,
                                              v1::GetReplicaStatusResponse* reply, Done done) {
  reply->set_replica_id(replica_id_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    reply->set_address(address_);
  }
  const LeaseKeeper* keeper = keeper_.load(std::memory_order_acquire);
  if (!dependencies_->HasBeenServing(kStorageDependency)) {
    reply->set_role(v1::GetReplicaStatusResponse::STARTING);
  } else if (keeper != nullptr && keeper->CurrentFence().has_value()) {
    reply->set_role(v1::GetReplicaStatusResponse::ACTIVE);
  } else {
    reply->set_role(v1::GetReplicaStatusResponse::STANDBY);
  }
  if (keeper != nullptr) {
    const LeaseKeeperStatus lease = keeper->GetStatus();
    if (lease.lease.has_value()) *reply->mutable_lease() = *lease.lease;
    if (lease.lease_checked_at != absl::InfinitePast()) {
      *reply->mutable_lease_checked_at() = config::TimeToProto(lease.lease_checked_at);
    }
  }
  for (v1::DependencyStatus& dependency : dependencies_->Statuses()) {
    *reply->add_dependencies() = std::move(dependency);
  }
  const TaskEngineStatus engine = engine_->GetStatus();
  reply->set_runs_in_flight(engine.runs_in_flight);
  reply->set_runs_queued(engine.runs_queued);
  reply->set_max_concurrent_runs(engine.max_concurrent_runs);
  reply->set_tasks_loaded(engine.tasks_loaded);
  done(absl::OkStatus());
}

}  // namespace coffer::scheduler
