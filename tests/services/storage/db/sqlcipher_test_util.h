// Helpers for tests that open SQLCipher databases directly.
//
//   TestDatabase db = TestDatabase::Open(TempPath("a.db"), kTestKey);
//   ASSERT_TRUE(db.ok());
//   Exec(db.get(), "CREATE TABLE t(x)");
//   EXPECT_EQ(QueryInt(db.get(), "SELECT count(*) FROM t"), 0);
#ifndef COFFER_TESTS_SERVICES_STORAGE_DB_SQLCIPHER_TEST_UTIL_H_
#define COFFER_TESTS_SERVICES_STORAGE_DB_SQLCIPHER_TEST_UTIL_H_

#include <sqlite3.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace coffer::storage::db::testing {

// Two valid, different keys (64 hex characters each).
inline constexpr absl::string_view kTestKey =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
inline constexpr absl::string_view kOtherTestKey =
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

// A connection keyed like the service's: PRAGMA key = "x'<hex>'",
// cipher_page_size 4096, kdf_iter 256000, journal_mode WAL, busy timeout.
// Closes on destruction. status() says why opening failed (a wrong key shows
// on the first read, which Open performs).
class TestDatabase {
 public:
  static TestDatabase Open(const std::string& path, absl::string_view key_hex);

  TestDatabase(TestDatabase&& other) noexcept;
  TestDatabase& operator=(TestDatabase&& other) noexcept;
  ~TestDatabase();

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  sqlite3* get() const { return db_; }
  void Close();

 private:
  TestDatabase() = default;
  sqlite3* db_ = nullptr;
  absl::Status status_;
};

// A path for a new file under $TEST_TMPDIR, with any old copy (and its
// -wal/-shm/-journal) removed.
std::string TempPath(absl::string_view name);

// Runs `sql`; the error carries SQLite's message.
absl::Status Exec(sqlite3* db, const std::string& sql);

// The first column of the first row of `sql` as an integer; -1 on error.
long long QueryInt(sqlite3* db, const std::string& sql);

// The first column of every row of `sql`, as text.
std::vector<std::string> QueryStrings(sqlite3* db, const std::string& sql);

// Every row of `sql`, each column as text ("NULL" for NULL). A statement
// that fails to prepare or step fails the current test.
std::vector<std::vector<std::string>> QueryRows(sqlite3* db, const std::string& sql);

// Every schema entry and every row of every table, as text, for comparing
// a database before and after.
std::vector<std::string> DumpDatabase(sqlite3* db);

// The bytes of the file at `path` ("" when it cannot be read).
std::string ReadFileBytes(const std::string& path);

bool FileExists(const std::string& path);

}  // namespace coffer::storage::db::testing

#endif  // COFFER_TESTS_SERVICES_STORAGE_DB_SQLCIPHER_TEST_UTIL_H_
