// A LeaseStore that keeps every call until the test answers it, in order,
// from the test's thread; ReleaseLease is answered at once (released) unless
// the test asks to hold releases too.
//
//   FakeLeaseStore store;
//   ... the keeper asks ...
//   ASSERT_EQ(store.acquires().size(), 1u);
//   store.AnswerAcquire(Granted(...));
#ifndef COFFER_TESTS_SERVICES_SCHEDULER_LEASE_FAKE_LEASE_STORE_H_
#define COFFER_TESTS_SERVICES_SCHEDULER_LEASE_FAKE_LEASE_STORE_H_

#include <deque>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

#include "coffer/v1/storage.pb.h"
#include "services/scheduler/lease/lease_store.h"

namespace coffer::scheduler {

class FakeLeaseStore : public LeaseStore {
 public:
  void Acquire(const v1::AcquireLeaseRequest& request,
               Done<v1::AcquireLeaseResponse> done) override;
  void Renew(const v1::RenewLeaseRequest& request, Done<v1::RenewLeaseResponse> done) override;
  void Release(const v1::ReleaseLeaseRequest& request,
               Done<v1::ReleaseLeaseResponse> done) override;

  // Every request received so far, oldest first.
  std::vector<v1::AcquireLeaseRequest> acquires() const;
  std::vector<v1::RenewLeaseRequest> renewals() const;
  std::vector<v1::ReleaseLeaseRequest> releases() const;

  // Calls not answered yet.
  size_t pending_acquires() const;
  size_t pending_renewals() const;

  // Answer the oldest unanswered call; false when there is none.
  bool AnswerAcquire(absl::StatusOr<v1::AcquireLeaseResponse> reply);
  bool AnswerRenewal(absl::StatusOr<v1::RenewLeaseResponse> reply);
  bool AnswerRelease(absl::StatusOr<v1::ReleaseLeaseResponse> reply);

  // Keep releases for AnswerRelease instead of answering them at once.
  void HoldReleases();

 private:
  template <typename Reply>
  static bool AnswerOldest(std::mutex& mu, std::deque<Done<Reply>>& pending,
                           absl::StatusOr<Reply> reply);

  mutable std::mutex mu_;
  std::vector<v1::AcquireLeaseRequest> acquires_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::RenewLeaseRequest> renewals_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReleaseLeaseRequest> releases_ ABSL_GUARDED_BY(mu_);
  std::deque<Done<v1::AcquireLeaseResponse>> pending_acquires_ ABSL_GUARDED_BY(mu_);
  std::deque<Done<v1::RenewLeaseResponse>> pending_renewals_ ABSL_GUARDED_BY(mu_);
  std::deque<Done<v1::ReleaseLeaseResponse>> pending_releases_ ABSL_GUARDED_BY(mu_);
  bool hold_releases_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace coffer::scheduler

#endif  // COFFER_TESTS_SERVICES_SCHEDULER_LEASE_FAKE_LEASE_STORE_H_
