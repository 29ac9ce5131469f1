// Values amounts in a quote currency at stored prices, as storage.proto's
// LatestBalance.value, BalancePoint.value and PortfolioAsset.value say:
// amount x price exactly, rounded toward zero to at most kValueDecimals
// decimals. Prices are read from table `prices` within the caller's read
// (or write) transaction, and a PriceBook looks each one up once however
// many rows share it, so a page of balances costs one index probe per
// distinct asset (per distinct asset and price period for history).
//
//   RETURN_IF_ERROR(ValidateQuoteCurrency(request.quote_currency(), "quote_currency"));
//   ...build the page...
//   if (!request.quote_currency().empty()) {
//     RETURN_IF_ERROR(ValueLatestBalances(tx, request.quote_currency(),
//                                         response->mutable_balances()));
//   }
#ifndef COFFER_SERVICES_STORAGE_REPOS_VALUATION_H_
#define COFFER_SERVICES_STORAGE_REPOS_VALUATION_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <google/protobuf/repeated_field.h>

#include "coffer/v1/common.pb.h"
#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Decimals of a value: "rounded toward zero to at most 18 decimals".
inline constexpr uint32_t kValueDecimals = 18;

// Empty, or lowercase letters and digits, 1 to 16 of them: what WritePrices
// stores, so every stored quote currency can be asked for. INVALID_ARGUMENT
// naming `field` otherwise. Empty passes: "no valuation" to every caller.
[[nodiscard]] absl::Status ValidateQuoteCurrency(absl::string_view quote, absl::string_view field);

// amount x price.price, rounded toward zero to at most kValueDecimals
// decimals. nullopt when the product has more digits than common.proto lets
// a derived value have (kMaxDerivedDigits): such a price cannot be
// answered, so the amount counts as unpriced rather than failing the read.
// INTERNAL when the amount or price is not a valid Amount (stored data is
// validated on write, so this is a broken invariant, named by asset).
[[nodiscard]] absl::StatusOr<std::optional<v1::Amount>> ValueAt(const v1::Amount& amount,
                                                                const v1::Price& price);

// The prices of one quote currency, looked up in `tx` on first use and
// kept for the life of the book (one call's work: prices written later are
// not seen). Not thread-safe; lives on the pool thread of its transaction.
class PriceBook {
 public:
  // `quote_currency` must be non-empty and pass ValidateQuoteCurrency.
  // Works with a db::ReadContext or a db::WriteContext.
  template <typename Context>
  PriceBook(Context& tx, std::string quote_currency)
      : connection_(&tx.connection()), quote_currency_(std::move(quote_currency)) {}

  PriceBook(const PriceBook&) = delete;
  PriceBook& operator=(const PriceBook&) = delete;

  const std::string& quote_currency() const { return quote_currency_; }

  // The latest stored price (greatest price_time) of `asset_id`, or null
  // when none is stored. The pointer stays valid for the life of the book.
  [[nodiscard]] absl::StatusOr<const v1::Price*> Latest(const std::string& asset_id);

  // The latest price stored with price_time <= `at_nanos`, or null. Each
  // lookup learns the period over which its answer holds (from the price's
  // own time to `at_nanos`), so points of one asset between two price
  // changes share one probe, in any order.
  [[nodiscard]] absl::StatusOr<const v1::Price*> AtOrBefore(const std::string& asset_id,
                                                            int64_t at_nanos);

 private:
  // A price known to be the latest at or before every time in [its
  // price_time, known_until]; for "no price", [INT64_MIN, known_until].
  struct Period {
    int64_t known_until = 0;
    std::optional<v1::Price> price;
  };

  // The latest price of `asset_id` (at or before `at_nanos` when given);
  // `price_time` receives its stored time.
  absl::StatusOr<std::optional<v1::Price>> Select(const std::string& asset_id,
                                                  std::optional<int64_t> at_nanos,
                                                  int64_t* price_time);

  db::Connection* connection_;
  std::string quote_currency_;
  std::map<std::string, std::optional<v1::Price>> latest_;
  // Per asset, periods keyed by where they start.
  std::map<std::string, std::map<int64_t, Period>> periods_;
};

// Fills value and price of every balance with an amount whose asset has a
// price in `quote_currency` (non-empty and valid), one lookup per distinct
// asset. Balances without an amount or a price are left as they are.
[[nodiscard]] absl::Status ValueLatestBalances(
    db::ReadContext& tx, const std::string& quote_currency,
    google::protobuf::RepeatedPtrField<v1::LatestBalance>* balances);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_VALUATION_H_
