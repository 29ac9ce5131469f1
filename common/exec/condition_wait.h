#ifndef COFFER_COMMON_EXEC_CONDITION_WAIT_H_
#define COFFER_COMMON_EXEC_CONDITION_WAIT_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace coffer::exec {

// Waits on `cv` until `done()` holds or `timeout` has passed, measured on the
// monotonic clock; returns the final value of `done()`. `lock` must hold the
// mutex that guards what `done` reads.
//
// Exists because std::condition_variable::wait_for overflows on very long
// durations (absl::InfiniteDuration() converts to the largest chrono value,
// and adding it to now() wraps), and because the exec primitives take
// absl::Duration at their boundary. Durations beyond a year wait without a
// deadline.
//
// The exec primitives use std::mutex rather than absl::Mutex on purpose:
// Debian's Abseil is built without ThreadSanitizer annotations, so TSan
// cannot see absl::Mutex's happens-before edges and reports false races,
// while it intercepts the pthread calls underneath std::mutex.
template <typename Predicate>
bool WaitWithTimeout(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                     absl::Duration timeout, Predicate done) {
  if (timeout > absl::Hours(24 * 365)) {
    cv.wait(lock, done);
    return true;
  }
  if (timeout <= absl::ZeroDuration()) return done();
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  return cv.wait_until(lock, deadline, done);
}

}  // namespace coffer::exec

#endif  // COFFER_COMMON_EXEC_CONDITION_WAIT_H_
