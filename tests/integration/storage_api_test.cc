// Every coffer.v1.Storage method through the real coffer-storage binary, in
// the order its users call them: the scheduler's lease, tasks, runs and
// fenced writes (a replica that lost its lease cannot write), then the
// reads people make of snapshots, prices, balances and the portfolio, and
// retention. The repositories' own tests cover each rule in depth; this one
// proves each method is served, asynchronously, end to end.
#include <signal.h>

#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/integration_test_base.h"

namespace coffer::testing {
namespace {

using ::testing::HasSubstr;
using v1::Storage;

constexpr char kEth[] = "eip155:1/slip44:60";
constexpr char kLease[] = "scheduler";

std::string Account(int n) { return absl::StrFormat("eip155:1:0x%040d", n); }

// An amount as "units/decimals" with trailing zero decimals trimmed, so
// equal values compare equal however many decimals they carry.
std::string Normalized(const v1::Amount& amount) {
  std::string units = amount.units();
  uint32_t decimals = amount.decimals();
  while (decimals > 0 && units.size() > 1 && units.back() == '0') {
    units.pop_back();
    --decimals;
  }
  return absl::StrFormat("%s/%d", units, decimals);
}

class StorageApiTest : public IntegrationTestBase {
 protected:
  void SetUp() override {
    storage_ = &StartService(Service::kStorage);
    client_ = Client<Storage>(*storage_);
  }

  template <typename Request, typename Reply>
  absl::StatusOr<Reply> Call(std::unique_ptr<grpc::ClientAsyncResponseReader<Reply>> (
                                 Storage::Stub::*prepare)(grpc::ClientContext*, const Request&,
                                                          grpc::CompletionQueue*),
                             const Request& request) {
    return client_->CallBlocking(prepare, request);
  }

  v1::Lease Acquire(const std::string& holder) {
    v1::AcquireLeaseRequest request;
    request.set_lease_name(kLease);
    request.set_holder_id(holder);
    request.mutable_ttl()->set_seconds(60);
    auto acquired = Call(&Storage::Stub::PrepareAsyncAcquireLease, request);
    EXPECT_TRUE(acquired.ok()) << acquired.status();
    EXPECT_TRUE(acquired.ok() && acquired->acquired());
    return acquired.ok() ? acquired->lease() : v1::Lease();
  }

  static v1::Fence FenceOf(const v1::Lease& lease) {
    v1::Fence fence;
    fence.set_lease_name(lease.lease_name());
    fence.set_holder_id(lease.holder_id());
    fence.set_epoch(lease.epoch());
    return fence;
  }

  void AddAccounts(int count) {
    v1::AddAccountsRequest add;
    for (int i = 1; i <= count; ++i) add.add_accounts()->set_account_id(Account(i));
    auto added = Call(&Storage::Stub::PrepareAsyncAddAccounts, add);
    ASSERT_TRUE(added.ok()) << added.status();
  }

  // A snapshot of accounts 1..count holding `wei` each, account `failed`
  // (if any) failed.
  v1::WriteSnapshotRequest Snapshot(const std::string& key, int64_t taken_at, int count,
                                    const std::string& wei, int failed = 0) {
    v1::WriteSnapshotRequest request;
    request.set_idempotency_key(key);
    request.mutable_taken_at()->set_seconds(taken_at);
    for (int i = 1; i <= count; ++i) {
      v1::BalanceItem* item = request.add_items();
      item->set_account_id(Account(i));
      item->set_asset_id(kEth);
      if (i == failed) {
        item->mutable_error()->set_code(v1::Error::UNAVAILABLE);
        item->mutable_error()->set_message("node down");
        item->mutable_error()->set_upstream("mainnet-1");
      } else {
        item->mutable_amount()->set_units(wei);
        item->mutable_amount()->set_decimals(18);
      }
    }
    return request;
  }

  ServiceProcess* storage_ = nullptr;
  std::unique_ptr<grpc_util::AsyncClient<Storage>> client_;
};

TEST_F(StorageApiTest, SchedulerLeaseTasksRunsAndFencedWrites) {
  AddAccounts(3);
  const v1::Lease lease = Acquire("replica-a");
  EXPECT_EQ(lease.epoch(), 1u);
  v1::RenewLeaseRequest renew;
  renew.set_lease_name(kLease);
  renew.set_holder_id("replica-a");
  renew.set_epoch(lease.epoch());
  renew.mutable_ttl()->set_seconds(60);
  auto renewed = Call(&Storage::Stub::PrepareAsyncRenewLease, renew);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->lease().epoch(), 1u);

  // A task, read back, listed and updated.
  v1::CreateTaskDefinitionRequest create;
  *create.mutable_fence() = FenceOf(lease);
  v1::Task* task = create.mutable_task();
  task->set_task_id("refresh-balances");
  task->set_kind(v1::TASK_KIND_REFRESH_BALANCES);
  task->mutable_schedule()->mutable_interval()->set_seconds(300);
  auto created = Call(&Storage::Stub::PrepareAsyncCreateTaskDefinition, create);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->task().revision(), 1u);
  EXPECT_EQ(Call(&Storage::Stub::PrepareAsyncCreateTaskDefinition, create).status().code(),
            absl::StatusCode::kAlreadyExists);

  v1::GetTaskDefinitionRequest get;
  get.set_task_id("refresh-balances");
  auto got = Call(&Storage::Stub::PrepareAsyncGetTaskDefinition, get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->task().schedule().interval().seconds(), 300);
  get.set_task_id("no-such-task");
  EXPECT_EQ(Call(&Storage::Stub::PrepareAsyncGetTaskDefinition, get).status().code(),
            absl::StatusCode::kNotFound);

  auto listed =
      Call(&Storage::Stub::PrepareAsyncListTaskDefinitions, v1::ListTaskDefinitionsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->tasks_size(), 1);

  v1::UpdateTaskDefinitionRequest update;
  update.mutable_task()->set_task_id("refresh-balances");
  update.mutable_task()->mutable_schedule()->mutable_interval()->set_seconds(600);
  update.mutable_update_mask()->add_paths("schedule.interval");
  update.set_expected_revision(1);
  auto updated = Call(&Storage::Stub::PrepareAsyncUpdateTaskDefinition, update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->task().schedule().interval().seconds(), 600);
  EXPECT_EQ(updated->task().revision(), 2u);
  // A stale revision is refused: the caller re-reads and retries.
  EXPECT_EQ(Call(&Storage::Stub::PrepareAsyncUpdateTaskDefinition, update).status().code(),
            absl::StatusCode::kAborted);

  // A run: started, overlapping start refused, snapshot written under the
  // fence, finished with the schedule in the same transaction.
  v1::StartRunRequest start;
  *start.mutable_fence() = FenceOf(lease);
  start.set_run_id("run-1");
  start.set_task_id("refresh-balances");
  start.set_trigger(v1::RUN_TRIGGER_SCHEDULED);
  auto started = Call(&Storage::Stub::PrepareAsyncStartRun, start);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->run().state(), v1::RUN_STATE_RUNNING);
  EXPECT_EQ(started->run().lease_epoch(), 1u);
  v1::StartRunRequest overlap = start;
  overlap.set_run_id("run-2");
  EXPECT_EQ(Call(&Storage::Stub::PrepareAsyncStartRun, overlap).status().code(),
            absl::StatusCode::kFailedPrecondition);

  v1::WriteSnapshotRequest snapshot = Snapshot("run-1", 1700000000, 3, "1000", /*failed=*/2);
  *snapshot.mutable_fence() = FenceOf(lease);
  snapshot.set_run_id("run-1");
  auto written = Call(&Storage::Stub::PrepareAsyncWriteSnapshot, snapshot);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->snapshot().items(), 3u);
  EXPECT_EQ(written->snapshot().failed_items(), 1u);

  v1::FinishRunRequest finish;
  *finish.mutable_fence() = FenceOf(lease);
  finish.set_run_id("run-1");
  finish.set_state(v1::RUN_STATE_PARTIAL);
  finish.mutable_counts()->set_items_total(3);
  finish.mutable_counts()->set_items_succeeded(2);
  finish.mutable_counts()->set_items_failed(1);
  finish.set_snapshot_id(written->snapshot().snapshot_id());
  finish.mutable_next_run_time()->set_seconds(1700000600);
  auto finished = Call(&Storage::Stub::PrepareAsyncFinishRun, finish);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->run().state(), v1::RUN_STATE_PARTIAL);
  EXPECT_EQ(finished->task().last_run_id(), "run-1");
  EXPECT_EQ(finished->task().next_run_time().seconds(), 1700000600);

  v1::GetRunRecordRequest get_run;
  get_run.set_run_id("run-1");
  auto run = Call(&Storage::Stub::PrepareAsyncGetRunRecord, get_run);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->run().counts().items_failed(), 1u);
  EXPECT_EQ(run->run().snapshot_id(), written->snapshot().snapshot_id());

  // Another replica takes over once the lease is released; the old
  // holder's fence no longer writes anything.
  v1::AcquireLeaseRequest steal;
  steal.set_lease_name(kLease);
  steal.set_holder_id("replica-b");
  steal.mutable_ttl()->set_seconds(60);
  auto refused = Call(&Storage::Stub::PrepareAsyncAcquireLease, steal);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->acquired());
  EXPECT_EQ(refused->lease().holder_id(), "replica-a");
  v1::ReleaseLeaseRequest release;
  release.set_lease_name(kLease);
  release.set_holder_id("replica-a");
  release.set_epoch(lease.epoch());
  auto released = Call(&Storage::Stub::PrepareAsyncReleaseLease, release);
  ASSERT_TRUE(released.ok() && released->released()) << released.status();
  const v1::Lease taken = Acquire("replica-b");
  EXPECT_EQ(taken.epoch(), 2u);
  v1::GetLeaseRequest get_lease;
  get_lease.set_lease_name(kLease);
  auto current = Call(&Storage::Stub::PrepareAsyncGetLease, get_lease);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->lease().holder_id(), "replica-b");

  v1::WriteSnapshotRequest stale = Snapshot("stale-write", 1700000300, 3, "5");
  *stale.mutable_fence() = FenceOf(lease);
  auto stale_written = Call(&Storage::Stub::PrepareAsyncWriteSnapshot, stale);
  EXPECT_EQ(stale_written.status().code(), absl::StatusCode::kFailedPrecondition)
      << stale_written.status();
  v1::StartRunRequest stale_start = start;
  stale_start.set_run_id("run-stale");
  EXPECT_EQ(Call(&Storage::Stub::PrepareAsyncStartRun, stale_start).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // The new holder abandons what the old one left running.
  v1::StartRunRequest second = start;
  *second.mutable_fence() = FenceOf(taken);
  second.set_run_id("run-3");
  ASSERT_TRUE(Call(&Storage::Stub::PrepareAsyncStartRun, second).ok());
  v1::AbandonRunsRequest abandon;
  *abandon.mutable_fence() = FenceOf(taken);
  abandon.set_reason("replica-b took over");
  auto abandoned = Call(&Storage::Stub::PrepareAsyncAbandonRuns, abandon);
  ASSERT_TRUE(abandoned.ok()) << abandoned.status();
  ASSERT_EQ(abandoned->runs_size(), 1);
  EXPECT_EQ(abandoned->runs(0).state(), v1::RUN_STATE_ABANDONED);

  v1::ListRunRecordsRequest list_runs;
  list_runs.set_task_id("refresh-balances");
  auto runs = Call(&Storage::Stub::PrepareAsyncListRunRecords, list_runs);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->runs_size(), 2);

  v1::DeleteTaskDefinitionRequest remove;
  *remove.mutable_fence() = FenceOf(taken);
  remove.set_task_id("refresh-balances");
  ASSERT_TRUE(Call(&Storage::Stub::PrepareAsyncDeleteTaskDefinition, remove).ok());
  get.set_task_id("refresh-balances");
  EXPECT_EQ(Call(&Storage::Stub::PrepareAsyncGetTaskDefinition, get).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StorageApiTest, SnapshotsPricesBalancesPortfolioAndRetention) {
  AddAccounts(3);
  std::string latest_id;
  for (int i = 0; i < 3; ++i) {
    // The last snapshot fails account 2: its last known amount stays.
    auto written = Call(&Storage::Stub::PrepareAsyncWriteSnapshot,
                        Snapshot(absl::StrFormat("snap-%d", i), 1700000000 + i * 60, 3,
                                 std::to_string(1000000000000000000 * (i + 1)), i == 2 ? 2 : 0));
    ASSERT_TRUE(written.ok()) << written.status();
    latest_id = written->snapshot().snapshot_id();
  }

  v1::ListSnapshotsRequest list;
  list.mutable_page()->set_page_size(2);
  auto page = Call(&Storage::Stub::PrepareAsyncListSnapshots, list);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->snapshots_size(), 2);
  EXPECT_EQ(page->snapshots(0).snapshot_id(), latest_id);  // newest first
  ASSERT_FALSE(page->page().next_page_token().empty());

  v1::GetSnapshotRequest get;
  get.set_snapshot_id(latest_id);
  get.set_failed_only(true);
  auto failed = Call(&Storage::Stub::PrepareAsyncGetSnapshot, get);
  ASSERT_TRUE(failed.ok()) << failed.status();
  ASSERT_EQ(failed->items_size(), 1);
  EXPECT_EQ(failed->items(0).account_id(), Account(2));
  EXPECT_TRUE(failed->items(0).has_error());
  get.set_snapshot_id("999999");
  EXPECT_EQ(Call(&Storage::Stub::PrepareAsyncGetSnapshot, get).status().code(),
            absl::StatusCode::kNotFound);

  // Prices, latest and historical.
  v1::WritePricesRequest prices;
  for (int i = 0; i < 3; ++i) {
    v1::Price* price = prices.add_prices();
    price->set_asset_id(kEth);
    price->set_quote_currency("usd");
    price->mutable_price()->set_units(std::to_string(2000 + i));
    price->mutable_price_time()->set_seconds(1700000000 + i * 60);
  }
  auto stored = Call(&Storage::Stub::PrepareAsyncWritePrices, prices);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->written(), 3u);
  v1::GetPriceHistoryRequest history;
  history.set_asset_id(kEth);
  history.set_quote_currency("usd");
  auto price_history = Call(&Storage::Stub::PrepareAsyncGetPriceHistory, history);
  ASSERT_TRUE(price_history.ok()) << price_history.status();
  ASSERT_EQ(price_history->prices_size(), 3);
  EXPECT_EQ(price_history->prices(0).price().units(), "2000");  // oldest first

  // Latest balances valued at the latest price; the failed account keeps
  // its last known amount with the error beside it.
  v1::GetLatestBalancesRequest latest;
  latest.set_quote_currency("usd");
  auto balances = Call(&Storage::Stub::PrepareAsyncGetLatestBalances, latest);
  ASSERT_TRUE(balances.ok()) << balances.status();
  ASSERT_EQ(balances->balances_size(), 3);
  const v1::LatestBalance& stale = balances->balances(1);
  EXPECT_EQ(stale.account_id(), Account(2));
  EXPECT_EQ(stale.amount().units(), "2000000000000000000");
  EXPECT_TRUE(stale.has_error());
  EXPECT_EQ(stale.price().price().units(), "2002");
  ASSERT_TRUE(stale.has_value());
  EXPECT_EQ(Normalized(stale.value()), "4004/0");  // 2 ETH x 2002

  v1::GetBalanceHistoryRequest balance_history;
  balance_history.set_account_id(Account(1));
  auto points = Call(&Storage::Stub::PrepareAsyncGetBalanceHistory, balance_history);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_EQ(points->points_size(), 3);

  v1::GetPortfolioRequest portfolio_request;
  portfolio_request.set_quote_currency("usd");
  auto portfolio = Call(&Storage::Stub::PrepareAsyncGetPortfolio, portfolio_request);
  ASSERT_TRUE(portfolio.ok()) << portfolio.status();
  ASSERT_EQ(portfolio->assets_size(), 1);
  EXPECT_EQ(portfolio->assets(0).accounts(), 3u);
  EXPECT_EQ(portfolio->assets(0).stale_accounts(), 1u);
  // 3 + 2 (stale) + 3 ETH at 2002.
  EXPECT_EQ(Normalized(portfolio->total_value()), "16016/0");

  // Retention keeps what latest balances need: they read the same after.
  v1::PruneRequest prune;
  prune.mutable_retention()->set_snapshot_keep_last(1);
  prune.set_dry_run(true);
  auto counted = Call(&Storage::Stub::PrepareAsyncPrune, prune);
  ASSERT_TRUE(counted.ok()) << counted.status();
  prune.set_dry_run(false);
  auto pruned = Call(&Storage::Stub::PrepareAsyncPrune, prune);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(pruned->items_deleted(), counted->items_deleted());
  EXPECT_GT(pruned->items_deleted(), 0u);
  EXPECT_EQ(pruned->items_kept(), 1u);  // account 2's last known amount
  auto after = Call(&Storage::Stub::PrepareAsyncGetLatestBalances, latest);
  ASSERT_TRUE(after.ok()) << after.status();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(after->balances(i).amount().units(), balances->balances(i).amount().units());
  }

  // Bad input is named.
  v1::PruneRequest unbounded;
  auto refused = Call(&Storage::Stub::PrepareAsyncPrune, unbounded);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("retention"));
}

TEST_F(StorageApiTest, SnapshotInPartsIsHiddenUntilItsCommit) {
  AddAccounts(4);
  const v1::WriteSnapshotRequest whole = Snapshot("parts-1", 1700000000, 4, "7");
  // Accounts 1-2 and 3 as parts 0 and 1; account 4 comes with the commit.
  const auto part = [&whole](uint32_t number, int first, int count) {
    v1::WriteSnapshotPartRequest request;
    request.set_idempotency_key(whole.idempotency_key());
    request.set_part(number);
    *request.mutable_taken_at() = whole.taken_at();
    for (int i = first; i < first + count; ++i) *request.add_items() = whole.items(i);
    return request;
  };
  for (const auto& request : {part(1, 2, 1), part(0, 0, 2)}) {  // any order
    auto written = Call(&Storage::Stub::PrepareAsyncWriteSnapshotPart, request);
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(written->items(), static_cast<uint32_t>(request.items_size()));
    EXPECT_FALSE(written->already_written());
  }
  auto retried = Call(&Storage::Stub::PrepareAsyncWriteSnapshotPart, part(0, 0, 2));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->already_written());

  // Nothing of it is visible before the commit.
  auto listed = Call(&Storage::Stub::PrepareAsyncListSnapshots, v1::ListSnapshotsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->snapshots_size(), 0);
  auto latest = Call(&Storage::Stub::PrepareAsyncGetLatestBalances, v1::GetLatestBalancesRequest());
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->balances_size(), 0);

  v1::WriteSnapshotRequest commit = whole;
  commit.mutable_items()->DeleteSubrange(0, 3);
  commit.set_parts(3);  // part 2 was never written
  auto refused = Call(&Storage::Stub::PrepareAsyncWriteSnapshot, commit);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("part 2"));
  commit.set_parts(2);
  auto committed = Call(&Storage::Stub::PrepareAsyncWriteSnapshot, commit);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->snapshot().items(), 4u);

  v1::GetSnapshotRequest get;
  get.set_snapshot_id(committed->snapshot().snapshot_id());
  auto items = Call(&Storage::Stub::PrepareAsyncGetSnapshot, get);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->items_size(), 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(items->items(i).account_id(), Account(i + 1));
  latest = Call(&Storage::Stub::PrepareAsyncGetLatestBalances, v1::GetLatestBalancesRequest());
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->balances_size(), 4);
  auto again = Call(&Storage::Stub::PrepareAsyncWriteSnapshot, commit);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_written());
}

}  // namespace
}  // namespace coffer::testing
