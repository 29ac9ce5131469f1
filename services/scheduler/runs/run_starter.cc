#include "services/scheduler/runs/run_starter.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "services/scheduler/runs/maintenance_runs.h"
#include "services/scheduler/runs/refresh_balances_run.h"
#include "services/scheduler/runs/refresh_prices_run.h"

namespace coffer::scheduler {
namespace {

// Whether the task's params, if set, are its kind's.
bool ParamsMatchKind(const v1::Task& task) {
  switch (task.params_case()) {
    case v1::Task::PARAMS_NOT_SET:
      return true;
    case v1::Task::kRefreshBalances:
      return task.kind() == v1::TASK_KIND_REFRESH_BALANCES;
    case v1::Task::kRefreshPrices:
      return task.kind() == v1::TASK_KIND_REFRESH_PRICES;
    case v1::Task::kBackup:
      return task.kind() == v1::TASK_KIND_BACKUP;
    case v1::Task::kPrune:
      return task.kind() == v1::TASK_KIND_PRUNE;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Run>> StartTaskRun(
    const RunBackends& backends, const v1::Task& task, const RunContext& context,
    absl::AnyInvocable<void(const v1::Progress&)> progress, RunLifecycle::DoneCallback done) {
  if (!ParamsMatchKind(task)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task ", task.task_id(), ": params of another kind than ", v1::TaskKind_Name(task.kind())));
  }
  switch (task.kind()) {
    case v1::TASK_KIND_REFRESH_BALANCES: {
      RefreshBalancesRunOptions options;
      options.run_id = context.run_id;
      options.fence = context.fence;
      options.params = task.refresh_balances();
      options.forced = context.forced;
      options.taken_at = context.started_at;
      return RefreshBalancesRun::Start(backends.storage, backends.fetcher, std::move(options),
                                       std::move(progress), std::move(done));
    }
    case v1::TASK_KIND_REFRESH_PRICES: {
      RefreshPricesRunOptions options;
      options.fence = context.fence;
      options.params = task.refresh_prices();
      options.forced = context.forced;
      return RefreshPricesRun::Start(backends.storage, backends.fetcher, std::move(options),
                                     std::move(progress), std::move(done));
    }
    case v1::TASK_KIND_BACKUP: {
      BackupRunOptions options;
      options.params = task.backup();
      options.started_at = context.started_at;
      return BackupRun::Start(backends.storage, std::move(options), std::move(progress),
                              std::move(done));
    }
    case v1::TASK_KIND_PRUNE: {
      if (!task.prune().has_retention()) {
        return absl::InvalidArgumentError(
            absl::StrCat("task ", task.task_id(), ": prune.retention is required"));
      }
      PruneRunOptions options;
      options.fence = context.fence;
      options.params = task.prune();
      return PruneRun::Start(backends.storage, std::move(options), std::move(done));
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "task ", task.task_id(), ": kind ", v1::TaskKind_Name(task.kind()), " cannot run"));
  }
}

}  // namespace coffer::scheduler
