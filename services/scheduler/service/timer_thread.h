// TimerThread: runs small callbacks at given times on one thread of its own,
// for what must happen later without a thread that waits for it (WatchRuns'
// held PROGRESS events). Time is a WaitableClock's, so tests move it by hand.
//
//   TimerThread timer("watch-timer", &clock);       // the thread starts here
//   timer.RunAt(clock.Now() + absl::Milliseconds(500), [weak] {
//     if (auto call = weak.lock()) call->OnTimer();  // must not block
//   });
//   ...
//   timer.Stop();                                    // joined; the rest dropped
//
// Callbacks run on the timer's thread, never under its lock, in order of
// their times; they must not block, since every later one waits for them.
// A callback scheduled after Stop, or still waiting at Stop, is destroyed
// without running. Thread-safe.
#ifndef COFFER_SERVICES_SCHEDULER_SERVICE_TIMER_THREAD_H_
#define COFFER_SERVICES_SCHEDULER_SERVICE_TIMER_THREAD_H_

#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

#include "services/scheduler/lease/waitable_clock.h"

namespace coffer::scheduler {

class TimerThread {
 public:
  // Starts the thread, named `name`. `clock` must outlive this object.
  TimerThread(std::string name, WaitableClock* clock);
  // Stops, as Stop(). Must not run on the timer's thread.
  ~TimerThread();

  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  // Runs `callback` once the clock reaches `when` (at once if it has).
  void RunAt(absl::Time when, absl::AnyInvocable<void() &&> callback);

  // Drops what has not run yet and joins the thread. Idempotent; from a
  // callback it only asks the thread to stop.
  void Stop();

  WaitableClock& clock() const { return *clock_; }

 private:
  void Loop();

  WaitableClock* const clock_;
  Wakeup wakeup_;
  std::mutex mu_;
  std::multimap<absl::Time, absl::AnyInvocable<void() &&>> due_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Serializes Stop; held while joining.
  std::mutex lifecycle_mu_;
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SERVICE_TIMER_THREAD_H_
