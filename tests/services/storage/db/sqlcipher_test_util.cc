#include "tests/services/storage/db/sqlcipher_test_util.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace coffer::storage::db::testing {

TestDatabase TestDatabase::Open(const std::string& path, absl::string_view key_hex) {
  TestDatabase result;
  if (sqlite3_open_v2(path.c_str(), &result.db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    result.status_ =
        absl::InternalError(absl::StrCat("open ", path, ": ", sqlite3_errmsg(result.db_)));
    return result;
  }
  result.status_ = Exec(result.db_, absl::StrCat("PRAGMA key = \"x'", key_hex,
                                                 "'\"; PRAGMA cipher_page_size = 4096; "
                                                 "PRAGMA kdf_iter = 256000; "
                                                 "PRAGMA busy_timeout = 10000;"));
  if (result.status_.ok()) result.status_ = Exec(result.db_, "PRAGMA journal_mode = WAL");
  return result;
}

TestDatabase::TestDatabase(TestDatabase&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), status_(std::move(other.status_)) {}

TestDatabase& TestDatabase::operator=(TestDatabase&& other) noexcept {
  if (this != &other) {
    Close();
    db_ = std::exchange(other.db_, nullptr);
    status_ = std::move(other.status_);
  }
  return *this;
}

TestDatabase::~TestDatabase() { Close(); }

void TestDatabase::Close() {
  if (db_ != nullptr) sqlite3_close(db_);
  db_ = nullptr;
}

std::string TempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::remove((path + suffix).c_str());
  }
  return path;
}

absl::Status Exec(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    absl::Status status = absl::InternalError(message != nullptr ? message : sqlite3_errmsg(db));
    sqlite3_free(message);
    return status;
  }
  return absl::OkStatus();
}

long long QueryInt(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) return -1;
  long long value = -1;
  if (sqlite3_step(statement) == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  return value;
}

std::vector<std::string> QueryStrings(sqlite3* db, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) return rows;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(statement, 0);
    rows.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
  }
  sqlite3_finalize(statement);
  return rows;
}

std::vector<std::vector<std::string>> QueryRows(sqlite3* db, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    return rows;
  }
  int rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      const unsigned char* text = sqlite3_column_text(statement, i);
      row.push_back(text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
    }
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  sqlite3_finalize(statement);
  return rows;
}

std::vector<std::string> DumpDatabase(sqlite3* db) {
  std::vector<std::string> dump =
      QueryStrings(db,
                   "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master "
                   "ORDER BY type, name");
  for (const std::string& table :
       QueryStrings(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")) {
    sqlite3_stmt* statement = nullptr;
    const std::string sql = absl::StrCat("SELECT * FROM \"", table, "\" ORDER BY rowid");
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      dump.push_back(absl::StrCat("error: ", sqlite3_errmsg(db)));
      continue;
    }
    while (sqlite3_step(statement) == SQLITE_ROW) {
      std::string row = table;
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        const unsigned char* text = sqlite3_column_text(statement, i);
        absl::StrAppend(&row, "|", text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
      }
      dump.push_back(std::move(row));
    }
    sqlite3_finalize(statement);
  }
  return dump;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool FileExists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

}  // namespace coffer::storage::db::testing
