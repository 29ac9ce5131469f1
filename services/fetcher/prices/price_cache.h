// Prices recently fetched, kept for a TTL so that QueryPrices calls in
// quick succession (every portfolio view asks) cost the price API nothing.
//
//   PriceCache cache(absl::Seconds(60));
//   std::optional<CachedPrice> hit = cache.Lookup("ethereum", "usd", request.bypass_cache());
//   if (!hit) {
//     ... fetch ...
//     cache.Store("ethereum", "usd", {.price = p, .price_time = t, .fetched_at = now,
//                                     .source = "coingecko"});
//   }
//
// Keyed by (price id at the source, quote currency): assets of several
// chains that share a price id ("ethereum" for ETH on several rollups) share
// one entry. Only successes are cached; a failed id is asked again next
// time. Thread-safe: lookups come from gRPC handlers, stores from the HTTP
// loop's completions. The clock is injected so tests need no sleeping.
#ifndef COFFER_SERVICES_FETCHER_PRICES_PRICE_CACHE_H_
#define COFFER_SERVICES_FETCHER_PRICES_PRICE_CACHE_H_

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "common/chain/amount.h"

namespace coffer::fetcher {

struct CachedPrice {
  chain::DecimalAmount price;
  // When the source says the price was current (Price.price_time).
  absl::Time price_time;
  // When the fetcher received it (PriceResult.fetched_at of a cached
  // answer); the TTL runs from here.
  absl::Time fetched_at;
  // The price source's configured name (Price.source).
  std::string source;
};

class PriceCache {
 public:
  using Clock = std::function<absl::Time()>;

  // Entries beyond this evict expired ones, then the oldest: quote
  // currencies come from requests, so the key space is not bounded by the
  // configuration alone.
  static constexpr size_t kDefaultMaxEntries = 100'000;

  // `ttl` must be positive (the config validates it).
  explicit PriceCache(absl::Duration ttl, Clock clock = absl::Now,
                      size_t max_entries = kDefaultMaxEntries);

  PriceCache(const PriceCache&) = delete;
  PriceCache& operator=(const PriceCache&) = delete;

  // The price stored for (price_id, quote_currency) if it was fetched less
  // than ttl ago by the clock; nullopt when there is none, it expired, or
  // `bypass` is set (the caller wants a fresh one and will Store it).
  std::optional<CachedPrice> Lookup(absl::string_view price_id, absl::string_view quote_currency,
                                    bool bypass = false) const;

  // Keeps `price` for (price_id, quote_currency), replacing any older
  // entry. A price whose fetched_at is older than the entry's is dropped,
  // so a slow response cannot overwrite a newer one.
  void Store(absl::string_view price_id, absl::string_view quote_currency, CachedPrice price);

  // Drops every expired entry; returns how many.
  size_t EvictExpired();

  size_t size() const;
  absl::Duration ttl() const { return ttl_; }

 private:
  using Key = std::pair<std::string, std::string>;

  bool Expired(const CachedPrice& price, absl::Time now) const {
    return now - price.fetched_at >= ttl_;
  }
  size_t EvictExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration ttl_;
  const Clock clock_;
  const size_t max_entries_;
  mutable std::mutex mu_;
  absl::flat_hash_map<Key, CachedPrice> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_PRICES_PRICE_CACHE_H_
