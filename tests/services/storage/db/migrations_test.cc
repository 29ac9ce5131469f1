#include "services/storage/db/migrations.h"

#include <sqlite3.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/services/storage/db/sqlcipher_test_util.h"

namespace coffer::storage::db {
namespace {

using ::coffer::storage::db::testing::DumpDatabase;
using ::coffer::storage::db::testing::Exec;
using ::coffer::storage::db::testing::FileExists;
using ::coffer::storage::db::testing::kTestKey;
using ::coffer::storage::db::testing::QueryInt;
using ::coffer::storage::db::testing::QueryStrings;
using ::coffer::storage::db::testing::TempPath;
using ::coffer::storage::db::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<Migration>& TestMigrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "accounts", "CREATE TABLE accounts(id TEXT PRIMARY KEY, label TEXT NOT NULL);"},
      {2, "snapshots",
       "CREATE TABLE snapshots(id INTEGER PRIMARY KEY, account_id TEXT NOT NULL "
       "REFERENCES accounts(id), amount TEXT NOT NULL);"
       "CREATE INDEX snapshots_by_account ON snapshots(account_id);"},
      {3, "account_tags", "ALTER TABLE accounts ADD COLUMN tags TEXT NOT NULL DEFAULT '';"},
      {4, "prices",
       "CREATE TABLE prices(asset TEXT NOT NULL, quote TEXT NOT NULL, price TEXT NOT NULL, "
       "at INTEGER NOT NULL, PRIMARY KEY(asset, quote, at));"},
  };
  return *migrations;
}

absl::Span<const Migration> First(int count) {
  return absl::MakeConstSpan(TestMigrations()).subspan(0, count);
}

// Writes rows into the tables that exist at `version`.
void WriteRowsAt(sqlite3* db, int version) {
  if (version >= 1) {
    ASSERT_TRUE(Exec(db,
                     "INSERT INTO accounts(id, label) VALUES('eip155:1:0xab', 'cold'),"
                     "('bip122:000000000019d6689c085ae165831e93:1abc', 'savings')")
                    .ok());
  }
  if (version >= 2) {
    ASSERT_TRUE(Exec(db,
                     "INSERT INTO snapshots(account_id, amount) VALUES"
                     "('eip155:1:0xab', '1000000000000000000')")
                    .ok());
  }
  if (version >= 3) {
    ASSERT_TRUE(Exec(db, "UPDATE accounts SET tags = 'ledger' WHERE id = 'eip155:1:0xab'").ok());
  }
  if (version >= 4) {
    ASSERT_TRUE(Exec(db, "INSERT INTO prices VALUES('ETH', 'USD', '3000.5', 1700000000)").ok());
  }
}

TEST(MigrationsTest, FreshDatabaseGetsEveryMigrationInOrder) {
  const std::string path = TempPath("fresh.db");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();

  ASSERT_TRUE(ApplyMigrations(db.get(), path, kTestKey, TestMigrations()).ok());

  EXPECT_EQ(*SchemaVersion(db.get()), 4);
  EXPECT_THAT(QueryStrings(db.get(),
                           "SELECT version || ':' || name FROM schema_migrations "
                           "ORDER BY version"),
              ElementsAre("1:accounts", "2:snapshots", "3:account_tags", "4:prices"));
  EXPECT_GT(QueryInt(db.get(), "SELECT min(applied_at) FROM schema_migrations"), 1600000000);
  WriteRowsAt(db.get(), 4);
  // A fresh database holds nothing worth a backup.
  EXPECT_FALSE(FileExists(PreMigrationBackupPath(path, 0)));
}

TEST(MigrationsTest, RerunningIsANoOp) {
  const std::string path = TempPath("rerun.db");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(ApplyMigrations(db.get(), path, kTestKey, TestMigrations()).ok());
  WriteRowsAt(db.get(), 4);
  const std::vector<std::string> before = DumpDatabase(db.get());

  ASSERT_TRUE(ApplyMigrations(db.get(), path, kTestKey, TestMigrations()).ok());

  EXPECT_EQ(DumpDatabase(db.get()), before);
  EXPECT_FALSE(FileExists(PreMigrationBackupPath(path, 4)));
}

TEST(MigrationsTest, UpgradesFromEveryOlderVersionKeepingData) {
  for (int from = 1; from < static_cast<int>(TestMigrations().size()); ++from) {
    SCOPED_TRACE(absl::StrCat("from version ", from));
    const std::string path = TempPath(absl::StrCat("upgrade_from_", from, ".db"));
    {
      TestDatabase db = TestDatabase::Open(path, kTestKey);
      ASSERT_TRUE(db.ok()) << db.status();
      ASSERT_TRUE(ApplyMigrations(db.get(), path, kTestKey, First(from)).ok());
      WriteRowsAt(db.get(), from);
    }

    TestDatabase db = TestDatabase::Open(path, kTestKey);
    ASSERT_TRUE(db.ok()) << db.status();
    const absl::Status status = ApplyMigrations(db.get(), path, kTestKey, TestMigrations());
    ASSERT_TRUE(status.ok()) << status;

    EXPECT_EQ(*SchemaVersion(db.get()), 4);
    EXPECT_EQ(QueryInt(db.get(), "SELECT count(*) FROM accounts"), 2);
    EXPECT_EQ(QueryInt(db.get(), "SELECT count(*) FROM snapshots"), from >= 2 ? 1 : 0);
    EXPECT_EQ(QueryInt(db.get(), "SELECT count(*) FROM accounts WHERE tags = 'ledger'"),
              from >= 3 ? 1 : 0);
    // The new schema is usable.
    EXPECT_TRUE(Exec(db.get(),
                     "INSERT INTO accounts(id, label, tags) VALUES('new', 'n', 't');"
                     "INSERT INTO prices VALUES('BTC', 'EUR', '1', 1)")
                    .ok());

    // The backup taken first holds the database as it was.
    const std::string backup_path = PreMigrationBackupPath(path, from);
    ASSERT_TRUE(FileExists(backup_path));
    TestDatabase backup = TestDatabase::Open(backup_path, kTestKey);
    ASSERT_TRUE(backup.ok()) << backup.status();
    EXPECT_EQ(*SchemaVersion(backup.get()), from);
    EXPECT_EQ(QueryInt(backup.get(), "SELECT count(*) FROM accounts"), 2);
  }
}

TEST(MigrationsTest, RefusesANewerDatabase) {
  const std::string path = TempPath("newer.db");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(ApplyMigrations(db.get(), path, kTestKey, TestMigrations()).ok());
  WriteRowsAt(db.get(), 4);
  const std::vector<std::string> before = DumpDatabase(db.get());

  const absl::Status status = ApplyMigrations(db.get(), path, kTestKey, First(2));

  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "database schema version 4 is newer than this coffer (2); upgrade coffer");
  EXPECT_EQ(DumpDatabase(db.get()), before);
}

TEST(MigrationsTest, FailingMigrationRestoresTheDatabaseAsItWas) {
  const std::string path = TempPath("failing.db");
  {
    TestDatabase db = TestDatabase::Open(path, kTestKey);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(ApplyMigrations(db.get(), path, kTestKey, First(1)).ok());
    WriteRowsAt(db.get(), 1);
  }
  // Migration 2 succeeds and commits; migration 3 creates a table, then
  // fails; both must be undone.
  std::vector<Migration> migrations = TestMigrations();
  migrations[2].sql = "CREATE TABLE half(x); INSERT INTO no_such_table VALUES(1);";

  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  const std::vector<std::string> before = DumpDatabase(db.get());
  const absl::Status status = ApplyMigrations(db.get(), path, kTestKey, migrations);

  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("migration 3 (account_tags) failed"));
  EXPECT_THAT(status.message(), HasSubstr("no such table: no_such_table"));
  EXPECT_THAT(status.message(), HasSubstr("restored to schema version 1"));
  // The open connection sees the old database and still works.
  EXPECT_EQ(*SchemaVersion(db.get()), 1);
  EXPECT_EQ(DumpDatabase(db.get()), before);
  EXPECT_TRUE(Exec(db.get(), "INSERT INTO accounts(id, label) VALUES('x', 'y')").ok());
  ASSERT_TRUE(Exec(db.get(), "DELETE FROM accounts WHERE id = 'x'").ok());
  db.Close();

  // So does the file, from a new connection.
  TestDatabase reopened = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(DumpDatabase(reopened.get()), before);
  EXPECT_THAT(QueryStrings(reopened.get(), "PRAGMA integrity_check"), ElementsAre("ok"));

  // Fixed migrations then apply normally.
  ASSERT_TRUE(ApplyMigrations(reopened.get(), path, kTestKey, TestMigrations()).ok());
  EXPECT_EQ(*SchemaVersion(reopened.get()), 4);
}

TEST(MigrationsTest, FailingMigrationOnAFreshDatabaseKeepsTheEarlierOnes) {
  const std::string path = TempPath("fresh_failing.db");
  std::vector<Migration> migrations = TestMigrations();
  migrations[2].sql = "THIS IS NOT SQL";
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();

  const absl::Status status = ApplyMigrations(db.get(), path, kTestKey, migrations);

  EXPECT_THAT(status.message(), HasSubstr("migration 3 (account_tags) failed"));
  EXPECT_THAT(status.message(), HasSubstr("syntax error"));
  EXPECT_EQ(*SchemaVersion(db.get()), 2);
}

TEST(MigrationsTest, RejectsBadNumbering) {
  const std::string path = TempPath("numbering.db");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  const std::vector<Migration> migrations = {{1, "a", "CREATE TABLE a(x)"},
                                             {3, "c", "CREATE TABLE c(x)"}};
  EXPECT_EQ(ApplyMigrations(db.get(), path, kTestKey, migrations).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(*SchemaVersion(db.get()), 0);
}

}  // namespace
}  // namespace coffer::storage::db
