#include "services/fetcher/fetcher_service.h"

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "common/chain/caip.h"
#include "common/config/proto_duration.h"
#include "services/fetcher/config/fetcher_config_defaults.h"

namespace coffer::fetcher {
namespace {

// [a-z]{2,10}, as common.proto spells quote currencies.
bool IsQuoteCurrency(const std::string& code) {
  if (code.size() < 2 || code.size() > 10) return false;
  for (char c : code) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

// Validates and normalizes a QueryPrices request: asset ids in their normal
// form and unique, a quote currency.
absl::StatusOr<v1::QueryPricesRequest> NormalizePrices(const v1::QueryPricesRequest& request) {
  if (request.asset_ids().empty()) {
    return absl::InvalidArgumentError("asset_ids: at least one asset is required");
  }
  if (request.asset_ids_size() > kMaxPriceAssets) {
    return absl::ResourceExhaustedError(absl::StrCat("asset_ids: ", request.asset_ids_size(),
                                                     " assets, more than the limit of ",
                                                     kMaxPriceAssets, " per request"));
  }
  if (!IsQuoteCurrency(request.quote_currency())) {
    return absl::InvalidArgumentError(
        request.quote_currency().empty()
            ? std::string("quote_currency: required (\"usd\")")
            : absl::StrCat("quote_currency: must be 2 to 10 lowercase letters (\"usd\")"));
  }
  v1::QueryPricesRequest normal = request;
  std::set<std::string> seen;
  for (int i = 0; i < request.asset_ids_size(); ++i) {
    absl::StatusOr<std::string> id = chain::NormalizeAssetId(request.asset_ids(i));
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("asset_ids[", i, "]: ", id.status().message()));
    }
    if (!seen.insert(*id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("asset_ids[", i, "]: ", *id, " is named twice"));
    }
    normal.set_asset_ids(i, *id);
  }
  return normal;
}

}  // namespace

void FetcherService::Register(grpc_util::AsyncServer& server) {
  server.RegisterService(&async_api_);
  COFFER_GRPC_UNARY(server, async_api_, v1::Fetcher, QueryBalances, this);
  COFFER_GRPC_SERVER_STREAMING(server, async_api_, v1::Fetcher, StreamBalances, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Fetcher, QueryPrices, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Fetcher, ResolveBlocks, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Fetcher, ListUpstreams, this);
}

void FetcherService::HandleQueryBalances(grpc_util::CallContext& context,
                                         const v1::QueryBalancesRequest& request,
                                         v1::QueryBalancesResponse* reply, grpc_util::Done done) {
  absl::StatusOr<BalancePlan> plan =
      PlanBalances(request, options_.catalog, options_.max_batch_items);
  if (!plan.ok()) {
    done(plan.status());
    return;
  }
  auto call = std::make_shared<BalanceCall>(
      *std::move(plan),
      BalanceCall::Sink{.on_done = [reply, done = std::move(done)](
                                       absl::StatusOr<v1::QueryBalancesResponse> response) mutable {
        if (response.ok()) *reply = *std::move(response);
        done(response.status());
      }});
  call->set_deadline(context.deadline());
  context.OnCancel([call] { call->Cancel(); });
  call->Start();
  FetchBalances(call, options_.readers, request.bypass_cache());
}

void FetcherService::HandleStreamBalances(
    grpc_util::CallContext& context, const v1::QueryBalancesRequest& request,
    grpc_util::ServerWriter<v1::StreamBalancesResponse> writer) {
  absl::StatusOr<BalancePlan> plan =
      PlanBalances(request, options_.catalog, options_.max_batch_items);
  if (!plan.ok()) {
    writer.Finish(plan.status());
    return;
  }
  auto shared_writer =
      std::make_shared<grpc_util::ServerWriter<v1::StreamBalancesResponse>>(std::move(writer));
  auto call = std::make_shared<BalanceCall>(
      *std::move(plan),
      BalanceCall::Sink{
          .on_message =
              [shared_writer](v1::StreamBalancesResponse message) {
                return shared_writer->Write(std::move(message));
              },
          .on_done =
              [shared_writer](absl::StatusOr<v1::QueryBalancesResponse> response) {
                shared_writer->Finish(response.status());
              },
      });
  call->set_deadline(context.deadline());
  context.OnCancel([call] { call->Cancel(); });
  call->Start();
  FetchBalances(call, options_.readers, request.bypass_cache());
}

void FetcherService::HandleQueryPrices(grpc_util::CallContext& /*context*/,
                                       const v1::QueryPricesRequest& request,
                                       v1::QueryPricesResponse* reply, grpc_util::Done done) {
  absl::StatusOr<v1::QueryPricesRequest> normal = NormalizePrices(request);
  if (!normal.ok()) {
    done(normal.status());
    return;
  }
  if (options_.prices == nullptr) {
    done(absl::FailedPreconditionError("no price source is configured"));
    return;
  }
  options_.prices->QueryPrices(
      *normal,
      [reply, done = std::move(done)](absl::StatusOr<v1::QueryPricesResponse> response) mutable {
        if (response.ok()) *reply = *std::move(response);
        done(response.status());
      });
}

void FetcherService::HandleResolveBlocks(grpc_util::CallContext& /*context*/,
                                         const v1::ResolveBlocksRequest& request,
                                         v1::ResolveBlocksResponse* reply, grpc_util::Done done) {
  if (request.blocks_size() > kMaxBlockSelectors) {
    done(absl::ResourceExhaustedError(absl::StrCat("blocks: ", request.blocks_size(),
                                                   " selectors, more than the limit of ",
                                                   kMaxBlockSelectors)));
    return;
  }
  std::vector<v1::BlockSelector> selectors;
  std::set<std::string> seen;
  if (request.blocks().empty()) {
    for (const std::string& chain_id : options_.chain_order) {
      selectors.emplace_back().set_chain_id(chain_id);
    }
  }
  for (int i = 0; i < request.blocks_size(); ++i) {
    absl::StatusOr<chain::ChainId> chain = chain::ParseChainId(request.blocks(i).chain_id());
    if (!chain.ok()) {
      done(absl::InvalidArgumentError(
          absl::StrCat("blocks[", i, "].chain_id: ", chain.status().message())));
      return;
    }
    v1::BlockSelector selector = request.blocks(i);
    selector.set_chain_id(chain->ToString());
    if (!seen.insert(selector.chain_id()).second) {
      done(absl::InvalidArgumentError(
          absl::StrCat("blocks[", i, "].chain_id: a second selector for ", selector.chain_id())));
      return;
    }
    selectors.push_back(std::move(selector));
  }

  // Answered when the last chain is: a slot per selector, filled from the
  // readers' threads.
  struct Pending {
    Pending(size_t n, v1::ResolveBlocksResponse* reply, grpc_util::Done done)
        : results(n), remaining(n), reply(reply), done(std::move(done)) {}
    std::mutex mu;
    std::vector<v1::BlockResult> results;
    size_t remaining;
    v1::ResolveBlocksResponse* reply;
    grpc_util::Done done;
  };
  auto pending = std::make_shared<Pending>(selectors.size(), reply, std::move(done));
  if (selectors.empty()) {
    pending->done(absl::OkStatus());
    return;
  }
  auto finish_one = [pending](size_t slot, v1::BlockResult result) {
    std::lock_guard<std::mutex> lock(pending->mu);
    pending->results[slot] = std::move(result);
    if (--pending->remaining > 0) return;
    for (v1::BlockResult& answer : pending->results) {
      *pending->reply->add_results() = std::move(answer);
    }
    pending->done(absl::OkStatus());
  };
  for (size_t slot = 0; slot < selectors.size(); ++slot) {
    const std::string& chain_id = selectors[slot].chain_id();
    auto reader = options_.readers.find(chain_id);
    if (reader == options_.readers.end()) {
      v1::BlockResult result;
      result.set_chain_id(chain_id);
      *result.mutable_error() =
          ItemError(absl::NotFoundError(absl::StrCat("chain ", chain_id, " is not configured")));
      finish_one(slot, std::move(result));
      continue;
    }
    reader->second->ResolveBlock(selectors[slot], request.bypass_cache(),
                                 [finish_one, slot, chain_id](v1::BlockResult result) {
                                   result.set_chain_id(chain_id);
                                   finish_one(slot, std::move(result));
                                 });
  }
}

void FetcherService::HandleListUpstreams(grpc_util::CallContext& /*context*/,
                                         const v1::ListUpstreamsRequest& request,
                                         v1::ListUpstreamsResponse* reply, grpc_util::Done done) {
  std::vector<std::string> chains = options_.chain_order;
  if (!request.chain_ids().empty()) {
    chains.clear();
    for (int i = 0; i < request.chain_ids_size(); ++i) {
      absl::StatusOr<chain::ChainId> chain = chain::ParseChainId(request.chain_ids(i));
      if (!chain.ok()) {
        done(absl::InvalidArgumentError(
            absl::StrCat("chain_ids[", i, "]: ", chain.status().message())));
        return;
      }
      if (options_.readers.find(chain->ToString()) == options_.readers.end()) {
        done(absl::NotFoundError(
            absl::StrCat("chain_ids[", i, "]: chain ", chain->ToString(), " is not configured")));
        return;
      }
      chains.push_back(chain->ToString());
    }
  }
  for (const std::string& chain_id : chains) {
    *reply->add_chains() = options_.readers.at(chain_id)->Status();
  }
  if (options_.prices != nullptr) {
    for (v1::EndpointStatus& source : options_.prices->Status()) {
      *reply->add_price_sources() = std::move(source);
    }
    *reply->mutable_price_ttl() = config::DurationToProto(options_.prices->ttl());
  }
  done(absl::OkStatus());
}

}  // namespace coffer::fetcher
