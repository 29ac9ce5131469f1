// Two scheduler replicas on one storage, against the real binaries: one is
// ACTIVE and runs the tasks, the other is a STANDBY that forwards mutations
// to the active one, or (with --forward_to_active=false) refuses them naming
// it; the standby takes over within about a lease period
// when the active one is killed; and a leader stopped with SIGSTOP past its
// lease writes nothing once resumed (storage refuses its stale fence).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/scheduler_system_fixture.h"

namespace coffer::testing {
namespace {

using v1::GetReplicaStatusResponse;
using v1::Scheduler;
using v1::Storage;

constexpr absl::Duration kLeaseTtl = absl::Seconds(3);
constexpr char kAddressA[] = "a.scheduler.test:7001";
constexpr char kAddressB[] = "b.scheduler.test:7002";

class SchedulerReplicasTest : public SchedulerSystemTest {
 protected:
  void SetUp() override {
    SchedulerSystemTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartFetcher();
    StartStorage();
    AddAccounts({{1, "31"}, {2, "32"}});
  }

  SchedulerOptions Replica(const std::string& id, const std::string& address,
                           GetReplicaStatusResponse::Role role) {
    SchedulerOptions options;
    options.replica_id = id;
    options.advertise_address = address;
    options.lease_ttl = kLeaseTtl;
    options.wait_for_role = role;
    // The addresses above are names no one answers: these replicas refer
    // clients to the active one rather than forward to it (the forwarding
    // test below uses real addresses).
    options.extra_args = {"--forward_to_active=false"};
    return options;
  }

  size_t EndedRunsOf(const std::string& holder) {
    std::vector<v1::Run> runs = StoredRuns("balances");
    return std::count_if(runs.begin(), runs.end(), [&](const v1::Run& run) {
      return run.holder_id() == holder && run.has_finished_at() &&
             run.state() != v1::RUN_STATE_ABANDONED;
    });
  }

  // Runs ordered by start hand over from one holder to the next once, the
  // epoch never going back.
  static ::testing::AssertionResult OneHolderAtATime(std::vector<v1::Run> runs) {
    std::sort(runs.begin(), runs.end(), [](const v1::Run& a, const v1::Run& b) {
      return TimeOf(a.started_at()) < TimeOf(b.started_at());
    });
    for (size_t i = 1; i < runs.size(); ++i) {
      const v1::Run& before = runs[i - 1];
      const v1::Run& run = runs[i];
      if (run.lease_epoch() < before.lease_epoch() ||
          (run.lease_epoch() == before.lease_epoch() && run.holder_id() != before.holder_id())) {
        return ::testing::AssertionFailure()
               << run.run_id() << " (" << run.holder_id() << "@" << run.lease_epoch()
               << ") started after " << before.run_id() << " (" << before.holder_id() << "@"
               << before.lease_epoch() << ")";
      }
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(SchedulerReplicasTest, OneIsActiveAndTheOtherTakesOverWhenItIsKilled) {
  ServiceProcess& a =
      StartScheduler(Replica("replica-a", kAddressA, GetReplicaStatusResponse::ACTIVE));
  ServiceProcess& b =
      StartScheduler(Replica("replica-b", kAddressB, GetReplicaStatusResponse::STANDBY));
  auto api_a = SchedulerClient(a);
  auto api_b = SchedulerClient(b);

  absl::StatusOr<GetReplicaStatusResponse> status_a = ReplicaStatus(a);
  ASSERT_TRUE(status_a.ok()) << status_a.status();
  EXPECT_EQ(status_a->replica_id(), "replica-a");
  EXPECT_EQ(status_a->address(), kAddressA);
  EXPECT_EQ(status_a->lease().holder_id(), "replica-a");
  absl::StatusOr<GetReplicaStatusResponse> status_b = ReplicaStatus(b);
  ASSERT_TRUE(status_b.ok()) << status_b.status();
  EXPECT_EQ(status_b->role(), GetReplicaStatusResponse::STANDBY);
  EXPECT_EQ(status_b->lease().holder_id(), "replica-a");
  EXPECT_EQ(status_b->lease().holder_address(), kAddressA);
  EXPECT_EQ(status_b->tasks_loaded(), 0u);

  v1::Task task = BalancesTask("balances", absl::Seconds(1));
  ASSERT_TRUE(CreateTaskWhenReady(*api_a, task).ok());

  // The standby refuses what only the active replica does, naming it, and
  // answers reads from storage.
  absl::StatusOr<v1::TriggerTaskResponse> refused = Trigger(*api_b, "balances", /*wait=*/false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "replica-a")) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), kAddressA)) << refused.status();
  absl::StatusOr<v1::TaskStatus> created_on_b =
      CreateTask(*api_b, BalancesTask("other", absl::Hours(1)));
  EXPECT_EQ(created_on_b.status().code(), absl::StatusCode::kUnavailable) << created_on_b.status();
  absl::StatusOr<v1::TaskStatus> read_on_b = GetTask(*api_b, "balances");
  ASSERT_TRUE(read_on_b.ok()) << read_on_b.status();
  EXPECT_EQ(read_on_b->state(), v1::TaskStatus::STANDBY);

  ASSERT_TRUE(Eventually([&] { return EndedRunsOf("replica-a") >= 3; }));
  for (const v1::Run& run : StoredRuns("balances")) EXPECT_EQ(run.holder_id(), "replica-a");
  ASSERT_TRUE(WaitForRole(b, GetReplicaStatusResponse::STANDBY, absl::Seconds(1)));

  const absl::Time killed = absl::Now();
  a.Kill();
  ASSERT_TRUE(WaitForRole(b, GetReplicaStatusResponse::ACTIVE, absl::Seconds(60)));
  const absl::Duration takeover = absl::Now() - killed;
  // One lease period, plus the standby's polling and a loaded machine.
  EXPECT_LE(takeover, kLeaseTtl + absl::Seconds(9)) << absl::FormatDuration(takeover);

  ASSERT_TRUE(Eventually([&] { return EndedRunsOf("replica-b") >= 2; }));
  std::vector<v1::Run> runs = StoredRuns("balances");
  EXPECT_TRUE(NeverOverlap(runs));
  EXPECT_TRUE(OneHolderAtATime(runs));
  uint64_t epoch_a = 0;
  uint64_t epoch_b = 0;
  for (const v1::Run& run : runs) {
    uint64_t& epoch = run.holder_id() == "replica-a" ? epoch_a : epoch_b;
    if (epoch == 0) epoch = run.lease_epoch();
    EXPECT_EQ(run.lease_epoch(), epoch) << run.ShortDebugString();
    if (run.holder_id() == "replica-a" && run.state() == v1::RUN_STATE_RUNNING) {
      ADD_FAILURE() << "a run of the dead replica is still running: " << run.ShortDebugString();
    }
  }
  EXPECT_GT(epoch_b, epoch_a);
  EXPECT_EQ(LatestEther(2), "32");
}

// A client may call either replica (a Kubernetes Service in front of both):
// the standby passes writes on to the active one, with the caller's token,
// and relays its answers; a call already forwarded once is not forwarded
// again; WatchRuns streams are relayed.
TEST_F(SchedulerReplicasTest, AStandbyForwardsWritesToTheActiveOne) {
  SchedulerOptions a_options;
  a_options.replica_id = "replica-a";
  a_options.lease_ttl = kLeaseTtl;
  ServiceProcess& a = StartScheduler(a_options);  // advertises its own address
  SchedulerOptions b_options = a_options;
  b_options.replica_id = "replica-b";
  b_options.wait_for_role = GetReplicaStatusResponse::STANDBY;
  ServiceProcess& b = StartScheduler(b_options);
  auto api_a = SchedulerClient(a);
  auto api_b = SchedulerClient(b);

  // Created through the standby, it is the active replica's.
  absl::StatusOr<v1::TaskStatus> created =
      CreateTaskWhenReady(*api_b, BalancesTask("balances", absl::Hours(1), /*paused=*/true));
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<v1::TaskStatus> on_a = GetTask(*api_a, "balances");
  ASSERT_TRUE(on_a.ok()) << on_a.status();
  EXPECT_TRUE(on_a->task().paused());
  EXPECT_NE(on_a->state(), v1::TaskStatus::STANDBY);

  // A trigger with wait through the standby answers when the active
  // replica's run ended.
  absl::StatusOr<v1::TriggerTaskResponse> triggered = Trigger(*api_b, "balances", /*wait=*/true);
  ASSERT_TRUE(triggered.ok()) << triggered.status();
  EXPECT_EQ(triggered->run().state(), v1::RUN_STATE_SUCCEEDED) << triggered->ShortDebugString();
  EXPECT_EQ(triggered->run().holder_id(), "replica-a");
  EXPECT_EQ(LatestEther(1), "31");

  // Errors come back with where they arose.
  absl::StatusOr<v1::TaskStatus> duplicate =
      CreateTask(*api_b, BalancesTask("balances", absl::Hours(1)));
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kAlreadyExists) << duplicate.status();
  EXPECT_TRUE(absl::StrContains(duplicate.status().message(),
                                "forwarded to the active scheduler replica-a at"))
      << duplicate.status();

  // A call that was forwarded already is refused by a standby, naming the
  // active replica: two replicas can never pass a call back and forth.
  v1::PauseTaskRequest pause;
  pause.set_task_id("balances");
  grpc_util::CallOptions forwarded;
  forwarded.metadata = {{"coffer-forwarded-by", "replica-c"}};
  absl::StatusOr<v1::PauseTaskResponse> refused =
      api_b->CallBlocking(&Scheduler::Stub::PrepareAsyncPauseTask, pause, forwarded);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "the active scheduler is replica-a"))
      << refused.status();

  // WatchRuns through the standby relays the active replica's stream: a
  // run triggered there is seen from start to end.
  v1::WatchRunsRequest watch_request;
  watch_request.set_task_id("balances");
  grpc_util::CallHandle handle;
  std::shared_ptr<RunWatch> watch = Watch(*api_b, watch_request, &handle);
  absl::StatusOr<v1::TriggerTaskResponse> watched = Trigger(*api_a, "balances", /*wait=*/false);
  ASSERT_TRUE(watched.ok()) << watched.status();
  auto finished = [&] {
    for (const v1::WatchRunsResponse& event : watch->events()) {
      if (event.type() == v1::WatchRunsResponse::FINISHED &&
          event.run().run_id() == watched->run_id()) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(Eventually(finished, absl::Seconds(60)))
      << watch->events().size()
      << " events; ended: " << (watch->ended().has_value() ? watch->ended()->ToString() : "no");
  EXPECT_FALSE(watch->ended().has_value()) << *watch->ended();
  handle.Cancel();
  EXPECT_TRUE(Eventually([&] { return watch->ended().has_value(); }, absl::Seconds(10)));
}

TEST_F(SchedulerReplicasTest, AStalledLeaderWritesNothingAfterTheTakeover) {
  ServiceProcess& a =
      StartScheduler(Replica("replica-a", kAddressA, GetReplicaStatusResponse::ACTIVE));
  ServiceProcess& b =
      StartScheduler(Replica("replica-b", kAddressB, GetReplicaStatusResponse::STANDBY));
  auto api_a = SchedulerClient(a);
  ASSERT_TRUE(CreateTaskWhenReady(*api_a, BalancesTask("balances", absl::Seconds(1))).ok());
  ASSERT_TRUE(Eventually([&] { return EndedRunsOf("replica-a") >= 1; }));

  // The leader stalls in the middle of a run: its fetcher call is held, then
  // the leader itself is stopped, and the fetcher's answer waits for it.
  Freeze(fetcher_process());
  std::string stalled_run;
  ASSERT_TRUE(Eventually([&] {
    std::vector<v1::Run> running = StoredRunsIn("balances", v1::RUN_STATE_RUNNING);
    if (running.empty()) return false;
    stalled_run = running.front().run_id();
    return true;
  }));
  Freeze(a);
  Thaw(fetcher_process());
  absl::StatusOr<v1::Run> stalled = StoredRun(stalled_run);
  ASSERT_TRUE(stalled.ok()) << stalled.status();
  const uint64_t old_epoch = stalled->lease_epoch();

  ASSERT_TRUE(WaitForRole(b, GetReplicaStatusResponse::ACTIVE, absl::Seconds(60)));
  absl::StatusOr<v1::Lease> lease = StoredLease();
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->holder_id(), "replica-b");
  ASSERT_GT(lease->epoch(), old_epoch);
  const absl::Time takeover = TimeOf(lease->acquired_at());
  ASSERT_TRUE(Eventually([&] { return EndedRunsOf("replica-b") >= 2; }));

  // The old leader wakes: it steps down, and whatever it still tries to
  // write for its stalled run is refused.
  Thaw(a);
  ASSERT_TRUE(WaitForRole(a, GetReplicaStatusResponse::STANDBY, absl::Seconds(60)));
  const size_t runs_of_b = EndedRunsOf("replica-b");
  // Time for a stale write to land, measured in the new leader's runs.
  ASSERT_TRUE(Eventually([&] { return EndedRunsOf("replica-b") >= runs_of_b + 3; }));

  std::vector<v1::Run> runs = StoredRuns("balances");
  EXPECT_TRUE(NeverOverlap(runs));
  EXPECT_TRUE(OneHolderAtATime(runs));
  for (const v1::Run& run : runs) {
    if (run.lease_epoch() != old_epoch) {
      EXPECT_EQ(run.holder_id(), "replica-b") << run.ShortDebugString();
      continue;
    }
    EXPECT_LT(TimeOf(run.started_at()), takeover) << run.ShortDebugString();
    if (run.has_finished_at() && TimeOf(run.finished_at()) >= takeover) {
      EXPECT_EQ(run.state(), v1::RUN_STATE_ABANDONED) << run.ShortDebugString();
    }
  }
  absl::StatusOr<v1::Run> stalled_after = StoredRun(stalled_run);
  ASSERT_TRUE(stalled_after.ok()) << stalled_after.status();
  EXPECT_EQ(stalled_after->state(), v1::RUN_STATE_ABANDONED) << stalled_after->ShortDebugString();
  for (const v1::Snapshot& snapshot : StoredSnapshots()) {
    EXPECT_NE(snapshot.run_id(), stalled_run) << "the stalled run wrote its snapshot";
    if (TimeOf(snapshot.written_at()) < takeover) continue;
    absl::StatusOr<v1::Run> writer = StoredRun(snapshot.run_id());
    ASSERT_TRUE(writer.ok()) << writer.status();
    EXPECT_EQ(writer->lease_epoch(), lease->epoch()) << snapshot.ShortDebugString();
  }

  // Storage itself refuses a write under the old fence.
  v1::CreateTaskDefinitionRequest stale;
  stale.mutable_fence()->set_lease_name("scheduler");
  stale.mutable_fence()->set_holder_id("replica-a");
  stale.mutable_fence()->set_epoch(old_epoch);
  *stale.mutable_task() = BalancesTask("stale-write", absl::Hours(1));
  absl::StatusOr<v1::CreateTaskDefinitionResponse> refused =
      storage().CallBlocking(&Storage::Stub::PrepareAsyncCreateTaskDefinition, stale);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
}

}  // namespace
}  // namespace coffer::testing
