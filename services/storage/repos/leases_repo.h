// Leases in the database (Storage.AcquireLease, RenewLease, ReleaseLease,
// GetLease), as protos/coffer/v1/storage.proto documents them: how the
// scheduler replicas elect the active one. Expiry is judged only by `now`,
// storage's clock; the fence on scheduler writes (fence.h) checks the same
// rows. Each function is the work of one db::ConnectionPool Write or Read and
// runs on the pool's thread:
//
//   pool->Write(
//       [&request, response](db::WriteContext& tx) {
//         return AcquireLease(tx, request, response, absl::Now());
//       },
//       std::move(done));
//
// A returned error undoes everything the call wrote; the response is then
// meaningless.
//
// A lease's row outlives releases and expiries, so its epoch keeps growing:
// every grant to a holder (first, after expiry, after release) takes the
// stored epoch plus one, and a renewal keeps it. A lease is held while its
// holder_id is set and expires_at is after `now`.
#ifndef COFFER_SERVICES_STORAGE_REPOS_LEASES_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_LEASES_REPO_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Bounds of a requested ttl (AcquireLease, RenewLease), inclusive.
inline constexpr absl::Duration kMinLeaseTtl = absl::Seconds(1);
inline constexpr absl::Duration kMaxLeaseTtl = absl::Minutes(10);

// Grants the lease when it was never granted, was released or has expired
// (a new epoch, acquired_at = renewed_at = now), renews it when the caller
// holds it (same epoch, renewed_at = now), both with expires_at = now + ttl
// and acquired = true. When someone else holds it: acquired = false and the
// lease as it stands, nothing written. INVALID_ARGUMENT naming the field for
// a missing or malformed lease_name ([a-z0-9][a-z0-9.-]{0,62}), holder_id
// ([A-Za-z0-9._:-]{1,128}) or ttl (kMinLeaseTtl to kMaxLeaseTtl).
[[nodiscard]] absl::Status AcquireLease(db::WriteContext& tx,
                                        const v1::AcquireLeaseRequest& request,
                                        v1::AcquireLeaseResponse* response, absl::Time now);

// Extends a held lease to now + ttl (renewed_at = now, epoch unchanged).
// FAILED_PRECONDITION saying why when the lease was never granted, was
// released, is held by another holder or at another epoch, or has expired
// at `now`: the caller has lost it. INVALID_ARGUMENT as AcquireLease, and for
// a zero epoch.
[[nodiscard]] absl::Status RenewLease(db::WriteContext& tx, const v1::RenewLeaseRequest& request,
                                      v1::RenewLeaseResponse* response, absl::Time now);

// Gives the lease up: holder_id and holder_address become empty and
// expires_at `now`, so the next AcquireLease grants a new epoch at once.
// released = false, writing nothing, when the caller does not hold it at that
// epoch (never granted, released already, another holder or epoch, or
// expired): releasing twice is not an error. INVALID_ARGUMENT as RenewLease.
[[nodiscard]] absl::Status ReleaseLease(db::WriteContext& tx,
                                        const v1::ReleaseLeaseRequest& request,
                                        v1::ReleaseLeaseResponse* response, absl::Time now);

// The lease as it stands, remaining judged at `now`. NOT_FOUND when it was
// never granted; INVALID_ARGUMENT for a missing or malformed lease_name.
[[nodiscard]] absl::Status GetLease(db::ReadContext& tx, const v1::GetLeaseRequest& request,
                                    v1::GetLeaseResponse* response, absl::Time now);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_LEASES_REPO_H_
