#include "services/storage/db/backup.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
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
using ::coffer::storage::db::testing::QueryInt;
using ::coffer::storage::db::testing::QueryStrings;
using ::coffer::storage::db::testing::ReadFileBytes;
using ::coffer::storage::db::testing::TempPath;
using ::coffer::storage::db::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Stored in every row; must never appear in a file on disk.
constexpr char kMarker[] = "bc1qplaintextmarkercoffer";

// Creates `rows` rows of about 300 bytes each holding kMarker.
void Fill(sqlite3* db, int rows) {
  ASSERT_TRUE(
      Exec(db, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, address TEXT, pad BLOB)").ok());
  ASSERT_TRUE(Exec(db, absl::StrCat("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                                    "FROM n WHERE i < ",
                                    rows, ") INSERT INTO accounts(address, pad) SELECT '", kMarker,
                                    "' || i, randomblob(256) FROM n"))
                  .ok());
}

TEST(BackupTest, BackupIsEncryptedCompleteAndSound) {
  const std::string path = TempPath("source.db");
  const std::string backup_path = TempPath("source.db.bak");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get(), 2000);

  std::vector<std::pair<int, int>> progress;
  BackupOptions options;
  options.pages_per_step = 16;
  options.progress = [&](int done, int total) { progress.emplace_back(done, total); };
  const absl::Status status = BackupDatabase(db.get(), kTestKey, backup_path, options);
  ASSERT_TRUE(status.ok()) << status;

  // Many steps, counting up to the total.
  ASSERT_GT(progress.size(), 5u);
  for (size_t i = 1; i < progress.size(); ++i) {
    EXPECT_GE(progress[i].first, progress[i - 1].first);
  }
  EXPECT_EQ(progress.back().first, progress.back().second);
  EXPECT_FALSE(FileExists(backup_path + ".tmp"));

  TestDatabase backup = TestDatabase::Open(backup_path, kTestKey);
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_THAT(QueryStrings(backup.get(), "PRAGMA integrity_check"), ElementsAre("ok"));
  EXPECT_EQ(DumpDatabase(backup.get()), DumpDatabase(db.get()));
  backup.Close();

  // Encrypted: the key is needed, and no stored string is readable.
  EXPECT_FALSE(TestDatabase::Open(backup_path, kOtherTestKey).ok());
  const std::string bytes = ReadFileBytes(backup_path);
  ASSERT_GT(bytes.size(), 500000u);
  EXPECT_EQ(bytes.find(kMarker), std::string::npos);
  EXPECT_EQ(bytes.find("SQLite format 3"), std::string::npos);
}

TEST(BackupTest, WriterKeepsWritingDuringBackup) {
  const std::string path = TempPath("busy.db");
  const std::string backup_path = TempPath("busy.db.bak");
  TestDatabase db = TestDatabase::Open(path, kTestKey);  // The backup's own connection.
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get(), 5000);
  const long long initial_rows = QueryInt(db.get(), "SELECT count(*) FROM accounts");

  std::atomic<bool> backup_started{false};
  std::atomic<bool> stop{false};
  std::atomic<int> written_during_backup{0};
  std::atomic<int> writer_errors{0};
  std::atomic<long long> slowest_insert_us{0};
  std::thread writer([&] {
    TestDatabase connection = TestDatabase::Open(path, kTestKey);
    if (!connection.ok()) {
      ++writer_errors;
      return;
    }
    while (!stop.load()) {
      const auto start = std::chrono::steady_clock::now();
      const bool during = backup_started.load();
      if (!Exec(connection.get(),
                absl::StrCat("INSERT INTO accounts(address) VALUES('", kMarker, "-live')"))
               .ok()) {
        ++writer_errors;
      } else if (during) {
        ++written_during_backup;
      }
      const long long us = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count();
      if (during && us > slowest_insert_us.load()) slowest_insert_us = us;
    }
  });

  BackupOptions options;
  options.pages_per_step = 4;
  options.pause_between_steps = absl::Milliseconds(2);
  options.progress = [&](int, int) { backup_started = true; };
  const absl::Status status = BackupDatabase(db.get(), kTestKey, backup_path, options);
  stop = true;
  writer.join();
  ASSERT_TRUE(status.ok()) << status;

  std::cerr << "rows written during the backup: " << written_during_backup.load()
            << ", slowest insert: " << slowest_insert_us.load() << " us\n";
  EXPECT_EQ(writer_errors.load(), 0);
  // The writer was never held up by the backup.
  EXPECT_GT(written_during_backup.load(), 10);
  EXPECT_LT(slowest_insert_us.load(), 2'000'000);

  // The backup is one consistent snapshot, taken at its start or later.
  TestDatabase backup = TestDatabase::Open(backup_path, kTestKey);
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_THAT(QueryStrings(backup.get(), "PRAGMA integrity_check"), ElementsAre("ok"));
  const long long backup_rows = QueryInt(backup.get(), "SELECT count(*) FROM accounts");
  EXPECT_GE(backup_rows, initial_rows);
  EXPECT_LE(backup_rows, QueryInt(db.get(), "SELECT count(*) FROM accounts"));
  EXPECT_EQ(QueryInt(backup.get(), "SELECT max(id) FROM accounts"), backup_rows);
}

TEST(BackupTest, RestoreReplacesTheOpenDatabase) {
  const std::string path = TempPath("restore.db");
  const std::string backup_path = TempPath("restore.db.bak");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get(), 100);
  ASSERT_TRUE(BackupDatabase(db.get(), kTestKey, backup_path).ok());
  const std::vector<std::string> saved = DumpDatabase(db.get());

  ASSERT_TRUE(Exec(db.get(), "DELETE FROM accounts WHERE id > 10; CREATE TABLE extra(x);").ok());
  const absl::Status status = RestoreDatabase(db.get(), kTestKey, backup_path);
  ASSERT_TRUE(status.ok()) << status;

  EXPECT_EQ(DumpDatabase(db.get()), saved);
  EXPECT_THAT(QueryStrings(db.get(), "PRAGMA journal_mode"), ElementsAre("wal"));
  db.Close();
  TestDatabase reopened = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(DumpDatabase(reopened.get()), saved);
  EXPECT_THAT(QueryStrings(reopened.get(), "PRAGMA integrity_check"), ElementsAre("ok"));
}

TEST(BackupTest, ReplacesAnOlderBackup) {
  const std::string path = TempPath("twice.db");
  const std::string backup_path = TempPath("twice.db.bak");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get(), 10);
  ASSERT_TRUE(BackupDatabase(db.get(), kTestKey, backup_path).ok());
  ASSERT_TRUE(Exec(db.get(), "DELETE FROM accounts WHERE id > 5").ok());
  ASSERT_TRUE(BackupDatabase(db.get(), kTestKey, backup_path).ok());

  TestDatabase backup = TestDatabase::Open(backup_path, kTestKey);
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_EQ(QueryInt(backup.get(), "SELECT count(*) FROM accounts"), 5);
}

TEST(BackupTest, CancelStopsBetweenStepsAndLeavesNoFile) {
  const std::string path = TempPath("cancelled.db");
  const std::string backup_path = TempPath("cancelled.db.bak");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get(), 2000);

  int steps = 0;
  BackupOptions options;
  options.pages_per_step = 8;
  options.progress = [&](int, int) { ++steps; };
  options.cancelled = [&] { return steps >= 3; };
  const absl::Status status = BackupDatabase(db.get(), kTestKey, backup_path, options);

  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_EQ(steps, 3);
  EXPECT_FALSE(FileExists(backup_path));
  EXPECT_FALSE(FileExists(backup_path + ".tmp"));
  // The source is still usable: the backup's read transaction ended.
  EXPECT_TRUE(Exec(db.get(), "DELETE FROM accounts WHERE id > 5").ok());
}

TEST(BackupTest, RejectsAMalformedKeyAndLeavesNoFile) {
  const std::string path = TempPath("badkey.db");
  const std::string backup_path = TempPath("badkey.db.bak");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get(), 10);

  const absl::Status status = BackupDatabase(db.get(), "not-a-key", backup_path);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr("not-a-key")));
  EXPECT_FALSE(FileExists(backup_path));
  EXPECT_FALSE(FileExists(backup_path + ".tmp"));
}

TEST(BackupTest, RestoreWithTheWrongKeyFailsAndChangesNothing) {
  const std::string path = TempPath("wrongkey.db");
  const std::string backup_path = TempPath("wrongkey.db.bak");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get(), 10);
  ASSERT_TRUE(BackupDatabase(db.get(), kTestKey, backup_path).ok());
  ASSERT_TRUE(Exec(db.get(), "DELETE FROM accounts WHERE id > 5").ok());
  const std::vector<std::string> before = DumpDatabase(db.get());

  const absl::Status status = RestoreDatabase(db.get(), kOtherTestKey, backup_path);

  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("wrong key"));
  EXPECT_EQ(DumpDatabase(db.get()), before);
}

TEST(BackupTest, FailureLeavesNoFileAndTheSourceUsable) {
  const std::string path = TempPath("unwritable.db");
  TestDatabase db = TestDatabase::Open(path, kTestKey);
  ASSERT_TRUE(db.ok()) << db.status();
  Fill(db.get(), 10);
  const std::string backup_path = path + "-missing-dir/x.bak";

  const absl::Status status = BackupDatabase(db.get(), kTestKey, backup_path);

  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("backup to " + backup_path + " failed"));
  EXPECT_FALSE(FileExists(backup_path + ".tmp"));
  // No transaction was left open on the source.
  EXPECT_TRUE(
      Exec(db.get(), "BEGIN IMMEDIATE; INSERT INTO accounts(address) VALUES('x'); COMMIT").ok());
}

}  // namespace
}  // namespace coffer::storage::db
