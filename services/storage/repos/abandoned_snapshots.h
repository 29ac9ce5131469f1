// Deletes snapshots written in parts (Storage.WriteSnapshotPart) whose
// WriteSnapshot never came: a scheduler that crashed or lost its lease
// mid-refresh leaves an open snapshot (schema.cc, version 6) that no read
// sees but whose items still take room. The writer's idle time runs it, a
// few snapshots per transaction, before the account-history merge
// (services/storage/database.cc):
//
//   // In the writer's idle time (ConnectionPoolOptions::idle_work):
//   ASSIGN_OR_RETURN(bool more, DeleteAbandonedSnapshotsStep(tx, absl::Now(),
//                                                            absl::Hours(24), 1));
//
// Deleting the snapshots row is all it does: its items, parts and blocks go
// through ON DELETE CASCADE, and account_history's trigger looks for the
// items there (open snapshots' items never are). The counter
// coffer_storage_abandoned_snapshots_deleted_total counts what it deleted
// (a step whose COMMIT then failed still counted its snapshots).
#ifndef COFFER_SERVICES_STORAGE_REPOS_ABANDONED_SNAPSHOTS_H_
#define COFFER_SERVICES_STORAGE_REPOS_ABANDONED_SNAPSHOTS_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Deletes up to `max_snapshots` (at least one) open snapshots whose first
// part came before now - abandoned_after (open_since, storage's clock),
// those open longest first; committed snapshots and younger open ones stay.
// Returns whether more such snapshots are left; false when none was found.
// Finds them through the partial index snapshots_open, so a step with
// nothing to delete costs one lookup in an index of the open snapshots only.
[[nodiscard]] absl::StatusOr<bool> DeleteAbandonedSnapshotsStep(db::WriteContext& tx,
                                                                absl::Time now,
                                                                absl::Duration abandoned_after,
                                                                int max_snapshots);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_ABANDONED_SNAPSHOTS_H_
