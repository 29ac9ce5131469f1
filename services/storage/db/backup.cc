#include "services/storage/db/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

#include "common/log/fmt_absl.h"
#include "common/status/status_macros.h"

namespace coffer::storage::db {
namespace {

constexpr size_t kKeyHexChars = 64;

// The error of the last call on `db`, prefixed with what was being done.
absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : "?"));
}

absl::Status Exec(sqlite3* db, const char* sql, absl::string_view what) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    absl::Status status =
        absl::InternalError(absl::StrCat(what, ": ", message != nullptr ? message : "?"));
    sqlite3_free(message);
    return status;
  }
  return absl::OkStatus();
}

// The first row of PRAGMA integrity_check: "ok" on a sound database.
absl::Status CheckIntegrity(sqlite3* db, absl::string_view path) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr) != SQLITE_OK) {
    return SqliteError(db, absl::StrCat("integrity check of ", path));
  }
  absl::Status status;
  if (sqlite3_step(statement) != SQLITE_ROW) {
    status = SqliteError(db, absl::StrCat("integrity check of ", path));
  } else {
    const char* result = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    if (result == nullptr || absl::string_view(result) != "ok") {
      status = absl::DataLossError(
          absl::StrCat("integrity check of ", path, " failed: ", result != nullptr ? result : "?"));
    }
  }
  sqlite3_finalize(statement);
  return status;
}

// fsyncs the directory holding `path`, so that a rename into it is durable.
absl::Status SyncParentDirectory(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string directory =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("open ", directory, ": ", strerror(errno)));
  }
  const int rc = fsync(fd);
  const int fsync_errno = errno;
  close(fd);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("fsync ", directory, ": ", strerror(fsync_errno)));
  }
  return absl::OkStatus();
}

// Removes `path` and the journal files SQLite may have left beside it.
void RemoveDatabaseFiles(const std::string& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
    std::remove((path + suffix).c_str());
  }
}

// Closes a connection when it goes out of scope.
class ConnectionCloser {
 public:
  explicit ConnectionCloser(sqlite3** db) : db_(db) {}
  ~ConnectionCloser() {
    if (*db_ != nullptr) sqlite3_close(*db_);
    *db_ = nullptr;
  }
  ConnectionCloser(const ConnectionCloser&) = delete;
  ConnectionCloser& operator=(const ConnectionCloser&) = delete;

 private:
  sqlite3** db_;
};

// Copies `source` into the keyed, empty `dest`, `options.pages_per_step` at a
// time, inside one read transaction on `source` (see backup.h for why).
absl::Status CopyPages(sqlite3* source, sqlite3* dest, const BackupOptions& options) {
  // A deferred BEGIN takes no lock; the first read does, and the snapshot
  // it pins lasts until the ROLLBACK below.
  RETURN_IF_ERROR(Exec(source, "BEGIN; SELECT count(*) FROM sqlite_master;",
                       "start the backup's read transaction"));
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", source, "main");
  if (backup == nullptr) {
    absl::Status status = SqliteError(dest, "start backup");
    (void)Exec(source, "ROLLBACK", "end the backup's read transaction");
    return status;
  }
  const int pages_per_step = options.pages_per_step > 0 ? options.pages_per_step : 64;
  int rc = SQLITE_OK;
  bool cancelled = false;
  while (true) {
    rc = sqlite3_backup_step(backup, pages_per_step);
    if (options.progress) {
      const int total = sqlite3_backup_pagecount(backup);
      options.progress(total - sqlite3_backup_remaining(backup), total);
    }
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    if (options.cancelled && options.cancelled()) {
      cancelled = true;
      break;
    }
    if (options.pause_between_steps > absl::ZeroDuration()) {
      absl::SleepFor(options.pause_between_steps);
    } else {
      std::this_thread::yield();
    }
  }
  // sqlite3_backup_finish reports the step's error on `dest`.
  const int finish_rc = sqlite3_backup_finish(backup);
  absl::Status status;
  if (cancelled) {
    status = absl::CancelledError("backup cancelled");
  } else if (rc != SQLITE_DONE || finish_rc != SQLITE_OK) {
    status = absl::InternalError(
        absl::StrCat("backup step: ", sqlite3_errstr(rc != SQLITE_DONE ? rc : finish_rc), " (",
                     sqlite3_errmsg(dest), ")"));
  }
  absl::Status end = Exec(source, "ROLLBACK", "end the backup's read transaction");
  return status.ok() ? end : status;
}

}  // namespace

absl::Status CheckKeyHex(absl::string_view key_hex) {
  if (key_hex.size() != kKeyHexChars) {
    return absl::InvalidArgumentError(absl::StrCat(
        "database key must be ", kKeyHexChars, " hexadecimal characters, not ", key_hex.size()));
  }
  for (const char c : key_hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("database key holds a non-hexadecimal character");
    }
  }
  return absl::OkStatus();
}

absl::Status OpenKeyedDatabase(const std::string& path, absl::string_view key_hex, int open_flags,
                               sqlite3** db) {
  *db = nullptr;
  RETURN_IF_ERROR(CheckKeyHex(key_hex));
  sqlite3* connection = nullptr;
  if (sqlite3_open_v2(path.c_str(), &connection, open_flags, nullptr) != SQLITE_OK) {
    absl::Status status = SqliteError(connection, absl::StrCat("open ", path));
    sqlite3_close(connection);
    return status;
  }
  // Reserved up front so that appending never reallocates and leaves a copy
  // of the key in freed memory.
  std::string pragma;
  pragma.reserve(128);
  pragma.append("PRAGMA key = \"x'").append(key_hex.data(), key_hex.size()).append("'\";");
  const int rc = sqlite3_exec(connection, pragma.c_str(), nullptr, nullptr, nullptr);
  explicit_bzero(pragma.data(), pragma.size());
  absl::Status status;
  if (rc != SQLITE_OK) {
    status = SqliteError(connection, absl::StrCat("key ", path));
  } else {
    status = Exec(connection,
                  "PRAGMA cipher_page_size = 4096; PRAGMA kdf_iter = 256000;"
                  "PRAGMA busy_timeout = 5000;",
                  absl::StrCat("configure ", path));
  }
  // The key is only checked when the first page is read.
  if (status.ok() && sqlite3_exec(connection, "SELECT count(*) FROM sqlite_master", nullptr,
                                  nullptr, nullptr) != SQLITE_OK) {
    status = absl::FailedPreconditionError(absl::StrCat("cannot open ", path,
                                                        ": wrong key or not a coffer database (",
                                                        sqlite3_errmsg(connection), ")"));
  }
  if (!status.ok()) {
    sqlite3_close(connection);
    return status;
  }
  *db = connection;
  return absl::OkStatus();
}

absl::Status BackupDatabase(sqlite3* source, absl::string_view key_hex,
                            const std::string& dest_path, const BackupOptions& options) {
  RETURN_IF_ERROR(CheckKeyHex(key_hex));
  const std::string tmp_path = dest_path + ".tmp";
  RemoveDatabaseFiles(tmp_path);
  absl::Status status = [&]() -> absl::Status {
    {
      sqlite3* dest = nullptr;
      ConnectionCloser closer(&dest);
      RETURN_IF_ERROR(
          OpenKeyedDatabase(tmp_path, key_hex, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dest));
      RETURN_IF_ERROR(CopyPages(source, dest, options));
      // The copy carries the source's WAL flag; a backup is one
      // self-contained file, so switch it to a rollback journal.
      RETURN_IF_ERROR(Exec(dest, "PRAGMA journal_mode = DELETE", "finish the backup file"));
    }
    sqlite3* check = nullptr;
    ConnectionCloser closer(&check);
    RETURN_IF_ERROR(OpenKeyedDatabase(tmp_path, key_hex, SQLITE_OPEN_READONLY, &check));
    return CheckIntegrity(check, tmp_path);
  }();
  if (!status.ok()) {
    RemoveDatabaseFiles(tmp_path);
    return absl::Status(status.code(),
                        absl::StrCat("backup to ", dest_path, " failed: ", status.message()));
  }
  if (std::rename(tmp_path.c_str(), dest_path.c_str()) != 0) {
    status = absl::InternalError(
        absl::StrCat("rename ", tmp_path, " to ", dest_path, ": ", strerror(errno)));
    RemoveDatabaseFiles(tmp_path);
    return status;
  }
  return SyncParentDirectory(dest_path);
}

absl::Status RestoreDatabase(sqlite3* dest, absl::string_view key_hex,
                             const std::string& backup_path) {
  sqlite3* source = nullptr;
  ConnectionCloser closer(&source);
  RETURN_IF_ERROR(OpenKeyedDatabase(backup_path, key_hex, SQLITE_OPEN_READONLY, &source));
  // All pages in one step: one write transaction on `dest`, committed when
  // the step completes (and rolled back by SQLite if the process dies first).
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", source, "main");
  if (backup == nullptr) return SqliteError(dest, absl::StrCat("restore from ", backup_path));
  const int rc = sqlite3_backup_step(backup, -1);
  const int finish_rc = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE || finish_rc != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("restore from ", backup_path, ": ",
                                            sqlite3_errstr(rc != SQLITE_DONE ? rc : finish_rc),
                                            " (", sqlite3_errmsg(dest), ")"));
  }
  spdlog::info("restored the database from {}", backup_path);
  return absl::OkStatus();
}

}  // namespace coffer::storage::db
