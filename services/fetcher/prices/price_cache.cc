#include "services/fetcher/prices/price_cache.h"

#include <algorithm>

namespace coffer::fetcher {

PriceCache::PriceCache(absl::Duration ttl, Clock clock, size_t max_entries)
    : ttl_(ttl), clock_(std::move(clock)), max_entries_(std::max<size_t>(1, max_entries)) {}

std::optional<CachedPrice> PriceCache::Lookup(absl::string_view price_id,
                                              absl::string_view quote_currency, bool bypass) const {
  if (bypass) return std::nullopt;
  const absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = entries_.find(Key(price_id, quote_currency));
  if (it == entries_.end() || Expired(it->second, now)) return std::nullopt;
  return it->second;
}

void PriceCache::Store(absl::string_view price_id, absl::string_view quote_currency,
                       CachedPrice price) {
  const absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  Key key(price_id, quote_currency);
  const auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (price.fetched_at < it->second.fetched_at) return;
    it->second = std::move(price);
    return;
  }
  if (entries_.size() >= max_entries_ && EvictExpiredLocked(now) == 0) {
    const auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.fetched_at < b.second.fetched_at; });
    entries_.erase(oldest);
  }
  entries_.emplace(std::move(key), std::move(price));
}

size_t PriceCache::EvictExpired() {
  const absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  return EvictExpiredLocked(now);
}

size_t PriceCache::EvictExpiredLocked(absl::Time now) {
  return absl::erase_if(entries_, [&](const auto& entry) { return Expired(entry.second, now); });
}

size_t PriceCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace coffer::fetcher
