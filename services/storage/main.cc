// coffer-storage: owns the encrypted SQLCipher database: accounts, snapshots, prices, tasks, runs.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include <spdlog/spdlog.h>

#include "coffer/v1/storage.grpc.pb.h"
#include "common/config/flags.h"
#include "common/exec/termination_signal.h"
#include "common/grpc/service_host.h"
#include "common/log/logging.h"
#include "services/storage/database.h"
#include "services/storage/maintenance.h"
#include "services/storage/storage_service.h"

ABSL_FLAG(std::string, db_path, "data/coffer.db",
          "The encrypted database file (its directory is created if missing)");
ABSL_FLAG(std::string, db_key_file, "",
          "File holding the database key (64 hex digits); else COFFER_DB_KEY, else a "
          "development key generated beside a new database");
ABSL_FLAG(int, db_readers, 4, "Reader threads, each with its own database connection");
ABSL_FLAG(std::string, backup_dir, "data/backups",
          "Directory of Storage.Backup files (created when missing); requests name files under it");

namespace {

constexpr char kUsage[] =
    "owns the encrypted SQLCipher database: accounts, snapshots, prices, tasks, runs.\n"
    "Serves coffer.v1.Storage, coffer.v1.Admin, grpc.health.v1 and reflection.\n"
    "Every flag also reads COFFER_<FLAG> from the environment.";

}  // namespace

int main(int argc, char** argv) {
  coffer::exec::BlockTerminationSignals();
  coffer::config::ParseCommandLine(argc, argv, kUsage);
  coffer::log::Init(coffer::log::OptionsFromFlags("storage"));

  coffer::grpc_util::ServiceHost host({
      .name = "coffer-storage",
      .grpc_services = {"coffer.v1.Storage"},
      .default_listen = "127.0.0.1:50052",
  });
  coffer::storage::StorageService api;
  api.Register(host.server());

  // The database opens after the server listens but before SERVING: health
  // turns SERVING only once migrations are done and the pool is open.
  std::unique_ptr<coffer::storage::Database> database;
  std::unique_ptr<coffer::storage::Maintenance> maintenance;
  const std::string db_path = absl::GetFlag(FLAGS_db_path);
  std::atomic<int> schema_version{0};
  host.admin().SetDetailsProvider([&schema_version, db_path] {
    return std::map<std::string, std::string>{
        {"database", db_path}, {"schema_version", std::to_string(schema_version.load())}};
  });
  return host.Run(
      [&]() -> absl::Status {
        coffer::storage::DatabaseOptions options;
        options.path = db_path;
        options.key_file = absl::GetFlag(FLAGS_db_key_file);
        options.readers = absl::GetFlag(FLAGS_db_readers);
        absl::StatusOr<std::unique_ptr<coffer::storage::Database>> opened =
            coffer::storage::Database::Open(options);
        if (!opened.ok()) return opened.status();
        database = std::move(*opened);
        schema_version = database->schema_version();
        coffer::storage::MaintenanceOptions maintenance_options;
        maintenance_options.backup_dir = absl::GetFlag(FLAGS_backup_dir);
        maintenance =
            std::make_unique<coffer::storage::Maintenance>(*database, maintenance_options);
        api.SetDatabase(database.get(), maintenance.get());
        return absl::OkStatus();
      },
      [&] {
        // After the server stopped taking calls: backups first (they read
        // through connections of their own), then the pool, which finishes
        // every queued write before it closes.
        if (maintenance) maintenance->Shutdown();
        if (database) database->Shutdown();
      });
}
