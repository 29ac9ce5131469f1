#include "services/scheduler/runs/maintenance_runs.h"

#include <utility>

#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

namespace coffer::scheduler {

std::string BackupPathFor(const std::string& path, absl::Time time) {
  return absl::StrReplaceAll(
      path, {{"{time}", absl::FormatTime("%Y%m%dT%H%M%SZ", time, absl::UTCTimeZone())}});
}

std::shared_ptr<BackupRun> BackupRun::Start(RunStorage* storage, BackupRunOptions options,
                                            ProgressCallback progress,
                                            RunLifecycle::DoneCallback done) {
  auto run = std::make_shared<BackupRun>(std::move(progress), std::move(done));
  v1::BackupRequest request;
  request.set_path(BackupPathFor(options.params.path(), options.started_at));
  request.set_keep_last(options.params.keep_last());
  if (!run->lifecycle_.StartCall()) return run;
  absl::AnyInvocable<void()> cancel = storage->Backup(
      request, [run](const v1::BackupResponse& message) { run->OnMessage(message); },
      [run](absl::Status status) { run->OnDone(std::move(status)); });
  // A cancel that came before the canceller was stored cancels now.
  absl::AnyInvocable<void()> cancel_now;
  {
    std::lock_guard<std::mutex> lock(run->mutex_);
    if (run->lifecycle_.cancelled()) {
      cancel_now = std::move(cancel);
    } else {
      run->cancel_stream_ = std::move(cancel);
    }
  }
  if (cancel_now) cancel_now();
  return run;
}

BackupRun::BackupRun(ProgressCallback progress, RunLifecycle::DoneCallback done)
    : progress_(std::move(progress)), lifecycle_(std::move(done)) {}

void BackupRun::Cancel(v1::Error reason) {
  lifecycle_.CancelRun(std::move(reason), [] { return RunOutcome(); });
  // Called outside the lock: a stream may end (and call OnDone) at once.
  absl::AnyInvocable<void()> cancel;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel = std::move(cancel_stream_);
    cancel_stream_ = nullptr;
  }
  if (cancel) cancel();
}

void BackupRun::OnMessage(const v1::BackupResponse& message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (message.has_result()) completed_ = true;
  }
  if (progress_ && message.has_progress()) {
    v1::Progress progress = message.progress();
    if (progress.stage().empty()) progress.set_stage("copying pages");
    progress_(progress);  // one stream: messages come one after another
  }
}

void BackupRun::OnDone(absl::Status status) {
  if (!lifecycle_.Answered([] { return RunOutcome(); })) return;
  bool completed = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    completed = completed_;
  }
  RunOutcome outcome;
  if (status.ok() && completed) {
    outcome.state = v1::RUN_STATE_SUCCEEDED;
  } else {
    outcome.state = v1::RUN_STATE_FAILED;
    outcome.error = ErrorOfStatus(
        status.ok() ? absl::DataLossError("the stream ended without a result") : status,
        "backing up", "storage");
  }
  lifecycle_.Finish(std::move(outcome));
}

std::shared_ptr<PruneRun> PruneRun::Start(RunStorage* storage, PruneRunOptions options,
                                          RunLifecycle::DoneCallback done) {
  auto run = std::make_shared<PruneRun>(std::move(done));
  v1::PruneRequest request;
  *request.mutable_fence() = options.fence;
  *request.mutable_retention() = options.params.retention();
  if (!run->lifecycle_.StartCall()) return run;
  storage->Prune(
      request, [run](absl::StatusOr<v1::PruneResponse> reply) { run->OnPruned(std::move(reply)); });
  return run;
}

PruneRun::PruneRun(RunLifecycle::DoneCallback done) : lifecycle_(std::move(done)) {}

void PruneRun::Cancel(v1::Error reason) {
  lifecycle_.CancelRun(std::move(reason), [this] { return Counts(); });
}

RunOutcome PruneRun::Counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  RunOutcome outcome;
  outcome.counts = counts_;
  return outcome;
}

void PruneRun::OnPruned(absl::StatusOr<v1::PruneResponse> reply) {
  if (reply.ok()) {
    const uint64_t deleted =
        reply->snapshots_deleted() + reply->items_deleted() + reply->prices_deleted();
    std::lock_guard<std::mutex> lock(mutex_);
    counts_.set_items_total(deleted);
    counts_.set_items_succeeded(deleted);
  }
  if (!lifecycle_.Answered([this] { return Counts(); })) return;
  RunOutcome outcome = Counts();
  if (reply.ok()) {
    outcome.state = v1::RUN_STATE_SUCCEEDED;
  } else {
    outcome.state = v1::RUN_STATE_FAILED;
    outcome.error = ErrorOfStatus(reply.status(), "pruning", "storage");
  }
  lifecycle_.Finish(std::move(outcome));
}

}  // namespace coffer::scheduler
