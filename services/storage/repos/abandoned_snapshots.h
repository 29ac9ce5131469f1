// Deletes snapshots written in parts (Storage.WriteSnapshotPart) whose
// WriteSnapshot never came: a scheduler that crashed or lost its lease
// mid-refresh leaves an open snapshot (schema.cc, version 6) that no read
// sees but whose items still take room. The writer's idle time runs it, a
// bounded number of items per transaction, before the account-history merge
// (services/storage/database.cc):
//
//   // In the writer's idle time (ConnectionPoolOptions::idle_work):
//   ASSIGN_OR_RETURN(bool more, DeleteAbandonedSnapshotsStep(tx, absl::Now(),
//                                                            absl::Hours(24), 2000));
//
// A snapshot may hold 100,000 items, and deleting them at once took ~0.8 s
// (~80 ms per 10,000), which a write arriving meanwhile would wait for: a
// step deletes at most max_items of the oldest abandoned snapshot's items,
// and the snapshot row itself (its parts and blocks going with it through
// ON DELETE CASCADE) once none is left. account_history's trigger looks for
// the items there (open snapshots' items never are). The counter
// coffer_storage_abandoned_snapshots_deleted_total counts the snapshots it
// deleted (a step whose COMMIT then failed still counted its snapshot).
#ifndef COFFER_SERVICES_STORAGE_REPOS_ABANDONED_SNAPSHOTS_H_
#define COFFER_SERVICES_STORAGE_REPOS_ABANDONED_SNAPSHOTS_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Deletes up to `max_items` (at least one) items of the open snapshot open
// longest whose first part came before now - abandoned_after (open_since,
// storage's clock), and the snapshot once it has none left; committed
// snapshots and younger open ones stay. Returns whether more is left to
// delete (items of this snapshot, or another abandoned one); false when
// none was found. Finds them through the partial index snapshots_open, so a
// step with nothing to delete costs one lookup in an index of the open
// snapshots only.
[[nodiscard]] absl::StatusOr<bool> DeleteAbandonedSnapshotsStep(db::WriteContext& tx,
                                                                absl::Time now,
                                                                absl::Duration abandoned_after,
                                                                int max_items);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_ABANDONED_SNAPSHOTS_H_
