#include "tools/cofferctl/run_progress.h"

#include <algorithm>
#include <ostream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include <google/protobuf/util/json_util.h>

#include "tools/cofferctl/output.h"

namespace coffer::cofferctl {
namespace {

// Set by the SIGINT handler; read by waits. Only one InterruptCatcher lives
// at a time, so one flag is enough.
volatile sig_atomic_t interrupt_seen = 0;

void OnInterrupt(int) { interrupt_seen = 1; }

// How often a wait looks at the Ctrl-C flag while no event comes.
constexpr absl::Duration kInterruptPoll = absl::Milliseconds(100);
// A watch ended UNAVAILABLE (failover, restart) is reopened this many times.
constexpr int kWatchRetries = 3;
constexpr absl::Duration kWatchRetryPause = absl::Seconds(1);

absl::Time TimeOf(const google::protobuf::Timestamp& time) {
  return absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
}

absl::Duration DurationOf(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

bool IsSet(const google::protobuf::Timestamp& time) {
  return time.seconds() != 0 || time.nanos() != 0;
}

std::string ErrorSummaryLine(const v1::ErrorSummary& group) {
  std::string line = absl::StrCat(group.count(), " x ", v1::Error::Code_Name(group.code()));
  if (!group.upstream().empty()) absl::StrAppend(&line, " ", group.upstream());
  if (!group.chain_id().empty()) absl::StrAppend(&line, " ", group.chain_id());
  if (!group.sample_message().empty()) absl::StrAppend(&line, ": ", group.sample_message());
  return line;
}

std::string ErrorLine(const v1::Error& error) {
  std::string line = v1::Error::Code_Name(error.code());
  if (!error.upstream().empty()) absl::StrAppend(&line, " ", error.upstream());
  if (!error.message().empty()) absl::StrAppend(&line, ": ", error.message());
  return line;
}

std::string EventTypeName(v1::WatchRunsResponse::EventType type) {
  if (type == v1::WatchRunsResponse::EVENT_TYPE_UNSPECIFIED) return "?";
  return v1::WatchRunsResponse::EventType_Name(type);
}

// "fetching 3/10 items, 1 failed" for a running run; "queued" for a pending one.
std::string ProgressNote(const v1::Run& run) {
  if (run.state() == v1::RUN_STATE_PENDING) return "queued";
  const v1::Progress& progress = run.progress();
  std::string note = progress.stage();
  if (progress.done() > 0 || progress.total() > 0) {
    absl::StrAppend(&note, note.empty() ? "" : " ", progress.done());
    if (progress.total() > 0) absl::StrAppend(&note, "/", progress.total());
    if (!progress.unit().empty()) absl::StrAppend(&note, " ", progress.unit());
  }
  if (progress.failed() > 0) absl::StrAppend(&note, ", ", progress.failed(), " failed");
  if (run.cancel_requested()) absl::StrAppend(&note, note.empty() ? "" : ", ", "cancelling");
  return note;
}

// "SUCCEEDED in 2s: 3 ok, 0 failed (snapshot 7)": the outcome's first line.
std::string OutcomeHead(const v1::Run& run) {
  std::string text = RunStateName(run.state());
  const absl::Duration duration = RunDuration(run);
  if (duration > absl::ZeroDuration()) absl::StrAppend(&text, " in ", FormatAbslDuration(duration));
  const std::string items = RunItems(run);
  if (items != "-") absl::StrAppend(&text, ": ", items);
  if (!run.snapshot_id().empty()) absl::StrAppend(&text, " (snapshot ", run.snapshot_id(), ")");
  return text;
}

}  // namespace

std::string RunStateName(v1::RunState state) {
  const std::string full = v1::RunState_Name(state);
  const std::string name(absl::StripPrefix(full, "RUN_STATE_"));
  return name.empty() ? "?" : name;
}

std::string RunTriggerName(v1::RunTrigger trigger) {
  const std::string full = v1::RunTrigger_Name(trigger);
  const std::string name(absl::StripPrefix(full, "RUN_TRIGGER_"));
  return name.empty() ? "?" : absl::AsciiStrToLower(name);
}

bool IsTerminal(v1::RunState state) {
  return state != v1::RUN_STATE_UNSPECIFIED && state != v1::RUN_STATE_PENDING &&
         state != v1::RUN_STATE_RUNNING;
}

bool CountsAsSuccess(v1::RunState state) {
  return state == v1::RUN_STATE_SUCCEEDED || state == v1::RUN_STATE_PARTIAL;
}

absl::Duration RunDuration(const v1::Run& run) {
  if (!IsSet(run.started_at())) return absl::ZeroDuration();
  if (IsSet(run.finished_at())) return TimeOf(run.finished_at()) - TimeOf(run.started_at());
  if (run.has_progress() && DurationOf(run.progress().elapsed()) > absl::ZeroDuration()) {
    return DurationOf(run.progress().elapsed());
  }
  if (run.state() != v1::RUN_STATE_RUNNING) return absl::ZeroDuration();
  // Running with no progress reported yet: so far, by this machine's clock.
  return std::max(absl::ZeroDuration(), absl::Now() - TimeOf(run.started_at()));
}

std::string RunItems(const v1::Run& run) {
  const v1::RunCounts& counts = run.counts();
  if (run.state() == v1::RUN_STATE_RUNNING && counts.items_succeeded() == 0 &&
      counts.items_failed() == 0) {
    // Counts are final only at the end; while running, progress says more.
    const v1::Progress& progress = run.progress();
    if (progress.done() == 0 && progress.failed() == 0) return "-";
    return absl::StrCat(progress.done() - std::min(progress.done(), progress.failed()), " ok, ",
                        progress.failed(), " failed");
  }
  if (counts.items_total() == 0 && counts.items_succeeded() == 0 && counts.items_failed() == 0) {
    return "-";
  }
  return absl::StrCat(counts.items_succeeded(), " ok, ", counts.items_failed(), " failed");
}

std::string RunErrorLine(const v1::Run& run) {
  if (run.has_error() && run.error().code() != v1::Error::CODE_UNSPECIFIED) {
    return ErrorLine(run.error());
  }
  if (run.error_summary_size() > 0) return ErrorSummaryLine(run.error_summary(0));
  return "";
}

std::string RunOutcome(const v1::Run& run) {
  std::string text = absl::StrCat(OutcomeHead(run), "\n");
  if (run.has_error() && run.error().code() != v1::Error::CODE_UNSPECIFIED) {
    absl::StrAppend(&text, "  error: ", ErrorLine(run.error()), "\n");
  }
  for (const v1::ErrorSummary& group : run.error_summary()) {
    absl::StrAppend(&text, "  failed: ", ErrorSummaryLine(group), "\n");
  }
  return text;
}

std::string RunEventLine(const v1::WatchRunsResponse& event) {
  const v1::Run& run = event.run();
  std::string what;
  if (IsTerminal(run.state())) {
    // One line per event: the error groups of RunOutcome would break it, so
    // only the run's error (or its largest group) follows the outcome.
    what = OutcomeHead(run);
    if (const std::string error = RunErrorLine(run); !error.empty()) {
      absl::StrAppend(&what, " - ", error);
    }
  } else if (event.type() == v1::WatchRunsResponse::PROGRESS) {
    what = ProgressNote(run);
  } else {
    what = RunStateName(run.state());
    if (const std::string note = ProgressNote(run);
        run.state() == v1::RUN_STATE_RUNNING && !note.empty()) {
      absl::StrAppend(&what, " ", note);
    }
  }
  return absl::StrFormat("%s  %-8s  %s  %s  %s  %s", FormatTime(event.time()),
                         EventTypeName(event.type()), run.run_id(), run.task_id(),
                         RunTriggerName(run.trigger()), what);
}

std::string JsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return "{\"error\": \"cannot print as JSON\"}\n";
  }
  return json + "\n";
}

InterruptCatcher::InterruptCatcher() {
  interrupt_seen = 0;
  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_);
}

InterruptCatcher::~InterruptCatcher() { sigaction(SIGINT, &previous_, nullptr); }

bool InterruptCatcher::Interrupted() { return interrupt_seen != 0; }

void RunProgressBar::Show(const v1::Run& run) {
  if (!ctx_.interactive) return;
  if (bar_ == nullptr) bar_ = std::make_unique<ProgressBar>(ctx_.err, true, run.task_id());
  const v1::Progress& progress = run.progress();
  const std::string note = ProgressNote(run);
  bar_->Update(static_cast<int64_t>(progress.done()), static_cast<int64_t>(progress.total()),
               note.empty() ? "starting" : note);
}

RunEventStream::RunEventStream(CommandContext& ctx, const v1::WatchRunsRequest& request,
                               absl::Duration timeout)
    : ctx_(ctx), inbox_(std::make_shared<Inbox>()) {
  call_ = ctx.coffer.scheduler().Stream(
      &v1::Scheduler::Stub::PrepareAsyncWatchRuns, request,
      [inbox = inbox_](const v1::WatchRunsResponse& event) {
        absl::MutexLock lock(&inbox->mu);
        inbox->events.push_back(event);
      },
      [inbox = inbox_](absl::Status status) {
        absl::MutexLock lock(&inbox->mu);
        inbox->ended = std::move(status);
      },
      ctx.coffer.options(timeout));
}

RunEventStream::~RunEventStream() { call_.Cancel(); }

RunEventStream::Next RunEventStream::Wait(v1::WatchRunsResponse* event) {
  Inbox& inbox = *inbox_;
  auto ready = [&inbox]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(inbox.mu) {
    return !inbox.events.empty() || inbox.ended.has_value();
  };
  absl::MutexLock lock(&inbox.mu);
  while (!inbox.mu.AwaitWithTimeout(absl::Condition(&ready), kInterruptPoll)) {
    if (InterruptCatcher::Interrupted()) return Next::kInterrupted;
  }
  if (InterruptCatcher::Interrupted()) return Next::kInterrupted;
  if (!inbox.events.empty()) {
    *event = std::move(inbox.events.front());
    inbox.events.pop_front();
    return Next::kEvent;
  }
  return Next::kEnded;
}

absl::Status RunEventStream::status() const {
  absl::MutexLock lock(&inbox_->mu);
  if (!inbox_->ended.has_value()) return absl::OkStatus();
  return ctx_.coffer.Annotate(client::Service::kScheduler, *inbox_->ended);
}

absl::StatusOr<v1::Run> WaitForRun(
    CommandContext& ctx, const std::string& run_id, absl::Duration timeout,
    const std::function<void(const v1::WatchRunsResponse&)>& on_event) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string follow = absl::StrCat("; follow it with `cofferctl runs watch ", run_id, "`");
  RunProgressBar bar(ctx);
  for (int attempt = 0;; ++attempt) {
    v1::WatchRunsRequest request;
    request.set_run_id(run_id);
    RunEventStream stream(ctx, request, deadline - absl::Now());
    v1::WatchRunsResponse event;
    RunEventStream::Next next;
    while ((next = stream.Wait(&event)) == RunEventStream::Next::kEvent) {
      if (on_event) {
        bar.Clear();
        on_event(event);
      }
      if (event.run().run_id() == run_id && IsTerminal(event.run().state())) return event.run();
      bar.Show(event.run());
    }
    bar.Clear();
    if (next == RunEventStream::Next::kInterrupted) {
      return absl::CancelledError(absl::StrCat("interrupted; run ", run_id, " goes on", follow));
    }
    const absl::Status status = stream.status();
    if (status.code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::DeadlineExceededError(absl::StrCat("run ", run_id, " had not ended after ",
                                                      FormatAbslDuration(timeout), follow));
    }
    // OK without a terminal event only if the stream broke its contract;
    // reopening then answers the run's stored state.
    const bool retry = status.ok() || status.code() == absl::StatusCode::kUnavailable;
    if (!retry || attempt >= kWatchRetries || absl::Now() + kWatchRetryPause >= deadline) {
      if (status.ok()) {
        return absl::InternalError(
            absl::StrCat("the watch of run ", run_id, " ended before the run did", follow));
      }
      return status;
    }
    ctx.err << "watch of run " << run_id << " ended (" << status.message() << "); reopening\n";
    absl::SleepFor(kWatchRetryPause);
  }
}

}  // namespace coffer::cofferctl
