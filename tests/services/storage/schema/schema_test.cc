#include "services/storage/schema/schema.h"

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "services/storage/db/connection.h"
#include "services/storage/db/migrations.h"

namespace coffer::storage {
namespace {

std::string RandomKeyHex() {
  std::random_device random;
  std::string hex;
  for (int i = 0; i < 64; ++i) hex.push_back("0123456789abcdef"[random() % 16]);
  return hex;
}

std::string FreshPath(const std::string& name) {
  const char* dir = getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) unlink((path + suffix).c_str());
  return path;
}

// Every row a query answers, its columns joined by '|', rows by '\n'.
std::string Rows(db::Connection& connection, const std::string& sql) {
  absl::StatusOr<db::CachedStatement> statement = connection.Prepare(sql);
  EXPECT_TRUE(statement.ok()) << statement.status();
  if (!statement.ok()) return "";
  std::string rows;
  while (true) {
    absl::StatusOr<bool> row = (*statement)->Step();
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok() || !*row) break;
    for (int i = 0; i < (*statement)->ColumnCount(); ++i) {
      absl::StrAppend(&rows, i > 0 ? "|" : "", (*statement)->ColumnText(i));
    }
    rows += "\n";
  }
  return rows;
}

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = FreshPath("schema_test.db");
    const std::string key = RandomKeyHex();
    absl::StatusOr<std::unique_ptr<db::Connection>> connection =
        db::Connection::Open(path_, db::SecretString(std::string(key)), {});
    ASSERT_TRUE(connection.ok()) << connection.status();
    connection_ = std::move(*connection);
    ASSERT_TRUE(db::ApplyMigrations(connection_->raw(), path_, key, Migrations()).ok());
  }

  absl::Status Run(const std::string& sql) { return connection_->Execute(sql); }

  std::string path_;
  std::unique_ptr<db::Connection> connection_;
};

TEST_F(SchemaTest, MigrationsAreNumberedFromOne) {
  ASSERT_FALSE(Migrations().empty());
  for (size_t i = 0; i < Migrations().size(); ++i) {
    EXPECT_EQ(Migrations()[i].version, static_cast<int>(i) + 1);
  }
}

TEST_F(SchemaTest, AppliesToAFreshDatabase) {
  absl::StatusOr<int> version = db::SchemaVersion(connection_->raw());
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, static_cast<int>(Migrations().size()));
  EXPECT_EQ(Rows(*connection_, "PRAGMA integrity_check"), "ok\n");
  EXPECT_EQ(Rows(*connection_, "PRAGMA foreign_key_check"), "");
  for (const char* table :
       {"accounts", "account_tags", "account_assets", "snapshots", "snapshot_blocks",
        "snapshot_items", "latest_balances", "prices", "tasks", "runs", "leases"}) {
    EXPECT_EQ(Rows(*connection_,
                   absl::StrCat("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                "name = '",
                                table, "'")),
              "1\n")
        << table;
  }
}

TEST_F(SchemaTest, ReapplyingIsANoOp) {
  // A second start finds the database current and changes nothing.
  EXPECT_TRUE(db::ApplyMigrations(connection_->raw(), path_, "unused", Migrations()).ok());
}

TEST_F(SchemaTest, SnapshotItemHoldsExactlyOneOfValueOrError) {
  ASSERT_TRUE(Run("INSERT INTO snapshots (snapshot_id, idempotency_key, content_hash, taken_at,"
                  " written_at) VALUES (1, 'k', x'00', 10, 11)")
                  .ok());
  const std::string insert =
      "INSERT INTO snapshot_items (snapshot_id, account_id, asset_id, taken_at, units, decimals,"
      " error_code, error_message, error_upstream) VALUES ";
  EXPECT_TRUE(Run(insert + "(1, 'a', 'x', 10, '5', 18, NULL, NULL, NULL)").ok());
  EXPECT_TRUE(Run(insert + "(1, 'a', 'y', 10, NULL, NULL, 14, 'down', 'rpc-1')").ok());
  // Both value and error.
  absl::Status both = Run(insert + "(1, 'a', 'z', 10, '5', 18, 14, 'down', 'rpc-1')");
  EXPECT_FALSE(both.ok());
  EXPECT_NE(both.message().find("CHECK"), absl::string_view::npos) << both;
  // Neither.
  EXPECT_FALSE(Run(insert + "(1, 'a', 'z', 10, NULL, NULL, NULL, NULL, NULL)").ok());
  // A value without decimals, an error with code 0 (CODE_UNSPECIFIED).
  EXPECT_FALSE(Run(insert + "(1, 'a', 'z', 10, '5', NULL, NULL, NULL, NULL)").ok());
  EXPECT_FALSE(Run(insert + "(1, 'a', 'z', 10, NULL, NULL, 0, 'x', '')").ok());
  // One reading per (snapshot, account, asset).
  EXPECT_FALSE(Run(insert + "(1, 'a', 'x', 10, '6', 18, NULL, NULL, NULL)").ok());
  EXPECT_EQ(Rows(*connection_, "PRAGMA foreign_key_check"), "");
}

TEST_F(SchemaTest, ForeignKeysAndUniquenessHold) {
  // A tag of an unknown account.
  EXPECT_FALSE(Run("INSERT INTO account_tags VALUES ('eip155:1:0xnone', 't')").ok());
  ASSERT_TRUE(Run("INSERT INTO accounts VALUES ('eip155:1:0xA', 'eip155:1', '0xA', '', 1, 1);"
                  "INSERT INTO account_tags VALUES ('eip155:1:0xA', 't')")
                  .ok());
  // Tags go with their account.
  ASSERT_TRUE(Run("DELETE FROM accounts").ok());
  EXPECT_EQ(Rows(*connection_, "SELECT count(*) FROM account_tags"), "0\n");
  // One idempotency key, one snapshot.
  ASSERT_TRUE(Run("INSERT INTO snapshots (idempotency_key, content_hash, taken_at, written_at)"
                  " VALUES ('k', x'00', 1, 1)")
                  .ok());
  EXPECT_FALSE(Run("INSERT INTO snapshots (idempotency_key, content_hash, taken_at, written_at)"
                   " VALUES ('k', x'01', 2, 2)")
                   .ok());
  // One running run per task.
  ASSERT_TRUE(Run("INSERT INTO runs (run_id, task_id, task_kind, state, started_at)"
                  " VALUES ('r1', 't', 1, 2, 1)")
                  .ok());
  EXPECT_FALSE(Run("INSERT INTO runs (run_id, task_id, task_kind, state, started_at)"
                   " VALUES ('r2', 't', 1, 2, 2)")
                   .ok());
  EXPECT_TRUE(Run("INSERT INTO runs (run_id, task_id, task_kind, state, started_at)"
                  " VALUES ('r3', 't', 1, 3, 3)")
                  .ok());
}

TEST_F(SchemaTest, LatestBalancesPinTheItemsTheyNeed) {
  ASSERT_TRUE(
      Run("INSERT INTO snapshots (snapshot_id, idempotency_key, content_hash, taken_at,"
          " written_at) VALUES (1, 'k', x'00', 10, 11);"
          "INSERT INTO snapshot_items (item_id, snapshot_id, account_id, asset_id, taken_at,"
          " units, decimals) VALUES (7, 1, 'a', 'x', 10, '5', 18);"
          "INSERT INTO latest_balances (account_id, asset_id, last_item_id, last_attempt_at,"
          " value_item_id, value_snapshot_id, units, decimals, as_of)"
          " VALUES ('a', 'x', 7, 10, 7, 1, '5', 18, 10)")
          .ok());
  EXPECT_FALSE(Run("DELETE FROM snapshot_items WHERE item_id = 7").ok());
  EXPECT_FALSE(Run("DELETE FROM snapshots WHERE snapshot_id = 1").ok());
}

TEST_F(SchemaTest, HistoryQueriesUseTheirIndexes) {
  const std::string account_plan =
      Rows(*connection_,
           "EXPLAIN QUERY PLAN SELECT units FROM snapshot_items WHERE account_id = 'a' AND"
           " asset_id = 'x' AND taken_at >= 1 AND taken_at < 9 ORDER BY taken_at");
  EXPECT_NE(account_plan.find("snapshot_items_by_account_asset_time"), std::string::npos)
      << account_plan;
  const std::string asset_plan =
      Rows(*connection_,
           "EXPLAIN QUERY PLAN SELECT units FROM snapshot_items WHERE asset_id = 'x' AND"
           " taken_at >= 1 ORDER BY taken_at");
  EXPECT_NE(asset_plan.find("snapshot_items_by_asset_time"), std::string::npos) << asset_plan;
  const std::string runs_plan = Rows(
      *connection_,
      "EXPLAIN QUERY PLAN SELECT run_id FROM runs WHERE task_id = 't' ORDER BY started_at DESC");
  EXPECT_NE(runs_plan.find("runs_by_task_started"), std::string::npos) << runs_plan;
}

}  // namespace
}  // namespace coffer::storage
