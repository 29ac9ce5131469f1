#include "services/storage/database.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include <spdlog/spdlog.h>

#include "common/log/fmt_absl.h"
#include "common/status/status_macros.h"
#include "services/storage/db/key_source.h"
#include "services/storage/db/migrations.h"
#include "services/storage/db/rekey.h"
#include "services/storage/repos/abandoned_snapshots.h"
#include "services/storage/repos/account_history.h"
#include "services/storage/schema/schema.h"

namespace coffer::storage {
namespace {

// Items per idle merge step: a write arriving during a step waits for it.
// A step's cost grows with the history each account already has (its
// account_history leaves are rewritten): with 10,000 accounts, one item
// each per snapshot, 1,000-item steps took 3-7 ms at 1-6 snapshots of
// history and 10-20 ms at 8-24, 2,000-item steps twice that (up to 47 ms at
// 24), while a whole pass cost about the same either way (~200 ms at 24
// snapshots): small steps cost little beyond their BEGIN and COMMIT.
constexpr int64_t kMergeStepItems = 1000;

// When an open snapshot (written in parts, WriteSnapshot not yet) counts as
// abandoned: its refresh died. A refresh writes its parts and commits them
// within minutes; a day is far beyond that, so no snapshot still being
// written is deleted, while the items of dead ones (up to 100,000 each) do
// not take room for longer. storage.proto tells clients this day
// (WriteSnapshotPart).
constexpr absl::Duration kAbandonedAfter = absl::Hours(24);
// Items of abandoned snapshots deleted per idle step: ~16 ms at the ~80 ms
// per 10,000 measured, about a merge step's cost, so a write arriving
// meanwhile waits no longer than for a merge step.
constexpr int kAbandonedItemsPerStep = 2000;

// One step of the writer's idle work: the abandoned snapshots first (they
// are rare, and finding none is one lookup in the index of open snapshots),
// then the account-history merge.
absl::StatusOr<bool> IdleStep(db::WriteContext& tx) {
  ASSIGN_OR_RETURN(
      const bool more_abandoned,
      DeleteAbandonedSnapshotsStep(tx, absl::Now(), kAbandonedAfter, kAbandonedItemsPerStep));
  if (more_abandoned) return true;
  return MergeAccountHistoryStep(tx, kMergeStepItems);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
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

  int schema_version = 0;
  {
    // Migrations need the only connection to the file (they may restore it
    // from the pre-migration backup), so they run before the pool opens.
    ASSIGN_OR_RETURN(std::unique_ptr<db::Connection> connection,
                     db::Connection::Open(options.path, key, db::OpenOptions()));
    RETURN_IF_ERROR(
        db::ApplyMigrations(connection->raw(), options.path, key.Reveal(), Migrations()));
    ASSIGN_OR_RETURN(schema_version, db::SchemaVersion(connection->raw()));
  }
  std::unique_ptr<Database> database(new Database(options, std::move(key), schema_version));
  {
    std::lock_guard<std::mutex> lock(database->mu_);
    ASSIGN_OR_RETURN(database->pool_, database->OpenPool(database->key_));
  }
  spdlog::info("database {} open at schema version {} with {} readers", options.path,
               schema_version, options.readers);
  return database;
}

Database::Database(DatabaseOptions options, db::SecretString key, int schema_version)
    : options_(std::move(options)), schema_version_(schema_version), key_(std::move(key)) {}

Database::~Database() { Shutdown(); }

absl::StatusOr<std::shared_ptr<db::ConnectionPool>> Database::OpenPool(
    const db::SecretString& key) const {
  db::ConnectionPoolOptions pool_options;
  pool_options.path = options_.path;
  pool_options.readers = options_.readers;
  // The account-history merge runs in the writer's idle time, a chunk per
  // transaction (account_history.h), instead of inside WriteSnapshot; so
  // does the deletion of abandoned open snapshots (abandoned_snapshots.h).
  pool_options.idle_work = IdleStep;
  // And the WAL is copied into the database file then too, not inside the
  // commit of a big snapshot (connection_pool.h).
  pool_options.checkpoint_when_idle = true;
  ASSIGN_OR_RETURN(std::unique_ptr<db::ConnectionPool> pool,
                   db::ConnectionPool::Open(pool_options, key));
  return std::shared_ptr<db::ConnectionPool>(std::move(pool));
}

std::shared_ptr<db::ConnectionPool> Database::pool() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pool_;
}

absl::StatusOr<std::unique_ptr<db::Connection>> Database::OpenConnection(
    const db::OpenOptions& options) const {
  db::SecretString key = CopyKey();
  return db::Connection::Open(options_.path, key, options);
}

db::SecretString Database::CopyKey() const {
  std::lock_guard<std::mutex> lock(mu_);
  return db::SecretString(std::string(key_.Reveal()));
}

absl::Status Database::Rekey(db::SecretString new_key) {
  std::lock_guard<std::mutex> maintenance(maintenance_mu_);
  std::shared_ptr<db::ConnectionPool> old_pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return absl::UnavailableError("storage: the database is shutting down");
    old_pool = std::move(pool_);
  }
  // Finishes every queued read and write (their callers are answered) and
  // closes the pool's connections; later calls are answered UNAVAILABLE.
  old_pool->Shutdown();
  old_pool.reset();

  db::SecretString old_key = CopyKey();
  absl::Status rekeyed = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::unique_ptr<db::Connection> connection,
                     db::Connection::Open(options_.path, old_key, db::OpenOptions()));
    return db::RekeyDatabase(connection->raw(), new_key.Reveal());
  }();
  const db::SecretString& key = rekeyed.ok() ? new_key : old_key;
  absl::StatusOr<std::shared_ptr<db::ConnectionPool>> reopened = OpenPool(key);
  if (!reopened.ok()) {
    // The file is intact (a rekey commits whole or not at all) but the pool
    // cannot reopen: the service keeps answering UNAVAILABLE, loudly.
    spdlog::critical("database {}: cannot reopen the pool after {}: {}", options_.path,
                     rekeyed.ok() ? "the rekey" : "a failed rekey", reopened.status());
    return rekeyed.ok() ? reopened.status() : rekeyed;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (rekeyed.ok()) key_ = std::move(new_key);
  pool_ = std::move(*reopened);
  return rekeyed;
}

void Database::Shutdown() {
  std::lock_guard<std::mutex> maintenance(maintenance_mu_);
  std::shared_ptr<db::ConnectionPool> pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    pool = std::move(pool_);
  }
  if (pool != nullptr) pool->Shutdown();
}

}  // namespace coffer::storage
