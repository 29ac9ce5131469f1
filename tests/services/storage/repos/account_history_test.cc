// The account-history index written in batches (account_history.h): when a
// merge is due, that its steps hold every item once and keep history reads
// exact after every step, whatever happens mid-pass (snapshots written,
// pruned, accounts removed), and that the write path merges only at the
// inline caps.
#include "services/storage/repos/account_history.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "common/metrics/registry.h"
#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/history_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

using History = std::map<std::string, std::vector<std::string>>;

class AccountHistoryTest : public RepoTestBase {
 protected:
  // A snapshot of accounts [0, accounts), one ether reading each.
  absl::Status WriteSnap(const std::string& key, int64_t taken_at, int accounts) {
    std::vector<int> all;
    for (int i = 0; i < accounts; ++i) all.push_back(i);
    return WriteSnapOf(key, taken_at, all);
  }

  // A snapshot of `accounts`, an ether reading each (amount: account + 1 +
  // taken_at), and a USDC one for every third account: an account's items
  // are not always one.
  absl::Status WriteSnapOf(const std::string& key, int64_t taken_at,
                           const std::vector<int>& accounts, bool usdc = false) {
    v1::WriteSnapshotRequest request = Request(key, taken_at);
    for (int i : accounts) {
      AddAmount(&request, EvmId(i), kEth, absl::StrCat(i + 1 + (taken_at - 1000) * 100));
      if (usdc && i % 3 == 0) AddAmount(&request, EvmId(i), kUsdc, absl::StrCat(i + 7), 6);
    }
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

  // One merge step in its own transaction; what it answered.
  bool Step(int64_t max_items) {
    bool more = false;
    const absl::Status status = Write([&](db::WriteContext& tx) -> absl::Status {
      absl::StatusOr<bool> stepped = MergeAccountHistoryStep(tx, max_items);
      if (!stepped.ok()) return stepped.status();
      more = *stepped;
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return more;
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
      amounts.push_back(absl::StrCat(point.taken_at().seconds(), ":", point.asset_id(), ":",
                                     point.amount().units()));
    }
    return amounts;
  }

  History HistoryOf(int accounts) {
    History history;
    for (int i = 0; i < accounts; ++i) history[EvmId(i)] = Amounts(EvmId(i));
    return history;
  }

  // How far the pass in progress has merged ('' for none).
  std::string Cursor() {
    std::string cursor;
    EXPECT_TRUE(Read([&](db::ReadContext& tx) -> absl::Status {
                  absl::StatusOr<db::CachedStatement> select = tx.Prepare(
                      "SELECT IFNULL(MAX(merged_below), '') FROM account_history_pending");
                  if (!select.ok()) return select.status();
                  absl::StatusOr<bool> row = (*select)->Step();
                  if (!row.ok()) return row.status();
                  cursor = std::string((*select)->ColumnText(0));
                  return absl::OkStatus();
                }).ok());
    return cursor;
  }

  void RemoveWithHistory(const std::vector<std::string>& ids) {
    v1::RemoveAccountsRequest remove;
    for (const std::string& id : ids) remove.add_account_ids(id);
    remove.set_delete_history(true);
    v1::RemoveAccountsResponse removed;
    ASSERT_TRUE(
        Write([&](db::WriteContext& tx) { return RemoveAccounts(tx, remove, &removed); }).ok());
  }

  static double PendingGauge() {
    return metrics::Registry::Global()
        .GetGauge("coffer_storage_account_history_pending_items")
        .Value();
  }

  // Registers accounts [0, n).
  void AddAccountsUpTo(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(EvmId(i));
    AddIds(ids);
  }
};

TEST_F(AccountHistoryTest, AStepIsDueOnceEnoughSnapshotsArePending) {
  AddAccountsUpTo(2);
  for (int i = 1; i < kAccountHistoryMergeSnapshots; ++i) {
    ASSERT_TRUE(WriteSnap(absl::StrCat("s", i), 1000 + i, 2).ok());
  }
  EXPECT_FALSE(Step(1000));  // not due
  EXPECT_EQ(Pending().snapshots, kAccountHistoryMergeSnapshots - 1);
  EXPECT_EQ(Pending().items, 2 * (kAccountHistoryMergeSnapshots - 1));
  EXPECT_EQ(PendingGauge(), 2 * (kAccountHistoryMergeSnapshots - 1));
  EXPECT_EQ(Count("account_history"), 0);
  EXPECT_EQ(Amounts(EvmId(1)).size(), static_cast<size_t>(kAccountHistoryMergeSnapshots - 1));

  // The write itself merges nothing; the step it made due merges every
  // pending snapshot, its own included, once each.
  ASSERT_TRUE(WriteSnap("last", 5000, 2).ok());
  EXPECT_EQ(Pending().snapshots, kAccountHistoryMergeSnapshots);
  EXPECT_EQ(Count("account_history"), 0);
  EXPECT_FALSE(Step(1000));
  EXPECT_EQ(Pending().snapshots, 0);
  EXPECT_EQ(PendingGauge(), 0);
  EXPECT_EQ(Count("account_history"), 2 * kAccountHistoryMergeSnapshots);
  EXPECT_EQ(Count("account_history"), Count("snapshot_items"));
  const std::vector<std::string> history = Amounts(EvmId(1));
  ASSERT_EQ(history.size(), static_cast<size_t>(kAccountHistoryMergeSnapshots));
  EXPECT_EQ(history.front(), absl::StrCat("1001:", kEth, ":102"));
  EXPECT_EQ(history.back(), absl::StrCat("5000:", kEth, ":400002"));
  EXPECT_FALSE(Step(1000));  // nothing left
}

TEST_F(AccountHistoryTest, ABigSnapshotMakesAStepDue) {
  const int accounts = static_cast<int>(kAccountHistoryMergeItems);
  AddAccountsUpTo(accounts);
  ASSERT_TRUE(WriteSnap("small", 1000, 3).ok());
  EXPECT_EQ(Pending().items, 3);
  EXPECT_FALSE(Step(1000));
  ASSERT_TRUE(WriteSnap("big", 2000, accounts).ok());
  // Pending, not merged, by the write; read all the same.
  EXPECT_EQ(Pending().snapshots, 2);
  EXPECT_EQ(PendingGauge(), accounts + 3);
  EXPECT_EQ(Count("account_history"), 0);
  EXPECT_EQ(Amounts(EvmId(2)).size(), 2u);

  // Chunks of ~4,000 items, 2,000 accounts of each snapshot: the small one
  // goes whole with the first, the big one over five steps.
  int steps = 0;
  while (Step(4000)) {
    ++steps;
    ASSERT_LT(steps, 10);
    EXPECT_EQ(Count("account_history"), steps * 2000 + 3);
    EXPECT_EQ(PendingGauge(), accounts + 3);  // until the pass ends
  }
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(Pending().snapshots, 0);
  EXPECT_EQ(PendingGauge(), 0);
  EXPECT_EQ(Count("account_history"), accounts + 3);
  EXPECT_EQ(Amounts(EvmId(2)), (std::vector<std::string>{absl::StrCat("1000:", kEth, ":3"),
                                                         absl::StrCat("2000:", kEth, ":100003")}));
  EXPECT_EQ(Amounts(EvmId(accounts - 1)),
            (std::vector<std::string>{absl::StrCat("2000:", kEth, ":", 100000 + accounts)}));
}

TEST_F(AccountHistoryTest, StepsSmallerThanASnapshotKeepHistoryExact) {
  constexpr int kAccounts = 12;
  AddAccountsUpTo(kAccounts);
  // Snapshots of different accounts, some holding two assets per account.
  for (int s = 0; s < kAccountHistoryMergeSnapshots; ++s) {
    std::vector<int> accounts;
    for (int i = 0; i < kAccounts; ++i) {
      if (s % 2 == 0 || (i >= 3 && i < 9)) accounts.push_back(i);
    }
    ASSERT_TRUE(WriteSnapOf(absl::StrCat("s", s), 1000 + s, accounts, /*usdc=*/s % 3 == 0).ok());
  }
  const int64_t items = Count("snapshot_items");
  const History expected = HistoryOf(kAccounts);
  // Ether in the 8 even snapshots, USDC too in 0, 6 and 12.
  static_assert(kAccountHistoryMergeSnapshots == 16);
  ASSERT_EQ(expected.at(EvmId(0)).size(), 11u);

  // About two items per snapshot a step: one or two accounts at a time.
  int steps = 0;
  int64_t merged = 0;
  std::string cursor;
  bool more = true;
  while (more) {
    more = Step(2 * kAccountHistoryMergeSnapshots);
    ++steps;
    ASSERT_LT(steps, 100);
    // Every step commits an exact history and makes progress.
    EXPECT_EQ(HistoryOf(kAccounts), expected) << "after step " << steps;
    EXPECT_GT(Count("account_history"), merged);
    merged = Count("account_history");
    if (more) {
      EXPECT_GT(Cursor(), cursor);
      cursor = Cursor();
      EXPECT_EQ(Pending().snapshots, kAccountHistoryMergeSnapshots);
    }
  }
  EXPECT_GE(steps, kAccounts / 2);
  EXPECT_EQ(Pending().snapshots, 0);
  EXPECT_EQ(Count("account_history"), items);
  EXPECT_EQ(HistoryOf(kAccounts), expected);
}

TEST_F(AccountHistoryTest, ASnapshotWrittenMidPassWaitsForTheNextPass) {
  constexpr int kAccounts = 6;
  AddAccountsUpTo(kAccounts);
  for (int s = 0; s < kAccountHistoryMergeSnapshots; ++s) {
    ASSERT_TRUE(WriteSnap(absl::StrCat("s", s), 1000 + s, kAccounts).ok());
  }
  ASSERT_TRUE(Step(kAccountHistoryMergeSnapshots));  // one account of each
  ASSERT_NE(Cursor(), "");
  ASSERT_TRUE(WriteSnap("mid", 3000, kAccounts).ok());
  const History expected = HistoryOf(kAccounts);
  EXPECT_EQ(expected.at(EvmId(0)).back(), absl::StrCat("3000:", kEth, ":200001"));

  while (Step(kAccountHistoryMergeSnapshots)) {
    EXPECT_EQ(HistoryOf(kAccounts), expected);
  }
  // The pass is over; "mid" alone is pending, and is not due.
  EXPECT_EQ(HistoryOf(kAccounts), expected);
  EXPECT_EQ(Pending().snapshots, 1);
  EXPECT_EQ(Pending().items, kAccounts);
  EXPECT_EQ(PendingGauge(), kAccounts);
  EXPECT_EQ(Count("account_history"), kAccountHistoryMergeSnapshots * kAccounts);
  ASSERT_TRUE(Write([](db::WriteContext& tx) { return MergeAccountHistory(tx); }).ok());
  EXPECT_EQ(Pending().snapshots, 0);
  EXPECT_EQ(Count("account_history"), Count("snapshot_items"));
  EXPECT_EQ(HistoryOf(kAccounts), expected);
}

TEST_F(AccountHistoryTest, APrunedSnapshotLeavesThePassToTheOthers) {
  constexpr int kAccounts = 6;
  AddAccountsUpTo(kAccounts);
  for (int s = 0; s < kAccountHistoryMergeSnapshots; ++s) {
    ASSERT_TRUE(WriteSnap(absl::StrCat("s", s), 1000 + s, kAccounts).ok());
  }
  ASSERT_TRUE(Step(kAccountHistoryMergeSnapshots));
  // Retention deletes the oldest snapshot, first of the pass, whose items
  // are part merged (the trigger drops those) and part pending (its pending
  // row cascades).
  ASSERT_TRUE(Write([](db::WriteContext& tx) {
                return tx.Execute("DELETE FROM snapshots WHERE idempotency_key = 's0'");
              }).ok());
  const History expected = HistoryOf(kAccounts);
  ASSERT_EQ(expected.at(EvmId(0)).size(), static_cast<size_t>(kAccountHistoryMergeSnapshots - 1));
  while (Step(kAccountHistoryMergeSnapshots)) {
    EXPECT_EQ(HistoryOf(kAccounts), expected);
  }
  EXPECT_EQ(Pending().snapshots, 0);
  EXPECT_EQ(Count("account_history"), Count("snapshot_items"));
  EXPECT_EQ(HistoryOf(kAccounts), expected);
}

TEST_F(AccountHistoryTest, RemovingAccountsMidPassDeletesMergedAndPendingItems) {
  constexpr int kAccounts = 6;
  AddAccountsUpTo(kAccounts);
  for (int s = 0; s < kAccountHistoryMergeSnapshots; ++s) {
    ASSERT_TRUE(WriteSnap(absl::StrCat("s", s), 1000 + s, kAccounts).ok());
  }
  // Accounts 0 and 1 merged, the rest pending.
  ASSERT_TRUE(Step(2 * kAccountHistoryMergeSnapshots));
  ASSERT_EQ(Cursor(), EvmId(2));
  RemoveWithHistory({EvmId(0), EvmId(4)});
  History expected = HistoryOf(kAccounts);
  EXPECT_TRUE(expected.at(EvmId(0)).empty());
  EXPECT_TRUE(expected.at(EvmId(4)).empty());
  EXPECT_EQ(expected.at(EvmId(1)).size(), static_cast<size_t>(kAccountHistoryMergeSnapshots));
  EXPECT_EQ(expected.at(EvmId(5)).size(), static_cast<size_t>(kAccountHistoryMergeSnapshots));
  EXPECT_EQ(Count("snapshot_items"), (kAccounts - 2) * kAccountHistoryMergeSnapshots);
  while (Step(2 * kAccountHistoryMergeSnapshots)) {
    EXPECT_EQ(HistoryOf(kAccounts), expected);
  }
  EXPECT_EQ(Count("account_history"), Count("snapshot_items"));
  EXPECT_EQ(HistoryOf(kAccounts), expected);
}

TEST_F(AccountHistoryTest, TheInlineCapMergesWithinTheWrite) {
  AddAccountsUpTo(3);
  for (int s = 0; s < kAccountHistoryMergeSnapshots; ++s) {
    ASSERT_TRUE(WriteSnap(absl::StrCat("s", s), 1000 + s, 3).ok());
  }
  // A pass in progress when the cap is reached is finished too.
  ASSERT_TRUE(Step(kAccountHistoryMergeSnapshots));
  ASSERT_NE(Cursor(), "");
  const int64_t before_cap = kAccountHistoryInlineSnapshots - 1;
  for (int64_t s = kAccountHistoryMergeSnapshots; s < before_cap; ++s) {
    ASSERT_TRUE(WriteSnap(absl::StrCat("s", s), 1000 + s, 3).ok());
  }
  EXPECT_EQ(Pending().snapshots, before_cap);
  ASSERT_TRUE(WriteSnap("cap", 5000, 3).ok());
  EXPECT_EQ(Pending().snapshots, 0);
  EXPECT_EQ(PendingGauge(), 0);
  EXPECT_EQ(Count("account_history"), Count("snapshot_items"));
  EXPECT_EQ(Count("account_history"), 3 * kAccountHistoryInlineSnapshots);
  const std::vector<std::string> history = Amounts(EvmId(0));
  ASSERT_EQ(history.size(), static_cast<size_t>(kAccountHistoryInlineSnapshots));
  EXPECT_EQ(history.back(), absl::StrCat("5000:", kEth, ":400001"));
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
  AddAccountsUpTo(2);
  ASSERT_TRUE(WriteSnap("merged", 1000, 2).ok());
  ASSERT_TRUE(Write([](db::WriteContext& tx) { return MergeAccountHistory(tx); }).ok());
  ASSERT_TRUE(WriteSnap("pending", 2000, 2).ok());
  EXPECT_EQ(Amounts(EvmId(0)), (std::vector<std::string>{absl::StrCat("1000:", kEth, ":1"),
                                                         absl::StrCat("2000:", kEth, ":100001")}));

  RemoveWithHistory({EvmId(0)});
  EXPECT_TRUE(Amounts(EvmId(0)).empty());
  EXPECT_EQ(Amounts(EvmId(1)), (std::vector<std::string>{absl::StrCat("1000:", kEth, ":2"),
                                                         absl::StrCat("2000:", kEth, ":100002")}));
  EXPECT_EQ(Count("account_history"), 1);  // account 1's merged reading
  EXPECT_EQ(Count("snapshot_items"), 2);
}

}  // namespace
}  // namespace coffer::storage
