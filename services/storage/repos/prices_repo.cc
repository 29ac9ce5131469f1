#include "services/storage/repos/prices_repo.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#include "common/chain/amount.h"
#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/fence.h"
#include "services/storage/repos/paging.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {
namespace {

constexpr absl::string_view kPriceHistoryTokenKind = "prices-v1";

// Lowercase [a-z0-9]{1,kMaxQuoteCurrencyLength}; the message names `field`.
absl::Status ValidateQuoteCurrency(absl::string_view quote, absl::string_view field) {
  if (quote.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (quote.size() > kMaxQuoteCurrencyLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", quote.size(), " characters, at most ", kMaxQuoteCurrencyLength));
  }
  for (char c : quote) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", Quoted(quote), " is not lowercase letters and digits"));
    }
  }
  return absl::OkStatus();
}

// One price to store, validated and normalized.
struct ValidPrice {
  std::string asset_id;
  int64_t price_time = 0;
};

absl::StatusOr<ValidPrice> ValidatePrice(const v1::Price& price, int index) {
  const std::string field = absl::StrCat("prices[", index, "]");
  ValidPrice valid;
  absl::StatusOr<chain::AssetId> asset = chain::ParseAssetId(price.asset_id());
  if (!asset.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".asset_id: ", asset.status().message()));
  }
  valid.asset_id = asset->ToString();
  RETURN_IF_ERROR(ValidateQuoteCurrency(price.quote_currency(), field + ".quote_currency"));
  if (!price.has_price())
    return absl::InvalidArgumentError(absl::StrCat(field, ".price: required"));
  absl::Status status = chain::ValidateUnits(price.price().units());
  if (status.ok()) status = chain::ValidateDecimals(price.price().decimals());
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".price: ", status.message()));
  }
  if (!price.has_price_time()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".price_time: required"));
  }
  ASSIGN_OR_RETURN(valid.price_time, ToNanos(price.price_time(), field + ".price_time"));
  return valid;
}

// The latest price of (asset_id, quote_currency) into `response`, if any.
absl::Status AddLatest(db::ReadContext& tx, const std::string& asset_id, const std::string& quote,
                       int64_t now_nanos, v1::GetLatestPricesResponse* response) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT price_time, units, decimals, source FROM prices "
                              "WHERE asset_id = ?1 AND quote_currency = ?2 "
                              "ORDER BY price_time DESC LIMIT 1"));
  RETURN_IF_ERROR(select->Bind(1, asset_id));
  RETURN_IF_ERROR(select->Bind(2, quote));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (row) {
    const int64_t price_time = select->ColumnInt64(0);
    v1::LatestPrice* latest = response->add_prices();
    v1::Price* price = latest->mutable_price();
    price->set_asset_id(asset_id);
    price->set_quote_currency(quote);
    price->mutable_price()->set_units(std::string(select->ColumnText(1)));
    price->mutable_price()->set_decimals(static_cast<uint32_t>(select->ColumnInt64(2)));
    *price->mutable_price_time() = ToTimestamp(price_time);
    price->set_source(std::string(select->ColumnText(3)));
    *latest->mutable_age() = ToDuration(now_nanos - price_time);
  }
  select->Reset();
  return absl::OkStatus();
}

// The least stored asset_id greater than `after` (skipping through the
// primary key), or nullopt.
absl::StatusOr<std::optional<std::string>> NextAsset(db::ReadContext& tx,
                                                     const std::optional<std::string>& after) {
  ASSIGN_OR_RETURN(
      db::CachedStatement select,
      tx.Prepare(after.has_value() ? "SELECT asset_id FROM prices WHERE asset_id > ?1 "
                                     "ORDER BY asset_id LIMIT 1"
                                   : "SELECT asset_id FROM prices ORDER BY asset_id LIMIT 1"));
  if (after.has_value()) RETURN_IF_ERROR(select->Bind(1, *after));
  ASSIGN_OR_RETURN(bool row, select->Step());
  std::optional<std::string> next;
  if (row) next = std::string(select->ColumnText(0));
  select->Reset();
  return next;
}

// The quote currencies `asset_id` has stored prices in, sorted.
absl::StatusOr<std::vector<std::string>> QuotesOf(db::ReadContext& tx,
                                                  const std::string& asset_id) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT quote_currency FROM prices WHERE asset_id = ?1 AND "
                              "quote_currency > ?2 ORDER BY quote_currency LIMIT 1"));
  std::vector<std::string> quotes;
  std::string after;
  while (true) {
    RETURN_IF_ERROR(select->Bind(1, asset_id));
    RETURN_IF_ERROR(select->Bind(2, after));
    ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    after = std::string(select->ColumnText(0));
    select->Reset();
    quotes.push_back(after);
  }
  select->Reset();
  return quotes;
}

absl::Status AddLatestOfAsset(db::ReadContext& tx, const std::string& asset_id,
                              const std::string& quote, int64_t now_nanos,
                              v1::GetLatestPricesResponse* response) {
  if (!quote.empty()) return AddLatest(tx, asset_id, quote, now_nanos, response);
  ASSIGN_OR_RETURN(std::vector<std::string> quotes, QuotesOf(tx, asset_id));
  for (const std::string& q : quotes)
    RETURN_IF_ERROR(AddLatest(tx, asset_id, q, now_nanos, response));
  return absl::OkStatus();
}

}  // namespace

absl::Status WritePrices(db::WriteContext& tx, const v1::WritePricesRequest& request,
                         v1::WritePricesResponse* response, absl::Time now) {
  if (request.prices_size() == 0) return absl::InvalidArgumentError("prices: required");
  if (static_cast<size_t>(request.prices_size()) > kMaxWritePrices) {
    return absl::ResourceExhaustedError(
        absl::StrCat("prices: ", request.prices_size(), " prices, at most ", kMaxWritePrices));
  }
  // An empty fence (set but with every field default) counts as none.
  const v1::Fence& fence = request.fence();
  if (!fence.lease_name().empty() || !fence.holder_id().empty() || fence.epoch() != 0) {
    RETURN_IF_ERROR(CheckFence(tx, fence, now));
  }
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(db::CachedStatement insert,
                   tx.Prepare("INSERT OR REPLACE INTO prices (asset_id, quote_currency, "
                              "price_time, units, decimals, source, written_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  uint32_t written = 0;
  for (int i = 0; i < request.prices_size(); ++i) {
    const v1::Price& price = request.prices(i);
    absl::StatusOr<ValidPrice> valid = ValidatePrice(price, i);
    if (!valid.ok()) {
      v1::RejectedPrice* rejected = response->add_rejected();
      rejected->set_index(static_cast<uint32_t>(i));
      rejected->mutable_error()->set_code(v1::Error::INVALID_ARGUMENT);
      rejected->mutable_error()->set_message(std::string(valid.status().message()));
      continue;
    }
    RETURN_IF_ERROR(insert->Bind(1, valid->asset_id));
    RETURN_IF_ERROR(insert->Bind(2, price.quote_currency()));
    RETURN_IF_ERROR(insert->Bind(3, valid->price_time));
    RETURN_IF_ERROR(insert->Bind(4, price.price().units()));
    RETURN_IF_ERROR(insert->Bind(5, static_cast<int64_t>(price.price().decimals())));
    RETURN_IF_ERROR(insert->Bind(6, price.source()));
    RETURN_IF_ERROR(insert->Bind(7, now_nanos));
    RETURN_IF_ERROR(insert->Run());
    insert->Reset();
    ++written;
  }
  response->set_written(written);
  return absl::OkStatus();
}

absl::Status GetLatestPrices(db::ReadContext& tx, const v1::GetLatestPricesRequest& request,
                             v1::GetLatestPricesResponse* response, absl::Time now) {
  if (static_cast<size_t>(request.asset_ids_size()) > kMaxLatestPriceIds) {
    return absl::ResourceExhaustedError(absl::StrCat("asset_ids: ", request.asset_ids_size(),
                                                     " ids, at most ", kMaxLatestPriceIds));
  }
  std::set<std::string> assets;
  for (int i = 0; i < request.asset_ids_size(); ++i) {
    absl::StatusOr<chain::AssetId> asset = chain::ParseAssetId(request.asset_ids(i));
    if (!asset.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("asset_ids[", i, "]: ", asset.status().message()));
    }
    assets.insert(asset->ToString());
  }
  const std::string& quote = request.quote_currency();
  if (!quote.empty()) RETURN_IF_ERROR(ValidateQuoteCurrency(quote, "quote_currency"));
  const int64_t now_nanos = absl::ToUnixNanos(now);
  if (!assets.empty()) {
    for (const std::string& asset_id : assets) {
      RETURN_IF_ERROR(AddLatestOfAsset(tx, asset_id, quote, now_nanos, response));
    }
    return absl::OkStatus();
  }
  std::optional<std::string> asset_id;
  while (true) {
    ASSIGN_OR_RETURN(asset_id, NextAsset(tx, asset_id));
    if (!asset_id.has_value()) break;
    RETURN_IF_ERROR(AddLatestOfAsset(tx, *asset_id, quote, now_nanos, response));
  }
  return absl::OkStatus();
}

absl::Status GetPriceHistory(db::ReadContext& tx, const v1::GetPriceHistoryRequest& request,
                             v1::GetPriceHistoryResponse* response) {
  if (request.asset_id().empty()) return absl::InvalidArgumentError("asset_id: required");
  absl::StatusOr<chain::AssetId> asset = chain::ParseAssetId(request.asset_id());
  if (!asset.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("asset_id: ", asset.status().message()));
  }
  const std::string asset_id = asset->ToString();
  const std::string& quote = request.quote_currency();
  RETURN_IF_ERROR(ValidateQuoteCurrency(quote, "quote_currency"));
  int64_t start = std::numeric_limits<int64_t>::min();
  int64_t end = std::numeric_limits<int64_t>::max();
  std::string start_text = "-";
  std::string end_text = "-";
  if (request.has_start_time()) {
    ASSIGN_OR_RETURN(start, ToNanos(request.start_time(), "start_time"));
    start_text = absl::StrCat(start);
  }
  if (request.has_end_time()) {
    ASSIGN_OR_RETURN(end, ToNanos(request.end_time(), "end_time"));
    end_text = absl::StrCat(end);
  }
  ASSIGN_OR_RETURN(const int32_t page_size, PageSize(request.page(), kDefaultPriceHistoryPageSize,
                                                     kMaxPriceHistoryPageSize));
  const std::string fingerprint =
      absl::StrCat(asset_id, "|", quote, "|", start_text, "|", end_text);
  ASSIGN_OR_RETURN(const std::vector<std::string> cursor,
                   DecodePageToken(request.page().page_token(), kPriceHistoryTokenKind, fingerprint,
                                   1, "GetPriceHistory"));
  if (!cursor.empty()) {
    // price_time is unique per (asset, currency): the next page starts just
    // after the last one's.
    int64_t last = 0;
    if (!absl::SimpleAtoi(cursor[0], &last) || absl::StrCat(last) != cursor[0] ||
        last == std::numeric_limits<int64_t>::max()) {
      return absl::InvalidArgumentError(
          "page.page_token: not a token of GetPriceHistory with these filters");
    }
    start = std::max(start, last + 1);
  }

  response->Clear();
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT price_time, units, decimals, source FROM prices "
                              "WHERE asset_id = ?1 AND quote_currency = ?2 AND price_time >= ?3 "
                              "AND price_time < ?4 ORDER BY price_time LIMIT ?5"));
  RETURN_IF_ERROR(select->Bind(1, asset_id));
  RETURN_IF_ERROR(select->Bind(2, quote));
  RETURN_IF_ERROR(select->Bind(3, start));
  RETURN_IF_ERROR(select->Bind(4, end));
  RETURN_IF_ERROR(select->Bind(5, int64_t{page_size} + 1));
  int64_t last_time = 0;
  ASSIGN_OR_RETURN(
      const bool more, ReadPage(*select, page_size, [&]() -> absl::Status {
        last_time = select->ColumnInt64(0);
        v1::Price* price = response->add_prices();
        price->set_asset_id(asset_id);
        price->set_quote_currency(quote);
        price->mutable_price()->set_units(std::string(select->ColumnText(1)));
        price->mutable_price()->set_decimals(static_cast<uint32_t>(select->ColumnInt64(2)));
        *price->mutable_price_time() = ToTimestamp(last_time);
        price->set_source(std::string(select->ColumnText(3)));
        return absl::OkStatus();
      }));
  if (more) {
    response->mutable_page()->set_next_page_token(
        EncodePageToken(kPriceHistoryTokenKind, fingerprint, {absl::StrCat(last_time)}));
  }
  return absl::OkStatus();
}

}  // namespace coffer::storage
