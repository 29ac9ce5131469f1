// Fuzz target for the CoinGecko /simple/price parser: any bytes must give
// per-id results or a whole-body error, never a crash, a sanitizer report
// or an exception. Built with tests/fuzz's driver (or libFuzzer).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "common/chain/amount.h"
#include "services/fetcher/prices/coingecko.h"
#include "services/fetcher/prices/exact_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::string> kIds = {"ethereum", "bitcoin", "usd-coin", "a"};
  auto prices = coffer::fetcher::ParseCoinGeckoSimplePrice(body, kIds, "usd");
  if (prices.ok()) {
    if (prices->size() != kIds.size()) std::abort();
    for (const auto& price : *prices) {
      // Every price that parsed is a valid exact amount.
      if (price.ok() && (!coffer::chain::ValidateUnits(price->price.units).ok() ||
                         !coffer::chain::ValidateDecimals(price->price.decimals).ok())) {
        std::abort();
      }
    }
  }
  // The number converter on raw text too, as it sees every price.
  auto amount = coffer::fetcher::DecimalFromJsonNumber(body.substr(0, 400));
  if (amount.ok() && !coffer::chain::ValidateUnits(amount->units).ok()) std::abort();
  return 0;
}
