// The account-history index (schema versions 4 and 5), written in batches
// off the write path: what WriteSnapshot calls after storing a snapshot's
// items, what the writer's idle time merges, and what readers of an
// account's items join.
//
//   // In the write that stored `stored` items of snapshot `snapshot_id`:
//   RETURN_IF_ERROR(AddToAccountHistory(tx, snapshot_id, stored));
//   // In the writer's idle time (ConnectionPoolOptions::idle_work):
//   ASSIGN_OR_RETURN(bool more, MergeAccountHistoryStep(tx, 1000));
//
// A snapshot's items are first only listed as pending (one row per
// snapshot, no per-item write beyond the items themselves). Once the
// pending snapshots hold kAccountHistoryMergeItems items or number
// kAccountHistoryMergeSnapshots, a merge is due, and MergeAccountHistoryStep
// moves their items into account_history in key order, a chunk of accounts
// per call. Sorting a batch first is what makes it cheap: an (account, time)
// index touches one leaf per account per write, so a lone writer of
// 1,000-item snapshots rewrote about one encrypted page per item; a batch of
// 10,000 items over the same accounts rewrites each leaf once (schema.cc,
// version 4). Merging inside WriteSnapshot cost a 10,000-account write about
// 20 ms plus most of its commit (3,500 pages written instead of 1,000), and
// more as history grows (a write of 10,000 items with the merge inline:
// ~145 ms at 1 snapshot of history, 400-600 ms at 12-24; merged in idle
// time: 110-170 ms throughout), so it runs between writes instead.
// The gauge coffer_storage_account_history_pending_items says how many
// items are pending (set by the transactions that change it).
//
// A pass merges the snapshots pending when it starts, in chunks of
// accounts: account_history_pending.merged_below says how far (items of the
// snapshot with account_id < merged_below are in account_history already),
// the members of the pass share the largest merged_below, and snapshots
// written during the pass keep '' and wait for the next one. Every chunk is
// its own commit and readers stay exact at each: they take account_history
// plus, for each pending snapshot, its items at or above merged_below (one
// key lookup in snapshot_items' (snapshot_id, account_id, asset_id) key per
// pending snapshot). Deleting a snapshot mid-pass (retention) takes its
// pending row with it; the pass goes on with the others.
//
// Should the writer never be idle, AddToAccountHistory merges everything
// inline once kAccountHistoryInlineItems or kAccountHistoryInlineSnapshots
// are pending, so reads never face an unbounded pending list.
#ifndef COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_HISTORY_H_
#define COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_HISTORY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Pending items that make a merge due: the size of (a)'s transactions in
// tools/bench/storage, where an index batch costs about what a bigger one
// does per item.
inline constexpr int64_t kAccountHistoryMergeItems = 10000;
// Pending snapshots that make a merge due, however few their items: every
// pending snapshot is one more key lookup for each history read, and idle
// time is cheap.
inline constexpr int64_t kAccountHistoryMergeSnapshots = 16;
// What AddToAccountHistory lets pile up before it merges inline, within the
// write: only reached when the writer had no idle time for several
// refreshes (writes back to back).
inline constexpr int64_t kAccountHistoryInlineItems = 4 * kAccountHistoryMergeItems;
inline constexpr int64_t kAccountHistoryInlineSnapshots = 64;

// Records that snapshot `snapshot_id` stored `items` items (none: nothing to
// index); merges every pending snapshot inline only once an inline cap is
// reached.
[[nodiscard]] absl::Status AddToAccountHistory(db::WriteContext& tx, int64_t snapshot_id,
                                               int64_t items);

// One step of the merge: when a pass is in progress or a merge is due, moves
// the pending items of about `max_items` items' worth of accounts (whole
// accounts, at least one) of every snapshot of the pass into
// account_history. Returns whether more is due afterwards; false when
// nothing was.
[[nodiscard]] absl::StatusOr<bool> MergeAccountHistoryStep(db::WriteContext& tx, int64_t max_items);

// Moves the items of every pending snapshot into account_history, a pass in
// progress included, and clears the pending list, due or not.
[[nodiscard]] absl::Status MergeAccountHistory(db::WriteContext& tx);

// What is pending: snapshots and their items (all of them, the part a pass
// in progress has already merged included).
struct PendingAccountHistory {
  int64_t snapshots = 0;
  int64_t items = 0;
};
[[nodiscard]] absl::StatusOr<PendingAccountHistory> CountPendingAccountHistory(
    db::Connection& connection);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_HISTORY_H_
