#include "services/fetcher/balance_plan.h"

#include <set>
#include <utility>

#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"

#include "common/status/status_macros.h"

namespace coffer::fetcher {
namespace {

std::string Field(int query, absl::string_view rest) {
  return absl::StrCat("queries[", query, "]", rest);
}

absl::Status Prefixed(const absl::Status& status, absl::string_view field) {
  return absl::Status(status.code(), absl::StrCat(field, ": ", status.message()));
}

// Parses the request's block selectors: at most one per chain, every chain
// configured, Bitcoin only at its tip.
absl::StatusOr<std::map<std::string, v1::BlockSelector>> ParseSelectors(
    const v1::QueryBalancesRequest& request, const ChainCatalog& catalog) {
  std::map<std::string, v1::BlockSelector> selectors;
  for (int i = 0; i < request.blocks_size(); ++i) {
    const std::string field = absl::StrCat("blocks[", i, "].chain_id");
    absl::StatusOr<chain::ChainId> chain = chain::ParseChainId(request.blocks(i).chain_id());
    if (!chain.ok()) return Prefixed(chain.status(), field);
    const std::string id = chain->ToString();
    auto configured = catalog.find(id);
    if (configured == catalog.end()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": chain ", id, " is not configured"));
    }
    v1::BlockSelector selector = request.blocks(i);
    selector.set_chain_id(id);
    if (configured->second.kind == v1::CHAIN_KIND_BITCOIN &&
        selector.block_case() == v1::BlockSelector::kTag &&
        selector.tag() != v1::BLOCK_TAG_LATEST && selector.tag() != v1::BLOCK_TAG_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "blocks[", i, "].tag: Bitcoin chains are read at their tip (BLOCK_TAG_LATEST) only"));
    }
    if (!selectors.emplace(id, std::move(selector)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": a second selector for chain ", id, " (at most one per chain)"));
    }
  }
  return selectors;
}

// Asset ids as one request names them, parsed once each: a thousand
// queries of one token cost one parse (and one EIP-55 checksum) rather
// than a thousand. Bounded by the request's own size.
class AssetIds {
 public:
  struct Parsed {
    absl::StatusOr<chain::AssetId> id;
    // The normal form when `id` is OK, else the text as sent.
    std::string normal;
  };

  const Parsed& Parse(const std::string& text) {
    auto found = parsed_.find(text);
    if (found != parsed_.end()) return found->second;
    Parsed parsed{.id = chain::ParseAssetId(text), .normal = text};
    if (parsed.id.ok()) parsed.normal = parsed.id->ToString();
    return parsed_.emplace(text, std::move(parsed)).first->second;
  }

 private:
  // Node-based: Parse hands out references that later inserts keep valid.
  absl::node_hash_map<std::string, Parsed> parsed_;
};

void AddError(BalancePlan& plan, uint32_t query, std::string account_id, std::string asset_id,
              const absl::Status& status) {
  PlannedItem item;
  item.query_index = query;
  item.account_id = std::move(account_id);
  item.asset_id = std::move(asset_id);
  item.error = ItemError(status);
  plan.items.push_back(std::move(item));
}

}  // namespace

v1::Error ItemError(const absl::Status& status, const std::string& upstream) {
  v1::Error error;
  // absl and coffer.v1.Error share gRPC's numbering; OK has no Error.
  error.set_code(status.ok() ? v1::Error::INTERNAL : static_cast<v1::Error::Code>(status.code()));
  error.set_message(status.ok() ? "an error with no cause (a bug)" : std::string(status.message()));
  error.set_upstream(upstream);
  return error;
}

absl::StatusOr<BalancePlan> PlanBalances(const v1::QueryBalancesRequest& request,
                                         const ChainCatalog& catalog, size_t max_items) {
  if (request.queries().empty()) {
    return absl::InvalidArgumentError("queries: at least one query is required");
  }
  if (static_cast<size_t>(request.queries_size()) > max_items) {
    return absl::ResourceExhaustedError(absl::StrCat("queries: ", request.queries_size(),
                                                     " queries, more than the limit of ", max_items,
                                                     " per request"));
  }
  using Selectors = std::map<std::string, v1::BlockSelector>;
  ASSIGN_OR_RETURN(Selectors selectors, ParseSelectors(request, catalog));

  BalancePlan plan;
  plan.items.reserve(static_cast<size_t>(request.queries_size()));
  AssetIds assets;
  for (int q = 0; q < request.queries_size(); ++q) {
    const v1::BalanceQuery& query = request.queries(q);
    const uint32_t query_index = static_cast<uint32_t>(q);
    if (static_cast<size_t>(query.asset_ids_size()) > kMaxAssetsPerQuery) {
      return absl::InvalidArgumentError(absl::StrCat(Field(q, ".asset_ids"), ": ",
                                                     query.asset_ids_size(), " assets, more than ",
                                                     kMaxAssetsPerQuery));
    }
    // Duplicates are judged on normal forms, so one asset spelled in two
    // cases is still one asset.
    if (query.asset_ids_size() > 1) {
      std::set<std::string> seen;
      for (int a = 0; a < query.asset_ids_size(); ++a) {
        const std::string& key = assets.Parse(query.asset_ids(a)).normal;
        if (!seen.insert(key).second) {
          return absl::InvalidArgumentError(absl::StrCat(
              Field(q, absl::StrCat(".asset_ids[", a, "]")), ": ", key, " is named twice"));
        }
      }
    }

    absl::StatusOr<chain::AccountId> account = chain::ParseAccountId(query.account_id());
    if (!account.ok()) {
      const absl::Status error = Prefixed(account.status(), Field(q, ".account_id"));
      if (query.asset_ids().empty()) {
        AddError(plan, query_index, query.account_id(), "", error);
      }
      for (const std::string& asset_id : query.asset_ids()) {
        AddError(plan, query_index, query.account_id(), assets.Parse(asset_id).normal, error);
      }
      continue;
    }
    const std::string chain_id = account->chain.ToString();
    std::string account_id = account->ToString();
    auto configured = catalog.find(chain_id);

    // The assets named, or for a query naming none the chain's.
    std::vector<const std::string*> asset_texts;
    if (query.asset_ids().empty()) {
      if (configured == catalog.end()) {
        AddError(plan, query_index, account_id, "",
                 absl::NotFoundError(absl::StrCat(Field(q, ".account_id"), ": chain ", chain_id,
                                                  " is not configured")));
        continue;
      }
      for (const std::string& text : configured->second.asset_ids) asset_texts.push_back(&text);
    } else {
      for (const std::string& text : query.asset_ids()) asset_texts.push_back(&text);
    }
    // Only for error messages: built when one is.
    auto field = [&query, q](size_t a) {
      return query.asset_ids().empty() ? Field(q, ".account_id")
                                       : Field(q, absl::StrCat(".asset_ids[", a, "]"));
    };
    for (size_t a = 0; a < asset_texts.size(); ++a) {
      const AssetIds::Parsed& asset = assets.Parse(*asset_texts[a]);
      if (!asset.id.ok()) {
        AddError(plan, query_index, account_id, asset.normal,
                 Prefixed(asset.id.status(), field(a)));
        continue;
      }
      const std::string& asset_id = asset.normal;
      if (asset.id->chain != account->chain) {
        AddError(plan, query_index, account_id, asset_id,
                 absl::InvalidArgumentError(absl::StrCat(
                     field(a), ": asset ", asset_id, " is not on the account's chain ", chain_id)));
        continue;
      }
      if (configured == catalog.end()) {
        AddError(plan, query_index, account_id, asset_id,
                 absl::NotFoundError(
                     absl::StrCat(field(a), ": chain ", chain_id, " is not configured")));
        continue;
      }
      PlannedItem item;
      item.query_index = query_index;
      item.asset_id = asset_id;
      item.asset = *asset.id;
      if (a + 1 == asset_texts.size()) {
        // The query's last item takes the account rather than a copy.
        item.account_id = std::move(account_id);
        item.account = *std::move(account);
      } else {
        item.account_id = account_id;
        item.account = *account;
      }
      plan.items_by_chain[chain_id].push_back(plan.items.size());
      plan.items.push_back(std::move(item));
    }
    if (plan.items.size() > max_items) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "queries: more than the limit of ", max_items,
          " (account, asset) items per request once queries without asset_ids are expanded"));
    }
  }
  for (const auto& [chain_id, indices] : plan.items_by_chain) {
    auto selector = selectors.find(chain_id);
    if (selector != selectors.end()) plan.blocks.emplace(chain_id, selector->second);
  }
  return plan;
}

}  // namespace coffer::fetcher
