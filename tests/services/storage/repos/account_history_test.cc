// The account-history index written in batches (account_history.h): when
// snapshots are merged, that the merge holds every item once, and that
// history reads and deletions see merged and pending items alike.
#include "services/storage/repos/account_history.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/history_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

class AccountHistoryTest : public RepoTestBase {
 protected:
  // A snapshot of accounts [0, accounts), one ether reading each.
  absl::Status WriteSnap(const std::string& key, int64_t taken_at, int accounts) {
    v1::WriteSnapshotRequest request = Request(key, taken_at);
    for (int i = 0; i < accounts; ++i) AddAmount(&request, EvmId(i), kEth, absl::StrCat(i + 1));
    v1::WriteSnapshotResponse response;
    return Write([&](db::WriteContext& tx) { return WriteSnapshot(tx, request, &response, kNow); });
  }

  PendingAccountHistory Pending() {
    PendingAccountHistory pending;
    EXPECT_TRUE(Read([&](db::ReadContext& tx) -> absl::Status {
                  absl::StatusOr<PendingAccountHistory> counted =
                      CountPendingAccountHistory(tx.connection());
                  if (!counted.ok()) return counted.status();
                  pending = *counted;
                  return absl::OkStatus();
                }).ok());
    return pending;
  }

  std::vector<std::string> Amounts(const std::string& account_id) {
    v1::GetBalanceHistoryRequest request;
    request.set_account_id(account_id);
    request.mutable_page()->set_page_size(kMaxHistoryPageSize);
    v1::GetBalanceHistoryResponse response;
    EXPECT_TRUE(
        Read([&](db::ReadContext& tx) { return GetBalanceHistory(tx, request, &response); }).ok());
    std::vector<std::string> amounts;
    for (const v1::BalancePoint& point : response.points()) {
      amounts.push_back(absl::StrCat(point.taken_at().seconds(), ":", point.amount().units()));
    }
    return amounts;
  }
};

TEST_F(AccountHistoryTest, SnapshotsWaitUntilEnoughSnapshotsArePending) {
  AddIds({EvmId(0), EvmId(1)});
  for (int i = 1; i < kAccountHistoryMergeSnapshots; ++i) {
    ASSERT_TRUE(WriteSnap(absl::StrCat("s", i), 1000 + i, 2).ok());
  }
  EXPECT_EQ(Pending().snapshots, kAccountHistoryMergeSnapshots - 1);
  EXPECT_EQ(Pending().items, 2 * (kAccountHistoryMergeSnapshots - 1));
  EXPECT_EQ(Count("account_history"), 0);
  EXPECT_EQ(Amounts(EvmId(1)).size(), static_cast<size_t>(kAccountHistoryMergeSnapshots - 1));

  // The last one pending merges every one, its own included, once each.
  ASSERT_TRUE(WriteSnap("last", 5000, 2).ok());
  EXPECT_EQ(Pending().snapshots, 0);
  EXPECT_EQ(Count("account_history"), 2 * kAccountHistoryMergeSnapshots);
  EXPECT_EQ(Count("account_history"), Count("snapshot_items"));
  const std::vector<std::string> history = Amounts(EvmId(1));
  ASSERT_EQ(history.size(), static_cast<size_t>(kAccountHistoryMergeSnapshots));
  EXPECT_EQ(history.front(), "1001:2");
  EXPECT_EQ(history.back(), "5000:2");
}

TEST_F(AccountHistoryTest, ABigSnapshotIsMergedAtOnce) {
  const int accounts = static_cast<int>(kAccountHistoryMergeItems);
  std::vector<std::string> ids;
  for (int i = 0; i < accounts; ++i) ids.push_back(EvmId(i));
  AddIds(ids);
  ASSERT_TRUE(WriteSnap("small", 1000, 3).ok());
  EXPECT_EQ(Pending().items, 3);
  ASSERT_TRUE(WriteSnap("big", 2000, accounts).ok());
  EXPECT_EQ(Pending().snapshots, 0);
  EXPECT_EQ(Count("account_history"), accounts + 3);
  EXPECT_EQ(Amounts(EvmId(2)), (std::vector<std::string>{"1000:3", "2000:3"}));
  EXPECT_EQ(Amounts(EvmId(accounts - 1)),
            (std::vector<std::string>{absl::StrCat("2000:", accounts)}));
}

TEST_F(AccountHistoryTest, NothingStoredNothingPending) {
  // Account 0 is not registered: its reading is skipped, not stored.
  v1::WriteSnapshotRequest request = Request("unregistered", 1000);
  AddAmount(&request, EvmId(0), kEth, "5");
  v1::WriteSnapshotResponse response;
  ASSERT_TRUE(Write([&](db::WriteContext& tx) {
                return WriteSnapshot(tx, request, &response, kNow);
              }).ok());
  EXPECT_EQ(response.snapshot().skipped_items(), 1);
  EXPECT_EQ(Pending().snapshots, 0);
}

TEST_F(AccountHistoryTest, DeletionsReachMergedAndPendingItems) {
  AddIds({EvmId(0), EvmId(1)});
  ASSERT_TRUE(WriteSnap("merged", 1000, 2).ok());
  ASSERT_TRUE(Write([](db::WriteContext& tx) { return MergeAccountHistory(tx); }).ok());
  ASSERT_TRUE(WriteSnap("pending", 2000, 2).ok());
  EXPECT_EQ(Amounts(EvmId(0)), (std::vector<std::string>{"1000:1", "2000:1"}));

  v1::RemoveAccountsRequest remove;
  remove.add_account_ids(EvmId(0));
  remove.set_delete_history(true);
  v1::RemoveAccountsResponse removed;
  ASSERT_TRUE(
      Write([&](db::WriteContext& tx) { return RemoveAccounts(tx, remove, &removed); }).ok());
  EXPECT_TRUE(Amounts(EvmId(0)).empty());
  EXPECT_EQ(Amounts(EvmId(1)), (std::vector<std::string>{"1000:2", "2000:2"}));
  EXPECT_EQ(Count("account_history"), 1);  // account 1's merged reading
  EXPECT_EQ(Count("snapshot_items"), 2);
}

}  // namespace
}  // namespace coffer::storage
