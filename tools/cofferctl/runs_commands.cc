#include "tools/cofferctl/runs_commands.h"

#include <algorithm>
#include <ostream>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

#include "common/config/proto_timestamp.h"
#include "common/status/status_macros.h"
#include "tools/cofferctl/flags.h"
#include "tools/cofferctl/output.h"
#include "tools/cofferctl/run_progress.h"

ABSL_FLAG(std::string, state, "",
          "Only runs in these states, comma-separated: pending, running, succeeded, partial, "
          "failed, cancelled, timed_out, abandoned, skipped");
ABSL_FLAG(absl::Duration, watch_timeout, absl::ZeroDuration(),
          "End the watch after this long (0: never; Ctrl-C ends it)");
ABSL_FLAG(std::string, reason, "", "Why: stored in the run's error (at most 256 bytes)");

namespace coffer::cofferctl {
namespace {

using Scheduler = v1::Scheduler::Stub;

// Rows `runs ls` shows when --limit is not given: the recent ones.
constexpr int32_t kDefaultRunsLimit = 50;
// WatchRuns merges a run's progress to at most one event per this: a line
// per second is what a person follows.
constexpr absl::Duration kWatchProgressInterval = absl::Seconds(1);

absl::StatusOr<v1::RunState> ParseState(absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (!absl::StartsWith(name, "RUN_STATE_")) name = absl::StrCat("RUN_STATE_", name);
  v1::RunState state;
  if (!v1::RunState_Parse(name, &state) || state == v1::RUN_STATE_UNSPECIFIED) {
    return UsageError(absl::StrCat("--state \"", text,
                                   "\" is not a run state: pending, running, succeeded, partial, "
                                   "failed, cancelled, timed_out, abandoned or skipped"));
  }
  return state;
}

std::string StateCell(const v1::Run& run) {
  std::string state = RunStateName(run.state());
  if (run.cancel_requested() && !IsTerminal(run.state())) absl::StrAppend(&state, " (cancelling)");
  return state;
}

std::string TriggerCell(const v1::Run& run) {
  std::string trigger = RunTriggerName(run.trigger());
  if (run.forced()) absl::StrAppend(&trigger, ", forced");
  return trigger;
}

absl::Status RunLs(CommandContext& ctx) {
  if (!ctx.args.empty()) return UsageError("runs ls takes no arguments");
  int32_t limit = absl::GetFlag(FLAGS_limit);
  if (limit < 0) return UsageError("--limit must not be negative");
  if (limit == 0) limit = kDefaultRunsLimit;
  v1::ListRunsRequest request;
  request.set_task_id(absl::GetFlag(FLAGS_task));
  for (absl::string_view state :
       absl::StrSplit(absl::GetFlag(FLAGS_state), ',', absl::SkipWhitespace())) {
    ASSIGN_OR_RETURN(v1::RunState parsed, ParseState(state));
    request.add_states(parsed);
  }
  const absl::Time now = absl::Now();
  if (const std::string since = absl::GetFlag(FLAGS_since); !since.empty()) {
    absl::StatusOr<absl::Time> time = ParseTimeArgument(since, now);
    if (!time.ok()) return UsageError(absl::StrCat("--since: ", time.status().message()));
    *request.mutable_start_time() = config::TimeToProto(*time);
  }
  if (const std::string until = absl::GetFlag(FLAGS_until); !until.empty()) {
    absl::StatusOr<absl::Time> time = ParseTimeArgument(until, now);
    if (!time.ok()) return UsageError(absl::StrCat("--until: ", time.status().message()));
    *request.mutable_end_time() = config::TimeToProto(*time);
  }
  request.mutable_page()->set_page_size(std::min(limit, 1000));

  v1::ListRunsResponse all;
  do {
    ASSIGN_OR_RETURN(v1::ListRunsResponse page, CallScheduler(ctx, &Scheduler::PrepareAsyncListRuns,
                                                              request, ctx.coffer.options()));
    for (v1::Run& run : *page.mutable_runs()) {
      if (all.runs_size() >= limit) break;
      *all.add_runs() = std::move(run);
    }
    request.mutable_page()->set_page_token(page.page().next_page_token());
  } while (!request.page().page_token().empty() && all.runs_size() < limit);

  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(all);
    return absl::OkStatus();
  }
  Table table({"RUN",
               "TASK",
               "STATE",
               "TRIGGER",
               "STARTED",
               {"DURATION", Align::kRight},
               {"ITEMS", Align::kRight},
               "ERROR"});
  for (const v1::Run& run : all.runs()) {
    table.AddRow({run.run_id(), run.task_id(), StateCell(run), TriggerCell(run),
                  FormatTime(run.started_at()), FormatAbslDuration(RunDuration(run)), RunItems(run),
                  RunErrorLine(run)});
  }
  ctx.out << table.Render();
  return absl::OkStatus();
}

void PrintEvent(CommandContext& ctx, const v1::WatchRunsResponse& event) {
  if (ctx.output == OutputFormat::kJson) {
    ctx.out << JsonLine(event) << std::flush;
  } else {
    ctx.out << RunEventLine(event) << std::endl;
  }
}

absl::Duration WatchTimeout() {
  const absl::Duration timeout = absl::GetFlag(FLAGS_watch_timeout);
  return timeout == absl::ZeroDuration() ? absl::InfiniteDuration() : timeout;
}

// runs watch RUN_ID: until that run has ended; exit by its outcome.
absl::Status WatchOneRun(CommandContext& ctx, const std::string& run_id) {
  InterruptCatcher interrupt;
  absl::StatusOr<v1::Run> run =
      WaitForRun(ctx, run_id, WatchTimeout(),
                 [&ctx](const v1::WatchRunsResponse& event) { PrintEvent(ctx, event); });
  if (!run.ok()) {
    if (run.status().code() == absl::StatusCode::kCancelled && InterruptCatcher::Interrupted()) {
      ctx.exit_code = 130;
      return absl::OkStatus();
    }
    return run.status();
  }
  if (!CountsAsSuccess(run->state())) ctx.exit_code = 1;
  return absl::OkStatus();
}

// runs watch [--task T]: every event until Ctrl-C or --watch_timeout.
absl::Status WatchAllRuns(CommandContext& ctx) {
  InterruptCatcher interrupt;
  v1::WatchRunsRequest request;
  request.set_task_id(absl::GetFlag(FLAGS_task));
  request.mutable_progress_interval()->set_seconds(absl::ToInt64Seconds(kWatchProgressInterval));
  RunEventStream stream(ctx, request, WatchTimeout());
  RunProgressBar bar(ctx);
  v1::WatchRunsResponse event;
  RunEventStream::Next next;
  while ((next = stream.Wait(&event)) == RunEventStream::Next::kEvent) {
    bar.Clear();
    PrintEvent(ctx, event);
    if (event.run().state() == v1::RUN_STATE_RUNNING) bar.Show(event.run());
  }
  bar.Clear();
  // Ctrl-C and the watch's own deadline are how a watch of every run ends.
  if (next == RunEventStream::Next::kInterrupted) return absl::OkStatus();
  const absl::Status status = stream.status();
  if (status.code() == absl::StatusCode::kDeadlineExceeded) return absl::OkStatus();
  if (status.ok()) return absl::OkStatus();
  return status;
}

absl::Status RunWatch(CommandContext& ctx) {
  if (absl::GetFlag(FLAGS_watch_timeout) < absl::ZeroDuration()) {
    return UsageError("--watch_timeout must not be negative");
  }
  if (ctx.args.size() > 1) return UsageError("give at most one RUN_ID");
  if (ctx.args.empty()) return WatchAllRuns(ctx);
  if (!absl::GetFlag(FLAGS_task).empty()) return UsageError("give --task or a RUN_ID, not both");
  return WatchOneRun(ctx, ctx.args[0]);
}

absl::Status RunCancel(CommandContext& ctx) {
  if (ctx.args.size() != 1) return UsageError("give one RUN_ID");
  // CancelRun names the task; the run id pins which of its runs.
  v1::GetRunRequest get;
  get.set_run_id(ctx.args[0]);
  ASSIGN_OR_RETURN(v1::GetRunResponse found,
                   CallScheduler(ctx, &Scheduler::PrepareAsyncGetRun, get, ctx.coffer.options()));
  v1::CancelRunRequest request;
  request.set_task_id(found.run().task_id());
  request.set_run_id(found.run().run_id());
  request.set_reason(absl::GetFlag(FLAGS_reason));
  request.set_wait(absl::GetFlag(FLAGS_wait));
  ASSIGN_OR_RETURN(
      v1::CancelRunResponse cancelled,
      CallScheduler(ctx, &Scheduler::PrepareAsyncCancelRun, request, ctx.coffer.options()));
  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(cancelled);
  } else if (IsTerminal(cancelled.run().state())) {
    ctx.out << cancelled.run().run_id() << " " << RunOutcome(cancelled.run());
  } else {
    ctx.out << "cancel requested for run " << request.run_id() << " of task " << request.task_id()
            << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> RunsCommands() {
  return {
      {
          .words = {"runs", "ls"},
          .arguments = "",
          .summary = "runs of the scheduler's tasks, newest first",
          .details = "Columns: RUN, TASK, STATE, TRIGGER, STARTED, DURATION, ITEMS (ok, failed), "
                     "ERROR (the run's error or its largest group of failed items). A running "
                     "run shows its live progress. --since/--until filter on the start time. "
                     "At most --limit runs (default 50).\n"
                     "--output json: one ListRunsResponse.\n"
                     "Example: cofferctl runs ls --task refresh-balances --state failed,partial "
                     "--since 7d",
          .flags = {"task", "state", "since", "until", "limit"},
          .run = RunLs,
      },
      {
          .words = {"runs", "watch"},
          .arguments = "[RUN_ID]",
          .summary = "follow runs as they happen: queued, started, progress, finished",
          .details =
              "One line per event: time, event, run, task, trigger, then the state, progress "
              "or outcome. First the runs pending or running now, then events until Ctrl-C or "
              "--watch_timeout (both exit 0). A progress bar of the running run on stderr when "
              "it is a terminal.\n"
              "With RUN_ID: that run only, from its current state (even if it has ended) to "
              "its end; exit 0 when it SUCCEEDED or was PARTIAL, 1 otherwise (or when "
              "--watch_timeout passed first), 130 on Ctrl-C.\n"
              "--output json: each event is one WatchRunsResponse on its own line "
              "(newline-delimited JSON): unlike every other command, a stream of documents, "
              "since a watch has no end to print one at.\n"
              "Example: cofferctl runs watch --task refresh-balances",
          .flags = {"task", "watch_timeout"},
          .run = RunWatch,
      },
      {
          .words = {"runs", "cancel"},
          .arguments = "RUN_ID",
          .summary = "cancel a running run (and its task's pending follow-up)",
          .details = "The run stops its calls, writes nothing and is recorded CANCELLED. "
                     "--wait answers once it has been recorded (and prints its outcome); "
                     "otherwise once the cancel was asked. A run that is not its task's "
                     "current one answers FAILED_PRECONDITION.\n"
                     "--output json: one CancelRunResponse.\n"
                     "Example: cofferctl runs cancel 01HF3K2... --reason \"wrong tag\" --wait",
          .flags = {"wait", "reason"},
          .run = RunCancel,
      },
  };
}

}  // namespace coffer::cofferctl
