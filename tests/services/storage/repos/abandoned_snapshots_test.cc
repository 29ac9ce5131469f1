#include "services/storage/repos/abandoned_snapshots.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/metrics/registry.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/account_history.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/open_snapshot_rows.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

constexpr absl::Duration kDay = absl::Hours(24);

uint64_t DeletedSoFar() {
  return metrics::Registry::Global()
      .GetCounter("coffer_storage_abandoned_snapshots_deleted_total")
      .Value();
}

class AbandonedSnapshotsTest : public RepoTestBase {
 protected:
  void SetUp() override {
    RepoTestBase::SetUp();
    AddIds({EvmId(1), EvmId(2)});
  }

  // An open snapshot opened `open_for` before kNow, of ETH for accounts 1
  // and 2 in two parts.
  void Open(const std::string& key, absl::Duration open_for) {
    OpenSnapshot open;
    open.idempotency_key = key;
    open.taken_at = kNow - open_for;
    open.open_since = kNow - open_for;
    open.items = {{EvmId(1), kEth, "5"}, {EvmId(2), kEth, "6"}};
    open.parts = 2;
    absl::Status status = Write([&](db::WriteContext& tx) -> absl::Status {
      return InsertOpenSnapshot(tx, open).status();
    });
    ASSERT_TRUE(status.ok()) << status;
  }

  // A committed snapshot taken (and written) long ago, its account history
  // merged.
  void WriteOld(const std::string& key) {
    v1::WriteSnapshotRequest request = Request(key, absl::ToUnixSeconds(kNow - 10 * kDay));
    AddAmount(&request, EvmId(1), kEth, "1");
    AddAmount(&request, EvmId(2), kEth, "2");
    v1::WriteSnapshotResponse response;
    absl::Status status = Write([&](db::WriteContext& tx) -> absl::Status {
      RETURN_IF_ERROR(WriteSnapshot(tx, request, &response, kNow - 10 * kDay));
      return MergeAccountHistory(tx);
    });
    ASSERT_TRUE(status.ok()) << status;
  }

  absl::StatusOr<bool> Step(int max_items, absl::Time now = kNow) {
    absl::StatusOr<bool> more;
    absl::Status status = Write([&](db::WriteContext& tx) {
      more = DeleteAbandonedSnapshotsStep(tx, now, kDay, max_items);
      return more.status();
    });
    if (!status.ok()) return status;
    return more;
  }

  // Snapshot `key`'s rows: itself, its items and its parts.
  std::string RowsOf(const std::string& key) {
    return RowsOfSnapshot(key, [this](const std::string& rows) { return Count(rows); });
  }
};

TEST_F(AbandonedSnapshotsTest, DeletesOnlyOpenSnapshotsOlderThanTheCutoff) {
  WriteOld("committed");
  Open("abandoned", kDay + absl::Minutes(1));
  Open("at the cutoff", kDay);
  Open("young", absl::Hours(1));
  const int64_t history = Count("account_history");
  ASSERT_EQ(history, 2);
  const uint64_t deleted_before = DeletedSoFar();

  absl::StatusOr<bool> more = Step(10);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  // With its items and parts.
  EXPECT_EQ(RowsOf("abandoned"), "0 0 0");
  EXPECT_EQ(RowsOf("at the cutoff"), "1 2 2");
  EXPECT_EQ(RowsOf("young"), "1 2 2");
  EXPECT_EQ(RowsOf("committed"), "1 2 0");
  EXPECT_EQ(Count("account_history"), history);
  EXPECT_EQ(Count("latest_balances"), 2);
  EXPECT_EQ(DeletedSoFar() - deleted_before, 1u);

  // Later, the next one is abandoned too.
  more = Step(10, kNow + absl::Seconds(1));
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  EXPECT_EQ(RowsOf("at the cutoff"), "0 0 0");
  EXPECT_EQ(RowsOf("young"), "1 2 2");
  EXPECT_EQ(RowsOf("committed"), "1 2 0");
  EXPECT_EQ(DeletedSoFar() - deleted_before, 2u);
}

TEST_F(AbandonedSnapshotsTest, OneSnapshotPerStepOldestFirstAnsweringWhetherMoreIsLeft) {
  for (int i = 1; i <= 3; ++i) Open(absl::StrCat("abandoned ", i), kDay + absl::Hours(i));
  Open("young", absl::Hours(1));

  absl::StatusOr<bool> more = Step(10);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(*more);
  // Open longest: 3.
  EXPECT_EQ(RowsOf("abandoned 3"), "0 0 0");
  EXPECT_EQ(RowsOf("abandoned 2"), "1 2 2");
  EXPECT_EQ(Count("snapshots"), 3);

  more = Step(10);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(*more);
  EXPECT_EQ(RowsOf("abandoned 2"), "0 0 0");

  // The last one: nothing more.
  more = Step(10);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  EXPECT_EQ(Count("snapshots"), 1);
  EXPECT_EQ(RowsOf("young"), "1 2 2");
}

TEST_F(AbandonedSnapshotsTest, AStepDeletesAtMostMaxItemsThenTheSnapshot) {
  Open("abandoned", kDay + absl::Hours(1));
  const uint64_t deleted_before = DeletedSoFar();

  absl::StatusOr<bool> more = Step(1);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(*more);  // an item left
  EXPECT_EQ(RowsOf("abandoned"), "1 1 2");
  EXPECT_EQ(DeletedSoFar(), deleted_before);

  more = Step(1);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  EXPECT_EQ(RowsOf("abandoned"), "0 0 0");
  EXPECT_EQ(DeletedSoFar() - deleted_before, 1u);
}

TEST_F(AbandonedSnapshotsTest, NothingOpenNothingToDo) {
  WriteOld("committed");
  const uint64_t deleted_before = DeletedSoFar();
  absl::StatusOr<bool> more = Step(1);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  EXPECT_EQ(RowsOf("committed"), "1 2 0");
  EXPECT_EQ(DeletedSoFar(), deleted_before);
}

TEST_F(AbandonedSnapshotsTest, AStepTakesAtLeastOneItem) {
  Open("abandoned", kDay + absl::Hours(1));
  absl::StatusOr<bool> more = Step(0);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(*more);
  EXPECT_EQ(RowsOf("abandoned"), "1 1 2");
}

}  // namespace
}  // namespace coffer::storage
