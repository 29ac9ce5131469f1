#include "services/fetcher/http/upstream_limiter.h"

#include <utility>

namespace coffer::fetcher {

UpstreamLimiter::UpstreamLimiter(CurlLoop* loop, Limits limits)
    : loop_(loop),
      limits_(limits),
      bucket_(limits.requests_per_second, limits.burst, absl::Now()) {}

UpstreamLimiter::~UpstreamLimiter() { FailAll(absl::CancelledError("upstream limiter destroyed")); }

void UpstreamLimiter::Acquire(absl::Time deadline, Admitted admitted) {
  if (deadline <= absl::Now()) {
    admitted(absl::DeadlineExceededError("deadline passed before the request was admitted"));
    return;
  }
  const uint64_t id = next_id_++;
  waiters_.emplace(id, Waiter{deadline, std::move(admitted)});
  Pump();
  if (deadline != absl::InfiniteFuture() && waiters_.contains(id)) {
    loop_->RunAt(deadline, [this, id](absl::Status status) {
      if (!status.ok()) {
        FailAll(status);
        return;
      }
      Expire(id);
    });
  }
}

void UpstreamLimiter::FailAll(const absl::Status& status) {
  while (!waiters_.empty()) {
    auto node = waiters_.extract(waiters_.begin());
    node.mapped().admitted(status);
  }
}

void UpstreamLimiter::Pump() {
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  do {
    pump_again_ = false;
    while (!waiters_.empty() &&
           (limits_.max_concurrency == 0 || in_flight_ < limits_.max_concurrency)) {
      const absl::Time now = absl::Now();
      if (!bucket_.TryTake(now)) {
        ScheduleWake(bucket_.NextAvailable(now));
        break;
      }
      auto node = waiters_.extract(waiters_.begin());
      ++in_flight_;
      node.mapped().admitted(Permit(this));
    }
  } while (pump_again_);
  pumping_ = false;
}

void UpstreamLimiter::ScheduleWake(absl::Time when) {
  // One timer covers every waiter: only the head waits for a token.
  if (wake_at_ <= when) return;
  wake_at_ = when;
  loop_->RunAt(when, [this, when](absl::Status status) {
    if (!status.ok()) {
      FailAll(status);
      return;
    }
    if (wake_at_ == when) wake_at_ = absl::InfiniteFuture();
    Pump();
  });
}

void UpstreamLimiter::Expire(uint64_t id) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;  // Admitted already.
  auto node = waiters_.extract(it);
  node.mapped().admitted(
      absl::DeadlineExceededError("deadline passed while waiting for the upstream's rate limit"));
}

void UpstreamLimiter::ReleaseSlot() {
  --in_flight_;
  Pump();
}

}  // namespace coffer::fetcher
