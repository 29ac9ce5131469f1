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
// only, in the order they were opened.
constexpr char kSelectAbandoned[] =
    "SELECT snapshot_id FROM snapshots WHERE open_since IS NOT NULL AND open_since < ?1 "
    "ORDER BY open_since LIMIT ?2";
// Never a committed snapshot, whatever id it is handed.
constexpr char kDeleteOpen[] =
    "DELETE FROM snapshots WHERE snapshot_id = ?1 AND open_since IS NOT NULL";

}  // namespace

absl::StatusOr<bool> DeleteAbandonedSnapshotsStep(db::WriteContext& tx, absl::Time now,
                                                  absl::Duration abandoned_after,
                                                  int max_snapshots) {
  const int64_t limit = std::max(max_snapshots, 1);
  // absl saturates at the infinite past; ToUnixNanos then at int64's minimum.
  const int64_t cutoff = absl::ToUnixNanos(now - abandoned_after);
  // Collected before any is deleted, so no statement steps over rows being
  // deleted; one more than the limit tells whether more are left.
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(kSelectAbandoned));
  RETURN_IF_ERROR(select->Bind(1, cutoff));
  RETURN_IF_ERROR(select->Bind(2, limit + 1));
  std::vector<int64_t> ids;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, select->Step());
    if (!row) break;
    ids.push_back(select->ColumnInt64(0));
  }
  select->Reset();
  const bool more = static_cast<int64_t>(ids.size()) > limit;
  if (more) ids.resize(static_cast<size_t>(limit));
  ASSIGN_OR_RETURN(db::CachedStatement remove, tx.Prepare(kDeleteOpen));
  uint64_t deleted = 0;
  for (const int64_t id : ids) {
    RETURN_IF_ERROR(remove->Bind(1, id));
    RETURN_IF_ERROR(remove->Run());
    deleted += static_cast<uint64_t>(tx.connection().Changes());
    remove->Reset();
  }
  if (deleted > 0) DeletedCounter().Increment(deleted);
  return more;
}

}  // namespace coffer::storage
