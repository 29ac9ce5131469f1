// coffer.v1.Fetcher on the async framework. Handlers validate and plan on
// the polling thread (cheap, bounded by the request's size) and hand the
// upstream work to the chain readers and the price reader, which answer
// from the HTTP loop's thread: no handler waits for an upstream.
#ifndef COFFER_SERVICES_FETCHER_FETCHER_SERVICE_H_
#define COFFER_SERVICES_FETCHER_FETCHER_SERVICE_H_

#include <cstddef>
#include <vector>

#include "coffer/v1/fetcher.grpc.pb.h"
#include "common/grpc/async_server.h"
#include "services/fetcher/balance_fetch.h"
#include "services/fetcher/balance_plan.h"
#include "services/fetcher/price_reader.h"

namespace coffer::fetcher {

// The most price ids one QueryPrices may name (fetcher.proto).
inline constexpr int kMaxPriceAssets = 1000;
// The most selectors one ResolveBlocks may hold (fetcher.proto).
inline constexpr int kMaxBlockSelectors = 100;

class FetcherService {
 public:
  struct Options {
    // Configured chains, in configuration order, with their readers (which
    // outlive the service).
    std::vector<std::string> chain_order;
    ChainCatalog catalog;
    ChainReaders readers;
    // Null: QueryPrices answers FAILED_PRECONDITION (no price source).
    PriceReader* prices = nullptr;
    size_t max_batch_items = 10'000;
  };

  explicit FetcherService(Options options) : options_(std::move(options)) {}

  // Before server.Start().
  void Register(grpc_util::AsyncServer& server);

  void HandleQueryBalances(grpc_util::CallContext& context, const v1::QueryBalancesRequest& request,
                           v1::QueryBalancesResponse* reply, grpc_util::Done done);
  void HandleStreamBalances(grpc_util::CallContext& context,
                            const v1::QueryBalancesRequest& request,
                            grpc_util::ServerWriter<v1::StreamBalancesResponse> writer);
  void HandleQueryPrices(grpc_util::CallContext& context, const v1::QueryPricesRequest& request,
                         v1::QueryPricesResponse* reply, grpc_util::Done done);
  void HandleResolveBlocks(grpc_util::CallContext& context, const v1::ResolveBlocksRequest& request,
                           v1::ResolveBlocksResponse* reply, grpc_util::Done done);
  void HandleListUpstreams(grpc_util::CallContext& context, const v1::ListUpstreamsRequest& request,
                           v1::ListUpstreamsResponse* reply, grpc_util::Done done);

 private:
  const Options options_;
  v1::Fetcher::AsyncService async_api_;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_FETCHER_SERVICE_H_
