// The whole system for the scheduler's integration tests: anvil as the
// chain, a local price server, the real coffer-fetcher, coffer-storage and
// one or more coffer-scheduler replicas, with helpers to drive the
// Scheduler API and to read back, from storage, what the scheduler really
// recorded (storage's run records and clock are the truth the tests judge).
//
//   class SchedulerTasksTest : public SchedulerSystemTest {};
//   TEST_F(SchedulerTasksTest, Refreshes) {
//     StartFetcher();
//     StartStorage();
//     ServiceProcess& scheduler = StartScheduler();
//     auto api = SchedulerClient(scheduler);
//     ASSERT_TRUE(CreateTask(*api, BalancesTask("balances", absl::Seconds(2))).ok());
//     EXPECT_TRUE(Eventually([&] { return StoredRuns("balances").size() >= 2; }));
//   }
//
// Schedulers are started outside IntegrationTestBase's list so that a test
// can start one before storage (its health is not SERVING then), kill and
// restart replicas, and so TearDown can stop them before storage and fetcher.
// Processes a test stopped with SIGSTOP are continued before teardown.
// Timing: the tests run on a loaded 2-core machine, so every wait polls with
// a generous deadline; fixed waits only ever give an absent event time to
// (wrongly) happen, never decide that a present one did.
#ifndef COFFER_TESTS_INTEGRATION_SCHEDULER_SYSTEM_FIXTURE_H_
#define COFFER_TESTS_INTEGRATION_SCHEDULER_SYSTEM_FIXTURE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/integration_test_base.h"
#include "tests/testing/anvil.h"
#include "tests/testing/price_server.h"

namespace coffer::testing {

// The price the test's price source answers for ether: 3012.4567 USD.
inline constexpr char kEtherUsdUnits[] = "30124567";
inline constexpr uint32_t kEtherUsdDecimals = 4;

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp);
google::protobuf::Duration ProtoDuration(absl::Duration duration);

// The events a WatchRuns stream delivered so far; fed on the client queue's
// poller thread, read by the test.
class RunWatch {
 public:
  void Add(const v1::WatchRunsResponse& event);
  void End(absl::Status status);
  std::vector<v1::WatchRunsResponse> events() const;
  // Set once the stream ended.
  std::optional<absl::Status> ended() const;

 private:
  mutable std::mutex mu_;
  std::vector<v1::WatchRunsResponse> events_;
  std::optional<absl::Status> ended_;
};

class SchedulerSystemTest : public IntegrationTestBase {
 protected:
  using SchedulerClientPtr = std::unique_ptr<grpc_util::AsyncClient<v1::Scheduler>>;
  using Role = v1::GetReplicaStatusResponse::Role;

  struct SchedulerOptions {
    std::string replica_id = "replica-a";
    // Empty: not passed (the scheduler advertises its listen address).
    std::string advertise_address;
    absl::Duration lease_ttl = absl::Seconds(3);
    bool default_tasks = false;
    // 0: not passed.
    int max_concurrent_runs = 0;
    // Empty: the storage StartStorage started.
    std::string storage_address;
    // More flags, after the fixture's.
    std::vector<std::string> extra_args = {};
    // Waits until GetReplicaStatus answers this role (30 s, fatal otherwise);
    // nullopt: returns once the port is known.
    std::optional<Role> wait_for_role = v1::GetReplicaStatusResponse::ACTIVE;
  };

  // Starts anvil and the price server; skips when anvil is missing.
  void SetUp() override;
  // Continues stopped processes, stops the schedulers (expecting a clean
  // exit), prints their logs if the test failed, then the base teardown.
  void TearDown() override;

  // The fetcher on anvil with ether priced by the price server (cached for
  // an hour, so only a forced refresh asks the server twice), on `port` (0:
  // a free one); restarting on the old port keeps its address valid.
  ServiceProcess& StartFetcher(int port = 0);
  // Storage on `port` (0: a free one).
  ServiceProcess& StartStorage(int port = 0);
  ServiceProcess& StartScheduler(SchedulerOptions options);
  ServiceProcess& StartScheduler() { return StartScheduler(SchedulerOptions()); }

  // SIGSTOP / SIGCONT, remembered so teardown never leaves a process stopped.
  void Freeze(ServiceProcess& process);
  void Thaw(ServiceProcess& process);

  SchedulerClientPtr SchedulerClient(const ServiceProcess& scheduler);
  grpc_util::AsyncClient<v1::Storage>& storage() { return *storage_client_; }
  ServiceProcess& fetcher_process() { return *fetcher_; }
  ServiceProcess& storage_process() { return *storage_; }
  AnvilNode& anvil() { return *anvil_; }
  PriceServer& prices() { return *price_server_; }

  // "eip155:31337:0x...", a fresh address per n.
  static std::string AccountId(int n);
  static std::string AddressOf(int n);
  // Sets each account's ether on anvil (wei) and registers it in storage.
  void AddAccounts(const std::vector<std::pair<int, std::string>>& wei_by_account);
  // Storage's latest ether balance of account n: its units, or what went wrong.
  std::string LatestEther(int n);

  static v1::Task BalancesTask(const std::string& task_id, absl::Duration interval,
                               bool paused = false);
  static v1::Task PricesTask(const std::string& task_id, absl::Duration interval,
                             bool paused = false);

  absl::StatusOr<v1::TaskStatus> CreateTask(grpc_util::AsyncClient<v1::Scheduler>& api,
                                            const v1::Task& task);
  // CreateTask, retried while the scheduler answers UNAVAILABLE (still
  // loading its tasks after becoming active), for up to 30 s.
  absl::StatusOr<v1::TaskStatus> CreateTaskWhenReady(grpc_util::AsyncClient<v1::Scheduler>& api,
                                                     const v1::Task& task);
  absl::StatusOr<v1::TaskStatus> GetTask(grpc_util::AsyncClient<v1::Scheduler>& api,
                                         const std::string& task_id);
  absl::StatusOr<v1::TriggerTaskResponse> Trigger(grpc_util::AsyncClient<v1::Scheduler>& api,
                                                  const std::string& task_id, bool wait);
  absl::StatusOr<v1::GetReplicaStatusResponse> ReplicaStatus(const ServiceProcess& scheduler);
  // Polls GetReplicaStatus until `role`.
  ::testing::AssertionResult WaitForRole(const ServiceProcess& scheduler, Role role,
                                         absl::Duration timeout = absl::Seconds(30));
  // grpc.health.v1 Check of `service` on `process`: "SERVING", "NOT_SERVING",
  // or the call's error.
  std::string HealthOf(const ServiceProcess& process, const std::string& service);

  // Starts a WatchRuns stream; cancel it with the handle.
  std::shared_ptr<RunWatch> Watch(grpc_util::AsyncClient<v1::Scheduler>& api,
                                  const v1::WatchRunsRequest& request,
                                  grpc_util::CallHandle* handle);

  // Run records as storage holds them, oldest started first; empty task_id:
  // every task's. Fails the test (non-fatally) when storage cannot answer.
  std::vector<v1::Run> StoredRuns(const std::string& task_id = "");
  std::vector<v1::Run> StoredRunsIn(const std::string& task_id, v1::RunState state);
  absl::StatusOr<v1::Run> StoredRun(const std::string& run_id);
  std::vector<v1::Snapshot> StoredSnapshots();
  absl::StatusOr<v1::Lease> StoredLease();

  // Runs of one task never overlap: each ended before the next started, and
  // only the newest may still be running.
  static ::testing::AssertionResult NeverOverlap(std::vector<v1::Run> runs);

  // Polls `done` every 100 ms until it holds or `timeout` passes.
  static bool Eventually(const std::function<bool()>& done,
                         absl::Duration timeout = absl::Seconds(60));

  // The scheduler processes started so far, oldest first.
  std::vector<std::unique_ptr<ServiceProcess>>& schedulers() { return schedulers_; }

 private:
  std::unique_ptr<AnvilNode> anvil_;
  std::unique_ptr<PriceServer> price_server_;
  ServiceProcess* fetcher_ = nullptr;
  ServiceProcess* storage_ = nullptr;
  std::unique_ptr<grpc_util::AsyncClient<v1::Storage>> storage_client_;
  std::vector<std::unique_ptr<ServiceProcess>> schedulers_;
  std::vector<ServiceProcess*> frozen_;
  int scheduler_starts_ = 0;
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_INTEGRATION_SCHEDULER_SYSTEM_FIXTURE_H_
