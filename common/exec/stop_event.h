#ifndef COFFER_COMMON_EXEC_STOP_EVENT_H_
#define COFFER_COMMON_EXEC_STOP_EVENT_H_

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace coffer::exec {

// A one-shot signal that tells long-running work to wind down. Once notified
// it stays notified. All methods are thread-safe.
//
// Loops sleep on it instead of sleeping outright, so that a stop request
// interrupts the sleep at once:
//
//   void RefreshLoop(const StopEvent& stop) {
//     while (!stop.HasBeenNotified()) {
//       RefreshBalances();
//       stop.WaitFor(absl::Minutes(5));
//     }
//   }
class StopEvent {
 public:
  StopEvent() = default;
  StopEvent(const StopEvent&) = delete;
  StopEvent& operator=(const StopEvent&) = delete;

  // Marks the event notified and wakes every waiter. Later calls do nothing.
  void Notify();

  // Cheap enough to poll between units of work (one atomic load). A true
  // result does not mean Notify has returned: to destroy the event right
  // after learning of the stop, learn it from WaitFor or Wait.
  bool HasBeenNotified() const;

  // Blocks until notified or until `timeout` has passed; returns whether the
  // event has been notified. A zero or negative timeout only polls;
  // absl::InfiniteDuration() waits for Notify. Once it returns true, Notify
  // has finished with the event, which may then be destroyed.
  bool WaitFor(absl::Duration timeout) const;

  // Blocks until notified.
  void Wait() const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable notified_cv_;
  // Written only under mu_ (so that waiters cannot miss the wake-up); read
  // without it by HasBeenNotified.
  std::atomic<bool> notified_{false};
};

}  // namespace coffer::exec

#endif  // COFFER_COMMON_EXEC_STOP_EVENT_H_
