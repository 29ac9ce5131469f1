// Opens the storage service's database: loads the key, applies the schema
// migrations on a connection of their own, then opens the connection pool.
// Runs once at startup, on the main thread, before the service reports
// SERVING.
#ifndef COFFER_SERVICES_STORAGE_DATABASE_H_
#define COFFER_SERVICES_STORAGE_DATABASE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

struct DatabaseOptions {
  // The database file; its directory is created if missing.
  std::string path;
  // A file holding the key; empty: COFFER_DB_KEY, else the development key.
  std::string key_file;
  int readers = 4;
};

struct OpenedDatabase {
  std::unique_ptr<db::ConnectionPool> pool;
  int schema_version = 0;
};

[[nodiscard]] absl::StatusOr<OpenedDatabase> OpenDatabase(const DatabaseOptions& options);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_DATABASE_H_
