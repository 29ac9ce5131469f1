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

// What a task is and when it runs.
ABSL_FLAG(std::string, kind, "",
          "Task kind: refresh_balances, refresh_prices, backup or prune (tasks ls: a filter, "
          "comma-separated)");
ABSL_FLAG(absl::Duration, interval, absl::ZeroDuration(),
          "Time between runs, from one start to the next (30s, 5m, 1h); required");
ABSL_FLAG(double, jitter, 0, "Random delay of each run, as a fraction of the interval (0 to 0.5)");
ABSL_FLAG(absl::Duration, first_run_delay, absl::ZeroDuration(),
          "Delay of the first run after creation (0: at once)");
ABSL_FLAG(absl::Duration, run_timeout, absl::ZeroDuration(),
          "A run going longer is cancelled as TIMED_OUT (0: the kind's default, 10m)");
ABSL_FLAG(absl::Duration, starting_deadline, absl::ZeroDuration(),
          "A run that cannot start within this of its time is SKIPPED (0: no limit)");
ABSL_FLAG(int32_t, max_failures, 0,
          "Pause the task after this many FAILED runs in a row (0: never)");
ABSL_FLAG(bool, paused, false, "Create the task paused (triggers still run it)");
ABSL_FLAG(std::string, description, "", "What the task is for, for people");
ABSL_FLAG(int32_t, runs_keep_last, 0, "Keep only this many newest runs of the task (0: all)");
ABSL_FLAG(absl::Duration, runs_keep_for, absl::ZeroDuration(),
          "Delete the task's runs older than this (0: keep)");
// Parameters of the kinds (besides the shared --chain, --tag, --quote, --asset).
ABSL_FLAG(int32_t, batch_size, 0, "refresh_balances: accounts per fetcher call (0: 500)");
ABSL_FLAG(int32_t, batches_in_flight, 0,
          "refresh_balances: fetcher calls in flight per run (0: 4)");
ABSL_FLAG(std::string, block_tag, "",
          "refresh_balances: the block each chain is read at: latest, safe or finalized");
ABSL_FLAG(bool, bypass_cache, false,
          "refresh_balances, refresh_prices: every run bypasses the fetcher's caches");
ABSL_FLAG(std::string, backup_path, "",
          "backup: file path; {time} becomes the run's start (empty: storage's default)");
ABSL_FLAG(int32_t, backup_keep_last, 0, "backup: keep this many newest backups (0: all)");
ABSL_FLAG(absl::Duration, snapshot_max_age, absl::ZeroDuration(),
          "prune: delete snapshots older than this");
ABSL_FLAG(int32_t, snapshot_keep_last, 0, "prune: keep only this many newest snapshots");
ABSL_FLAG(absl::Duration, price_max_age, absl::ZeroDuration(),
          "prune: delete prices older than this (the latest of each is kept)");
// Steering.
ABSL_FLAG(std::string, note, "", "Why: becomes the task's status note (at most 256 bytes)");
ABSL_FLAG(bool, cancel_current, false, "Also cancel the run in progress");
ABSL_FLAG(bool, keep_runs, false, "Keep the task's run records in storage");
ABSL_FLAG(absl::Duration, wait_timeout, absl::Minutes(10),
          "With --wait: how long to wait for the run's end (the run goes on after it)");

namespace coffer::cofferctl {
namespace {

using Scheduler = v1::Scheduler::Stub;

// "refresh_balances" for TASK_KIND_REFRESH_BALANCES: what --kind takes.
std::string KindName(v1::TaskKind kind) {
  const std::string full = v1::TaskKind_Name(kind);
  const std::string name(absl::StripPrefix(full, "TASK_KIND_"));
  return name.empty() ? "?" : absl::AsciiStrToLower(name);
}

// --kind: "refresh_balances", "refresh-balances", "REFRESH_BALANCES" or
// the enum's full name.
absl::StatusOr<v1::TaskKind> ParseKind(absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  absl::StrReplaceAll({{"-", "_"}}, &name);
  if (!absl::StartsWith(name, "TASK_KIND_")) name = absl::StrCat("TASK_KIND_", name);
  v1::TaskKind kind;
  if (!v1::TaskKind_Parse(name, &kind) || kind == v1::TASK_KIND_UNSPECIFIED) {
    return UsageError(absl::StrCat("--kind \"", text,
                                   "\" is not a kind: refresh_balances, refresh_prices, backup "
                                   "or prune"));
  }
  return kind;
}

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

// The kind-specific flags given for another kind are mistakes, not
// silently dropped settings.
absl::Status CheckParamFlags(v1::TaskKind kind) {
  struct ParamFlag {
    const char* name;
    bool set;
    v1::TaskKind kind;
    v1::TaskKind other_kind = v1::TASK_KIND_UNSPECIFIED;
  };
  const ParamFlag flags[] = {
      {"chain", !absl::GetFlag(FLAGS_chain).empty(), v1::TASK_KIND_REFRESH_BALANCES},
      {"tag", !absl::GetFlag(FLAGS_tag).empty(), v1::TASK_KIND_REFRESH_BALANCES},
      {"batch_size", absl::GetFlag(FLAGS_batch_size) != 0, v1::TASK_KIND_REFRESH_BALANCES},
      {"batches_in_flight", absl::GetFlag(FLAGS_batches_in_flight) != 0,
       v1::TASK_KIND_REFRESH_BALANCES},
      {"block_tag", !absl::GetFlag(FLAGS_block_tag).empty(), v1::TASK_KIND_REFRESH_BALANCES},
      {"bypass_cache", absl::GetFlag(FLAGS_bypass_cache), v1::TASK_KIND_REFRESH_BALANCES,
       v1::TASK_KIND_REFRESH_PRICES},
      {"asset", !absl::GetFlag(FLAGS_asset).empty(), v1::TASK_KIND_REFRESH_PRICES},
      {"backup_path", !absl::GetFlag(FLAGS_backup_path).empty(), v1::TASK_KIND_BACKUP},
      {"backup_keep_last", absl::GetFlag(FLAGS_backup_keep_last) != 0, v1::TASK_KIND_BACKUP},
      {"snapshot_max_age", absl::GetFlag(FLAGS_snapshot_max_age) != absl::ZeroDuration(),
       v1::TASK_KIND_PRUNE},
      {"snapshot_keep_last", absl::GetFlag(FLAGS_snapshot_keep_last) != 0, v1::TASK_KIND_PRUNE},
      {"price_max_age", absl::GetFlag(FLAGS_price_max_age) != absl::ZeroDuration(),
       v1::TASK_KIND_PRUNE},
  };
  for (const ParamFlag& flag : flags) {
    if (flag.set && flag.kind != kind && flag.other_kind != kind) {
      return UsageError(
          absl::StrCat("--", flag.name, " does not apply to --kind ", KindName(kind)));
    }
  }
  for (int32_t value :
       {absl::GetFlag(FLAGS_batch_size), absl::GetFlag(FLAGS_batches_in_flight),
        absl::GetFlag(FLAGS_backup_keep_last), absl::GetFlag(FLAGS_snapshot_keep_last),
        absl::GetFlag(FLAGS_runs_keep_last), absl::GetFlag(FLAGS_max_failures)}) {
    if (value < 0) return UsageError("counts must not be negative");
  }
  return absl::OkStatus();
}

absl::Status SetParams(v1::TaskKind kind, v1::Task& task) {
  switch (kind) {
    case v1::TASK_KIND_REFRESH_BALANCES: {
      v1::RefreshBalancesParams& params = *task.mutable_refresh_balances();
      params.set_chain_id(absl::GetFlag(FLAGS_chain));
      for (const std::string& tag : absl::GetFlag(FLAGS_tag)) params.add_tags(tag);
      params.set_batch_size(absl::GetFlag(FLAGS_batch_size));
      params.set_max_batches_in_flight(absl::GetFlag(FLAGS_batches_in_flight));
      params.set_bypass_cache(absl::GetFlag(FLAGS_bypass_cache));
      if (const std::string tag = absl::GetFlag(FLAGS_block_tag); !tag.empty()) {
        v1::BlockTag block;
        if (!v1::BlockTag_Parse(absl::StrCat("BLOCK_TAG_", absl::AsciiStrToUpper(tag)), &block) ||
            block == v1::BLOCK_TAG_UNSPECIFIED) {
          return UsageError("--block_tag must be latest, safe or finalized");
        }
        params.set_block_tag(block);
      }
      break;
    }
    case v1::TASK_KIND_REFRESH_PRICES: {
      v1::RefreshPricesParams& params = *task.mutable_refresh_prices();
      for (absl::string_view quote :
           absl::StrSplit(absl::GetFlag(FLAGS_quote), ',', absl::SkipWhitespace())) {
        params.add_quote_currencies(absl::AsciiStrToLower(quote));
      }
      for (const std::string& asset : absl::GetFlag(FLAGS_asset)) params.add_extra_asset_ids(asset);
      params.set_bypass_cache(absl::GetFlag(FLAGS_bypass_cache));
      break;
    }
    case v1::TASK_KIND_BACKUP:
      task.mutable_backup()->set_path(absl::GetFlag(FLAGS_backup_path));
      task.mutable_backup()->set_keep_last(absl::GetFlag(FLAGS_backup_keep_last));
      break;
    case v1::TASK_KIND_PRUNE: {
      v1::RetentionPolicy& retention = *task.mutable_prune()->mutable_retention();
      if (absl::Duration age = absl::GetFlag(FLAGS_snapshot_max_age); age > absl::ZeroDuration()) {
        *retention.mutable_snapshot_max_age() = config::DurationToProto(age);
      }
      retention.set_snapshot_keep_last(absl::GetFlag(FLAGS_snapshot_keep_last));
      if (absl::Duration age = absl::GetFlag(FLAGS_price_max_age); age > absl::ZeroDuration()) {
        *retention.mutable_price_max_age() = config::DurationToProto(age);
      }
      break;
    }
    default:
      break;
  }
  return absl::OkStatus();
}

absl::Status RunCreate(CommandContext& ctx) {
  if (ctx.args.size() > 1) return UsageError("give at most one TASK_ID");
  if (absl::GetFlag(FLAGS_kind).empty()) return UsageError("--kind is required");
  ASSIGN_OR_RETURN(v1::TaskKind kind, ParseKind(absl::GetFlag(FLAGS_kind)));
  const absl::Duration interval = absl::GetFlag(FLAGS_interval);
  if (interval <= absl::ZeroDuration()) return UsageError("--interval is required (e.g. 5m)");
  for (absl::Duration duration :
       {absl::GetFlag(FLAGS_first_run_delay), absl::GetFlag(FLAGS_run_timeout),
        absl::GetFlag(FLAGS_starting_deadline), absl::GetFlag(FLAGS_runs_keep_for)}) {
    if (duration < absl::ZeroDuration()) return UsageError("durations must not be negative");
  }
  RETURN_IF_ERROR(CheckParamFlags(kind));

  v1::CreateTaskRequest request;
  v1::Task& task = *request.mutable_task();
  if (!ctx.args.empty()) task.set_task_id(ctx.args[0]);
  task.set_kind(kind);
  task.set_description(absl::GetFlag(FLAGS_description));
  task.set_paused(absl::GetFlag(FLAGS_paused));
  v1::Schedule& schedule = *task.mutable_schedule();
  *schedule.mutable_interval() = config::DurationToProto(interval);
  schedule.set_jitter(absl::GetFlag(FLAGS_jitter));
  *schedule.mutable_first_run_delay() =
      config::DurationToProto(absl::GetFlag(FLAGS_first_run_delay));
  *schedule.mutable_run_timeout() = config::DurationToProto(absl::GetFlag(FLAGS_run_timeout));
  *schedule.mutable_starting_deadline() =
      config::DurationToProto(absl::GetFlag(FLAGS_starting_deadline));
  schedule.set_max_consecutive_failures(absl::GetFlag(FLAGS_max_failures));
  if (absl::GetFlag(FLAGS_runs_keep_last) > 0 ||
      absl::GetFlag(FLAGS_runs_keep_for) > absl::ZeroDuration()) {
    task.mutable_run_retention()->set_keep_last(absl::GetFlag(FLAGS_runs_keep_last));
    *task.mutable_run_retention()->mutable_keep_for() =
        config::DurationToProto(absl::GetFlag(FLAGS_runs_keep_for));
  }
  RETURN_IF_ERROR(SetParams(kind, task));

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
