// What `tasks` and `runs` share about scheduler runs: how a run, its outcome
// and its events read in a terminal, and how cofferctl follows runs through
// Scheduler.WatchRuns while drawing their progress on stderr.
//
//   // Wait for one run (`tasks trigger --wait`, `runs watch RUN_ID`):
//   absl::StatusOr<v1::Run> run = WaitForRun(ctx, run_id, absl::Minutes(10),
//                                            /*on_event=*/nullptr);
//   ctx.out << RunOutcome(*run);
//   if (!CountsAsSuccess(run->state())) ctx.exit_code = 1;
//
// Events arrive on the client's poller thread, which must not block; the
// stream hands them to the command's thread, which prints them (stdout may
// block on a full pipe) and watches for Ctrl-C.
#ifndef COFFER_TOOLS_COFFERCTL_RUN_PROGRESS_H_
#define COFFER_TOOLS_COFFERCTL_RUN_PROGRESS_H_

#include <signal.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include <google/protobuf/message.h>

#include "coffer/v1/scheduler.pb.h"
#include "tools/cofferctl/command.h"
#include "tools/cofferctl/progress_bar.h"

namespace coffer::cofferctl {

// "SUCCEEDED", "RUNNING": the enum's name without its prefix.
std::string RunStateName(v1::RunState state);
// "manual", "scheduled", "catch_up".
std::string RunTriggerName(v1::RunTrigger trigger);
bool IsTerminal(v1::RunState state);
// SUCCEEDED, and PARTIAL: a partial run wrote what succeeded (a refresh's
// snapshot holds every account that answered) and the scheduler does not
// count it as a failure either; every other terminal state wrote nothing.
bool CountsAsSuccess(v1::RunState state);

// From start to end, or so far while running; zero before the start (or
// for an ended run without an end time).
absl::Duration RunDuration(const v1::Run& run);
// "3 ok, 1 failed", or "-" for a run that counted nothing.
std::string RunItems(const v1::Run& run);
// The run's error in one line for a table: its error, else its largest
// group of failed items ("2 x UNAVAILABLE mainnet: timeout"); "" if none.
std::string RunErrorLine(const v1::Run& run);
// The outcome for people, ending in a newline:
//   SUCCEEDED in 2s: 3 ok, 0 failed (snapshot 01HF...)
// followed, for a run with errors, by an indented line for its error and
// each group of failed items.
std::string RunOutcome(const v1::Run& run);
// One line (no newline) for a WatchRuns event:
//   2026-11-27T08:00:01Z  STARTED   r-abc  refresh-balances  manual
std::string RunEventLine(const v1::WatchRunsResponse& event);

// Proto JSON of `message` on one line, ending in a newline: a document of a
// newline-delimited stream (`runs watch --output json`).
std::string JsonLine(const google::protobuf::Message& message);

// While alive, Ctrl-C (SIGINT) sets a flag instead of killing the process,
// so a wait can clear its progress bar and say what goes on. Restores the
// previous handler when destroyed. One at a time.
class InterruptCatcher {
 public:
  InterruptCatcher();
  ~InterruptCatcher();
  InterruptCatcher(const InterruptCatcher&) = delete;
  InterruptCatcher& operator=(const InterruptCatcher&) = delete;
  static bool Interrupted();

 private:
  struct sigaction previous_;
};

// The progress of the run last shown, as a bar on stderr (only when
// ctx.interactive). Clear() before writing to stdout, which may be the same
// terminal; the next Show() draws a fresh bar.
class RunProgressBar {
 public:
  explicit RunProgressBar(CommandContext& ctx) : ctx_(ctx) {}
  void Show(const v1::Run& run);
  void Clear() { bar_.reset(); }

 private:
  CommandContext& ctx_;
  std::unique_ptr<ProgressBar> bar_;
};

// A WatchRuns stream whose events the command's thread takes one at a time.
// Destroying it cancels the call; the callbacks hold their own reference to
// what they fill, so they may outlive it.
class RunEventStream {
 public:
  // `timeout`: the stream's deadline; absl::InfiniteDuration() for none.
  RunEventStream(CommandContext& ctx, const v1::WatchRunsRequest& request, absl::Duration timeout);
  ~RunEventStream();
  RunEventStream(const RunEventStream&) = delete;
  RunEventStream& operator=(const RunEventStream&) = delete;

  enum class Next { kEvent, kEnded, kInterrupted };
  // Blocks until an event (stored in `event`), the stream's end (see
  // status()) or, under an InterruptCatcher, Ctrl-C.
  Next Wait(v1::WatchRunsResponse* event);
  // After kEnded: how the stream ended, annotated with the scheduler's
  // address.
  absl::Status status() const;

 private:
  struct Inbox {
    absl::Mutex mu;
    std::deque<v1::WatchRunsResponse> events ABSL_GUARDED_BY(mu);
    std::optional<absl::Status> ended ABSL_GUARDED_BY(mu);
  };

  CommandContext& ctx_;
  std::shared_ptr<Inbox> inbox_;
  grpc_util::CallHandle call_;
};

// A unary Scheduler call, blocking, with the scheduler's address in front
// of any error.
template <typename Request, typename Reply>
absl::StatusOr<Reply> CallScheduler(
    CommandContext& ctx,
    grpc_util::AsyncClient<v1::Scheduler>::UnaryPrepare<Request, Reply> prepare,
    const Request& request, const grpc_util::CallOptions& options) {
  absl::StatusOr<Reply> reply = ctx.coffer.scheduler().CallBlocking(prepare, request, options);
  if (!reply.ok()) return ctx.coffer.Annotate(client::Service::kScheduler, reply.status());
  return reply;
}

// Follows run `run_id` through WatchRuns until it has ended, drawing its
// progress, and answers its final record. `on_event`, if set, sees every
// event first (for `runs watch` to print it). A stream that ends UNAVAILABLE (the
// scheduler restarted or handed over) is reopened a few times: the reopened
// watch starts with the run's current, possibly final, state.
// DEADLINE_EXCEEDED after `timeout` (the run goes on), CANCELLED on Ctrl-C
// under an InterruptCatcher; both messages say how to follow the run.
absl::StatusOr<v1::Run> WaitForRun(
    CommandContext& ctx, const std::string& run_id, absl::Duration timeout,
    const std::function<void(const v1::WatchRunsResponse&)>& on_event);

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_RUN_PROGRESS_H_
