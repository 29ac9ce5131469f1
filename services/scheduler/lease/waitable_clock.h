// A monotonic clock a thread can sleep on, and the Wakeup that cuts such a
// sleep short. The lease keeper measures its lease on it; tests pass a fake
// (tests/services/scheduler/lease/fake_waitable_clock.h) whose time they
// move by hand, so nothing in them sleeps.
//
//   SteadyClock clock;
//   Wakeup wakeup;                       // Notify() from any thread
//   clock.WaitUntil(clock.Now() + absl::Seconds(5), wakeup);
//
// Times from a WaitableClock are points on that clock only: compare and
// subtract them, never mix them with absl::Now() or another host's clock.
#ifndef COFFER_SERVICES_SCHEDULER_LEASE_WAITABLE_CLOCK_H_
#define COFFER_SERVICES_SCHEDULER_LEASE_WAITABLE_CLOCK_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace coffer::scheduler {

// Wakes one waiting thread early. A Notify that comes while nobody waits is
// kept for the next wait, so a waiter that checks its inputs and then waits
// cannot miss one. Thread-safe.
class Wakeup {
 public:
  Wakeup() = default;
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  // Ends the current or next wait.
  void Notify();

  // A thread is inside Wait with no Notify pending for it: it will not
  // return before its time comes or a Notify. What a fake clock checks to
  // tell that a thread has done all it could do at the current time.
  bool blocked() const;

  // For WaitableClock implementations: blocks until a Notify, until
  // `reached()` holds, or for `timeout` (absl::InfiniteDuration(): no
  // limit), and takes the pending Notify if there is one. `reached` runs
  // under this object's lock and must not block.
  void Wait(absl::Duration timeout, absl::FunctionRef<bool()> reached);

  // For WaitableClock implementations whose time jumps: makes the waiter
  // check `reached` again without counting as a Notify.
  void Recheck();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  // Cleared in the same critical section that takes pending_, so that
  // blocked() never sees a waiter that is already on its way out.
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
};

class WaitableClock {
 public:
  virtual ~WaitableClock() = default;

  // Never goes backwards. Thread-safe.
  virtual absl::Time Now() const = 0;

  // Blocks until Now() >= `deadline` or `wakeup` is notified, whichever
  // comes first; returns at once if either already holds. Takes the pending
  // Notify, if any.
  virtual void WaitUntil(absl::Time deadline, Wakeup& wakeup) = 0;
};

// The process's monotonic clock (std::chrono::steady_clock): unaffected by
// changes of the wall clock, and stopped with the process (a SIGSTOPped
// process that resumes sees the time it missed at once).
class SteadyClock : public WaitableClock {
 public:
  absl::Time Now() const override;
  void WaitUntil(absl::Time deadline, Wakeup& wakeup) override;
};

// The wall clock (absl::Now()), for what is scheduled in wall time: a
// task's next_run_time is stored as a timestamp people read. A wait returns
// after at most one second even before its deadline (callers look at the
// time again and wait on), so a wall clock that jumps (NTP) delays what is
// due by at most that second.
class WallClock : public WaitableClock {
 public:
  absl::Time Now() const override;
  void WaitUntil(absl::Time deadline, Wakeup& wakeup) override;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_LEASE_WAITABLE_CLOCK_H_
