#include "services/fetcher/chains/bitcoin/esplora_chain_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

#include "common/chain/caip.h"
#include "services/fetcher/balance_plan.h"
#include "services/fetcher/chains/bitcoin/bitcoin_network.h"
#include "services/fetcher/chains/bitcoin/esplora.h"
#include "services/fetcher/chains/endpoint_status.h"
#include "services/fetcher/chains/upstream_fallback.h"

namespace coffer::fetcher {
namespace {}  // namespace

void EsploraChainReader::Get(
    std::string path,
    absl::AnyInvocable<void(absl::StatusOr<std::string>, std::string upstream)> done) {
  UpstreamRequest request;
  request.method = "GET";
  request.path = std::move(path);
  request.deadline = absl::Now() + options_.request_timeout;
  SendWithFallback(
      *endpoints_, *transport_, std::move(request),
      [done = std::move(done)](absl::StatusOr<UpstreamReply> reply, std::string upstream) mutable {
        if (!reply.ok()) {
          done(reply.status(), std::move(upstream));
        } else if (reply->http_status == 400 || reply->http_status == 404) {
          done(absl::InvalidArgumentError(absl::StrCat("the Esplora API refused the address (HTTP ",
                                                       reply->http_status, ")")),
               std::move(upstream));
        } else if (reply->http_status != 200) {
          done(absl::UnavailableError(absl::StrCat("HTTP ", reply->http_status)),
               std::move(upstream));
        } else {
          done(std::move(reply->body), std::move(upstream));
        }
      });
}

void EsploraChainReader::ResolveBlock(const v1::BlockSelector& selector, bool /*bypass_cache*/,
                                      BlockDone done) {
  const bool pinned = selector.block_case() == v1::BlockSelector::kNumber;
  const uint64_t number = selector.number();
  Get(std::string(kEsploraTipHeightPath),
      [this, pinned, number, done = std::move(done)](absl::StatusOr<std::string> body,
                                                     std::string upstream) mutable {
        v1::BlockResult result;
        result.set_chain_id(options_.chain_id);
        absl::StatusOr<uint64_t> height =
            body.ok() ? ParseEsploraTipHeight(*body) : absl::StatusOr<uint64_t>(body.status());
        if (!height.ok()) {
          *result.mutable_error() = ItemError(height.status(), upstream);
          done(std::move(result));
          return;
        }
        v1::BlockRef* block = result.mutable_block();
        block->set_chain_id(options_.chain_id);
        // A pinned number is recorded; items still state the tip they saw.
        block->set_number(pinned ? number : *height);
        if (pinned) {
          done(std::move(result));
          return;
        }
        Get(std::string(kEsploraTipHashPath),
            [result = std::move(result), done = std::move(done)](
                absl::StatusOr<std::string> hash_body, std::string) mutable {
              if (hash_body.ok()) {
                absl::StatusOr<std::string> hash = ParseEsploraTipHash(*hash_body);
                if (hash.ok()) result.mutable_block()->set_hash(*hash);
              }
              done(std::move(result));
            });
      });
}

void EsploraChainReader::ReadBalances(std::shared_ptr<BalanceCall> call, std::vector<size_t> items,
                                      const v1::BlockRef& block, bool /*bypass_cache*/) {
  absl::StatusOr<chain::ChainId> chain_id = chain::ParseChainId(options_.chain_id);
  absl::StatusOr<chain::BitcoinNetwork> network =
      chain_id.ok() ? BitcoinNetworkOfChain(*chain_id)
                    : absl::StatusOr<chain::BitcoinNetwork>(chain_id.status());
  for (size_t index : items) {
    const PlannedItem& item = call->plan().items[index];
    auto answer = [call, index, block](absl::StatusOr<EsploraAddressBalance> balance,
                                       const std::string& upstream) {
      ItemResult result;
      result.index = index;
      v1::BalanceItem& out = result.item;
      out.set_source(upstream);
      *out.mutable_fetched_at() =
          google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
      out.set_block_number(block.number());
      out.set_block_hash(block.hash());
      if (!balance.ok()) {
        *out.mutable_error() = ItemError(balance.status(), upstream);
      } else {
        out.mutable_amount()->set_units(balance->confirmed);
        out.mutable_amount()->set_decimals(kSatoshiDecimals);
        out.mutable_unconfirmed_incoming()->set_units(balance->unconfirmed_incoming);
        out.mutable_unconfirmed_incoming()->set_decimals(kSatoshiDecimals);
        out.mutable_unconfirmed_outgoing()->set_units(balance->unconfirmed_outgoing);
        out.mutable_unconfirmed_outgoing()->set_decimals(kSatoshiDecimals);
      }
      call->Complete({std::move(result)});
    };
    if (item.asset_id != options_.asset_id) {
      answer(absl::NotFoundError(
                 absl::StrCat(item.asset_id, " is not ", options_.chain_id, "'s native asset")),
             "");
      continue;
    }
    absl::StatusOr<std::string> path = network.ok()
                                           ? EsploraAddressPath(item.account->address, *network)
                                           : absl::StatusOr<std::string>(network.status());
    if (!path.ok()) {
      answer(path.status(), "");
      continue;
    }
    Get(*std::move(path), [answer, address = item.account->address](
                              absl::StatusOr<std::string> body, std::string upstream) {
      answer(body.ok() ? ParseEsploraAddress(*body, address)
                       : absl::StatusOr<EsploraAddressBalance>(body.status()),
             upstream);
    });
  }
}

void EsploraChainReader::Probe() {
  for (size_t i = 0; i < endpoints_->size(); ++i) {
    UpstreamRequest request;
    request.method = "GET";
    request.path = std::string(kEsploraTipHeightPath);
    request.deadline = absl::Now() + options_.request_timeout;
    transport_->Send(i, std::move(request), [this, i](absl::StatusOr<UpstreamReply> reply) {
      absl::Status outcome;
      if (!reply.ok()) {
        outcome = reply.status();
      } else if (reply->http_status != 200) {
        outcome = absl::UnavailableError(absl::StrCat("probe: HTTP ", reply->http_status));
      } else {
        outcome = ParseEsploraTipHeight(reply->body).status();
      }
      if (absl::IsCancelled(outcome)) return;
      endpoints_->ReportProbe(i, outcome, absl::Now());
    });
  }
}

v1::ChainStatus EsploraChainReader::Status() const {
  v1::ChainStatus status;
  status.set_chain_id(options_.chain_id);
  status.set_name(options_.name);
  status.set_kind(v1::CHAIN_KIND_BITCOIN);
  v1::AssetInfo* asset = status.add_assets();
  asset->set_asset_id(options_.asset_id);
  asset->set_symbol(options_.symbol);
  asset->set_decimals(kSatoshiDecimals);
  asset->set_price_id(options_.price_id);
  for (v1::EndpointStatus& endpoint : EndpointStatuses(*endpoints_, *transport_, absl::Now())) {
    *status.add_endpoints() = std::move(endpoint);
  }
  return status;
}

}  // namespace coffer::fetcher
