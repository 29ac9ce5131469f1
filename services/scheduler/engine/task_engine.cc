#include "services/scheduler/engine/task_engine.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include <google/protobuf/util/field_mask_util.h>
#include <spdlog/spdlog.h>

#include "common/config/proto_duration.h"
#include "common/config/proto_timestamp.h"
#include "common/log/fmt_absl.h"
#include "common/metrics/registry.h"
#include "services/scheduler/runs/cancellable_backends.h"
#include "services/scheduler/schedule/due_decision.h"
#include "services/scheduler/schedule/next_run.h"
#include "services/scheduler/schedule/schedule_validation.h"

namespace coffer::scheduler {
namespace {

using config::DurationFromProto;
using config::DurationToProto;
using config::TimeFromProto;
using config::TimeToProto;

constexpr int kTaskPageSize = 1000;
constexpr char kAbandonReason[] =
    "the scheduler running it stopped or lost its lease before the run ended";

// Storage errors worth another try: the call may succeed later as it is.
bool Retryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

bool Terminal(v1::RunState state) {
  return state != v1::RUN_STATE_UNSPECIFIED && state != v1::RUN_STATE_PENDING &&
         state != v1::RUN_STATE_RUNNING;
}

const char* EventOfState(v1::RunState state) {
  switch (state) {
    case v1::RUN_STATE_SUCCEEDED:
      return "succeeded";
    case v1::RUN_STATE_PARTIAL:
      return "partial";
    case v1::RUN_STATE_FAILED:
      return "failed";
    case v1::RUN_STATE_CANCELLED:
      return "cancelled";
    case v1::RUN_STATE_TIMED_OUT:
      return "timed_out";
    case v1::RUN_STATE_ABANDONED:
      return "abandoned";
    case v1::RUN_STATE_SKIPPED:
      return "skipped";
    default:
      return "unknown";
  }
}

v1::Error MakeError(v1::Error::Code code, std::string message) {
  v1::Error error;
  error.set_code(code);
  error.set_message(std::move(message));
  return error;
}

absl::Status Unavailable(absl::string_view why) { return absl::UnavailableError(why); }

// The default tasks of a first start (scheduler.proto, issue 6).
std::vector<v1::Task> DefaultTasks() {
  std::vector<v1::Task> tasks(2);
  tasks[0].set_task_id("refresh-balances");
  tasks[0].set_kind(v1::TASK_KIND_REFRESH_BALANCES);
  tasks[0].set_description("Refreshes every account's balances (default task)");
  *tasks[0].mutable_schedule()->mutable_interval() = DurationToProto(absl::Minutes(5));
  tasks[0].mutable_schedule()->set_jitter(0.1);
  tasks[1].set_task_id("refresh-prices");
  tasks[1].set_kind(v1::TASK_KIND_REFRESH_PRICES);
  tasks[1].set_description("Prices every held asset (default task)");
  *tasks[1].mutable_schedule()->mutable_interval() = DurationToProto(absl::Minutes(10));
  tasks[1].mutable_schedule()->set_jitter(0.1);
  for (v1::Task& task : tasks) {
    task.mutable_run_retention()->set_keep_last(1000);
    *task.mutable_run_retention()->mutable_keep_for() = DurationToProto(absl::Hours(30 * 24));
  }
  // Prices after the first balances, so the first prices cover them.
  *tasks[1].mutable_schedule()->mutable_first_run_delay() = DurationToProto(absl::Seconds(30));
  return tasks;
}

// The output-only fields of a Task a creator may not set.
void ClearOutputOnly(v1::Task& task) {
  task.clear_paused_at();
  task.clear_next_run_time();
  task.clear_consecutive_failures();
  task.clear_last_run_id();
  task.clear_last_run_state();
  task.clear_last_run_finished_at();
  task.clear_created_at();
  task.clear_updated_at();
  task.clear_revision();
}

const char* ParamsFieldOf(v1::TaskKind kind) {
  switch (kind) {
    case v1::TASK_KIND_REFRESH_BALANCES:
      return "refresh_balances";
    case v1::TASK_KIND_REFRESH_PRICES:
      return "refresh_prices";
    case v1::TASK_KIND_BACKUP:
      return "backup";
    case v1::TASK_KIND_PRUNE:
      return "prune";
    default:
      return "";
  }
}

absl::Status CheckNote(const std::string& note, absl::string_view field) {
  if (note.size() > kMaxPauseNoteBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": at most ", kMaxPauseNoteBytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

// A run of a task from the moment it is due or triggered until storage has
// recorded its end.
struct TaskEngine::LiveRun {
  enum class Phase { kQueued, kStarting, kRunning, kFinishing };

  ~LiveRun() { ticket.Withdraw(); }

  v1::Run record;  // PENDING, then RUNNING as storage answered, with progress
  Phase phase = Phase::kQueued;
  RunSlots::Ticket ticket;  // while queued
  RunSlots::Slot slot;      // from the slot's grant to the end
  std::shared_ptr<Run> run;
  // The run's backends: cancelling a run also cuts its outstanding reads.
  std::shared_ptr<CancellableBackends> calls;
  absl::Time deadline = absl::InfiniteFuture();  // the run timeout, on clock_
  bool timed_out = false;
  // A cancel asked before the run was launched: it is recorded without
  // running.
  std::optional<v1::Error> cancel_reason;
  // A SKIPPED record: started and finished at once, no slot, this next run.
  std::optional<absl::Time> skip_next_run_time;
  // Once the run ended: the FinishRun to send (and re-send, identically).
  std::optional<v1::FinishRunRequest> finish;
  // Retry of StartRun or FinishRun after a storage failure.
  absl::Time retry_at = absl::InfiniteFuture();
  absl::Duration retry_delay = absl::ZeroDuration();
};

struct TaskEngine::TaskState {
  v1::Task task;
  // The first decision since Activate: a due run is a CATCH_UP.
  bool first_look = true;
  // When Look should run again (DecideDue's wait, or a pause after a
  // refused StartRun).
  absl::Time look_at = absl::InfinitePast();
  std::unique_ptr<LiveRun> current;
  // A trigger during `current`, folded into one run (PENDING).
  std::optional<v1::Run> follow_up;
  // DeleteTask waits for the current run to end.
  std::optional<std::pair<bool, Answer<v1::DeleteTaskResponse>>> deleting;
};

// What outlives the engine for the callbacks it hands out (store answers,
// run progress): they post here, and posts after Stop are dropped.
struct TaskEngine::Inbox {
  std::mutex mu;
  std::deque<Event> events;
  bool closed = false;
  Wakeup wakeup;
  // Runs launched and not ended, for Stop's grace.
  int live_runs = 0;
  std::condition_variable runs_ended;
  // Serializes the events run after the thread ended (they may post more).
  std::recursive_mutex after_close_mu;
  bool engine_gone = false;

  void Post(Event event) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!closed) {
        events.push_back(std::move(event));
        wakeup.Notify();
        return;
      }
    }
    // The engine's thread has ended: run it here, one at a time. The engine
    // is inactive by then, so an event only answers its caller (UNAVAILABLE,
    // or a read from storage) or finds its run gone; none is lost unanswered.
    {
      std::lock_guard<std::recursive_mutex> lock(after_close_mu);
      if (!engine_gone) {
        std::move(event)();
        return;
      }
    }
    // After the engine is destroyed: dropped, outside the locks (it may hold
    // a RunSlots::Slot whose release posts again).
    event = nullptr;
  }

  // No thread takes events any more: what was posted and not taken, and
  // whatever is posted from now on, runs on the posting thread (Post).
  void Close() {
    std::deque<Event> rest;
    {
      std::lock_guard<std::mutex> lock(mu);
      closed = true;
      rest.swap(events);
    }
    std::lock_guard<std::recursive_mutex> lock(after_close_mu);
    for (Event& event : rest) std::move(event)();
  }
};

TaskEngine::TaskEngine(TaskEngineOptions options, SchedulerStore* store, RunBackends backends,
                       WaitableClock* clock, JitterSource* jitter, RunEvents* events)
    : options_(std::move(options)),
      store_(store),
      backends_(backends),
      clock_(clock),
      jitter_(jitter),
      events_(events),
      slots_(RunSlots::Create(options_.max_concurrent_runs)),
      inbox_(std::make_shared<Inbox>()) {
  status_.max_concurrent_runs = static_cast<uint32_t>(slots_->max());
}

TaskEngine::~TaskEngine() {
  Stop();
  std::lock_guard<std::recursive_mutex> lock(inbox_->after_close_mu);
  inbox_->engine_gone = true;
}

void TaskEngine::Start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_ || stopped_) return;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void TaskEngine::Stop(absl::Duration grace) {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) {
    // No thread will take the inbox: close it here, so what was posted and
    // what is posted from now on is answered on the posting thread.
    stop_loop_ = true;
    inbox_->Close();
    return;
  }
  Post([this]() mutable {
    DoDeactivate(Unavailable("the scheduler is shutting down"));
    stop_loop_ = true;
  });
  thread_.join();
  // The runs cancelled above end on their backends' threads; give them the
  // grace to do so, so nothing of theirs is still calling out when the
  // clients they use are destroyed after this.
  std::unique_lock<std::mutex> inbox_lock(inbox_->mu);
  inbox_->runs_ended.wait_for(inbox_lock, absl::ToChronoNanoseconds(grace),
                              [&] { return inbox_->live_runs == 0; });
  if (inbox_->live_runs > 0) {
    spdlog::warn("scheduler: {} run(s) still ending after the shutdown grace", inbox_->live_runs);
  }
}

void TaskEngine::Post(Event event) { inbox_->Post(std::move(event)); }

void TaskEngine::Loop() {
  while (true) {
    std::deque<Event> batch;
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      batch.swap(inbox_->events);
    }
    for (Event& event : batch) {
      std::move(event)();
      event = nullptr;
    }
    if (stop_loop_) break;
    OnTimers(clock_->Now());
    PublishStatus();
    bool idle;
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      idle = inbox_->events.empty();
    }
    if (idle) clock_->WaitUntil(NextWakeTime(), inbox_->wakeup);
  }
  PublishStatus();
  inbox_->Close();
}

absl::Time TaskEngine::NextWakeTime() const {
  absl::Time next = load_retry_at_;
  for (const auto& [id, task] : tasks_) {
    if (task->current == nullptr) {
      next = std::min(next, task->look_at);
    } else {
      next = std::min({next, task->current->deadline, task->current->retry_at});
    }
  }
  return next;
}

void TaskEngine::OnTimers(absl::Time now) {
  if (active_ && !loaded_ && now >= load_retry_at_) {
    load_retry_at_ = absl::InfiniteFuture();
    LoadTasks(generation_, "", {});
  }
  if (!loaded_) return;
  // Look may erase nothing but can start runs: collect ids first.
  std::vector<std::string> ids;
  ids.reserve(tasks_.size());
  for (const auto& [id, task] : tasks_) ids.push_back(id);
  for (const std::string& id : ids) {
    TaskState* task = Find(id);
    if (task == nullptr) continue;
    LiveRun* live = task->current.get();
    if (live == nullptr) {
      if (now >= task->look_at) Look(*task, now);
      continue;
    }
    if (live->phase == LiveRun::Phase::kRunning && !live->timed_out && now >= live->deadline) {
      live->timed_out = true;
      live->deadline = absl::InfiniteFuture();
      live->record.set_cancel_requested(true);
      const v1::Error reason =
          MakeError(v1::Error::DEADLINE_EXCEEDED,
                    absl::StrCat("the run exceeded its timeout of ",
                                 absl::FormatDuration(EffectiveRunTimeout(task->task.schedule()))));
      StopRun(*live, reason);
    }
    if (now >= live->retry_at) {
      live->retry_at = absl::InfiniteFuture();
      if (live->phase == LiveRun::Phase::kStarting) {
        SendStartRun(*task);
      } else if (live->phase == LiveRun::Phase::kFinishing) {
        SendFinishRun(*task);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The lease

void TaskEngine::Activate(const v1::Fence& fence) {
  Post([this, fence]() mutable { DoActivate(fence); });
}

void TaskEngine::Deactivate(const absl::Status& reason) {
  Post([this, reason]() mutable { DoDeactivate(reason); });
}

void TaskEngine::DoActivate(v1::Fence fence) {
  if (stop_loop_) return;
  if (active_ && fence.epoch() == fence_.epoch()) {
    fence_ = std::move(fence);
    return;
  }
  if (active_) DoDeactivate(Unavailable("a new lease was granted"));
  active_ = true;
  loaded_ = false;
  ++generation_;
  fence_ = std::move(fence);
  load_retry_delay_ = absl::ZeroDuration();
  spdlog::info("scheduler: active with lease epoch {}; loading tasks", fence_.epoch());
  LoadTasks(generation_, "", {});
}

void TaskEngine::DoDeactivate(absl::Status reason) {
  if (!active_) return;
  spdlog::warn("scheduler: no longer active: {}", reason);
  active_ = false;
  loaded_ = false;
  ++generation_;
  load_retry_at_ = absl::InfiniteFuture();
  const v1::Error error = MakeError(v1::Error::UNAVAILABLE, std::string(reason.message()));
  for (auto& [id, task] : tasks_) {
    if (task->current != nullptr && task->current->run != nullptr) StopRun(*task->current, error);
    if (task->deleting.has_value()) std::move(task->deleting->second)(reason);
  }
  // The runs' own ends are ignored from here (another generation); the next
  // holder marks what storage still records as running ABANDONED.
  tasks_.clear();
  auto waiters = std::move(run_waiters_);
  run_waiters_.clear();
  for (auto& [run_id, waiter] : waiters) std::move(waiter)(reason);
}

void TaskEngine::LoadTasks(uint64_t generation, std::string page_token,
                           std::vector<v1::Task> loaded) {
  v1::ListTaskDefinitionsRequest request;
  request.mutable_page()->set_page_size(kTaskPageSize);
  request.mutable_page()->set_page_token(page_token);
  store_->ListTasks(request, [this, inbox = inbox_, generation, loaded = std::move(loaded)](
                                 absl::StatusOr<v1::ListTaskDefinitionsResponse> reply) mutable {
    inbox->Post([this, generation, loaded = std::move(loaded), reply = std::move(reply)]() mutable {
      if (!Current(generation)) return;
      if (!reply.ok()) {
        RetryLoadLater(reply.status());
        return;
      }
      for (v1::Task& task : *reply->mutable_tasks()) loaded.push_back(std::move(task));
      if (!reply->page().next_page_token().empty()) {
        LoadTasks(generation, reply->page().next_page_token(), std::move(loaded));
      } else {
        AbandonStaleRuns(generation, std::move(loaded));
      }
    });
  });
}

void TaskEngine::AbandonStaleRuns(uint64_t generation, std::vector<v1::Task> tasks) {
  v1::AbandonRunsRequest request;
  *request.mutable_fence() = fence_;
  request.set_reason(kAbandonReason);
  store_->AbandonRuns(request, [this, inbox = inbox_, generation, tasks = std::move(tasks)](
                                   absl::StatusOr<v1::AbandonRunsResponse> reply) mutable {
    inbox->Post([this, generation, tasks = std::move(tasks), reply = std::move(reply)]() mutable {
      if (!Current(generation)) return;
      if (!reply.ok()) {
        RetryLoadLater(reply.status());
        return;
      }
      for (const v1::Run& run : reply->runs()) {
        spdlog::warn(
            "scheduler: run {} of task {} was in flight when its scheduler stopped: "
            "recorded ABANDONED",
            run.run_id(), run.task_id());
        CountRun(run.task_id(), "abandoned");
      }
      if (tasks.empty() && options_.create_default_tasks) pending_defaults_ = DefaultTasks();
      std::vector<v1::Task> missing;
      for (const v1::Task& task : pending_defaults_) {
        const bool exists = std::any_of(tasks.begin(), tasks.end(), [&](const v1::Task& loaded) {
          return loaded.task_id() == task.task_id();
        });
        if (!exists) missing.push_back(task);
      }
      CreateDefaultTasks(generation, std::move(tasks), std::move(missing));
    });
  });
}

void TaskEngine::CreateDefaultTasks(uint64_t generation, std::vector<v1::Task> created,
                                    std::vector<v1::Task> remaining) {
  if (remaining.empty()) {
    pending_defaults_.clear();
    FinishLoading(generation, std::move(created));
    return;
  }
  v1::CreateTaskDefinitionRequest request;
  *request.mutable_fence() = fence_;
  *request.mutable_task() = remaining.front();
  remaining.erase(remaining.begin());
  store_->CreateTask(request, [this, inbox = inbox_, generation, created = std::move(created),
                               remaining = std::move(remaining)](
                                  absl::StatusOr<v1::CreateTaskDefinitionResponse> reply) mutable {
    inbox->Post([this, generation, created = std::move(created), remaining = std::move(remaining),
                 reply = std::move(reply)]() mutable {
      if (!Current(generation)) return;
      if (!reply.ok()) {
        // ALREADY_EXISTS: another replica created it meanwhile; the reload
        // finds it.
        RetryLoadLater(reply.status());
        return;
      }
      spdlog::info("scheduler: created the default task {}", reply->task().task_id());
      created.push_back(std::move(*reply->mutable_task()));
      CreateDefaultTasks(generation, std::move(created), std::move(remaining));
    });
  });
}

void TaskEngine::FinishLoading(uint64_t generation, std::vector<v1::Task> tasks) {
  if (!Current(generation)) return;
  loaded_ = true;
  load_retry_delay_ = absl::ZeroDuration();
  for (v1::Task& task : tasks) Adopt(std::move(task), /*first_look=*/true);
  spdlog::info("scheduler: {} task(s) loaded", tasks_.size());
  const absl::Time now = clock_->Now();
  for (auto& [id, task] : tasks_) Look(*task, now);
}

void TaskEngine::RetryLoadLater(const absl::Status& status) {
  load_retry_delay_ = load_retry_delay_ == absl::ZeroDuration()
                          ? options_.storage_retry_initial
                          : std::min(load_retry_delay_ * 2, options_.storage_retry_max);
  load_retry_at_ = clock_->Now() + load_retry_delay_;
  spdlog::warn("scheduler: loading tasks failed ({}); again in {}", status,
               absl::FormatDuration(load_retry_delay_));
}

// ---------------------------------------------------------------------------
// A task's loop

TaskEngine::TaskState* TaskEngine::Find(const std::string& task_id) {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? nullptr : it->second.get();
}

TaskEngine::TaskState& TaskEngine::Adopt(v1::Task task, bool first_look) {
  auto state = std::make_unique<TaskState>();
  state->first_look = first_look;
  const std::string id = task.task_id();
  state->task = std::move(task);
  TaskState& result = *state;
  tasks_[id] = std::move(state);
  return result;
}

void TaskEngine::Look(TaskState& task, absl::Time now) {
  if (task.current != nullptr || task.deleting.has_value()) return;
  const v1::Schedule& schedule = task.task.schedule();
  const DueDecision decision = DecideDue(DueInput{
      .now = now,
      .next_run_time = TimeFromProto(task.task.next_run_time()),
      .interval = DurationFromProto(schedule.interval()),
      .starting_deadline = DurationFromProto(schedule.starting_deadline()),
      .paused = task.task.paused(),
      .first_look = task.first_look,
  });
  task.first_look = false;
  if (const auto* wait = std::get_if<WaitUntil>(&decision)) {
    task.look_at = wait->until;
  } else if (const auto* due = std::get_if<RunDue>(&decision)) {
    v1::Run run = PendingRun(task, due->trigger, due->scheduled_for);
    run.set_coalesced(due->coalesced);
    if (due->coalesced > 0) CountRun(task.task.task_id(), "coalesced", due->coalesced);
    Enqueue(task, std::move(run));
  } else if (const auto* skip = std::get_if<SkipMissed>(&decision)) {
    spdlog::warn(
        "scheduler: task {} missed its run due at {} by more than its starting "
        "deadline: recorded SKIPPED",
        task.task.task_id(), absl::FormatTime(skip->scheduled_for));
    v1::Run run = PendingRun(task, v1::RUN_TRIGGER_SCHEDULED, skip->scheduled_for);
    run.set_coalesced(skip->coalesced);
    auto live = std::make_unique<LiveRun>();
    live->record = std::move(run);
    live->skip_next_run_time = skip->next_run_time;
    StartLive(task, std::move(live), /*needs_slot=*/false);
  }
}

v1::Run TaskEngine::PendingRun(const TaskState& task, v1::RunTrigger trigger,
                               absl::Time scheduled_for) {
  v1::Run run;
  run.set_run_id(NewRunId());
  run.set_task_id(task.task.task_id());
  run.set_task_kind(task.task.kind());
  run.set_state(v1::RUN_STATE_PENDING);
  run.set_trigger(trigger);
  *run.mutable_scheduled_for() = TimeToProto(scheduled_for);
  return run;
}

void TaskEngine::Enqueue(TaskState& task, v1::Run run) {
  auto live = std::make_unique<LiveRun>();
  live->record = std::move(run);
  StartLive(task, std::move(live), /*needs_slot=*/true);
}

void TaskEngine::StartLive(TaskState& task, std::unique_ptr<LiveRun> live, bool needs_slot) {
  v1::Run& record = live->record;
  if (task.task.has_refresh_balances() && task.task.refresh_balances().bypass_cache()) {
    record.set_forced(true);
  }
  task.current = std::move(live);
  LiveRun& current = *task.current;
  Publish(v1::WatchRunsResponse::QUEUED, current.record);
  if (!needs_slot) {
    current.phase = LiveRun::Phase::kStarting;
    SendStartRun(task);
    return;
  }
  current.phase = LiveRun::Phase::kQueued;
  current.ticket = slots_->Acquire([this, inbox = inbox_, generation = generation_,
                                    task_id = task.task.task_id(),
                                    run_id = current.record.run_id()](RunSlots::Slot slot) mutable {
    inbox->Post([this, generation, task_id, run_id, slot = std::move(slot)]() mutable {
      if (Current(generation)) OnSlot(task_id, run_id, std::move(slot));
    });
  });
}

TaskEngine::LiveRun* TaskEngine::CurrentRun(const std::string& task_id, const std::string& run_id,
                                            TaskState** task_out) {
  TaskState* task = Find(task_id);
  if (task == nullptr || task->current == nullptr || task->current->record.run_id() != run_id) {
    return nullptr;
  }
  if (task_out != nullptr) *task_out = task;
  return task->current.get();
}

void TaskEngine::OnSlot(const std::string& task_id, const std::string& run_id,
                        RunSlots::Slot slot) {
  TaskState* task = nullptr;
  LiveRun* live = CurrentRun(task_id, run_id, &task);
  if (live == nullptr || live->phase != LiveRun::Phase::kQueued) return;  // slot freed
  // A scheduled run that waited for its slot past the starting deadline is
  // recorded SKIPPED instead of starting late (Schedule.starting_deadline);
  // the slot goes back at once.
  const v1::Schedule& schedule = task->task.schedule();
  const absl::Duration starting_deadline = DurationFromProto(schedule.starting_deadline());
  const absl::Time scheduled = TimeFromProto(live->record.scheduled_for());
  const absl::Time now = clock_->Now();
  if (live->record.trigger() != v1::RUN_TRIGGER_MANUAL &&
      starting_deadline > absl::ZeroDuration() && now - scheduled > starting_deadline) {
    const absl::Duration interval = DurationFromProto(schedule.interval());
    absl::Duration unused;
    live->skip_next_run_time =
        scheduled + (absl::IDivDuration(now - scheduled, interval, &unused) + 1) * interval;
    live->phase = LiveRun::Phase::kStarting;
    SendStartRun(*task);
    return;
  }
  live->slot = std::move(slot);
  live->phase = LiveRun::Phase::kStarting;
  SendStartRun(*task);
}

void TaskEngine::SendStartRun(TaskState& task) {
  LiveRun& live = *task.current;
  v1::StartRunRequest request;
  *request.mutable_fence() = fence_;
  request.set_run_id(live.record.run_id());
  request.set_task_id(live.record.task_id());
  request.set_trigger(live.record.trigger());
  request.set_forced(live.record.forced());
  request.set_coalesced(live.record.coalesced());
  *request.mutable_scheduled_for() = live.record.scheduled_for();
  store_->StartRun(
      request, [this, inbox = inbox_, generation = generation_, task_id = task.task.task_id(),
                run_id = live.record.run_id()](absl::StatusOr<v1::StartRunResponse> reply) mutable {
        inbox->Post([this, generation, task_id, run_id, reply = std::move(reply)]() mutable {
          if (Current(generation)) OnStartRun(task_id, run_id, std::move(reply));
        });
      });
}

void TaskEngine::OnStartRun(const std::string& task_id, const std::string& run_id,
                            absl::StatusOr<v1::StartRunResponse> reply) {
  TaskState* task = nullptr;
  LiveRun* live = CurrentRun(task_id, run_id, &task);
  if (live == nullptr || live->phase != LiveRun::Phase::kStarting) return;
  if (!reply.ok()) {
    if (Retryable(reply.status())) {
      RetryLater(*live, reply.status(), "StartRun");
      return;
    }
    // Refused for good (the task is gone, another run of it is recorded as
    // running, the fence is stale): this attempt ends unrecorded, and the
    // task looks again after a while rather than at once.
    spdlog::error("scheduler: storage refused to start run {} of task {}: {}", run_id, task_id,
                  reply.status());
    v1::Run ended = live->record;
    ended.set_state(v1::RUN_STATE_FAILED);
    *ended.mutable_error() = ErrorOfStatus(reply.status(), "StartRun", "storage");
    EndRun(*task, ended, clock_->Now() + options_.storage_retry_max);
    return;
  }
  live->retry_delay = absl::ZeroDuration();
  const v1::Progress progress = live->record.progress();
  live->record = std::move(*reply->mutable_run());
  *live->record.mutable_progress() = progress;
  if (live->skip_next_run_time.has_value()) {
    Finish(*task, RunOutcome{.state = v1::RUN_STATE_SKIPPED,
                             .error = MakeError(v1::Error::DEADLINE_EXCEEDED,
                                                "missed by more than the starting deadline")});
    return;
  }
  if (live->cancel_reason.has_value()) {
    live->record.set_cancel_requested(true);
    Finish(*task, RunOutcome{.state = v1::RUN_STATE_CANCELLED, .error = *live->cancel_reason});
    return;
  }
  CountRun(task_id, "started");
  const absl::Time started = TimeFromProto(live->record.started_at());
  const absl::Time scheduled = TimeFromProto(live->record.scheduled_for());
  if (live->record.trigger() != v1::RUN_TRIGGER_MANUAL &&
      started - scheduled > options_.late_threshold) {
    CountRun(task_id, "late");
  }
  LaunchRun(*task);
}

void TaskEngine::LaunchRun(TaskState& task) {
  LiveRun& live = *task.current;
  live.phase = LiveRun::Phase::kRunning;
  live.deadline = clock_->Now() + EffectiveRunTimeout(task.task.schedule());
  Publish(v1::WatchRunsResponse::STARTED, live.record);
  const std::string task_id = task.task.task_id();
  const std::string run_id = live.record.run_id();
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    ++inbox_->live_runs;
  }
  live.calls = CancellableBackends::Create(backends_);
  absl::StatusOr<std::shared_ptr<Run>> run = StartTaskRun(
      live.calls->backends(), task.task,
      RunContext{.run_id = run_id,
                 .fence = fence_,
                 .forced = live.record.forced(),
                 .started_at = TimeFromProto(live.record.started_at())},
      [this, inbox = inbox_, generation = generation_, task_id,
       run_id](const v1::Progress& progress) {
        inbox->Post([this, generation, task_id, run_id, progress]() mutable {
          if (Current(generation)) OnRunProgress(task_id, run_id, progress);
        });
      },
      // Holding `calls` keeps the backends the run calls through alive
      // until it has ended.
      [this, inbox = inbox_, generation = generation_, task_id, run_id,
       calls = live.calls](RunOutcome outcome) {
        {
          std::lock_guard<std::mutex> lock(inbox->mu);
          --inbox->live_runs;
        }
        inbox->runs_ended.notify_all();
        inbox->Post([this, generation, task_id, run_id, outcome = std::move(outcome)]() mutable {
          if (Current(generation)) OnRunDone(task_id, run_id, std::move(outcome));
        });
      });
  if (!run.ok()) {
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      --inbox_->live_runs;
    }
    Finish(task, RunOutcome{.state = v1::RUN_STATE_FAILED,
                            .error = ErrorOfStatus(run.status(), "start", "scheduler")});
    return;
  }
  live.run = *std::move(run);
}

void TaskEngine::StopRun(LiveRun& live, const v1::Error& reason) {
  live.run->Cancel(reason);
  // The run ends once its outstanding calls answered: reads answer now.
  live.calls->CancelReads(absl::CancelledError(reason.message()));
}

void TaskEngine::OnRunProgress(const std::string& task_id, const std::string& run_id,
                               v1::Progress progress) {
  LiveRun* live = CurrentRun(task_id, run_id, nullptr);
  if (live == nullptr || live->phase != LiveRun::Phase::kRunning) return;
  *live->record.mutable_progress() = std::move(progress);
  Publish(v1::WatchRunsResponse::PROGRESS, live->record);
}

void TaskEngine::OnRunDone(const std::string& task_id, const std::string& run_id,
                           RunOutcome outcome) {
  TaskState* task = nullptr;
  LiveRun* live = CurrentRun(task_id, run_id, &task);
  if (live == nullptr || live->phase != LiveRun::Phase::kRunning) return;
  live->run = nullptr;
  if (live->timed_out && outcome.state == v1::RUN_STATE_CANCELLED) {
    outcome.state = v1::RUN_STATE_TIMED_OUT;
  }
  Finish(*task, std::move(outcome));
}

void TaskEngine::Finish(TaskState& task, RunOutcome outcome) {
  LiveRun& live = *task.current;
  live.phase = LiveRun::Phase::kFinishing;
  live.deadline = absl::InfiniteFuture();
  const absl::Time now = clock_->Now();

  v1::FinishRunRequest request;
  *request.mutable_fence() = fence_;
  request.set_run_id(live.record.run_id());
  request.set_state(outcome.state);
  *request.mutable_counts() = outcome.counts;
  if (outcome.error.code() != v1::Error::CODE_UNSPECIFIED || !outcome.error.message().empty()) {
    *request.mutable_error() = outcome.error;
  }
  for (v1::ErrorSummary& group : outcome.error_summary) {
    *request.add_error_summary() = std::move(group);
  }
  request.set_snapshot_id(outcome.snapshot_id);
  if (live.skip_next_run_time.has_value()) {
    *request.mutable_next_run_time() = TimeToProto(*live.skip_next_run_time);
    request.set_consecutive_failures(task.task.consecutive_failures());
  } else {
    absl::StatusOr<NextRun> next =
        ComputeNextRun(task.task.schedule(), task.task.consecutive_failures(),
                       FinishedRun{.state = outcome.state,
                                   .scheduled_for = TimeFromProto(live.record.scheduled_for()),
                                   .started_at = TimeFromProto(live.record.started_at()),
                                   .finished_at = now,
                                   .error_message = outcome.error.message()},
                       now, *jitter_);
    if (!next.ok()) {
      // A schedule storage accepted always computes; keep the task going.
      spdlog::error("scheduler: task {}: {}", task.task.task_id(), next.status());
      next = NextRun{.next_run_time = now + DurationFromProto(task.task.schedule().interval()),
                     .consecutive_failures = task.task.consecutive_failures(),
                     .pause = false,
                     .pause_note = {}};
    }
    *request.mutable_next_run_time() = TimeToProto(next->next_run_time);
    request.set_consecutive_failures(next->consecutive_failures);
    if (next->pause) request.set_pause_note(next->pause_note);
  }
  live.finish = std::move(request);
  SendFinishRun(task);
}

void TaskEngine::SendFinishRun(TaskState& task) {
  LiveRun& live = *task.current;
  *live.finish->mutable_fence() = fence_;
  store_->FinishRun(*live.finish, [this, inbox = inbox_, generation = generation_,
                                   task_id = task.task.task_id(), run_id = live.record.run_id()](
                                      absl::StatusOr<v1::FinishRunResponse> reply) mutable {
    inbox->Post([this, generation, task_id, run_id, reply = std::move(reply)]() mutable {
      if (Current(generation)) OnFinishRun(task_id, run_id, std::move(reply));
    });
  });
}

void TaskEngine::OnFinishRun(const std::string& task_id, const std::string& run_id,
                             absl::StatusOr<v1::FinishRunResponse> reply) {
  TaskState* task = nullptr;
  LiveRun* live = CurrentRun(task_id, run_id, &task);
  if (live == nullptr || live->phase != LiveRun::Phase::kFinishing) return;
  if (!reply.ok()) {
    if (Retryable(reply.status())) {
      RetryLater(*live, reply.status(), "FinishRun");
      return;
    }
    // Refused for good: the run stays recorded as running until a holder
    // abandons it; locally it has ended, and the task goes on from the
    // schedule it would have had.
    spdlog::error("scheduler: storage refused to finish run {} of task {}: {}", run_id, task_id,
                  reply.status());
    v1::Run ended = live->record;
    ended.set_state(live->finish->state());
    *ended.mutable_error() = live->finish->error();
    *task->task.mutable_next_run_time() = live->finish->next_run_time();
    EndRun(*task, ended);
    return;
  }
  task->task = std::move(*reply->mutable_task());
  if (!reply->run().cancel_requested() && live->record.cancel_requested()) {
    reply->mutable_run()->set_cancel_requested(true);
  }
  EndRun(*task, reply->run());
}

void TaskEngine::RetryLater(LiveRun& live, const absl::Status& status, const char* call) {
  live.retry_delay = live.retry_delay == absl::ZeroDuration()
                         ? options_.storage_retry_initial
                         : std::min(live.retry_delay * 2, options_.storage_retry_max);
  live.retry_at = clock_->Now() + live.retry_delay;
  spdlog::warn("scheduler: {} of run {} failed ({}); again in {}", call, live.record.run_id(),
               status, absl::FormatDuration(live.retry_delay));
}

void TaskEngine::EndRun(TaskState& task, const v1::Run& final_run, absl::Time look_again_at) {
  const std::string task_id = task.task.task_id();
  CountRun(task_id, EventOfState(final_run.state()));
  Publish(v1::WatchRunsResponse::FINISHED, final_run);
  AnswerWaiters(final_run);
  task.current = nullptr;  // frees the slot: the next queued run may start
  if (task.deleting.has_value()) {
    SendDelete(task_id);
    return;
  }
  if (task.follow_up.has_value()) {
    v1::Run follow_up = std::move(*task.follow_up);
    task.follow_up.reset();
    Enqueue(task, std::move(follow_up));
    return;
  }
  // OnTimers looks at the task again once the loop has handled its events.
  task.look_at = look_again_at;
}

void TaskEngine::AnswerWaiters(const v1::Run& run) {
  auto [begin, end] = run_waiters_.equal_range(run.run_id());
  std::vector<RunWaiter> waiters;
  for (auto it = begin; it != end; ++it) waiters.push_back(std::move(it->second));
  run_waiters_.erase(begin, end);
  for (RunWaiter& waiter : waiters) std::move(waiter)(run);
}

void TaskEngine::CancelLive(TaskState& task, const v1::Error& reason) {
  if (task.follow_up.has_value()) {
    v1::Run dropped = std::move(*task.follow_up);
    task.follow_up.reset();
    dropped.set_state(v1::RUN_STATE_CANCELLED);
    *dropped.mutable_error() = reason;
    Publish(v1::WatchRunsResponse::FINISHED, dropped);
    AnswerWaiters(dropped);
  }
  LiveRun* live = task.current.get();
  if (live == nullptr) return;
  live->record.set_cancel_requested(true);
  switch (live->phase) {
    case LiveRun::Phase::kQueued:
      // Recorded CANCELLED without running (and without a slot), so the
      // task's schedule moves past it.
      live->ticket.Withdraw();
      live->cancel_reason = reason;
      live->phase = LiveRun::Phase::kStarting;
      SendStartRun(task);
      break;
    case LiveRun::Phase::kStarting:
      live->cancel_reason = reason;
      break;
    case LiveRun::Phase::kRunning:
      StopRun(*live, reason);
      break;
    case LiveRun::Phase::kFinishing:
      break;
  }
}

// ---------------------------------------------------------------------------
// The API

absl::Status TaskEngine::CheckActive() const {
  if (!active_) return Unavailable("this scheduler replica is not active (no lease)");
  if (!loaded_) return Unavailable("the scheduler is loading its tasks; try again shortly");
  return absl::OkStatus();
}

v1::TaskStatus TaskEngine::StatusOf(const TaskState& task) const {
  v1::TaskStatus status;
  *status.mutable_task() = task.task;
  if (task.current != nullptr) {
    *status.mutable_current_run() = task.current->record;
    status.set_state(task.current->phase == LiveRun::Phase::kQueued ? v1::TaskStatus::QUEUED
                                                                    : v1::TaskStatus::RUNNING);
  } else if (task.task.paused()) {
    status.set_state(v1::TaskStatus::PAUSED);
  } else if (task.task.consecutive_failures() > 0) {
    status.set_state(v1::TaskStatus::BACKING_OFF);
  } else {
    status.set_state(v1::TaskStatus::IDLE);
  }
  if (task.follow_up.has_value()) *status.mutable_pending_run() = *task.follow_up;
  return status;
}

v1::TaskStatus TaskEngine::StatusOfStored(v1::Task task) const {
  if (active_ && loaded_) {
    auto it = tasks_.find(task.task_id());
    if (it != tasks_.end()) return StatusOf(*it->second);
  }
  v1::TaskStatus status;
  status.set_state(v1::TaskStatus::STANDBY);
  *status.mutable_task() = std::move(task);
  return status;
}

void TaskEngine::DecorateRun(v1::Run& run) const {
  auto it = tasks_.find(run.task_id());
  if (it == tasks_.end()) return;
  const TaskState& task = *it->second;
  if (task.current != nullptr && task.current->record.run_id() == run.run_id() &&
      !Terminal(run.state())) {
    run = task.current->record;
  }
}

void TaskEngine::CreateTask(const v1::CreateTaskRequest& request,
                            Answer<v1::CreateTaskResponse> done) {
  Post([this, request, done = std::move(done)]() mutable {
    if (absl::Status status = CheckActive(); !status.ok()) return std::move(done)(status);
    v1::Task task = request.task();
    ClearOutputOnly(task);
    if (task.kind() == v1::TASK_KIND_UNSPECIFIED) {
      return std::move(done)(absl::InvalidArgumentError("task.kind: required"));
    }
    if (!task.has_schedule()) {
      return std::move(done)(absl::InvalidArgumentError("task.schedule.interval: required"));
    }
    if (absl::Status status = ValidateSchedule(task.schedule(), "task.schedule"); !status.ok()) {
      return std::move(done)(status);
    }
    if (absl::Status status = CheckNote(task.status_note(), "task.status_note"); !status.ok()) {
      return std::move(done)(status);
    }
    v1::CreateTaskDefinitionRequest create;
    *create.mutable_fence() = fence_;
    *create.mutable_task() = std::move(task);
    store_->CreateTask(create, [this, inbox = inbox_, generation = generation_,
                                done = std::move(done)](
                                   absl::StatusOr<v1::CreateTaskDefinitionResponse> reply) mutable {
      inbox->Post([this, generation, reply = std::move(reply), done = std::move(done)]() mutable {
        if (!reply.ok()) return std::move(done)(reply.status());
        if (!Current(generation)) return std::move(done)(Unavailable("lost the lease"));
        TaskState& task = Adopt(std::move(*reply->mutable_task()), /*first_look=*/false);
        spdlog::info("scheduler: task {} created", task.task.task_id());
        Look(task, clock_->Now());
        v1::CreateTaskResponse response;
        *response.mutable_task() = StatusOf(task);
        std::move(done)(std::move(response));
      });
    });
  });
}

void TaskEngine::GetTask(const v1::GetTaskRequest& request, Answer<v1::GetTaskResponse> done) {
  if (request.task_id().empty()) {
    return std::move(done)(absl::InvalidArgumentError("task_id: required"));
  }
  v1::GetTaskDefinitionRequest get;
  get.set_task_id(request.task_id());
  store_->GetTask(get, [this, inbox = inbox_, done = std::move(done)](
                           absl::StatusOr<v1::GetTaskDefinitionResponse> reply) mutable {
    if (!reply.ok()) return std::move(done)(reply.status());
    inbox->Post([this, reply = std::move(reply), done = std::move(done)]() mutable {
      v1::GetTaskResponse response;
      *response.mutable_task() = StatusOfStored(std::move(*reply->mutable_task()));
      std::move(done)(std::move(response));
    });
  });
}

void TaskEngine::ListTasks(const v1::ListTasksRequest& request,
                           Answer<v1::ListTasksResponse> done) {
  v1::ListTaskDefinitionsRequest list;
  *list.mutable_kinds() = request.kinds();
  *list.mutable_page() = request.page();
  store_->ListTasks(list, [this, inbox = inbox_, done = std::move(done)](
                              absl::StatusOr<v1::ListTaskDefinitionsResponse> reply) mutable {
    if (!reply.ok()) return std::move(done)(reply.status());
    inbox->Post([this, reply = std::move(reply), done = std::move(done)]() mutable {
      v1::ListTasksResponse response;
      for (v1::Task& task : *reply->mutable_tasks()) {
        *response.add_tasks() = StatusOfStored(std::move(task));
      }
      *response.mutable_page() = reply->page();
      std::move(done)(std::move(response));
    });
  });
}

void TaskEngine::UpdateStoredTask(TaskState& task, v1::Task changes, std::vector<std::string> paths,
                                  uint64_t expected_revision,
                                  absl::AnyInvocable<void(absl::StatusOr<TaskState*>) &&> done) {
  v1::UpdateTaskDefinitionRequest update;
  *update.mutable_fence() = fence_;
  changes.set_task_id(task.task.task_id());
  *update.mutable_task() = std::move(changes);
  for (std::string& path : paths) update.mutable_update_mask()->add_paths(std::move(path));
  update.set_expected_revision(expected_revision);
  store_->UpdateTask(update, [this, inbox = inbox_, generation = generation_,
                              task_id = task.task.task_id(), done = std::move(done)](
                                 absl::StatusOr<v1::UpdateTaskDefinitionResponse> reply) mutable {
    inbox->Post(
        [this, generation, task_id, reply = std::move(reply), done = std::move(done)]() mutable {
          if (!reply.ok()) return std::move(done)(reply.status());
          if (!Current(generation)) return std::move(done)(Unavailable("lost the lease"));
          TaskState* task = Find(task_id);
          if (task == nullptr)
            return std::move(done)(absl::NotFoundError("task deleted meanwhile"));
          task->task = std::move(*reply->mutable_task());
          std::move(done)(task);
        });
  });
}

// Runs `body(task)` on the engine's thread for an active engine and a
// known task, or answers the error.
template <typename Reply, typename Body>
void TaskEngine::WithTask(const std::string& task_id, Answer<Reply> done, Body body) {
  Post([this, task_id, done = std::move(done), body = std::move(body)]() mutable {
    if (task_id.empty()) return std::move(done)(absl::InvalidArgumentError("task_id: required"));
    if (absl::Status status = CheckActive(); !status.ok()) return std::move(done)(status);
    TaskState* task = Find(task_id);
    if (task == nullptr || task->deleting.has_value()) {
      return std::move(done)(absl::NotFoundError(absl::StrCat("task ", task_id, " not found")));
    }
    body(*task, std::move(done));
  });
}

void TaskEngine::UpdateTask(const v1::UpdateTaskRequest& request,
                            Answer<v1::UpdateTaskResponse> done) {
  WithTask(
      request.task().task_id(), std::move(done),
      [this, request](TaskState& task, Answer<v1::UpdateTaskResponse> done) {
        if (request.update_mask().paths().empty()) {
          return std::move(done)(absl::InvalidArgumentError("update_mask: required"));
        }
        const std::string params = ParamsFieldOf(task.task.kind());
        bool schedule_changed = false;
        std::vector<std::string> paths;
        for (const std::string& path : request.update_mask().paths()) {
          const bool schedule = path == "schedule" || absl::StartsWith(path, "schedule.");
          if (!schedule && path != "description" && path != "run_retention" && path != params) {
            return std::move(done)(absl::InvalidArgumentError(
                absl::StrCat("update_mask: \"", path,
                             "\" cannot be updated (description, schedule, schedule.<field>, ",
                             params, " and run_retention can)")));
          }
          schedule_changed |= schedule;
          paths.push_back(path);
        }
        v1::Task merged = task.task;
        google::protobuf::util::FieldMaskUtil::MergeOptions options;
        options.set_replace_message_fields(true);
        options.set_replace_repeated_fields(true);
        google::protobuf::util::FieldMaskUtil::MergeMessageTo(request.task(), request.update_mask(),
                                                              options, &merged);
        if (absl::Status status = ValidateSchedule(merged.schedule(), "task.schedule");
            !status.ok()) {
          return std::move(done)(status);
        }
        if (schedule_changed) {
          // The new interval counts from the last run (its end: the start
          // is not kept with the task), or from now for a task that never
          // ran; never before now. Longer or shorter, it applies at once.
          const absl::Time now = clock_->Now();
          const absl::Time base = task.task.has_last_run_finished_at()
                                      ? TimeFromProto(task.task.last_run_finished_at())
                                      : now;
          const absl::Time next =
              std::max(now, base + DurationFromProto(merged.schedule().interval()));
          *merged.mutable_next_run_time() = TimeToProto(next);
          paths.push_back("next_run_time");
        }
        UpdateStoredTask(
            task, std::move(merged), std::move(paths), request.expected_revision(),
            [this, done = std::move(done)](absl::StatusOr<TaskState*> updated) mutable {
              if (!updated.ok()) return std::move(done)(updated.status());
              TaskState& task = **updated;
              if (task.current == nullptr) task.look_at = absl::InfinitePast();
              v1::UpdateTaskResponse response;
              *response.mutable_task() = StatusOf(task);
              std::move(done)(std::move(response));
            });
      });
}

void TaskEngine::DeleteTask(const v1::DeleteTaskRequest& request,
                            Answer<v1::DeleteTaskResponse> done) {
  WithTask(request.task_id(), std::move(done),
           [this, keep_runs = request.keep_runs()](TaskState& task,
                                                   Answer<v1::DeleteTaskResponse> done) {
             task.deleting.emplace(keep_runs, std::move(done));
             if (task.current == nullptr) {
               SendDelete(task.task.task_id());
               return;
             }
             CancelLive(task, MakeError(v1::Error::CANCELLED, "the task is being deleted"));
           });
}

void TaskEngine::SendDelete(const std::string& task_id) {
  TaskState* task = Find(task_id);
  if (task == nullptr || !task->deleting.has_value()) return;
  v1::DeleteTaskDefinitionRequest request;
  *request.mutable_fence() = fence_;
  request.set_task_id(task_id);
  request.set_keep_runs(task->deleting->first);
  store_->DeleteTask(request, [this, inbox = inbox_, generation = generation_, task_id](
                                  absl::StatusOr<v1::DeleteTaskDefinitionResponse> reply) mutable {
    inbox->Post([this, generation, task_id, reply = std::move(reply)]() mutable {
      if (!Current(generation)) return;  // answered by DoDeactivate
      TaskState* task = Find(task_id);
      if (task == nullptr || !task->deleting.has_value()) return;
      Answer<v1::DeleteTaskResponse> done = std::move(task->deleting->second);
      if (!reply.ok()) {
        task->deleting.reset();
        task->look_at = absl::InfinitePast();
        return std::move(done)(reply.status());
      }
      spdlog::info("scheduler: task {} deleted", task_id);
      tasks_.erase(task_id);
      std::move(done)(v1::DeleteTaskResponse());
    });
  });
}

void TaskEngine::PauseTask(const v1::PauseTaskRequest& request,
                           Answer<v1::PauseTaskResponse> done) {
  WithTask(request.task_id(), std::move(done),
           [this, request](TaskState& task, Answer<v1::PauseTaskResponse> done) {
             if (absl::Status status = CheckNote(request.note(), "note"); !status.ok()) {
               return std::move(done)(status);
             }
             v1::Task changes;
             changes.set_paused(true);
             changes.set_status_note(request.note());
             UpdateStoredTask(task, std::move(changes), {"paused", "status_note"}, 0,
                              [this, cancel = request.cancel_current(),
                               done = std::move(done)](absl::StatusOr<TaskState*> updated) mutable {
                                if (!updated.ok()) return std::move(done)(updated.status());
                                TaskState& task = **updated;
                                if (cancel) {
                                  CancelLive(
                                      task, MakeError(v1::Error::CANCELLED, "the task was paused"));
                                }
                                if (task.current == nullptr) task.look_at = absl::InfinitePast();
                                spdlog::info("scheduler: task {} paused", task.task.task_id());
                                v1::PauseTaskResponse response;
                                *response.mutable_task() = StatusOf(task);
                                std::move(done)(std::move(response));
                              });
           });
}

void TaskEngine::ResumeTask(const v1::ResumeTaskRequest& request,
                            Answer<v1::ResumeTaskResponse> done) {
  WithTask(request.task_id(), std::move(done),
           [this, request](TaskState& task, Answer<v1::ResumeTaskResponse> done) {
             if (absl::Status status = CheckNote(request.note(), "note"); !status.ok()) {
               return std::move(done)(status);
             }
             v1::Task changes;
             changes.set_paused(false);
             changes.set_status_note(request.note());
             std::vector<std::string> paths = {"paused", "status_note"};
             // Runs missed while paused are not made up: one is due now.
             const absl::Time now = clock_->Now();
             if (TimeFromProto(task.task.next_run_time()) < now) {
               *changes.mutable_next_run_time() = TimeToProto(now);
               paths.push_back("next_run_time");
             }
             // The failures that paused it are forgiven with the resume.
             changes.set_consecutive_failures(0);
             paths.push_back("consecutive_failures");
             UpdateStoredTask(
                 task, std::move(changes), std::move(paths), 0,
                 [this, done = std::move(done)](absl::StatusOr<TaskState*> updated) mutable {
                   if (!updated.ok()) return std::move(done)(updated.status());
                   TaskState& task = **updated;
                   if (task.current == nullptr) task.look_at = absl::InfinitePast();
                   spdlog::info("scheduler: task {} resumed", task.task.task_id());
                   v1::ResumeTaskResponse response;
                   *response.mutable_task() = StatusOf(task);
                   std::move(done)(std::move(response));
                 });
           });
}

void TaskEngine::TriggerTask(const v1::TriggerTaskRequest& request,
                             Answer<v1::TriggerTaskResponse> done) {
  WithTask(request.task_id(), std::move(done),
           [this, request](TaskState& task, Answer<v1::TriggerTaskResponse> done) {
             v1::TriggerTaskResponse response;
             if (task.current == nullptr) {
               v1::Run run = PendingRun(task, v1::RUN_TRIGGER_MANUAL, clock_->Now());
               run.set_forced(request.force());
               Enqueue(task, std::move(run));
               *response.mutable_run() = task.current->record;
             } else if (!task.follow_up.has_value()) {
               v1::Run run = PendingRun(task, v1::RUN_TRIGGER_MANUAL, clock_->Now());
               run.set_forced(request.force());
               task.follow_up = run;
               Publish(v1::WatchRunsResponse::QUEUED, run);
               response.set_coalesced(true);
               *response.mutable_run() = run;
             } else {
               task.follow_up->set_coalesced(task.follow_up->coalesced() + 1);
               task.follow_up->set_forced(task.follow_up->forced() || request.force());
               CountRun(task.task.task_id(), "coalesced");
               response.set_coalesced(true);
               *response.mutable_run() = *task.follow_up;
             }
             response.set_run_id(response.run().run_id());
             if (!request.wait()) return std::move(done)(std::move(response));
             run_waiters_.emplace(response.run_id(), [response, done = std::move(done)](
                                                         absl::StatusOr<v1::Run> run) mutable {
               if (!run.ok()) return std::move(done)(run.status());
               *response.mutable_run() = *std::move(run);
               std::move(done)(std::move(response));
             });
           });
}

void TaskEngine::CancelRun(const v1::CancelRunRequest& request,
                           Answer<v1::CancelRunResponse> done) {
  WithTask(
      request.task_id(), std::move(done),
      [this, request](TaskState& task, Answer<v1::CancelRunResponse> done) {
        if (absl::Status status = CheckNote(request.reason(), "reason"); !status.ok()) {
          return std::move(done)(status);
        }
        if (task.current == nullptr) {
          return std::move(done)(absl::FailedPreconditionError(
              absl::StrCat("task ", request.task_id(), " has no run going")));
        }
        if (!request.run_id().empty() && request.run_id() != task.current->record.run_id()) {
          return std::move(done)(absl::FailedPreconditionError(
              absl::StrCat("run ", request.run_id(), " is not the current run of task ",
                           request.task_id(), " (", task.current->record.run_id(), " is)")));
        }
        const std::string run_id = task.current->record.run_id();
        CancelLive(task, MakeError(v1::Error::CANCELLED, request.reason().empty()
                                                             ? std::string("cancelled by CancelRun")
                                                             : request.reason()));
        if (!request.wait()) {
          v1::CancelRunResponse response;
          *response.mutable_run() = task.current->record;
          return std::move(done)(std::move(response));
        }
        run_waiters_.emplace(run_id, [done = std::move(done)](absl::StatusOr<v1::Run> run) mutable {
          if (!run.ok()) return std::move(done)(run.status());
          v1::CancelRunResponse response;
          *response.mutable_run() = *std::move(run);
          std::move(done)(std::move(response));
        });
      });
}

void TaskEngine::GetRun(const v1::GetRunRequest& request, Answer<v1::GetRunResponse> done) {
  if (request.run_id().empty()) {
    return std::move(done)(absl::InvalidArgumentError("run_id: required"));
  }
  Post([this, request, done = std::move(done)]() mutable {
    for (const auto& [id, task] : tasks_) {
      const v1::Run* live = nullptr;
      if (task->current != nullptr && task->current->record.run_id() == request.run_id()) {
        live = &task->current->record;
      } else if (task->follow_up.has_value() && task->follow_up->run_id() == request.run_id()) {
        live = &*task->follow_up;
      }
      if (live != nullptr) {
        v1::GetRunResponse response;
        *response.mutable_run() = *live;
        return std::move(done)(std::move(response));
      }
    }
    v1::GetRunRecordRequest get;
    get.set_run_id(request.run_id());
    store_->GetRun(
        get, [done = std::move(done)](absl::StatusOr<v1::GetRunRecordResponse> reply) mutable {
          if (!reply.ok()) return std::move(done)(reply.status());
          v1::GetRunResponse response;
          *response.mutable_run() = std::move(*reply->mutable_run());
          std::move(done)(std::move(response));
        });
  });
}

void TaskEngine::ListRuns(const v1::ListRunsRequest& request, Answer<v1::ListRunsResponse> done) {
  v1::ListRunRecordsRequest list;
  list.set_task_id(request.task_id());
  *list.mutable_states() = request.states();
  if (request.has_start_time()) *list.mutable_start_time() = request.start_time();
  if (request.has_end_time()) *list.mutable_end_time() = request.end_time();
  *list.mutable_page() = request.page();
  store_->ListRuns(list, [this, inbox = inbox_, done = std::move(done)](
                             absl::StatusOr<v1::ListRunRecordsResponse> reply) mutable {
    if (!reply.ok()) return std::move(done)(reply.status());
    inbox->Post([this, reply = std::move(reply), done = std::move(done)]() mutable {
      v1::ListRunsResponse response;
      for (v1::Run& run : *reply->mutable_runs()) {
        DecorateRun(run);
        *response.add_runs() = std::move(run);
      }
      *response.mutable_page() = reply->page();
      std::move(done)(std::move(response));
    });
  });
}

void TaskEngine::CurrentRuns(RunEvents::Filter filter,
                             absl::AnyInvocable<void(std::vector<v1::Run>) &&> done) {
  Post([this, filter = std::move(filter), done = std::move(done)]() mutable {
    std::vector<v1::Run> runs;
    auto matches = [&](const v1::Run& run) {
      return (filter.task_id.empty() || run.task_id() == filter.task_id) &&
             (filter.run_id.empty() || run.run_id() == filter.run_id);
    };
    for (const auto& [id, task] : tasks_) {
      if (task->current != nullptr && matches(task->current->record)) {
        runs.push_back(task->current->record);
      }
      if (task->follow_up.has_value() && matches(*task->follow_up)) {
        runs.push_back(*task->follow_up);
      }
    }
    std::move(done)(std::move(runs));
  });
}

TaskEngineStatus TaskEngine::GetStatus() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  return status_;
}

// ---------------------------------------------------------------------------
// Bookkeeping

void TaskEngine::Publish(v1::WatchRunsResponse::EventType type, const v1::Run& run) {
  v1::WatchRunsResponse event;
  event.set_type(type);
  *event.mutable_run() = run;
  *event.mutable_time() = TimeToProto(absl::Now());
  events_->Publish(event);
}

std::string TaskEngine::NewRunId() {
  // Sortable by creation at a glance, unique per holder, and different
  // across holders and restarts through the random part.
  return absl::StrFormat(
      "run-%s-%08x%04x", absl::FormatTime("%Y%m%dT%H%M%S", absl::Now(), absl::UTCTimeZone()),
      absl::Uniform<uint32_t>(bit_gen_), static_cast<uint32_t>(++run_sequence_ & 0xffff));
}

void TaskEngine::CountRun(const std::string& task_id, const char* event, uint64_t n) {
  metrics::Registry::Global()
      .GetCounter("coffer_scheduler_runs_total", {{"task", task_id}, {"event", event}},
                  "Runs per task by what happened: started, succeeded, partial, failed, "
                  "cancelled, timed_out, skipped, abandoned, late (started more than the late "
                  "threshold after it was due), coalesced (missed intervals and triggers folded "
                  "into a run)")
      .Increment(n);
}

void TaskEngine::PublishStatus() {
  TaskEngineStatus status;
  status.active = active_;
  status.loaded = loaded_;
  status.tasks_loaded = static_cast<uint32_t>(tasks_.size());
  status.runs_in_flight = static_cast<uint32_t>(slots_->in_use());
  status.runs_queued = static_cast<uint32_t>(slots_->waiting());
  status.max_concurrent_runs = static_cast<uint32_t>(slots_->max());
  std::lock_guard<std::mutex> lock(status_mu_);
  status_ = status;
}

}  // namespace coffer::scheduler
