// coffer.v1.Scheduler on the async framework: a thin adapter over the task
// engine, which takes scheduler.proto requests and answers its responses.
// What the service adds is the replica's rules (scheduler.proto's service
// comment), the WatchRuns streams and GetReplicaStatus:
//
//   - While storage is not SERVING (by the DependencyMonitor) every call but
//     GetReplicaStatus answers UNAVAILABLE naming storage.
//   - Reads (GetTask, ListTasks, GetRun, ListRuns) always go to the engine,
//     which answers from storage when this replica is not active.
//   - Everything else on a replica without a fence: with a forwarder set
//     (SetForwarder) and a live lease held by another replica, passed on to
//     that replica, and its answer relayed. Otherwise (no forwarder, no
//     holder, a call already forwarded once) UNAVAILABLE: "this replica is a
//     standby; the active scheduler is <holder_id> at <holder_address>" (or
//     "no replica holds the lease yet"), so clients retry there. WatchRuns
//     is forwarded the same way (a relayed stream); its streams on the
//     active replica end UNAVAILABLE when the lease is lost.
//
//   SchedulerService api("sched-a", &engine, &events, &monitor, &wall_clock);
//   api.Register(host.server());
//   ... once the port is bound:
//   LeaseKeeper keeper(options, &lease_store, &steady_clock,
//                      {.on_acquired = [&](const v1::Fence& f) { engine.Activate(f); },
//                       .on_lost = [&](const absl::Status& why) {
//                         engine.Deactivate(why);
//                         api.OnLeaseLost(why);
//                       }});
//   api.AttachLease(&keeper, "10.0.0.7:50053");
//
// Handlers run on polling threads and only hand over: to the engine's
// thread, or to the WatchRuns machinery (watch_runs_call.h).
#ifndef COFFER_SERVICES_SCHEDULER_SERVICE_SCHEDULER_SERVICE_H_
#define COFFER_SERVICES_SCHEDULER_SERVICE_SCHEDULER_SERVICE_H_

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "common/grpc/async_server.h"
#include "services/scheduler/engine/run_events.h"
#include "services/scheduler/engine/task_engine.h"
#include "services/scheduler/lease/lease_keeper.h"
#include "services/scheduler/lease/waitable_clock.h"
#include "services/scheduler/service/active_forwarder.h"
#include "services/scheduler/service/dependency_monitor.h"
#include "services/scheduler/service/timer_thread.h"
#include "services/scheduler/service/watch_runs_call.h"

namespace coffer::scheduler {

// The DependencyMonitor name whose health gates every call.
inline constexpr char kStorageDependency[] = "storage";

class SchedulerService {
 public:
  // Every pointer must outlive the service. `clock` is the engine's wall
  // clock: it stamps CURRENT events and paces PROGRESS ones.
  SchedulerService(std::string replica_id, TaskEngine* engine, RunEvents* events,
                   DependencyMonitor* dependencies, WaitableClock* clock);
  // Ends the remaining streams and stops the timer, as Stop().
  ~SchedulerService();

  SchedulerService(const SchedulerService&) = delete;
  SchedulerService& operator=(const SchedulerService&) = delete;

  // Registers every method, and a shutdown listener that ends the WatchRuns
  // streams UNAVAILABLE. Before server.Start().
  void Register(grpc_util::AsyncServer& server);

  // The lease keeper (which must outlive the service) and the address this
  // replica advertises, known once the server has bound its port. Until
  // then the replica is STARTING and mutations answer UNAVAILABLE. Once;
  // any thread.
  void AttachLease(const LeaseKeeper* keeper, std::string address);

  // Lets this replica, while a standby, pass writes on to the active one
  // (active_forwarder.h) instead of answering UNAVAILABLE with its address.
  // `forwarder` outlives the service; before the server starts.
  void SetForwarder(ActiveForwarder* forwarder) { forwarder_ = forwarder; }

  // From the keeper's on_lost: ends every WatchRuns stream UNAVAILABLE.
  void OnLeaseLost(const absl::Status& reason);

  // Ends the remaining streams and joins the timer. Idempotent; after the
  // server has shut down.
  void Stop();

  void HandleCreateTask(grpc_util::CallContext& context, const v1::CreateTaskRequest& request,
                        v1::CreateTaskResponse* reply, grpc_util::Done done);
  void HandleGetTask(grpc_util::CallContext& context, const v1::GetTaskRequest& request,
                     v1::GetTaskResponse* reply, grpc_util::Done done);
  void HandleListTasks(grpc_util::CallContext& context, const v1::ListTasksRequest& request,
                       v1::ListTasksResponse* reply, grpc_util::Done done);
  void HandleUpdateTask(grpc_util::CallContext& context, const v1::UpdateTaskRequest& request,
                        v1::UpdateTaskResponse* reply, grpc_util::Done done);
  void HandleDeleteTask(grpc_util::CallContext& context, const v1::DeleteTaskRequest& request,
                        v1::DeleteTaskResponse* reply, grpc_util::Done done);
  void HandlePauseTask(grpc_util::CallContext& context, const v1::PauseTaskRequest& request,
                       v1::PauseTaskResponse* reply, grpc_util::Done done);
  void HandleResumeTask(grpc_util::CallContext& context, const v1::ResumeTaskRequest& request,
                        v1::ResumeTaskResponse* reply, grpc_util::Done done);
  void HandleTriggerTask(grpc_util::CallContext& context, const v1::TriggerTaskRequest& request,
                         v1::TriggerTaskResponse* reply, grpc_util::Done done);
  void HandleCancelRun(grpc_util::CallContext& context, const v1::CancelRunRequest& request,
                       v1::CancelRunResponse* reply, grpc_util::Done done);
  void HandleGetRun(grpc_util::CallContext& context, const v1::GetRunRequest& request,
                    v1::GetRunResponse* reply, grpc_util::Done done);
  void HandleListRuns(grpc_util::CallContext& context, const v1::ListRunsRequest& request,
                      v1::ListRunsResponse* reply, grpc_util::Done done);
  void HandleWatchRuns(grpc_util::CallContext& context, const v1::WatchRunsRequest& request,
                       grpc_util::ServerWriter<v1::WatchRunsResponse> writer);
  void HandleGetReplicaStatus(grpc_util::CallContext& context,
                              const v1::GetReplicaStatusRequest& request,
                              v1::GetReplicaStatusResponse* reply, grpc_util::Done done);

 private:
  enum class Access { kRead, kWrite };

  // OK when a call of this kind may go ahead on this replica now; else the
  // UNAVAILABLE it answers.
  absl::Status Admit(Access access) const;
  std::string StandbyMessage(const LeaseKeeper* keeper) const;

  // Admits the call (Admit) and hands it to the engine method of the same
  // name, filling the reply from its answer.
  template <typename Request, typename Reply>
  void ToEngine(Access access, void (TaskEngine::*method)(const Request&, Answer<Reply>),
                const Request& request, Reply* reply, grpc_util::Done done);
  // A write: to the engine on the active replica; on a standby, to the
  // active replica through the forwarder when one is set and the active is
  // known (and the call was not itself forwarded); else as ToEngine.
  template <typename Request, typename Reply>
  void Write(grpc_util::CallContext& context,
             void (TaskEngine::*method)(const Request&, Answer<Reply>),
             ActiveForwarder::Prepare<Request, Reply> prepare, const Request& request, Reply* reply,
             grpc_util::Done done);
  // The active replica (holder id and address) when this one is a standby
  // that should forward the call; nullopt otherwise.
  struct Active {
    std::string id;
    std::string address;
  };
  std::optional<Active> ForwardTarget(grpc_util::CallContext& context) const;

  const std::string replica_id_;
  TaskEngine* const engine_;
  DependencyMonitor* const dependencies_;
  v1::Scheduler::AsyncService async_api_;

  ActiveForwarder* forwarder_ = nullptr;
  std::atomic<const LeaseKeeper*> keeper_{nullptr};
  mutable std::mutex mu_;
  std::string address_ ABSL_GUARDED_BY(mu_);

  // The timer before the streams it paces: they end first.
  TimerThread timer_;
  RunWatches watches_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SERVICE_SCHEDULER_SERVICE_H_
