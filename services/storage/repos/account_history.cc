#include "services/storage/repos/account_history.h"

#include "common/status/status_macros.h"

namespace coffer::storage {

absl::StatusOr<PendingAccountHistory> CountPendingAccountHistory(db::Connection& connection) {
  ASSIGN_OR_RETURN(
      db::CachedStatement count,
      connection.Prepare("SELECT COUNT(*), IFNULL(SUM(items), 0) FROM account_history_pending"));
  ASSIGN_OR_RETURN(const bool row, count->Step());
  PendingAccountHistory pending;
  if (row) {
    pending.snapshots = count->ColumnInt64(0);
    pending.items = count->ColumnInt64(1);
  }
  count->Reset();
  return pending;
}

absl::Status MergeAccountHistory(db::WriteContext& tx) {
  // OR FAIL: a statement that may ABORT keeps a statement journal, an
  // encrypted copy of every page it changes, under SQLCipher. The key cannot
  // collide (an item's key is unique in snapshot_items, schema.cc), and were
  // it to, the error rolls back the whole write like any other.
  // CROSS JOIN keeps the pending list outside: one key lookup per snapshot.
  ASSIGN_OR_RETURN(
      db::CachedStatement merge,
      tx.Prepare("INSERT OR FAIL INTO account_history (account_id, taken_at, snapshot_id, "
                 "asset_id, item_id) SELECT i.account_id, i.taken_at, i.snapshot_id, i.asset_id, "
                 "i.item_id FROM account_history_pending p CROSS JOIN snapshot_items i ON "
                 "i.snapshot_id = p.snapshot_id ORDER BY i.account_id, i.taken_at, "
                 "i.snapshot_id, i.asset_id"));
  RETURN_IF_ERROR(merge->Run());
  ASSIGN_OR_RETURN(db::CachedStatement clear, tx.Prepare("DELETE FROM account_history_pending"));
  return clear->Run();
}

absl::Status AddToAccountHistory(db::WriteContext& tx, int64_t snapshot_id, int64_t items) {
  if (items <= 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      db::CachedStatement insert,
      tx.Prepare("INSERT INTO account_history_pending (snapshot_id, items) VALUES (?1, ?2)"));
  RETURN_IF_ERROR(insert->Bind(1, snapshot_id));
  RETURN_IF_ERROR(insert->Bind(2, items));
  RETURN_IF_ERROR(insert->Run());
  ASSIGN_OR_RETURN(const PendingAccountHistory pending,
                   CountPendingAccountHistory(tx.connection()));
  if (pending.items < kAccountHistoryMergeItems &&
      pending.snapshots < kAccountHistoryMergeSnapshots) {
    return absl::OkStatus();
  }
  return MergeAccountHistory(tx);
}

}  // namespace coffer::storage
