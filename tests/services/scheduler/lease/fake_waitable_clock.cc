#include "tests/services/scheduler/lease/fake_waitable_clock.h"

#include <chrono>

namespace coffer::scheduler {

FakeWaitableClock::FakeWaitableClock(absl::Time start) : now_nanos_(absl::ToUnixNanos(start)) {}

absl::Time FakeWaitableClock::Now() const {
  return absl::FromUnixNanos(now_nanos_.load(std::memory_order_acquire));
}

void FakeWaitableClock::WaitUntil(absl::Time deadline, Wakeup& wakeup) {
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_waiter_id_++;
    waiters_[id] = Waiter{&wakeup, deadline};
  }
  waiters_changed_.notify_all();
  wakeup.Wait(absl::InfiniteDuration(), [&] { return Now() >= deadline; });
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiters_.erase(id);
  }
  waiters_changed_.notify_all();
}

void FakeWaitableClock::Advance(absl::Duration duration) {
  now_nanos_.fetch_add(absl::ToInt64Nanoseconds(duration), std::memory_order_acq_rel);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, waiter] : waiters_) waiter.wakeup->Recheck();
}

bool FakeWaitableClock::SomeWaiterBlocked(std::optional<absl::Time> deadline) const {
  const absl::Time now = Now();
  for (const auto& [id, waiter] : waiters_) {
    if (waiter.deadline > now && (!deadline.has_value() || waiter.deadline == *deadline) &&
        waiter.wakeup->blocked()) {
      return true;
    }
  }
  return false;
}

bool FakeWaitableClock::AwaitBlockedWaiter(absl::Duration timeout) {
  return AwaitWaiter(std::nullopt, timeout);
}

bool FakeWaitableClock::AwaitBlockedWaiterUntil(absl::Time deadline, absl::Duration timeout) {
  return AwaitWaiter(deadline, timeout);
}

bool FakeWaitableClock::AwaitWaiter(std::optional<absl::Time> deadline, absl::Duration timeout) {
  const auto give_up = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  std::unique_lock<std::mutex> lock(mu_);
  while (!SomeWaiterBlocked(deadline)) {
    if (std::chrono::steady_clock::now() >= give_up) return false;
    // A Notify changes a Wakeup, not waiters_: look again now and then.
    waiters_changed_.wait_for(lock, std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace coffer::scheduler
