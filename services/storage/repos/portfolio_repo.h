// The portfolio (Storage.GetPortfolio), as protos/coffer/v1/storage.proto
// documents it: totals per asset over the latest balances of the selected
// registered accounts, valued in a quote currency. The function is the work
// of one db::ConnectionPool Read and runs on the pool's thread:
//
//   pool->Read(
//       [&request, response](db::ReadContext& tx) {
//         return GetPortfolio(tx, request, response);
//       },
//       std::move(done));
#ifndef COFFER_SERVICES_STORAGE_REPOS_PORTFOLIO_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_PORTFOLIO_REPO_H_

#include <cstddef>

#include "absl/status/status.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Most account ids one GetPortfolio filters on.
inline constexpr size_t kMaxPortfolioAccountIds = 1000;

// Sums the latest balances of the registered accounts the filters select
// (chain_id, having every one of tags, among account_ids; AND), per asset.
//
// * Selection: one query over latest_balances joined with accounts, driven
//   by an index (named ids through accounts' key, 64 per run; the first tag
//   through account_tags_by_tag; the chain through accounts_by_chain; else
//   every account); sums are exact (chain::AddAmounts) and made here, not
//   in SQL. Named ids that are not registered select nothing.
// * Per asset: amount is the exact sum of the last known amounts, at the
//   largest decimals among them; accounts counts the (account, asset) rows
//   with a known amount, stale_accounts those of them whose latest reading
//   failed, unknown_accounts the rows never read successfully (not in
//   amount); oldest_as_of the oldest as_of summed.
// * Assets whose summed amount is zero are left out, unless some account's
//   reading of them never succeeded (then the total is not known to be
//   zero). An asset only ever failed is listed with no amount, no value and
//   unknown_accounts set, among the unpriced ones, but not counted in
//   unpriced_assets (nothing is known to be held).
// * With quote_currency: value = amount x the latest stored price (one
//   lookup per asset), rounded toward zero to 18 decimals, with price; a
//   product past 160 digits counts as unpriced. total_value is the exact
//   sum of the values ("0" when none); share is value / total_value as a
//   double in [0, 1], 0 when unpriced or when total_value is zero.
//   Assets ordered by value, largest first (ties by asset_id), then the
//   unpriced by asset_id. Without quote_currency: no value, price, share or
//   total_value, unpriced_assets 0, assets by asset_id.
// * stale_items and unknown_items sum the listed assets' counts; as_of is
//   the latest last_attempt_at among the rows with a known amount (unset
//   when there are none).
// * INVALID_ARGUMENT naming the field: a malformed quote currency, chain id,
//   account id or tag, more than 16 tags. RESOURCE_EXHAUSTED past
//   kMaxPortfolioAccountIds ids.
[[nodiscard]] absl::Status GetPortfolio(db::ReadContext& tx, const v1::GetPortfolioRequest& request,
                                        v1::GetPortfolioResponse* response);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_PORTFOLIO_REPO_H_
