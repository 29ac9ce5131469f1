#include "services/storage/repos/abandoned_snapshots.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/metrics/registry.h"
#include "common/status/status_macros.h"

namespace coffer::storage {
namespace {

metrics::Counter& DeletedCounter() {
  static metrics::Counter& counter = metrics::Registry::Global().GetCounter(
      "coffer_storage_abandoned_snapshots_deleted_total", {},
      "Open snapshots (written in parts) deleted because their WriteSnapshot never came.");
  return counter;
}

// A range in the partial index snapshots_open, which holds open snapshots
// only, in the order they were opened: the oldest abandoned one, and
// whether another follows.
constexpr char kSelectAbandoned[] =
    "SELECT snapshot_id FROM snapshots WHERE open_since IS NOT NULL AND open_since < ?1 "
    "ORDER BY open_since LIMIT 2";
// Up to ?2 of its items, found through the (snapshot_id, account_id,
// asset_id) key.
constexpr char kDeleteItems[] =
    "DELETE FROM snapshot_items WHERE item_id IN (SELECT item_id FROM snapshot_items "
    "WHERE snapshot_id = ?1 LIMIT ?2)";
constexpr char kAnyItemLeft[] =
    "SELECT EXISTS (SELECT 1 FROM snapshot_items WHERE snapshot_id = ?1)";
// Never a committed snapshot, whatever id it is handed; its parts and
// blocks go with it (ON DELETE CASCADE).
constexpr char kDeleteOpen[] =
    "DELETE FROM snapshots WHERE snapshot_id = ?1 AND open_since IS NOT NULL";

}  // namespace

absl::StatusOr<bool> DeleteAbandonedSnapshotsStep(db::WriteContext& tx, absl::Time now,
                                                  absl::Duration abandoned_after, int max_items) {
  // absl saturates at the infinite past; ToUnixNanos then at int64's minimum.
  const int64_t cutoff = absl::ToUnixNanos(now - abandoned_after);
  // Collected before anything is deleted, so no statement steps over rows
  // being deleted.
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(kSelectAbandoned));
  RETURN_IF_ERROR(select->Bind(1, cutoff));
  std::vector<int64_t> ids;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, select->Step());
    if (!row) break;
    ids.push_back(select->ColumnInt64(0));
  }
  select->Reset();
  if (ids.empty()) return false;
  const int64_t id = ids.front();
  const bool others = ids.size() > 1;

  ASSIGN_OR_RETURN(db::CachedStatement delete_items, tx.Prepare(kDeleteItems));
  RETURN_IF_ERROR(delete_items->Bind(1, id));
  RETURN_IF_ERROR(delete_items->Bind(2, int64_t{std::max(max_items, 1)}));
  RETURN_IF_ERROR(delete_items->Run());
  ASSIGN_OR_RETURN(db::CachedStatement any_left, tx.Prepare(kAnyItemLeft));
  RETURN_IF_ERROR(any_left->Bind(1, id));
  ASSIGN_OR_RETURN(const bool row, any_left->Step());
  const bool items_left = row && any_left->ColumnInt64(0) != 0;
  any_left->Reset();
  if (items_left) return true;

  ASSIGN_OR_RETURN(db::CachedStatement remove, tx.Prepare(kDeleteOpen));
  RETURN_IF_ERROR(remove->Bind(1, id));
  RETURN_IF_ERROR(remove->Run());
  if (tx.connection().Changes() > 0) DeletedCounter().Increment(1);
  return others;
}

}  // namespace coffer::storage
