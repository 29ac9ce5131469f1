#include "services/scheduler/lease/lease_keeper.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "tests/services/scheduler/lease/fake_lease_store.h"
#include "tests/services/scheduler/lease/fake_waitable_clock.h"
#include "tests/services/scheduler/lease/lease_events.h"

namespace coffer::scheduler {
namespace {

constexpr char kHolder[] = "replica-a";
constexpr absl::Duration kTtl = absl::Seconds(15);
// The defaults for kTtl.
constexpr absl::Duration kRenewInterval = absl::Seconds(5);
constexpr absl::Duration kRenewRetry = absl::Seconds(1);
constexpr absl::Duration kMargin = absl::Seconds(3);
constexpr absl::Duration kReleaseTimeout = absl::Seconds(2);

v1::Lease LeaseOf(const std::string& holder, uint64_t epoch) {
  v1::Lease lease;
  lease.set_lease_name("scheduler");
  lease.set_holder_id(holder);
  lease.set_epoch(epoch);
  lease.mutable_remaining()->set_seconds(absl::ToInt64Seconds(kTtl));
  return lease;
}

v1::AcquireLeaseResponse Granted(uint64_t epoch) {
  v1::AcquireLeaseResponse reply;
  reply.set_acquired(true);
  *reply.mutable_lease() = LeaseOf(kHolder, epoch);
  return reply;
}

v1::AcquireLeaseResponse HeldBy(const std::string& holder, uint64_t epoch) {
  v1::AcquireLeaseResponse reply;
  *reply.mutable_lease() = LeaseOf(holder, epoch);
  return reply;
}

v1::RenewLeaseResponse Renewed(uint64_t epoch) {
  v1::RenewLeaseResponse reply;
  *reply.mutable_lease() = LeaseOf(kHolder, epoch);
  return reply;
}

class LeaseKeeperTest : public ::testing::Test {
 protected:
  static LeaseKeeperOptions Options() {
    LeaseKeeperOptions options;
    options.holder_id = kHolder;
    options.holder_address = "10.0.0.7:50053";
    options.ttl = kTtl;
    return options;
  }

  void Start(LeaseKeeper::Callbacks callbacks) {
    keeper_ = std::make_unique<LeaseKeeper>(Options(), &store_, &clock_, std::move(callbacks));
    ASSERT_TRUE(keeper_->Start().ok());
    Settle();
  }
  void Start() { Start(events_.Callbacks()); }

  // Starts and is granted `epoch` at once (at start_).
  void StartHolding(uint64_t epoch) {
    Start();
    ASSERT_TRUE(store_.AnswerAcquire(Granted(epoch)));
    Settle();
    ASSERT_EQ(events_.acquired().size(), 1u);
  }

  // Lets the keeper do all it can at the current time.
  void Settle() { ASSERT_TRUE(clock_.AwaitBlockedWaiter()) << "the keeper never went idle"; }

  void AdvanceTo(absl::Time time) {
    clock_.Advance(time - clock_.Now());
    Settle();
  }

  bool Held() const { return keeper_->CurrentFence().has_value(); }

  // Stop waits (on the fake clock) for a call still out: time moves until
  // it returns.
  void TearDown() override {
    if (keeper_ == nullptr) return;
    std::atomic<bool> stopped = false;
    std::thread stopper([&] {
      keeper_->Stop();
      stopped = true;
    });
    while (!stopped) {
      if (clock_.AwaitBlockedWaiter(absl::Milliseconds(10))) clock_.Advance(kReleaseTimeout);
    }
    stopper.join();
  }

  FakeWaitableClock clock_;
  const absl::Time start_ = clock_.Now();
  FakeLeaseStore store_;
  LeaseEvents events_;
  // Last: destroyed (stopped) before what it uses.
  std::unique_ptr<LeaseKeeper> keeper_;
};

TEST_F(LeaseKeeperTest, AcquiresOnStartAndAnnouncesTheFence) {
  Start();
  ASSERT_EQ(store_.acquires().size(), 1u);
  const v1::AcquireLeaseRequest request = store_.acquires()[0];
  EXPECT_EQ(request.lease_name(), "scheduler");
  EXPECT_EQ(request.holder_id(), kHolder);
  EXPECT_EQ(request.holder_address(), "10.0.0.7:50053");
  EXPECT_EQ(request.ttl().seconds(), 15);
  EXPECT_FALSE(Held());
  EXPECT_FALSE(keeper_->GetStatus().active);

  ASSERT_TRUE(store_.AnswerAcquire(Granted(7)));
  Settle();
  const std::optional<v1::Fence> fence = keeper_->CurrentFence();
  ASSERT_TRUE(fence.has_value());
  EXPECT_EQ(fence->lease_name(), "scheduler");
  EXPECT_EQ(fence->holder_id(), kHolder);
  EXPECT_EQ(fence->epoch(), 7u);
  EXPECT_EQ(events_.acquired(), std::vector<uint64_t>{7});
  EXPECT_TRUE(events_.lost().empty());
  EXPECT_EQ(events_.threads(), std::vector<std::string>{"lease-keeper"});

  const LeaseKeeperStatus status = keeper_->GetStatus();
  EXPECT_TRUE(status.active);
  ASSERT_TRUE(status.lease.has_value());
  EXPECT_EQ(status.lease->epoch(), 7u);
  EXPECT_NE(status.lease_checked_at, absl::InfinitePast());
  EXPECT_TRUE(status.last_error.ok());
}

TEST_F(LeaseKeeperTest, StandbyRetriesEveryThirdOfTtl) {
  Start();
  ASSERT_TRUE(store_.AnswerAcquire(HeldBy("replica-b", 4)));
  Settle();
  EXPECT_FALSE(Held());
  const LeaseKeeperStatus status = keeper_->GetStatus();
  EXPECT_FALSE(status.active);
  ASSERT_TRUE(status.lease.has_value());
  EXPECT_EQ(status.lease->holder_id(), "replica-b");

  AdvanceTo(start_ + kTtl / 3 - absl::Nanoseconds(1));
  EXPECT_EQ(store_.acquires().size(), 1u);
  AdvanceTo(start_ + kTtl / 3);
  EXPECT_EQ(store_.acquires().size(), 2u);
  // Storage failing is retried the same way.
  ASSERT_TRUE(store_.AnswerAcquire(absl::UnavailableError("storage down")));
  Settle();
  EXPECT_EQ(keeper_->GetStatus().last_error.code(), absl::StatusCode::kUnavailable);
  AdvanceTo(start_ + 2 * kTtl / 3);
  EXPECT_EQ(store_.acquires().size(), 3u);
  EXPECT_TRUE(events_.acquired().empty());
}

TEST_F(LeaseKeeperTest, RenewsEveryThirdOfTtlFromWhenTheRequestWasSent) {
  StartHolding(7);
  AdvanceTo(start_ + kRenewInterval - absl::Nanoseconds(1));
  EXPECT_TRUE(store_.renewals().empty());
  AdvanceTo(start_ + kRenewInterval);
  ASSERT_EQ(store_.renewals().size(), 1u);
  EXPECT_EQ(store_.renewals()[0].epoch(), 7u);
  EXPECT_EQ(store_.renewals()[0].holder_id(), kHolder);
  EXPECT_EQ(store_.renewals()[0].ttl().seconds(), 15);

  // Answered a second late: the next renewal still counts from the send.
  AdvanceTo(start_ + kRenewInterval + absl::Seconds(1));
  ASSERT_TRUE(store_.AnswerRenewal(Renewed(7)));
  Settle();
  AdvanceTo(start_ + 2 * kRenewInterval - absl::Nanoseconds(1));
  EXPECT_EQ(store_.renewals().size(), 1u);
  AdvanceTo(start_ + 2 * kRenewInterval);
  EXPECT_EQ(store_.renewals().size(), 2u);
  EXPECT_TRUE(Held());
  EXPECT_EQ(events_.acquired().size(), 1u);
  EXPECT_TRUE(events_.lost().empty());
}

TEST_F(LeaseKeeperTest, FailedPreconditionOnRenewalLosesTheLeaseAtOnce) {
  StartHolding(7);
  AdvanceTo(start_ + kRenewInterval);
  ASSERT_TRUE(store_.AnswerRenewal(absl::FailedPreconditionError("lease is at epoch 8, not 7")));
  Settle();
  EXPECT_FALSE(Held());
  ASSERT_EQ(events_.lost().size(), 1u);
  EXPECT_EQ(events_.lost()[0].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(events_.threads().back(), "lease-keeper");
  // It asks again at once; another holder has it now.
  EXPECT_EQ(store_.acquires().size(), 2u);
  ASSERT_TRUE(store_.AnswerAcquire(HeldBy("replica-b", 8)));
  Settle();
  AdvanceTo(start_ + absl::Minutes(1));
  EXPECT_EQ(events_.lost().size(), 1u);
  EXPECT_EQ(events_.acquired().size(), 1u);
  EXPECT_FALSE(Held());
}

TEST_F(LeaseKeeperTest, ReacquiringAfterALossAnnouncesTheNewEpoch) {
  StartHolding(7);
  AdvanceTo(start_ + kRenewInterval);
  ASSERT_TRUE(store_.AnswerRenewal(absl::FailedPreconditionError("lease expired")));
  Settle();
  ASSERT_TRUE(store_.AnswerAcquire(Granted(9)));
  Settle();
  ASSERT_TRUE(Held());
  EXPECT_EQ(keeper_->CurrentFence()->epoch(), 9u);
  EXPECT_EQ(events_.acquired(), (std::vector<uint64_t>{7, 9}));
  EXPECT_EQ(events_.lost().size(), 1u);
  AdvanceTo(clock_.Now() + kRenewInterval);
  ASSERT_EQ(store_.renewals().size(), 2u);
  EXPECT_EQ(store_.renewals()[1].epoch(), 9u);
}

TEST_F(LeaseKeeperTest, TransientRenewalFailureIsRetriedWithoutStepping) {
  StartHolding(7);
  AdvanceTo(start_ + kRenewInterval);
  ASSERT_TRUE(store_.AnswerRenewal(absl::UnavailableError("connection refused")));
  Settle();
  EXPECT_TRUE(Held());
  EXPECT_EQ(keeper_->GetStatus().last_error.code(), absl::StatusCode::kUnavailable);
  AdvanceTo(start_ + kRenewInterval + kRenewRetry - absl::Nanoseconds(1));
  EXPECT_EQ(store_.renewals().size(), 1u);
  AdvanceTo(start_ + kRenewInterval + kRenewRetry);
  ASSERT_EQ(store_.renewals().size(), 2u);
  ASSERT_TRUE(store_.AnswerRenewal(Renewed(7)));
  Settle();
  // Held past the grant's own deadline, on the second renewal's.
  AdvanceTo(start_ + kTtl);
  EXPECT_TRUE(Held());
  EXPECT_TRUE(events_.lost().empty());
  EXPECT_TRUE(keeper_->GetStatus().last_error.ok());
}

TEST_F(LeaseKeeperTest, UnansweredRenewalsStepDownExactlyAtTheLocalDeadline) {
  Start();
  // Granted two seconds after the request left: the lease counts from the
  // request, not from the answer.
  AdvanceTo(start_ + absl::Seconds(2));
  ASSERT_TRUE(store_.AnswerAcquire(Granted(7)));
  Settle();
  // Renewed at +5 s (answered at +6 s); the renewal at +10 s never answers.
  AdvanceTo(start_ + kRenewInterval);
  AdvanceTo(start_ + kRenewInterval + absl::Seconds(1));
  ASSERT_TRUE(store_.AnswerRenewal(Renewed(7)));
  Settle();
  AdvanceTo(start_ + 2 * kRenewInterval);
  ASSERT_EQ(store_.pending_renewals(), 1u);

  const absl::Time deadline = start_ + kRenewInterval + kTtl - kMargin;
  AdvanceTo(deadline - absl::Nanoseconds(1));
  EXPECT_TRUE(Held());
  EXPECT_TRUE(events_.lost().empty());
  AdvanceTo(deadline);
  EXPECT_FALSE(Held());
  ASSERT_EQ(events_.lost().size(), 1u);
  EXPECT_EQ(events_.lost()[0].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(keeper_->GetStatus().active);

  // The late answer does not bring the grant back; asking again does.
  ASSERT_TRUE(store_.AnswerRenewal(Renewed(7)));
  Settle();
  EXPECT_FALSE(Held());
  ASSERT_EQ(store_.acquires().size(), 2u);
  ASSERT_TRUE(store_.AnswerAcquire(Granted(7)));
  Settle();
  EXPECT_TRUE(Held());
  EXPECT_EQ(events_.acquired(), (std::vector<uint64_t>{7, 7}));
}

TEST_F(LeaseKeeperTest, NoFenceAfterTheDeadlineEvenBeforeTheKeeperThreadRuns) {
  // The keeper's thread is stuck in on_acquired, as if the process had
  // been stopped: CurrentFence() alone must notice the deadline.
  absl::Notification entered;
  absl::Notification unblock;
  Start({.on_acquired =
             [&](const v1::Fence&) {
               entered.Notify();
               unblock.WaitForNotification();
             },
         .on_lost = [&](const absl::Status& reason) { events_.RecordLost(reason); }});
  ASSERT_TRUE(store_.AnswerAcquire(Granted(7)));
  entered.WaitForNotification();
  clock_.Advance(kTtl - kMargin - absl::Nanoseconds(1));
  EXPECT_TRUE(Held());
  clock_.Advance(absl::Nanoseconds(1));
  EXPECT_FALSE(Held());
  EXPECT_FALSE(keeper_->GetStatus().active);
  EXPECT_TRUE(events_.lost().empty());
  unblock.Notify();
  Settle();
  EXPECT_EQ(events_.lost().size(), 1u);
  EXPECT_FALSE(Held());
}

TEST_F(LeaseKeeperTest, StopLosesThenReleasesTheLease) {
  size_t releases_seen_by_on_lost = 99;
  Start({.on_acquired = [](const v1::Fence&) {},
         .on_lost =
             [&](const absl::Status&) { releases_seen_by_on_lost = store_.releases().size(); }});
  ASSERT_TRUE(store_.AnswerAcquire(Granted(7)));
  Settle();
  ASSERT_TRUE(Held());
  keeper_->Stop();
  EXPECT_FALSE(Held());
  // Writes stop before another replica can take over.
  EXPECT_EQ(releases_seen_by_on_lost, 0u);
  ASSERT_EQ(store_.releases().size(), 1u);
  EXPECT_EQ(store_.releases()[0].lease_name(), "scheduler");
  EXPECT_EQ(store_.releases()[0].holder_id(), kHolder);
  EXPECT_EQ(store_.releases()[0].epoch(), 7u);
}

TEST_F(LeaseKeeperTest, StopReleasesAGrantStillOnItsWay) {
  Start();
  std::thread stopper([&] { keeper_->Stop(); });
  // The keeper waits for the acquire's answer, stopping.
  ASSERT_TRUE(clock_.AwaitBlockedWaiterUntil(start_ + kReleaseTimeout));
  ASSERT_TRUE(store_.AnswerAcquire(Granted(3)));
  stopper.join();
  ASSERT_EQ(store_.releases().size(), 1u);
  EXPECT_EQ(store_.releases()[0].epoch(), 3u);
  EXPECT_TRUE(events_.acquired().empty());
  EXPECT_FALSE(Held());
}

TEST_F(LeaseKeeperTest, StopWaitsForTheReleaseAtMostReleaseTimeout) {
  store_.HoldReleases();
  StartHolding(7);
  std::thread stopper([&] { keeper_->Stop(); });
  ASSERT_TRUE(clock_.AwaitBlockedWaiterUntil(start_ + kReleaseTimeout));
  EXPECT_EQ(store_.releases().size(), 1u);
  clock_.Advance(kReleaseTimeout);
  stopper.join();
  // An answer after the keeper is gone lands nowhere harmful.
  keeper_.reset();
  EXPECT_TRUE(store_.AnswerRelease(v1::ReleaseLeaseResponse()));
}

TEST_F(LeaseKeeperTest, NoCallbackAfterStopReturns) {
  StartHolding(7);
  AdvanceTo(start_ + kRenewInterval);
  ASSERT_EQ(store_.pending_renewals(), 1u);
  keeper_->Stop();
  ASSERT_EQ(events_.lost().size(), 1u);
  EXPECT_EQ(events_.lost()[0].code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(store_.AnswerRenewal(absl::FailedPreconditionError("lease was released")));
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(events_.lost().size(), 1u);
  EXPECT_EQ(events_.acquired().size(), 1u);
  EXPECT_EQ(store_.acquires().size(), 1u);
  EXPECT_FALSE(keeper_->Start().ok());
}

TEST_F(LeaseKeeperTest, StopBeforeAnyGrantReleasesNothing) {
  Start();
  ASSERT_TRUE(store_.AnswerAcquire(HeldBy("replica-b", 4)));
  Settle();
  keeper_->Stop();
  EXPECT_TRUE(store_.releases().empty());
  EXPECT_TRUE(events_.lost().empty());
}

TEST_F(LeaseKeeperTest, StartRefusesOptionsThatCannotWork) {
  auto start_with = [&](LeaseKeeperOptions options) {
    return LeaseKeeper(std::move(options), &store_, &clock_, {}).Start();
  };
  LeaseKeeperOptions options = Options();
  options.holder_id = "";
  EXPECT_EQ(start_with(options).code(), absl::StatusCode::kInvalidArgument);
  options = Options();
  options.ttl = absl::Milliseconds(500);
  EXPECT_EQ(start_with(options).code(), absl::StatusCode::kInvalidArgument);
  options = Options();
  options.renew_interval = kTtl - kMargin;
  EXPECT_EQ(start_with(options).code(), absl::StatusCode::kInvalidArgument);
  options = Options();
  options.safety_margin = kTtl;
  EXPECT_EQ(start_with(options).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_.acquires().empty());
}

}  // namespace
}  // namespace coffer::scheduler
