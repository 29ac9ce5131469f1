// Open snapshots (written in parts, not committed: schema.cc, version 6) are
// no snapshots to any reader, retention or RemoveAccounts' history: each
// test puts one among committed snapshots written with WriteSnapshot and
// checks the reader answers what it would without it.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/account_history.h"
#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/history_repo.h"
#include "services/storage/repos/portfolio_repo.h"
#include "services/storage/repos/retention_repo.h"
#include "services/storage/repos/snapshot_reads_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/open_snapshot_rows.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

// Seconds before kNow.
int64_t Ago(int64_t seconds) { return absl::ToUnixSeconds(kNow) - seconds; }

v1::PruneRequest PruneBy(int64_t max_age_seconds, uint32_t keep_last, bool dry_run = false) {
  v1::PruneRequest request;
  request.mutable_retention()->mutable_snapshot_max_age()->set_seconds(max_age_seconds);
  request.mutable_retention()->set_snapshot_keep_last(keep_last);
  request.set_dry_run(dry_run);
  return request;
}

class OpenSnapshotsTest : public RepoTestBase {
 protected:
  void SetUp() override {
    RepoTestBase::SetUp();
    AddIds({EvmId(1), EvmId(2), EvmId(3)});
  }

  // Writes a committed snapshot; expects success and answers its id.
  std::string WriteSnap(const v1::WriteSnapshotRequest& request) {
    v1::WriteSnapshotResponse response;
    absl::Status status =
        Write([&](db::WriteContext& tx) { return WriteSnapshot(tx, request, &response, kNow); });
    EXPECT_TRUE(status.ok()) << status;
    return response.snapshot().snapshot_id();
  }

  // An open snapshot taken at `taken_at_seconds`, opened a minute before
  // kNow, reading `units` of ETH for accounts 1 to 3 over two parts;
  // answers its id.
  std::string Open(const std::string& key, int64_t taken_at_seconds,
                   const std::string& units = "999") {
    OpenSnapshot open;
    open.idempotency_key = key;
    open.taken_at = absl::FromUnixSeconds(taken_at_seconds);
    open.open_since = kNow - absl::Minutes(1);
    for (int account = 1; account <= 3; ++account) {
      open.items.push_back({EvmId(account), kEth, units});
    }
    open.parts = 2;
    int64_t id = 0;
    absl::Status status = Write([&](db::WriteContext& tx) -> absl::Status {
      ASSIGN_OR_RETURN(id, InsertOpenSnapshot(tx, open));
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return SnapshotIdText(id);
  }

  // Snapshot `key`'s rows: itself, its items and its parts.
  std::string RowsOf(const std::string& key) {
    return RowsOfSnapshot(key, [this](const std::string& rows) { return Count(rows); });
  }

  std::vector<std::string> ListKeys(v1::ListSnapshotsRequest request) {
    std::vector<std::string> keys;
    for (int pages = 0; pages < 100; ++pages) {
      v1::ListSnapshotsResponse response;
      absl::Status status =
          Read([&](db::ReadContext& tx) { return ListSnapshots(tx, request, &response); });
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) break;
      for (const v1::Snapshot& snapshot : response.snapshots()) {
        keys.push_back(snapshot.idempotency_key());
      }
      if (response.page().next_page_token().empty()) break;
      request.mutable_page()->set_page_token(response.page().next_page_token());
    }
    return keys;
  }

  // Every point of `request`, page by page of `page_size`, as
  // "snapshot_id account units" (account "" for sums).
  std::vector<std::string> HistoryPoints(v1::GetBalanceHistoryRequest request, int32_t page_size) {
    std::vector<std::string> points;
    request.mutable_page()->set_page_size(page_size);
    for (int pages = 0; pages < 100; ++pages) {
      v1::GetBalanceHistoryResponse response;
      absl::Status status =
          Read([&](db::ReadContext& tx) { return GetBalanceHistory(tx, request, &response); });
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) break;
      for (const v1::BalancePoint& point : response.points()) {
        points.push_back(absl::StrCat(point.snapshot_id(), " ", point.account_id(), " ",
                                      point.amount().units()));
      }
      if (response.page().next_page_token().empty()) break;
      request.mutable_page()->set_page_token(response.page().next_page_token());
    }
    return points;
  }

  absl::Status Prune(const v1::PruneRequest& request, v1::PruneResponse* response,
                     int64_t max_deleted_rows = 5000) {
    PruneLimits limits;
    limits.max_deleted_rows = max_deleted_rows;
    PruneProgress progress;
    for (int chunks = 0; chunks < 1000 && !progress.finished(); ++chunks) {
      absl::Status status = Write([&](db::WriteContext& tx) {
        return PruneChunk(tx, request, limits, progress, response, kNow);
      });
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // Committed snapshots "a" (t0) and "b" (t0 + 20) of accounts 1 and 2, and
  // the open "open" between them (t0 + 10) of accounts 1 to 3.
  void WriteAroundAnOpenSnapshot() {
    v1::WriteSnapshotRequest a = Request("a", t0_);
    AddAmount(&a, EvmId(1), kEth, "100");
    AddAmount(&a, EvmId(2), kEth, "200");
    a_ = WriteSnap(a);
    open_ = Open("open", t0_ + 10);
    v1::WriteSnapshotRequest b = Request("b", t0_ + 20);
    AddAmount(&b, EvmId(1), kEth, "101");
    AddAmount(&b, EvmId(2), kEth, "201");
    b_ = WriteSnap(b);
  }

  void ExpectPruneByAgeLeavesTheOpenOne(int64_t max_deleted_rows);

  const int64_t t0_ = Ago(1000);
  std::string a_;
  std::string open_;
  std::string b_;
};

TEST_F(OpenSnapshotsTest, ListSnapshotsLeavesThemOut) {
  WriteAroundAnOpenSnapshot();
  v1::ListSnapshotsRequest request;
  EXPECT_EQ(ListKeys(request), (std::vector<std::string>{"b", "a"}));
  // Pages of one step over it too.
  request.mutable_page()->set_page_size(1);
  EXPECT_EQ(ListKeys(request), (std::vector<std::string>{"b", "a"}));
  // A range holding only the open snapshot holds none.
  request.mutable_start_time()->set_seconds(t0_ + 10);
  request.mutable_end_time()->set_seconds(t0_ + 11);
  EXPECT_TRUE(ListKeys(request).empty());
}

TEST_F(OpenSnapshotsTest, GetSnapshotAnswersNotFound) {
  WriteAroundAnOpenSnapshot();
  for (const bool failed_only : {false, true}) {
    v1::GetSnapshotRequest request;
    request.set_snapshot_id(open_);
    request.set_failed_only(failed_only);
    v1::GetSnapshotResponse response;
    absl::Status status =
        Read([&](db::ReadContext& tx) { return GetSnapshot(tx, request, &response); });
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), open_)) << status;
    EXPECT_EQ(response.items_size(), 0);
  }
  // The committed ones around it answer as ever.
  v1::GetSnapshotRequest request;
  request.set_snapshot_id(b_);
  v1::GetSnapshotResponse response;
  ASSERT_TRUE(Read([&](db::ReadContext& tx) { return GetSnapshot(tx, request, &response); }).ok());
  EXPECT_EQ(response.snapshot().idempotency_key(), "b");
  EXPECT_EQ(response.items_size(), 2);
}

TEST_F(OpenSnapshotsTest, AssetHistoryLeavesTheirItemsOut) {
  WriteAroundAnOpenSnapshot();
  v1::GetBalanceHistoryRequest request;
  request.set_asset_id(kEth);
  const std::vector<std::string> oldest_first = {
      absl::StrCat(a_, " ", EvmId(1), " 100"), absl::StrCat(a_, " ", EvmId(2), " 200"),
      absl::StrCat(b_, " ", EvmId(1), " 101"), absl::StrCat(b_, " ", EvmId(2), " 201")};
  EXPECT_EQ(HistoryPoints(request, 100), oldest_first);
  // Page boundaries (cursors) next to the open snapshot's taken_at.
  EXPECT_EQ(HistoryPoints(request, 1), oldest_first);
  request.set_newest_first(true);
  EXPECT_EQ(HistoryPoints(request, 1),
            std::vector<std::string>(oldest_first.rbegin(), oldest_first.rend()));

  request.set_newest_first(false);
  request.set_sum_accounts(true);
  EXPECT_EQ(HistoryPoints(request, 1),
            (std::vector<std::string>{absl::StrCat(a_, "  300"), absl::StrCat(b_, "  302")}));
}

TEST_F(OpenSnapshotsTest, AssetHistoryStillReadsItsIndexInOrder) {
  WriteAroundAnOpenSnapshot();
  v1::GetBalanceHistoryRequest request;
  request.set_asset_id(kEth);
  request.mutable_start_time()->set_seconds(t0_);
  std::vector<std::string> plan;
  ASSERT_TRUE(Read([&](db::ReadContext& tx) -> absl::Status {
                ASSIGN_OR_RETURN(plan, ExplainBalanceHistory(tx, request));
                return absl::OkStatus();
              }).ok());
  const std::string text = absl::StrJoin(plan, "\n");
  auto has = [&plan](absl::string_view line) {
    return std::find(plan.begin(), plan.end(), line) != plan.end();
  };
  EXPECT_TRUE(
      has("SEARCH TABLE snapshot_items AS i USING INDEX snapshot_items_by_asset_time "
          "(asset_id=? AND taken_at>? AND taken_at<?)"))
      << text;
  // The open snapshots come from their own small index, listed once.
  EXPECT_TRUE(has("EXECUTE LIST SUBQUERY 1")) << text;
  EXPECT_TRUE(has("SCAN TABLE snapshots USING COVERING INDEX snapshots_open")) << text;
  for (const std::string& line : plan) {
    EXPECT_FALSE(absl::StartsWith(line, "USE TEMP B-TREE FOR ORDER BY")) << text;
    EXPECT_FALSE(absl::StartsWith(line, "SCAN TABLE snapshot_items")) << text;
  }
}

TEST_F(OpenSnapshotsTest, AccountHistoryLeavesTheirItemsOutPendingOrMerged) {
  for (const bool merged : {false, true}) {
    SCOPED_TRACE(merged ? "merged" : "pending");
    if (merged) {
      ASSERT_TRUE(Write([](db::WriteContext& tx) { return MergeAccountHistory(tx); }).ok());
    } else {
      WriteAroundAnOpenSnapshot();
    }
    v1::GetBalanceHistoryRequest request;
    request.set_account_id(EvmId(1));
    EXPECT_EQ(HistoryPoints(request, 100),
              (std::vector<std::string>{absl::StrCat(a_, " ", EvmId(1), " 100"),
                                        absl::StrCat(b_, " ", EvmId(1), " 101")}));
    request.set_asset_id(kEth);
    request.set_newest_first(true);
    EXPECT_EQ(HistoryPoints(request, 1),
              (std::vector<std::string>{absl::StrCat(b_, " ", EvmId(1), " 101"),
                                        absl::StrCat(a_, " ", EvmId(1), " 100")}));
    // Account 3 is only in the open snapshot.
    request.set_account_id(EvmId(3));
    EXPECT_TRUE(HistoryPoints(request, 100).empty());
  }
}

TEST_F(OpenSnapshotsTest, LatestBalancesAndPortfolioLeaveThemOut) {
  v1::WriteSnapshotRequest a = Request("a", Ago(100));
  AddAmount(&a, EvmId(1), kEth, "100");
  WriteSnap(a);
  // Newer than the committed one, so it would be the latest reading.
  Open("open", Ago(10));

  v1::GetLatestBalancesRequest latest;
  v1::GetLatestBalancesResponse balances;
  ASSERT_TRUE(Read([&](db::ReadContext& tx) {
                return GetLatestBalances(tx, latest, &balances, kNow);
              }).ok());
  ASSERT_EQ(balances.balances_size(), 1);
  EXPECT_EQ(balances.balances(0).account_id(), EvmId(1));
  EXPECT_EQ(balances.balances(0).amount().units(), "100");
  EXPECT_EQ(balances.balances(0).last_attempt_at().seconds(), Ago(100));

  v1::GetPortfolioRequest request;
  v1::GetPortfolioResponse portfolio;
  ASSERT_TRUE(
      Read([&](db::ReadContext& tx) { return GetPortfolio(tx, request, &portfolio); }).ok());
  ASSERT_EQ(portfolio.assets_size(), 1);
  EXPECT_EQ(portfolio.assets(0).amount().units(), "100");
  EXPECT_EQ(portfolio.assets(0).accounts(), 1u);
  EXPECT_EQ(portfolio.as_of().seconds(), Ago(100));
}

// Snapshots a, open and b of WriteAroundAnOpenSnapshot, all older than
// 100 s, pruned by that age in chunks of `max_deleted_rows`.
void OpenSnapshotsTest::ExpectPruneByAgeLeavesTheOpenOne(int64_t max_deleted_rows) {
  WriteAroundAnOpenSnapshot();
  // A newer snapshot holds the latest balances, so nothing of a and b is kept.
  v1::WriteSnapshotRequest c = Request("c", Ago(10));
  AddAmount(&c, EvmId(1), kEth, "102");
  AddAmount(&c, EvmId(2), kEth, "202");
  WriteSnap(c);
  const std::string open_rows = RowsOf("open");
  EXPECT_EQ(open_rows, "1 3 2");

  v1::PruneResponse dry;
  ASSERT_TRUE(Prune(PruneBy(100, 0, /*dry_run=*/true), &dry).ok());
  EXPECT_EQ(dry.snapshots_deleted(), 2u);
  EXPECT_EQ(dry.items_deleted(), 4u);
  EXPECT_EQ(dry.items_kept(), 0u);

  v1::PruneResponse pruned;
  ASSERT_TRUE(Prune(PruneBy(100, 0), &pruned, max_deleted_rows).ok());
  EXPECT_EQ(pruned.snapshots_deleted(), 2u);
  EXPECT_EQ(pruned.items_deleted(), 4u);
  EXPECT_EQ(pruned.items_kept(), 0u);
  EXPECT_EQ(RowsOf("a"), "0 0 0");
  EXPECT_EQ(RowsOf("b"), "0 0 0");
  EXPECT_EQ(RowsOf("open"), open_rows);
  EXPECT_EQ(RowsOf("c"), "1 2 0");
}

TEST_F(OpenSnapshotsTest, PruneByAgeNeitherDeletesNorCountsThem) {
  ExpectPruneByAgeLeavesTheOpenOne(5000);
}

TEST_F(OpenSnapshotsTest, PruneByAgeInChunksStepsOverThem) { ExpectPruneByAgeLeavesTheOpenOne(1); }

TEST_F(OpenSnapshotsTest, PruneKeepLastCountsOnlyCommittedSnapshots) {
  WriteAroundAnOpenSnapshot();
  // Newest of all, and the oldest of all.
  Open("open newest", t0_ + 30);
  Open("open oldest", t0_ - 10);

  v1::PruneResponse dry;
  ASSERT_TRUE(Prune(PruneBy(0, 1, /*dry_run=*/true), &dry).ok());
  EXPECT_EQ(dry.snapshots_deleted(), 1u);

  v1::PruneResponse pruned;
  ASSERT_TRUE(Prune(PruneBy(0, 1), &pruned).ok());
  EXPECT_EQ(pruned.snapshots_deleted(), 1u);
  EXPECT_EQ(pruned.items_deleted(), 2u);
  EXPECT_EQ(pruned.items_kept(), 0u);
  EXPECT_EQ(RowsOf("a"), "0 0 0");
  EXPECT_EQ(RowsOf("b"), "1 2 0");
  for (const char* key : {"open", "open newest", "open oldest"}) {
    EXPECT_EQ(RowsOf(key), "1 3 2") << key;
  }
  EXPECT_EQ(ListKeys(v1::ListSnapshotsRequest()), (std::vector<std::string>{"b"}));
}

TEST_F(OpenSnapshotsTest, RemoveAccountsWithDeleteHistoryTakesTheirItemsToo) {
  WriteAroundAnOpenSnapshot();
  v1::RemoveAccountsRequest request;
  request.add_account_ids(EvmId(3));
  v1::RemoveAccountsResponse response;
  // Without delete_history every item stays, the open snapshot's included.
  ASSERT_TRUE(
      Write([&](db::WriteContext& tx) { return RemoveAccounts(tx, request, &response); }).ok());
  EXPECT_EQ(RowsOf("open"), "1 3 2");

  AddIds({EvmId(3)});
  request.add_account_ids(EvmId(1));
  request.set_delete_history(true);
  ASSERT_TRUE(
      Write([&](db::WriteContext& tx) { return RemoveAccounts(tx, request, &response); }).ok());
  // Only account 2's item is left of the open snapshot, which stays open
  // with its parts for its commit.
  EXPECT_EQ(RowsOf("open"), "1 1 2");
  EXPECT_EQ(Count(absl::StrCat("snapshot_items WHERE account_id = '", EvmId(2), "'")), 3);
  EXPECT_EQ(Count("snapshot_items"), 3);
  EXPECT_EQ(RowsOf("a"), "1 1 0");
}

}  // namespace
}  // namespace coffer::storage
