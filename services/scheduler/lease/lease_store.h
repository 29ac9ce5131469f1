// Where the lease keeper gets its lease from: storage's AcquireLease,
// RenewLease and ReleaseLease, as an interface so that the keeper can be
// tested with a fake. GrpcLeaseStore is the real one, over async gRPC.
//
//   grpc_util::AsyncClient<v1::Storage> storage(channel, &queue);
//   GrpcLeaseStore store(&storage, absl::Seconds(5));
//   store.Acquire(request, [](absl::StatusOr<v1::AcquireLeaseResponse> reply) {
//     ...  // on a gRPC poller thread: hand over, never block
//   });
//
// Every call answers exactly once through its callback, which may run on
// any thread (a gRPC poller, or the caller's own thread before the call
// returns) and must not block.
#ifndef COFFER_SERVICES_SCHEDULER_LEASE_LEASE_STORE_H_
#define COFFER_SERVICES_SCHEDULER_LEASE_LEASE_STORE_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "coffer/v1/storage.pb.h"
#include "common/grpc/async_client.h"

namespace coffer::scheduler {

class LeaseStore {
 public:
  template <typename Reply>
  using Done = absl::AnyInvocable<void(absl::StatusOr<Reply>) &&>;

  virtual ~LeaseStore() = default;

  virtual void Acquire(const v1::AcquireLeaseRequest& request,
                       Done<v1::AcquireLeaseResponse> done) = 0;
  virtual void Renew(const v1::RenewLeaseRequest& request, Done<v1::RenewLeaseResponse> done) = 0;
  virtual void Release(const v1::ReleaseLeaseRequest& request,
                       Done<v1::ReleaseLeaseResponse> done) = 0;
};

// Each call carries the deadline given at construction, which bounds how
// long a stalled storage can keep the keeper waiting for an answer.
class GrpcLeaseStore : public LeaseStore {
 public:
  // `client` must outlive this object and every call made through it.
  GrpcLeaseStore(grpc_util::AsyncClient<v1::Storage>* client, absl::Duration call_timeout)
      : client_(client), call_timeout_(call_timeout) {}

  void Acquire(const v1::AcquireLeaseRequest& request,
               Done<v1::AcquireLeaseResponse> done) override;
  void Renew(const v1::RenewLeaseRequest& request, Done<v1::RenewLeaseResponse> done) override;
  void Release(const v1::ReleaseLeaseRequest& request,
               Done<v1::ReleaseLeaseResponse> done) override;

 private:
  grpc_util::AsyncClient<v1::Storage>* const client_;
  const absl::Duration call_timeout_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_LEASE_LEASE_STORE_H_
