// The storage service's database: the key, the schema migrations at
// startup, and the connection pool the handlers use, which a rekey replaces
// while the service runs.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Database> database, Database::Open(options));
//   std::shared_ptr<db::ConnectionPool> pool = database->pool();  // per call
//   if (pool == nullptr) -> UNAVAILABLE (a rekey is swapping it)
//
// Why a shared_ptr per call: Rekey needs the only connection to the file,
// so it shuts the pool down and opens a new one with the new key. A handler
// that took the old pool just before keeps a valid object; work it submits
// after the shutdown is answered UNAVAILABLE by the pool itself, and nothing
// acknowledged is lost (the shutdown finishes everything queued).
#ifndef COFFER_SERVICES_STORAGE_DATABASE_H_
#define COFFER_SERVICES_STORAGE_DATABASE_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "services/storage/db/connection.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/db/secret.h"

namespace coffer::storage {

struct DatabaseOptions {
  // The database file; its directory is created if missing.
  std::string path;
  // A file holding the key; empty: COFFER_DB_KEY, else the development key.
  std::string key_file;
  int readers = 4;
};

class Database {
 public:
  // Loads the key, applies the migrations on a connection of their own, then
  // opens the pool. Runs once at startup, before the service reports
  // SERVING; blocks on the file.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Database>> Open(
      const DatabaseOptions& options);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The pool for one call; null while Rekey swaps it or after Shutdown.
  std::shared_ptr<db::ConnectionPool> pool() const;

  // A connection of its own with the current key, for work that must not
  // hold a pool thread (online backup). Blocks on the file.
  [[nodiscard]] absl::StatusOr<std::unique_ptr<db::Connection>> OpenConnection(
      const db::OpenOptions& options) const;

  // The current key, for keying a backup with the database's own key.
  [[nodiscard]] db::SecretString CopyKey() const;

  // Re-encrypts the database with `new_key`: closes the pool (finishing
  // everything queued; calls meanwhile are answered UNAVAILABLE), rewrites
  // every page (db/rekey.h), and reopens the pool with the new key. If the
  // rekey fails the pool reopens with the old key. Blocks for a full rewrite
  // of the file: call it from a thread meant for it, never a pool thread.
  [[nodiscard]] absl::Status Rekey(db::SecretString new_key);

  // Finishes queued work and closes the pool. Idempotent.
  void Shutdown();

  const std::string& path() const { return options_.path; }
  int schema_version() const { return schema_version_; }

 private:
  Database(DatabaseOptions options, db::SecretString key, int schema_version);
  [[nodiscard]] absl::StatusOr<std::shared_ptr<db::ConnectionPool>> OpenPool(
      const db::SecretString& key) const;

  const DatabaseOptions options_;
  const int schema_version_;
  // Rekey and Shutdown one at a time.
  std::mutex maintenance_mu_;
  mutable std::mutex mu_;
  db::SecretString key_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<db::ConnectionPool> pool_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_DATABASE_H_
