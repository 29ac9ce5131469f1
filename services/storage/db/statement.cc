#include "services/storage/db/statement.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace coffer::storage::db {

absl::Status SqliteStatus(sqlite3* db, int rc, absl::string_view what) {
  absl::StatusCode code = absl::StatusCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = absl::StatusCode::kUnavailable;
      break;
    case SQLITE_CONSTRAINT: {
      // The extended code, whether or not the connection reports them.
      const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
      code = (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY)
                 ? absl::StatusCode::kAlreadyExists
                 : absl::StatusCode::kFailedPrecondition;
      break;
    }
    case SQLITE_FULL:
      code = absl::StatusCode::kResourceExhausted;
      break;
    case SQLITE_CORRUPT:
      code = absl::StatusCode::kDataLoss;
      break;
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
      code = absl::StatusCode::kFailedPrecondition;
      break;
    case SQLITE_INTERRUPT:
      code = absl::StatusCode::kCancelled;
      break;
    default:
      break;
  }
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return absl::Status(code, absl::StrCat(what, ": ", message, " (sqlite code ", rc, ")"));
}

absl::StatusOr<Statement> Statement::Prepare(sqlite3* db, absl::string_view sql) {
  if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("SQL text too long");
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) {
    return SqliteStatus(db, rc, absl::StrCat("cannot prepare \"", sql, "\""));
  }
  if (stmt == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no SQL statement in \"", sql, "\""));
  }
  return Statement(db, stmt, std::string(sql));
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), sql_(std::move(other.sql_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

absl::Status Statement::BindResult(int rc, int index) {
  if (rc == SQLITE_OK) return absl::OkStatus();
  if (rc == SQLITE_RANGE) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter index ", index, " out of range in \"", sql_, "\""));
  }
  return SqliteStatus(db_, rc, absl::StrCat("cannot bind parameter ", index));
}

absl::Status Statement::Bind(int index, int64_t value) {
  return BindResult(sqlite3_bind_int64(stmt_, index, value), index);
}

absl::Status Statement::Bind(int index, double value) {
  return BindResult(sqlite3_bind_double(stmt_, index, value), index);
}

absl::Status Statement::Bind(int index, absl::string_view text) {
  return BindResult(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}

absl::Status Statement::Bind(int index, Blob blob) {
  // A null data pointer would bind NULL rather than an empty blob.
  const char* data = blob.bytes.data() != nullptr ? blob.bytes.data() : "";
  return BindResult(sqlite3_bind_blob64(stmt_, index, data, blob.bytes.size(), SQLITE_TRANSIENT),
                    index);
}

absl::Status Statement::Bind(int index, std::nullptr_t) {
  return BindResult(sqlite3_bind_null(stmt_, index), index);
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, absl::StrCat("\"", sql_, "\" failed"));
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

void Statement::Reset() {
  // sqlite3_reset repeats the last step's error, which Step already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

int Statement::ColumnType(int column) const { return sqlite3_column_type(stmt_, column); }

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

absl::string_view Statement::ColumnText(int column) const {
  // Text first, then its length: the order SQLite documents as safe.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return absl::string_view();
  return absl::string_view(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

absl::string_view Statement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (blob == nullptr) return absl::string_view();
  return absl::string_view(static_cast<const char*>(blob), static_cast<size_t>(size));
}

}  // namespace coffer::storage::db
