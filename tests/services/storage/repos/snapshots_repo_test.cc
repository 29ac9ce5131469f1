#include "services/storage/repos/snapshots_repo.h"

#include <stdlib.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

#include "common/chain/amount.h"
#include "services/storage/db/connection.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/db/migrations.h"
#include "services/storage/repos/accounts_repo.h"
#include "services/storage/schema/schema.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

class SnapshotsRepoTest : public RepoTestBase {
 protected:
  absl::Status WriteSnap(const v1::WriteSnapshotRequest& request,
                         v1::WriteSnapshotResponse* response, absl::Time now = kNow) {
    return Write([&](db::WriteContext& tx) { return WriteSnapshot(tx, request, response, now); });
  }

  absl::Status Latest(const v1::GetLatestBalancesRequest& request,
                      v1::GetLatestBalancesResponse* response, absl::Time now = kNow) {
    return Read([&](db::ReadContext& tx) { return GetLatestBalances(tx, request, response, now); });
  }

  v1::GetLatestBalancesResponse LatestAll() {
    v1::GetLatestBalancesResponse response;
    absl::Status status = Latest({}, &response);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }
};

TEST_F(SnapshotsRepoTest, WritesAndReadsBack) {
  AddIds({EvmId(1), EvmId(2)});
  v1::WriteSnapshotRequest request = Request("run-1", 1699999000);
  request.set_run_id("run-1");
  v1::BlockRef* block = request.add_blocks();
  block->set_chain_id("eip155:1");
  block->set_number(18000000);
  block->set_hash("0xabc");
  AddAmount(&request, EvmId(1), kEth, "1500000000000000000")->set_block_number(18000000);
  AddAmount(&request, EvmId(1), kUsdc, "0", 6);
  AddError(&request, EvmId(2), kEth, "all endpoints failed");
  v1::WriteSnapshotResponse response;
  absl::Status status = WriteSnap(request, &response);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(response.already_written());
  EXPECT_FALSE(response.snapshot().snapshot_id().empty());
  EXPECT_EQ(response.snapshot().idempotency_key(), "run-1");
  EXPECT_EQ(response.snapshot().run_id(), "run-1");
  EXPECT_EQ(response.snapshot().taken_at().seconds(), 1699999000);
  EXPECT_EQ(response.snapshot().written_at().seconds(), 1700000000);
  EXPECT_EQ(response.snapshot().items(), 3u);
  EXPECT_EQ(response.snapshot().failed_items(), 1u);
  EXPECT_EQ(response.snapshot().skipped_items(), 0u);
  ASSERT_EQ(response.snapshot().blocks_size(), 1);
  EXPECT_EQ(response.snapshot().blocks(0).number(), 18000000u);
  EXPECT_EQ(response.snapshot().blocks(0).hash(), "0xabc");
  EXPECT_EQ(Count("snapshot_items"), 3);

  v1::GetLatestBalancesResponse latest = LatestAll();
  ASSERT_EQ(latest.balances_size(), 3);
  // Ordered by account, then asset ("erc20" sorts before "slip44").
  EXPECT_EQ(latest.balances(0).asset_id(), kUsdc);
  EXPECT_EQ(latest.balances(0).amount().units(), "0");
  const v1::LatestBalance& eth = latest.balances(1);
  EXPECT_EQ(eth.account_id(), EvmId(1));
  EXPECT_EQ(eth.asset_id(), kEth);
  EXPECT_EQ(eth.amount().units(), "1500000000000000000");
  EXPECT_EQ(eth.amount().decimals(), 18u);
  EXPECT_EQ(eth.as_of().seconds(), 1699999000);
  EXPECT_EQ(eth.age().seconds(), 1000);
  EXPECT_EQ(eth.block_number(), 18000000u);
  EXPECT_EQ(eth.snapshot_id(), response.snapshot().snapshot_id());
  EXPECT_FALSE(eth.has_error());
  EXPECT_EQ(eth.last_attempt_at().seconds(), 1699999000);
  const v1::LatestBalance& failed = latest.balances(2);
  EXPECT_EQ(failed.account_id(), EvmId(2));
  EXPECT_FALSE(failed.has_amount());
  EXPECT_FALSE(failed.has_as_of());
  EXPECT_EQ(failed.error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(failed.error().message(), "all endpoints failed");
  EXPECT_EQ(failed.error().upstream(), "mainnet-1");
  EXPECT_TRUE(latest.page().next_page_token().empty());
}

TEST_F(SnapshotsRepoTest, SameKeySameContentIsAReplay) {
  AddIds({EvmId(1)});
  v1::WriteSnapshotRequest request = Request("run-1", 1699999000);
  AddAmount(&request, EvmId(1), kEth, "5");
  v1::WriteSnapshotResponse first;
  ASSERT_TRUE(WriteSnap(request, &first).ok());
  v1::WriteSnapshotResponse second;
  absl::Status status = WriteSnap(request, &second, kNow + absl::Minutes(5));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(second.already_written());
  EXPECT_EQ(second.snapshot().snapshot_id(), first.snapshot().snapshot_id());
  EXPECT_EQ(second.snapshot().written_at().seconds(), 1700000000);
  EXPECT_EQ(second.snapshot().items(), 1u);
  EXPECT_EQ(Count("snapshots"), 1);
  EXPECT_EQ(Count("snapshot_items"), 1);
}

TEST_F(SnapshotsRepoTest, SameKeyOtherContentIsAlreadyExists) {
  AddIds({EvmId(1)});
  v1::WriteSnapshotRequest request = Request("run-1", 1699999000);
  AddAmount(&request, EvmId(1), kEth, "5");
  v1::WriteSnapshotResponse response;
  ASSERT_TRUE(WriteSnap(request, &response).ok());
  request.mutable_items(0)->mutable_amount()->set_units("6");
  absl::Status status = WriteSnap(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_EQ(Count("snapshot_items"), 1);
  EXPECT_EQ(LatestAll().balances(0).amount().units(), "5");
}

TEST_F(SnapshotsRepoTest, InvalidItemsAreNamed) {
  AddIds({EvmId(1)});
  struct Case {
    std::string name;
    void (*mutate)(v1::BalanceItem*);
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"bad account", [](v1::BalanceItem* item) { item->set_account_id("eip155:1:0xnothex"); },
       "items[1].account_id"},
      {"bad asset", [](v1::BalanceItem* item) { item->set_asset_id("eip155:1/nope:1"); },
       "items[1].asset_id"},
      {"other chain asset",
       [](v1::BalanceItem* item) { item->set_asset_id("eip155:10/slip44:60"); },
       "items[1].asset_id"},
      {"neither", [](v1::BalanceItem* item) { item->clear_result(); }, "items[1]: exactly one"},
      {"leading zero", [](v1::BalanceItem* item) { item->mutable_amount()->set_units("01"); },
       "items[1].amount"},
      {"not digits", [](v1::BalanceItem* item) { item->mutable_amount()->set_units("-1"); },
       "items[1].amount"},
      {"over uint256",
       [](v1::BalanceItem* item) {
         item->mutable_amount()->set_units(
             "115792089237316195423570985008687907853269984665640564039457584007913129639936");
       },
       "items[1].amount"},
      {"decimals", [](v1::BalanceItem* item) { item->mutable_amount()->set_decimals(256); },
       "items[1].amount"},
      {"error code",
       [](v1::BalanceItem* item) { item->mutable_error()->set_code(v1::Error::CODE_UNSPECIFIED); },
       "items[1].error.code"},
      {"duplicate", [](v1::BalanceItem* item) { item->set_asset_id(kEth); }, "items[1]: account"},
  };
  for (const Case& c : cases) {
    v1::WriteSnapshotRequest request = Request("bad", 1699999000);
    AddAmount(&request, EvmId(1), kEth, "1");
    c.mutate(AddAmount(&request, EvmId(1), kUsdc, "1"));
    v1::WriteSnapshotResponse response;
    absl::Status status = WriteSnap(request, &response);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name << ": " << status;
    EXPECT_TRUE(absl::StartsWith(status.message(), c.expected)) << c.name << ": " << status;
  }
  v1::WriteSnapshotRequest no_key = Request("", 1699999000);
  v1::WriteSnapshotResponse response;
  absl::Status status = WriteSnap(no_key, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "idempotency_key")) << status;
  EXPECT_EQ(Count("snapshots"), 0);
  EXPECT_EQ(Count("snapshot_items"), 0);
}

TEST_F(SnapshotsRepoTest, TooManyItemsIsResourceExhausted) {
  v1::WriteSnapshotRequest request = Request("big", 1699999000);
  for (size_t i = 0; i <= kMaxSnapshotItems; ++i) {
    v1::BalanceItem* item = request.add_items();
    item->set_account_id(EvmId(1));
  }
  v1::WriteSnapshotResponse response;
  absl::Status status = WriteSnap(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "100000")) << status;
}

TEST_F(SnapshotsRepoTest, FailedRefreshKeepsLastKnownValue) {
  AddIds({EvmId(1)});
  v1::WriteSnapshotRequest first = Request("run-1", 1699990000);
  AddAmount(&first, EvmId(1), kEth, "42")->set_block_number(100);
  v1::WriteSnapshotResponse first_response;
  ASSERT_TRUE(WriteSnap(first, &first_response).ok());
  v1::WriteSnapshotRequest second = Request("run-2", 1699995000);
  AddError(&second, EvmId(1), kEth, "rate limited")
      ->mutable_error()
      ->mutable_retry_after()
      ->set_seconds(60);
  v1::WriteSnapshotResponse second_response;
  ASSERT_TRUE(WriteSnap(second, &second_response).ok());
  EXPECT_EQ(second_response.snapshot().failed_items(), 1u);

  v1::GetLatestBalancesResponse latest = LatestAll();
  ASSERT_EQ(latest.balances_size(), 1);
  const v1::LatestBalance& balance = latest.balances(0);
  EXPECT_EQ(balance.amount().units(), "42");
  EXPECT_EQ(balance.as_of().seconds(), 1699990000);
  EXPECT_EQ(balance.age().seconds(), 10000);
  EXPECT_EQ(balance.block_number(), 100u);
  EXPECT_EQ(balance.snapshot_id(), first_response.snapshot().snapshot_id());
  EXPECT_EQ(balance.error().message(), "rate limited");
  EXPECT_EQ(balance.error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(balance.error().retry_after().seconds(), 60);
  EXPECT_EQ(balance.last_attempt_at().seconds(), 1699995000);

  // exclude_zero never hides a failed reading; a later success clears the error.
  v1::WriteSnapshotRequest third = Request("run-3", 1699998000);
  AddAmount(&third, EvmId(1), kEth, "0");
  v1::WriteSnapshotResponse third_response;
  ASSERT_TRUE(WriteSnap(third, &third_response).ok());
  latest = LatestAll();
  ASSERT_EQ(latest.balances_size(), 1);
  EXPECT_EQ(latest.balances(0).amount().units(), "0");
  EXPECT_FALSE(latest.balances(0).has_error());
  v1::GetLatestBalancesRequest exclude;
  exclude.set_exclude_zero(true);
  ASSERT_TRUE(Latest(exclude, &latest).ok());
  EXPECT_EQ(latest.balances_size(), 0);

  // An older snapshot written late does not replace the newer reading.
  v1::WriteSnapshotRequest late = Request("run-0", 1699980000);
  AddError(&late, EvmId(1), kEth, "old failure");
  v1::WriteSnapshotResponse late_response;
  ASSERT_TRUE(WriteSnap(late, &late_response).ok());
  latest = LatestAll();
  EXPECT_EQ(latest.balances(0).amount().units(), "0");
  EXPECT_FALSE(latest.balances(0).has_error());
  EXPECT_EQ(latest.balances(0).last_attempt_at().seconds(), 1699998000);
}

TEST_F(SnapshotsRepoTest, UnregisteredAccountsAreSkippedAndCounted) {
  AddIds({EvmId(1)});
  v1::WriteSnapshotRequest request = Request("run-1", 1699999000);
  AddAmount(&request, EvmId(1), kEth, "1");
  AddAmount(&request, EvmId(2), kEth, "2");
  AddError(&request, EvmId(3), kEth, "x");
  v1::WriteSnapshotResponse response;
  ASSERT_TRUE(WriteSnap(request, &response).ok());
  EXPECT_EQ(response.snapshot().items(), 1u);
  EXPECT_EQ(response.snapshot().failed_items(), 0u);
  EXPECT_EQ(response.snapshot().skipped_items(), 2u);
  EXPECT_EQ(Count("snapshot_items"), 1);
  EXPECT_EQ(Count("latest_balances"), 1);
}

TEST_F(SnapshotsRepoTest, Uint256MaxRoundTrips) {
  AddIds({EvmId(1)});
  v1::WriteSnapshotRequest request = Request("run-1", 1699999000);
  AddAmount(&request, EvmId(1), kUsdc, std::string(chain::kMaxUint256), 255);
  v1::WriteSnapshotResponse response;
  ASSERT_TRUE(WriteSnap(request, &response).ok());
  v1::GetLatestBalancesResponse latest = LatestAll();
  ASSERT_EQ(latest.balances_size(), 1);
  EXPECT_EQ(latest.balances(0).amount().units(), chain::kMaxUint256);
  EXPECT_EQ(latest.balances(0).amount().decimals(), 255u);
}

TEST_F(SnapshotsRepoTest, FenceIsChecked) {
  AddIds({EvmId(1)});
  PutLease("scheduler", "replica-a", 3, kNow + absl::Seconds(30));
  int n = 0;
  auto write = [&](const std::string& lease, const std::string& holder, uint64_t epoch,
                   absl::Time now = kNow) {
    v1::WriteSnapshotRequest request = Request(absl::StrCat("run-", ++n), 1699999000);
    if (!lease.empty() || !holder.empty() || epoch != 0) {
      request.mutable_fence()->set_lease_name(lease);
      request.mutable_fence()->set_holder_id(holder);
      request.mutable_fence()->set_epoch(epoch);
    }
    AddAmount(&request, EvmId(1), kEth, "1");
    v1::WriteSnapshotResponse response;
    return WriteSnap(request, &response, now);
  };
  EXPECT_TRUE(write("scheduler", "replica-a", 3).ok());
  EXPECT_EQ(write("scheduler", "replica-a", 2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(write("scheduler", "replica-b", 3).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(write("scheduler", "replica-a", 3, kNow + absl::Seconds(30)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(write("other", "replica-a", 3).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(write("scheduler", "", 3).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(write("scheduler", "replica-a", 0).code(), absl::StatusCode::kInvalidArgument);
  // No fence: not checked, lease row or not.
  EXPECT_TRUE(write("", "", 0).ok());
  // An empty fence message counts as none.
  v1::WriteSnapshotRequest empty_fence = Request("empty-fence", 1699999000);
  empty_fence.mutable_fence();
  AddAmount(&empty_fence, EvmId(1), kEth, "1");
  v1::WriteSnapshotResponse response;
  EXPECT_TRUE(WriteSnap(empty_fence, &response).ok());
  EXPECT_EQ(Count("snapshots"), 3);
}

TEST_F(SnapshotsRepoTest, PageTokensWorkForEveryFilter) {
  // A token carries a digest of the filters; a digest holding a NUL byte once
  // broke the token's parsing. Many filter sets make such digests certain.
  AddIds({EvmId(1), EvmId(2)});
  v1::WriteSnapshotRequest request = Request("run-tokens", 1699999000);
  AddAmount(&request, EvmId(1), kEth, "1");
  AddAmount(&request, EvmId(2), kEth, "2");
  v1::WriteSnapshotResponse response;
  ASSERT_TRUE(WriteSnap(request, &response).ok());
  for (int variant = 0; variant < 64; ++variant) {
    v1::GetLatestBalancesRequest paged;
    paged.add_asset_ids(kEth);
    paged.set_chain_id(variant % 2 == 0 ? "eip155:1" : "");
    for (int extra = 0; extra < variant / 2; ++extra) paged.add_asset_ids(kUsdc);
    paged.mutable_page()->set_page_size(1);
    v1::GetLatestBalancesResponse latest;
    ASSERT_TRUE(Latest(paged, &latest).ok()) << variant;
    ASSERT_EQ(latest.balances_size(), 1) << variant;
    paged.mutable_page()->set_page_token(latest.page().next_page_token());
    absl::Status second = Latest(paged, &latest);
    ASSERT_TRUE(second.ok()) << "variant " << variant << ": " << second;
    ASSERT_EQ(latest.balances_size(), 1) << variant;
    EXPECT_EQ(latest.balances(0).account_id(), EvmId(2)) << variant;
  }
}

TEST_F(SnapshotsRepoTest, LatestBalancesFiltersAndPages) {
  AddIds({EvmId(1), EvmId(2)}, {"hot"});
  AddIds({EvmId(3)});
  v1::WriteSnapshotRequest request = Request("run-1", 1699999000);
  for (int i = 1; i <= 4; ++i) {
    AddAmount(&request, EvmId(i), kEth, absl::StrCat(i));
    AddAmount(&request, EvmId(i), kUsdc, absl::StrCat(i * 10), 6);
  }
  v1::WriteSnapshotResponse response;
  ASSERT_TRUE(WriteSnap(request, &response).ok());
  EXPECT_EQ(response.snapshot().skipped_items(), 2u);

  v1::GetLatestBalancesRequest filter;
  filter.add_tags("hot");
  filter.add_asset_ids(kUsdc);
  v1::GetLatestBalancesResponse latest;
  ASSERT_TRUE(Latest(filter, &latest).ok());
  ASSERT_EQ(latest.balances_size(), 2);
  EXPECT_EQ(latest.balances(0).account_id(), EvmId(1));
  EXPECT_EQ(latest.balances(1).account_id(), EvmId(2));
  EXPECT_EQ(latest.balances(1).amount().units(), "20");

  v1::GetLatestBalancesRequest named;
  named.add_account_ids(EvmId(3));
  ASSERT_TRUE(Latest(named, &latest).ok());
  EXPECT_EQ(latest.balances_size(), 2);
  named.set_chain_id("eip155:10");
  ASSERT_TRUE(Latest(named, &latest).ok());
  EXPECT_EQ(latest.balances_size(), 0);

  // Pages of 4 over the 6 balances.
  v1::GetLatestBalancesRequest paged;
  paged.mutable_page()->set_page_size(4);
  ASSERT_TRUE(Latest(paged, &latest).ok());
  ASSERT_EQ(latest.balances_size(), 4);
  ASSERT_FALSE(latest.page().next_page_token().empty());
  EXPECT_EQ(latest.balances(3).account_id(), EvmId(2));
  EXPECT_EQ(latest.balances(3).asset_id(), kEth);
  paged.mutable_page()->set_page_token(latest.page().next_page_token());
  ASSERT_TRUE(Latest(paged, &latest).ok());
  ASSERT_EQ(latest.balances_size(), 2);
  EXPECT_EQ(latest.balances(0).account_id(), EvmId(3));
  EXPECT_TRUE(latest.page().next_page_token().empty());
  paged.set_exclude_zero(true);
  EXPECT_EQ(Latest(paged, &latest).code(), absl::StatusCode::kInvalidArgument);

  v1::GetLatestBalancesRequest bad;
  bad.add_account_ids("nope");
  absl::Status status = Latest(bad, &latest);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "account_ids[0]")) << status;
}

}  // namespace
}  // namespace coffer::storage
