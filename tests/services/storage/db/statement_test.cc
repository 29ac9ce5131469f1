#include "services/storage/db/statement.h"

#include <sqlite3.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace coffer::storage::db {
namespace {

// Statements work on any SQLite handle: a plain in-memory database suffices.
class StatementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db_, "CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB, n)", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
  }
  void TearDown() override { sqlite3_close_v2(db_); }

  sqlite3* db_ = nullptr;
};

TEST_F(StatementTest, BindsStepsAndReadsEveryType) {
  absl::StatusOr<Statement> insert =
      Statement::Prepare(db_, "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  ASSERT_TRUE(insert.ok()) << insert.status();
  const std::string blob("\0\1\2", 3);
  ASSERT_TRUE(insert->Bind(1, int64_t{1} << 40).ok());
  ASSERT_TRUE(insert->Bind(2, 2.5).ok());
  ASSERT_TRUE(insert->Bind(3, std::string("text")).ok());
  ASSERT_TRUE(insert->Bind(4, Blob{blob}).ok());
  ASSERT_TRUE(insert->BindNull(5).ok());
  ASSERT_TRUE(insert->Run().ok());

  absl::StatusOr<Statement> select = Statement::Prepare(db_, "SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(select.ok());
  absl::StatusOr<bool> row = select->Step();
  ASSERT_TRUE(row.ok());
  ASSERT_TRUE(*row);
  EXPECT_EQ(select->ColumnCount(), 5);
  EXPECT_EQ(select->ColumnInt64(0), int64_t{1} << 40);
  EXPECT_EQ(select->ColumnDouble(1), 2.5);
  EXPECT_EQ(select->ColumnText(2), "text");
  EXPECT_EQ(select->ColumnType(3), SQLITE_BLOB);
  EXPECT_EQ(select->ColumnBlob(3), blob);
  EXPECT_TRUE(select->ColumnIsNull(4));
  row = select->Step();
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
}

TEST_F(StatementTest, ResetRunsAgainWithNewBindings) {
  absl::StatusOr<Statement> insert = Statement::Prepare(db_, "INSERT INTO t (i) VALUES (?1)");
  ASSERT_TRUE(insert.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(insert->Bind(1, i).ok());
    ASSERT_TRUE(insert->Run().ok());
    insert->Reset();
  }
  absl::StatusOr<Statement> count = Statement::Prepare(db_, "SELECT count(*), sum(i) FROM t");
  ASSERT_TRUE(count.ok());
  ASSERT_TRUE(count->Step().value());
  EXPECT_EQ(count->ColumnInt64(0), 3);
  EXPECT_EQ(count->ColumnInt64(1), 3);
}

TEST_F(StatementTest, ErrorsCarrySqliteMessage) {
  absl::StatusOr<Statement> bad = Statement::Prepare(db_, "SELECT nope FROM t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("no such column"), absl::string_view::npos) << bad.status();

  ASSERT_EQ(sqlite3_exec(db_, "CREATE TABLE u (k TEXT PRIMARY KEY)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  absl::StatusOr<Statement> insert = Statement::Prepare(db_, "INSERT INTO u VALUES ('a')");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Run().ok());
  insert->Reset();
  absl::Status duplicate = insert->Run();
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists) << duplicate;
  EXPECT_NE(duplicate.message().find("UNIQUE"), absl::string_view::npos) << duplicate;
}

TEST_F(StatementTest, BindOutOfRangeIsInvalidArgument) {
  absl::StatusOr<Statement> select = Statement::Prepare(db_, "SELECT ?1");
  ASSERT_TRUE(select.ok());
  EXPECT_EQ(select->Bind(2, 1).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::storage::db
