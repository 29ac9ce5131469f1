#include "services/storage/db/connection.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "common/status/status_macros.h"

namespace coffer::storage::db {
namespace {

// Closes a connection that failed to open completely.
struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using OwnedSqlite = std::unique_ptr<sqlite3, SqliteCloser>;

// sqlite3_exec without a callback: reports the error, never the SQL (which
// may be the key pragma).
absl::Status Exec(sqlite3* db, const char* sql, absl::string_view what) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, what);
  return absl::OkStatus();
}

bool IsIdentifier(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

absl::Status WrongKey(const std::string& path) {
  return absl::FailedPreconditionError(absl::StrCat("wrong key or not a coffer database: ", path));
}

}  // namespace

CachedStatement::CachedStatement(CachedStatement&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), statement_(std::move(other.statement_)) {}

CachedStatement& CachedStatement::operator=(CachedStatement&& other) noexcept {
  if (this != &other) {
    GiveBack();
    owner_ = std::exchange(other.owner_, nullptr);
    statement_ = std::move(other.statement_);
  }
  return *this;
}

CachedStatement::~CachedStatement() { GiveBack(); }

void CachedStatement::GiveBack() {
  if (owner_ != nullptr && statement_ != nullptr) owner_->ReturnToCache(std::move(statement_));
  owner_ = nullptr;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                             const SecretString& key,
                                                             const OpenOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  sqlite3* raw_db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw_db, flags, nullptr);
  OwnedSqlite db(raw_db);
  if (rc != SQLITE_OK) {
    if (rc == SQLITE_CANTOPEN && !(flags & SQLITE_OPEN_CREATE)) {
      return absl::NotFoundError(
          absl::StrCat("cannot open database ", path, ": missing or not readable"));
    }
    return SqliteStatus(db.get(), rc, absl::StrCat("cannot open database ", path));
  }
  sqlite3_extended_result_codes(db.get(), 1);

  // 1. The key, before any statement can read (or write) a page.
  if (key.size() != 64) {
    return absl::InvalidArgumentError("database key must be 64 hexadecimal characters");
  }
  {
    SecretString pragma(std::string("PRAGMA key = \"x'"));
    pragma.Append(key.Reveal());
    pragma.Append("'\"");
    // Reveal() of a SecretString built from std::string is NUL-terminated.
    RETURN_IF_ERROR(Exec(db.get(), pragma.Reveal().data(), "cannot set the database key"));
  }
  // 2. Cipher settings, which must match those the file was created with.
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA cipher_page_size = 4096", "cannot set cipher_page_size"));
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA kdf_iter = 256000", "cannot set kdf_iter"));

  // 3. Prove the key by decrypting the first page. Nothing has been written.
  {
    const int verify =
        sqlite3_exec(db.get(), "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
    if ((verify & 0xff) == SQLITE_NOTADB) return WrongKey(path);
    if (verify != SQLITE_OK) {
      return SqliteStatus(db.get(), verify, absl::StrCat("cannot read database ", path));
    }
  }

  // 4. Only now settings that may write to the file.
  RETURN_IF_ERROR(
      Exec(db.get(),
           absl::StrCat("PRAGMA busy_timeout = ", absl::ToInt64Milliseconds(options.busy_timeout))
               .c_str(),
           "cannot set busy_timeout"));
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA foreign_keys = ON", "cannot enable foreign keys"));
  // Savepoint and statement journals in memory. On a file (SQLite's default)
  // SQLCipher encrypts every page copied into them, and the pool runs each
  // write in its own savepoint: that doubled the page encryptions of a write
  // transaction. They hold only the pages one transaction changed.
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA temp_store = MEMORY", "cannot set temp_store"));
  if (options.cache_kib > 0) {
    RETURN_IF_ERROR(Exec(db.get(), absl::StrCat("PRAGMA cache_size = -", options.cache_kib).c_str(),
                         "cannot set cache_size"));
  }
  if (!options.read_only) {
    // journal_mode returns the mode in effect; anything but "wal" (an
    // in-memory database, a file system without shared memory) is an error.
    sqlite3_stmt* stmt = nullptr;
    int prc = sqlite3_prepare_v2(db.get(), "PRAGMA journal_mode = WAL", -1, &stmt, nullptr);
    std::string mode;
    if (prc == SQLITE_OK) {
      prc = sqlite3_step(stmt);
      if (prc == SQLITE_ROW) {
        const unsigned char* text = sqlite3_column_text(stmt, 0);
        mode = text != nullptr ? reinterpret_cast<const char*>(text) : "";
        prc = SQLITE_OK;
      }
    }
    sqlite3_finalize(stmt);
    if (prc != SQLITE_OK) return SqliteStatus(db.get(), prc, "cannot set journal_mode = WAL");
    if (absl::AsciiStrToLower(mode) != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("database ", path, " cannot use WAL (journal mode is ", mode, ")"));
    }
    RETURN_IF_ERROR(Exec(
        db.get(),
        options.sync_every_commit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
        "cannot set synchronous"));
    if (options.wal_autocheckpoint_pages > 0) {
      RETURN_IF_ERROR(Exec(
          db.get(),
          absl::StrCat("PRAGMA wal_autocheckpoint = ", options.wal_autocheckpoint_pages).c_str(),
          "cannot set wal_autocheckpoint"));
    }
  }
  return std::unique_ptr<Connection>(new Connection(db.release(), path, options.read_only));
}

Connection::~Connection() {
  if (outstanding_ != 0) {
    std::fprintf(stderr, "Connection %s destroyed with %zu statements still handed out\n",
                 path_.c_str(), outstanding_);
    std::abort();
  }
  cache_.clear();
  sqlite3_close_v2(db_);
}

absl::Status Connection::Execute(absl::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, absl::StrCat("\"", sql, "\" failed"));
  return absl::OkStatus();
}

absl::StatusOr<CachedStatement> Connection::Prepare(absl::string_view sql) {
  std::unique_ptr<Statement> statement;
  if (auto it = cache_.find(std::string(sql)); it != cache_.end() && !it->second.empty()) {
    statement = std::move(it->second.back());
    it->second.pop_back();
    --idle_count_;
  } else {
    ASSIGN_OR_RETURN(Statement prepared, Statement::Prepare(db_, sql));
    statement = std::make_unique<Statement>(std::move(prepared));
  }
  ++outstanding_;
  return CachedStatement(this, std::move(statement));
}

void Connection::ReturnToCache(std::unique_ptr<Statement> statement) {
  --outstanding_;
  statement->Reset();
  if (idle_count_ >= kMaxCachedStatements) return;  // finalized here
  std::vector<std::unique_ptr<Statement>>& idle = cache_[statement->sql()];
  idle.push_back(std::move(statement));
  ++idle_count_;
}

size_t Connection::CachedStatementCount() const { return idle_count_; }

absl::Status Connection::Begin(TransactionMode mode) {
  return Exec(db_, mode == TransactionMode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED",
              "cannot begin a transaction");
}

absl::Status Connection::Commit() { return Exec(db_, "COMMIT", "commit failed"); }

absl::Status Connection::Rollback() {
  if (!InTransaction()) return absl::OkStatus();
  return Exec(db_, "ROLLBACK", "rollback failed");
}

absl::Status Connection::Savepoint(absl::string_view name) {
  if (!IsIdentifier(name)) return absl::InvalidArgumentError("bad savepoint name");
  return Exec(db_, absl::StrCat("SAVEPOINT ", name).c_str(), "cannot create a savepoint");
}

absl::Status Connection::Release(absl::string_view name) {
  if (!IsIdentifier(name)) return absl::InvalidArgumentError("bad savepoint name");
  return Exec(db_, absl::StrCat("RELEASE SAVEPOINT ", name).c_str(), "cannot release a savepoint");
}

absl::Status Connection::RollbackTo(absl::string_view name) {
  if (!IsIdentifier(name)) return absl::InvalidArgumentError("bad savepoint name");
  return Exec(db_, absl::StrCat("ROLLBACK TO SAVEPOINT ", name).c_str(),
              "cannot roll back to a savepoint");
}

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

absl::Status Connection::CheckpointPassive() {
  if (read_only_) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", path_, ": a read-only connection cannot checkpoint"));
  }
  const int rc =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "cannot checkpoint the WAL");
  return absl::OkStatus();
}

int64_t Connection::Changes() const { return sqlite3_changes(db_); }

int64_t Connection::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

}  // namespace coffer::storage::db
