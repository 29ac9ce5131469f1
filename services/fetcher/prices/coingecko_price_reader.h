// PriceReader over CoinGecko-compatible sources: assets map to the
// source's ids through the chain configuration (price_id), prices come
// from the TTL cache unless the request bypasses it, and what is missing is
// asked for in as few /simple/price requests as max_ids_per_request allows,
// from the first source that is not cooling down.
#ifndef COFFER_SERVICES_FETCHER_PRICES_COINGECKO_PRICE_READER_H_
#define COFFER_SERVICES_FETCHER_PRICES_COINGECKO_PRICE_READER_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "services/fetcher/chains/endpoint_set.h"
#include "services/fetcher/chains/upstream_transport.h"
#include "services/fetcher/price_reader.h"
#include "services/fetcher/prices/price_cache.h"

namespace coffer::fetcher {

struct CoinGeckoOptions {
  // Normalized CAIP-19 asset id -> the source's id ("ethereum").
  std::map<std::string, std::string> price_ids;
  size_t max_ids_per_request = 250;
  absl::Duration ttl = absl::Seconds(60);
  absl::Duration request_timeout = absl::Seconds(30);
};

class CoinGeckoPriceReader : public PriceReader {
 public:
  // `sources` (the configured price sources in priority order) and
  // `transport` outlive the reader.
  CoinGeckoPriceReader(CoinGeckoOptions options, EndpointSet* sources,
                       UpstreamTransport* transport);

  void QueryPrices(const v1::QueryPricesRequest& request, Done done) override;
  std::vector<v1::EndpointStatus> Status() const override;
  absl::Duration ttl() const override { return options_.ttl; }

 private:
  const CoinGeckoOptions options_;
  EndpointSet* const sources_;
  UpstreamTransport* const transport_;
  PriceCache cache_;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_PRICES_COINGECKO_PRICE_READER_H_
