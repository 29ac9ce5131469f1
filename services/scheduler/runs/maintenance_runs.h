// Runs of the two maintenance task kinds, each one storage call:
//  - backup: Storage.Backup streamed, its page progress forwarded; the
//    params' path with "{time}" replaced by the run's start time (UTC,
//    "20240131T120000Z"), keep_last passed on. Cancelling stops the copy
//    (storage deletes the partial file). No fence: a backup writes no
//    data, only a file beside the database.
//  - prune: Storage.Prune with the params' retention, fenced; the rows it
//    deleted are the run's items.
//
//   auto run = BackupRun::Start(storage, {.params = task.backup(), .started_at = now},
//                               progress, [](RunOutcome outcome) { ... });
//   run->Cancel(reason);
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_MAINTENANCE_RUNS_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_MAINTENANCE_RUNS_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/scheduler/runs/run.h"
#include "services/scheduler/runs/run_backends.h"
#include "services/scheduler/runs/run_lifecycle.h"
#include "services/scheduler/runs/run_outcome.h"

namespace coffer::scheduler {

// `path` with every "{time}" replaced by `time` as "20240131T120000Z".
std::string BackupPathFor(const std::string& path, absl::Time time);

struct BackupRunOptions {
  v1::BackupParams params;
  absl::Time started_at;
};

class BackupRun : public Run, public std::enable_shared_from_this<BackupRun> {
 public:
  using ProgressCallback = absl::AnyInvocable<void(const v1::Progress&)>;

  // `storage` must outlive the run (until `done` ran).
  static std::shared_ptr<BackupRun> Start(RunStorage* storage, BackupRunOptions options,
                                          ProgressCallback progress,
                                          RunLifecycle::DoneCallback done);
  // Cancels the stream; the run ends CANCELLED when it closed.
  void Cancel(v1::Error reason) override;

  // Use Start.
  BackupRun(ProgressCallback progress, RunLifecycle::DoneCallback done);

 private:
  void OnMessage(const v1::BackupResponse& message);
  void OnDone(absl::Status status);

  ProgressCallback progress_;
  RunLifecycle lifecycle_;
  std::mutex mutex_;
  absl::AnyInvocable<void()> cancel_stream_;
  bool completed_ = false;  // the last message carried the result
};

struct PruneRunOptions {
  v1::Fence fence;
  v1::PruneParams params;
};

class PruneRun : public Run, public std::enable_shared_from_this<PruneRun> {
 public:
  // `storage` must outlive the run (until `done` ran).
  static std::shared_ptr<PruneRun> Start(RunStorage* storage, PruneRunOptions options,
                                         RunLifecycle::DoneCallback done);
  // Prune is one call: a cancel ends the run CANCELLED when it answered,
  // though storage may have deleted rows by then (the outcome says so).
  void Cancel(v1::Error reason) override;

  // Use Start.
  explicit PruneRun(RunLifecycle::DoneCallback done);

 private:
  void OnPruned(absl::StatusOr<v1::PruneResponse> reply);
  RunOutcome Counts() const;

  RunLifecycle lifecycle_;
  mutable std::mutex mutex_;
  v1::RunCounts counts_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_MAINTENANCE_RUNS_H_
