#ifndef COFFER_COMMON_EXEC_BACKGROUND_LOOP_H_
#define COFFER_COMMON_EXEC_BACKGROUND_LOOP_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

#include "common/exec/stop_event.h"

namespace coffer::exec {

// Runs a body over and over on a thread of its own: once at Start, then
// `interval` after each run ends (a fixed delay, so runs never overlap and a
// slow run never causes a burst of catch-up runs), until stopped.
//
// The body receives the loop's StopEvent: a long body should check it between
// units of work, or wait on it instead of sleeping, so that Stop returns
// promptly.
//
//   BackgroundLoop refresher("refresh", absl::Minutes(5),
//                            [&](const StopEvent& stop) {
//                              RefreshBalances(stop);
//                            });
//   refresher.Start();
//   ...
//   refresher.TriggerNow();  // an operator asked for a refresh
//   ...
//   refresher.Stop();        // or let the destructor do it
//
// Thread-safe.
class BackgroundLoop {
 public:
  using Body = absl::AnyInvocable<void(const StopEvent&)>;

  // `name` names the thread (truncated to 15 characters). An `interval` of
  // absl::InfiniteDuration() runs the body only at Start and on TriggerNow.
  BackgroundLoop(std::string name, absl::Duration interval, Body body);

  // Calls Stop. Must not run on the loop's own thread (from the body): doing
  // so aborts the process.
  ~BackgroundLoop();

  BackgroundLoop(const BackgroundLoop&) = delete;
  BackgroundLoop& operator=(const BackgroundLoop&) = delete;

  // Starts the thread, which runs the body at once. Only the first call
  // does anything; a loop that has been stopped does not start again.
  void Start();

  // Notifies the stop event, cuts the wait between runs short, and joins the
  // thread once the current run (if any) returns. Idempotent. Called from the
  // body it only requests the stop and returns: the owner's later Stop or
  // destructor joins.
  void Stop();

  // Runs the body again as soon as possible: at once if the loop is waiting,
  // right after the current run if one is under way. Triggers that arrive
  // during one run coalesce into a single extra run.
  void TriggerNow();

  // Number of runs of the body that have returned.
  uint64_t iterations() const;

  const std::string& name() const { return name_; }

 private:
  void Run();

  const std::string name_;
  const absl::Duration interval_;
  // Only the loop's thread touches the body once Start has run.
  Body body_;
  StopEvent stop_;
  std::atomic<uint64_t> iterations_{0};

  // Guards the wait between runs. stop_ is notified under it too, so that
  // the wait's predicate cannot miss the stop.
  std::mutex mu_;
  std::condition_variable wake_;
  bool triggered_ ABSL_GUARDED_BY(mu_) = false;

  // Serializes Start and Stop; held while joining.
  std::mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);
};

}  // namespace coffer::exec

#endif  // COFFER_COMMON_EXEC_BACKGROUND_LOOP_H_
