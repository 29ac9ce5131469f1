#include "tools/cofferctl/tasks_commands.h"

#include <ostream>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "common/config/proto_duration.h"
#include "common/status/status_macros.h"
#include "tools/cofferctl/flags.h"
#include "tools/cofferctl/output.h"
#include "tools/cofferctl/run_progress.h"
#include "tools/cofferctl/task_from_flags.h"

// Steering.
ABSL_FLAG(std::string, note, "", "Why: becomes the task's status note (at most 256 bytes)");
ABSL_FLAG(bool, cancel_current, false, "Also cancel the run in progress");
ABSL_FLAG(bool, keep_runs, false, "Keep the task's run records in storage");
ABSL_FLAG(absl::Duration, wait_timeout, absl::Minutes(10),
          "With --wait: how long to wait for the run's end (the run goes on after it)");

namespace coffer::cofferctl {
namespace {

using Scheduler = v1::Scheduler::Stub;

std::string StateText(const v1::TaskStatus& status) {
  const v1::Task& task = status.task();
  std::string state;
  if (task.paused() || status.state() == v1::TaskStatus::PAUSED) {
    // A triggered run of a paused task is going: say so.
    state = status.has_current_run() ? "paused, running" : "paused";
  } else if (status.state() == v1::TaskStatus::STATE_UNSPECIFIED) {
    state = "active";
  } else {
    state = absl::AsciiStrToLower(v1::TaskStatus::State_Name(status.state()));
  }
  if (!task.status_note().empty()) absl::StrAppend(&state, ": ", task.status_note());
  return state;
}

std::string ScheduleText(const v1::Schedule& schedule) {
  std::string text = absl::StrCat("every ", FormatDuration(schedule.interval()));
  if (schedule.jitter() > 0) absl::StrAppend(&text, " jitter ", schedule.jitter());
  return text;
}

std::string LastRunText(const v1::Task& task) {
  if (task.last_run_id().empty()) return "-";
  return absl::StrCat(RunStateName(task.last_run_state()), " ",
                      FormatTime(task.last_run_finished_at()));
}

Table TaskTable() {
  return Table(
      {"TASK", "KIND", "SCHEDULE", "STATE", "NEXT RUN", "LAST RUN", {"FAILURES", Align::kRight}});
}

void AddTaskRow(Table& table, const v1::TaskStatus& status) {
  const v1::Task& task = status.task();
  table.AddRow({task.task_id(), KindName(task.kind()), ScheduleText(task.schedule()),
                StateText(status), task.paused() ? "-" : FormatTime(task.next_run_time()),
                LastRunText(task), absl::StrCat(task.consecutive_failures())});
}

// A task as the answer of create, pause and resume: the response document,
// or a one-row table.
template <typename Response>
void PrintTask(CommandContext& ctx, const Response& response) {
  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(response);
    return;
  }
  Table table = TaskTable();
  AddTaskRow(table, response.task());
  ctx.out << table.Render();
}

absl::StatusOr<std::string> OneTaskId(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return UsageError("give one TASK_ID");
  return ctx.args[0];
}

absl::Status RunLs(CommandContext& ctx) {
  if (!ctx.args.empty()) return UsageError("tasks ls takes no arguments");
  const int32_t limit = absl::GetFlag(FLAGS_limit);
  if (limit < 0) return UsageError("--limit must not be negative");
  v1::ListTasksRequest request;
  for (absl::string_view kind :
       absl::StrSplit(absl::GetFlag(FLAGS_kind), ',', absl::SkipWhitespace())) {
    ASSIGN_OR_RETURN(v1::TaskKind parsed, ParseKind(kind));
    request.add_kinds(parsed);
  }
  v1::ListTasksResponse all;
  do {
    ASSIGN_OR_RETURN(
        v1::ListTasksResponse page,
        CallScheduler(ctx, &Scheduler::PrepareAsyncListTasks, request, ctx.coffer.options()));
    for (v1::TaskStatus& task : *page.mutable_tasks()) {
      if (limit > 0 && all.tasks_size() >= limit) break;
      *all.add_tasks() = std::move(task);
    }
    request.mutable_page()->set_page_token(page.page().next_page_token());
  } while (!request.page().page_token().empty() && (limit == 0 || all.tasks_size() < limit));

  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(all);
    return absl::OkStatus();
  }
  Table table = TaskTable();
  for (const v1::TaskStatus& task : all.tasks()) AddTaskRow(table, task);
  ctx.out << table.Render();
  return absl::OkStatus();
}

absl::Status RunCreate(CommandContext& ctx) {
  if (ctx.args.size() > 1) return UsageError("give at most one TASK_ID");
  v1::CreateTaskRequest request;
  ASSIGN_OR_RETURN(*request.mutable_task(), TaskFromFlags());
  if (!ctx.args.empty()) request.mutable_task()->set_task_id(ctx.args[0]);

  ASSIGN_OR_RETURN(
      v1::CreateTaskResponse created,
      CallScheduler(ctx, &Scheduler::PrepareAsyncCreateTask, request, ctx.coffer.options()));
  PrintTask(ctx, created);
  return absl::OkStatus();
}

absl::Status RunPause(CommandContext& ctx) {
  ASSIGN_OR_RETURN(std::string task_id, OneTaskId(ctx));
  v1::PauseTaskRequest request;
  request.set_task_id(task_id);
  request.set_note(absl::GetFlag(FLAGS_note));
  request.set_cancel_current(absl::GetFlag(FLAGS_cancel_current));
  ASSIGN_OR_RETURN(
      v1::PauseTaskResponse paused,
      CallScheduler(ctx, &Scheduler::PrepareAsyncPauseTask, request, ctx.coffer.options()));
  PrintTask(ctx, paused);
  return absl::OkStatus();
}

absl::Status RunResume(CommandContext& ctx) {
  ASSIGN_OR_RETURN(std::string task_id, OneTaskId(ctx));
  v1::ResumeTaskRequest request;
  request.set_task_id(task_id);
  request.set_note(absl::GetFlag(FLAGS_note));
  ASSIGN_OR_RETURN(
      v1::ResumeTaskResponse resumed,
      CallScheduler(ctx, &Scheduler::PrepareAsyncResumeTask, request, ctx.coffer.options()));
  PrintTask(ctx, resumed);
  return absl::OkStatus();
}

absl::Status RunRm(CommandContext& ctx) {
  ASSIGN_OR_RETURN(std::string task_id, OneTaskId(ctx));
  v1::DeleteTaskRequest request;
  request.set_task_id(task_id);
  request.set_keep_runs(absl::GetFlag(FLAGS_keep_runs));
  ASSIGN_OR_RETURN(
      v1::DeleteTaskResponse deleted,
      CallScheduler(ctx, &Scheduler::PrepareAsyncDeleteTask, request, ctx.coffer.options()));
  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(deleted);
  } else {
    ctx.out << "deleted task " << task_id << (request.keep_runs() ? " (runs kept)" : "") << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunTrigger(CommandContext& ctx) {
  ASSIGN_OR_RETURN(std::string task_id, OneTaskId(ctx));
  const absl::Duration wait_timeout = absl::GetFlag(FLAGS_wait_timeout);
  if (wait_timeout <= absl::ZeroDuration()) return UsageError("--wait_timeout must be positive");
  // Never the API's own wait: it answers the run id only at the end, and a
  // person (or a timed-out script) needs it at once to follow the run.
  v1::TriggerTaskRequest request;
  request.set_task_id(task_id);
  request.set_force(absl::GetFlag(FLAGS_force));
  ASSIGN_OR_RETURN(
      v1::TriggerTaskResponse triggered,
      CallScheduler(ctx, &Scheduler::PrepareAsyncTriggerTask, request, ctx.coffer.options()));
  const bool json = ctx.output == OutputFormat::kJson;
  if (!json) ctx.out << triggered.run_id() << std::endl;
  if (triggered.coalesced()) {
    ctx.err << "a run of " << task_id << " is going: this trigger is its follow-up run "
            << triggered.run_id() << "\n";
  }
  if (!absl::GetFlag(FLAGS_wait)) {
    if (json) ctx.out << ToJson(triggered);
    return absl::OkStatus();
  }

  InterruptCatcher interrupt;
  absl::StatusOr<v1::Run> run =
      WaitForRun(ctx, triggered.run_id(), wait_timeout, /*on_event=*/nullptr);
  if (!run.ok()) {
    if (run.status().code() == absl::StatusCode::kCancelled && InterruptCatcher::Interrupted()) {
      ctx.err << run.status().message() << "\n";
      ctx.exit_code = 130;
      return absl::OkStatus();
    }
    return run.status();
  }
  *triggered.mutable_run() = *run;
  if (json) {
    ctx.out << ToJson(triggered);
  } else {
    ctx.out << RunOutcome(*run);
  }
  if (!CountsAsSuccess(run->state())) ctx.exit_code = 1;
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> TasksCommands() {
  return {
      {
          .words = {"tasks", "ls"},
          .arguments = "",
          .summary = "the scheduler's tasks, their schedule and state",
          .details = "Columns: TASK, KIND, SCHEDULE (interval, jitter), STATE (idle, queued, "
                     "running, backing_off, paused, standby; then the status note), NEXT RUN, "
                     "LAST RUN (its state, when it ended), FAILURES (FAILED runs in a row).\n"
                     "--output json: one ListTasksResponse holding every task.\n"
                     "Example: cofferctl tasks ls --kind refresh_balances,refresh_prices",
          .flags = {"kind", "limit"},
          .run = RunLs,
      },
      {
          .words = {"tasks", "create"},
          .arguments = "[TASK_ID]",
          .summary = "create a task (a refresh, backup or prune on a schedule)",
          .details =
              "TASK_ID: [a-z0-9][a-z0-9-]{0,62}; omitted, the scheduler picks one. Required: "
              "--kind and --interval. Parameters by kind:\n"
              "  refresh_balances: --chain, --tag (accounts having every tag), --batch_size, "
              "--batches_in_flight, --block_tag, --bypass_cache\n"
              "  refresh_prices: --quote (comma-separated), --asset (priced besides the held "
              "ones), --bypass_cache\n"
              "  backup: --backup_path, --backup_keep_last\n"
              "  prune: --snapshot_max_age, --snapshot_keep_last, --price_max_age (one at "
              "least)\n"
              "Prints the task as created (--output json: the CreateTaskResponse).\n"
              "Example: cofferctl tasks create nightly-balances --kind refresh_balances "
              "--interval 24h --jitter 0.1 --tag cold --batch_size 100",
          .flags = {"kind",
                    "interval",
                    "jitter",
                    "first_run_delay",
                    "run_timeout",
                    "starting_deadline",
                    "max_failures",
                    "paused",
                    "description",
                    "runs_keep_last",
                    "runs_keep_for",
                    "chain",
                    "tag",
                    "batch_size",
                    "batches_in_flight",
                    "block_tag",
                    "bypass_cache",
                    "quote",
                    "asset",
                    "backup_path",
                    "backup_keep_last",
                    "snapshot_max_age",
                    "snapshot_keep_last",
                    "price_max_age"},
          .run = RunCreate,
      },
      {
          .words = {"tasks", "pause"},
          .arguments = "TASK_ID",
          .summary = "stop a task's scheduled runs until resumed",
          .details = "A run in progress finishes unless --cancel_current. A paused task still "
                     "runs when triggered.\n"
                     "Example: cofferctl tasks pause refresh-prices --note \"upstream down\"",
          .flags = {"note", "cancel_current"},
          .run = RunPause,
      },
      {
          .words = {"tasks", "resume"},
          .arguments = "TASK_ID",
          .summary = "resume a paused task",
          .details = "Missed runs are not made up: if the next run time has passed, one run is "
                     "due at once. --note replaces the status note (empty clears it).\n"
                     "Example: cofferctl tasks resume refresh-prices",
          .flags = {"note"},
          .run = RunResume,
      },
      {
          .words = {"tasks", "rm"},
          .arguments = "TASK_ID",
          .summary = "delete a task (cancelling its current run)",
          .details = "Its run records go too, unless --keep_runs.\n"
                     "Example: cofferctl tasks rm nightly-balances --keep_runs",
          .flags = {"keep_runs"},
          .run = RunRm,
      },
      {
          .words = {"tasks", "trigger"},
          .arguments = "TASK_ID",
          .summary = "run a task now (paused or not), optionally waiting for its end",
          .details =
              "Prints the run id at once. A trigger while a run is going becomes that run's "
              "follow-up (said on stderr). --force bypasses the fetcher's caches.\n"
              "--wait follows the run (a progress bar on stderr when it is a terminal) and "
              "prints its outcome: state, duration, items ok/failed, errors. Exit 0 when it "
              "SUCCEEDED or was PARTIAL (what succeeded was written, e.g. a snapshot of every "
              "account that answered); 1 when it FAILED, was CANCELLED, TIMED_OUT, ABANDONED "
              "or SKIPPED, or had not ended after --wait_timeout (it goes on); 130 on Ctrl-C "
              "(the run goes on).\n"
              "--output json: one TriggerTaskResponse, with --wait holding the final run.\n"
              "Example: cofferctl tasks trigger refresh-balances --wait --force",
          .flags = {"wait", "force", "wait_timeout"},
          .run = RunTrigger,
      },
  };
}

}  // namespace coffer::cofferctl
