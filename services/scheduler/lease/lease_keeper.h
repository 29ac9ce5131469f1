// LeaseKeeper: keeps (or waits for) the scheduler's lease in storage, so that
// of several scheduler replicas exactly one runs tasks, and a replica that
// lost the lease stops writing before anybody else may start.
//
//   SteadyClock clock;
//   GrpcLeaseStore store(&storage_client, absl::Seconds(5));
//   LeaseKeeperOptions options;
//   options.holder_id = "scheduler-7f3a";
//   options.holder_address = "10.0.0.7:50053";
//   LeaseKeeper keeper(options, &store, &clock,
//                      {.on_acquired = [&](const v1::Fence& fence) { tasks.Activate(fence); },
//                       .on_lost = [&](const absl::Status& why) { tasks.Deactivate(why); }});
//   RETURN_IF_ERROR(keeper.Start());
//   ...
//   if (std::optional<v1::Fence> fence = keeper.CurrentFence()) Write(*fence, ...);
//   ...
//   keeper.Stop();  // releases the lease, so a standby takes over at once
//
// Its thread moves between two states:
//
//   ACQUIRING --AcquireLease granted--> HELD --renewed--> HELD
//       ^  \--refused or failed: retry after acquire_retry_interval
//       |                              |
//       +--- renewal FAILED_PRECONDITION, or the local deadline passed
//
// The local deadline. Storage's clock decides when a lease expires, for
// everybody; this keeper only ever stops earlier than storage would, judged
// on its own monotonic clock: a grant or renewal whose request was sent at
// T (keeper's clock) holds until T + min(ttl, remaining answered) -
// safety_margin. Without a renewal confirmed by then (storage unreachable,
// slow, this process stopped or starved) the keeper steps down, answered or
// not. CurrentFence() applies the same rule when it is called, so a process
// that wakes after a long stall sees no fence even before its keeper thread
// has run. Once CurrentFence() has been empty for a grant, that grant is
// over: a later grant, even of the same epoch, is announced by on_acquired.
//
// Every on_acquired is followed by exactly one on_lost, at the latest from
// Stop(); both run on the keeper's thread, never under its lock, and never
// after Stop() returned. They may call CurrentFence() and GetStatus() but not
// Stop() (which from there only asks the thread to stop).
#ifndef COFFER_SERVICES_SCHEDULER_LEASE_LEASE_KEEPER_H_
#define COFFER_SERVICES_SCHEDULER_LEASE_LEASE_KEEPER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/scheduler/lease/lease_store.h"
#include "services/scheduler/lease/waitable_clock.h"

namespace coffer::scheduler {

// Zero durations take the default named beside them.
struct LeaseKeeperOptions {
  std::string lease_name = "scheduler";
  // Required; unique per replica process.
  std::string holder_id;
  // Where clients reach this replica; storage shows it to the others.
  std::string holder_address;
  // Asked for with every grant and renewal; 1 second to 10 minutes.
  absl::Duration ttl = absl::Seconds(15);
  // Between renewals while held. Default ttl / 3.
  absl::Duration renew_interval = absl::ZeroDuration();
  // After a renewal failed without losing the lease (storage unreachable,
  // deadline exceeded). Default ttl / 15.
  absl::Duration renew_retry_interval = absl::ZeroDuration();
  // Between attempts while another replica holds the lease or storage
  // fails. Default ttl / 3.
  absl::Duration acquire_retry_interval = absl::ZeroDuration();
  // How much earlier than ttl after the request the keeper gives the lease
  // up locally. Default ttl / 5.
  absl::Duration safety_margin = absl::ZeroDuration();
  // How long Stop() waits for storage to release the lease.
  absl::Duration release_timeout = absl::Seconds(2);
};

// What GetReplicaStatus reports of the lease.
struct LeaseKeeperStatus {
  // CurrentFence() has a value right now.
  bool active = false;
  // The lease as storage last answered it: this replica's while active,
  // otherwise the holder's. Unset before the first answer.
  std::optional<v1::Lease> lease;
  // When that answer came, by the wall clock (for people, never for
  // decisions); absl::InfinitePast() before the first.
  absl::Time lease_checked_at = absl::InfinitePast();
  // The last lease call's failure; OK once a call succeeds again.
  absl::Status last_error;
};

class LeaseKeeper {
 public:
  struct Callbacks {
    // This replica now holds the lease; `fence` goes with its writes.
    absl::AnyInvocable<void(const v1::Fence& fence)> on_acquired = [](const v1::Fence&) {};
    // It does not any more: stop writing. `reason` says why.
    absl::AnyInvocable<void(const absl::Status& reason)> on_lost = [](const absl::Status&) {};
  };

  // `store` and `clock` must outlive the keeper. Nothing runs before Start.
  LeaseKeeper(LeaseKeeperOptions options, LeaseStore* store, WaitableClock* clock,
              Callbacks callbacks);

  // Stops, as Stop(). Must not run on the keeper's thread (from a callback).
  ~LeaseKeeper();

  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Checks the options (INVALID_ARGUMENT naming the field) and starts the
  // thread, which asks for the lease at once. Later calls do nothing;
  // FAILED_PRECONDITION after Stop.
  [[nodiscard]] absl::Status Start();

  // Stops the thread: a held lease is given up (on_lost, then ReleaseLease,
  // waiting at most release_timeout for storage), and joined. Idempotent.
  // From a callback it only asks the thread to stop.
  void Stop();

  // The fence for writes while the lease is held by the local rule above,
  // judged at the time of the call. Thread-safe.
  std::optional<v1::Fence> CurrentFence() const;

  // Thread-safe.
  LeaseKeeperStatus GetStatus() const;

  const LeaseKeeperOptions& options() const { return options_; }

 private:
  struct Inbox;
  struct Answer;
  struct PendingCall;

  void Run();
  void SendNext();
  void HandleAnswer(Answer answer, absl::Time now);
  void HandleAcquireAnswer(const PendingCall& call, const Answer& answer, absl::Time now);
  void HandleRenewAnswer(const PendingCall& call, const Answer& answer, absl::Time now);
  void StepDownIfPastDeadline(absl::Time now);
  void StepDown(const absl::Status& reason);
  void ReleaseOnStop();
  std::optional<Answer> AwaitAnswer(uint64_t call_id, absl::Time deadline);
  absl::Time HeldUntil(const PendingCall& call, const v1::Lease& lease) const;
  absl::Time NextWakeTime() const;
  bool HeldAt(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LeaseKeeperOptions options_;
  LeaseStore* const store_;
  WaitableClock* const clock_;
  Callbacks callbacks_;
  // Shared with every callback given to the store, so an answer that comes
  // after the keeper is gone has somewhere harmless to land.
  const std::shared_ptr<Inbox> inbox_;

  // Only the keeper's thread touches these.
  std::unique_ptr<PendingCall> in_flight_;
  absl::Time next_call_at_ = absl::InfinitePast();
  uint64_t last_call_id_ = 0;

  mutable std::mutex mu_;
  // Set from a grant until the keeper steps down.
  std::optional<v1::Fence> fence_ ABSL_GUARDED_BY(mu_);
  // The local deadline of fence_ on clock_.
  absl::Time held_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::optional<v1::Lease> last_lease_ ABSL_GUARDED_BY(mu_);
  absl::Time lease_checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);

  // Serializes Start and Stop; held while joining.
  std::mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_LEASE_LEASE_KEEPER_H_
