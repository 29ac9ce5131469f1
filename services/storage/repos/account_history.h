// The account-history index (schema version 4), written in batches: what
// WriteSnapshot calls after storing a snapshot's items, and what readers of
// an account's items join.
//
//   // In the write that stored `stored` items of snapshot `snapshot_id`:
//   RETURN_IF_ERROR(AddToAccountHistory(tx, snapshot_id, stored));
//
// A snapshot's items are first only listed as pending (one row per
// snapshot, no per-item write beyond the items themselves); once the pending
// snapshots hold kAccountHistoryMergeItems items or number
// kAccountHistoryMergeSnapshots, their items are moved into account_history
// in key order, in the same transaction. Sorting a batch first is what makes
// it cheap: an (account, time) index touches one leaf per account per write,
// so a lone writer of 1,000-item snapshots rewrote about one encrypted page
// per item; a batch of 10,000 items over the same accounts rewrites each
// leaf once (schema.cc, version 4). Readers see merged and pending items
// alike: account_history holds the merged ones and the pending snapshots
// (at most kAccountHistoryMergeSnapshots) are each one lookup in
// snapshot_items' (snapshot_id, account_id, asset_id) key.
#ifndef COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_HISTORY_H_
#define COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_HISTORY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Pending items that trigger a merge: the size of (a)'s transactions in
// tools/bench/storage, where an index batch costs about what a bigger one
// does per item.
inline constexpr int64_t kAccountHistoryMergeItems = 10000;
// Pending snapshots that trigger a merge, however few their items: bounds
// what a history read looks up beyond account_history.
inline constexpr int64_t kAccountHistoryMergeSnapshots = 64;

// Records that snapshot `snapshot_id` stored `items` items (none: nothing to
// index) and merges every pending snapshot when a threshold is reached.
[[nodiscard]] absl::Status AddToAccountHistory(db::WriteContext& tx, int64_t snapshot_id,
                                               int64_t items);

// Moves the items of every pending snapshot into account_history, in key
// order, and clears the pending list.
[[nodiscard]] absl::Status MergeAccountHistory(db::WriteContext& tx);

// What is pending: snapshots and their items.
struct PendingAccountHistory {
  int64_t snapshots = 0;
  int64_t items = 0;
};
[[nodiscard]] absl::StatusOr<PendingAccountHistory> CountPendingAccountHistory(
    db::Connection& connection);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_HISTORY_H_
