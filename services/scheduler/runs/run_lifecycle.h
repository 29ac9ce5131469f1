// The bookkeeping every asynchronous run shares: the calls it has out, a
// cancel, and the one callback that reports how it ended. A run counts each
// call before making it and each answer when it comes; after a cancel it
// makes no new call and ends CANCELLED once the last answer came.
//
//   if (!lifecycle_.StartCall()) return;       // cancelled or over: no call
//   client->Call(..., [self](auto reply) {
//     if (!self->lifecycle_.Answered([&] { return self->Outcome(); })) return;
//     ...                                        // use the reply
//   });
//
// Thread-safe. Never calls out while holding its lock, so a run may call it
// with its own lock held.
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_RUN_LIFECYCLE_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_RUN_LIFECYCLE_H_

#include <mutex>
#include <optional>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"

#include "coffer/v1/common.pb.h"
#include "services/scheduler/runs/run_outcome.h"

namespace coffer::scheduler {

class RunLifecycle {
 public:
  using DoneCallback = absl::AnyInvocable<void(RunOutcome) &&>;

  explicit RunLifecycle(DoneCallback done) : done_(std::move(done)) {}

  // Counts a call about to be made. False once cancelled or finished: make
  // no call.
  bool StartCall();

  enum class After {
    kGoOn,             // use the answer
    kStop,             // cancelled; other answers are still to come
    kFinishCancelled,  // cancelled and this was the last: FinishCancelled
  };
  // Counts an answer.
  After EndCall();

  // Records a cancel (the first one's reason counts). True when nothing is
  // outstanding: the caller ends the run now with FinishCancelled.
  bool Cancel(v1::Error reason);

  // Ends the run with `outcome`; only the first end counts.
  void Finish(RunOutcome outcome);
  // Ends the run CANCELLED with the cancel's reason and `counts`' counts
  // and error summary.
  void FinishCancelled(RunOutcome counts);

  bool cancelled() const;

  // The two above as runs use them, `counts` giving the outcome's counts
  // when the run ends CANCELLED (called without this object's lock held).
  // Answered counts an answer and says whether to use it; CancelRun records
  // a cancel and ends the run when nothing is outstanding.
  bool Answered(absl::FunctionRef<RunOutcome()> counts);
  void CancelRun(v1::Error reason, absl::FunctionRef<RunOutcome()> counts);

 private:
  mutable std::mutex mutex_;
  DoneCallback done_;  // empty once the run ended
  std::optional<v1::Error> cancelled_;
  int outstanding_ = 0;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_RUN_LIFECYCLE_H_
