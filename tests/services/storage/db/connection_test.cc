#include "services/storage/db/connection.h"

#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include <openssl/sha.h>

#include "tests/services/storage/db/test_files.h"

namespace coffer::storage::db {
namespace {

using testing::Exists;
using testing::FreshPath;
using testing::Key;
using testing::ReadBytes;

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::unique_ptr<Connection> OpenOrDie(const std::string& path, const char* key = testing::kTestKey,
                                      OpenOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Connection>> connection =
      Connection::Open(path, Key(key), options);
  EXPECT_TRUE(connection.ok()) << connection.status();
  return connection.ok() ? std::move(*connection) : nullptr;
}

absl::StatusOr<std::string> ReadValue(Connection& db, const std::string& k) {
  absl::StatusOr<CachedStatement> select = db.Prepare("SELECT v FROM kv WHERE k = ?1");
  if (!select.ok()) return select.status();
  if (absl::Status s = (*select)->Bind(1, k); !s.ok()) return s;
  absl::StatusOr<bool> row = (*select)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(k);
  return std::string((*select)->ColumnText(0));
}

absl::Status Insert(Connection& db, const std::string& k, const std::string& v) {
  absl::StatusOr<CachedStatement> insert = db.Prepare("INSERT INTO kv (k, v) VALUES (?1, ?2)");
  if (!insert.ok()) return insert.status();
  if (absl::Status s = (*insert)->Bind(1, k); !s.ok()) return s;
  if (absl::Status s = (*insert)->Bind(2, v); !s.ok()) return s;
  return (*insert)->Run();
}

TEST(ConnectionTest, RoundTripAcrossReopen) {
  const std::string path = FreshPath("round_trip.db");
  {
    std::unique_ptr<Connection> db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").ok());
    ASSERT_TRUE(Insert(*db, "alpha", "one").ok());
  }
  std::unique_ptr<Connection> db = OpenOrDie(path);
  ASSERT_NE(db, nullptr);
  absl::StatusOr<std::string> value = ReadValue(*db, "alpha");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "one");
}

TEST(ConnectionTest, UsesWalAndForeignKeys) {
  std::unique_ptr<Connection> db = OpenOrDie(FreshPath("pragmas.db"));
  ASSERT_NE(db, nullptr);
  for (const auto& [pragma, expected] :
       {std::pair{"PRAGMA journal_mode", "wal"}, std::pair{"PRAGMA foreign_keys", "1"},
        std::pair{"PRAGMA synchronous", "1"}, std::pair{"PRAGMA busy_timeout", "5000"}}) {
    absl::StatusOr<CachedStatement> st = db->Prepare(pragma);
    ASSERT_TRUE(st.ok()) << st.status();
    ASSERT_TRUE((*st)->Step().value());
    EXPECT_EQ((*st)->ColumnText(0), expected) << pragma;
  }
}

TEST(ConnectionTest, SetsWalAutocheckpointWhenAsked) {
  OpenOptions options;
  options.wal_autocheckpoint_pages = 5000;
  absl::StatusOr<std::unique_ptr<Connection>> db =
      Connection::Open(FreshPath("autocheckpoint.db"), Key(testing::kTestKey), options);
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<CachedStatement> st = (*db)->Prepare("PRAGMA wal_autocheckpoint");
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_TRUE((*st)->Step().value());
  EXPECT_EQ((*st)->ColumnInt64(0), 5000);
}

TEST(ConnectionTest, CheckpointPassiveEmptiesTheWalIntoTheFile) {
  const std::string path = FreshPath("checkpoint.db");
  OpenOptions options;
  options.wal_autocheckpoint_pages = 100000;  // none by itself
  absl::StatusOr<std::unique_ptr<Connection>> db =
      Connection::Open(path, Key(testing::kTestKey), options);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Execute("CREATE TABLE blobs (b BLOB)").ok());
  ASSERT_TRUE((*db)
                  ->Execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                            "WHERE i < 200) INSERT INTO blobs SELECT randomblob(4000) FROM n")
                  .ok());
  const auto file_size = [&path] {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
  };
  // 200 rows of 4,000 bytes are ~800 KB, all in the WAL so far.
  EXPECT_LT(file_size(), 200 * 1000);
  ASSERT_TRUE((*db)->CheckpointPassive().ok());
  EXPECT_GT(file_size(), 200 * 4000);
}

TEST(ConnectionTest, WrongKeyFailsAndLeavesTheFileUntouched) {
  const std::string path = FreshPath("wrong_key.db");
  {
    std::unique_ptr<Connection> db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").ok());
    ASSERT_TRUE(Insert(*db, "a", "b").ok());
  }
  const std::string before = Sha256Hex(ReadBytes(path));
  ASSERT_FALSE(Exists(path + "-wal"));

  for (bool read_only : {false, true}) {
    OpenOptions options;
    options.read_only = read_only;
    absl::StatusOr<std::unique_ptr<Connection>> wrong =
        Connection::Open(path, Key(testing::kOtherKey), options);
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(wrong.status().message(), "wrong key or not a coffer database: " + path);
    EXPECT_FALSE(absl::StrContains(wrong.status().message(), testing::kOtherKey));
  }
  EXPECT_EQ(Sha256Hex(ReadBytes(path)), before);
  EXPECT_FALSE(Exists(path + "-wal"));

  // The right key still opens it.
  std::unique_ptr<Connection> db = OpenOrDie(path);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(ReadValue(*db, "a").value_or(""), "b");
}

TEST(ConnectionTest, PlainSqliteFileIsNotACofferDatabase) {
  const std::string path = FreshPath("plain.db");
  {
    sqlite3* plain = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &plain), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(plain, "CREATE TABLE x (y)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(plain);
  }
  const std::string before = Sha256Hex(ReadBytes(path));
  absl::StatusOr<std::unique_ptr<Connection>> db = Connection::Open(path, Key(), {});
  EXPECT_EQ(db.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Sha256Hex(ReadBytes(path)), before);
}

TEST(ConnectionTest, FileHoldsNoPlaintext) {
  const std::string path = FreshPath("no_plaintext.db");
  const std::string address = "0xC0ffEe254729296a45a3885639AC7E10F9d54979";
  const std::string label = "my-very-recognisable-cold-wallet-label";
  {
    std::unique_ptr<Connection> db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").ok());
    ASSERT_TRUE(Insert(*db, address, label).ok());
    // Checked while the data still sits in the WAL, then after the final
    // checkpoint on close.
    for (const char* suffix : {"", "-wal"}) {
      const std::string bytes = ReadBytes(path + suffix);
      EXPECT_FALSE(absl::StrContains(bytes, address)) << suffix;
      EXPECT_FALSE(absl::StrContains(bytes, label)) << suffix;
      EXPECT_FALSE(absl::StrContains(bytes, "CREATE TABLE")) << suffix;
    }
  }
  const std::string bytes = ReadBytes(path);
  ASSERT_GT(bytes.size(), 0u);
  EXPECT_FALSE(absl::StrContains(bytes, address));
  EXPECT_FALSE(absl::StrContains(bytes, label));
  EXPECT_FALSE(absl::StrContains(bytes, "SQLite format 3"));
}

TEST(ConnectionTest, MissingFileWithoutCreateIsNotFound) {
  OpenOptions options;
  options.create = false;
  absl::StatusOr<std::unique_ptr<Connection>> db =
      Connection::Open(FreshPath("absent.db"), Key(), options);
  EXPECT_EQ(db.status().code(), absl::StatusCode::kNotFound) << db.status();
}

TEST(ConnectionTest, ReadOnlyConnectionCannotWrite) {
  const std::string path = FreshPath("read_only.db");
  std::unique_ptr<Connection> writer = OpenOrDie(path);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").ok());
  OpenOptions options;
  options.read_only = true;
  std::unique_ptr<Connection> reader = OpenOrDie(path, testing::kTestKey, options);
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(ReadValue(*reader, "x").status().code() == absl::StatusCode::kNotFound);
  EXPECT_FALSE(Insert(*reader, "x", "y").ok());
}

TEST(ConnectionTest, PreparedStatementsAreCachedAndReset) {
  std::unique_ptr<Connection> db = OpenOrDie(FreshPath("cache.db"));
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").ok());
  EXPECT_EQ(db->CachedStatementCount(), 0u);
  sqlite3_stmt* first = nullptr;
  {
    absl::StatusOr<CachedStatement> st = db->Prepare("SELECT count(*) FROM kv");
    ASSERT_TRUE(st.ok());
    first = (*st)->raw();
    ASSERT_TRUE((*st)->Step().value());  // left mid-way: the cache resets it
  }
  EXPECT_EQ(db->CachedStatementCount(), 1u);
  {
    absl::StatusOr<CachedStatement> again = db->Prepare("SELECT count(*) FROM kv");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->raw(), first);
    EXPECT_EQ(db->CachedStatementCount(), 0u);
    // A second handle for the same text while the first is out.
    absl::StatusOr<CachedStatement> concurrent = db->Prepare("SELECT count(*) FROM kv");
    ASSERT_TRUE(concurrent.ok());
    EXPECT_NE((*concurrent)->raw(), first);
    ASSERT_TRUE((*again)->Step().value());
    EXPECT_EQ((*again)->ColumnInt64(0), 0);
  }
  EXPECT_EQ(db->CachedStatementCount(), 2u);
}

TEST(ConnectionTest, StatementCacheIsBounded) {
  std::unique_ptr<Connection> db = OpenOrDie(FreshPath("bounded_cache.db"));
  ASSERT_NE(db, nullptr);
  for (size_t i = 0; i < Connection::kMaxCachedStatements + 10; ++i) {
    absl::StatusOr<CachedStatement> st = db->Prepare("SELECT " + std::to_string(i));
    ASSERT_TRUE(st.ok()) << st.status();
  }
  EXPECT_EQ(db->CachedStatementCount(), Connection::kMaxCachedStatements);
}

TEST(ConnectionTest, TransactionsAndSavepoints) {
  std::unique_ptr<Connection> db = OpenOrDie(FreshPath("tx.db"));
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").ok());

  ASSERT_TRUE(db->Begin(Connection::TransactionMode::kImmediate).ok());
  EXPECT_TRUE(db->InTransaction());
  ASSERT_TRUE(Insert(*db, "kept", "1").ok());
  ASSERT_TRUE(db->Savepoint("inner").ok());
  ASSERT_TRUE(Insert(*db, "undone", "2").ok());
  ASSERT_TRUE(db->RollbackTo("inner").ok());
  ASSERT_TRUE(db->Release("inner").ok());
  ASSERT_TRUE(db->Commit().ok());
  EXPECT_FALSE(db->InTransaction());
  EXPECT_TRUE(ReadValue(*db, "kept").ok());
  EXPECT_EQ(ReadValue(*db, "undone").status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(db->Begin().ok());
  ASSERT_TRUE(Insert(*db, "rolled_back", "3").ok());
  ASSERT_TRUE(db->Rollback().ok());
  EXPECT_EQ(ReadValue(*db, "rolled_back").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(db->Rollback().ok()) << "no transaction open: nothing to do";

  EXPECT_EQ(db->Savepoint("bad name; DROP TABLE kv").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::storage::db
