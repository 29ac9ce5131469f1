// Retention in the database (Storage.Prune), as protos/coffer/v1/storage.proto
// documents it: deletes old snapshots and prices, never what latest balances
// still need. The work of one db::ConnectionPool Write, run on the writer
// thread:
//
//   pool->Write(
//       [&request, response](db::WriteContext& tx) {
//         return Prune(tx, request, response, absl::Now());
//       },
//       std::move(done));
//
// A returned error undoes everything the call deleted; the response is then
// meaningless.
#ifndef COFFER_SERVICES_STORAGE_REPOS_RETENTION_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_RETENTION_REPO_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Applies request.retention at `now` (storage's clock) in the caller's
// transaction.
//
// * A snapshot is past the limits when it is older than snapshot_max_age
//   (taken_at < now - max_age) or not among the snapshot_keep_last newest
//   (by taken_at, then snapshot_id). Its items are deleted except those
//   latest_balances references (last_item_id, value_item_id), which are kept
//   and counted in items_kept; the snapshot row, with its blocks, is deleted
//   only when none of its items remain.
// * A price is past the limit when older than price_max_age (price_time <
//   now - max_age) and not the latest of its (asset_id, quote_currency).
// * dry_run answers the same counts and deletes nothing.
// * INVALID_ARGUMENT when no limit is set or a max age is out of range; a
//   partly set fence is INVALID_ARGUMENT and a fence whose lease is not held
//   by it FAILED_PRECONDITION (CheckFence); an empty fence is unchecked.
// * duration is the wall time the call took.
//
// Every step is one set-based statement, never a loop over rows: snapshots
// are found through their taken_at index, their items through the snapshot
// key, references through latest_balances' item indexes, and each price's
// latest through the prices key (the prices table itself is read once, having
// no index on price_time alone).
[[nodiscard]] absl::Status Prune(db::WriteContext& tx, const v1::PruneRequest& request,
                                 v1::PruneResponse* response, absl::Time now);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_RETENTION_REPO_H_
