#ifndef COFFER_SERVICES_STORAGE_DB_STATEMENT_H_
#define COFFER_SERVICES_STORAGE_DB_STATEMENT_H_

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::storage::db {

// Converts an SQLite result code into a Status carrying sqlite3_errmsg(db)
// (which never contains the SQL text or bound values), prefixed by `what`.
// Busy and locked map to UNAVAILABLE, a uniqueness violation to
// ALREADY_EXISTS, other constraints to FAILED_PRECONDITION, a full disk to
// RESOURCE_EXHAUSTED, corruption to DATA_LOSS, the rest to INTERNAL.
absl::Status SqliteStatus(sqlite3* db, int rc, absl::string_view what);

// Bytes to bind as a BLOB rather than TEXT.
struct Blob {
  absl::string_view bytes;
};

// One prepared statement, finalized on destruction.
//
//   ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, "SELECT v FROM t WHERE k = ?1"));
//   RETURN_IF_ERROR(st.Bind(1, key));
//   ASSIGN_OR_RETURN(bool row, st.Step());
//   if (row) value = std::string(st.ColumnText(0));
//
// Parameter indexes start at 1, column indexes at 0, as in SQLite. Belongs
// to the thread that uses its connection; not thread-safe. Must be destroyed
// before its connection is closed. Usually obtained through
// Connection::Prepare, which caches it.
class Statement {
 public:
  [[nodiscard]] static absl::StatusOr<Statement> Prepare(sqlite3* db, absl::string_view sql);

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binding copies text and blobs (SQLITE_TRANSIENT): the arguments may go
  // away before Step.
  [[nodiscard]] absl::Status Bind(int index, int64_t value);
  [[nodiscard]] absl::Status Bind(int index, int value) { return Bind(index, int64_t{value}); }
  [[nodiscard]] absl::Status Bind(int index, double value);
  [[nodiscard]] absl::Status Bind(int index, absl::string_view text);
  [[nodiscard]] absl::Status Bind(int index, const std::string& text) {
    return Bind(index, absl::string_view(text));
  }
  [[nodiscard]] absl::Status Bind(int index, const char* text) {
    return Bind(index, absl::string_view(text));
  }
  [[nodiscard]] absl::Status Bind(int index, Blob blob);
  [[nodiscard]] absl::Status Bind(int index, std::nullptr_t);
  [[nodiscard]] absl::Status BindNull(int index) { return Bind(index, nullptr); }

  // Runs the statement one step: true when a row is available through the
  // Column accessors, false when it has finished.
  [[nodiscard]] absl::StatusOr<bool> Step();

  // Steps to completion, for statements that return no rows (or whose rows
  // are not wanted).
  [[nodiscard]] absl::Status Run();

  // Makes the statement ready to run again and clears its bindings.
  void Reset();

  // Column accessors for the current row. Text and blob views stay valid
  // until the next Step, Reset or destruction.
  int ColumnCount() const;
  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL.
  int ColumnType(int column) const;
  bool ColumnIsNull(int column) const { return ColumnType(column) == SQLITE_NULL; }
  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  absl::string_view ColumnText(int column) const;
  absl::string_view ColumnBlob(int column) const;

  // The SQL the statement was prepared from.
  const std::string& sql() const { return sql_; }
  sqlite3_stmt* raw() const { return stmt_; }

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}

  absl::Status BindResult(int rc, int index);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;  // null once moved from
  std::string sql_;
};

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_STATEMENT_H_
