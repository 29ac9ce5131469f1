// Requests to and answers from a CoinGecko-compatible price API: what the
// price source sends (`GET /simple/price`) and how it reads what comes back.
// No I/O here: paths out, bodies in.
//
//   ASSIGN_OR_RETURN(std::vector<CoinGeckoRequest> requests,
//                    CoinGeckoSimplePriceRequests({"ethereum", "bitcoin"}, "usd", 100));
//   // requests[0].path: "/simple/price?ids=ethereum,bitcoin&vs_currencies=usd&..."
//   // GET <base_url> + path, then per request:
//   ASSIGN_OR_RETURN(auto prices, ParseCoinGeckoSimplePrice(body, requests[0].ids, "usd"));
//   // prices[i]: the price of requests[0].ids[i], or why there is none
//
// Prices are exact: the JSON number text becomes units and decimals
// without a double in between ({"ethereum":{"usd":3012.45}} -> {"301245", 2},
// 1.2e-7 -> {"12", 8}).
//
// Bodies are untrusted. A body that is not a JSON object of objects fails
// as a whole (DATA_LOSS, or the upstream's own error status); within a good
// body each id fails alone: NOT_FOUND when the source has no price for it,
// DATA_LOSS when its entry is malformed. The parser is fuzzed
// (tests/services/fetcher/prices/coingecko_fuzz.cc).
#ifndef COFFER_SERVICES_FETCHER_PRICES_COINGECKO_H_
#define COFFER_SERVICES_FETCHER_PRICES_COINGECKO_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "common/chain/amount.h"

namespace coffer::fetcher {

// Largest /simple/price body accepted: 1,000 ids with a few currencies fit
// in well under this.
inline constexpr size_t kMaxCoinGeckoBodyBytes = size_t{4} << 20;

// Longest price id accepted (CoinGecko's are short slugs).
inline constexpr size_t kMaxPriceIdLength = 200;

// One GET of the prices of `ids`.
struct CoinGeckoRequest {
  // "/simple/price?ids=<ids, URL-encoded, comma-separated>&vs_currencies=<quote>
  // &include_last_updated_at=true", for appending to the source's base URL.
  std::string path;
  // The ids this request asks for, in order: what ParseCoinGeckoSimplePrice
  // is given with its body.
  std::vector<std::string> ids;
};

// Splits `ids` (duplicates dropped, order kept) into requests of at most
// `max_ids_per_request` ids each; none when `ids` is empty.
// INVALID_ARGUMENT when an id is empty or longer than kMaxPriceIdLength,
// `quote_currency` is not [a-z]{2,10}, or max_ids_per_request is 0.
[[nodiscard]] absl::StatusOr<std::vector<CoinGeckoRequest>> CoinGeckoSimplePriceRequests(
    const std::vector<std::string>& ids, absl::string_view quote_currency,
    size_t max_ids_per_request);

struct CoinGeckoPrice {
  // The price of one whole unit in the quote currency, exactly as sent.
  chain::DecimalAmount price;
  // The source's "last_updated_at" (Unix seconds), when it sent one.
  std::optional<absl::Time> last_updated_at;
};

// Reads a /simple/price body, {"<id>": {"<quote>": <number>,
// "last_updated_at": <unix seconds>}, ...}, and answers one entry per id of
// `ids`, in order:
//   - the price, when <id>.<quote> is a non-negative JSON number (any
//     exponent) of at most 255 decimals and 160 digits;
//   - NOT_FOUND when the id is absent, or has no (or a null) <quote>;
//   - DATA_LOSS naming "<id>.<quote>" when the entry is not an object, the
//     value is a string, negative, or otherwise unusable, or
//     last_updated_at is not a plausible Unix time.
// The whole body fails with DATA_LOSS when it is not a JSON object (or holds
// a number beyond a double's range, which RapidJSON refuses; see
// exact_json.h), or with
// the source's own error (RESOURCE_EXHAUSTED for error_code 429,
// UNAVAILABLE otherwise) when it is CoinGecko's error shape
// {"status": {"error_code": ..., "error_message": ...}}.
[[nodiscard]] absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> ParseCoinGeckoSimplePrice(
    absl::string_view body, const std::vector<std::string>& ids, absl::string_view quote_currency);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_PRICES_COINGECKO_H_
