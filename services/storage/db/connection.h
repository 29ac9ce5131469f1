#ifndef COFFER_SERVICES_STORAGE_DB_CONNECTION_H_
#define COFFER_SERVICES_STORAGE_DB_CONNECTION_H_

#include <sqlite3.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "services/storage/db/secret.h"
#include "services/storage/db/statement.h"

namespace coffer::storage::db {

// How a Connection opens its file.
struct OpenOptions {
  // Opens with SQLITE_OPEN_READONLY and sets none of the writing pragmas
  // (the journal mode is a property of the file, set by its writer).
  bool read_only = false;
  // Creates the file when missing (ignored when read_only). Otherwise a
  // missing file is NOT_FOUND.
  bool create = true;
  // How long a statement waits for a lock held by another connection before
  // failing with UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
  // PRAGMA synchronous=FULL instead of NORMAL: also survives power loss (an
  // fsync of the WAL on every commit). See Connection.
  bool sync_every_commit = false;
  // Page cache of this connection, in KiB (PRAGMA cache_size = -N). SQLite's
  // default, 2 MiB, is far too small for SQLCipher: every page that falls
  // out of the cache is decrypted again on its next read, and a write
  // transaction whose dirty pages exceed the cache spills them (encrypting)
  // before its commit, to read (decrypt) and write them again later.
  int cache_kib = 32 * 1024;
  // PRAGMA wal_autocheckpoint: the WAL size, in pages, past which a commit
  // of this connection also checkpoints (copies the WAL into the database
  // file, with its fsyncs). 0: SQLite's default, 1,000 pages. A pool that
  // checkpoints in its writer's idle time sets it far higher, as a bound
  // on the WAL for a writer that is never idle (ConnectionPoolOptions).
  int wal_autocheckpoint_pages = 0;
};

class Connection;

// A statement borrowed from a Connection's cache: reset and with no
// bindings when handed out, reset and given back when destroyed. Use it like
// a pointer to Statement. Must not outlive its Connection.
class CachedStatement {
 public:
  CachedStatement(CachedStatement&& other) noexcept;
  CachedStatement& operator=(CachedStatement&& other) noexcept;
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  ~CachedStatement();

  Statement* operator->() const { return statement_.get(); }
  Statement& operator*() const { return *statement_; }

 private:
  friend class Connection;
  CachedStatement(Connection* owner, std::unique_ptr<Statement> statement)
      : owner_(owner), statement_(std::move(statement)) {}
  void GiveBack();

  Connection* owner_ = nullptr;
  std::unique_ptr<Statement> statement_;
};

// One SQLCipher connection to an encrypted coffer database.
//
//   ASSIGN_OR_RETURN(SecretString key, LoadDatabaseKey(key_options));
//   ASSIGN_OR_RETURN(std::unique_ptr<Connection> db, Connection::Open(path, key, {}));
//   RETURN_IF_ERROR(db->Execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v)"));
//   ASSIGN_OR_RETURN(CachedStatement insert, db->Prepare("INSERT INTO t VALUES (?1, ?2)"));
//   RETURN_IF_ERROR(insert->Bind(1, "a"));
//
// Opening keys the connection before anything touches the file, then proves
// the key by reading, and only then sets the pragmas that may write. A wrong
// key therefore fails with FAILED_PRECONDITION "wrong key or not a coffer
// database: <path>" and leaves the file as it was, byte for byte.
//
// Durability: WAL with synchronous=NORMAL by default. A commit appends its
// frames to the WAL with write(2) before returning, so once Commit returns
// the transaction is in the kernel's page cache and survives the process
// being killed (kill -9, a crash); only a power loss or kernel panic before
// the next checkpoint's fsync can lose the last commits, and even then the
// database stays consistent. OpenOptions::sync_every_commit (FULL) closes
// that window at the price of an fsync per commit (per group commit with
// ConnectionPool).
//
// A connection belongs to one thread at a time (SQLite's multi-thread mode);
// it is not thread-safe. Every CachedStatement must be destroyed before the
// Connection.
class Connection {
 public:
  // Transaction modes of Begin.
  enum class TransactionMode {
    // Takes locks when first reading or writing: the snapshot of a read
    // transaction starts with its first read.
    kDeferred,
    // Takes the write lock at once, so a write transaction never fails
    // half-way with "database is locked".
    kImmediate,
  };

  // Opens `path` with `key` (64 hex characters, see LoadDatabaseKey).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path,
                                                                        const SecretString& key,
                                                                        const OpenOptions& options);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements that return no rows of interest.
  [[nodiscard]] absl::Status Execute(absl::string_view sql);

  // Most idle statements a connection keeps; beyond that a returned
  // statement is finalized (SQL built at run time, say with a variable
  // number of placeholders, must not grow the cache without bound).
  static constexpr size_t kMaxCachedStatements = 256;

  // A prepared statement for `sql`, from this connection's cache when it has
  // been prepared before (cached by its exact text). Several handles for the
  // same text may be out at once (each gets its own statement).
  [[nodiscard]] absl::StatusOr<CachedStatement> Prepare(absl::string_view sql);

  [[nodiscard]] absl::Status Begin(TransactionMode mode = TransactionMode::kDeferred);
  [[nodiscard]] absl::Status Commit();
  // Rolls back the open transaction; OK when none is open (SQLite may have
  // rolled it back already after an I/O error).
  [[nodiscard]] absl::Status Rollback();

  // Savepoints, nested inside a transaction (or starting one). `name` must
  // be an SQL identifier ([A-Za-z_][A-Za-z0-9_]*): anything else is
  // INVALID_ARGUMENT. RollbackTo undoes the work since Savepoint and keeps
  // the savepoint open: Release it afterwards.
  [[nodiscard]] absl::Status Savepoint(absl::string_view name);
  [[nodiscard]] absl::Status Release(absl::string_view name);
  [[nodiscard]] absl::Status RollbackTo(absl::string_view name);

  // Whether a transaction is open.
  bool InTransaction() const;

  // A PASSIVE checkpoint: copies as much of the WAL into the database file
  // as no reader still needs, without waiting for any lock. Must not be
  // called inside a transaction. FAILED_PRECONDITION on a read-only
  // connection.
  [[nodiscard]] absl::Status CheckpointPassive();

  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  int64_t LastInsertRowId() const;

  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  sqlite3* raw() const { return db_; }

  // Statements currently in the cache (not handed out): for tests.
  size_t CachedStatementCount() const;

 private:
  friend class CachedStatement;

  Connection(sqlite3* db, std::string path, bool read_only)
      : db_(db), path_(std::move(path)), read_only_(read_only) {}

  void ReturnToCache(std::unique_ptr<Statement> statement);

  sqlite3* db_;
  const std::string path_;
  const bool read_only_;
  // Idle statements by SQL text. Destroyed (finalized) before db_ closes.
  std::unordered_map<std::string, std::vector<std::unique_ptr<Statement>>> cache_;
  // Statements in cache_, at most kMaxCachedStatements.
  size_t idle_count_ = 0;
  // Handles given out and not yet returned; must be zero on destruction.
  size_t outstanding_ = 0;
};

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_CONNECTION_H_
