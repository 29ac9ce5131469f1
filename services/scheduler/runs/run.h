// What the task engine holds of a run in progress, whatever its kind: the
// way to stop it. Each kind (refresh_balances_run.h, refresh_prices_run.h,
// maintenance_runs.h) reports how it ended through its done callback.
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_RUN_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_RUN_H_

#include "coffer/v1/common.pb.h"

namespace coffer::scheduler {

class Run {
 public:
  virtual ~Run() = default;
  // Stops the run: no new calls; it ends CANCELLED with `reason` once its
  // outstanding calls answered (what was already written stays written, and
  // the outcome says so). Idempotent; a no-op once it ended.
  virtual void Cancel(v1::Error reason) = 0;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_RUN_H_
