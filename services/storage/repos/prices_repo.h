// Prices in the database (Storage.WritePrices, GetLatestPrices,
// GetPriceHistory), as
// protos/coffer/v1/storage.proto documents them. Each function is the work of
// one db::ConnectionPool Write or Read and runs on the pool's thread:
//
//   pool->Write(
//       [&request, response](db::WriteContext& tx) {
//         return WritePrices(tx, request, response, absl::Now());
//       },
//       std::move(done));
//
// A returned error undoes everything the call wrote (the pool rolls its
// savepoint back); the response is then meaningless.
#ifndef COFFER_SERVICES_STORAGE_REPOS_PRICES_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_PRICES_REPO_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Most prices one WritePrices takes.
inline constexpr size_t kMaxWritePrices = 10000;
// Most asset ids one GetLatestPrices filters on.
inline constexpr size_t kMaxLatestPriceIds = 1000;
// Longest quote currency code: [a-z0-9]{1,16}.
inline constexpr size_t kMaxQuoteCurrencyLength = 16;
// GetPriceHistory pages: default and most prices per page.
inline constexpr int32_t kDefaultPriceHistoryPageSize = 100;
inline constexpr int32_t kMaxPriceHistoryPageSize = 10000;

// Stores prices in the caller's transaction; `now` is storage's clock
// (written_at, lease expiry).
//
// * Whole-call errors: no prices (INVALID_ARGUMENT "prices: required"), more
//   than kMaxWritePrices (RESOURCE_EXHAUSTED naming the limit), a bad fence
//   (as WriteSnapshot: INVALID_ARGUMENT for a partly set fence,
//   FAILED_PRECONDITION for a lease not held by it; unset or all-default:
//   unchecked).
// * Per item: a price with a malformed asset_id (CAIP-19), quote_currency
//   (lowercase [a-z0-9]{1,16}), price (units digits only, at most 160;
//   decimals 0 to 255) or a missing or out-of-range price_time is not stored
//   and is listed in `rejected` (request order) with an INVALID_ARGUMENT
//   Error naming the field ("prices[3].quote_currency: required").
// * The rest is stored with the asset id normalized; a price with the same
//   (asset_id, quote_currency, price_time) as a stored one, or as an earlier
//   one in the same request, replaces it. `written` counts the prices
//   stored, replacements included.
[[nodiscard]] absl::Status WritePrices(db::WriteContext& tx, const v1::WritePricesRequest& request,
                                       v1::WritePricesResponse* response, absl::Time now);

// The latest stored price (greatest price_time) of each asset in each quote
// currency, ordered by asset_id then quote_currency, filtered by the
// request's asset_ids (normalized, duplicates counted once) and
// quote_currency; assets without a stored price are absent. `age` is `now`
// minus price_time (negative for a price_time in the future).
// INVALID_ARGUMENT naming the field for a malformed asset id or quote
// currency; RESOURCE_EXHAUSTED past kMaxLatestPriceIds ids. Reads one index
// probe per (asset, quote currency), never the whole price history.
[[nodiscard]] absl::Status GetLatestPrices(db::ReadContext& tx,
                                           const v1::GetLatestPricesRequest& request,
                                           v1::GetLatestPricesResponse* response, absl::Time now);

// One page of the prices of asset_id in quote_currency whose price_time lies
// in [start_time, end_time) (an unset bound is open), oldest first, read
// along the prices key. asset_id (CAIP-19, normalized before the lookup) and
// quote_currency (lowercase [a-z0-9]{1,16}) are required and validated as
// WritePrices validates them: INVALID_ARGUMENT naming the field, as for an
// out-of-range time, a negative page size or a page token not given for the
// same asset, currency and range.
[[nodiscard]] absl::Status GetPriceHistory(db::ReadContext& tx,
                                           const v1::GetPriceHistoryRequest& request,
                                           v1::GetPriceHistoryResponse* response);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_PRICES_REPO_H_
