#include "services/storage/db/migrations.h"

#include <sqlite3.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "spdlog/spdlog.h"

#include "common/log/fmt_absl.h"
#include "common/status/status_macros.h"
#include "services/storage/db/backup.h"

namespace coffer::storage::db {
namespace {

// Runs `sql`; on failure returns SQLite's message, prefixed with `what`.
absl::Status Exec(sqlite3* db, const std::string& sql, absl::string_view what) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    absl::Status status =
        absl::InternalError(absl::StrCat(what, ": ", message != nullptr ? message : "?"));
    sqlite3_free(message);
    return status;
  }
  return absl::OkStatus();
}

absl::Status CheckNumbering(absl::Span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(absl::StrCat("migration \"", migrations[i].name, "\" has version ",
                                              migrations[i].version, ", expected ", i + 1));
    }
  }
  return absl::OkStatus();
}

// Inserts the schema_migrations row of `migration`.
absl::Status Record(sqlite3* db, const Migration& migration) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO schema_migrations(version, name, applied_at) "
                         "VALUES(?1, ?2, ?3)",
                         -1, &statement, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("record migration: ", sqlite3_errmsg(db)));
  }
  sqlite3_bind_int(statement, 1, migration.version);
  sqlite3_bind_text(statement, 2, migration.name.data(), static_cast<int>(migration.name.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int64(statement, 3, absl::ToUnixSeconds(absl::Now()));
  const int rc = sqlite3_step(statement);
  sqlite3_finalize(statement);
  if (rc != SQLITE_DONE) {
    return absl::InternalError(absl::StrCat("record migration: ", sqlite3_errmsg(db)));
  }
  return absl::OkStatus();
}

// Applies one migration and records it, in one transaction.
absl::Status ApplyOne(sqlite3* db, const Migration& migration) {
  RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", "begin"));
  absl::Status status = Exec(db, migration.sql, "SQLite");
  if (status.ok()) status = Record(db, migration);
  if (status.ok()) status = Exec(db, "COMMIT", "commit");
  if (!status.ok() && sqlite3_get_autocommit(db) == 0) {
    (void)Exec(db, "ROLLBACK", "rollback");
  }
  return status;
}

}  // namespace

std::string PreMigrationBackupPath(const std::string& db_path, int version) {
  return absl::StrCat(db_path, ".pre-migration-v", version, ".bak");
}

absl::StatusOr<int> SchemaVersion(sqlite3* db) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                         "'schema_migrations'",
                         -1, &statement, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("read schema version: ", sqlite3_errmsg(db)));
  }
  int rc = sqlite3_step(statement);
  sqlite3_finalize(statement);
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) {
    return absl::InternalError(absl::StrCat("read schema version: ", sqlite3_errmsg(db)));
  }
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                         &statement, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("read schema version: ", sqlite3_errmsg(db)));
  }
  rc = sqlite3_step(statement);
  const int version = rc == SQLITE_ROW ? sqlite3_column_int(statement, 0) : -1;
  sqlite3_finalize(statement);
  if (rc != SQLITE_ROW) {
    return absl::InternalError(absl::StrCat("read schema version: ", sqlite3_errmsg(db)));
  }
  return version;
}

absl::Status ApplyMigrations(sqlite3* db, const std::string& db_path, absl::string_view key_hex,
                             absl::Span<const Migration> migrations,
                             const MigrationOptions& options) {
  RETURN_IF_ERROR(CheckNumbering(migrations));
  ASSIGN_OR_RETURN(const int current, SchemaVersion(db));
  const int newest = static_cast<int>(migrations.size());
  if (current > newest) {
    return absl::FailedPreconditionError(absl::StrCat("database schema version ", current,
                                                      " is newer than this coffer (", newest,
                                                      "); upgrade coffer"));
  }
  if (current == newest) {
    spdlog::info("database schema is at version {}, the newest", current);
    return absl::OkStatus();
  }

  std::string backup_path;
  if (current >= 1) {
    backup_path = PreMigrationBackupPath(db_path, current);
    RETURN_IF_ERROR(BackupDatabase(db, key_hex, backup_path, options.backup));
    spdlog::info("backed up the database at schema version {} to {} before migrating", current,
                 backup_path);
  }
  RETURN_IF_ERROR(Exec(db,
                       "CREATE TABLE IF NOT EXISTS schema_migrations("
                       "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                       "applied_at INTEGER NOT NULL)",
                       "create schema_migrations"));

  for (const Migration& migration : migrations.subspan(current)) {
    absl::Status status = ApplyOne(db, migration);
    if (status.ok()) {
      spdlog::info("applied migration {} ({})", migration.version, migration.name);
      continue;
    }
    std::string outcome;
    if (backup_path.empty()) {
      outcome = absl::StrCat("; the database stays at schema version ", migration.version - 1);
    } else if (absl::Status restored = RestoreDatabase(db, key_hex, backup_path); restored.ok()) {
      outcome = absl::StrCat("; the database was restored to schema version ", current, " from ",
                             backup_path);
    } else {
      outcome =
          absl::StrCat("; restoring the database from ", backup_path,
                       " ALSO FAILED: ", restored.message(), ". Restore it by hand from that file");
    }
    absl::Status failure = absl::FailedPreconditionError(
        absl::StrCat("migration ", migration.version, " (", migration.name,
                     ") failed: ", status.message(), outcome));
    spdlog::error("{}", failure);
    return failure;
  }
  return absl::OkStatus();
}

}  // namespace coffer::storage::db
