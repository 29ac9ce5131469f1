// Turns a QueryBalancesRequest into the list of (account, asset) items the
// fetcher must answer, in the order the answer lists them, before anything
// is asked upstream.
//
// What is wrong with the request as a whole (no queries, too many items, a
// query naming the same asset twice, two selectors for one chain, an
// unconfigured chain in `blocks`) fails the call with INVALID_ARGUMENT or
// RESOURCE_EXHAUSTED naming the field; what is wrong with one item (a
// malformed account id, an asset of another chain, an unconfigured chain)
// becomes that item's error and the rest of the batch is answered.
//
//   ASSIGN_OR_RETURN(BalancePlan plan, PlanBalances(request, catalog, 10'000));
//   for (const PlannedItem& item : plan.items) {
//     if (item.error) { ... answer it as is ... } else { ... group by chain ... }
//   }
#ifndef COFFER_SERVICES_FETCHER_BALANCE_PLAN_H_
#define COFFER_SERVICES_FETCHER_BALANCE_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "coffer/v1/common.pb.h"
#include "coffer/v1/fetcher.pb.h"
#include "common/chain/caip.h"

namespace coffer::fetcher {

// What the plan needs to know of a configured chain.
struct ChainAssets {
  v1::ChainKind kind = v1::CHAIN_KIND_UNSPECIFIED;
  // Normalized CAIP-19 ids: the native asset first, then the configured
  // tokens, in configuration order; what a query with no asset_ids means.
  std::vector<std::string> asset_ids;
};

// Configured chains by normalized CAIP-2 id.
using ChainCatalog = std::map<std::string, ChainAssets>;

// One (account, asset) item of the answer.
struct PlannedItem {
  uint32_t query_index = 0;
  // Normalized when valid; as sent otherwise (for the error's result).
  std::string account_id;
  // Normalized when valid; as sent otherwise; empty for a query whose
  // account is invalid and that named no assets.
  std::string asset_id;
  // Set when the item is answered without asking anyone.
  std::optional<v1::Error> error;
  // Set when error is not.
  std::optional<chain::AccountId> account;
  std::optional<chain::AssetId> asset;
};

struct BalancePlan {
  // In answer order: query order, then asset order within a query.
  std::vector<PlannedItem> items;
  // Selectors by normalized chain id (only chains some item reads).
  std::map<std::string, v1::BlockSelector> blocks;
  // Items without an error, by normalized chain id, as indices into items.
  std::map<std::string, std::vector<size_t>> items_by_chain;
};

// Most assets one query may name (fetcher.proto).
inline constexpr size_t kMaxAssetsPerQuery = 100;

[[nodiscard]] absl::StatusOr<BalancePlan> PlanBalances(const v1::QueryBalancesRequest& request,
                                                       const ChainCatalog& catalog,
                                                       size_t max_items);

// A per-item error: `status`'s code and message, the upstream that was
// involved (a configured name, empty when none).
v1::Error ItemError(const absl::Status& status, const std::string& upstream = "");

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_BALANCE_PLAN_H_
