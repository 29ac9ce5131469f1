#include "common/exec/stop_event.h"

#include "common/exec/condition_wait.h"

namespace coffer::exec {

void StopEvent::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  if (notified_.load(std::memory_order_relaxed)) return;
  notified_.store(true, std::memory_order_release);
  // Under the lock: a waiter cannot return, and perhaps destroy this event,
  // before Notify is done with the condition variable.
  notified_cv_.notify_all();
}

bool StopEvent::HasBeenNotified() const { return notified_.load(std::memory_order_acquire); }

bool StopEvent::WaitFor(absl::Duration timeout) const {
  // Always through the lock, even when already notified, for the same reason.
  std::unique_lock<std::mutex> lock(mu_);
  return WaitWithTimeout(notified_cv_, lock, timeout, [this] { return HasBeenNotified(); });
}

void StopEvent::Wait() const { WaitFor(absl::InfiniteDuration()); }

}  // namespace coffer::exec
