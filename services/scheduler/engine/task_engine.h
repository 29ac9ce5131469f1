// TaskEngine: the scheduler's task loops. While this replica holds the
// lease it keeps every stored task's schedule, starts due runs under the
// global limit of concurrent runs, records each run in storage with the
// lease's fence, and carries out what people ask through the Scheduler API
// (create, update, delete, pause, resume, trigger, cancel).
//
//   TaskEngine engine(options, &store, backends, &clock, &jitter, &events);
//   engine.Start();
//   LeaseKeeper keeper(..., {.on_acquired = [&](const v1::Fence& f) { engine.Activate(f); },
//                            .on_lost = [&](const absl::Status& s) { engine.Deactivate(s); }});
//   engine.TriggerTask(request, [](absl::StatusOr<v1::TriggerTaskResponse> reply) { ... });
//   ...
//   keeper.Stop();   // Deactivate: every run cancelled
//   engine.Stop();   // joined
//
// Threading. The engine is an event loop on one thread of its own: every
// API call, storage answer, run progress and run end is posted to its inbox
// and handled there in order, so a task's state has one writer and needs no
// lock. Between events the thread sleeps on `clock` until the earliest due
// time, run deadline or retry. Nothing on it blocks: storage is reached
// through SchedulerStore's async calls, runs through their own async
// backends. Each task's loop is a small state machine on that thread (its
// "stop event" is DeleteTask or Deactivate, which cancel its run); one thread
// instead of one per task keeps thousands of tasks cheap and the order of
// events between tasks well defined.
//
// A task's loop:
//
//   IDLE/BACKING_OFF --due (DecideDue) or trigger--> QUEUED --slot--> STARTING
//     ^                                                                  | StartRun
//     |                                                                  v
//     +--FinishRun (next run time, failures, pause: one transaction)-- RUNNING
//
// A trigger while a run is queued or running is folded into one follow-up
// run (RUN_STATE_PENDING, its id answered at once) that starts when the
// current one has been recorded. A run past its timeout is cancelled and
// recorded TIMED_OUT. A missed run past the starting deadline is recorded
// SKIPPED. Storage failures (unreachable, timeouts) are retried with
// backoff; the task's schedule is never advanced by a write that failed.
//
// Leases. Activate(fence) loads the tasks, marks runs still recorded as
// running ABANDONED (their process died or lost the lease), creates the
// default tasks on a first start, and looks at every task once: missed runs
// become one CATCH_UP run (or SKIPPED past the starting deadline).
// Deactivate cancels every run and forgets every task: the next holder
// finds them in storage. Every write carries the fence, so storage refuses
// the writes of a replica that lost the lease while stalled.
//
// Thread-safe. Answers run on the engine's thread (or the caller's for
// an immediate refusal) and must not block.
#ifndef COFFER_SERVICES_SCHEDULER_ENGINE_TASK_ENGINE_H_
#define COFFER_SERVICES_SCHEDULER_ENGINE_TASK_ENGINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/scheduler.pb.h"
#include "coffer/v1/storage.pb.h"
#include "services/scheduler/engine/run_events.h"
#include "services/scheduler/engine/run_slots.h"
#include "services/scheduler/engine/scheduler_store.h"
#include "services/scheduler/lease/waitable_clock.h"
#include "services/scheduler/runs/run_outcome.h"
#include "services/scheduler/runs/run_starter.h"
#include "services/scheduler/schedule/jitter.h"

namespace coffer::scheduler {

struct TaskEngineOptions {
  // This replica's lease holder id: abandoned runs of other holders are
  // marked as such on activation.
  std::string holder_id;
  // Runs going at once across every task; more wait for a slot (QUEUED).
  int max_concurrent_runs = 4;
  // Create "refresh-balances" (every 5 minutes) and "refresh-prices" (every
  // 10) when storage holds no task at all on activation.
  bool create_default_tasks = true;
  // Retries of a failed storage call (load, StartRun, FinishRun): from
  // storage_retry_initial, doubling up to storage_retry_max.
  absl::Duration storage_retry_initial = absl::Milliseconds(500);
  absl::Duration storage_retry_max = absl::Seconds(15);
  // A run that starts later than this after its scheduled time counts as
  // late (metric coffer_scheduler_runs_total{event="late"}).
  absl::Duration late_threshold = absl::Seconds(10);
};

// What GetReplicaStatus reports of the engine; thread-safe snapshot.
struct TaskEngineStatus {
  bool active = false;
  // Tasks loaded and looked at once after Activate.
  bool loaded = false;
  uint32_t tasks_loaded = 0;
  uint32_t runs_in_flight = 0;
  uint32_t runs_queued = 0;
  uint32_t max_concurrent_runs = 0;
};

class TaskEngine {
 public:
  // Every pointer must outlive the engine. `clock` is the wall clock tasks
  // are scheduled on (Task.next_run_time is a wall time).
  TaskEngine(TaskEngineOptions options, SchedulerStore* store, RunBackends backends,
             WaitableClock* clock, JitterSource* jitter, RunEvents* events);
  ~TaskEngine();

  TaskEngine(const TaskEngine&) = delete;
  TaskEngine& operator=(const TaskEngine&) = delete;

  // Starts the engine's thread. Nothing runs before Activate.
  void Start();
  // Deactivates (cancelling every run, waiting at most `grace` for them to
  // end) and joins the thread. Answers every pending call UNAVAILABLE.
  // Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(5));

  // The lease is held with `fence`: load the tasks and run them. Thread-safe;
  // a second Activate replaces the fence (a new grant).
  void Activate(const v1::Fence& fence);
  // The lease is lost (or given up): cancel every run, forget every task.
  void Deactivate(const absl::Status& reason);

  // The Scheduler API, as scheduler.proto describes it. Each answers once.
  // Mutations while not active (or still loading) answer UNAVAILABLE.
  void CreateTask(const v1::CreateTaskRequest& request, Answer<v1::CreateTaskResponse> done);
  void GetTask(const v1::GetTaskRequest& request, Answer<v1::GetTaskResponse> done);
  void ListTasks(const v1::ListTasksRequest& request, Answer<v1::ListTasksResponse> done);
  void UpdateTask(const v1::UpdateTaskRequest& request, Answer<v1::UpdateTaskResponse> done);
  void DeleteTask(const v1::DeleteTaskRequest& request, Answer<v1::DeleteTaskResponse> done);
  void PauseTask(const v1::PauseTaskRequest& request, Answer<v1::PauseTaskResponse> done);
  void ResumeTask(const v1::ResumeTaskRequest& request, Answer<v1::ResumeTaskResponse> done);
  void TriggerTask(const v1::TriggerTaskRequest& request, Answer<v1::TriggerTaskResponse> done);
  void CancelRun(const v1::CancelRunRequest& request, Answer<v1::CancelRunResponse> done);
  void GetRun(const v1::GetRunRequest& request, Answer<v1::GetRunResponse> done);
  void ListRuns(const v1::ListRunsRequest& request, Answer<v1::ListRunsResponse> done);

  // The runs pending or running now that match `filter` (WatchRuns' CURRENT
  // events), answered on the engine's thread.
  void CurrentRuns(RunEvents::Filter filter,
                   absl::AnyInvocable<void(std::vector<v1::Run>) &&> done);

  TaskEngineStatus GetStatus() const;

 private:
  struct TaskState;
  struct LiveRun;
  struct Inbox;
  using Event = absl::AnyInvocable<void() &&>;
  using RunWaiter = absl::AnyInvocable<void(absl::StatusOr<v1::Run>) &&>;

  // Posts `event` to the engine's thread.
  void Post(Event event);
  void Loop();
  absl::Time NextWakeTime() const;
  // Due looks, run timeouts and storage retries.
  void OnTimers(absl::Time now);

  // The lease.
  void DoActivate(v1::Fence fence);
  void DoDeactivate(absl::Status reason);
  void LoadTasks(uint64_t generation, std::string page_token, std::vector<v1::Task> loaded);
  void AbandonStaleRuns(uint64_t generation, std::vector<v1::Task> tasks);
  void CreateDefaultTasks(uint64_t generation, std::vector<v1::Task> created,
                          std::vector<v1::Task> remaining);
  void FinishLoading(uint64_t generation, std::vector<v1::Task> tasks);
  void RetryLoadLater(const absl::Status& status);
  // Still the activation a callback was made for.
  bool Current(uint64_t generation) const { return active_ && generation == generation_; }

  // A task's loop.
  TaskState* Find(const std::string& task_id);
  TaskState& Adopt(v1::Task task, bool first_look);
  void Look(TaskState& task, absl::Time now);
  // A new run of `task`, PENDING, with its id.
  v1::Run PendingRun(const TaskState& task, v1::RunTrigger trigger, absl::Time scheduled_for);
  void Enqueue(TaskState& task, v1::Run run);
  void StartLive(TaskState& task, std::unique_ptr<LiveRun> live, bool needs_slot);
  LiveRun* CurrentRun(const std::string& task_id, const std::string& run_id, TaskState** task);
  void OnSlot(const std::string& task_id, const std::string& run_id, RunSlots::Slot slot);
  void SendStartRun(TaskState& task);
  void OnStartRun(const std::string& task_id, const std::string& run_id,
                  absl::StatusOr<v1::StartRunResponse> reply);
  void LaunchRun(TaskState& task);
  // Cancels a launched run and cuts its outstanding reads short.
  void StopRun(LiveRun& live, const v1::Error& reason);
  void OnRunProgress(const std::string& task_id, const std::string& run_id, v1::Progress progress);
  void OnRunDone(const std::string& task_id, const std::string& run_id, RunOutcome outcome);
  void Finish(TaskState& task, RunOutcome outcome);
  void SendFinishRun(TaskState& task);
  void OnFinishRun(const std::string& task_id, const std::string& run_id,
                   absl::StatusOr<v1::FinishRunResponse> reply);
  void RetryLater(LiveRun& live, const absl::Status& status, const char* call);
  // Ends the current run: its follow-up is queued, or the task looked at
  // again at `look_again_at` (at once by default).
  void EndRun(TaskState& task, const v1::Run& final_run,
              absl::Time look_again_at = absl::InfinitePast());
  void AnswerWaiters(const v1::Run& run);
  void CancelLive(TaskState& task, const v1::Error& reason);
  void SendDelete(const std::string& task_id);

  // The API's helpers.
  template <typename Reply, typename Body>
  void WithTask(const std::string& task_id, Answer<Reply> done, Body body);
  absl::Status CheckActive() const;
  v1::TaskStatus StatusOf(const TaskState& task) const;
  v1::TaskStatus StatusOfStored(v1::Task task) const;
  void DecorateRun(v1::Run& run) const;
  void UpdateStoredTask(TaskState& task, v1::Task changes, std::vector<std::string> paths,
                        uint64_t expected_revision,
                        absl::AnyInvocable<void(absl::StatusOr<TaskState*>) &&> done);

  // Bookkeeping.
  void Publish(v1::WatchRunsResponse::EventType type, const v1::Run& run);
  std::string NewRunId();
  void CountRun(const std::string& task_id, const char* event, uint64_t n = 1);
  void PublishStatus();

  const TaskEngineOptions options_;
  SchedulerStore* const store_;
  const RunBackends backends_;
  WaitableClock* const clock_;
  JitterSource* const jitter_;
  RunEvents* const events_;
  const std::shared_ptr<RunSlots> slots_;
  // Shared with every callback handed out, which may outlive the engine.
  const std::shared_ptr<Inbox> inbox_;

  std::mutex lifecycle_mu_;
  bool started_ = false;
  bool stopped_ = false;
  std::thread thread_;

  // The engine thread's own state.
  bool stop_loop_ = false;
  bool active_ = false;
  bool loaded_ = false;
  uint64_t generation_ = 0;  // one per Activate and Deactivate
  v1::Fence fence_;
  absl::Duration load_retry_delay_ = absl::ZeroDuration();
  absl::Time load_retry_at_ = absl::InfiniteFuture();
  std::map<std::string, std::unique_ptr<TaskState>> tasks_;
  // Default tasks still to create (a first start whose creation failed
  // part-way): created on the next load if still missing.
  std::vector<v1::Task> pending_defaults_;
  // TriggerTask{wait} and CancelRun{wait}, by run id.
  std::multimap<std::string, RunWaiter> run_waiters_;
  absl::BitGen bit_gen_;
  uint64_t run_sequence_ = 0;

  // GetStatus's copy, written by the engine's thread.
  mutable std::mutex status_mu_;
  TaskEngineStatus status_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_ENGINE_TASK_ENGINE_H_
