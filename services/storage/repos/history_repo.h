// Balance history in the database (Storage.GetBalanceHistory), as
// protos/coffer/v1/storage.proto documents it. The function is the work of
// one db::ConnectionPool Read and runs on the pool's thread:
//
//   pool->Read(
//       [&request, response](db::ReadContext& tx) {
//         return GetBalanceHistory(tx, request, response);
//       },
//       std::move(done));
#ifndef COFFER_SERVICES_STORAGE_REPOS_HISTORY_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_HISTORY_REPO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Points per GetBalanceHistory page: default and maximum.
inline constexpr int32_t kDefaultHistoryPageSize = 100;
inline constexpr int32_t kMaxHistoryPageSize = 10000;

// One page of snapshot items of account_id and/or asset_id (normalized) with
// start_time <= taken_at < end_time, ordered by (taken_at, snapshot_id,
// account_id, asset_id), newest first when asked. A failed item is a point
// with its error and no amount, never zero. Items of open snapshots (written
// in parts, not committed yet) are no history.
//
// * sum_accounts (asset_id without account_id): one point per snapshot with
//   the exact sum of the accounts whose item succeeded (at the largest
//   decimals among them) and failed_accounts counting the others; error
//   (that of the first failed account by account_id) and no amount only when
//   every item failed. Paged by snapshot.
// * Reads go through account_history and the pending snapshots
//   (account_history.h; account given; an asset_id is checked on the
//   account's rows in passing) or
//   snapshot_items_by_asset_time (asset only), a range on taken_at starting
//   at the page token's position, and keyset paging. With an account the
//   index is in the query's order, so a page reads about as far as the page
//   goes (times the account's assets when one asset is asked for); with an
//   asset alone only the items of one taken_at are sorted.
// * INVALID_ARGUMENT naming the field: neither id, a malformed id, a time
//   out of range, sum_accounts with account_id or without asset_id, a
//   malformed quote_currency, a negative page size, a page token not given
//   for the same request fields.
// * quote_currency: each point with an amount (a sum_accounts total
//   included) gets value = amount x the latest price of its asset in that
//   currency stored at or before the point's taken_at (what the holding was
//   worth when read), rounded toward zero to 18 decimals; no such price, no
//   value. One price lookup per asset and price period in the page, not per
//   point.
[[nodiscard]] absl::Status GetBalanceHistory(db::ReadContext& tx,
                                             const v1::GetBalanceHistoryRequest& request,
                                             v1::GetBalanceHistoryResponse* response);

// The EXPLAIN QUERY PLAN detail lines of the query GetBalanceHistory runs for
// `request` (its filters, and whether its page token carries a cursor):
// what tests check to keep every filter shape indexed and unsorted.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ExplainBalanceHistory(
    db::ReadContext& tx, const v1::GetBalanceHistoryRequest& request);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_HISTORY_REPO_H_
