#include "services/storage/repos/retention_repo.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "common/status/status_macros.h"
#include "services/storage/repos/fence.h"
#include "services/storage/repos/open_snapshots.h"
#include "services/storage/repos/proto_time.h"

namespace coffer::storage {
namespace {

// Open snapshots (written in parts, not committed yet) are never pruned nor
// counted (open_snapshots.h: the taken_at index still covers the snapshots
// read).
#define COFFER_COMMITTED_SNAPSHOT "snapshot_id NOT IN " COFFER_OPEN_SNAPSHOT_IDS
// The snapshots past the limits, as an ordering bound: every (taken_at,
// snapshot_id) before (?1, ?2), open ones aside. Written as a range on
// taken_at so the snapshots_by_taken_at index serves it; SQLite 3.15 has no
// row values.
#define COFFER_PRUNED_SNAPSHOT \
  "taken_at <= ?1 AND (taken_at < ?1 OR snapshot_id < ?2) AND " COFFER_COMMITTED_SNAPSHOT
#define COFFER_PRUNED_SNAPSHOT_IDS \
  "(SELECT snapshot_id FROM snapshots WHERE " COFFER_PRUNED_SNAPSHOT ")"
// The snapshot_items row at hand is a latest reading or a last known value.
// Only its own (account, asset) row of latest_balances can refer to it, so
// one lookup by that row's key answers, with no index on the item ids.
#define COFFER_ITEM_REFERENCED                                               \
  "EXISTS (SELECT 1 FROM latest_balances AS lb WHERE lb.account_id = "       \
  "snapshot_items.account_id AND lb.asset_id = snapshot_items.asset_id AND " \
  "(lb.last_item_id = snapshot_items.item_id OR lb.value_item_id = snapshot_items.item_id))"
// The prices row at hand is older than ?1 and not its pair's latest (found
// by one step back through the key).
#define COFFER_PRUNED_PRICE                                                           \
  "price_time < ?1 AND price_time < (SELECT latest.price_time FROM prices AS latest " \
  "WHERE latest.asset_id = prices.asset_id AND latest.quote_currency = "              \
  "prices.quote_currency ORDER BY latest.price_time DESC LIMIT 1)"

// dry_run: what a whole prune would do, counted over the whole range at once
// (reading is cheap next to deleting, and a count is no write to spread).
constexpr char kCountKeptItems[] =
    "SELECT COUNT(*) FROM snapshot_items WHERE snapshot_id IN " COFFER_PRUNED_SNAPSHOT_IDS
    " AND " COFFER_ITEM_REFERENCED;
constexpr char kCountPrunedItems[] =
    "SELECT COUNT(*) FROM snapshot_items WHERE snapshot_id IN " COFFER_PRUNED_SNAPSHOT_IDS
    " AND NOT " COFFER_ITEM_REFERENCED;
// The pruned snapshots none of whose items are kept.
constexpr char kCountPrunedSnapshots[] =
    "SELECT COUNT(*) FROM snapshots WHERE " COFFER_PRUNED_SNAPSHOT
    " AND NOT EXISTS (SELECT 1 FROM snapshot_items WHERE snapshot_items.snapshot_id = "
    "snapshots.snapshot_id AND " COFFER_ITEM_REFERENCED ")";
constexpr char kCountPrunedPrices[] = "SELECT COUNT(*) FROM prices WHERE " COFFER_PRUNED_PRICE;

// Chunks. The next ?5 pruned snapshots after the cursor (?3, ?4), oldest
// first, from the taken_at index.
constexpr char kNextPrunedSnapshots[] =
    "SELECT taken_at, snapshot_id FROM snapshots WHERE " COFFER_PRUNED_SNAPSHOT
    " AND taken_at >= ?3 AND (taken_at > ?3 OR snapshot_id > ?4) "
    "ORDER BY taken_at, snapshot_id LIMIT ?5";
// At most ?2 of snapshot ?1's items that nothing references. SQLite's
// DELETE … LIMIT is a compile-time option Debian's build lacks, hence the
// subquery.
constexpr char kDeleteUnreferencedItems[] =
    "DELETE FROM snapshot_items WHERE item_id IN (SELECT item_id FROM snapshot_items "
    "WHERE snapshot_id = ?1 AND NOT " COFFER_ITEM_REFERENCED " LIMIT ?2)";
constexpr char kCountItemsOf[] = "SELECT COUNT(*) FROM snapshot_items WHERE snapshot_id = ?1";
// Asking for no item at all (rather than no kept item) means the cascade on
// snapshot_items can never take an item with it.
constexpr char kDeleteEmptySnapshot[] =
    "DELETE FROM snapshots WHERE snapshot_id = ?1 AND NOT EXISTS (SELECT 1 FROM snapshot_items "
    "WHERE snapshot_items.snapshot_id = snapshots.snapshot_id)";
// The next ?5 pruned prices after the cursor (?2, ?3, ?4) in key order. The
// range on asset_id lets the key serve the scan.
constexpr char kNextPrunedPrices[] =
    "SELECT asset_id, quote_currency, price_time FROM prices WHERE asset_id >= ?2 AND "
    "(asset_id > ?2 OR quote_currency > ?3 OR (quote_currency = ?3 AND price_time > ?4)) "
    "AND " COFFER_PRUNED_PRICE " ORDER BY asset_id, quote_currency, price_time LIMIT ?5";
// The keep_last-th newest committed snapshot is row ?1 (0-based) of the
// taken_at index, newest first.
constexpr char kKeepLastBound[] =
    "SELECT taken_at, snapshot_id FROM snapshots WHERE " COFFER_COMMITTED_SNAPSHOT
    " ORDER BY taken_at DESC, snapshot_id DESC LIMIT 1 OFFSET ?1";
constexpr char kDeletePrice[] =
    "DELETE FROM prices WHERE asset_id = ?1 AND quote_currency = ?2 AND price_time = ?3";

#undef COFFER_PRUNED_SNAPSHOT
#undef COFFER_COMMITTED_SNAPSHOT
#undef COFFER_PRUNED_SNAPSHOT_IDS
#undef COFFER_ITEM_REFERENCED
#undef COFFER_PRUNED_PRICE

constexpr int64_t kNoSnapshotId = std::numeric_limits<int64_t>::min();

// A snapshot's place in (taken_at, snapshot_id) order.
struct SnapshotKey {
  int64_t taken_at = 0;
  int64_t snapshot_id = kNoSnapshotId;
};

struct PriceKey {
  std::string asset_id;
  std::string quote_currency;
  int64_t price_time = 0;
};

// The policy's ages in nanoseconds (0: no limit).
struct MaxAges {
  int64_t snapshot = 0;
  int64_t price = 0;
};

absl::StatusOr<MaxAges> ValidatePolicy(const v1::RetentionPolicy& policy) {
  MaxAges ages;
  ASSIGN_OR_RETURN(ages.snapshot,
                   DurationNanos(policy.snapshot_max_age(), "retention.snapshot_max_age"));
  ASSIGN_OR_RETURN(ages.price, DurationNanos(policy.price_max_age(), "retention.price_max_age"));
  if (ages.snapshot == 0 && policy.snapshot_keep_last() == 0 && ages.price == 0) {
    return absl::InvalidArgumentError(
        "retention: at least one of snapshot_max_age, snapshot_keep_last and price_max_age "
        "required");
  }
  return ages;
}

// `now_nanos` minus `age_nanos`, saturated at the earliest representable time.
int64_t Before(int64_t now_nanos, int64_t age_nanos) {
  int64_t cutoff = 0;
  if (__builtin_sub_overflow(now_nanos, age_nanos, &cutoff)) {
    return std::numeric_limits<int64_t>::min();
  }
  return cutoff;
}

// The (taken_at, snapshot_id) of the keep_last-th newest committed snapshot,
// or nullopt when there are no more than keep_last.
absl::StatusOr<std::optional<SnapshotKey>> KeepLastBound(db::WriteContext& tx, uint32_t keep_last) {
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(kKeepLastBound));
  RETURN_IF_ERROR(select->Bind(1, static_cast<int64_t>(keep_last) - 1));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) return std::nullopt;
  return SnapshotKey{select->ColumnInt64(0), select->ColumnInt64(1)};
}

// The bound that prunes every snapshot past either limit, or nullopt when
// none can be: the later of the two bounds, since each prunes everything
// before it.
absl::StatusOr<std::optional<SnapshotKey>> PrunedSnapshotBound(db::WriteContext& tx,
                                                               const v1::RetentionPolicy& policy,
                                                               int64_t max_age_nanos,
                                                               int64_t now_nanos) {
  std::optional<SnapshotKey> bound;
  if (max_age_nanos > 0) bound = SnapshotKey{Before(now_nanos, max_age_nanos), kNoSnapshotId};
  if (policy.snapshot_keep_last() > 0) {
    ASSIGN_OR_RETURN(std::optional<SnapshotKey> keep_last,
                     KeepLastBound(tx, policy.snapshot_keep_last()));
    // By age everything before taken_at goes; by count, at an equal taken_at,
    // also the older ids: the count bound is later only when not earlier.
    if (keep_last.has_value() && (!bound.has_value() || keep_last->taken_at >= bound->taken_at)) {
      bound = keep_last;
    }
  }
  return bound;
}

// Fixes the cutoffs of a prune at `now`; a limit the policy does not set is
// done from the start.
absl::Status StartProgress(db::WriteContext& tx, const v1::RetentionPolicy& policy,
                           const MaxAges& ages, absl::Time now, PruneProgress& progress) {
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(std::optional<SnapshotKey> bound,
                   PrunedSnapshotBound(tx, policy, ages.snapshot, now_nanos));
  progress = PruneProgress();
  progress.started = true;
  progress.snapshots_done = !bound.has_value();
  if (bound.has_value()) {
    progress.snapshot_bound_taken_at = bound->taken_at;
    progress.snapshot_bound_id = bound->snapshot_id;
  }
  progress.prices_done = ages.price == 0;
  if (ages.price > 0) progress.price_cutoff = Before(now_nanos, ages.price);
  return absl::OkStatus();
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

absl::Status CountWholePrune(db::WriteContext& tx, const PruneProgress& progress,
                             v1::PruneResponse* response) {
  if (!progress.snapshots_done) {
    const int64_t taken_at = progress.snapshot_bound_taken_at;
    const int64_t id = progress.snapshot_bound_id;
    ASSIGN_OR_RETURN(uint64_t kept, CountRows(tx, kCountKeptItems, taken_at, id));
    ASSIGN_OR_RETURN(uint64_t items, CountRows(tx, kCountPrunedItems, taken_at, id));
    ASSIGN_OR_RETURN(uint64_t snapshots, CountRows(tx, kCountPrunedSnapshots, taken_at, id));
    response->set_items_kept(response->items_kept() + kept);
    response->set_items_deleted(response->items_deleted() + items);
    response->set_snapshots_deleted(response->snapshots_deleted() + snapshots);
  }
  if (!progress.prices_done) {
    ASSIGN_OR_RETURN(uint64_t prices,
                     CountRows(tx, kCountPrunedPrices, progress.price_cutoff, std::nullopt));
    response->set_prices_deleted(response->prices_deleted() + prices);
  }
  return absl::OkStatus();
}

// Up to `limit` pruned snapshots after the cursor, collected before any is
// touched so no statement steps over rows being deleted.
absl::StatusOr<std::vector<SnapshotKey>> NextPrunedSnapshots(db::WriteContext& tx,
                                                             const PruneProgress& progress,
                                                             int64_t limit) {
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(kNextPrunedSnapshots));
  RETURN_IF_ERROR(select->Bind(1, progress.snapshot_bound_taken_at));
  RETURN_IF_ERROR(select->Bind(2, progress.snapshot_bound_id));
  RETURN_IF_ERROR(select->Bind(3, progress.snapshot_cursor_taken_at));
  RETURN_IF_ERROR(select->Bind(4, progress.snapshot_cursor_id));
  RETURN_IF_ERROR(select->Bind(5, limit));
  std::vector<SnapshotKey> snapshots;
  while (true) {
    ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    snapshots.push_back({select->ColumnInt64(0), select->ColumnInt64(1)});
  }
  return snapshots;
}

// Spends `budget` on the pruned snapshots after the cursor, oldest first. A
// snapshot is finished (kept items counted, cursor moved past it) only once
// its deletable items are all gone, so a snapshot larger than the budget
// spans chunks and its kept items are counted once.
absl::Status PruneSnapshotsChunk(db::WriteContext& tx, PruneProgress& progress, int64_t& budget,
                                 v1::PruneResponse* response) {
  ASSIGN_OR_RETURN(std::vector<SnapshotKey> snapshots, NextPrunedSnapshots(tx, progress, budget));
  for (const SnapshotKey& snapshot : snapshots) {
    ASSIGN_OR_RETURN(uint64_t items,
                     DeleteRows(tx, kDeleteUnreferencedItems, snapshot.snapshot_id, budget));
    response->set_items_deleted(response->items_deleted() + items);
    budget -= static_cast<int64_t>(items);
    // It may have more: the next chunk starts again with it.
    if (budget <= 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(uint64_t kept,
                     CountRows(tx, kCountItemsOf, snapshot.snapshot_id, std::nullopt));
    response->set_items_kept(response->items_kept() + kept);
    if (kept == 0) {
      ASSIGN_OR_RETURN(uint64_t deleted,
                       DeleteRows(tx, kDeleteEmptySnapshot, snapshot.snapshot_id, std::nullopt));
      response->set_snapshots_deleted(response->snapshots_deleted() + deleted);
    }
    --budget;
    progress.snapshot_cursor_taken_at = snapshot.taken_at;
    progress.snapshot_cursor_id = snapshot.snapshot_id;
  }
  // Each snapshot costs at least one: budget left means fewer came than
  // asked for, so none remain.
  if (budget > 0) progress.snapshots_done = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PriceKey>> NextPrunedPrices(db::WriteContext& tx,
                                                       const PruneProgress& progress,
                                                       int64_t limit) {
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(kNextPrunedPrices));
  RETURN_IF_ERROR(select->Bind(1, progress.price_cutoff));
  RETURN_IF_ERROR(select->Bind(2, progress.price_cursor_asset_id));
  RETURN_IF_ERROR(select->Bind(3, progress.price_cursor_quote_currency));
  RETURN_IF_ERROR(select->Bind(4, progress.price_cursor_time));
  RETURN_IF_ERROR(select->Bind(5, limit));
  std::vector<PriceKey> prices;
  while (true) {
    ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    prices.push_back({std::string(select->ColumnText(0)), std::string(select->ColumnText(1)),
                      select->ColumnInt64(2)});
  }
  return prices;
}

absl::Status PrunePricesChunk(db::WriteContext& tx, PruneProgress& progress, int64_t& budget,
                              v1::PruneResponse* response) {
  ASSIGN_OR_RETURN(std::vector<PriceKey> prices, NextPrunedPrices(tx, progress, budget));
  ASSIGN_OR_RETURN(db::CachedStatement remove, tx.Prepare(kDeletePrice));
  for (const PriceKey& price : prices) {
    RETURN_IF_ERROR(remove->Bind(1, price.asset_id));
    RETURN_IF_ERROR(remove->Bind(2, price.quote_currency));
    RETURN_IF_ERROR(remove->Bind(3, price.price_time));
    RETURN_IF_ERROR(remove->Run());
    response->set_prices_deleted(response->prices_deleted() +
                                 static_cast<uint64_t>(tx.connection().Changes()));
    remove->Reset();
  }
  if (!prices.empty()) {
    progress.price_cursor_asset_id = prices.back().asset_id;
    progress.price_cursor_quote_currency = prices.back().quote_currency;
    progress.price_cursor_time = prices.back().price_time;
  }
  const int64_t taken = static_cast<int64_t>(prices.size());
  if (taken < budget) progress.prices_done = true;
  budget -= taken;
  return absl::OkStatus();
}

}  // namespace

absl::Status PruneChunk(db::WriteContext& tx, const v1::PruneRequest& request,
                        const PruneLimits& limits, PruneProgress& progress,
                        v1::PruneResponse* response, absl::Time now) {
  ASSIGN_OR_RETURN(MaxAges ages, ValidatePolicy(request.retention()));
  // An empty fence (set but with every field default) counts as none.
  const v1::Fence& fence = request.fence();
  if (!fence.lease_name().empty() || !fence.holder_id().empty() || fence.epoch() != 0) {
    RETURN_IF_ERROR(CheckFence(tx, fence, now));
  }
  if (request.dry_run()) {
    PruneProgress whole;
    RETURN_IF_ERROR(StartProgress(tx, request.retention(), ages, now, whole));
    RETURN_IF_ERROR(CountWholePrune(tx, whole, response));
    progress = PruneProgress();
    progress.started = progress.snapshots_done = progress.prices_done = true;
    return absl::OkStatus();
  }
  if (!progress.started) {
    RETURN_IF_ERROR(StartProgress(tx, request.retention(), ages, now, progress));
  }
  int64_t budget = std::max<int64_t>(limits.max_deleted_rows, 1);
  if (!progress.snapshots_done)
    RETURN_IF_ERROR(PruneSnapshotsChunk(tx, progress, budget, response));
  if (!progress.prices_done && budget > 0) {
    RETURN_IF_ERROR(PrunePricesChunk(tx, progress, budget, response));
  }
  return absl::OkStatus();
}

}  // namespace coffer::storage
