// coffer-storage: owns the encrypted SQLCipher database: accounts, snapshots, prices, tasks, runs.
#include <map>
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
#include "services/storage/storage_service.h"

ABSL_FLAG(std::string, db_path, "data/coffer.db",
          "The encrypted database file (its directory is created if missing)");
ABSL_FLAG(std::string, db_key_file, "",
          "File holding the database key (64 hex digits); else COFFER_DB_KEY, else a "
          "development key generated beside a new database");
ABSL_FLAG(int, db_readers, 4, "Reader threads, each with its own database connection");

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
  coffer::storage::OpenedDatabase database;
  std::string db_path = absl::GetFlag(FLAGS_db_path);
  host.admin().SetDetailsProvider([&database, db_path] {
    return std::map<std::string, std::string>{
        {"database", db_path}, {"schema_version", std::to_string(database.schema_version)}};
  });
  return host.Run(
      [&]() -> absl::Status {
        coffer::storage::DatabaseOptions options;
        options.path = db_path;
        options.key_file = absl::GetFlag(FLAGS_db_key_file);
        options.readers = absl::GetFlag(FLAGS_db_readers);
        absl::StatusOr<coffer::storage::OpenedDatabase> opened =
            coffer::storage::OpenDatabase(options);
        if (!opened.ok()) return opened.status();
        database = std::move(*opened);
        api.SetPool(database.pool.get());
        return absl::OkStatus();
      },
      [&] {
        if (database.pool) database.pool->Shutdown();
      });
}
