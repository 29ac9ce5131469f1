// What the fetcher needs of its price sources: price a batch of assets in
// one quote currency (from a cache with a TTL unless bypassed), and describe
// the sources for ListUpstreams. Implemented over the HTTP engine by the
// CoinGecko-style source (prices/); tests implement it in memory.
#ifndef COFFER_SERVICES_FETCHER_PRICE_READER_H_
#define COFFER_SERVICES_FETCHER_PRICE_READER_H_

#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/fetcher.pb.h"

namespace coffer::fetcher {

class PriceReader {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<v1::QueryPricesResponse>)>;

  virtual ~PriceReader() = default;

  // One result per asset of a request already validated (ids normalized and
  // unique, a quote currency set), in request order; per-asset errors are
  // results. Returns at once.
  virtual void QueryPrices(const v1::QueryPricesRequest& request, Done done) = 0;

  virtual std::vector<v1::EndpointStatus> Status() const = 0;
  virtual absl::Duration ttl() const = 0;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_PRICE_READER_H_
