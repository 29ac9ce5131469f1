#include "services/storage/schema/schema.h"

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <string>

#include "absl/strings/match.h"
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

// Version 3: writing a snapshot rewrites one latest_balances row per item,
// and nothing more: no foreign keys to snapshot_items and no item-id indexes
// to maintain with it. The items latest balances need are kept by Prune and
// RemoveAccounts instead (retention_repo_test, accounts_repo_test).
TEST_F(SchemaTest, LatestBalancesCarryNoItemReferences) {
  EXPECT_EQ(Rows(*connection_, "PRAGMA foreign_key_list(latest_balances)"), "");
  EXPECT_EQ(Rows(*connection_,
                 "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                 "'latest_balances' AND sql IS NOT NULL ORDER BY name"),
            "latest_balances_by_asset\n");
  // Still one row per (account, asset), checked by the table itself.
  ASSERT_TRUE(Run("INSERT INTO latest_balances (account_id, asset_id, last_item_id,"
                  " last_attempt_at) VALUES ('a', 'x', 7, 10)")
                  .ok());
  EXPECT_FALSE(Run("INSERT INTO latest_balances (account_id, asset_id, last_item_id,"
                   " last_attempt_at) VALUES ('a', 'x', 8, 11)")
                   .ok());
  EXPECT_FALSE(Run("UPDATE latest_balances SET units = '5'").ok());  // value needs all its parts
}

TEST_F(SchemaTest, HistoryQueriesUseTheirIndexes) {
  // An account's merged history, all assets or one, in the order
  // GetBalanceHistory reads it: the key of account_history, without a sort
  // of the account's whole range (account_history.h).
  for (const char* asset : {"", " AND asset_id = 'x'"}) {
    for (const char* dir : {"", " DESC"}) {
      const std::string account_plan =
          Rows(*connection_,
               absl::StrCat("EXPLAIN QUERY PLAN SELECT item_id FROM account_history WHERE "
                            "account_id = 'a'",
                            asset, " AND taken_at >= 1 AND taken_at < 9 ORDER BY taken_at", dir,
                            ", snapshot_id", dir, ", account_id", dir, ", asset_id", dir));
      EXPECT_NE(account_plan.find("USING PRIMARY KEY (account_id=? AND taken_at>? AND "
                                  "taken_at<?)"),
                std::string::npos)
          << account_plan;
      EXPECT_EQ(account_plan.find("TEMP B-TREE"), std::string::npos) << account_plan;
    }
  }
  // The old index is gone: every written item paid for it.
  EXPECT_EQ(Rows(*connection_,
                 "SELECT count(*) FROM sqlite_master WHERE name IN "
                 "('snapshot_items_by_account_asset_time', 'snapshot_items_by_account_time')"),
            "0\n");
  // The trigger keeping account_history in step finds an entry by its key.
  const std::string trigger_plan =
      Rows(*connection_,
           "EXPLAIN QUERY PLAN DELETE FROM account_history WHERE account_id = 'a' AND taken_at = 1 "
           "AND snapshot_id = 2 AND asset_id = 'x'");
  EXPECT_NE(trigger_plan.find("USING PRIMARY KEY (account_id=? AND taken_at=? AND "
                              "snapshot_id=? AND asset_id=?)"),
            std::string::npos)
      << trigger_plan;
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

// Rows a version-1 database holds, in the tables version 1 has: the ones
// later migrations must carry over.
constexpr char kVersion1Rows[] =
    "INSERT INTO accounts VALUES ('eip155:1:0xA', 'eip155:1', '0xA', 'cold', 1, 1);"
    "INSERT INTO account_tags VALUES ('eip155:1:0xA', 'ledger');"
    "INSERT INTO snapshots (snapshot_id, idempotency_key, content_hash, taken_at, written_at,"
    " items) VALUES (1, 'k1', x'01', 10, 11, 2), (2, 'k2', x'02', 20, 21, 2);"
    "INSERT INTO snapshot_items (item_id, snapshot_id, account_id, asset_id, taken_at, units,"
    " decimals, error_code, error_message, error_upstream) VALUES"
    " (1, 1, 'eip155:1:0xA', 'x', 10, '5', 18, NULL, NULL, NULL),"
    " (2, 1, 'eip155:1:0xA', 'y', 10, '7', 6, NULL, NULL, NULL),"
    " (3, 2, 'eip155:1:0xA', 'x', 20, NULL, NULL, 14, 'down', 'rpc-1'),"
    " (4, 2, 'eip155:1:0xA', 'y', 20, '8', 6, NULL, NULL, NULL);"
    "INSERT INTO latest_balances (account_id, asset_id, last_item_id, last_attempt_at,"
    " value_item_id, value_snapshot_id, units, decimals, as_of, error_code, error_message)"
    " VALUES ('eip155:1:0xA', 'x', 3, 20, 1, 1, '5', 18, 10, 14, 'down'),"
    " ('eip155:1:0xA', 'y', 4, 20, 4, 2, '8', 6, 20, NULL, NULL);"
    "INSERT INTO prices VALUES ('x', 'usd', 10, '3000', 0, 'feed', 11)";

// What the version-1 rows read back as.
std::string Version1Contents(db::Connection& connection) {
  return absl::StrCat(
      Rows(connection, "SELECT * FROM accounts"), Rows(connection, "SELECT * FROM account_tags"),
      // Version 1's columns: later versions add some (open_since).
      Rows(connection,
           "SELECT snapshot_id, idempotency_key, content_hash, taken_at, written_at, run_id, "
           "items, failed_items, skipped_items FROM snapshots ORDER BY snapshot_id"),
      Rows(connection, "SELECT * FROM snapshot_items ORDER BY item_id"),
      Rows(connection, "SELECT * FROM latest_balances ORDER BY account_id, asset_id"),
      Rows(connection, "SELECT * FROM prices"));
}

// Every table and index definition but the migrations' own bookkeeping.
std::string SchemaOf(db::Connection& connection) {
  return Rows(connection,
              "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE "
              "'schema_migrations%' ORDER BY type, name");
}

TEST_F(SchemaTest, UpgradesEveryOlderVersionKeepingItsRows) {
  const std::string fresh_schema = SchemaOf(*connection_);
  for (size_t from = 1; from < Migrations().size(); ++from) {
    SCOPED_TRACE(absl::StrCat("from version ", from));
    const std::string path = FreshPath(absl::StrCat("schema_upgrade_from_", from, ".db"));
    unlink(db::PreMigrationBackupPath(path, static_cast<int>(from)).c_str());
    const std::string key = RandomKeyHex();
    std::string before;
    {
      absl::StatusOr<std::unique_ptr<db::Connection>> old =
          db::Connection::Open(path, db::SecretString(std::string(key)), {});
      ASSERT_TRUE(old.ok()) << old.status();
      ASSERT_TRUE(
          db::ApplyMigrations((*old)->raw(), path, key, Migrations().subspan(0, from)).ok());
      ASSERT_TRUE((*old)->Execute(kVersion1Rows).ok());
      before = Version1Contents(**old);
      ASSERT_NE(before, "");
    }

    absl::StatusOr<std::unique_ptr<db::Connection>> upgraded =
        db::Connection::Open(path, db::SecretString(std::string(key)), {});
    ASSERT_TRUE(upgraded.ok()) << upgraded.status();
    const absl::Status status = db::ApplyMigrations((*upgraded)->raw(), path, key, Migrations());
    ASSERT_TRUE(status.ok()) << status;

    absl::StatusOr<int> version = db::SchemaVersion((*upgraded)->raw());
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ(*version, static_cast<int>(Migrations().size()));
    EXPECT_EQ(Version1Contents(**upgraded), before);
    // The same tables and indexes as a database created at the latest version.
    EXPECT_EQ(SchemaOf(**upgraded), fresh_schema);
    EXPECT_EQ(Rows(**upgraded, "PRAGMA integrity_check"), "ok\n");
    EXPECT_EQ(Rows(**upgraded, "PRAGMA foreign_key_check"), "");
    // Upgrading past version 4 indexes the old rows, merged: an account's
    // history read through it. (Rows written by plain SQL at version 4 or
    // later bypass the index, as nothing but WriteSnapshot writes items.)
    if (from < 4) {
      EXPECT_EQ(Rows(**upgraded,
                     "SELECT item_id FROM account_history WHERE account_id = 'eip155:1:0xA' AND "
                     "asset_id = 'x' ORDER BY taken_at DESC"),
                "3\n1\n");
      EXPECT_EQ(Rows(**upgraded, "SELECT count(*) FROM account_history"), "4\n");
    }
    EXPECT_EQ(Rows(**upgraded, "SELECT count(*) FROM account_history_pending"), "0\n");
    // Every snapshot written before version 6 is committed.
    EXPECT_EQ(Rows(**upgraded, "SELECT count(*) FROM snapshots WHERE open_since IS NOT NULL"),
              "0\n");
    // Upgrading took a backup of the old version first.
    EXPECT_EQ(access(db::PreMigrationBackupPath(path, static_cast<int>(from)).c_str(), F_OK), 0);
  }
}

TEST_F(SchemaTest, Version2ReplacesTheAccountHistoryIndex) {
  ASSERT_GE(Migrations().size(), 2u);
  const std::string path = FreshPath("schema_version_1.db");
  unlink(db::PreMigrationBackupPath(path, 1).c_str());
  const std::string key = RandomKeyHex();
  absl::StatusOr<std::unique_ptr<db::Connection>> connection =
      db::Connection::Open(path, db::SecretString(std::string(key)), {});
  ASSERT_TRUE(connection.ok()) << connection.status();
  ASSERT_TRUE(
      db::ApplyMigrations((*connection)->raw(), path, key, Migrations().subspan(0, 1)).ok());
  ASSERT_TRUE((*connection)->Execute(kVersion1Rows).ok());
  const std::string indexes =
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'snapshot_items' "
      "AND sql IS NOT NULL ORDER BY name";
  EXPECT_EQ(Rows(**connection, indexes),
            "snapshot_items_by_account_asset_time\nsnapshot_items_by_asset_time\n");

  ASSERT_TRUE(
      db::ApplyMigrations((*connection)->raw(), path, key, Migrations().subspan(0, 2)).ok());

  EXPECT_EQ(*db::SchemaVersion((*connection)->raw()), 2);
  // One index fewer per written item than a second account index would cost.
  EXPECT_EQ(Rows(**connection, indexes),
            "snapshot_items_by_account_time\nsnapshot_items_by_asset_time\n");
  EXPECT_EQ(Rows(**connection,
                 "SELECT sql FROM sqlite_master WHERE name = 'snapshot_items_by_account_time'"),
            "CREATE INDEX snapshot_items_by_account_time\n"
            "  ON snapshot_items (account_id, taken_at, snapshot_id, asset_id)\n");
  EXPECT_EQ(Rows(**connection, "SELECT count(*) FROM snapshot_items"), "4\n");
  EXPECT_EQ(Rows(**connection, "PRAGMA integrity_check"), "ok\n");
}

// Version 4's account_history follows every deletion of items: a snapshot's
// (Prune, through the cascade), an item's (RemoveAccounts' delete_history),
// so it never names an item that is gone; pending rows go with their
// snapshot.
TEST_F(SchemaTest, AccountHistoryFollowsDeletedItems) {
  ASSERT_TRUE(connection_->Execute(kVersion1Rows).ok());
  ASSERT_TRUE(connection_
                  ->Execute("INSERT INTO account_history SELECT account_id, taken_at, "
                            "snapshot_id, asset_id, item_id FROM snapshot_items WHERE "
                            "snapshot_id = 1;"
                            "INSERT INTO account_history_pending (snapshot_id, items) "
                            "VALUES (2, 2);")
                  .ok());
  EXPECT_EQ(Rows(*connection_, "SELECT item_id FROM account_history ORDER BY item_id"), "1\n2\n");
  ASSERT_TRUE(connection_->Execute("DELETE FROM snapshot_items WHERE item_id = 2").ok());
  EXPECT_EQ(Rows(*connection_, "SELECT item_id FROM account_history"), "1\n");
  ASSERT_TRUE(connection_->Execute("DELETE FROM snapshots WHERE snapshot_id = 1").ok());
  EXPECT_EQ(Rows(*connection_, "SELECT count(*) FROM account_history"), "0\n");
  EXPECT_EQ(Rows(*connection_, "SELECT snapshot_id FROM account_history_pending"), "2\n");
  ASSERT_TRUE(connection_->Execute("DELETE FROM snapshots WHERE snapshot_id = 2").ok());
  EXPECT_EQ(Rows(*connection_, "SELECT count(*) FROM account_history_pending"), "0\n");
  EXPECT_EQ(Rows(*connection_, "SELECT count(*) FROM snapshot_items"), "0\n");
}

// Version 5: a pending snapshot records how far a pass has merged it; those
// pending before the upgrade have merged nothing.
TEST_F(SchemaTest, Version5RecordsHowFarAPendingSnapshotIsMerged) {
  ASSERT_GE(Migrations().size(), 5u);
  const std::string path = FreshPath("schema_version_4.db");
  unlink(db::PreMigrationBackupPath(path, 4).c_str());
  const std::string key = RandomKeyHex();
  absl::StatusOr<std::unique_ptr<db::Connection>> connection =
      db::Connection::Open(path, db::SecretString(std::string(key)), {});
  ASSERT_TRUE(connection.ok()) << connection.status();
  ASSERT_TRUE(
      db::ApplyMigrations((*connection)->raw(), path, key, Migrations().subspan(0, 4)).ok());
  ASSERT_TRUE((*connection)->Execute(kVersion1Rows).ok());
  ASSERT_TRUE((*connection)->Execute("INSERT INTO account_history_pending VALUES (2, 2)").ok());

  ASSERT_TRUE(
      db::ApplyMigrations((*connection)->raw(), path, key, Migrations().subspan(0, 5)).ok());

  EXPECT_EQ(*db::SchemaVersion((*connection)->raw()), 5);
  EXPECT_EQ(Rows(**connection,
                 "SELECT snapshot_id, items, merged_below = '' "
                 "FROM account_history_pending"),
            "2|2|1\n");
  // Required, '' when not given.
  EXPECT_FALSE(
      (*connection)->Execute("INSERT INTO account_history_pending VALUES (1, 2, NULL)").ok());
  ASSERT_TRUE((*connection)
                  ->Execute("INSERT INTO account_history_pending (snapshot_id, items) "
                            "VALUES (1, 2)")
                  .ok());
  EXPECT_EQ(
      Rows(**connection, "SELECT count(*) FROM account_history_pending WHERE merged_below = ''"),
      "2\n");
  EXPECT_EQ(Rows(**connection, "PRAGMA integrity_check"), "ok\n");
}

}  // namespace
}  // namespace coffer::storage
