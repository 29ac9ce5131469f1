// The refresh_balances run end to end: real coffer-storage and coffer-fetcher
// (on anvil, with a token), the run driving them over async gRPC as the
// scheduler does, and the snapshot it wrote read back from storage.
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

#include "coffer/v1/fetcher.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "services/scheduler/runs/grpc_run_backends.h"
#include "services/scheduler/runs/refresh_balances_run.h"
#include "tests/integration/integration_test_base.h"
#include "tests/testing/anvil.h"
#include "tests/testing/anvil_fetcher_config.h"
#include "tests/testing/test_contracts.h"

namespace coffer::testing {
namespace {

using scheduler::RefreshBalancesRun;
using scheduler::RunOutcome;
using v1::Fetcher;
using v1::Storage;

constexpr const char* kChain = kAnvilChain;
constexpr const char* kEther = kAnvilEther;

std::string Address(int n) { return absl::StrFormat("0x%040x", 0xbeef00000ULL + n); }

class SchedulerRefreshRunTest : public IntegrationTestBase {
 protected:
  void SetUp() override {
    if (auto reason = AnvilNode::SkipReason()) GTEST_SKIP() << *reason;
    absl::StatusOr<std::unique_ptr<AnvilNode>> node = AnvilNode::Start();
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
    absl::StatusOr<std::string> token = DeployTestToken(*node_, 6);
    ASSERT_TRUE(token.ok()) << token.status();
    token_asset_ = AnvilTokenAsset(*token);
    token_ = *token;

    const std::string config = absl::StrCat(directory(), "/fetcher.textproto");
    std::ofstream(config) << AnvilFetcherConfig(*node_, {.token = token_});
    fetcher_client_ =
        Client<Fetcher>(StartService(Service::kFetcher, {absl::StrCat("--config=", config)}));
    storage_client_ = Client<Storage>(StartService(Service::kStorage));

    v1::AcquireLeaseRequest lease;
    lease.set_lease_name("scheduler");
    lease.set_holder_id("refresh-run-test");
    lease.mutable_ttl()->set_seconds(300);
    absl::StatusOr<v1::AcquireLeaseResponse> granted =
        storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncAcquireLease, lease);
    ASSERT_TRUE(granted.ok()) << granted.status();
    ASSERT_TRUE(granted->acquired());
    fence_.set_lease_name("scheduler");
    fence_.set_holder_id("refresh-run-test");
    fence_.set_epoch(granted->lease().epoch());
  }

  RunOutcome Refresh(const std::string& run_id, bool forced = false) {
    scheduler::GrpcRunStorage storage(storage_client_.get(), absl::Seconds(30));
    scheduler::GrpcRunFetcher fetcher(fetcher_client_.get(), absl::Seconds(60));
    std::promise<RunOutcome> finished;
    scheduler::RefreshBalancesRunOptions options;
    options.run_id = run_id;
    options.fence = fence_;
    options.forced = forced;
    options.params.set_batch_size(7);  // several batches
    options.params.set_max_batches_in_flight(3);
    options.taken_at = absl::Now();
    RefreshBalancesRun::Start(
        &storage, &fetcher, options, nullptr,
        [&finished](RunOutcome outcome) { finished.set_value(std::move(outcome)); });
    return finished.get_future().get();
  }

  // Storage's latest balance of (account, asset): "units" or "error".
  std::string Latest(const std::string& account_id, const std::string& asset_id) {
    v1::GetLatestBalancesRequest request;
    request.add_account_ids(account_id);
    request.add_asset_ids(asset_id);
    absl::StatusOr<v1::GetLatestBalancesResponse> reply =
        storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncGetLatestBalances, request);
    if (!reply.ok()) return reply.status().ToString();
    if (reply->balances_size() != 1) return absl::StrCat(reply->balances_size(), " balances");
    return reply->balances(0).has_amount() ? reply->balances(0).amount().units() : "no amount";
  }

  std::unique_ptr<AnvilNode> node_;
  std::string token_;
  std::string token_asset_;
  std::unique_ptr<grpc_util::AsyncClient<Fetcher>> fetcher_client_;
  std::unique_ptr<grpc_util::AsyncClient<Storage>> storage_client_;
  v1::Fence fence_;
};

TEST_F(SchedulerRefreshRunTest, WritesEveryAccountsBalancesAtOneBlockAndSeesChanges) {
  constexpr int kAccounts = 20;
  v1::AddAccountsRequest add;
  for (int i = 0; i < kAccounts; ++i) {
    add.add_accounts()->set_account_id(absl::StrCat(kChain, ":", Address(i)));
    ASSERT_TRUE(node_->SendEther(node_->account(0), Address(i), absl::StrCat(1000 + i)).ok());
  }
  ASSERT_TRUE(node_->Mint(token_, Address(3), "777000000").ok());
  ASSERT_TRUE(storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, add).ok());

  const RunOutcome first = Refresh("run-a");
  EXPECT_EQ(first.state, v1::RUN_STATE_SUCCEEDED) << first.error.message();
  EXPECT_EQ(first.counts.accounts(), static_cast<uint64_t>(kAccounts));
  EXPECT_EQ(first.counts.batches(), 3u);
  EXPECT_EQ(first.counts.items_succeeded(), 2u * kAccounts);  // ether and the token
  ASSERT_FALSE(first.snapshot_id.empty());

  // The snapshot holds one block for the chain, the head when the run began.
  v1::GetSnapshotRequest get;
  get.set_snapshot_id(first.snapshot_id);
  absl::StatusOr<v1::GetSnapshotResponse> snapshot =
      storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncGetSnapshot, get);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->snapshot().run_id(), "run-a");
  ASSERT_EQ(snapshot->snapshot().blocks_size(), 1);
  absl::StatusOr<uint64_t> head = node_->BlockNumber();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(snapshot->snapshot().blocks(0).number(), *head);

  EXPECT_EQ(Latest(absl::StrCat(kChain, ":", Address(5)), kEther), "1005");
  EXPECT_EQ(Latest(absl::StrCat(kChain, ":", Address(3)), token_asset_), "777000000");
  EXPECT_EQ(Latest(absl::StrCat(kChain, ":", Address(4)), token_asset_), "0");

  // A balance changed on the chain shows up after the next run; a forced
  // one, as the fetcher would otherwise answer its head of up to a second
  // ago (runs are minutes apart).
  ASSERT_TRUE(node_->SendEther(node_->account(0), Address(5), "1").ok());
  const RunOutcome second = Refresh("run-b", /*forced=*/true);
  EXPECT_EQ(second.state, v1::RUN_STATE_SUCCEEDED) << second.error.message();
  EXPECT_NE(second.snapshot_id, first.snapshot_id);
  EXPECT_EQ(Latest(absl::StrCat(kChain, ":", Address(5)), kEther), "1006");
}

TEST_F(SchedulerRefreshRunTest, AStaleEpochCannotWrite) {
  v1::AddAccountsRequest add;
  add.add_accounts()->set_account_id(absl::StrCat(kChain, ":", Address(1)));
  ASSERT_TRUE(storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, add).ok());
  // Another replica takes the lease over after ours is released.
  v1::ReleaseLeaseRequest release;
  release.set_lease_name("scheduler");
  release.set_holder_id("refresh-run-test");
  release.set_epoch(fence_.epoch());
  ASSERT_TRUE(
      storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncReleaseLease, release).ok());
  v1::AcquireLeaseRequest other;
  other.set_lease_name("scheduler");
  other.set_holder_id("another-replica");
  other.mutable_ttl()->set_seconds(300);
  absl::StatusOr<v1::AcquireLeaseResponse> taken =
      storage_client_->CallBlocking(&Storage::Stub::PrepareAsyncAcquireLease, other);
  ASSERT_TRUE(taken.ok() && taken->acquired());

  const RunOutcome outcome = Refresh("run-stale");
  EXPECT_EQ(outcome.state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome.error.code(), v1::Error::FAILED_PRECONDITION) << outcome.error.message();
  EXPECT_EQ(outcome.error.upstream(), "storage");
  EXPECT_TRUE(outcome.snapshot_id.empty());
}

}  // namespace
}  // namespace coffer::testing
