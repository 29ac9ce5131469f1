// refresh_driver: drives the refresh benchmark's coffer side over coffer's own
// async client (blocking calls: this is a command-line tool), and prints one
// line of JSON per invocation.
//
//   refresh_driver --mode=add_accounts --storage=127.0.0.1:4001 --addresses=10000
//   refresh_driver --mode=create_task --scheduler=127.0.0.1:4003 --task_id=bench-b500
//       --batch_size=500 --in_flight=4
//   refresh_driver --mode=trigger --scheduler=127.0.0.1:4003 --storage=127.0.0.1:4001
//       --task_id=bench-b500 --addresses=10000 --token=0x5FbD... --scheduler_pid=1234
//   refresh_driver --mode=direct --storage=127.0.0.1:4001 --fetcher=127.0.0.1:4002
//       --batch_size=500 --addresses=10000 --token=0x5FbD...
//   refresh_driver --mode=settle --storage=127.0.0.1:4001
//
// add_accounts: Storage.AddAccounts of the dataset's first --addresses
// accounts on eip155:31337 (tools/bench/fetcher/baseline.py's addresses), in
// calls of 1,000. create_task: waits until the scheduler is ACTIVE, then
// Scheduler.CreateTask of a paused refresh_balances task of that chain (a
// 30-day interval: it never runs by itself). trigger: Scheduler.TriggerTask
// with wait, timed from the call to its answer (the run ended and was
// recorded), then checks the run (SUCCEEDED, its end already in storage's
// run record, every item counted) and every balance of the snapshot it wrote (GetSnapshot)
// against the dataset: ether and the token for every account. It reports
// the time of each stage from the scheduler's Admin.GetMetrics
// (coffer_scheduler_run_stage_seconds, the sums' growth over the trigger;
// list_accounts and fetch overlap, collect is everything before the write)
// and, for each --*_pid given, that process's CPU over the trigger.
//
// direct: the same refresh without the scheduler's engine: the scheduler's
// own RefreshBalancesRun (services/scheduler/runs) in this process over
// gRPC to storage and the fetcher (fenced with a lease "refresh-bench" of
// its own), after --warmup_runs unmeasured runs, with the same checks and
// the stages from this process's metrics. It tells the engine's share
// (StartRun, FinishRun, loops) from the run's, and works without a
// scheduler.
//
// settle: waits until coffer-storage has no deferred upkeep left that a
// measurement would share the machine with or wait behind: its
// account-history merge and WAL checkpoint run in the writer's idle time
// after a snapshot write (services/storage/db/connection_pool.h), so the
// next side timed must not pay for the last one's. Polls storage's Admin.GetMetrics gauge
// --settle_metric until it is below --settle_below, and reports how long that took.
//
// Exit status: 0; 1 when a balance or the run is wrong (the JSON is printed
// anyway); 2 on bad flags or a failed call.

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include <grpcpp/grpcpp.h>

#include "coffer/v1/admin.grpc.pb.h"
#include "coffer/v1/fetcher.grpc.pb.h"
#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "common/grpc/client_queue.h"
#include "common/metrics/registry.h"
#include "services/scheduler/runs/grpc_run_backends.h"
#include "services/scheduler/runs/refresh_balances_run.h"

ABSL_FLAG(std::string, mode, "", "add_accounts, create_task, trigger, direct or settle");
ABSL_FLAG(std::string, storage, "127.0.0.1:50052", "HOST:PORT of coffer-storage");
ABSL_FLAG(std::string, scheduler, "127.0.0.1:50053", "HOST:PORT of coffer-scheduler");
ABSL_FLAG(std::string, fetcher, "127.0.0.1:50051", "HOST:PORT of coffer-fetcher (direct)");
ABSL_FLAG(int, addresses, 10000, "Accounts: the dataset's first N");
ABSL_FLAG(int, dataset_addresses, 0,
          "trigger, direct: the dataset's size (baseline.py setup --addresses), which decides "
          "the token holders; 0: --addresses");
ABSL_FLAG(std::string, chain_id, "eip155:31337", "CAIP-2 id of the accounts' chain");
ABSL_FLAG(std::string, token, "",
          "TestToken's address (baseline.py setup's \"token\"); its balances are checked too");
ABSL_FLAG(std::string, task_id, "bench-refresh", "The refresh_balances task");
ABSL_FLAG(std::vector<std::string>, tags, {},
          "add_accounts: the accounts' tags (replacing theirs); create_task: the task selects "
          "the accounts having every one of them");
ABSL_FLAG(int, batch_size, 500, "create_task, direct: accounts per fetcher call");
ABSL_FLAG(int, in_flight, 4, "create_task, direct: fetcher calls in flight per run");
ABSL_FLAG(int, warmup_runs, 1, "direct: unmeasured runs first, in the same process");
ABSL_FLAG(int, scheduler_pid, 0, "When set, report this process's CPU over the trigger");
ABSL_FLAG(int, storage_pid, 0, "Likewise for coffer-storage");
ABSL_FLAG(int, fetcher_pid, 0, "Likewise for coffer-fetcher");
ABSL_FLAG(int, node_pid, 0, "Likewise for the node (anvil)");
ABSL_FLAG(std::string, settle_metric, "coffer_storage_writer_upkeep_due",
          "settle: the storage gauge of deferred work");
ABSL_FLAG(double, settle_below, 1, "settle: done when the gauge is below this");
ABSL_FLAG(absl::Duration, settle_timeout, absl::Seconds(60), "settle: give up after this");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(60),
          "How long to wait for the services (and the scheduler to become ACTIVE)");
ABSL_FLAG(absl::Duration, call_timeout, absl::Minutes(10), "Deadline of every call");

namespace coffer::bench {
namespace {

constexpr char kStageMetric[] = "coffer_scheduler_run_stage_seconds";
constexpr int kAccountsPerCall = 1000;
constexpr int kSnapshotPage = 10000;
constexpr uint64_t kFirstAddress = 0xbe0c0ffee0000000ULL;

// The dataset, as tools/bench/fetcher/baseline.py defines it.
std::string Address(int64_t i) { return absl::StrFormat("0x%040x", kFirstAddress + i); }
std::string NativeWei(int64_t i) {
  return absl::StrCat(static_cast<uint64_t>(i + 1) * 1000000000000ULL + static_cast<uint64_t>(i));
}
std::string TokenUnits(int64_t i, int64_t addresses) {
  const bool holder = i % 1000 == 7 || i == addresses - 1;
  return holder ? absl::StrCat(1000000 + i) : "0";
}

// The dataset index of a CAIP-10 account id of `chain_id` (any letter case),
// or -1.
int64_t IndexOf(const std::string& account_id, const std::string& chain_id, int64_t addresses) {
  const std::string prefix = absl::StrCat(chain_id, ":0x");
  if (account_id.size() != prefix.size() + 40 || account_id.compare(0, prefix.size(), prefix) != 0)
    return -1;
  const std::string hex = absl::AsciiStrToLower(account_id.substr(prefix.size()));
  if (hex.find_first_not_of('0') < 24) return -1;
  uint64_t value = 0;
  if (!absl::SimpleHexAtoi(hex.substr(24), &value) || value < kFirstAddress) return -1;
  const uint64_t index = value - kFirstAddress;
  return index < static_cast<uint64_t>(addresses) ? static_cast<int64_t>(index) : -1;
}

// User + system CPU seconds of process `pid` so far, from /proc.
std::optional<double> ProcessCpuSeconds(int pid) {
  if (pid <= 0) return std::nullopt;
  FILE* file = std::fopen(absl::StrCat("/proc/", pid, "/stat").c_str(), "r");
  if (file == nullptr) return std::nullopt;
  char buffer[1024];
  const size_t size = std::fread(buffer, 1, sizeof(buffer) - 1, file);
  std::fclose(file);
  buffer[size] = '\0';
  // The fields after the command name, which may hold spaces.
  const char* fields = std::strrchr(buffer, ')');
  if (fields == nullptr) return std::nullopt;
  const std::vector<std::string> parts = absl::StrSplit(fields + 2, ' ');
  uint64_t user = 0, system = 0;
  if (parts.size() < 13 || !absl::SimpleAtoi(parts[11], &user) ||
      !absl::SimpleAtoi(parts[12], &system)) {
    return std::nullopt;
  }
  return static_cast<double>(user + system) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

template <typename Service>
class Client {
 public:
  explicit Client(const std::string& target)
      : queue_(std::make_unique<grpc_util::ClientQueue>("driver-cq")) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);
    client_ = std::make_unique<grpc_util::AsyncClient<Service>>(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args), queue_.get(),
        absl::GetFlag(FLAGS_call_timeout));
  }

  template <typename Prepare, typename Request>
  auto Call(Prepare prepare, const Request& request, bool wait_for_ready = false) {
    grpc_util::CallOptions options;
    options.wait_for_ready = wait_for_ready;
    return client_->CallBlocking(prepare, request, options);
  }

 private:
  // Declared first: destroyed after the client.
  std::unique_ptr<grpc_util::ClientQueue> queue_;
  std::unique_ptr<grpc_util::AsyncClient<Service>> client_;
};

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "refresh_driver: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 2;
}

// Waits until grpc.health.v1 says the server at `target` is SERVING: a
// service writes its port file once it listens, and coffer-storage only then
// opens its database (answering UNAVAILABLE "database not open" meanwhile).
absl::Status WaitUntilServing(const std::string& target) {
  using grpc::health::v1::Health;
  using grpc::health::v1::HealthCheckRequest;
  using grpc::health::v1::HealthCheckResponse;
  Client<Health> health(target);
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_connect_timeout);
  absl::Status last = absl::UnavailableError("not asked yet");
  while (absl::Now() < deadline) {
    absl::StatusOr<HealthCheckResponse> reply = health.Call(
        &Health::Stub::PrepareAsyncCheck, HealthCheckRequest(), /*wait_for_ready=*/true);
    if (reply.ok() && reply->status() == HealthCheckResponse::SERVING) return absl::OkStatus();
    last = reply.ok()
               ? absl::UnavailableError(HealthCheckResponse::ServingStatus_Name(reply->status()))
               : reply.status();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(target, " did not become SERVING: ", last.ToString()));
}

int AddAccounts() {
  if (absl::Status status = WaitUntilServing(absl::GetFlag(FLAGS_storage)); !status.ok()) {
    return Fail("Health.Check", status);
  }
  Client<v1::Storage> storage(absl::GetFlag(FLAGS_storage));
  const int addresses = absl::GetFlag(FLAGS_addresses);
  const std::string chain_id = absl::GetFlag(FLAGS_chain_id);
  const absl::Time start = absl::Now();
  int64_t created = 0, unchanged = 0, updated = 0;
  for (int first = 0; first < addresses; first += kAccountsPerCall) {
    v1::AddAccountsRequest request;
    request.set_all_or_nothing(true);
    for (int i = first; i < std::min(first + kAccountsPerCall, addresses); ++i) {
      v1::Account* account = request.add_accounts();
      account->set_account_id(absl::StrCat(chain_id, ":", Address(i)));
      for (const std::string& tag : absl::GetFlag(FLAGS_tags)) account->add_tags(tag);
    }
    absl::StatusOr<v1::AddAccountsResponse> reply =
        storage.Call(&v1::Storage::Stub::PrepareAsyncAddAccounts, request,
                     /*wait_for_ready=*/first == 0);
    if (!reply.ok()) return Fail("AddAccounts", reply.status());
    for (const v1::AccountResult& result : reply->results()) {
      if (result.outcome() == v1::AccountResult::CREATED) {
        ++created;
      } else if (result.outcome() == v1::AccountResult::UNCHANGED) {
        ++unchanged;
      } else if (result.outcome() == v1::AccountResult::UPDATED) {
        ++updated;
      } else {
        std::fprintf(stderr, "refresh_driver: AddAccounts: %s: %s\n", result.account_id().c_str(),
                     result.error().message().c_str());
        return 2;
      }
    }
  }
  std::printf("{\"accounts\":%d,\"created\":%" PRId64 ",\"unchanged\":%" PRId64
              ",\"updated\":%" PRId64 ",\"seconds\":%.3f}\n",
              addresses, created, unchanged, updated, absl::ToDoubleSeconds(absl::Now() - start));
  return 0;
}

// Waits until the scheduler holds its lease: tasks are created and run only
// by the active replica.
absl::Status WaitUntilActive(Client<v1::Scheduler>& scheduler) {
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_connect_timeout);
  absl::Status last = absl::UnavailableError("not asked yet");
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::GetReplicaStatusResponse> reply =
        scheduler.Call(&v1::Scheduler::Stub::PrepareAsyncGetReplicaStatus,
                       v1::GetReplicaStatusRequest(), /*wait_for_ready=*/true);
    if (reply.ok() && reply->role() == v1::GetReplicaStatusResponse::ACTIVE) {
      return absl::OkStatus();
    }
    last = reply.ok() ? absl::UnavailableError(absl::StrCat(
                            "role ", v1::GetReplicaStatusResponse::Role_Name(reply->role())))
                      : reply.status();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the scheduler did not become ACTIVE: ", last.ToString()));
}

int CreateTask() {
  Client<v1::Scheduler> scheduler(absl::GetFlag(FLAGS_scheduler));
  if (absl::Status status = WaitUntilActive(scheduler); !status.ok()) {
    return Fail("GetReplicaStatus", status);
  }
  v1::CreateTaskRequest request;
  v1::Task& task = *request.mutable_task();
  task.set_task_id(absl::GetFlag(FLAGS_task_id));
  task.set_kind(v1::TASK_KIND_REFRESH_BALANCES);
  task.set_description("refresh benchmark (tools/bench/refresh)");
  v1::RefreshBalancesParams& params = *task.mutable_refresh_balances();
  params.set_chain_id(absl::GetFlag(FLAGS_chain_id));
  params.set_batch_size(absl::GetFlag(FLAGS_batch_size));
  params.set_max_batches_in_flight(absl::GetFlag(FLAGS_in_flight));
  for (const std::string& tag : absl::GetFlag(FLAGS_tags)) params.add_tags(tag);
  // Paused, and a 30-day interval: only the benchmark's triggers run it.
  task.mutable_schedule()->mutable_interval()->set_seconds(30 * 24 * 3600);
  task.mutable_schedule()->mutable_first_run_delay()->set_seconds(30 * 24 * 3600);
  task.set_paused(true);
  absl::StatusOr<v1::CreateTaskResponse> reply =
      scheduler.Call(&v1::Scheduler::Stub::PrepareAsyncCreateTask, request);
  if (!reply.ok()) return Fail("CreateTask", reply.status());
  std::printf("{\"task_id\":\"%s\",\"batch_size\":%d,\"in_flight\":%d}\n",
              reply->task().task().task_id().c_str(), absl::GetFlag(FLAGS_batch_size),
              absl::GetFlag(FLAGS_in_flight));
  return 0;
}

// Sum (seconds) and count of each stage's histogram of refresh_balances runs.
struct StageTotals {
  std::map<std::string, double> seconds;
  std::map<std::string, uint64_t> count;
};

absl::StatusOr<StageTotals> Stages(Client<v1::Admin>& admin) {
  v1::GetMetricsRequest request;
  request.set_name_prefix(kStageMetric);
  absl::StatusOr<v1::GetMetricsResponse> reply =
      admin.Call(&v1::Admin::Stub::PrepareAsyncGetMetrics, request);
  if (!reply.ok()) return reply.status();
  StageTotals totals;
  for (const v1::Metric& metric : reply->metrics()) {
    if (metric.name() != kStageMetric) continue;
    const auto kind = metric.labels().find("kind");
    const auto stage = metric.labels().find("stage");
    if (kind == metric.labels().end() || kind->second != "refresh_balances" ||
        stage == metric.labels().end()) {
      continue;
    }
    totals.seconds[stage->second] = metric.histogram().sum_ms() / 1000.0;
    totals.count[stage->second] = metric.histogram().count();
  }
  return totals;
}

struct Check {
  int64_t errors = 0;
  std::string first;
  void Add(std::string problem) {
    if (errors++ == 0) first = std::move(problem);
  }
};

// Every item of the snapshot against the dataset: ether and the token of
// every account, each exactly once.
absl::Status CheckSnapshot(Client<v1::Storage>& storage, const std::string& snapshot_id,
                           Check& check, int64_t* items) {
  const int64_t addresses = absl::GetFlag(FLAGS_addresses);
  const std::string chain_id = absl::GetFlag(FLAGS_chain_id);
  const std::string ether = absl::StrCat(chain_id, "/slip44:60");
  const std::string token = absl::AsciiStrToLower(absl::GetFlag(FLAGS_token));
  const std::string token_asset = absl::StrCat(chain_id, "/erc20:", token);
  std::vector<char> seen_ether(addresses), seen_token(addresses);
  v1::GetSnapshotRequest request;
  request.set_snapshot_id(snapshot_id);
  request.mutable_page()->set_page_size(kSnapshotPage);
  *items = 0;
  while (true) {
    absl::StatusOr<v1::GetSnapshotResponse> reply =
        storage.Call(&v1::Storage::Stub::PrepareAsyncGetSnapshot, request);
    if (!reply.ok()) return reply.status();
    if (reply->snapshot().failed_items() != 0) {
      check.Add(
          absl::StrCat("the snapshot has ", reply->snapshot().failed_items(), " failed items"));
    }
    for (const v1::BalanceItem& item : reply->items()) {
      ++*items;
      const int64_t i = IndexOf(item.account_id(), chain_id, addresses);
      if (i < 0) {
        check.Add(absl::StrCat("unexpected account ", item.account_id()));
        continue;
      }
      const std::string asset = absl::AsciiStrToLower(item.asset_id());
      std::string expected;
      if (asset == ether) {
        expected = NativeWei(i);
        if (seen_ether[i]++) check.Add(absl::StrCat(item.account_id(), ": ether twice"));
      } else if (!token.empty() && asset == token_asset) {
        const int dataset = absl::GetFlag(FLAGS_dataset_addresses);
        expected = TokenUnits(i, dataset > 0 ? dataset : addresses);
        if (seen_token[i]++) check.Add(absl::StrCat(item.account_id(), ": token twice"));
      } else {
        check.Add(absl::StrCat(item.account_id(), ": unexpected asset ", item.asset_id()));
        continue;
      }
      if (!item.has_amount()) {
        check.Add(absl::StrCat(item.account_id(), " ", item.asset_id(), ": error ",
                               item.error().message()));
      } else if (item.amount().units() != expected) {
        check.Add(absl::StrCat(item.account_id(), " ", item.asset_id(), ": ", item.amount().units(),
                               ", expected ", expected));
      }
    }
    if (reply->page().next_page_token().empty()) break;
    request.mutable_page()->set_page_token(reply->page().next_page_token());
  }
  for (int64_t i = 0; i < addresses; ++i) {
    if (!seen_ether[i]) check.Add(absl::StrCat(Address(i), ": no ether balance"));
    if (!token.empty() && !seen_token[i]) check.Add(absl::StrCat(Address(i), ": no token balance"));
  }
  return absl::OkStatus();
}

// CPU seconds of the processes named by the --*_pid flags, over a window.
class CpuWindow {
 public:
  CpuWindow()
      : pids_({{"scheduler", absl::GetFlag(FLAGS_scheduler_pid)},
               {"storage", absl::GetFlag(FLAGS_storage_pid)},
               {"fetcher", absl::GetFlag(FLAGS_fetcher_pid)},
               {"node", absl::GetFlag(FLAGS_node_pid)}}) {
    for (const auto& [name, pid] : pids_) before_.push_back(ProcessCpuSeconds(pid));
  }

  // ,"NAME_cpu_seconds":S for each process, since construction.
  std::string Json() const {
    std::string json;
    for (size_t k = 0; k < pids_.size(); ++k) {
      const std::optional<double> after = ProcessCpuSeconds(pids_[k].second);
      if (before_[k] && after) {
        absl::StrAppendFormat(&json, ",\"%s_cpu_seconds\":%.3f", pids_[k].first,
                              *after - *before_[k]);
      }
    }
    return json;
  }

 private:
  const std::vector<std::pair<std::string, int>> pids_;
  std::vector<std::optional<double>> before_;
};

// How a run ended, as the trigger's answer or the run's outcome tells.
struct RunResult {
  std::string run_id;
  v1::RunState state = v1::RUN_STATE_UNSPECIFIED;
  std::string error;
  bool finish_recorded = false;
  v1::RunCounts counts;
  std::string snapshot_id;
};

// Checks the run and its snapshot, and prints the JSON line.
int Report(const RunResult& run, double seconds, const StageTotals& before,
           const StageTotals& after, const std::string& cpu_json) {
  Check check;
  const int64_t addresses = absl::GetFlag(FLAGS_addresses);
  const int64_t assets = absl::GetFlag(FLAGS_token).empty() ? 1 : 2;
  if (run.state != v1::RUN_STATE_SUCCEEDED) {
    check.Add(
        absl::StrCat("run ", run.run_id, " ended ", v1::RunState_Name(run.state), ": ", run.error));
  }
  if (!run.finish_recorded) check.Add("the run's finish is not recorded");
  if (run.counts.accounts() != static_cast<uint64_t>(addresses) ||
      run.counts.items_succeeded() != static_cast<uint64_t>(addresses * assets)) {
    check.Add(absl::StrCat("the run counted ", run.counts.accounts(), " accounts and ",
                           run.counts.items_succeeded(), " items"));
  }
  int64_t items = 0;
  if (run.snapshot_id.empty()) {
    check.Add("the run wrote no snapshot");
  } else {
    Client<v1::Storage> storage(absl::GetFlag(FLAGS_storage));
    if (absl::Status status = CheckSnapshot(storage, run.snapshot_id, check, &items);
        !status.ok()) {
      return Fail("GetSnapshot", status);
    }
  }
  std::string stage_json;
  double staged = 0;
  // list_accounts and fetch overlap (refresh_balances_run.h); collect is
  // both as they overlapped, so the rest of the trigger is what neither
  // collect nor write holds.
  for (const char* stage : {"list_accounts", "fetch", "collect", "write"}) {
    const auto count = [stage](const StageTotals& totals) {
      const auto it = totals.count.find(stage);
      return it == totals.count.end() ? uint64_t{0} : it->second;
    };
    const auto sum = [stage](const StageTotals& totals) {
      const auto it = totals.seconds.find(stage);
      return it == totals.seconds.end() ? 0.0 : it->second;
    };
    const uint64_t runs = count(after) - count(before);
    const double spent = sum(after) - sum(before);
    if (runs != 1) check.Add(absl::StrCat("stage ", stage, " recorded ", runs, " times"));
    if (std::strcmp(stage, "collect") == 0 || std::strcmp(stage, "write") == 0) staged += spent;
    absl::StrAppendFormat(&stage_json, ",\"%s_seconds\":%.6f", stage, spent);
  }
  {
    // Parts of the snapshot written while the fetch went on: recorded only
    // by a run that sent parts, and overlapping collect, so not in `staged`.
    const auto it_after = after.seconds.find("write_parts");
    const auto it_before = before.seconds.find("write_parts");
    const double parts = (it_after == after.seconds.end() ? 0.0 : it_after->second) -
                         (it_before == before.seconds.end() ? 0.0 : it_before->second);
    absl::StrAppendFormat(&stage_json, ",\"write_parts_seconds\":%.6f", parts);
  }
  absl::PrintF(
      "{\"run_id\":\"%s\",\"accounts\":%d,\"items\":%d,\"batches\":%d,\"seconds\":%.4f%s,"
      "\"other_seconds\":%.4f%s,\"errors\":%d}\n",
      run.run_id, addresses, items, run.counts.batches(), seconds, stage_json, seconds - staged,
      cpu_json, check.errors);
  std::fflush(stdout);
  if (check.errors > 0) {
    std::fprintf(stderr, "refresh_driver: %" PRId64 " errors; first: %s\n", check.errors,
                 check.first.c_str());
    return 1;
  }
  return 0;
}

int Trigger() {
  Client<v1::Scheduler> scheduler(absl::GetFlag(FLAGS_scheduler));
  Client<v1::Admin> admin(absl::GetFlag(FLAGS_scheduler));
  if (absl::Status status = WaitUntilActive(scheduler); !status.ok()) {
    return Fail("GetReplicaStatus", status);
  }
  absl::StatusOr<StageTotals> before = Stages(admin);
  if (!before.ok()) return Fail("Admin.GetMetrics", before.status());

  const CpuWindow cpu;
  v1::TriggerTaskRequest request;
  request.set_task_id(absl::GetFlag(FLAGS_task_id));
  request.set_wait(true);
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::TriggerTaskResponse> reply =
      scheduler.Call(&v1::Scheduler::Stub::PrepareAsyncTriggerTask, request);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!reply.ok()) return Fail("TriggerTask", reply.status());
  const std::string cpu_json = cpu.Json();

  absl::StatusOr<StageTotals> after = Stages(admin);
  if (!after.ok()) return Fail("Admin.GetMetrics", after.status());
  const v1::Run& run = reply->run();
  // The answer must come after the run's end was recorded: storage's record
  // says so at once.
  Client<v1::Storage> storage(absl::GetFlag(FLAGS_storage));
  v1::GetRunRecordRequest record_request;
  record_request.set_run_id(run.run_id());
  absl::StatusOr<v1::GetRunRecordResponse> record =
      storage.Call(&v1::Storage::Stub::PrepareAsyncGetRunRecord, record_request);
  if (!record.ok()) return Fail("GetRunRecord", record.status());
  return Report({.run_id = run.run_id(),
                 .state = run.state(),
                 .error = run.error().message(),
                 .finish_recorded = run.has_finished_at() && record->run().has_finished_at() &&
                                    record->run().state() == run.state(),
                 .counts = run.counts(),
                 .snapshot_id = run.snapshot_id()},
                seconds, *before, *after, cpu_json);
}

StageTotals LocalStages() {
  StageTotals totals;
  for (const metrics::MetricSnapshot& metric : metrics::Registry::Global().Snapshot(kStageMetric)) {
    for (const auto& [name, value] : metric.labels) {
      if (name != "stage") continue;
      totals.seconds[value] = metric.histogram.sum;
      totals.count[value] = metric.histogram.count;
    }
  }
  return totals;
}

// The scheduler's own RefreshBalancesRun, in this process over gRPC to
// storage and the fetcher: the refresh without the scheduler's engine
// (StartRun, FinishRun, its loops). Fenced with a lease of its own.
int Direct() {
  grpc_util::ClientQueue queue("direct-cq");
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  const absl::Duration timeout = absl::GetFlag(FLAGS_call_timeout);
  grpc_util::AsyncClient<v1::Storage> storage_client(
      grpc::CreateCustomChannel(absl::GetFlag(FLAGS_storage), grpc::InsecureChannelCredentials(),
                                args),
      &queue, timeout);
  grpc_util::AsyncClient<v1::Fetcher> fetcher_client(
      grpc::CreateCustomChannel(absl::GetFlag(FLAGS_fetcher), grpc::InsecureChannelCredentials(),
                                args),
      &queue, timeout);
  v1::AcquireLeaseRequest lease;
  lease.set_lease_name("refresh-bench");
  // One holder for every invocation: a later one renews the lease.
  lease.set_holder_id("refresh-driver");
  lease.mutable_ttl()->set_seconds(600);
  absl::StatusOr<v1::AcquireLeaseResponse> acquired = storage_client.CallBlocking(
      &v1::Storage::Stub::PrepareAsyncAcquireLease, lease, {.wait_for_ready = true});
  if (!acquired.ok()) return Fail("AcquireLease", acquired.status());
  if (!acquired->acquired()) {
    return Fail("AcquireLease",
                absl::AbortedError(absl::StrCat("lease ", lease.lease_name(), " is held by ",
                                                acquired->lease().holder_id(), " for ",
                                                acquired->lease().remaining().seconds(), " s")));
  }

  scheduler::GrpcRunStorage storage(&storage_client, timeout);
  scheduler::GrpcRunFetcher fetcher(&fetcher_client, timeout);
  const int warmups = absl::GetFlag(FLAGS_warmup_runs);
  for (int k = 0;; ++k) {
    scheduler::RefreshBalancesRunOptions options;
    options.run_id = absl::StrCat("direct-", absl::ToUnixMicros(absl::Now()));
    options.fence.set_lease_name(lease.lease_name());
    options.fence.set_holder_id(lease.holder_id());
    options.fence.set_epoch(acquired->lease().epoch());
    options.params.set_chain_id(absl::GetFlag(FLAGS_chain_id));
    options.params.set_batch_size(absl::GetFlag(FLAGS_batch_size));
    options.params.set_max_batches_in_flight(absl::GetFlag(FLAGS_in_flight));
    options.taken_at = absl::Now();
    const StageTotals before = LocalStages();
    const CpuWindow cpu;
    std::promise<scheduler::RunOutcome> ended;
    const absl::Time start = absl::Now();
    scheduler::RefreshBalancesRun::Start(
        &storage, &fetcher, options, nullptr,
        [&ended](scheduler::RunOutcome outcome) { ended.set_value(std::move(outcome)); });
    const scheduler::RunOutcome outcome = ended.get_future().get();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (k < warmups) continue;
    v1::ReleaseLeaseRequest release;
    release.set_lease_name(lease.lease_name());
    release.set_holder_id(lease.holder_id());
    release.set_epoch(acquired->lease().epoch());
    if (absl::StatusOr<v1::ReleaseLeaseResponse> released =
            storage_client.CallBlocking(&v1::Storage::Stub::PrepareAsyncReleaseLease, release);
        !released.ok()) {
      return Fail("ReleaseLease", released.status());
    }
    return Report({.run_id = options.run_id,
                   .state = outcome.state,
                   .error = outcome.error.message(),
                   .finish_recorded = true,  // nothing records it here
                   .counts = outcome.counts,
                   .snapshot_id = outcome.snapshot_id},
                  seconds, before, LocalStages(), cpu.Json());
  }
}

// The value of storage's gauge `name` (0 when it is not reported: no
// deferred work ever recorded).
absl::StatusOr<double> StorageGauge(Client<v1::Admin>& admin, const std::string& name) {
  v1::GetMetricsRequest request;
  request.set_name_prefix(name);
  absl::StatusOr<v1::GetMetricsResponse> reply =
      admin.Call(&v1::Admin::Stub::PrepareAsyncGetMetrics, request);
  if (!reply.ok()) return reply.status();
  double value = 0;
  for (const v1::Metric& metric : reply->metrics()) {
    if (metric.name() == name) value += metric.value();
  }
  return value;
}

int Settle() {
  Client<v1::Admin> admin(absl::GetFlag(FLAGS_storage));
  const std::string name = absl::GetFlag(FLAGS_settle_metric);
  const double below = absl::GetFlag(FLAGS_settle_below);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::GetFlag(FLAGS_settle_timeout);
  while (true) {
    absl::StatusOr<double> value = StorageGauge(admin, name);
    if (!value.ok()) return Fail("Admin.GetMetrics", value.status());
    if (*value < below) {
      std::printf("{\"settle_seconds\":%.4f,\"%s\":%.0f}\n",
                  absl::ToDoubleSeconds(absl::Now() - start), name.c_str(), *value);
      return 0;
    }
    if (absl::Now() > deadline) {
      return Fail("settle", absl::DeadlineExceededError(
                                absl::StrCat(name, " still ", *value, " after ",
                                             absl::FormatDuration(absl::Now() - start))));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

int Run() {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (absl::GetFlag(FLAGS_addresses) < 1) {
    std::fprintf(stderr, "refresh_driver: --addresses must be >= 1\n");
    return 2;
  }
  if (mode == "add_accounts") return AddAccounts();
  if (mode == "create_task") return CreateTask();
  if (mode == "trigger") return Trigger();
  if (mode == "direct") return Direct();
  if (mode == "settle") return Settle();
  std::fprintf(stderr,
               "refresh_driver: --mode must be add_accounts, create_task, trigger, direct or "
               "settle\n");
  return 2;
}

}  // namespace
}  // namespace coffer::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return coffer::bench::Run();
}
