#include "services/storage/db/rekey.h"

#include <sqlite3.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/services/storage/db/sqlcipher_test_util.h"

namespace coffer::storage::db {
namespace {

using ::coffer::storage::db::testing::DumpDatabase;
using ::coffer::storage::db::testing::Exec;
using ::coffer::storage::db::testing::FileExists;
using ::coffer::storage::db::testing::kOtherTestKey;
using ::coffer::storage::db::testing::kTestKey;
using ::coffer::storage::db::testing::QueryStrings;
using ::coffer::storage::db::testing::ReadFileBytes;
using ::coffer::storage::db::testing::TempPath;
using ::coffer::storage::db::testing::TestDatabase;
using ::testing::ElementsAre;

constexpr char kMarker[] = "0xAbCdEfplaintextmarker";

void Fill(sqlite3* db) {
  // No automatic checkpoints: the WAL holds old-key pages when the rekey
  // starts, the case that needs the checkpoint afterwards.
  ASSERT_TRUE(Exec(db,
                   "PRAGMA wal_autocheckpoint = 0;"
                   "CREATE TABLE accounts(id INTEGER PRIMARY KEY, address TEXT);"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                   "WHERE i < 3000) INSERT INTO accounts(address) "
                   "SELECT '0xAbCdEfplaintextmarker' || i FROM n;")
                  .ok());
}

TEST(RekeyTest, NewKeyOpensOldKeyDoesNot) {
  const std::string path = TempPath("rekey.db");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_THAT(QueryStrings(db.get(), "PRAGMA journal_mode"), ElementsAre("wal"));
  Fill(db.get());
  const std::vector<std::string> before = DumpDatabase(db.get());

  const absl::Status status = RekeyDatabase(db.get(), kOtherTestKey);
  ASSERT_TRUE(status.ok()) << status;

  // The connection keeps working, still in WAL mode.
  EXPECT_EQ(DumpDatabase(db.get()), before);
  EXPECT_TRUE(Exec(db.get(), "INSERT INTO accounts(address) VALUES('after')").ok());
  EXPECT_THAT(QueryStrings(db.get(), "PRAGMA journal_mode"), ElementsAre("wal"));
  // A second connection with the new key, while the first is still open.
  {
    TestDatabase other = TestDatabase::Open(path, kOtherTestKey);
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_THAT(QueryStrings(other.get(), "PRAGMA integrity_check"), ElementsAre("ok"));
  }
  ASSERT_TRUE(Exec(db.get(), "DELETE FROM accounts WHERE address = 'after'").ok());
  db.Close();

  TestDatabase reopened = TestDatabase::Open(path, kOtherTestKey);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(DumpDatabase(reopened.get()), before);
  EXPECT_THAT(QueryStrings(reopened.get(), "PRAGMA integrity_check"), ElementsAre("ok"));
  reopened.Close();

  TestDatabase old_key = TestDatabase::Open(path, kTestKey);
  EXPECT_FALSE(old_key.ok());
  EXPECT_EQ(ReadFileBytes(path).find(kMarker), std::string::npos);
}

TEST(RekeyTest, CheckpointLeavesNoOldKeyFramesInTheWal) {
  const std::string path = TempPath("rekey_wal.db");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get());
  ASSERT_GT(ReadFileBytes(path + "-wal").size(), 0u);

  ASSERT_TRUE(RekeyDatabase(db.get(), kOtherTestKey).ok());

  EXPECT_TRUE(FileExists(path + "-wal"));
  EXPECT_EQ(ReadFileBytes(path + "-wal").size(), 0u);
}

TEST(RekeyTest, RejectsAMalformedKeyAndKeepsTheOldOne) {
  const std::string path = TempPath("rekey_bad.db");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get());

  EXPECT_EQ(RekeyDatabase(db.get(), "abc").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RekeyDatabase(db.get(), std::string(64, 'g')).code(),
            absl::StatusCode::kInvalidArgument);
  db.Close();

  EXPECT_TRUE(TestDatabase::Open(path, kTestKey).ok());
}

}  // namespace
}  // namespace coffer::storage::db
