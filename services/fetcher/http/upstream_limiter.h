// Admits requests to one upstream host no faster than its token bucket
// allows and no more at once than its concurrency limit, in arrival order.
//
//   UpstreamLimiter limiter(&loop, {.requests_per_second = 10, .burst = 5,
//                                   .max_concurrency = 4});
//   // On the loop thread:
//   limiter.Acquire(deadline, [](absl::StatusOr<UpstreamLimiter::Permit> permit) {
//     if (!permit.ok()) return Fail(permit.status());
//     // Send; keep the permit until the response is in, then drop it.
//   });
//
// A waiting request holds nothing but its place in the queue: it is not
// given to libcurl, so it holds no connection. Nothing spins or sleeps:
// when the queue's head waits for a token, one loop timer is set for the
// moment the token is due; when it waits for a slot, the next Permit
// released admits it. A waiter whose deadline passes leaves the queue with
// DEADLINE_EXCEEDED. When the loop shuts down, waiters get CANCELLED.
//
// Threads: everything here, Permit's destructor included, runs on the
// loop's thread (or on any one thread once the loop has been joined). The
// limiter must outlive its Permits and the loop's timers (destroy it after
// the loop has shut down).
#ifndef COFFER_SERVICES_FETCHER_HTTP_UPSTREAM_LIMITER_H_
#define COFFER_SERVICES_FETCHER_HTTP_UPSTREAM_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "services/fetcher/http/curl_loop.h"
#include "services/fetcher/http/token_bucket.h"

namespace coffer::fetcher {

class UpstreamLimiter {
 public:
  struct Limits {
    // 0 (or less): no rate limit.
    double requests_per_second = 0;
    // Requests that may go at once after a quiet spell (at least 1).
    double burst = 1;
    // Requests admitted and not yet released; 0: no limit.
    size_t max_concurrency = 0;
  };

  // One admitted request's slot; released when destroyed or Release()d.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept : limiter_(std::exchange(other.limiter_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        Release();
        limiter_ = std::exchange(other.limiter_, nullptr);
      }
      return *this;
    }
    ~Permit() { Release(); }

    void Release() {
      if (limiter_ != nullptr) std::exchange(limiter_, nullptr)->ReleaseSlot();
    }

   private:
    friend class UpstreamLimiter;
    explicit Permit(UpstreamLimiter* limiter) : limiter_(limiter) {}
    UpstreamLimiter* limiter_ = nullptr;
  };

  using Admitted = absl::AnyInvocable<void(absl::StatusOr<Permit>)>;

  UpstreamLimiter(CurlLoop* loop, Limits limits);
  // Waiters still queued get CANCELLED.
  ~UpstreamLimiter();

  UpstreamLimiter(const UpstreamLimiter&) = delete;
  UpstreamLimiter& operator=(const UpstreamLimiter&) = delete;

  // Queues a request; `admitted` runs once: with a Permit when its turn
  // comes (possibly before Acquire returns), with DEADLINE_EXCEEDED if
  // `deadline` passes first, with CANCELLED if the loop shuts down.
  void Acquire(absl::Time deadline, Admitted admitted);

  // Fails every waiter with `status` (used at shutdown).
  void FailAll(const absl::Status& status);

  size_t waiting() const { return waiters_.size(); }
  size_t in_flight() const { return in_flight_; }
  const Limits& limits() const { return limits_; }

 private:
  struct Waiter {
    absl::Time deadline;
    Admitted admitted;
  };

  // Admits waiters from the head of the queue while tokens and slots last.
  void Pump();
  void ScheduleWake(absl::Time when);
  void Expire(uint64_t id);
  void ReleaseSlot();

  CurlLoop* const loop_;
  const Limits limits_;
  TokenBucket bucket_;
  // By arrival: ids only grow.
  std::map<uint64_t, Waiter> waiters_;
  uint64_t next_id_ = 0;
  size_t in_flight_ = 0;
  // When the pending token timer fires; InfiniteFuture if none is set.
  absl::Time wake_at_ = absl::InfiniteFuture();
  // Admitting runs callbacks, which may Acquire or release: those ask for
  // another pass instead of nesting one.
  bool pumping_ = false;
  bool pump_again_ = false;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_HTTP_UPSTREAM_LIMITER_H_
