// Schema migrations: numbered steps in code, applied at startup.
//
//   constexpr ... kMigrations[] = {
//       {1, "accounts", "CREATE TABLE accounts(...);"},
//       {2, "snapshots", "CREATE TABLE snapshots(...); CREATE INDEX ...;"},
//   };
//   RETURN_IF_ERROR(ApplyMigrations(db, path, key.Reveal(), kMigrations, {}));
//
// The database records what it has in
// `schema_migrations(version INTEGER PRIMARY KEY, name TEXT, applied_at
// INTEGER)`; its version is the largest recorded. ApplyMigrations:
//  - refuses a database newer than the newest migration it knows
//    (FAILED_PRECONDITION), touching nothing;
//  - before upgrading a database at version >= 1, backs it up beside itself
//    to "<db_path>.pre-migration-v<version>.bak", encrypted with the same key
//    (backup.h), and logs where;
//  - applies each missing migration in its own BEGIN IMMEDIATE transaction
//    together with its schema_migrations row;
//  - when one fails, rolls it back, restores the database from that backup
//    through the open connection (RestoreDatabase: one write transaction, so
//    no half-upgraded file even after a crash during the restore) and
//    returns an error naming the migration and SQLite's message. The service
//    refuses to start with it; the backup stays on disk.
// A fresh database (version 0) gets every migration in order and needs no
// backup: if migration k fails there, migrations 1..k-1 stay committed, each
// a complete version the next start continues from.
#ifndef COFFER_SERVICES_STORAGE_DB_MIGRATIONS_H_
#define COFFER_SERVICES_STORAGE_DB_MIGRATIONS_H_

#include <sqlite3.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "services/storage/db/backup.h"

namespace coffer::storage::db {

// One schema step. `sql` is one or more statements, without BEGIN/COMMIT
// (ApplyMigrations wraps it in a transaction), written for SQLite 3.15: no
// UPSERT, no RETURNING, no window functions.
struct Migration {
  // 1 for the first migration, then consecutive.
  int version;
  // Short and stable; recorded in schema_migrations and named in errors.
  std::string name;
  std::string sql;
};

struct MigrationOptions {
  // For the backup taken before upgrading an existing database.
  BackupOptions backup;
};

// Brings the database open on `db` (keyed with `key_hex`, stored at
// `db_path`) up to the last of `migrations`, which must be numbered 1, 2, ...
// in order (INTERNAL otherwise: a bug in coffer). `db` must be the only
// connection to the database, with no transaction open. Blocks: call at
// startup, before serving.
[[nodiscard]] absl::Status ApplyMigrations(sqlite3* db, const std::string& db_path,
                                           absl::string_view key_hex,
                                           absl::Span<const Migration> migrations,
                                           const MigrationOptions& options = {});

// The database's schema version: the largest in schema_migrations, 0 when
// the table is missing or empty.
[[nodiscard]] absl::StatusOr<int> SchemaVersion(sqlite3* db);

// Where ApplyMigrations backs up `db_path` found at `version`.
std::string PreMigrationBackupPath(const std::string& db_path, int version);

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_MIGRATIONS_H_
