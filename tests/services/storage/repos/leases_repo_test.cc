#include "services/storage/repos/leases_repo.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

constexpr char kPodA[] = "scheduler-0:abc123";
constexpr char kPodB[] = "scheduler-1:def456";

v1::AcquireLeaseRequest AcquireRequest(const std::string& holder, absl::Duration ttl,
                                       const std::string& name = kLease) {
  v1::AcquireLeaseRequest request;
  request.set_lease_name(name);
  request.set_holder_id(holder);
  request.set_holder_address(absl::StrCat(holder, ".pods:50053"));
  request.mutable_ttl()->set_seconds(absl::ToInt64Seconds(ttl));
  return request;
}

v1::RenewLeaseRequest RenewRequest(const std::string& holder, uint64_t epoch, absl::Duration ttl) {
  v1::RenewLeaseRequest request;
  request.set_lease_name(kLease);
  request.set_holder_id(holder);
  request.set_epoch(epoch);
  request.mutable_ttl()->set_seconds(absl::ToInt64Seconds(ttl));
  return request;
}

v1::ReleaseLeaseRequest ReleaseRequest(const std::string& holder, uint64_t epoch) {
  v1::ReleaseLeaseRequest request;
  request.set_lease_name(kLease);
  request.set_holder_id(holder);
  request.set_epoch(epoch);
  return request;
}

int64_t Seconds(const google::protobuf::Timestamp& timestamp) { return timestamp.seconds(); }

class LeasesRepoTest : public RepoTestBase {
 protected:
  absl::Status Acquire(const v1::AcquireLeaseRequest& request, v1::AcquireLeaseResponse* response,
                       absl::Time now) {
    return Write([&](db::WriteContext& tx) { return AcquireLease(tx, request, response, now); });
  }
  // Acquires for `holder`; expects the call to succeed.
  v1::AcquireLeaseResponse AcquireOk(const std::string& holder, absl::Duration ttl,
                                     absl::Time now) {
    v1::AcquireLeaseResponse response;
    absl::Status status = Acquire(AcquireRequest(holder, ttl), &response, now);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }
  absl::Status Renew(const v1::RenewLeaseRequest& request, v1::RenewLeaseResponse* response,
                     absl::Time now) {
    return Write([&](db::WriteContext& tx) { return RenewLease(tx, request, response, now); });
  }
  absl::Status Release(const v1::ReleaseLeaseRequest& request, v1::ReleaseLeaseResponse* response,
                       absl::Time now) {
    return Write([&](db::WriteContext& tx) { return ReleaseLease(tx, request, response, now); });
  }
  absl::Status Get(const std::string& name, v1::GetLeaseResponse* response, absl::Time now) {
    v1::GetLeaseRequest request;
    request.set_lease_name(name);
    return Read([&](db::ReadContext& tx) { return GetLease(tx, request, response, now); });
  }
  v1::Lease GetOk(absl::Time now) {
    v1::GetLeaseResponse response;
    absl::Status status = Get(kLease, &response, now);
    EXPECT_TRUE(status.ok()) << status;
    return response.lease();
  }
};

TEST_F(LeasesRepoTest, FirstAcquireGrantsEpochOne) {
  v1::AcquireLeaseResponse response = AcquireOk(kPodA, absl::Seconds(30), kNow);
  EXPECT_TRUE(response.acquired());
  const v1::Lease& lease = response.lease();
  EXPECT_EQ(lease.lease_name(), kLease);
  EXPECT_EQ(lease.holder_id(), kPodA);
  EXPECT_EQ(lease.holder_address(), absl::StrCat(kPodA, ".pods:50053"));
  EXPECT_EQ(lease.epoch(), 1u);
  const int64_t now = absl::ToUnixSeconds(kNow);
  EXPECT_EQ(Seconds(lease.acquired_at()), now);
  EXPECT_EQ(Seconds(lease.renewed_at()), now);
  EXPECT_EQ(Seconds(lease.expires_at()), now + 30);
  EXPECT_EQ(lease.remaining().seconds(), 30);

  // GetLease answers the same lease, remaining judged at its own now.
  v1::Lease got = GetOk(kNow + absl::Seconds(10));
  EXPECT_EQ(got.holder_id(), kPodA);
  EXPECT_EQ(got.epoch(), 1u);
  EXPECT_EQ(Seconds(got.expires_at()), now + 30);
  EXPECT_EQ(got.remaining().seconds(), 20);
  // Past expiry remaining is 0, never negative.
  got = GetOk(kNow + absl::Seconds(45));
  EXPECT_EQ(got.remaining().seconds(), 0);
  EXPECT_EQ(got.remaining().nanos(), 0);
}

TEST_F(LeasesRepoTest, GetLeaseNeverGrantedIsNotFound) {
  v1::GetLeaseResponse response;
  absl::Status status = Get(kLease, &response, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "\"scheduler\"")) << status;
}

TEST_F(LeasesRepoTest, HolderAcquiringAgainRenewsAtSameEpoch) {
  AcquireOk(kPodA, absl::Seconds(30), kNow);
  v1::AcquireLeaseResponse again = AcquireOk(kPodA, absl::Seconds(60), kNow + absl::Seconds(20));
  EXPECT_TRUE(again.acquired());
  EXPECT_EQ(again.lease().epoch(), 1u);
  const int64_t now = absl::ToUnixSeconds(kNow);
  EXPECT_EQ(Seconds(again.lease().acquired_at()), now);
  EXPECT_EQ(Seconds(again.lease().renewed_at()), now + 20);
  EXPECT_EQ(Seconds(again.lease().expires_at()), now + 80);
  EXPECT_EQ(again.lease().remaining().seconds(), 60);
}

TEST_F(LeasesRepoTest, RenewExtendsAtSameEpoch) {
  AcquireOk(kPodA, absl::Seconds(30), kNow);
  v1::RenewLeaseResponse response;
  absl::Status status =
      Renew(RenewRequest(kPodA, 1, absl::Seconds(40)), &response, kNow + absl::Seconds(25));
  ASSERT_TRUE(status.ok()) << status;
  const int64_t now = absl::ToUnixSeconds(kNow);
  EXPECT_EQ(response.lease().epoch(), 1u);
  EXPECT_EQ(response.lease().holder_id(), kPodA);
  EXPECT_EQ(Seconds(response.lease().acquired_at()), now);
  EXPECT_EQ(Seconds(response.lease().renewed_at()), now + 25);
  EXPECT_EQ(Seconds(response.lease().expires_at()), now + 65);
  EXPECT_EQ(response.lease().remaining().seconds(), 40);
  // Stored, not only answered.
  EXPECT_EQ(Seconds(GetOk(kNow).expires_at()), now + 65);
}

TEST_F(LeasesRepoTest, OtherHolderIsRefusedWhileLive) {
  AcquireOk(kPodA, absl::Seconds(30), kNow);
  v1::AcquireLeaseResponse response = AcquireOk(kPodB, absl::Seconds(30), kNow + absl::Seconds(29));
  EXPECT_FALSE(response.acquired());
  // The lease as it stands: A's, untouched.
  EXPECT_EQ(response.lease().holder_id(), kPodA);
  EXPECT_EQ(response.lease().epoch(), 1u);
  EXPECT_EQ(Seconds(response.lease().expires_at()), absl::ToUnixSeconds(kNow) + 30);
  EXPECT_EQ(response.lease().remaining().seconds(), 1);
  EXPECT_EQ(GetOk(kNow).holder_id(), kPodA);
}

TEST_F(LeasesRepoTest, TakeoverAfterExpiryIncrementsEpoch) {
  AcquireOk(kPodA, absl::Seconds(30), kNow);
  // Expired exactly at expires_at, as the fence judges it.
  const absl::Time later = kNow + absl::Seconds(30);
  v1::AcquireLeaseResponse response = AcquireOk(kPodB, absl::Seconds(30), later);
  EXPECT_TRUE(response.acquired());
  EXPECT_EQ(response.lease().holder_id(), kPodB);
  EXPECT_EQ(response.lease().epoch(), 2u);
  EXPECT_EQ(Seconds(response.lease().acquired_at()), absl::ToUnixSeconds(later));

  // A, back too late, is refused and learns who holds it.
  v1::AcquireLeaseResponse refused = AcquireOk(kPodA, absl::Seconds(30), later);
  EXPECT_FALSE(refused.acquired());
  EXPECT_EQ(refused.lease().holder_id(), kPodB);
  EXPECT_EQ(refused.lease().epoch(), 2u);
}

TEST_F(LeasesRepoTest, SameHolderAfterOwnExpiryGetsNewEpoch) {
  AcquireOk(kPodA, absl::Seconds(30), kNow);
  v1::AcquireLeaseResponse response = AcquireOk(kPodA, absl::Seconds(30), kNow + absl::Minutes(5));
  EXPECT_TRUE(response.acquired());
  EXPECT_EQ(response.lease().epoch(), 2u);
}

TEST_F(LeasesRepoTest, ReleaseThenAcquireIncrementsEpoch) {
  AcquireOk(kPodA, absl::Seconds(30), kNow);
  const absl::Time at = kNow + absl::Seconds(5);
  v1::ReleaseLeaseResponse released;
  ASSERT_TRUE(Release(ReleaseRequest(kPodA, 1), &released, at).ok());
  EXPECT_TRUE(released.released());
  v1::Lease lease = GetOk(at);
  EXPECT_EQ(lease.holder_id(), "");
  EXPECT_EQ(lease.epoch(), 1u);
  EXPECT_EQ(Seconds(lease.expires_at()), absl::ToUnixSeconds(at));
  EXPECT_EQ(lease.remaining().seconds(), 0);

  // Idempotent: the second release reports it was not held.
  ASSERT_TRUE(Release(ReleaseRequest(kPodA, 1), &released, at).ok());
  EXPECT_FALSE(released.released());

  // Another replica need not wait for the old expiry.
  v1::AcquireLeaseResponse response = AcquireOk(kPodB, absl::Seconds(30), at);
  EXPECT_TRUE(response.acquired());
  EXPECT_EQ(response.lease().epoch(), 2u);
  // And the old holder coming back is a new grant too.
  ASSERT_TRUE(Release(ReleaseRequest(kPodB, 2), &released, at).ok());
  EXPECT_TRUE(released.released());
  EXPECT_EQ(AcquireOk(kPodA, absl::Seconds(30), at).lease().epoch(), 3u);
}

TEST_F(LeasesRepoTest, ReleaseByNonHolderChangesNothing) {
  v1::ReleaseLeaseResponse released;
  // Never granted.
  ASSERT_TRUE(Release(ReleaseRequest(kPodA, 1), &released, kNow).ok());
  EXPECT_FALSE(released.released());
  AcquireOk(kPodA, absl::Seconds(30), kNow);
  // Another holder, another epoch.
  ASSERT_TRUE(Release(ReleaseRequest(kPodB, 1), &released, kNow).ok());
  EXPECT_FALSE(released.released());
  ASSERT_TRUE(Release(ReleaseRequest(kPodA, 7), &released, kNow).ok());
  EXPECT_FALSE(released.released());
  v1::Lease lease = GetOk(kNow);
  EXPECT_EQ(lease.holder_id(), kPodA);
  EXPECT_EQ(Seconds(lease.expires_at()), absl::ToUnixSeconds(kNow) + 30);
}

TEST_F(LeasesRepoTest, RenewRefusedWhenLost) {
  v1::RenewLeaseResponse response;
  absl::Status status = Renew(RenewRequest(kPodA, 1, absl::Seconds(30)), &response, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "never granted")) << status;

  AcquireOk(kPodA, absl::Seconds(30), kNow);
  // A stale epoch.
  status = Renew(RenewRequest(kPodA, 2, absl::Seconds(30)), &response, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "epoch 1, not 2")) << status;
  // Another holder.
  status = Renew(RenewRequest(kPodB, 1, absl::Seconds(30)), &response, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "another holder")) << status;
  // Expired, even though nobody took it over.
  status = Renew(RenewRequest(kPodA, 1, absl::Seconds(30)), &response, kNow + absl::Seconds(31));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "expired 1s ago")) << status;
  EXPECT_EQ(Seconds(GetOk(kNow).expires_at()), absl::ToUnixSeconds(kNow) + 30);

  // After takeover the old epoch is stale for its old holder.
  AcquireOk(kPodB, absl::Seconds(30), kNow + absl::Seconds(31));
  status = Renew(RenewRequest(kPodA, 1, absl::Seconds(30)), &response, kNow + absl::Seconds(32));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  // After release.
  v1::ReleaseLeaseResponse released;
  ASSERT_TRUE(Release(ReleaseRequest(kPodB, 2), &released, kNow + absl::Seconds(33)).ok());
  status = Renew(RenewRequest(kPodB, 2, absl::Seconds(30)), &response, kNow + absl::Seconds(33));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "released")) << status;
}

TEST_F(LeasesRepoTest, ValidationNamesTheField) {
  struct Case {
    v1::AcquireLeaseRequest request;
    std::string message;
  };
  auto with = [](auto edit) {
    v1::AcquireLeaseRequest request = AcquireRequest(kPodA, absl::Seconds(30));
    edit(request);
    return request;
  };
  const Case cases[] = {
      {with([](auto& r) { r.clear_lease_name(); }), "lease_name: required"},
      {with([](auto& r) { r.set_lease_name("Scheduler"); }), "lease_name: \"Scheduler\""},
      {with([](auto& r) { r.set_lease_name(".scheduler"); }), "does not start with"},
      {with([](auto& r) { r.set_lease_name("sched_uler"); }), "lease_name: \"sched_uler\""},
      {with([](auto& r) { r.set_lease_name(std::string(64, 'a')); }),
       "lease_name: 64 characters, at most 63"},
      {with([](auto& r) { r.clear_holder_id(); }), "holder_id: required"},
      {with([](auto& r) { r.set_holder_id("pod a"); }), "holder_id: \"pod a\""},
      {with([](auto& r) { r.set_holder_id(std::string(129, 'a')); }),
       "holder_id: 129 characters, at most 128"},
      {with([](auto& r) { r.clear_ttl(); }), "ttl: required"},
      {with([](auto& r) { r.mutable_ttl()->set_seconds(0); }), "ttl: 0, must be 1s to 10m"},
      {with([](auto& r) { r.mutable_ttl()->set_seconds(601); }), "ttl: 10m1s, must be 1s to 10m"},
      {with([](auto& r) { r.mutable_ttl()->set_seconds(-1); }), "ttl: out of range"},
  };
  for (const Case& c : cases) {
    v1::AcquireLeaseResponse response;
    absl::Status status = Acquire(c.request, &response, kNow);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message << ": " << status;
    EXPECT_TRUE(absl::StrContains(status.message(), c.message)) << c.message << ": " << status;
  }
  // The bounds themselves are accepted; allowed characters pass.
  v1::AcquireLeaseResponse response;
  EXPECT_TRUE(
      Acquire(AcquireRequest("Pod-0.a_b:c", absl::Seconds(1), "a.b-c9"), &response, kNow).ok());
  EXPECT_TRUE(Acquire(AcquireRequest(kPodA, absl::Minutes(10), "x"), &response, kNow).ok());
  EXPECT_EQ(Count("leases"), 2);

  v1::RenewLeaseResponse renewed;
  absl::Status status = Renew(RenewRequest(kPodA, 0, absl::Seconds(30)), &renewed, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "epoch: required")) << status;
  v1::ReleaseLeaseResponse released;
  status = Release(ReleaseRequest("", 1), &released, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "holder_id: required")) << status;
  v1::GetLeaseResponse got;
  status = Get("", &got, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "lease_name: required")) << status;
}

// The scenario fencing exists for: a replica that lost its lease to another
// after expiry still tries to write with its old epoch.
TEST_F(LeasesRepoTest, StaleFenceAfterTakeoverRefusesSnapshot) {
  AddIds({EvmId(1)});
  const v1::Lease old_lease = AcquireOk(kPodA, absl::Seconds(30), kNow).lease();
  const absl::Time later = kNow + absl::Seconds(40);
  const v1::Lease new_lease = AcquireOk(kPodB, absl::Seconds(30), later).lease();
  ASSERT_EQ(new_lease.epoch(), old_lease.epoch() + 1);

  auto write = [&](const std::string& key, const v1::Lease& lease) {
    v1::WriteSnapshotRequest request = Request(key, absl::ToUnixSeconds(later));
    AddAmount(&request, EvmId(1), kEth, "5");
    request.mutable_fence()->set_lease_name(lease.lease_name());
    request.mutable_fence()->set_holder_id(lease.holder_id());
    request.mutable_fence()->set_epoch(lease.epoch());
    v1::WriteSnapshotResponse response;
    return Write(
        [&](db::WriteContext& tx) { return WriteSnapshot(tx, request, &response, later); });
  };
  absl::Status stale = write("from-a", old_lease);
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition) << stale;
  EXPECT_EQ(Count("snapshots"), 0);
  absl::Status current = write("from-b", new_lease);
  EXPECT_TRUE(current.ok()) << current;
  EXPECT_EQ(Count("snapshots"), 1);
}

}  // namespace
}  // namespace coffer::storage
