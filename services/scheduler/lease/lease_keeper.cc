#include "services/scheduler/lease/lease_keeper.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/config/proto_duration.h"
#include "common/exec/thread_name.h"
#include "common/log/fmt_absl.h"
#include "services/scheduler/lease/answer_inbox.h"

namespace coffer::scheduler {
namespace {

// The keeper whose thread is the calling thread, if any: lets Stop and the
// destructor recognise a call from a callback.
thread_local const LeaseKeeper* current_keeper = nullptr;

LeaseKeeperOptions WithDefaults(LeaseKeeperOptions options) {
  const absl::Duration ttl = options.ttl;
  auto fill = [](absl::Duration& value, absl::Duration fallback) {
    if (value == absl::ZeroDuration()) value = fallback;
  };
  fill(options.renew_interval, ttl / 3);
  fill(options.renew_retry_interval, ttl / 15);
  fill(options.acquire_retry_interval, ttl / 3);
  fill(options.safety_margin, ttl / 5);
  return options;
}

absl::Status Validate(const LeaseKeeperOptions& options) {
  if (options.lease_name.empty()) return absl::InvalidArgumentError("lease_name: required");
  if (options.holder_id.empty()) return absl::InvalidArgumentError("holder_id: required");
  if (options.ttl < absl::Seconds(1) || options.ttl > absl::Minutes(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ttl: ", absl::FormatDuration(options.ttl), " is not within 1s to 10m"));
  }
  if (options.safety_margin < absl::ZeroDuration() || options.safety_margin >= options.ttl) {
    return absl::InvalidArgumentError("safety_margin: must be positive and shorter than ttl");
  }
  // A first renewal due after the local deadline would let every grant lapse.
  if (options.renew_interval < absl::ZeroDuration() ||
      options.renew_interval >= options.ttl - options.safety_margin) {
    return absl::InvalidArgumentError(
        "renew_interval: must be positive and shorter than ttl - safety_margin");
  }
  if (options.renew_retry_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("renew_retry_interval: must be positive");
  }
  if (options.acquire_retry_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("acquire_retry_interval: must be positive");
  }
  if (options.release_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("release_timeout: must not be negative");
  }
  return absl::OkStatus();
}

void SetDuration(absl::Duration duration, google::protobuf::Duration* proto) {
  const int64_t seconds = absl::IDivDuration(duration, absl::Seconds(1), &duration);
  proto->set_seconds(seconds);
  proto->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(duration)));
}

}  // namespace

// One call to the store, as the keeper's thread remembers it.
struct LeaseKeeper::PendingCall {
  enum class Kind { kAcquire, kRenew, kRelease };
  uint64_t id = 0;
  Kind kind = Kind::kAcquire;
  // Taken before the request left: the start of the lease's local validity.
  absl::Time sent_at;
  // The epoch renewed or released.
  uint64_t epoch = 0;
};

// A store's answer, the same shape for the three calls.
struct LeaseKeeper::Answer {
  uint64_t call_id = 0;
  absl::Status status;
  // AcquireLease: acquired; RenewLease: status.ok(); ReleaseLease: released.
  bool granted = false;
  // Set when the reply carried a lease.
  std::optional<v1::Lease> lease;
};

struct LeaseKeeper::Inbox : AnswerInbox<Answer> {
  // From a store's callback, on any thread.
  void Deliver(uint64_t call_id, absl::Status status, bool granted, const v1::Lease* lease) {
    Answer answer;
    answer.call_id = call_id;
    answer.status = std::move(status);
    answer.granted = granted;
    if (lease != nullptr) answer.lease = *lease;
    AnswerInbox<Answer>::Deliver(std::move(answer));
  }
};

LeaseKeeper::LeaseKeeper(LeaseKeeperOptions options, LeaseStore* store, WaitableClock* clock,
                         Callbacks callbacks)
    : options_(WithDefaults(std::move(options))),
      store_(store),
      clock_(clock),
      callbacks_(std::move(callbacks)),
      inbox_(std::make_shared<Inbox>()) {}

LeaseKeeper::~LeaseKeeper() {
  if (current_keeper == this) {
    std::fprintf(stderr, "LeaseKeeper destroyed from its own callback\n");
    std::abort();
  }
  Stop();
}

absl::Status LeaseKeeper::Start() {
  if (absl::Status valid = Validate(options_); !valid.ok()) return valid;
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (inbox_->Stopping()) return absl::FailedPreconditionError("lease keeper already stopped");
  if (started_) return absl::OkStatus();
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void LeaseKeeper::Stop() {
  inbox_->RequestStop();
  // A callback cannot join its own thread, and must not wait for
  // lifecycle_mu_: the owner may hold it while joining this very thread.
  if (current_keeper == this) return;
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (thread_.joinable()) thread_.join();
}

std::optional<v1::Fence> LeaseKeeper::CurrentFence() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!HeldAt(clock_->Now())) return std::nullopt;
  return fence_;
}

LeaseKeeperStatus LeaseKeeper::GetStatus() const {
  std::lock_guard<std::mutex> lock(mu_);
  LeaseKeeperStatus status;
  status.active = HeldAt(clock_->Now());
  status.lease = last_lease_;
  status.lease_checked_at = lease_checked_at_;
  status.last_error = last_error_;
  return status;
}

bool LeaseKeeper::HeldAt(absl::Time now) const { return fence_.has_value() && now < held_until_; }

void LeaseKeeper::Run() {
  exec::SetCurrentThreadName("lease-keeper");
  current_keeper = this;
  next_call_at_ = clock_->Now();
  while (!inbox_->Stopping()) {
    const absl::Time now = clock_->Now();
    // The deadline before the answers: an answer taken only now may have
    // come in time, but CurrentFence() has already called the grant over,
    // and a grant called over must stay over.
    StepDownIfPastDeadline(now);
    for (Answer& answer : inbox_->Take()) HandleAnswer(std::move(answer), now);
    if (in_flight_ == nullptr && now >= next_call_at_) SendNext();
    clock_->WaitUntil(NextWakeTime(), inbox_->wakeup);
  }
  ReleaseOnStop();
  current_keeper = nullptr;
}

absl::Time LeaseKeeper::NextWakeTime() const {
  // One call at a time: the store answers every call (its deadline bounds
  // the wait), and the local deadline does not depend on the answer.
  absl::Time wake = in_flight_ != nullptr ? absl::InfiniteFuture() : next_call_at_;
  std::lock_guard<std::mutex> lock(mu_);
  if (fence_.has_value()) wake = std::min(wake, held_until_);
  return wake;
}

void LeaseKeeper::SendNext() {
  std::optional<uint64_t> held_epoch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fence_.has_value()) held_epoch = fence_->epoch();
  }
  in_flight_ = std::make_unique<PendingCall>();
  PendingCall& call = *in_flight_;
  call.id = ++last_call_id_;
  call.sent_at = clock_->Now();
  if (held_epoch.has_value()) {
    call.kind = PendingCall::Kind::kRenew;
    call.epoch = *held_epoch;
    v1::RenewLeaseRequest request;
    request.set_lease_name(options_.lease_name);
    request.set_holder_id(options_.holder_id);
    request.set_epoch(call.epoch);
    SetDuration(options_.ttl, request.mutable_ttl());
    store_->Renew(
        request, [inbox = inbox_, id = call.id](absl::StatusOr<v1::RenewLeaseResponse> reply) {
          inbox->Deliver(id, reply.status(), reply.ok(), reply.ok() ? &reply->lease() : nullptr);
        });
    return;
  }
  call.kind = PendingCall::Kind::kAcquire;
  v1::AcquireLeaseRequest request;
  request.set_lease_name(options_.lease_name);
  request.set_holder_id(options_.holder_id);
  request.set_holder_address(options_.holder_address);
  SetDuration(options_.ttl, request.mutable_ttl());
  store_->Acquire(request,
                  [inbox = inbox_, id = call.id](absl::StatusOr<v1::AcquireLeaseResponse> reply) {
                    inbox->Deliver(id, reply.status(), reply.ok() && reply->acquired(),
                                   reply.ok() && reply->has_lease() ? &reply->lease() : nullptr);
                  });
}

void LeaseKeeper::HandleAnswer(Answer answer, absl::Time now) {
  if (in_flight_ == nullptr || in_flight_->id != answer.call_id) return;
  const std::unique_ptr<PendingCall> call = std::move(in_flight_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = answer.status;
    if (answer.lease.has_value()) {
      last_lease_ = answer.lease;
      lease_checked_at_ = absl::Now();
    }
  }
  if (call->kind == PendingCall::Kind::kAcquire) {
    HandleAcquireAnswer(*call, answer, now);
  } else {
    HandleRenewAnswer(*call, answer, now);
  }
}

void LeaseKeeper::HandleAcquireAnswer(const PendingCall& call, const Answer& answer,
                                      absl::Time now) {
  next_call_at_ = now + options_.acquire_retry_interval;
  if (!answer.status.ok()) {
    spdlog::warn("scheduler: cannot acquire lease {}: {}", options_.lease_name, answer.status);
    return;
  }
  if (!answer.granted || !answer.lease.has_value()) {
    spdlog::debug("scheduler: lease {} is held by {}", options_.lease_name,
                  answer.lease.has_value() ? answer.lease->holder_id() : "nobody");
    return;
  }
  const v1::Lease& lease = *answer.lease;
  if (lease.holder_id() != options_.holder_id || lease.epoch() == 0) {
    spdlog::error("scheduler: storage granted lease {} to {} at epoch {}, not to us",
                  options_.lease_name, lease.holder_id(), lease.epoch());
    return;
  }
  const absl::Time held_until = HeldUntil(call, lease);
  if (held_until <= now) {
    // Storage says granted, but too late to count on: asking again renews
    // the same grant (AcquireLease is idempotent for its holder).
    spdlog::warn("scheduler: lease {} was granted too late to use; asking again",
                 options_.lease_name);
    next_call_at_ = now;
    return;
  }
  v1::Fence fence;
  fence.set_lease_name(options_.lease_name);
  fence.set_holder_id(options_.holder_id);
  fence.set_epoch(lease.epoch());
  {
    std::lock_guard<std::mutex> lock(mu_);
    fence_ = fence;
    held_until_ = held_until;
  }
  next_call_at_ = call.sent_at + options_.renew_interval;
  spdlog::info("scheduler: holding lease {} at epoch {}", options_.lease_name, lease.epoch());
  callbacks_.on_acquired(fence);
}

void LeaseKeeper::HandleRenewAnswer(const PendingCall& call, const Answer& answer, absl::Time now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Stepped down while the renewal was on its way: a success is too late
    // to count, a failure says nothing new.
    if (!fence_.has_value() || fence_->epoch() != call.epoch) return;
  }
  if (answer.status.code() == absl::StatusCode::kFailedPrecondition) {
    StepDown(answer.status);
    next_call_at_ = now;
    return;
  }
  if (!answer.status.ok() || !answer.lease.has_value()) {
    spdlog::warn("scheduler: cannot renew lease {}: {}", options_.lease_name, answer.status);
    next_call_at_ = now + options_.renew_retry_interval;
    return;
  }
  const v1::Lease& lease = *answer.lease;
  if (lease.epoch() != call.epoch || lease.holder_id() != options_.holder_id) {
    StepDown(absl::FailedPreconditionError(absl::StrCat("renewal of lease ", options_.lease_name,
                                                        " answered holder ", lease.holder_id(),
                                                        " at epoch ", lease.epoch())));
    next_call_at_ = now;
    return;
  }
  const absl::Time held_until = HeldUntil(call, lease);
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_until_ = std::max(held_until_, held_until);
  }
  next_call_at_ = call.sent_at + options_.renew_interval;
}

absl::Time LeaseKeeper::HeldUntil(const PendingCall& call, const v1::Lease& lease) const {
  // Storage's remaining is time on storage's clock from when it answered,
  // which came after call.sent_at: counting it from sent_at on our clock
  // only ever ends early. Without it, nothing is known to be left.
  const absl::Duration remaining =
      lease.has_remaining() ? std::min(options_.ttl, config::DurationFromProto(lease.remaining()))
                            : absl::ZeroDuration();
  return call.sent_at + remaining - options_.safety_margin;
}

void LeaseKeeper::StepDownIfPastDeadline(absl::Time now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (HeldAt(now) || !fence_.has_value()) return;
  }
  StepDown(absl::DeadlineExceededError(absl::StrCat(
      "no renewal of lease ", options_.lease_name, " confirmed within ",
      absl::FormatDuration(options_.ttl - options_.safety_margin), " of its request")));
  next_call_at_ = now;
}

void LeaseKeeper::StepDown(const absl::Status& reason) {
  uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fence_.has_value()) return;
    epoch = fence_->epoch();
    fence_.reset();
    held_until_ = absl::InfinitePast();
  }
  spdlog::warn("scheduler: gave up lease {} at epoch {}: {}", options_.lease_name, epoch, reason);
  callbacks_.on_lost(reason);
}

void LeaseKeeper::ReleaseOnStop() {
  const absl::Time deadline = clock_->Now() + options_.release_timeout;
  uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fence_.has_value()) epoch = fence_->epoch();
  }
  if (epoch != 0) {
    StepDown(absl::CancelledError("the lease keeper is stopping"));
  } else if (in_flight_ != nullptr && in_flight_->kind == PendingCall::Kind::kAcquire) {
    // A grant may be on its way: give it back too rather than leave the
    // standbys waiting for it to expire.
    std::optional<Answer> answer = AwaitAnswer(in_flight_->id, deadline);
    if (answer.has_value() && answer->granted && answer->lease.has_value() &&
        answer->lease->holder_id() == options_.holder_id) {
      epoch = answer->lease->epoch();
    }
  }
  in_flight_.reset();
  if (epoch == 0) return;

  const uint64_t id = ++last_call_id_;
  v1::ReleaseLeaseRequest request;
  request.set_lease_name(options_.lease_name);
  request.set_holder_id(options_.holder_id);
  request.set_epoch(epoch);
  store_->Release(request, [inbox = inbox_, id](absl::StatusOr<v1::ReleaseLeaseResponse> reply) {
    inbox->Deliver(id, reply.status(), reply.ok() && reply->released(), nullptr);
  });
  std::optional<Answer> answer = AwaitAnswer(id, deadline);
  if (!answer.has_value()) {
    spdlog::warn("scheduler: no answer to releasing lease {} within {}; it will expire",
                 options_.lease_name, absl::FormatDuration(options_.release_timeout));
  } else if (!answer->status.ok()) {
    spdlog::warn("scheduler: cannot release lease {}: {}; it will expire", options_.lease_name,
                 answer->status);
  } else {
    spdlog::info("scheduler: released lease {} at epoch {}{}", options_.lease_name, epoch,
                 answer->granted ? "" : " (no longer held)");
  }
}

std::optional<LeaseKeeper::Answer> LeaseKeeper::AwaitAnswer(uint64_t call_id, absl::Time deadline) {
  while (true) {
    // Answers to other calls are of no use any more while stopping.
    for (Answer& answer : inbox_->Take()) {
      if (answer.call_id == call_id) return std::move(answer);
    }
    if (clock_->Now() >= deadline) return std::nullopt;
    clock_->WaitUntil(deadline, inbox_->wakeup);
  }
}

}  // namespace coffer::scheduler
