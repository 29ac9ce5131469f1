#include "services/scheduler/lease/waitable_clock.h"

#include <algorithm>
#include <chrono>

#include "absl/time/clock.h"

#include "common/exec/condition_wait.h"

namespace coffer::scheduler {

void Wakeup::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = true;
  cv_.notify_all();
}

bool Wakeup::blocked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_ && !pending_;
}

void Wakeup::Wait(absl::Duration timeout, absl::FunctionRef<bool()> reached) {
  std::unique_lock<std::mutex> lock(mu_);
  waiting_ = true;
  exec::WaitWithTimeout(cv_, lock, timeout, [&] { return pending_ || reached(); });
  waiting_ = false;
  pending_ = false;
}

void Wakeup::Recheck() {
  // Under the lock, so that a waiter between checking `reached` and
  // blocking cannot miss it.
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

absl::Time SteadyClock::Now() const {
  // steady_clock counts from an unspecified point (boot, on Linux): mapped
  // onto absl::Time from the Unix epoch, which only differences may use.
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

void SteadyClock::WaitUntil(absl::Time deadline, Wakeup& wakeup) {
  // Waits measured on steady_clock too (WaitWithTimeout), so the two agree.
  wakeup.Wait(deadline - Now(), [] { return false; });
}

absl::Time WallClock::Now() const { return absl::Now(); }

void WallClock::WaitUntil(absl::Time deadline, Wakeup& wakeup) {
  const absl::Duration step = std::min(deadline - Now(), absl::Seconds(1));
  wakeup.Wait(step, [] { return false; });
}

}  // namespace coffer::scheduler
