// Storage's admin operations that take long and block on the file: online
// backups (Storage.Backup) and rekeying (Storage.Rekey). They run one at a
// time on a thread of their own, never on a gRPC poller or a pool thread;
// a second request waits for the first.
//
//   Maintenance maintenance(database, {.backup_dir = "data/backups"});
//   maintenance.Backup(request,
//                      [&writer](const v1::BackupResponse& progress) { return
//                      writer.Write(progress); },
//                      [&writer](absl::Status status) { writer.Finish(status); });
//
// Backups copy from a read-only connection of their own, a bounded number
// of pages per step, inside one read transaction (db/backup.h): the pool's
// readers and writer keep going while a backup runs. A rekey closes the pool
// for the rewrite (database.h), so calls meanwhile are answered UNAVAILABLE.
#ifndef COFFER_SERVICES_STORAGE_MAINTENANCE_H_
#define COFFER_SERVICES_STORAGE_MAINTENANCE_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "common/exec/thread_pool.h"
#include "services/storage/database.h"

namespace coffer::storage {

struct MaintenanceOptions {
  // Where backups go; created when missing. Requests name files under it.
  std::string backup_dir = "data/backups";
  // Least time between two progress messages of one backup.
  absl::Duration progress_interval = absl::Milliseconds(200);
};

class Maintenance {
 public:
  // `database` must outlive this.
  Maintenance(Database& database, MaintenanceOptions options);
  // Finishes the running and queued operations, then joins the thread.
  ~Maintenance();
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  // Returns false when the client is gone (the backup then stops between
  // steps, CANCELLED).
  using WriteProgress = std::function<bool(const v1::BackupResponse&)>;
  using Finish = absl::AnyInvocable<void(absl::Status)>;

  // Writes an encrypted backup as BackupRequest documents it. `write` gets
  // progress messages and, last, the one holding the result; `finish` is
  // called once, with the outcome, after the last write. Both run on the
  // maintenance thread.
  void Backup(v1::BackupRequest request, WriteProgress write, Finish finish);

  // Re-encrypts the database with the key in request.new_key_file, first
  // backing it up under the old key unless skip_backup.
  void Rekey(v1::RekeyRequest request, v1::RekeyResponse* response, Finish finish);

  // Stops accepting operations (they are answered UNAVAILABLE), cancels a
  // running backup at its next step and waits for the rest. Idempotent.
  void Shutdown();

  // The file a BackupRequest.path names under the backup directory, or
  // INVALID_ARGUMENT (absolute, "..", empty component). Empty: the default
  // name for `now`.
  [[nodiscard]] absl::StatusOr<std::string> ResolveBackupPath(const std::string& path,
                                                              absl::Time now) const;

 private:
  absl::Status RunBackup(const v1::BackupRequest& request, const WriteProgress& write,
                         v1::BackupResult* result);
  // Deletes the oldest default-named backups beyond `keep_last`.
  std::vector<std::string> DeleteOldBackups(uint32_t keep_last) const;

  Database& database_;
  const MaintenanceOptions options_;
  std::atomic<bool> stopping_{false};
  exec::ThreadPool thread_;
};

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_MAINTENANCE_H_
