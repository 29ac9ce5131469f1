#include "services/storage/repos/retention_repo.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#include "common/status/status_macros.h"
#include "services/storage/repos/fence.h"
#include "services/storage/repos/proto_time.h"

namespace coffer::storage {
namespace {

// The snapshots past the limits, as an ordering bound: every (taken_at,
// snapshot_id) before (?1, ?2). Written as a range on taken_at so the
// snapshots_by_taken_at index serves it; SQLite 3.15 has no row values.
#define COFFER_PRUNED_SNAPSHOT "taken_at <= ?1 AND (taken_at < ?1 OR snapshot_id < ?2)"
#define COFFER_PRUNED_SNAPSHOT_IDS \
  "(SELECT snapshot_id FROM snapshots WHERE " COFFER_PRUNED_SNAPSHOT ")"
// The snapshot_items row at hand is a latest reading or a last known value.
#define COFFER_ITEM_REFERENCED                                                           \
  "(EXISTS (SELECT 1 FROM latest_balances WHERE last_item_id = snapshot_items.item_id) " \
  "OR EXISTS (SELECT 1 FROM latest_balances WHERE value_item_id = snapshot_items.item_id))"
// The prices row at hand is older than ?1 and not its pair's latest (found
// by one step back through the key).
#define COFFER_PRUNED_PRICE                                                           \
  "price_time < ?1 AND price_time < (SELECT latest.price_time FROM prices AS latest " \
  "WHERE latest.asset_id = prices.asset_id AND latest.quote_currency = "              \
  "prices.quote_currency ORDER BY latest.price_time DESC LIMIT 1)"

constexpr char kCountKeptItems[] =
    "SELECT COUNT(*) FROM snapshot_items WHERE snapshot_id IN " COFFER_PRUNED_SNAPSHOT_IDS
    " AND " COFFER_ITEM_REFERENCED;
constexpr char kCountPrunedItems[] =
    "SELECT COUNT(*) FROM snapshot_items WHERE snapshot_id IN " COFFER_PRUNED_SNAPSHOT_IDS
    " AND NOT " COFFER_ITEM_REFERENCED;
constexpr char kDeletePrunedItems[] =
    "DELETE FROM snapshot_items WHERE snapshot_id IN " COFFER_PRUNED_SNAPSHOT_IDS
    " AND NOT " COFFER_ITEM_REFERENCED;
// Before any item is deleted: the pruned snapshots none of whose items are
// kept.
constexpr char kCountPrunedSnapshots[] =
    "SELECT COUNT(*) FROM snapshots WHERE " COFFER_PRUNED_SNAPSHOT
    " AND NOT EXISTS (SELECT 1 FROM snapshot_items WHERE snapshot_items.snapshot_id = "
    "snapshots.snapshot_id AND " COFFER_ITEM_REFERENCED ")";
// After the items are deleted: the pruned snapshots left without items.
// Asking for no item at all (rather than no kept item) means the cascade on
// snapshot_items can never take an item with it.
constexpr char kDeletePrunedSnapshots[] =
    "DELETE FROM snapshots WHERE " COFFER_PRUNED_SNAPSHOT
    " AND NOT EXISTS (SELECT 1 FROM snapshot_items WHERE snapshot_items.snapshot_id = "
    "snapshots.snapshot_id)";
constexpr char kCountPrunedPrices[] = "SELECT COUNT(*) FROM prices WHERE " COFFER_PRUNED_PRICE;
constexpr char kDeletePrunedPrices[] = "DELETE FROM prices WHERE " COFFER_PRUNED_PRICE;

#undef COFFER_PRUNED_SNAPSHOT
#undef COFFER_PRUNED_SNAPSHOT_IDS
#undef COFFER_ITEM_REFERENCED
#undef COFFER_PRUNED_PRICE

constexpr int64_t kNoSnapshotId = std::numeric_limits<int64_t>::min();

// Snapshots before (taken_at, snapshot_id) are past the limits.
struct SnapshotBound {
  int64_t taken_at = 0;
  int64_t snapshot_id = kNoSnapshotId;
};

// `now_nanos` minus `age_nanos`, saturated at the earliest representable time.
int64_t Before(int64_t now_nanos, int64_t age_nanos) {
  int64_t cutoff = 0;
  if (__builtin_sub_overflow(now_nanos, age_nanos, &cutoff)) {
    return std::numeric_limits<int64_t>::min();
  }
  return cutoff;
}

// The (taken_at, snapshot_id) of the keep_last-th newest snapshot, or nullopt
// when there are no more than keep_last.
absl::StatusOr<std::optional<SnapshotBound>> KeepLastBound(db::WriteContext& tx,
                                                           uint32_t keep_last) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT taken_at, snapshot_id FROM snapshots "
                              "ORDER BY taken_at DESC, snapshot_id DESC LIMIT 1 OFFSET ?1"));
  RETURN_IF_ERROR(select->Bind(1, static_cast<int64_t>(keep_last) - 1));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) return std::nullopt;
  return SnapshotBound{select->ColumnInt64(0), select->ColumnInt64(1)};
}

// The bound that prunes every snapshot past either limit, or nullopt when
// none can be: the later of the two bounds, since each prunes everything
// before it.
absl::StatusOr<std::optional<SnapshotBound>> PrunedSnapshotBound(db::WriteContext& tx,
                                                                 const v1::RetentionPolicy& policy,
                                                                 int64_t max_age_nanos,
                                                                 int64_t now_nanos) {
  std::optional<SnapshotBound> bound;
  if (max_age_nanos > 0) bound = SnapshotBound{Before(now_nanos, max_age_nanos), kNoSnapshotId};
  if (policy.snapshot_keep_last() > 0) {
    ASSIGN_OR_RETURN(std::optional<SnapshotBound> keep_last,
                     KeepLastBound(tx, policy.snapshot_keep_last()));
    // By age everything before taken_at goes; by count, at an equal taken_at,
    // also the older ids: the count bound is later only when not earlier.
    if (keep_last.has_value() && (!bound.has_value() || keep_last->taken_at >= bound->taken_at)) {
      bound = keep_last;
    }
  }
  return bound;
}

// Runs a one-row COUNT(*) query binding `first` (and `second` when given).
absl::StatusOr<uint64_t> CountRows(db::WriteContext& tx, const char* sql, int64_t first,
                                   std::optional<int64_t> second) {
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(sql));
  RETURN_IF_ERROR(select->Bind(1, first));
  if (second.has_value()) RETURN_IF_ERROR(select->Bind(2, *second));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) return absl::InternalError("COUNT(*) answered no row");
  return static_cast<uint64_t>(select->ColumnInt64(0));
}

// Runs a DELETE binding `first` (and `second`); the rows it deleted itself
// (cascades not counted).
absl::StatusOr<uint64_t> DeleteRows(db::WriteContext& tx, const char* sql, int64_t first,
                                    std::optional<int64_t> second) {
  ASSIGN_OR_RETURN(db::CachedStatement remove, tx.Prepare(sql));
  RETURN_IF_ERROR(remove->Bind(1, first));
  if (second.has_value()) RETURN_IF_ERROR(remove->Bind(2, *second));
  RETURN_IF_ERROR(remove->Run());
  return static_cast<uint64_t>(tx.connection().Changes());
}

absl::Status PruneSnapshots(db::WriteContext& tx, const SnapshotBound& bound, bool dry_run,
                            v1::PruneResponse* response) {
  ASSIGN_OR_RETURN(uint64_t kept,
                   CountRows(tx, kCountKeptItems, bound.taken_at, bound.snapshot_id));
  response->set_items_kept(kept);
  if (dry_run) {
    ASSIGN_OR_RETURN(uint64_t items,
                     CountRows(tx, kCountPrunedItems, bound.taken_at, bound.snapshot_id));
    ASSIGN_OR_RETURN(uint64_t snapshots,
                     CountRows(tx, kCountPrunedSnapshots, bound.taken_at, bound.snapshot_id));
    response->set_items_deleted(items);
    response->set_snapshots_deleted(snapshots);
    return absl::OkStatus();
  }
  // Items first: a snapshot goes only once none of its items is left.
  ASSIGN_OR_RETURN(uint64_t items,
                   DeleteRows(tx, kDeletePrunedItems, bound.taken_at, bound.snapshot_id));
  ASSIGN_OR_RETURN(uint64_t snapshots,
                   DeleteRows(tx, kDeletePrunedSnapshots, bound.taken_at, bound.snapshot_id));
  response->set_items_deleted(items);
  response->set_snapshots_deleted(snapshots);
  return absl::OkStatus();
}

absl::Status PrunePrices(db::WriteContext& tx, int64_t cutoff, bool dry_run,
                         v1::PruneResponse* response) {
  ASSIGN_OR_RETURN(uint64_t prices,
                   dry_run ? CountRows(tx, kCountPrunedPrices, cutoff, std::nullopt)
                           : DeleteRows(tx, kDeletePrunedPrices, cutoff, std::nullopt));
  response->set_prices_deleted(prices);
  return absl::OkStatus();
}

}  // namespace

absl::Status Prune(db::WriteContext& tx, const v1::PruneRequest& request,
                   v1::PruneResponse* response, absl::Time now) {
  const auto started = std::chrono::steady_clock::now();
  const v1::RetentionPolicy& policy = request.retention();
  ASSIGN_OR_RETURN(int64_t snapshot_max_age,
                   DurationNanos(policy.snapshot_max_age(), "retention.snapshot_max_age"));
  ASSIGN_OR_RETURN(int64_t price_max_age,
                   DurationNanos(policy.price_max_age(), "retention.price_max_age"));
  if (snapshot_max_age == 0 && policy.snapshot_keep_last() == 0 && price_max_age == 0) {
    return absl::InvalidArgumentError(
        "retention: at least one of snapshot_max_age, snapshot_keep_last and price_max_age "
        "required");
  }
  // An empty fence (set but with every field default) counts as none.
  const v1::Fence& fence = request.fence();
  if (!fence.lease_name().empty() || !fence.holder_id().empty() || fence.epoch() != 0) {
    RETURN_IF_ERROR(CheckFence(tx, fence, now));
  }
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(std::optional<SnapshotBound> bound,
                   PrunedSnapshotBound(tx, policy, snapshot_max_age, now_nanos));
  if (bound.has_value()) RETURN_IF_ERROR(PruneSnapshots(tx, *bound, request.dry_run(), response));
  if (price_max_age > 0) {
    RETURN_IF_ERROR(PrunePrices(tx, Before(now_nanos, price_max_age), request.dry_run(), response));
  }
  *response->mutable_duration() = ToDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                 std::chrono::steady_clock::now() - started)
                                                 .count());
  return absl::OkStatus();
}

}  // namespace coffer::storage
