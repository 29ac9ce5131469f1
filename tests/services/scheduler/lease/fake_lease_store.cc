#include "tests/services/scheduler/lease/fake_lease_store.h"

#include <utility>

namespace coffer::scheduler {

void FakeLeaseStore::Acquire(const v1::AcquireLeaseRequest& request,
                             Done<v1::AcquireLeaseResponse> done) {
  std::lock_guard<std::mutex> lock(mu_);
  acquires_.push_back(request);
  pending_acquires_.push_back(std::move(done));
}

void FakeLeaseStore::Renew(const v1::RenewLeaseRequest& request,
                           Done<v1::RenewLeaseResponse> done) {
  std::lock_guard<std::mutex> lock(mu_);
  renewals_.push_back(request);
  pending_renewals_.push_back(std::move(done));
}

void FakeLeaseStore::Release(const v1::ReleaseLeaseRequest& request,
                             Done<v1::ReleaseLeaseResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    releases_.push_back(request);
    if (hold_releases_) {
      pending_releases_.push_back(std::move(done));
      return;
    }
  }
  v1::ReleaseLeaseResponse reply;
  reply.set_released(true);
  std::move(done)(std::move(reply));
}

std::vector<v1::AcquireLeaseRequest> FakeLeaseStore::acquires() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acquires_;
}

std::vector<v1::RenewLeaseRequest> FakeLeaseStore::renewals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return renewals_;
}

std::vector<v1::ReleaseLeaseRequest> FakeLeaseStore::releases() const {
  std::lock_guard<std::mutex> lock(mu_);
  return releases_;
}

size_t FakeLeaseStore::pending_acquires() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_acquires_.size();
}

size_t FakeLeaseStore::pending_renewals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_renewals_.size();
}

template <typename Reply>
bool FakeLeaseStore::AnswerOldest(std::mutex& mu, std::deque<Done<Reply>>& pending,
                                  absl::StatusOr<Reply> reply) {
  Done<Reply> done;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (pending.empty()) return false;
    done = std::move(pending.front());
    pending.pop_front();
  }
  // Outside the lock: the callback may call the store again.
  std::move(done)(std::move(reply));
  return true;
}

bool FakeLeaseStore::AnswerAcquire(absl::StatusOr<v1::AcquireLeaseResponse> reply) {
  return AnswerOldest(mu_, pending_acquires_, std::move(reply));
}

bool FakeLeaseStore::AnswerRenewal(absl::StatusOr<v1::RenewLeaseResponse> reply) {
  return AnswerOldest(mu_, pending_renewals_, std::move(reply));
}

bool FakeLeaseStore::AnswerRelease(absl::StatusOr<v1::ReleaseLeaseResponse> reply) {
  return AnswerOldest(mu_, pending_releases_, std::move(reply));
}

void FakeLeaseStore::HoldReleases() {
  std::lock_guard<std::mutex> lock(mu_);
  hold_releases_ = true;
}

}  // namespace coffer::scheduler
