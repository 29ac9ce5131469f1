#include "services/storage/repos/account_history.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include "common/metrics/registry.h"
#include "common/status/status_macros.h"

namespace coffer::storage {
namespace {

// No bound on a step: the pass ends in that step.
constexpr int64_t kWholePass = std::numeric_limits<int64_t>::max();

// What tools/bench/refresh waits on before timing a write: set from within
// the transactions that change what is pending (a rolled-back one leaves it
// too high until the next step, which the pool runs after every batch).
metrics::Gauge& PendingItemsGauge() {
  static metrics::Gauge& gauge = metrics::Registry::Global().GetGauge(
      "coffer_storage_account_history_pending_items", {},
      "Items of snapshots not yet wholly merged into account_history.");
  return gauge;
}

absl::StatusOr<PendingAccountHistory> CountAndReport(db::WriteContext& tx) {
  ASSIGN_OR_RETURN(const PendingAccountHistory pending,
                   CountPendingAccountHistory(tx.connection()));
  PendingItemsGauge().Set(static_cast<double>(pending.items));
  return pending;
}

bool Due(const PendingAccountHistory& pending) {
  return pending.items >= kAccountHistoryMergeItems ||
         pending.snapshots >= kAccountHistoryMergeSnapshots;
}

// The cursor of the pass in progress (the largest merged_below; '' when
// none has begun), or nullopt when nothing is pending.
absl::StatusOr<std::optional<std::string>> PassCursor(db::WriteContext& tx) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT MAX(merged_below) FROM account_history_pending"));
  ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row || select->ColumnIsNull(0)) return std::nullopt;
  return std::string(select->ColumnText(0));
}

absl::StatusOr<int64_t> PassMembers(db::WriteContext& tx, const std::string& cursor) {
  ASSIGN_OR_RETURN(
      db::CachedStatement count,
      tx.Prepare("SELECT COUNT(*) FROM account_history_pending WHERE merged_below = ?1"));
  RETURN_IF_ERROR(count->Bind(1, cursor));
  ASSIGN_OR_RETURN(const bool row, count->Step());
  return row ? count->ColumnInt64(0) : 0;
}

// Where this step stops: in each snapshot of the pass, the account after
// the one holding the item `offset` items past the cursor (so a step takes
// at least one account of it, all of that account's items); the smallest of
// these over the pass. The smallest rather than the first snapshot's, so a
// small snapshot first in the pass does not make one step take all of a big
// one. Each lookup steps `offset` entries of snapshot_items' key: a step
// reads about as many entries as it merges. nullopt: no snapshot of the
// pass holds an account past that, the step ends the pass.
absl::StatusOr<std::optional<std::string>> Boundary(db::WriteContext& tx, const std::string& cursor,
                                                    int64_t offset) {
  ASSIGN_OR_RETURN(
      db::CachedStatement select,
      tx.Prepare("SELECT MIN((SELECT j.account_id FROM snapshot_items j WHERE j.snapshot_id = "
                 "p.snapshot_id AND j.account_id > (SELECT i.account_id FROM snapshot_items i "
                 "WHERE i.snapshot_id = p.snapshot_id AND i.account_id >= ?1 ORDER BY "
                 "i.account_id, i.asset_id LIMIT 1 OFFSET ?2) ORDER BY j.account_id LIMIT 1)) "
                 "FROM account_history_pending p WHERE p.merged_below = ?1"));
  RETURN_IF_ERROR(select->Bind(1, cursor));
  RETURN_IF_ERROR(select->Bind(2, offset));
  ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row || select->ColumnIsNull(0)) return std::nullopt;
  return std::string(select->ColumnText(0));
}

// OR FAIL: a statement that may ABORT keeps a statement journal, an
// encrypted copy of every page it changes, under SQLCipher. The key cannot
// collide (an item's key is unique in snapshot_items, schema.cc), and were
// it to, the error rolls back the whole write like any other. CROSS JOIN
// keeps the pending list outside: one key range per snapshot.
constexpr char kCopyChunk[] =
    "INSERT OR FAIL INTO account_history (account_id, taken_at, snapshot_id, asset_id, item_id) "
    "SELECT i.account_id, i.taken_at, i.snapshot_id, i.asset_id, i.item_id FROM "
    "account_history_pending p CROSS JOIN snapshot_items i ON i.snapshot_id = p.snapshot_id AND "
    "i.account_id >= ?1 AND i.account_id < ?2 WHERE p.merged_below = ?1 ORDER BY i.account_id, "
    "i.taken_at, i.snapshot_id, i.asset_id";
constexpr char kCopyRest[] =
    "INSERT OR FAIL INTO account_history (account_id, taken_at, snapshot_id, asset_id, item_id) "
    "SELECT i.account_id, i.taken_at, i.snapshot_id, i.asset_id, i.item_id FROM "
    "account_history_pending p CROSS JOIN snapshot_items i ON i.snapshot_id = p.snapshot_id AND "
    "i.account_id >= ?1 WHERE p.merged_below = ?1 ORDER BY i.account_id, i.taken_at, "
    "i.snapshot_id, i.asset_id";

// One step; `force`: merge whatever is pending, due or not.
absl::StatusOr<bool> Step(db::WriteContext& tx, int64_t max_items, bool force) {
  ASSIGN_OR_RETURN(const std::optional<std::string> cursor, PassCursor(tx));
  if (!cursor.has_value()) {
    PendingItemsGauge().Set(0);
    return false;
  }
  if (cursor->empty() && !force) {
    ASSIGN_OR_RETURN(const PendingAccountHistory pending, CountAndReport(tx));
    if (!Due(pending)) return false;
  }
  std::optional<std::string> boundary;
  if (max_items != kWholePass) {
    ASSIGN_OR_RETURN(const int64_t members, PassMembers(tx, *cursor));
    const int64_t offset = std::max<int64_t>(max_items / std::max<int64_t>(members, 1) - 1, 0);
    ASSIGN_OR_RETURN(boundary, Boundary(tx, *cursor, offset));
  }
  if (boundary.has_value()) {
    ASSIGN_OR_RETURN(db::CachedStatement copy, tx.Prepare(kCopyChunk));
    RETURN_IF_ERROR(copy->Bind(1, *cursor));
    RETURN_IF_ERROR(copy->Bind(2, *boundary));
    RETURN_IF_ERROR(copy->Run());
    ASSIGN_OR_RETURN(db::CachedStatement advance,
                     tx.Prepare("UPDATE account_history_pending SET merged_below = ?2 WHERE "
                                "merged_below = ?1"));
    RETURN_IF_ERROR(advance->Bind(1, *cursor));
    RETURN_IF_ERROR(advance->Bind(2, *boundary));
    RETURN_IF_ERROR(advance->Run());
    // The pass goes on; the gauge changes only when it ends.
    return true;
  }
  ASSIGN_OR_RETURN(db::CachedStatement copy, tx.Prepare(kCopyRest));
  RETURN_IF_ERROR(copy->Bind(1, *cursor));
  RETURN_IF_ERROR(copy->Run());
  ASSIGN_OR_RETURN(db::CachedStatement finish,
                   tx.Prepare("DELETE FROM account_history_pending WHERE merged_below = ?1"));
  RETURN_IF_ERROR(finish->Bind(1, *cursor));
  RETURN_IF_ERROR(finish->Run());
  ASSIGN_OR_RETURN(const PendingAccountHistory pending, CountAndReport(tx));
  return pending.snapshots > 0 && (force || Due(pending));
}

}  // namespace

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

absl::StatusOr<bool> MergeAccountHistoryStep(db::WriteContext& tx, int64_t max_items) {
  return Step(tx, std::clamp<int64_t>(max_items, 1, kWholePass - 1), /*force=*/false);
}

absl::Status MergeAccountHistory(db::WriteContext& tx) {
  // At most two steps: the rest of a pass in progress, then the snapshots
  // written during it.
  while (true) {
    ASSIGN_OR_RETURN(const bool more, Step(tx, kWholePass, /*force=*/true));
    if (!more) return absl::OkStatus();
  }
}

absl::Status AddToAccountHistory(db::WriteContext& tx, int64_t snapshot_id, int64_t items) {
  if (items <= 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      db::CachedStatement insert,
      tx.Prepare("INSERT INTO account_history_pending (snapshot_id, items) VALUES (?1, ?2)"));
  RETURN_IF_ERROR(insert->Bind(1, snapshot_id));
  RETURN_IF_ERROR(insert->Bind(2, items));
  RETURN_IF_ERROR(insert->Run());
  ASSIGN_OR_RETURN(const PendingAccountHistory pending, CountAndReport(tx));
  if (pending.items < kAccountHistoryInlineItems &&
      pending.snapshots < kAccountHistoryInlineSnapshots) {
    return absl::OkStatus();
  }
  return MergeAccountHistory(tx);
}

}  // namespace coffer::storage
