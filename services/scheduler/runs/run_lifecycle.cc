#include "services/scheduler/runs/run_lifecycle.h"

#include <utility>

namespace coffer::scheduler {

bool RunLifecycle::StartCall() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cancelled_.has_value() || !done_) return false;
  ++outstanding_;
  return true;
}

RunLifecycle::After RunLifecycle::EndCall() {
  std::lock_guard<std::mutex> lock(mutex_);
  --outstanding_;
  if (!cancelled_.has_value()) return After::kGoOn;
  return outstanding_ == 0 ? After::kFinishCancelled : After::kStop;
}

bool RunLifecycle::Cancel(v1::Error reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!done_ || cancelled_.has_value()) return false;
  cancelled_ = std::move(reason);
  return outstanding_ == 0;
}

void RunLifecycle::Finish(RunOutcome outcome) {
  DoneCallback done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done = std::move(done_);
    done_ = nullptr;
  }
  if (done) std::move(done)(std::move(outcome));
}

void RunLifecycle::FinishCancelled(RunOutcome counts) {
  counts.state = v1::RUN_STATE_CANCELLED;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_.has_value()) counts.error = *cancelled_;
  }
  counts.snapshot_id.clear();
  Finish(std::move(counts));
}

bool RunLifecycle::Answered(absl::FunctionRef<RunOutcome()> counts) {
  switch (EndCall()) {
    case After::kGoOn:
      return true;
    case After::kStop:
      return false;
    case After::kFinishCancelled:
      FinishCancelled(counts());
      return false;
  }
  return false;
}

void RunLifecycle::CancelRun(v1::Error reason, absl::FunctionRef<RunOutcome()> counts) {
  if (Cancel(std::move(reason))) FinishCancelled(counts());
}

bool RunLifecycle::cancelled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cancelled_.has_value();
}

}  // namespace coffer::scheduler
