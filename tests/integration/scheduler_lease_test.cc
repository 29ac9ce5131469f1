// The scheduler's lease keeper against the real coffer-storage binary: two
// keepers (two replicas) with a short ttl elect one holder at a time; a
// stopped holder hands over at once by releasing; a stalled holder steps
// down by its own deadline, the other takes over with a higher epoch, and
// storage refuses the stale holder's fenced writes.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "services/scheduler/lease/lease_keeper.h"
#include "services/scheduler/lease/lease_store.h"
#include "services/scheduler/lease/waitable_clock.h"
#include "tests/integration/integration_test_base.h"
#include "tests/services/scheduler/lease/lease_events.h"

namespace coffer::testing {
namespace {

using scheduler::LeaseKeeper;
using scheduler::LeaseKeeperOptions;
using scheduler::LeaseStore;
using v1::Storage;

constexpr absl::Duration kTtl = absl::Seconds(2);
// Generous: the machine may be a loaded 2-core VM.
constexpr absl::Duration kPatience = absl::Seconds(30);

// Passes calls through to storage until stalled, then fails them at once
// as if storage could not be reached.
class StallableLeaseStore : public LeaseStore {
 public:
  explicit StallableLeaseStore(LeaseStore* store) : store_(store) {}

  void Stall() { stalled_ = true; }
  void Resume() { stalled_ = false; }

  void Acquire(const v1::AcquireLeaseRequest& request,
               Done<v1::AcquireLeaseResponse> done) override {
    if (stalled_) return std::move(done)(absl::UnavailableError("stalled by the test"));
    store_->Acquire(request, std::move(done));
  }
  void Renew(const v1::RenewLeaseRequest& request, Done<v1::RenewLeaseResponse> done) override {
    if (stalled_) return std::move(done)(absl::UnavailableError("stalled by the test"));
    store_->Renew(request, std::move(done));
  }
  void Release(const v1::ReleaseLeaseRequest& request,
               Done<v1::ReleaseLeaseResponse> done) override {
    if (stalled_) return std::move(done)(absl::UnavailableError("stalled by the test"));
    store_->Release(request, std::move(done));
  }

 private:
  LeaseStore* const store_;
  std::atomic<bool> stalled_ = false;
};

// One replica's keeper, with what its callbacks saw.
class Replica {
 public:
  Replica(const std::string& holder_id, LeaseStore* store, scheduler::WaitableClock* clock) {
    LeaseKeeperOptions options;
    options.holder_id = holder_id;
    options.holder_address = "127.0.0.1:0";
    options.ttl = kTtl;
    keeper_ = std::make_unique<LeaseKeeper>(options, store, clock, events_.Callbacks());
  }

  LeaseKeeper& keeper() { return *keeper_; }
  bool Holds() const { return keeper_->CurrentFence().has_value(); }
  const scheduler::LeaseEvents& events() const { return events_; }

 private:
  scheduler::LeaseEvents events_;
  // After events_: stopped before the callbacks' target goes.
  std::unique_ptr<LeaseKeeper> keeper_;
};

class SchedulerLeaseTest : public IntegrationTestBase {
 protected:
  void SetUp() override {
    storage_ = &StartService(Service::kStorage);
    client_ = Client<Storage>(*storage_);
    store_ = std::make_unique<scheduler::GrpcLeaseStore>(client_.get(), absl::Seconds(1));
  }

  void TearDown() override {
    // Keepers first: their calls use the fixture's client queue and storage.
    replicas_.clear();
    IntegrationTestBase::TearDown();
  }

  Replica& AddReplica(const std::string& holder_id, LeaseStore* store) {
    replicas_.push_back(std::make_unique<Replica>(holder_id, store, &clock_));
    EXPECT_TRUE(replicas_.back()->keeper().Start().ok());
    return *replicas_.back();
  }

  // Polls `done` until it holds or `patience` has passed, checking after
  // every poll that no two replicas hold the lease at once.
  bool WaitFor(const std::function<bool()>& done, absl::Duration patience = kPatience) {
    const absl::Time give_up = absl::Now() + patience;
    while (absl::Now() < give_up) {
      int holders = 0;
      for (const auto& replica : replicas_) holders += replica->Holds() ? 1 : 0;
      EXPECT_LE(holders, 1) << "two replicas hold the lease at once";
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return done();
  }

  absl::StatusOr<v1::CreateTaskDefinitionResponse> CreateTask(const std::string& task_id,
                                                              const v1::Fence& fence) {
    v1::CreateTaskDefinitionRequest request;
    *request.mutable_fence() = fence;
    request.mutable_task()->set_task_id(task_id);
    request.mutable_task()->set_kind(v1::TASK_KIND_REFRESH_BALANCES);
    request.mutable_task()->mutable_schedule()->mutable_interval()->set_seconds(300);
    return client_->CallBlocking(&Storage::Stub::PrepareAsyncCreateTaskDefinition, request);
  }

  scheduler::SteadyClock clock_;
  ServiceProcess* storage_ = nullptr;
  std::unique_ptr<grpc_util::AsyncClient<Storage>> client_;
  std::unique_ptr<scheduler::GrpcLeaseStore> store_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

TEST_F(SchedulerLeaseTest, OneHolderAtATimeAndAStoppedHolderHandsOverAtOnce) {
  Replica& first = AddReplica("replica-a", store_.get());
  ASSERT_TRUE(WaitFor([&] { return first.Holds(); }));
  Replica& second = AddReplica("replica-b", store_.get());
  // Several ttls of renewals and refused acquisitions, checked all along.
  WaitFor([] { return false; }, 3 * kTtl);
  ASSERT_TRUE(WaitFor([&] { return first.Holds() || second.Holds(); }));
  Replica& holder = first.Holds() ? first : second;
  Replica& standby = first.Holds() ? second : first;
  const std::optional<v1::Fence> old_fence = holder.keeper().CurrentFence();
  ASSERT_TRUE(old_fence.has_value());

  holder.keeper().Stop();
  EXPECT_FALSE(holder.Holds());
  // Released, not left to expire: storage knows at once.
  v1::GetLeaseRequest get;
  get.set_lease_name("scheduler");
  auto lease = client_->CallBlocking(&Storage::Stub::PrepareAsyncGetLease, get);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_NE(lease->lease().holder_id(), old_fence->holder_id());

  ASSERT_TRUE(WaitFor([&] { return standby.Holds(); }));
  const std::optional<v1::Fence> new_fence = standby.keeper().CurrentFence();
  ASSERT_TRUE(new_fence.has_value());
  EXPECT_GT(new_fence->epoch(), old_fence->epoch());
  EXPECT_EQ(holder.events().lost().size(), 1u);
  EXPECT_EQ(holder.events().lost()[0].code(), absl::StatusCode::kCancelled);
}

TEST_F(SchedulerLeaseTest, AStalledHolderStepsDownByItsOwnDeadlineAndCannotWrite) {
  StallableLeaseStore stallable(store_.get());
  Replica& stalled = AddReplica("replica-a", &stallable);
  ASSERT_TRUE(WaitFor([&] { return stalled.Holds(); }));
  Replica& other = AddReplica("replica-b", store_.get());
  const std::optional<v1::Fence> old_fence = stalled.keeper().CurrentFence();
  ASSERT_TRUE(old_fence.has_value());
  ASSERT_TRUE(CreateTask("written-while-held", *old_fence).ok());

  stallable.Stall();
  // Every renewal that can still succeed was sent before this.
  const absl::Time stalled_at = clock_.Now();
  const absl::Duration local_deadline = kTtl - kTtl / 5;
  // The rule is checked when asked, whatever the keeper's thread is doing.
  absl::SleepFor(stalled_at + local_deadline - clock_.Now());
  EXPECT_FALSE(stalled.Holds());

  ASSERT_TRUE(WaitFor([&] { return other.Holds(); }));
  const absl::Duration takeover = clock_.Now() - stalled_at;
  // Storage's expiry (ttl after the last renewal) plus the standby's retry
  // interval, plus slack for a loaded machine.
  EXPECT_LT(takeover, 5 * kTtl) << "takeover took " << takeover;
  ASSERT_EQ(stalled.events().lost().size(), 1u);
  EXPECT_EQ(stalled.events().lost()[0].code(), absl::StatusCode::kDeadlineExceeded);

  const std::optional<v1::Fence> new_fence = other.keeper().CurrentFence();
  ASSERT_TRUE(new_fence.has_value());
  EXPECT_GT(new_fence->epoch(), old_fence->epoch());
  auto stale = CreateTask("written-after-takeover", *old_fence);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();
  EXPECT_TRUE(CreateTask("written-by-new-holder", *new_fence).ok());

  // Back from its stall, the old holder finds the lease taken.
  stallable.Resume();
  EXPECT_FALSE(WaitFor([&] { return stalled.Holds(); }, 2 * kTtl));
  EXPECT_TRUE(other.Holds());
  EXPECT_EQ(stalled.events().acquired().size(), 1u);
}

}  // namespace
}  // namespace coffer::testing
