#include "services/storage/database.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/status/status_macros.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/account_history.h"
#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/open_snapshot_rows.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = getenv("TEST_TMPDIR");
    const std::string base = absl::StrCat(dir != nullptr ? dir : "/tmp", "/database_test");
    options_.path = base + ".db";
    options_.key_file = base + ".key";
    options_.readers = 1;
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((options_.path + suffix).c_str());
    std::ofstream(options_.key_file) << RandomKeyHex() << "\n";
    chmod(options_.key_file.c_str(), 0600);
    absl::StatusOr<std::unique_ptr<Database>> database = Database::Open(options_);
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = *std::move(database);
  }

  int64_t Count(const std::string& from) {
    int64_t count = -1;
    absl::Status status = database_->pool()->ReadSync([&](db::ReadContext& tx) -> absl::Status {
      ASSIGN_OR_RETURN(db::CachedStatement select,
                       tx.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", from)));
      ASSIGN_OR_RETURN(const bool row, select->Step());
      if (row) count = select->ColumnInt64(0);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return count;
  }

  DatabaseOptions options_;
  std::unique_ptr<Database> database_;
};

// The writer's idle work deletes the open snapshots abandoned for a day,
// then merges the account history that was due meanwhile: a state no write
// changes, so only the idle work can reach it.
TEST_F(DatabaseTest, IdleWorkDeletesAbandonedSnapshotsThenMergesHistory) {
  const absl::Time now = absl::Now();
  absl::Status written = database_->pool()->WriteSync([&](db::WriteContext& tx) -> absl::Status {
    v1::AddAccountsRequest accounts;
    accounts.add_accounts()->set_account_id(EvmId(1));
    v1::AddAccountsResponse added;
    RETURN_IF_ERROR(AddAccounts(tx, accounts, &added, now));
    // Enough snapshots to make a merge due (one item each).
    for (int i = 0; i < kAccountHistoryMergeSnapshots; ++i) {
      v1::WriteSnapshotRequest request = Request(absl::StrCat("committed ", i), 1000 + i);
      AddAmount(&request, EvmId(1), kEth, "1");
      v1::WriteSnapshotResponse response;
      RETURN_IF_ERROR(WriteSnapshot(tx, request, &response, now));
    }
    // Two abandoned (a step deletes one) and one still being written.
    for (const auto& [key, open_for] :
         {std::pair<const char*, absl::Duration>{"abandoned 1", absl::Hours(25)},
          {"abandoned 2", absl::Hours(26)},
          {"young", absl::Hours(1)}}) {
      OpenSnapshot open;
      open.idempotency_key = key;
      open.taken_at = now - open_for;
      open.open_since = now - open_for;
      open.items = {{EvmId(1), kEth, "5"}};
      RETURN_IF_ERROR(InsertOpenSnapshot(tx, open).status());
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(written.ok()) << written;

  // Waits for the idle work (150 ms after the write, then a step at a time)
  // with room to spare on a loaded machine.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && (Count("snapshots WHERE open_since IS NOT NULL") != 1 ||
                                    Count("account_history_pending") != 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Count("snapshots WHERE idempotency_key LIKE 'abandoned%'"), 0);
  EXPECT_EQ(Count("snapshots WHERE idempotency_key = 'young'"), 1);
  EXPECT_EQ(Count("snapshots WHERE open_since IS NULL"), kAccountHistoryMergeSnapshots);
  // The young snapshot's item and the committed ones'.
  EXPECT_EQ(Count("snapshot_items"), kAccountHistoryMergeSnapshots + 1);
  EXPECT_EQ(Count("account_history_pending"), 0);
  EXPECT_EQ(Count("account_history"), kAccountHistoryMergeSnapshots);
  // One step per abandoned snapshot, the merge (16 items) in the last.
  EXPECT_GE(database_->pool()->stats().idle_steps, 2u);
  EXPECT_EQ(database_->pool()->stats().failed_idle_steps, 0u);
}

}  // namespace
}  // namespace coffer::storage
