// DependencyMonitor: watches the health of the services the scheduler calls
// (storage, fetcher) with grpc.health.v1 Check (service "", the overall
// status) every `interval`, and keeps what GetReplicaStatus reports of each:
// serving or not, the last failure, and since when.
//
//   DependencyMonitor monitor(
//       {{.name = "storage", .target = "127.0.0.1:50052", .health = &storage_health},
//        {.name = "fetcher", .target = "127.0.0.1:50051", .health = &fetcher_health}},
//       {}, &steady_clock, absl::Now,
//       [&](const std::string& name, bool serving) {
//         host.health().SetServing(name, serving);  // Check("storage") tells
//       });
//   monitor.Start();
//   ...
//   monitor.Stop();
//
// The scheduler mirrors each dependency into its own health service under
// the dependency's name, so grpc.health.v1 Check with service "storage"
// (or "fetcher") answers whether this scheduler sees that dependency
// SERVING; and it starts no run until storage has been SERVING once.
//
// Threading. One thread of the monitor's own sends a round of checks (all
// dependencies at once, each with a deadline of `timeout`), waits for every
// answer, records them, runs the listener, then sleeps on `clock` until the
// round's start plus `interval`. Answers come on the health clients' poller
// threads and are only handed over. The listener runs on the monitor's
// thread after every check, not only after a change: a mirror of the
// result heals by itself if something else overwrote it (ServiceHost turns
// every health name SERVING once startup is done). Changes are logged.
#ifndef COFFER_SERVICES_SCHEDULER_SERVICE_DEPENDENCY_MONITOR_H_
#define COFFER_SERVICES_SCHEDULER_SERVICE_DEPENDENCY_MONITOR_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

#include "coffer/v1/scheduler.pb.h"
#include "common/grpc/async_client.h"
#include "services/scheduler/lease/waitable_clock.h"

namespace coffer::scheduler {

struct DependencyMonitorOptions {
  // Between the starts of two rounds of checks.
  absl::Duration interval = absl::Seconds(2);
  // Each check's deadline; a dependency that does not answer within it
  // counts as not serving (DEADLINE_EXCEEDED).
  absl::Duration timeout = absl::Seconds(1);
};

class DependencyMonitor {
 public:
  using HealthClient = grpc_util::AsyncClient<grpc::health::v1::Health>;

  struct Dependency {
    // "storage" or "fetcher": the name reported and mirrored.
    std::string name;
    // The address dialled, as reported.
    std::string target;
    // Must outlive the monitor.
    HealthClient* health = nullptr;
  };

  // After every check of `name`, on the monitor's thread; may block briefly.
  using Listener = absl::AnyInvocable<void(const std::string& name, bool serving)>;

  // `clock` paces the rounds (a SteadyClock in production); `wall_now`
  // stamps `since` for people. Both must outlive the monitor. Every
  // dependency counts as not serving until its first answer.
  DependencyMonitor(std::vector<Dependency> dependencies, DependencyMonitorOptions options,
                    WaitableClock* clock, absl::AnyInvocable<absl::Time()> wall_now,
                    Listener listener);
  // Stops, as Stop().
  ~DependencyMonitor();

  DependencyMonitor(const DependencyMonitor&) = delete;
  DependencyMonitor& operator=(const DependencyMonitor&) = delete;

  // Starts the thread, whose first round goes out at once. Later calls, and
  // calls after Stop, do nothing.
  void Start();
  // Joins the thread; no listener runs after it returns. Checks still in
  // flight are left to their deadlines (their answers land harmlessly).
  // Idempotent. Never from the listener.
  void Stop();

  // Every dependency's state, in the order given. Thread-safe.
  std::vector<v1::DependencyStatus> Statuses() const;
  // Whether `name`'s last check found it SERVING (false if unknown).
  // Thread-safe.
  bool IsServing(std::string_view name) const;
  // Whether any check so far found `name` SERVING. Thread-safe.
  bool HasBeenServing(std::string_view name) const;

 private:
  struct Inbox;
  struct State {
    v1::DependencyStatus status;
    bool answered = false;
    bool ever_serving = false;
  };

  void Run();
  void SendRound(uint64_t round);
  // Records one answer; true when it is the first or `serving` changed.
  bool Record(size_t index, bool serving, std::optional<v1::Error> error);
  const State* Find(std::string_view name) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const std::vector<Dependency> dependencies_;
  const DependencyMonitorOptions options_;
  WaitableClock* const clock_;
  absl::AnyInvocable<absl::Time()> wall_now_;  // the monitor's thread (and the constructor)
  Listener listener_;                          // the monitor's thread only
  // Shared with every check's callback, so that an answer coming after
  // Stop (or after the monitor is gone) lands harmlessly.
  const std::shared_ptr<Inbox> inbox_;

  mutable std::mutex mu_;
  std::vector<State> states_ ABSL_GUARDED_BY(mu_);

  // Serializes Start and Stop; held while joining.
  std::mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SERVICE_DEPENDENCY_MONITOR_H_
