#include "services/fetcher/chains/evm_chain_reader.h"

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/time_util.h"

#include "common/chain/caip.h"
#include "services/fetcher/chains/endpoint_status.h"
#include "services/fetcher/chains/evm/abi.h"
#include "services/fetcher/chains/evm/block.h"
#include "services/fetcher/chains/evm/hex_quantity.h"
#include "services/fetcher/chains/evm/json_rpc.h"

namespace coffer::fetcher {
namespace {

// The scanner's creation code (tools/contracts/BalanceScanner.sol).
constexpr char kBalanceScannerCreationCode[] =
#include "tools/contracts/out/balance_scanner_bytecode.inc"
    ;

// What one scanner call may return: its answer is returned as contract
// code, which EIP-170 caps at 24,576 bytes (64 bytes per account).
constexpr size_t kMaxScannerAccounts = 383;

// A JSON string result ("0x...") as its text; an error for anything else.
absl::StatusOr<std::string> StringResult(RpcOutcome& outcome) {
  if (!outcome.result.ok()) return outcome.result.status();
  if (!outcome.string_result.has_value()) {
    return absl::DataLossError("the node answered something other than a string");
  }
  return std::move(*outcome.string_result);
}

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

// eth_call params: the call object and the block, as JSON text.
std::string CallParams(absl::string_view to, absl::string_view data, absl::string_view block) {
  // One StrCat, no quoted temporaries: built once per balance.
  return absl::StrCat("[{\"to\":\"", to, "\",\"data\":\"", data, "\"},\"", block, "\"]");
}

// A block selector as eth_getBlockByNumber's first parameter.
std::string BlockParam(const v1::BlockSelector& selector) {
  if (selector.block_case() == v1::BlockSelector::kNumber) {
    return evm::ToHexQuantity(selector.number());
  }
  switch (selector.tag()) {
    case v1::BLOCK_TAG_SAFE:
      return "safe";
    case v1::BLOCK_TAG_FINALIZED:
      return "finalized";
    default:
      return "latest";
  }
}

// The contract address of an erc20 asset, or empty for a native one; a
// reference into the plan, which outlives every read of the call.
const std::string& TokenOf(const PlannedItem& item) {
  static const std::string* const kNone = new std::string();
  return item.asset->asset_namespace == "erc20" ? item.asset->asset_reference : *kNone;
}

// Whether an aggregate's failure may be its size (gas, result caps):
// worth halving rather than failing every balance in it.
bool MayBeTooLarge(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition ||
         status.code() == absl::StatusCode::kResourceExhausted ||
         status.code() == absl::StatusCode::kDataLoss;
}

}  // namespace

EvmChainReader::EvmChainReader(EvmChainOptions options, EndpointSet* endpoints,
                               UpstreamTransport* transport)
    : options_(std::move(options)),
      endpoints_(endpoints),
      transport_(transport),
      batcher_(endpoints, transport) {
  for (const EvmAsset& token : options_.tokens) {
    absl::StatusOr<chain::AssetId> id = chain::ParseAssetId(token.asset_id);
    if (id.ok() && token.decimals.has_value()) decimals_[id->asset_reference] = *token.decimals;
  }
}

void EvmChainReader::ResolveBlock(const v1::BlockSelector& selector, bool bypass_cache,
                                  BlockDone done) {
  const bool head =
      selector.block_case() != v1::BlockSelector::kNumber &&
      (selector.tag() == v1::BLOCK_TAG_LATEST || selector.tag() == v1::BLOCK_TAG_UNSPECIFIED);
  if (head && !bypass_cache) {
    std::optional<v1::BlockRef> cached;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (head_.has_value() && absl::Now() - head_at_ < options_.head_ttl) cached = head_;
    }
    // Answered outside the lock: `done` goes on to read balances, which
    // takes it again (decimals).
    if (cached.has_value()) {
      v1::BlockResult result;
      result.set_chain_id(options_.chain_id);
      *result.mutable_block() = *std::move(cached);
      done(std::move(result));
      return;
    }
  }
  const std::string param = BlockParam(selector);
  std::vector<RpcCall> calls;
  calls.push_back({"eth_getBlockByNumber", absl::StrCat("[", Quoted(param), ",false]")});
  batcher_.Send(
      std::move(calls), Deadline(),
      [this, head, param, done = std::move(done)](std::vector<RpcOutcome> outcomes) mutable {
        v1::BlockResult result;
        result.set_chain_id(options_.chain_id);
        const RpcOutcome& outcome = outcomes.front();
        absl::StatusOr<v1::BlockRef> block =
            outcome.result.ok() ? evm::ParseBlock(*outcome.result, options_.chain_id, param)
                                : absl::StatusOr<v1::BlockRef>(outcome.result.status());
        if (!block.ok()) {
          *result.mutable_error() = ItemError(block.status(), outcome.upstream);
        } else {
          if (head) {
            std::lock_guard<std::mutex> lock(mu_);
            head_ = *block;
            head_at_ = absl::Now();
          }
          *result.mutable_block() = *std::move(block);
        }
        done(std::move(result));
      });
}

void EvmChainReader::ReadBalances(std::shared_ptr<BalanceCall> call, std::vector<size_t> items,
                                  const v1::BlockRef& block, bool /*bypass_cache*/) {
  std::vector<size_t> native;
  std::vector<size_t> tokens;
  std::vector<ItemResult> refused;
  for (size_t index : items) {
    const PlannedItem& item = call->plan().items[index];
    if (!TokenOf(item).empty()) {
      tokens.push_back(index);
    } else if (item.asset_id == options_.native.asset_id) {
      native.push_back(index);
    } else {
      refused.push_back(
          Answer(index, block,
                 absl::NotFoundError(
                     absl::StrCat(item.asset_id, " is not ", options_.chain_id, "'s native asset")),
                 std::nullopt, ""));
    }
  }
  if (!refused.empty()) call->Complete(std::move(refused));
  if (!native.empty()) ReadNative(call, std::move(native), block);
  if (!tokens.empty()) ReadTokens(call, std::move(tokens), block);
}

void EvmChainReader::ReadNative(const std::shared_ptr<BalanceCall>& call, std::vector<size_t> items,
                                const v1::BlockRef& block) {
  const std::string at = evm::ToHexQuantity(block.number());
  std::vector<RpcCall> calls;
  calls.reserve(items.size());
  for (size_t index : items) {
    calls.push_back(
        {"eth_getBalance",
         absl::StrCat("[\"", call->plan().items[index].account->address, "\",\"", at, "\"]")});
  }
  const uint32_t decimals = options_.native.decimals.value_or(18);
  SendForCall(
      call, std::move(calls),
      [this, call, items = std::move(items), block, decimals](std::vector<RpcOutcome> outcomes) {
        std::vector<ItemResult> results;
        results.reserve(outcomes.size());
        for (RpcOutcome& outcome : outcomes) {
          absl::StatusOr<std::string> hex = StringResult(outcome);
          absl::StatusOr<std::string> units =
              hex.ok() ? evm::HexQuantityToDecimal(*hex) : hex.status();
          results.push_back(
              Answer(items[outcome.index], block, std::move(units), decimals, outcome.upstream));
        }
        call->Complete(std::move(results));
      });
}

std::optional<uint32_t> EvmChainReader::KnownDecimals(const std::string& token) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto known = decimals_.find(token);
  if (known == decimals_.end()) return std::nullopt;
  return known->second;
}

void EvmChainReader::ReadTokens(const std::shared_ptr<BalanceCall>& call, std::vector<size_t> items,
                                const v1::BlockRef& block) {
  std::vector<std::string> unknown;
  {
    std::set<std::string> seen;
    for (size_t index : items) {
      const std::string& token = TokenOf(call->plan().items[index]);
      if (!KnownDecimals(token).has_value() && seen.insert(token).second) unknown.push_back(token);
    }
  }
  if (unknown.empty()) {
    ReadTokenBalances(call, std::move(items), block);
    return;
  }
  // Decimals never change: one eth_call each, once per token and process.
  const std::string at = evm::ToHexQuantity(block.number());
  std::vector<RpcCall> calls;
  for (const std::string& token : unknown) {
    calls.push_back({"eth_call", CallParams(token, evm::EncodeDecimalsCall(), at)});
  }
  struct Pending {
    std::mutex mu;
    size_t remaining;
  };
  auto pending = std::make_shared<Pending>();
  pending->remaining = unknown.size();
  SendForCall(call, std::move(calls),
              [this, call, items = std::move(items), block, unknown = std::move(unknown),
               pending](std::vector<RpcOutcome> outcomes) mutable {
                for (RpcOutcome& outcome : outcomes) {
                  absl::StatusOr<std::string> data = StringResult(outcome);
                  if (!data.ok()) continue;
                  absl::StatusOr<uint32_t> decimals = evm::DecodeDecimalsResult(*data);
                  if (!decimals.ok()) continue;
                  std::lock_guard<std::mutex> lock(mu_);
                  decimals_[unknown[outcome.index]] = *decimals;
                }
                {
                  std::lock_guard<std::mutex> lock(pending->mu);
                  pending->remaining -= outcomes.size();
                  if (pending->remaining > 0) return;
                }
                // A token whose decimals could not be read is answered
                // with that error rather than with guessed decimals.
                ReadTokenBalances(call, std::move(items), block);
              });
}

void EvmChainReader::ReadTokenBalances(const std::shared_ptr<BalanceCall>& call,
                                       std::vector<size_t> items, const v1::BlockRef& block) {
  std::vector<ItemResult> undecided;
  std::vector<size_t> readable;
  for (size_t index : items) {
    if (KnownDecimals(TokenOf(call->plan().items[index])).has_value()) {
      readable.push_back(index);
    } else {
      undecided.push_back(
          Answer(index, block,
                 absl::FailedPreconditionError("the token's decimals() could not be read; is it an "
                                               "ERC-20 contract on this chain?"),
                 std::nullopt, ""));
    }
  }
  if (!undecided.empty()) call->Complete(std::move(undecided));
  if (readable.empty()) return;
  if (options_.aggregate_size <= 1) {
    ReadTokensDirectly(call, std::move(readable), block);
    return;
  }
  if (options_.multicall_address.empty()) {
    // The scanner reads one token per call: group by token first.
    std::map<std::string, std::vector<size_t>> by_token;
    for (size_t index : readable) by_token[TokenOf(call->plan().items[index])].push_back(index);
    const size_t size = std::min(options_.aggregate_size, kMaxScannerAccounts);
    for (auto& [token, indices] : by_token) {
      for (size_t begin = 0; begin < indices.size(); begin += size) {
        const size_t end = std::min(indices.size(), begin + size);
        ReadScanner(call, token,
                    std::vector<size_t>(indices.begin() + static_cast<std::ptrdiff_t>(begin),
                                        indices.begin() + static_cast<std::ptrdiff_t>(end)),
                    block);
      }
    }
    return;
  }
  const size_t size = options_.aggregate_size;
  for (size_t begin = 0; begin < readable.size(); begin += size) {
    const size_t end = std::min(readable.size(), begin + size);
    ReadAggregate(call,
                  std::vector<size_t>(readable.begin() + static_cast<std::ptrdiff_t>(begin),
                                      readable.begin() + static_cast<std::ptrdiff_t>(end)),
                  block);
  }
}

void EvmChainReader::ReadScanner(const std::shared_ptr<BalanceCall>& call, const std::string& token,
                                 std::vector<size_t> items, const v1::BlockRef& block) {
  std::vector<std::string> accounts;
  accounts.reserve(items.size());
  for (size_t index : items) accounts.push_back(call->plan().items[index].account->address);
  // A deployless call: no `to`, the scanner's creation code runs and
  // returns the balances.
  std::vector<RpcCall> calls;
  calls.push_back(
      {"eth_call",
       absl::StrCat("[{\"data\":",
                    Quoted(evm::EncodeScannerCall(kBalanceScannerCreationCode, token, accounts)),
                    "},", Quoted(evm::ToHexQuantity(block.number())), "]")});
  SendForCall(
      call, std::move(calls),
      [this, call, token, items = std::move(items),
       block](std::vector<RpcOutcome> outcomes) mutable {
        RpcOutcome& outcome = outcomes.front();
        absl::StatusOr<std::string> data = StringResult(outcome);
        absl::StatusOr<std::vector<evm::ScannedBalance>> decoded =
            data.ok() ? evm::DecodeScannerResult(*data)
                      : absl::StatusOr<std::vector<evm::ScannedBalance>>(data.status());
        if (decoded.ok() && decoded->size() != items.size()) {
          decoded =
              absl::DataLossError(absl::StrCat("the balance scanner answered ", decoded->size(),
                                               " balances for ", items.size(), " accounts"));
        }
        if (!decoded.ok()) {
          HalveOrFail(call, std::move(items), block, decoded.status(), outcome.upstream,
                      [this, call, token, block](std::vector<size_t> half) {
                        ReadScanner(call, token, std::move(half), block);
                      });
          return;
        }
        const std::optional<uint32_t> decimals = KnownDecimals(token);
        std::vector<ItemResult> results;
        results.reserve(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
          evm::ScannedBalance& one = (*decoded)[i];
          absl::StatusOr<std::string> units =
              one.success ? absl::StatusOr<std::string>(std::move(one.units))
                          : absl::FailedPreconditionError(
                                "balanceOf failed (reverted, out of gas or a short answer)");
          results.push_back(Answer(items[i], block, std::move(units), decimals, outcome.upstream));
        }
        call->Complete(std::move(results));
      });
}

void EvmChainReader::ReadAggregate(const std::shared_ptr<BalanceCall>& call,
                                   std::vector<size_t> items, const v1::BlockRef& block) {
  std::vector<evm::Call3> calls3;
  calls3.reserve(items.size());
  for (size_t index : items) {
    const PlannedItem& item = call->plan().items[index];
    calls3.push_back({.target = TokenOf(item),
                      .allow_failure = true,
                      .call_data = evm::EncodeBalanceOfCall(item.account->address)});
  }
  std::vector<RpcCall> calls;
  calls.push_back(
      {"eth_call", CallParams(options_.multicall_address, evm::EncodeAggregate3Call(calls3),
                              evm::ToHexQuantity(block.number()))});
  SendForCall(
      call, std::move(calls),
      [this, call, items = std::move(items), block](std::vector<RpcOutcome> outcomes) mutable {
        RpcOutcome& outcome = outcomes.front();
        absl::StatusOr<std::string> data = StringResult(outcome);
        absl::StatusOr<std::vector<evm::Call3Result>> decoded =
            data.ok() ? evm::DecodeAggregate3Result(*data)
                      : absl::StatusOr<std::vector<evm::Call3Result>>(data.status());
        if (decoded.ok() && decoded->size() != items.size()) {
          decoded = absl::DataLossError(absl::StrCat("aggregate3 answered ", decoded->size(),
                                                     " results for ", items.size(), " calls"));
        }
        if (!decoded.ok()) {
          HalveOrFail(call, std::move(items), block, decoded.status(), outcome.upstream,
                      [this, call, block](std::vector<size_t> half) {
                        ReadAggregate(call, std::move(half), block);
                      });
          return;
        }
        std::vector<ItemResult> results;
        results.reserve(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
          const evm::Call3Result& one = (*decoded)[i];
          const std::string& token = TokenOf(call->plan().items[items[i]]);
          absl::StatusOr<std::string> units =
              one.success ? evm::DecodeUint256Result(one.return_data)
                          : absl::StatusOr<std::string>(absl::FailedPreconditionError(
                                "balanceOf reverted (through Multicall3)"));
          results.push_back(
              Answer(items[i], block, std::move(units), KnownDecimals(token), outcome.upstream));
        }
        call->Complete(std::move(results));
      });
}

void EvmChainReader::ReadTokensDirectly(const std::shared_ptr<BalanceCall>& call,
                                        std::vector<size_t> items, const v1::BlockRef& block) {
  const std::string at = evm::ToHexQuantity(block.number());
  std::vector<RpcCall> calls;
  calls.reserve(items.size());
  for (size_t index : items) {
    const PlannedItem& item = call->plan().items[index];
    calls.push_back({"eth_call", CallParams(TokenOf(item),
                                            evm::EncodeBalanceOfCall(item.account->address), at)});
  }
  SendForCall(call, std::move(calls),
              [this, call, items = std::move(items), block](std::vector<RpcOutcome> outcomes) {
                std::vector<ItemResult> results;
                results.reserve(outcomes.size());
                for (RpcOutcome& outcome : outcomes) {
                  const size_t index = items[outcome.index];
                  absl::StatusOr<std::string> data = StringResult(outcome);
                  absl::StatusOr<std::string> units =
                      data.ok() ? evm::DecodeUint256Result(*data) : data.status();
                  results.push_back(Answer(index, block, std::move(units),
                                           KnownDecimals(TokenOf(call->plan().items[index])),
                                           outcome.upstream));
                }
                call->Complete(std::move(results));
              });
}

void EvmChainReader::SendForCall(const std::shared_ptr<BalanceCall>& call,
                                 std::vector<RpcCall> calls, JsonRpcBatcher::ChunkDone on_chunk) {
  batcher_.Send(std::move(calls), Deadline(call.get()), std::move(on_chunk),
                [call] { return call->cancelled(); });
}

void EvmChainReader::HalveOrFail(const std::shared_ptr<BalanceCall>& call,
                                 std::vector<size_t> items, const v1::BlockRef& block,
                                 const absl::Status& error, const std::string& upstream,
                                 const std::function<void(std::vector<size_t>)>& retry) const {
  if (items.size() > 1 && MayBeTooLarge(error)) {
    const auto middle = items.begin() + static_cast<std::ptrdiff_t>(items.size() / 2);
    retry(std::vector<size_t>(items.begin(), middle));
    retry(std::vector<size_t>(middle, items.end()));
    return;
  }
  std::vector<ItemResult> results;
  results.reserve(items.size());
  for (size_t index : items) {
    results.push_back(Answer(index, block, error, std::nullopt, upstream));
  }
  call->Complete(std::move(results));
}

ItemResult EvmChainReader::Answer(size_t index, const v1::BlockRef& block,
                                  absl::StatusOr<std::string> units,
                                  std::optional<uint32_t> decimals,
                                  const std::string& upstream) const {
  ItemResult result;
  result.index = index;
  v1::BalanceItem& item = result.item;
  // account_id and asset_id: the call fills in the plan's normal forms.
  item.set_source(upstream);
  *item.mutable_fetched_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  item.set_block_number(block.number());
  item.set_block_hash(block.hash());
  if (units.ok() && decimals.has_value()) {
    item.mutable_amount()->set_units(*std::move(units));
    item.mutable_amount()->set_decimals(*decimals);
  } else {
    *item.mutable_error() =
        ItemError(units.ok() ? absl::InternalError("decimals unknown") : units.status(), upstream);
  }
  return result;
}

void EvmChainReader::Probe() {
  // eth_call of nothing at the zero address: any node that executes calls
  // answers "0x"; one that only serves chain data fails it.
  const std::string body = evm::BuildBatchRequest(
      {{.id = 1,
        .method = "eth_call",
        .params = CallParams("0x0000000000000000000000000000000000000000", "0x", "latest")}});
  for (size_t i = 0; i < endpoints_->size(); ++i) {
    UpstreamRequest request;
    request.body = body;
    request.deadline = absl::Now() + options_.request_timeout;
    transport_->Send(i, std::move(request), [this, i](absl::StatusOr<UpstreamReply> reply) {
      absl::Status outcome;
      if (!reply.ok()) {
        outcome = reply.status();
      } else if (reply->http_status != 200) {
        outcome = absl::UnavailableError(absl::StrCat("probe: HTTP ", reply->http_status));
      } else {
        absl::StatusOr<evm::BatchResponse> parsed = evm::ParseBatchResponse(reply->body);
        if (!parsed.ok()) {
          outcome = parsed.status();
        } else if (parsed->whole_error.has_value()) {
          outcome = absl::UnavailableError(
              absl::StrCat("probe: eth_call refused: ", parsed->whole_error->message));
        } else if (auto answer = parsed->results.find(1); answer == parsed->results.end()) {
          outcome = absl::DataLossError("probe: eth_call not answered");
        } else if (answer->second.error.has_value()) {
          outcome = absl::UnavailableError(
              absl::StrCat("probe: eth_call failed: ", answer->second.error->message));
        }
      }
      if (absl::IsCancelled(outcome)) return;
      endpoints_->ReportProbe(i, outcome, absl::Now());
    });
  }
}

v1::ChainStatus EvmChainReader::Status() const {
  v1::ChainStatus status;
  status.set_chain_id(options_.chain_id);
  status.set_name(options_.name);
  status.set_kind(v1::CHAIN_KIND_EVM);
  status.set_multicall_address(options_.multicall_address);
  auto add_asset = [this, &status](const EvmAsset& asset) {
    v1::AssetInfo* info = status.add_assets();
    info->set_asset_id(asset.asset_id);
    info->set_symbol(asset.symbol);
    info->set_name(asset.name);
    info->set_price_id(asset.price_id);
    std::optional<uint32_t> decimals = asset.decimals;
    if (!decimals.has_value()) {
      absl::StatusOr<chain::AssetId> id = chain::ParseAssetId(asset.asset_id);
      if (id.ok()) decimals = KnownDecimals(id->asset_reference);
    }
    if (decimals.has_value()) info->set_decimals(*decimals);
  };
  add_asset(options_.native);
  for (const EvmAsset& token : options_.tokens) add_asset(token);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (head_.has_value()) *status.mutable_head() = *head_;
  }
  for (v1::EndpointStatus& endpoint : EndpointStatuses(*endpoints_, *transport_, absl::Now())) {
    *status.add_endpoints() = std::move(endpoint);
  }
  return status;
}

}  // namespace coffer::fetcher
