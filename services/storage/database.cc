#include "services/storage/database.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include <spdlog/spdlog.h>

#include "common/status/status_macros.h"
#include "services/storage/db/connection.h"
#include "services/storage/db/key_source.h"
#include "services/storage/db/migrations.h"
#include "services/storage/schema/schema.h"

namespace coffer::storage {

absl::StatusOr<OpenedDatabase> OpenDatabase(const DatabaseOptions& options) {
  std::filesystem::path directory = std::filesystem::path(options.path).parent_path();
  if (!directory.empty()) {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", directory.string(), ": ", error.message()));
    }
  }
  db::KeyOptions key_options;
  key_options.database_path = options.path;
  key_options.key_file = options.key_file;
  ASSIGN_OR_RETURN(db::SecretString key, db::LoadDatabaseKey(key_options));

  OpenedDatabase opened;
  {
    // Migrations need the only connection to the file (they may restore it
    // from the pre-migration backup), so they run before the pool opens.
    ASSIGN_OR_RETURN(std::unique_ptr<db::Connection> connection,
                     db::Connection::Open(options.path, key, db::OpenOptions()));
    RETURN_IF_ERROR(
        db::ApplyMigrations(connection->raw(), options.path, key.Reveal(), Migrations()));
    ASSIGN_OR_RETURN(opened.schema_version, db::SchemaVersion(connection->raw()));
  }
  db::ConnectionPoolOptions pool_options;
  pool_options.path = options.path;
  pool_options.readers = options.readers;
  ASSIGN_OR_RETURN(opened.pool, db::ConnectionPool::Open(pool_options, key));
  spdlog::info("database {} open at schema version {} with {} readers", options.path,
               opened.schema_version, options.readers);
  return opened;
}

}  // namespace coffer::storage
