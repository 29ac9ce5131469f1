#include "services/storage/repos/portfolio_repo.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

#include "common/chain/amount.h"
#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/account_filters.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"
#include "services/storage/repos/valuation.h"

namespace coffer::storage {
namespace {

// Named ids bound into one run of the query; unused slots are bound NULL,
// which matches nothing, so the text never depends on how many were named.
constexpr int kNamedIdsPerRun = 64;
// Parameters by number; only those the query's shape uses are bound.
constexpr int kChainParam = 1;
constexpr int kFirstTagParam = 2;
constexpr int kTagListParam = 3;
constexpr int kTagCountParam = 4;
constexpr int kFirstNamedIdParam = 5;
// Separates tags in the tag list; a valid tag never contains it.
constexpr char kTagSeparator = '\n';

// The request in normal form.
struct PortfolioFilters {
  std::string quote_currency;
  std::string chain_id;                  // empty: every chain
  std::vector<std::string> tags;         // sorted, unique
  std::vector<std::string> account_ids;  // normalized, sorted, unique; empty: all
};

absl::StatusOr<PortfolioFilters> ParseFilters(const v1::GetPortfolioRequest& request) {
  PortfolioFilters filters;
  RETURN_IF_ERROR(ValidateQuoteCurrency(request.quote_currency(), "quote_currency"));
  filters.quote_currency = request.quote_currency();
  ASSIGN_OR_RETURN(filters.chain_id, NormalizeChainFilter(request.chain_id(), "chain_id"));
  ASSIGN_OR_RETURN(filters.tags, NormalizeTags(request.tags(), "tags"));
  if (static_cast<size_t>(request.account_ids_size()) > kMaxPortfolioAccountIds) {
    return absl::ResourceExhaustedError(absl::StrCat("account_ids: ", request.account_ids_size(),
                                                     " ids, at most ", kMaxPortfolioAccountIds));
  }
  std::set<std::string> ids;
  for (int i = 0; i < request.account_ids_size(); ++i) {
    absl::StatusOr<std::string> id = chain::NormalizeAccountId(request.account_ids(i));
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("account_ids[", i, "]: ", id.status().message()));
    }
    ids.insert(*std::move(id));
  }
  filters.account_ids.assign(ids.begin(), ids.end());
  return filters;
}

// Which index drives the query, so that each filter is a search rather
// than a check on every row: the named ids (accounts' key), the first tag
// (account_tags_by_tag), the chain (accounts_by_chain) or every account.
enum class Driver { kNamedIds, kTag, kAccounts };

Driver DriverOf(const PortfolioFilters& filters) {
  if (!filters.account_ids.empty()) return Driver::kNamedIds;
  if (!filters.tags.empty()) return Driver::kTag;
  return Driver::kAccounts;
}

// The query for `filters`' shape; its text depends only on the shape, so
// each is prepared once per connection. Rows come in no particular order:
// they are summed into a map.
std::string PortfolioSql(const PortfolioFilters& filters) {
  const Driver driver = DriverOf(filters);
  std::string sql =
      "SELECT lb.asset_id, lb.units, lb.decimals, lb.as_of, lb.error_code IS NOT NULL, "
      "lb.last_attempt_at FROM ";
  if (driver == Driver::kTag) {
    absl::StrAppend(&sql,
                    "account_tags t0 JOIN accounts a ON a.account_id = t0.account_id "
                    "JOIN latest_balances lb ON lb.account_id = t0.account_id WHERE t0.tag = ?",
                    kFirstTagParam);
  } else {
    absl::StrAppend(&sql,
                    "accounts a JOIN latest_balances lb ON lb.account_id = a.account_id "
                    "WHERE 1");
  }
  if (driver == Driver::kNamedIds) {
    absl::StrAppend(&sql, " AND a.account_id IN (");
    for (int i = 0; i < kNamedIdsPerRun; ++i) {
      absl::StrAppend(&sql, i == 0 ? "?" : ", ?", kFirstNamedIdParam + i);
    }
    absl::StrAppend(&sql, ")");
  }
  if (!filters.chain_id.empty()) absl::StrAppend(&sql, " AND a.chain_id = ?", kChainParam);
  if (!filters.tags.empty()) {
    absl::StrAppend(&sql,
                    " AND (SELECT COUNT(*) FROM account_tags t WHERE t.account_id = a.account_id "
                    "AND instr(?",
                    kTagListParam, ", char(10) || t.tag || char(10)) > 0) = ?", kTagCountParam);
  }
  return sql;
}

absl::Status BindFilters(db::Statement& select, const PortfolioFilters& filters) {
  if (!filters.chain_id.empty()) RETURN_IF_ERROR(select.Bind(kChainParam, filters.chain_id));
  if (!filters.tags.empty()) {
    if (DriverOf(filters) == Driver::kTag) {
      RETURN_IF_ERROR(select.Bind(kFirstTagParam, filters.tags[0]));
    }
    const std::string separator(1, kTagSeparator);
    RETURN_IF_ERROR(select.Bind(
        kTagListParam, absl::StrCat(separator, absl::StrJoin(filters.tags, separator), separator)));
    RETURN_IF_ERROR(select.Bind(kTagCountParam, static_cast<int64_t>(filters.tags.size())));
  }
  return absl::OkStatus();
}

// One asset's rows, summed.
struct AssetTotal {
  std::optional<chain::DecimalAmount> amount;
  uint32_t accounts = 0;
  uint32_t stale_accounts = 0;
  uint32_t unknown_accounts = 0;
  int64_t oldest_as_of = std::numeric_limits<int64_t>::max();
};

struct Totals {
  std::map<std::string, AssetTotal> assets;
  std::optional<int64_t> as_of;
};

// Adds the rows of one run of the query.
absl::Status SumRows(db::Statement& select, Totals& totals) {
  while (true) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    AssetTotal& total = totals.assets[std::string(select.ColumnText(0))];
    if (select.ColumnIsNull(1)) {
      ++total.unknown_accounts;
      continue;
    }
    chain::DecimalAmount amount{std::string(select.ColumnText(1)),
                                static_cast<uint32_t>(select.ColumnInt64(2))};
    if (total.amount.has_value()) {
      absl::StatusOr<chain::DecimalAmount> sum = chain::AddAmounts(*total.amount, amount);
      if (!sum.ok()) {
        return absl::InternalError(
            absl::StrCat("summing ", Quoted(select.ColumnText(0)), ": ", sum.status().message()));
      }
      total.amount = *std::move(sum);
    } else {
      total.amount = std::move(amount);
    }
    ++total.accounts;
    if (select.ColumnInt64(4) != 0) ++total.stale_accounts;
    total.oldest_as_of = std::min(total.oldest_as_of, select.ColumnInt64(3));
    const int64_t attempt = select.ColumnInt64(5);
    if (!totals.as_of.has_value() || attempt > *totals.as_of) totals.as_of = attempt;
  }
  return absl::OkStatus();
}

absl::StatusOr<Totals> ReadTotals(db::ReadContext& tx, const PortfolioFilters& filters) {
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(PortfolioSql(filters)));
  Totals totals;
  if (DriverOf(filters) != Driver::kNamedIds) {
    RETURN_IF_ERROR(BindFilters(*select, filters));
    RETURN_IF_ERROR(SumRows(*select, totals));
    select->Reset();
    return totals;
  }
  for (size_t first = 0; first < filters.account_ids.size(); first += kNamedIdsPerRun) {
    RETURN_IF_ERROR(BindFilters(*select, filters));
    for (int i = 0; i < kNamedIdsPerRun; ++i) {
      const size_t index = first + static_cast<size_t>(i);
      if (index < filters.account_ids.size()) {
        RETURN_IF_ERROR(select->Bind(kFirstNamedIdParam + i, filters.account_ids[index]));
      } else {
        RETURN_IF_ERROR(select->BindNull(kFirstNamedIdParam + i));
      }
    }
    RETURN_IF_ERROR(SumRows(*select, totals));
    select->Reset();
  }
  return totals;
}

v1::Amount ToAmount(const chain::DecimalAmount& amount) {
  v1::Amount out;
  out.set_units(amount.units);
  out.set_decimals(amount.decimals);
  return out;
}

chain::DecimalAmount FromAmount(const v1::Amount& amount) {
  return {amount.units(), amount.decimals()};
}

}  // namespace

absl::Status GetPortfolio(db::ReadContext& tx, const v1::GetPortfolioRequest& request,
                          v1::GetPortfolioResponse* response) {
  ASSIGN_OR_RETURN(const PortfolioFilters filters, ParseFilters(request));
  ASSIGN_OR_RETURN(const Totals totals, ReadTotals(tx, filters));

  response->Clear();
  response->set_quote_currency(filters.quote_currency);
  const bool valued = !filters.quote_currency.empty();
  std::optional<PriceBook> book;
  if (valued) book.emplace(tx, filters.quote_currency);
  chain::DecimalAmount total_value{"0", 0};
  std::vector<v1::PortfolioAsset> priced;
  std::vector<v1::PortfolioAsset> unpriced;  // by asset_id: the map's order
  for (const auto& [asset_id, total] : totals.assets) {
    const bool zero = total.amount.has_value() && total.amount->units == "0";
    if (zero && total.unknown_accounts == 0) continue;
    v1::PortfolioAsset asset;
    asset.set_asset_id(asset_id);
    asset.set_accounts(total.accounts);
    asset.set_stale_accounts(total.stale_accounts);
    asset.set_unknown_accounts(total.unknown_accounts);
    response->set_stale_items(response->stale_items() + total.stale_accounts);
    response->set_unknown_items(response->unknown_items() + total.unknown_accounts);
    if (!total.amount.has_value()) {
      unpriced.push_back(std::move(asset));
      continue;
    }
    *asset.mutable_amount() = ToAmount(*total.amount);
    *asset.mutable_oldest_as_of() = ToTimestamp(total.oldest_as_of);
    if (!valued) {
      unpriced.push_back(std::move(asset));
      continue;
    }
    ASSIGN_OR_RETURN(const v1::Price* price, book->Latest(asset_id));
    std::optional<v1::Amount> value;
    if (price != nullptr) {
      ASSIGN_OR_RETURN(value, ValueAt(asset.amount(), *price));
    }
    if (!value.has_value()) {
      response->set_unpriced_assets(response->unpriced_assets() + 1);
      unpriced.push_back(std::move(asset));
      continue;
    }
    ASSIGN_OR_RETURN(total_value, chain::AddAmounts(total_value, FromAmount(*value)));
    *asset.mutable_value() = *std::move(value);
    *asset.mutable_price() = *price;
    priced.push_back(std::move(asset));
  }

  std::sort(priced.begin(), priced.end(),
            [](const v1::PortfolioAsset& a, const v1::PortfolioAsset& b) {
              const int order = chain::CompareAmounts(FromAmount(a.value()), FromAmount(b.value()));
              return order != 0 ? order > 0 : a.asset_id() < b.asset_id();
            });
  if (valued) {
    for (v1::PortfolioAsset& asset : priced) {
      ASSIGN_OR_RETURN(const double share,
                       chain::AmountRatio(FromAmount(asset.value()), total_value));
      asset.set_share(std::clamp(share, 0.0, 1.0));
    }
    *response->mutable_total_value() = ToAmount(total_value);
  }
  for (v1::PortfolioAsset& asset : priced) *response->add_assets() = std::move(asset);
  for (v1::PortfolioAsset& asset : unpriced) *response->add_assets() = std::move(asset);
  if (totals.as_of.has_value()) *response->mutable_as_of() = ToTimestamp(*totals.as_of);
  return absl::OkStatus();
}

}  // namespace coffer::storage
