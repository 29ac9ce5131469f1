// A WaitableClock whose time moves only when a test says so, and which can
// tell the test when the threads waiting on it have done everything they can
// at the current time, so that tests of timed logic neither sleep nor race.
//
//   FakeWaitableClock clock;
//   LeaseKeeper keeper(options, &store, &clock, callbacks);
//   ASSERT_TRUE(keeper.Start().ok());
//   ASSERT_TRUE(clock.AwaitBlockedWaiter());  // the keeper waits for something
//   clock.Advance(absl::Seconds(5));
//   ASSERT_TRUE(clock.AwaitBlockedWaiter());  // ... and has acted on the 5 s
#ifndef COFFER_TESTS_SERVICES_SCHEDULER_LEASE_FAKE_WAITABLE_CLOCK_H_
#define COFFER_TESTS_SERVICES_SCHEDULER_LEASE_FAKE_WAITABLE_CLOCK_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

#include "services/scheduler/lease/waitable_clock.h"

namespace coffer::scheduler {

class FakeWaitableClock : public WaitableClock {
 public:
  explicit FakeWaitableClock(absl::Time start = absl::UnixEpoch() + absl::Hours(1000));

  absl::Time Now() const override;
  void WaitUntil(absl::Time deadline, Wakeup& wakeup) override;

  // Moves time forward and wakes the waiters whose deadline it reached.
  void Advance(absl::Duration duration);

  // Waits, in real time up to `timeout`, until some thread is blocked in
  // WaitUntil with a deadline still to come and no Notify pending: it will
  // do nothing more until time moves or something notifies it. False on
  // timeout.
  [[nodiscard]] bool AwaitBlockedWaiter(absl::Duration timeout = absl::Seconds(30));

  // The same, for a waiter whose deadline is `deadline`: tells a test which
  // wait a thread has reached.
  [[nodiscard]] bool AwaitBlockedWaiterUntil(absl::Time deadline,
                                             absl::Duration timeout = absl::Seconds(30));

 private:
  struct Waiter {
    Wakeup* wakeup;
    absl::Time deadline;
  };

  // `deadline` unset: any deadline still to come.
  bool SomeWaiterBlocked(std::optional<absl::Time> deadline) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AwaitWaiter(std::optional<absl::Time> deadline, absl::Duration timeout);

  // Nanoseconds since the Unix epoch; atomic so that Now() takes no lock
  // (it runs under the waiters' Wakeup locks).
  std::atomic<int64_t> now_nanos_;

  // Order: mu_ before any Wakeup's lock.
  mutable std::mutex mu_;
  std::condition_variable waiters_changed_;
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace coffer::scheduler

#endif  // COFFER_TESTS_SERVICES_SCHEDULER_LEASE_FAKE_WAITABLE_CLOCK_H_
