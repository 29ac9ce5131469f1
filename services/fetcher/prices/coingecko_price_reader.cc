#include "services/fetcher/prices/coingecko_price_reader.h"

#include <memory>
#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

#include "services/fetcher/balance_plan.h"
#include "services/fetcher/chains/endpoint_status.h"
#include "services/fetcher/chains/upstream_fallback.h"
#include "services/fetcher/prices/coingecko.h"

namespace coffer::fetcher {
namespace {

void FillPrice(const std::string& asset_id, const std::string& quote, const CachedPrice& cached,
               bool from_cache, v1::PriceResult* result) {
  v1::Price* price = result->mutable_price();
  price->set_asset_id(asset_id);
  price->set_quote_currency(quote);
  price->mutable_price()->set_units(cached.price.units);
  price->mutable_price()->set_decimals(cached.price.decimals);
  *price->mutable_price_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(cached.price_time));
  price->set_source(cached.source);
  result->set_cached(from_cache);
  *result->mutable_fetched_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(cached.fetched_at));
}

}  // namespace

CoinGeckoPriceReader::CoinGeckoPriceReader(CoinGeckoOptions options, EndpointSet* sources,
                                           UpstreamTransport* transport)
    : options_(std::move(options)),
      sources_(sources),
      transport_(transport),
      cache_(options_.ttl) {}

void CoinGeckoPriceReader::QueryPrices(const v1::QueryPricesRequest& request, Done done) {
  struct Pending {
    std::mutex mu;
    v1::QueryPricesResponse response;
    // Result slots waiting for each price id.
    std::map<std::string, std::vector<int>> waiting;
    size_t requests_left = 0;
    Done done;
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  const std::string quote = request.quote_currency();
  for (int i = 0; i < request.asset_ids_size(); ++i) {
    const std::string& asset_id = request.asset_ids(i);
    v1::PriceResult* result = pending->response.add_results();
    result->set_asset_id(asset_id);
    auto mapped = options_.price_ids.find(asset_id);
    if (mapped == options_.price_ids.end()) {
      *result->mutable_error() = ItemError(
          absl::NotFoundError(absl::StrCat(asset_id, " has no price_id in the configuration")));
      continue;
    }
    if (std::optional<CachedPrice> cached =
            cache_.Lookup(mapped->second, quote, request.bypass_cache())) {
      FillPrice(asset_id, quote, *cached, /*from_cache=*/true, result);
      continue;
    }
    pending->waiting[mapped->second].push_back(i);
  }
  std::vector<std::string> ids;
  for (const auto& [id, slots] : pending->waiting) ids.push_back(id);
  absl::StatusOr<std::vector<CoinGeckoRequest>> requests =
      CoinGeckoSimplePriceRequests(ids, quote, options_.max_ids_per_request);
  if (!requests.ok() || requests->empty() || sources_->size() == 0) {
    for (const auto& [id, slots] : pending->waiting) {
      for (int slot : slots) {
        *pending->response.mutable_results(slot)->mutable_error() =
            ItemError(requests.ok() ? absl::FailedPreconditionError("no price source is configured")
                                    : requests.status());
      }
    }
    pending->done(std::move(pending->response));
    return;
  }
  pending->requests_left = requests->size();
  for (CoinGeckoRequest& one : *requests) {
    UpstreamRequest upstream;
    upstream.method = "GET";
    upstream.path = one.path;
    upstream.deadline = absl::Now() + options_.request_timeout;
    SendWithFallback(
        *sources_, *transport_, std::move(upstream),
        [this, pending, quote, ids = std::move(one.ids)](absl::StatusOr<UpstreamReply> reply,
                                                         std::string source) {
          absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> prices =
              !reply.ok()
                  ? absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>>(reply.status())
              : reply->http_status != 200
                  ? absl::UnavailableError(absl::StrCat("HTTP ", reply->http_status))
                  : ParseCoinGeckoSimplePrice(reply->body, ids, quote);
          const absl::Time now = absl::Now();
          std::lock_guard<std::mutex> lock(pending->mu);
          for (size_t i = 0; i < ids.size(); ++i) {
            const std::vector<int>& slots = pending->waiting[ids[i]];
            absl::Status error = !prices.ok() ? prices.status() : (*prices)[i].status();
            if (error.ok()) {
              CachedPrice cached{.price = (*prices)[i]->price,
                                 .price_time = (*prices)[i]->last_updated_at.value_or(now),
                                 .fetched_at = now,
                                 .source = source};
              cache_.Store(ids[i], quote, cached);
              for (int slot : slots) {
                v1::PriceResult* result = pending->response.mutable_results(slot);
                FillPrice(result->asset_id(), quote, cached, /*from_cache=*/false, result);
              }
            } else {
              for (int slot : slots) {
                *pending->response.mutable_results(slot)->mutable_error() =
                    ItemError(error, source);
              }
            }
          }
          if (--pending->requests_left == 0) pending->done(std::move(pending->response));
        });
  }
}

std::vector<v1::EndpointStatus> CoinGeckoPriceReader::Status() const {
  return EndpointStatuses(*sources_, *transport_, absl::Now());
}

}  // namespace coffer::fetcher
