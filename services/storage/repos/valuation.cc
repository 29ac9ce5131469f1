#include "services/storage/repos/valuation.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

#include "common/chain/amount.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {
namespace {

// As prices_repo's rule for what it stores.
constexpr size_t kMaxQuoteLength = 16;

}  // namespace

absl::Status ValidateQuoteCurrency(absl::string_view quote, absl::string_view field) {
  if (quote.size() > kMaxQuoteLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", quote.size(), " characters, at most ", kMaxQuoteLength));
  }
  for (char c : quote) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", Quoted(quote), " is not lowercase letters and digits"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::Amount>> ValueAt(const v1::Amount& amount,
                                                  const v1::Price& price) {
  absl::StatusOr<chain::DecimalAmount> value =
      chain::MultiplyAmounts({amount.units(), amount.decimals()},
                             {price.price().units(), price.price().decimals()}, kValueDecimals);
  if (value.status().code() == absl::StatusCode::kOutOfRange) return std::nullopt;
  if (!value.ok()) {
    return absl::InternalError(absl::StrCat("valuing ", Quoted(price.asset_id()), " in ",
                                            Quoted(price.quote_currency()), ": ",
                                            value.status().message()));
  }
  if (value->units.size() > chain::kMaxDerivedDigits) return std::nullopt;
  v1::Amount out;
  out.set_units(std::move(value->units));
  out.set_decimals(value->decimals);
  return out;
}

absl::StatusOr<std::optional<v1::Price>> PriceBook::Select(const std::string& asset_id,
                                                           std::optional<int64_t> at_nanos,
                                                           int64_t* price_time) {
  // Both read the (asset_id, quote_currency, price_time) key backwards: one
  // index probe each.
  ASSIGN_OR_RETURN(
      db::CachedStatement select,
      connection_->Prepare(at_nanos.has_value()
                               ? "SELECT price_time, units, decimals, source FROM prices "
                                 "WHERE asset_id = ?1 AND quote_currency = ?2 AND price_time <= ?3 "
                                 "ORDER BY price_time DESC LIMIT 1"
                               : "SELECT price_time, units, decimals, source FROM prices "
                                 "WHERE asset_id = ?1 AND quote_currency = ?2 "
                                 "ORDER BY price_time DESC LIMIT 1"));
  RETURN_IF_ERROR(select->Bind(1, asset_id));
  RETURN_IF_ERROR(select->Bind(2, quote_currency_));
  if (at_nanos.has_value()) RETURN_IF_ERROR(select->Bind(3, *at_nanos));
  ASSIGN_OR_RETURN(bool row, select->Step());
  std::optional<v1::Price> price;
  if (row) {
    price.emplace();
    *price_time = select->ColumnInt64(0);
    price->set_asset_id(asset_id);
    price->set_quote_currency(quote_currency_);
    *price->mutable_price_time() = ToTimestamp(select->ColumnInt64(0));
    price->mutable_price()->set_units(std::string(select->ColumnText(1)));
    price->mutable_price()->set_decimals(static_cast<uint32_t>(select->ColumnInt64(2)));
    price->set_source(std::string(select->ColumnText(3)));
  }
  select->Reset();
  return price;
}

absl::StatusOr<const v1::Price*> PriceBook::Latest(const std::string& asset_id) {
  auto it = latest_.find(asset_id);
  if (it == latest_.end()) {
    int64_t price_time = 0;
    ASSIGN_OR_RETURN(std::optional<v1::Price> price, Select(asset_id, std::nullopt, &price_time));
    it = latest_.emplace(asset_id, std::move(price)).first;
  }
  return it->second.has_value() ? &*it->second : nullptr;
}

absl::StatusOr<const v1::Price*> PriceBook::AtOrBefore(const std::string& asset_id,
                                                       int64_t at_nanos) {
  std::map<int64_t, Period>& periods = periods_[asset_id];
  auto it = periods.upper_bound(at_nanos);
  if (it != periods.begin()) {
    --it;
    if (at_nanos <= it->second.known_until) {
      return it->second.price.has_value() ? &*it->second.price : nullptr;
    }
  }
  int64_t price_time = 0;
  ASSIGN_OR_RETURN(std::optional<v1::Price> price, Select(asset_id, at_nanos, &price_time));
  // Periods with different starts never overlap: two lookups answering
  // different prices each prove no price lies between the earlier one's
  // start and its time, so the later price starts after it.
  const int64_t start = price.has_value() ? price_time : std::numeric_limits<int64_t>::min();
  auto [period, inserted] = periods.try_emplace(start);
  if (inserted) {
    period->second.price = std::move(price);
    period->second.known_until = at_nanos;
  } else {
    period->second.known_until = std::max(period->second.known_until, at_nanos);
  }
  return period->second.price.has_value() ? &*period->second.price : nullptr;
}

absl::Status ValueLatestBalances(db::ReadContext& tx, const std::string& quote_currency,
                                 google::protobuf::RepeatedPtrField<v1::LatestBalance>* balances) {
  PriceBook book(tx, quote_currency);
  for (v1::LatestBalance& balance : *balances) {
    if (!balance.has_amount()) continue;
    ASSIGN_OR_RETURN(const v1::Price* price, book.Latest(balance.asset_id()));
    if (price == nullptr) continue;
    ASSIGN_OR_RETURN(std::optional<v1::Amount> value, ValueAt(balance.amount(), *price));
    if (!value.has_value()) continue;
    *balance.mutable_value() = *std::move(value);
    *balance.mutable_price() = *price;
  }
  return absl::OkStatus();
}

}  // namespace coffer::storage
