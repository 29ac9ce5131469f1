#include "tests/integration/scheduler_system_fixture.h"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpc/health/v1/health.grpc.pb.h"

#include "tests/testing/anvil_fetcher_config.h"

namespace coffer::testing {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using v1::Scheduler;
using v1::Storage;

namespace {

// A stored run's end, or the far future while it runs.
absl::Time EndOf(const v1::Run& run) {
  return run.has_finished_at() ? TimeOf(run.finished_at()) : absl::InfiniteFuture();
}

}  // namespace

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

google::protobuf::Duration ProtoDuration(absl::Duration duration) {
  google::protobuf::Duration proto;
  const int64_t nanos = absl::ToInt64Nanoseconds(duration);
  proto.set_seconds(nanos / 1000000000);
  proto.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return proto;
}

void RunWatch::Add(const v1::WatchRunsResponse& event) {
  std::lock_guard<std::mutex> lock(mu_);
  events_.push_back(event);
}

void RunWatch::End(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  ended_ = std::move(status);
}

std::vector<v1::WatchRunsResponse> RunWatch::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::optional<absl::Status> RunWatch::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

void SchedulerSystemTest::SetUp() {
  if (auto reason = AnvilNode::SkipReason()) GTEST_SKIP() << *reason;
  absl::StatusOr<std::unique_ptr<AnvilNode>> node = AnvilNode::Start();
  ASSERT_TRUE(node.ok()) << node.status();
  anvil_ = *std::move(node);
  price_server_ = std::make_unique<PriceServer>(
      200, R"({"ethereum":{"usd":3012.4567,"last_updated_at":1790000000}})");
}

void SchedulerSystemTest::TearDown() {
  for (ServiceProcess* process : frozen_) {
    if (process->Running()) kill(process->pid(), SIGCONT);
  }
  frozen_.clear();
  for (auto& scheduler : schedulers_) {
    if (scheduler->Running()) StopAndExpectCleanExit(*scheduler, SIGTERM);
  }
  if (HasFailure()) {
    auto print_tail = [](const ServiceProcess& process, size_t tail) {
      std::string log = process.Log();
      if (log.size() > tail) log = log.substr(log.size() - tail);
      std::cout << "---- " << process.directory() << " (last " << tail << " bytes)\n"
                << log << "\n";
    };
    for (auto& scheduler : schedulers_) print_tail(*scheduler, 20000);
    if (fetcher_ != nullptr) print_tail(*fetcher_, 4000);
    if (storage_ != nullptr) print_tail(*storage_, 4000);
  }
  IntegrationTestBase::TearDown();
}

ServiceProcess& SchedulerSystemTest::StartFetcher(int port) {
  const std::string config = absl::StrCat(directory(), "/fetcher.textproto");
  std::ofstream(config) << absl::StrCat(
      "chains {\n  chain_id: \"", kAnvilChain, "\"\n  name: \"anvil\"\n  kind: CHAIN_KIND_EVM\n",
      "  endpoints { name: \"anvil-0\" url: \"", anvil_->url(), "\" }\n",
      "  native_asset { asset_id: \"", kAnvilEther,
      "\" symbol: \"ETH\" name: \"Ether\" decimals: 18 price_id: \"ethereum\" }\n}\n",
      "price_sources { name: \"test-prices\" base_url: \"", price_server_->url(),
      "\" ttl { seconds: 3600 } }\n");
  std::vector<std::string> args = {absl::StrCat("--config=", config)};
  if (port != 0) args.push_back(absl::StrCat("--listen=127.0.0.1:", port));
  fetcher_ = &StartService(Service::kFetcher, std::move(args));
  return *fetcher_;
}

ServiceProcess& SchedulerSystemTest::StartStorage(int port) {
  std::vector<std::string> args;
  if (port != 0) args.push_back(absl::StrCat("--listen=127.0.0.1:", port));
  storage_ = &StartService(Service::kStorage, std::move(args));
  storage_client_ = Client<Storage>(*storage_);
  return *storage_;
}

ServiceProcess& SchedulerSystemTest::StartScheduler(SchedulerOptions options) {
  std::string storage_address = options.storage_address;
  if (storage_address.empty()) {
    if (storage_ == nullptr) {
      ADD_FAILURE() << "StartScheduler before StartStorage needs a storage_address";
      throw std::runtime_error("no storage");
    }
    storage_address = storage_->address();
  }
  if (fetcher_ == nullptr) {
    ADD_FAILURE() << "StartScheduler needs StartFetcher first";
    throw std::runtime_error("no fetcher");
  }
  std::vector<std::string> args = {
      absl::StrCat("--storage=", storage_address),
      absl::StrCat("--fetcher=", fetcher_->address()),
      absl::StrCat("--replica_id=", options.replica_id),
      absl::StrCat("--lease_ttl=", absl::FormatDuration(options.lease_ttl)),
      absl::StrCat("--default_tasks=", options.default_tasks ? "true" : "false"),
  };
  if (!options.advertise_address.empty()) {
    args.push_back(absl::StrCat("--advertise_address=", options.advertise_address));
  }
  if (options.max_concurrent_runs > 0) {
    args.push_back(absl::StrCat("--max_concurrent_runs=", options.max_concurrent_runs));
  }
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  const std::string name = absl::StrCat("scheduler-", options.replica_id);
  // Launch: TLS and tokens first in the secure suite.
  auto process = Launch(Service::kScheduler, name, std::move(args),
                        absl::StrCat(directory(), "/", name, "-", ++scheduler_starts_));
  if (!process.ok()) {
    ADD_FAILURE() << "cannot start " << name << ": " << process.status();
    throw std::runtime_error("scheduler did not start");
  }
  schedulers_.push_back(*std::move(process));
  ServiceProcess& started = *schedulers_.back();
  if (options.wait_for_role.has_value()) {
    ::testing::AssertionResult role = WaitForRole(started, *options.wait_for_role);
    if (!role) {
      ADD_FAILURE() << role.message();
      throw std::runtime_error("scheduler not in its role");
    }
  }
  return started;
}

void SchedulerSystemTest::Freeze(ServiceProcess& process) {
  ASSERT_EQ(kill(process.pid(), SIGSTOP), 0);
  frozen_.push_back(&process);
}

void SchedulerSystemTest::Thaw(ServiceProcess& process) {
  ASSERT_EQ(kill(process.pid(), SIGCONT), 0);
  frozen_.erase(std::remove(frozen_.begin(), frozen_.end(), &process), frozen_.end());
}

SchedulerSystemTest::SchedulerClientPtr SchedulerSystemTest::SchedulerClient(
    const ServiceProcess& scheduler) {
  return Client<Scheduler>(scheduler);
}

std::string SchedulerSystemTest::AddressOf(int n) {
  return absl::StrFormat("0x%040x", 0xc0ffee000ULL + n);
}

std::string SchedulerSystemTest::AccountId(int n) {
  return absl::StrCat(kAnvilChain, ":", AddressOf(n));
}

void SchedulerSystemTest::AddAccounts(const std::vector<std::pair<int, std::string>>& wei) {
  v1::AddAccountsRequest add;
  for (const auto& [n, amount] : wei) {
    ASSERT_TRUE(anvil_->SetBalance(AddressOf(n), amount).ok());
    add.add_accounts()->set_account_id(AccountId(n));
  }
  absl::StatusOr<v1::AddAccountsResponse> added =
      storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, add);
  ASSERT_TRUE(added.ok()) << added.status();
}

std::string SchedulerSystemTest::LatestEther(int n) {
  v1::GetLatestBalancesRequest request;
  request.add_account_ids(AccountId(n));
  request.add_asset_ids(kAnvilEther);
  absl::StatusOr<v1::GetLatestBalancesResponse> reply =
      storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncGetLatestBalances, request);
  if (!reply.ok()) return reply.status().ToString();
  if (reply->balances_size() != 1) return absl::StrCat(reply->balances_size(), " balances");
  return reply->balances(0).has_amount() ? reply->balances(0).amount().units() : "no amount";
}

v1::Task SchedulerSystemTest::BalancesTask(const std::string& task_id, absl::Duration interval,
                                           bool paused) {
  v1::Task task;
  task.set_task_id(task_id);
  task.set_kind(v1::TASK_KIND_REFRESH_BALANCES);
  *task.mutable_schedule()->mutable_interval() = ProtoDuration(interval);
  *task.mutable_schedule()->mutable_run_timeout() = ProtoDuration(absl::Minutes(3));
  task.mutable_refresh_balances()->set_batch_size(2);
  task.set_paused(paused);
  return task;
}

v1::Task SchedulerSystemTest::PricesTask(const std::string& task_id, absl::Duration interval,
                                         bool paused) {
  v1::Task task;
  task.set_task_id(task_id);
  task.set_kind(v1::TASK_KIND_REFRESH_PRICES);
  *task.mutable_schedule()->mutable_interval() = ProtoDuration(interval);
  *task.mutable_schedule()->mutable_run_timeout() = ProtoDuration(absl::Minutes(3));
  task.mutable_refresh_prices()->add_quote_currencies("usd");
  task.set_paused(paused);
  return task;
}

absl::StatusOr<v1::TaskStatus> SchedulerSystemTest::CreateTask(
    grpc_util::AsyncClient<Scheduler>& api, const v1::Task& task) {
  v1::CreateTaskRequest request;
  *request.mutable_task() = task;
  absl::StatusOr<v1::CreateTaskResponse> reply =
      api.CallBlocking(&Scheduler::Stub::PrepareAsyncCreateTask, request);
  if (!reply.ok()) return reply.status();
  return reply->task();
}

absl::StatusOr<v1::TaskStatus> SchedulerSystemTest::CreateTaskWhenReady(
    grpc_util::AsyncClient<Scheduler>& api, const v1::Task& task) {
  absl::StatusOr<v1::TaskStatus> created = absl::UnavailableError("not tried");
  Eventually(
      [&] {
        created = CreateTask(api, task);
        return created.status().code() != absl::StatusCode::kUnavailable;
      },
      absl::Seconds(30));
  return created;
}

absl::StatusOr<v1::TaskStatus> SchedulerSystemTest::GetTask(grpc_util::AsyncClient<Scheduler>& api,
                                                            const std::string& task_id) {
  v1::GetTaskRequest request;
  request.set_task_id(task_id);
  absl::StatusOr<v1::GetTaskResponse> reply =
      api.CallBlocking(&Scheduler::Stub::PrepareAsyncGetTask, request);
  if (!reply.ok()) return reply.status();
  return reply->task();
}

absl::StatusOr<v1::TriggerTaskResponse> SchedulerSystemTest::Trigger(
    grpc_util::AsyncClient<Scheduler>& api, const std::string& task_id, bool wait) {
  v1::TriggerTaskRequest request;
  request.set_task_id(task_id);
  request.set_wait(wait);
  grpc_util::CallOptions options;
  options.timeout = wait ? absl::Seconds(120) : absl::Seconds(10);
  return api.CallBlocking(&Scheduler::Stub::PrepareAsyncTriggerTask, request, options);
}

absl::StatusOr<v1::GetReplicaStatusResponse> SchedulerSystemTest::ReplicaStatus(
    const ServiceProcess& scheduler) {
  auto api = SchedulerClient(scheduler);
  grpc_util::CallOptions options;
  options.timeout = absl::Seconds(5);
  return api->CallBlocking(&Scheduler::Stub::PrepareAsyncGetReplicaStatus,
                           v1::GetReplicaStatusRequest(), options);
}

::testing::AssertionResult SchedulerSystemTest::WaitForRole(const ServiceProcess& scheduler,
                                                            Role role, absl::Duration timeout) {
  std::string last = "no answer";
  const bool reached = Eventually(
      [&] {
        absl::StatusOr<v1::GetReplicaStatusResponse> status = ReplicaStatus(scheduler);
        if (!status.ok()) {
          last = status.status().ToString();
          return false;
        }
        last = v1::GetReplicaStatusResponse::Role_Name(status->role());
        return status->role() == role;
      },
      timeout);
  if (reached) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << scheduler.name() << " role is " << last << " after " << absl::FormatDuration(timeout)
         << ", expected " << v1::GetReplicaStatusResponse::Role_Name(role);
}

std::string SchedulerSystemTest::HealthOf(const ServiceProcess& process,
                                          const std::string& service) {
  auto health = Client<Health>(process);
  HealthCheckRequest request;
  request.set_service(service);
  grpc_util::CallOptions options;
  options.timeout = absl::Seconds(5);
  absl::StatusOr<HealthCheckResponse> reply =
      health->CallBlocking(&Health::Stub::PrepareAsyncCheck, request, options);
  return reply.ok() ? HealthCheckResponse::ServingStatus_Name(reply->status())
                    : reply.status().ToString();
}

std::shared_ptr<RunWatch> SchedulerSystemTest::Watch(grpc_util::AsyncClient<Scheduler>& api,
                                                     const v1::WatchRunsRequest& request,
                                                     grpc_util::CallHandle* handle) {
  auto watch = std::make_shared<RunWatch>();
  grpc_util::CallOptions options;
  options.timeout = absl::Minutes(10);
  *handle = api.Stream(
      &Scheduler::Stub::PrepareAsyncWatchRuns, request,
      [watch](const v1::WatchRunsResponse& event) { watch->Add(event); },
      [watch](absl::Status status) { watch->End(std::move(status)); }, options);
  return watch;
}

std::vector<v1::Run> SchedulerSystemTest::StoredRunsIn(const std::string& task_id,
                                                       v1::RunState state) {
  std::vector<v1::Run> runs;
  v1::ListRunRecordsRequest request;
  request.set_task_id(task_id);
  if (state != v1::RUN_STATE_UNSPECIFIED) request.add_states(state);
  request.mutable_page()->set_page_size(1000);
  while (true) {
    absl::StatusOr<v1::ListRunRecordsResponse> page =
        storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncListRunRecords, request);
    if (!page.ok()) {
      ADD_FAILURE() << "ListRunRecords: " << page.status();
      break;
    }
    runs.insert(runs.end(), page->runs().begin(), page->runs().end());
    if (page->page().next_page_token().empty()) break;
    request.mutable_page()->set_page_token(page->page().next_page_token());
  }
  std::reverse(runs.begin(), runs.end());
  return runs;
}

std::vector<v1::Run> SchedulerSystemTest::StoredRuns(const std::string& task_id) {
  return StoredRunsIn(task_id, v1::RUN_STATE_UNSPECIFIED);
}

absl::StatusOr<v1::Run> SchedulerSystemTest::StoredRun(const std::string& run_id) {
  v1::GetRunRecordRequest request;
  request.set_run_id(run_id);
  absl::StatusOr<v1::GetRunRecordResponse> reply =
      storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncGetRunRecord, request);
  if (!reply.ok()) return reply.status();
  return reply->run();
}

std::vector<v1::Snapshot> SchedulerSystemTest::StoredSnapshots() {
  std::vector<v1::Snapshot> snapshots;
  v1::ListSnapshotsRequest request;
  request.mutable_page()->set_page_size(1000);
  while (true) {
    absl::StatusOr<v1::ListSnapshotsResponse> page =
        storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncListSnapshots, request);
    if (!page.ok()) {
      ADD_FAILURE() << "ListSnapshots: " << page.status();
      break;
    }
    snapshots.insert(snapshots.end(), page->snapshots().begin(), page->snapshots().end());
    if (page->page().next_page_token().empty()) break;
    request.mutable_page()->set_page_token(page->page().next_page_token());
  }
  return snapshots;
}

absl::StatusOr<v1::Lease> SchedulerSystemTest::StoredLease() {
  v1::GetLeaseRequest request;
  request.set_lease_name("scheduler");
  absl::StatusOr<v1::GetLeaseResponse> reply =
      storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncGetLease, request);
  if (!reply.ok()) return reply.status();
  return reply->lease();
}

::testing::AssertionResult SchedulerSystemTest::NeverOverlap(std::vector<v1::Run> runs) {
  std::sort(runs.begin(), runs.end(), [](const v1::Run& a, const v1::Run& b) {
    if (a.task_id() != b.task_id()) return a.task_id() < b.task_id();
    return TimeOf(a.started_at()) < TimeOf(b.started_at());
  });
  for (size_t i = 0; i + 1 < runs.size(); ++i) {
    const v1::Run& run = runs[i];
    const v1::Run& next = runs[i + 1];
    if (run.task_id() != next.task_id()) continue;
    if (EndOf(run) > TimeOf(next.started_at())) {
      return ::testing::AssertionFailure()
             << "run " << run.run_id() << " (" << v1::RunState_Name(run.state()) << ", "
             << run.holder_id() << "@" << run.lease_epoch() << ", until "
             << absl::FormatTime(EndOf(run)) << ") overlaps " << next.run_id() << " ("
             << next.holder_id() << "@" << next.lease_epoch() << ", from "
             << absl::FormatTime(TimeOf(next.started_at())) << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

bool SchedulerSystemTest::Eventually(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

}  // namespace coffer::testing
