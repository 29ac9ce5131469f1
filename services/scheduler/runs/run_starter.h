// Starts the run a task's kind calls for, with the task's params (the
// kind's defaults when unset).
//
//   ASSIGN_OR_RETURN(std::shared_ptr<Run> run,
//                    StartTaskRun(backends, task, {.run_id = id, .fence = fence,
//                                                  .started_at = now},
//                                 progress, done));
//   run->Cancel(reason);   // CancelRun, the run timeout, a lost lease
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_RUN_STARTER_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_RUN_STARTER_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/scheduler/runs/run.h"
#include "services/scheduler/runs/run_backends.h"
#include "services/scheduler/runs/run_lifecycle.h"

namespace coffer::scheduler {

struct RunBackends {
  RunStorage* storage = nullptr;
  RunFetcher* fetcher = nullptr;
};

struct RunContext {
  std::string run_id;
  v1::Fence fence;
  // A forced trigger: caches bypassed.
  bool forced = false;
  absl::Time started_at;
};

// INVALID_ARGUMENT (naming the task) for a kind it cannot run or params of
// another kind; then nothing was started and `done` is not called.
// Otherwise `done` is called once, on any thread.
absl::StatusOr<std::shared_ptr<Run>> StartTaskRun(
    const RunBackends& backends, const v1::Task& task, const RunContext& context,
    absl::AnyInvocable<void(const v1::Progress&)> progress, RunLifecycle::DoneCallback done);

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_RUN_STARTER_H_
